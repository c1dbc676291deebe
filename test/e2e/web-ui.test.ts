/**
 * The Temporal Web UI of the dev server, driven in Debian's Chromium (headless, playwright-core):
 * an operator fills the Start Workflow form as README "Starting runs" says, and the run it starts
 * completes with the lab judging the backup consistent; an invalid input pasted there fails the run
 * at once with the readable validation message, visible in the UI, and changes nothing. A run
 * started through the client library shows its static summary and details (who started it, the
 * input) on its page, and its search attributes.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { startLab } from '../../lab/launch';
import { buildBundle } from '../../worker/bundle';
import { connect } from '../../client/connection';
import { startProtectedBackup, waitForOutcome } from '../../client/runs';
import { fastRequest, uniqueId, type Lab } from '../helpers/harness';
import {
  assertConsistentSessions,
  assertNothingChanged,
  assertPoliciesAre,
  requestedPolicies,
} from '../helpers/lab-assertions';
import { JOB, scenario, vmNames } from '../helpers/scenarios';
import { startDevServer } from '../helpers/temporal';
import { startWorkerProcess, type WorkerProcess } from '../helpers/worker-process';
import { freePort } from '../helpers/ports';

const CHROMIUM = '/usr/bin/chromium';

describe('Temporal Web UI', () => {
  const dir = process.env.FVPB_WEB_UI_DIR ?? mkdtempSync(join(tmpdir(), 'fvpb-web-ui-'));
  const taskQueue = uniqueId('web-ui');
  let env: TestWorkflowEnvironment;
  let lab: Lab;
  let worker: WorkerProcess;
  let browser: BrowserContext;
  let ui: string;

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium (see .ci/run)`);
    const uiPort = await freePort();
    ui = `http://127.0.0.1:${uiPort}`;
    let bundle: string;
    [env, lab, bundle] = await Promise.all([
      startDevServer({ uiPort }),
      startLab({ stateFile: join(dir, 'lab-state.json') }),
      buildBundle(join(dir, 'workflow-bundle.js')),
    ]);
    worker = await startWorkerProcess({
      temporalAddress: env.address,
      taskQueue,
      labUrl: lab.url,
      workflowBundle: bundle,
    });
    browser = await chromium.launchPersistentContext(mkdtempSync(join(dir, 'chromium-profile-')), {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1400, height: 1000 },
      args: [
        '--no-sandbox', // as root
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });

  after(async () => {
    await browser?.close();
    await worker?.kill('SIGKILL');
    await Promise.allSettled([env?.teardown(), lab?.stop()]);
  });

  /** Fills the Start Workflow form as an operator does and opens the run from the toast's link. */
  async function startFromUi(workflowId: string, input: unknown): Promise<Page> {
    const page = await browser.newPage();
    await page.goto(`${ui}/namespaces/default/workflows/start-workflow`);
    await page.getByTestId('workflowId').fill(workflowId);
    await page.getByTestId('taskQueue').fill(taskQueue);
    await page.getByTestId('workflowType').fill('protectedBackup');
    // Pasted pretty-printed: the editor reformats its text when it loses focus, which moves the button.
    await page.getByRole('textbox', { name: 'Data' }).fill(JSON.stringify(input, null, 2));
    await page.getByText('Task Queue is Active').waitFor();
    await page.getByRole('heading', { name: 'Start Workflow' }).click();
    await page.getByRole('button', { name: 'Start Workflow' }).click();
    await page.getByRole('link', { name: 'Workflow started successfully' }).click();
    await page.waitForURL(/\/workflows\/protected-backup%2F/);
    return page;
  }

  /** The run's status badge in the UI, reloading until it shows `expected`. */
  async function badgeShows(page: Page, expected: string, what: string): Promise<void> {
    const until = Date.now() + 60_000;
    for (;;) {
      const badge = page.getByTestId('execution-status').first();
      const text = (await badge.textContent({ timeout: 10_000 }).catch(() => ''))?.trim();
      if (text === expected) return;
      if (Date.now() > until) {
        await page.screenshot({ path: join(dir, `${what}.png`), fullPage: true });
        assert.fail(
          `the UI shows ${JSON.stringify(text)} for ${what}, not ${expected} (screenshot ${dir}/${what}.png)`,
        );
      }
      await page.waitForTimeout(1_000);
      await page.reload();
    }
  }

  test('Start Workflow form: the run completes and every backup is consistent', async () => {
    const s = scenario();
    await lab.client.loadScenario(s);
    const policies = await requestedPolicies(lab);
    const workflowId = `protected-backup/${JOB}`;
    // README's input, with the tests' short polls and timeouts.
    const page = await startFromUi(workflowId, fastRequest(JOB));
    assert.match(page.url(), new RegExp(`/workflows/${encodeURIComponent(workflowId)}/[0-9a-f-]+/`));
    await badgeShows(page, 'Completed', 'the completed run');
    await page.getByRole('heading', { name: workflowId }).waitFor();
    await page.screenshot({ path: join(dir, 'completed.png') }); // kept for a look: the run as the UI shows it

    const outcome = await waitForOutcome(env.client.workflow.getHandle(workflowId));
    assert.equal(outcome.kind, 'success');
    assert.equal(outcome.report?.backup.result, 'Success');
    await assertConsistentSessions(lab, JOB, 1, vmNames(s));
    await assertPoliciesAre(lab, policies);
  });

  test('an invalid input pasted in the form fails the run with the readable message, shown in the UI', async () => {
    await lab.client.loadScenario(scenario());
    const policies = await requestedPolicies(lab);
    const workflowId = `protected-backup/${uniqueId('invalid')}`;
    const page = await startFromUi(workflowId, { job: JOB, flush: { deadline: '10 minutes', pollInterval: '1 hour' } });
    await badgeShows(page, 'Failed', 'the invalid run');
    const message =
      'invalid protectedBackup input: flush.pollInterval: expected a poll interval shorter than the flush deadline';
    await page.getByText(message).first().waitFor({ timeout: 20_000 });
    await page.screenshot({ path: join(dir, 'invalid.png') });

    const outcome = await waitForOutcome(env.client.workflow.getHandle(workflowId));
    assert.equal(outcome.kind, 'failed');
    assert.equal(outcome.failureType, 'InvalidInput');
    assert.equal(outcome.message, message);
    await assertNothingChanged(lab, policies, JOB);
  });

  /** Whether `text` shows anywhere on the page, its frames included (the UI renders markdown in a frame). */
  async function shows(page: Page, text: string): Promise<boolean> {
    for (const frame of page.frames()) {
      if (
        (await frame
          .getByText(text)
          .count()
          .catch(() => 0)) > 0
      )
        return true;
    }
    return false;
  }

  async function waitUntilShown(page: Page, text: string, what: string): Promise<void> {
    const until = Date.now() + 30_000;
    while (!(await shows(page, text))) {
      if (Date.now() > until) {
        await page.screenshot({ path: join(dir, `${what}.png`), fullPage: true });
        assert.fail(`the UI does not show ${JSON.stringify(text)} (${what}; screenshot ${dir}/${what}.png)`);
      }
      await page.waitForTimeout(500);
    }
  }

  test('a run started by the client: its page shows the summary, who started it, the input, its VM table and its search attributes', async () => {
    await lab.client.loadScenario(scenario());
    const job = JOB;
    const conn = await connect({ address: env.address, taskQueue, env: {}, identity: 'ops@veeam-01 fvpb-cli' });
    let workflowId: string;
    let runId: string;
    try {
      const run = await startProtectedBackup(
        conn.client,
        { ...fastRequest(job), vms: ['sql-01'] },
        { taskQueue, via: 'the CLI (`run`)' },
      );
      ({ workflowId, runId } = run);
      assert.equal((await waitForOutcome(run.handle)).kind, 'success');
    } finally {
      await conn.close();
    }
    const page = await browser.newPage();
    await page.goto(`${ui}/namespaces/default/workflows/${encodeURIComponent(workflowId)}/${runId}/history`);
    await badgeShows(page, 'Completed', 'the client run');
    const summary = `${job}: 1 VM, auto`;
    await page.getByRole('tab', { name: 'User Metadata' }).click();
    await waitUntilShown(page, summary, 'summary');
    await waitUntilShown(page, 'ops@veeam-01 fvpb-cli', 'details-who');
    await waitUntilShown(page, 'through the CLI', 'details-through');
    await waitUntilShown(page, '"job": "Nightly-SQL"', 'details-input');
    // The run's current details: the per-VM table the workflow keeps up to date, rendered.
    await waitUntilShown(page, 'flush left', 'current-details-table');
    await waitUntilShown(page, 'restored', 'current-details-restore');
    await page.screenshot({ path: join(dir, 'user-metadata.png'), fullPage: true });
    await page.getByRole('tab', { name: 'Search Attributes' }).click();
    await waitUntilShown(page, '"FvpbJob": "Nightly-SQL"', 'search-attributes');
  });
});
