/**
 * The typed client library against the real dev server, a real worker process and the lab:
 * validation before anything leaves the process, the id policy (two starts of one job = one run),
 * execute, status, cancel, list, and the connection from the SDK's profile file and environment.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, resolveConnectConfig } from '../../client/connection';
import {
  InvalidInputError,
  ProtectedBackupRunError,
  RunAlreadyActiveError,
  RunNotFoundError,
} from '../../client/errors';
import {
  cancelProtectedBackup,
  executeProtectedBackup,
  listProtectedBackups,
  readRun,
  startProtectedBackup,
  waitForOutcome,
} from '../../client/runs';
import { fastRequest, startHarness, uniqueId, type Harness } from '../helpers/harness';
import { assertConsistentSessions, assertPoliciesAre, requestedPolicies, sessionsOf } from '../helpers/lab-assertions';
import { JOB, scenario, vmNames } from '../helpers/scenarios';
import { waitFor } from './helpers';

describe('client library', () => {
  let h: Harness;
  const taskQueue = uniqueId('client-lib');

  before(async () => {
    h = await startHarness(scenario());
    await h.startWorker(taskQueue);
  });
  after(async () => h?.stop());

  async function load(options: Parameters<typeof scenario>[0] = {}) {
    const s = scenario(options);
    await h.lab.client.loadScenario(s);
    return { vms: vmNames(s), policies: await requestedPolicies(h.lab) };
  }

  async function workflowsOfJob(job: string) {
    const ids: string[] = [];
    for await (const info of h.env.client.workflow.list({ query: `WorkflowType = 'protectedBackup'` })) {
      if (info.memo?.job === job || info.workflowId.includes(job)) ids.push(info.workflowId);
    }
    return ids;
  }

  test('a bad input throws naming the field, and nothing is started', async () => {
    const job = uniqueId('Never-Started');
    const cases: [unknown, RegExp][] = [
      [{ job, flush: { deadline: 'soon' } }, /flush\.deadline: expected a positive duration/],
      [{ job, transportMode: 'fibre' }, /transportMode: /],
      [{ job, password: 'hunter2' }, /Unrecognized key.*"password"/],
      [{ job: '' }, /job: expected the name of a Veeam job/],
      [{ job, transportMode: 'hotadd' }, /hotAddProxies: transportMode hotadd needs/],
    ];
    for (const [request, field] of cases) {
      await assert.rejects(
        startProtectedBackup(h.env.client, request as never, { taskQueue }),
        (err: unknown) => err instanceof InvalidInputError && field.test(err.message),
        `rejects ${JSON.stringify(request)}`,
      );
    }
    // Give visibility time to show a run, had one been started.
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual(await workflowsOfJob(job), []);
  });

  test('execute: the report, with the default id protected-backup/<job>', async () => {
    const { vms, policies } = await load();
    const report = await executeProtectedBackup(h.env.client, fastRequest(JOB), { taskQueue });
    assert.equal(report.phase, 'completed');
    assert.equal(report.backup.result, 'Success');
    await assertConsistentSessions(h.lab, JOB, 1, vms);
    await assertPoliciesAre(h.lab, policies);
    const info = await readRun(h.env.client, `protected-backup/${JOB}`);
    assert.equal(info.executionStatus, 'COMPLETED');
    assert.equal(info.outcome?.kind, 'success');
    assert.equal(info.job, JOB);
  });

  test('two concurrent starts of one job: one run, the other refused naming it', async () => {
    const { vms, policies } = await load({ taskMs: 600 });
    const results = await Promise.allSettled([
      startProtectedBackup(h.env.client, fastRequest(JOB), { taskQueue }),
      startProtectedBackup(h.env.client, fastRequest(JOB), { taskQueue }),
    ]);
    const started = results.filter((r) => r.status === 'fulfilled');
    const refused = results.filter((r) => r.status === 'rejected');
    assert.equal(started.length, 1, 'exactly one start went through');
    assert.equal(refused.length, 1);
    const reason = (refused[0] as PromiseRejectedResult).reason as unknown;
    assert.ok(reason instanceof RunAlreadyActiveError, String(reason));
    assert.match(reason.message, /already running \(workflow id "protected-backup\/Nightly-SQL"/);

    // attach: a third start follows the open run instead of starting another.
    const run = (started[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof startProtectedBackup>>>).value;
    const attached = await startProtectedBackup(h.env.client, fastRequest(JOB), { taskQueue, ifRunning: 'attach' });
    assert.equal(attached.attached, true);
    assert.equal(attached.runId, run.runId);
    assert.equal(run.attached, false);

    const outcome = await waitForOutcome(run.handle);
    assert.equal(outcome.kind, 'success');
    await assertConsistentSessions(h.lab, JOB, 1, vms);
    await assertPoliciesAre(h.lab, policies);

    // Closed: the id is free again.
    const again = await startProtectedBackup(h.env.client, fastRequest(JOB), { taskQueue });
    assert.notEqual(again.runId, run.runId);
    assert.equal((await waitForOutcome(again.handle)).kind, 'success');
    assert.equal((await sessionsOf(h.lab, JOB)).length, 2);
  });

  test('status while running, cancel: the job is stopped and every VM restored', async () => {
    const { policies } = await load({ taskMs: 5_000 });
    const run = await startProtectedBackup(h.env.client, fastRequest(JOB), { taskQueue });
    const running = await waitFor('the backing-up phase', async () => {
      const info = await readRun(h.env.client, run.workflowId);
      return info.status?.phase === 'backing-up' && info.status.backup.sessionId ? info : null;
    });
    assert.equal(running.executionStatus, 'RUNNING');
    assert.equal(running.outcome, null);
    assert.ok(running.status?.vms.every((vm) => vm.step === 'flushed'));

    await cancelProtectedBackup(h.env.client, run.workflowId);
    const outcome = await waitForOutcome(run.handle);
    assert.equal(outcome.kind, 'cancelled');
    assert.equal(outcome.report?.phase, 'cancelled');
    assert.ok(outcome.report?.vms.every((vm) => vm.step === 'restored'));
    await assertPoliciesAre(h.lab, policies);
    const [session] = await sessionsOf(h.lab, JOB);
    assert.equal(session?.state, 'Stopped');

    await assert.rejects(cancelProtectedBackup(h.env.client, run.workflowId), /is not running \(cancelled\)/);
    await assert.rejects(readRun(h.env.client, 'protected-backup/no-such-job'), RunNotFoundError);
  });

  test('a failed run: execute throws with the outcome and the report', async () => {
    const { policies } = await load({ outcome: 'Failed' });
    const err = await executeProtectedBackup(h.env.client, fastRequest(JOB), { taskQueue }).then(
      () => assert.fail('expected a failure'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ProtectedBackupRunError);
    assert.equal(err.outcome.kind, 'failed');
    assert.equal(err.outcome.failureType, 'BackupJobFailed');
    assert.equal(err.outcome.report?.phase, 'failed');
    await assertPoliciesAre(h.lab, policies);
  });

  test('list: recent runs of the job, newest first, with status and times', async () => {
    await load();
    const other = uniqueId('Other-Job');
    // A run of another job (it fails: the lab does not know it) must not be listed for JOB.
    await waitForOutcome((await startProtectedBackup(h.env.client, fastRequest(other), { taskQueue })).handle);
    const runs = await waitFor('the runs to be visible', async () => {
      const listed = await listProtectedBackups(h.env.client, { job: JOB, limit: 50 });
      return listed.length >= 5 && listed.every((r) => r.closeTime) ? listed : null;
    });
    assert.ok(runs.every((r) => r.job === JOB && r.workflowId === `protected-backup/${JOB}`));
    assert.deepEqual(
      runs.map((r) => r.startTime),
      [...runs.map((r) => r.startTime)].sort().reverse(),
      'newest first',
    );
    assert.deepEqual(new Set(runs.map((r) => r.status)), new Set(['COMPLETED', 'CANCELLED', 'FAILED']));
    const others = await waitFor('the other run', async () => {
      const listed = await listProtectedBackups(h.env.client, { job: other });
      return listed.length ? listed : null;
    });
    assert.equal(others[0]?.status, 'FAILED');
    assert.equal((await listProtectedBackups(h.env.client, { limit: 2 })).length, 2);
  });

  test('connection from a profile file overridden by the environment (the SDK convention): API key, TLS, mTLS', async () => {
    const file = join(h.dir, 'temporal.toml');
    writeFileSync(
      file,
      [
        '[profile.default]',
        'address = "127.0.0.1:1"',
        '[profile.lab]',
        `address = "${h.env.address}"`,
        'namespace = "default"',
        '[profile.cloud]',
        'address = "example.invalid:7233"',
        'api_key = "not-a-real-key"',
        '[profile.cloud.tls]',
        'server_name = "example.invalid"',
      ].join('\n'),
    );
    const env = { HOME: h.dir, TEMPORAL_CONFIG_FILE: file };
    const conn = await connect({ env: { ...env, TEMPORAL_PROFILE: 'lab' }, taskQueue });
    try {
      assert.equal(conn.address, h.env.address);
      assert.equal(conn.namespace, 'default');
      const runs = await listProtectedBackups(conn.client, { limit: 1 });
      assert.equal(runs.length, 1, 'it reaches the test server');
    } finally {
      await conn.close();
    }
    // The environment overrides the file; an explicit address overrides both.
    const cloud = resolveConnectConfig({ env: { ...env, TEMPORAL_PROFILE: 'cloud', TEMPORAL_NAMESPACE: 'prod' } });
    assert.equal(cloud.connectionOptions.address, 'example.invalid:7233');
    assert.equal(cloud.connectionOptions.apiKey, 'not-a-real-key');
    assert.deepEqual(cloud.connectionOptions.tls, {
      serverNameOverride: 'example.invalid',
      serverRootCACertificate: undefined,
      clientCertPair: undefined,
    });
    assert.equal(cloud.namespace, 'prod');
    assert.equal(cloud.taskQueue, 'fvp-protected-backup');
    const explicit = resolveConnectConfig({ env, address: 'other:7233', taskQueue: 'q' });
    assert.equal(explicit.connectionOptions.address, 'other:7233');
    assert.equal(explicit.taskQueue, 'q');
    assert.throws(() => resolveConnectConfig({ env, profile: 'missing' }), /Profile 'missing' not found/);

    // mTLS from the environment alone: the client certificate, its key and the server's CA.
    const files: Record<string, string> = { 'client.crt': 'CERT', 'client.key': 'KEY', 'ca.crt': 'CA' };
    for (const [name, content] of Object.entries(files)) writeFileSync(join(h.dir, name), content);
    const mtls = resolveConnectConfig({
      env: {
        HOME: h.dir,
        TEMPORAL_ADDRESS: 'temporal.internal:7233',
        TEMPORAL_TLS_CLIENT_CERT_PATH: join(h.dir, 'client.crt'),
        TEMPORAL_TLS_CLIENT_KEY_PATH: join(h.dir, 'client.key'),
        TEMPORAL_TLS_SERVER_CA_CERT_PATH: join(h.dir, 'ca.crt'),
      },
    });
    const tls = mtls.connectionOptions.tls as {
      clientCertPair: { crt: Uint8Array; key: Uint8Array };
      serverRootCACertificate: Uint8Array;
    };
    const text = (bytes: Uint8Array) => Buffer.from(bytes).toString();
    assert.equal(text(tls.clientCertPair.crt), 'CERT');
    assert.equal(text(tls.clientCertPair.key), 'KEY');
    assert.equal(text(tls.serverRootCACertificate), 'CA');
    assert.equal(mtls.connectionOptions.apiKey, undefined);
  });
});
