/**
 * What the PowerShell tests share: one lab for the file with the default scenario loaded before
 * each test, FVP pools on the fake host that are closed after each test, and the checks they make
 * of a call's failure and of a host process (alive, its environment).
 */
import { after, afterEach, before, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { PowerShellError, PowerShellPool } from '../../activities/powershell';
import { fakeEndpointConfig, type FakeEndpointOptions } from '../../lab/fake-powershell/endpoint';
import { startLab, type RunningLab } from '../../lab/launch';
import { defaultScenario } from '../../lab/scenario';

export interface PoolLab {
  /** The file's lab (started before its first test). */
  lab(): RunningLab;
  /** An FVP pool on the fake host, closed after the test. */
  fvpPool(options?: FakeEndpointOptions): PowerShellPool;
}

/** Registers the file's hooks: call it once at the top level of a test file. */
export function usePoolLab(): PoolLab {
  let lab: RunningLab | undefined;
  const pools: PowerShellPool[] = [];
  const running = (): RunningLab => {
    assert.ok(lab, 'the lab has started');
    return lab;
  };
  before(async () => {
    lab = await startLab();
  });
  after(async () => {
    await lab?.stop();
  });
  beforeEach(async () => {
    await running().client.loadScenario(defaultScenario());
  });
  afterEach(async () => {
    await Promise.all(pools.splice(0).map((p) => p.close()));
  });
  return {
    lab: running,
    fvpPool(options = {}) {
      const pool = new PowerShellPool({ endpoint: 'fvp', config: fakeEndpointConfig('fvp', running().url, options) });
      pools.push(pool);
      return pool;
    },
  };
}

/** The PowerShellError a call fails with (and fails the test if it succeeds or fails otherwise). */
export async function rejection(promise: Promise<unknown>): Promise<PowerShellError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof PowerShellError, `a PowerShellError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the call to fail');
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The environment a process was started with (Linux /proc), as a map. */
export function environOf(pid: number): Map<string, string> {
  const raw = readFileSync(`/proc/${pid}/environ`, 'utf8');
  return new Map(
    raw
      .split('\0')
      .filter((e) => e !== '')
      .map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)] as [string, string]),
  );
}
