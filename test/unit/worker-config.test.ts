import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig, WORKER_DURATION_BOUNDS } from '../../worker/config';
import { formatMs } from '../../domain/duration';
import { workerEnv } from '../helpers/worker-process';

/** The test workers' FVPB_GUARD_* step timeouts (test/helpers/worker-process.ts). */
const guardStepTimeouts = Object.fromEntries(
  Object.entries(workerEnv({ temporalAddress: '', taskQueue: '', labUrl: '' })).filter(([name]) =>
    /^FVPB_GUARD_(HEARTBEAT|STEP_TIMEOUT|RETRY_|RESTORE_|FLUSH_|JOB_)/.test(name),
  ),
);

const minimal = { FVPB_FVP_SERVER: 'fvp-mgmt.example', FVPB_VEEAM_SERVER: 'vbr.example' };

describe('worker configuration from the environment', () => {
  test('the minimal environment gets the documented defaults', () => {
    const config = loadConfig(minimal);
    assert.equal(config.temporal.address, 'localhost:7233');
    assert.equal(config.temporal.namespace, 'default');
    assert.equal(config.temporal.taskQueue, 'fvp-protected-backup');
    assert.equal(config.temporal.tls, false);
    assert.equal(config.fvp.executable, 'powershell');
    assert.equal(config.veeam.executable, 'pwsh');
    assert.equal(config.fvp.server, 'fvp-mgmt.example');
    assert.equal(config.metricsAddress, undefined);
  });

  test("the guards' step timeouts come from FVPB_GUARD_*, with protectedBackup's defaults and bounds", () => {
    assert.deepEqual(loadConfig(minimal).guard.timeouts, {
      heartbeatMs: 30_000,
      stepMs: 300_000,
      retryInitialMs: 1000,
      retryMaximumAttempts: 10,
      restoreMaxIntervalMs: 60_000,
      flushPollMs: 2000,
      jobPollMs: 5000,
    });
    const set = loadConfig({
      ...minimal,
      FVPB_GUARD_STEP_TIMEOUT: '2 minutes',
      FVPB_GUARD_RETRY_MAXIMUM_ATTEMPTS: '3',
    });
    assert.equal(set.guard.timeouts.stepMs, 120_000);
    assert.equal(set.guard.timeouts.retryMaximumAttempts, 3);
    assert.throws(
      () => loadConfig({ ...minimal, FVPB_GUARD_HEARTBEAT: '30 days' }),
      (err: Error) =>
        err instanceof ConfigError && /FVPB_GUARD_HEARTBEAT: expected a duration between/.test(err.message),
    );
    assert.throws(
      () => loadConfig({ ...minimal, FVPB_GUARD_RETRY_MAXIMUM_ATTEMPTS: 'many' }),
      (err: Error) => err instanceof ConfigError && /FVPB_GUARD_RETRY_MAXIMUM_ATTEMPTS/.test(err.message),
    );
  });

  test('credentials are references: env variable names or a file path', () => {
    const config = loadConfig({
      ...minimal,
      FVPB_FVP_CREDENTIALS: 'env:FVP_USER:FVP_PASSWORD',
      FVPB_VEEAM_CREDENTIALS: 'file:/etc/fvpb/veeam.json',
    });
    assert.deepEqual(config.fvp.credentials, { source: 'env', userVar: 'FVP_USER', passwordVar: 'FVP_PASSWORD' });
    assert.deepEqual(config.veeam.credentials, { source: 'file', path: '/etc/fvpb/veeam.json' });
  });

  test("the workflow cache is the SDK's unless FVPB_MAX_CACHED_WORKFLOWS says otherwise (10 or more)", () => {
    assert.equal(loadConfig(minimal).maxCachedWorkflows, undefined);
    assert.equal(loadConfig({ ...minimal, FVPB_MAX_CACHED_WORKFLOWS: '150' }).maxCachedWorkflows, 150);
    assert.throws(() => loadConfig({ ...minimal, FVPB_MAX_CACHED_WORKFLOWS: '5' }), /FVPB_MAX_CACHED_WORKFLOWS/);
  });

  test('an API key turns TLS on', () => {
    assert.equal(loadConfig({ ...minimal, TEMPORAL_API_KEY: 'k' }).temporal.tls, true);
  });

  const bad: [string, Record<string, string>, RegExp][] = [
    ['a missing FVP server', { FVPB_VEEAM_SERVER: 'vbr' }, /FVPB_FVP_SERVER/],
    ['a missing Veeam server', { FVPB_FVP_SERVER: 'fvp' }, /FVPB_VEEAM_SERVER/],
    ['a port that is not a number', { ...minimal, FVPB_VEEAM_PORT: 'https' }, /FVPB_VEEAM_PORT/],
    [
      'a credentials spec of the wrong form',
      { ...minimal, FVPB_FVP_CREDENTIALS: 'admin:secret' },
      /FVPB_FVP_CREDENTIALS: expected "env:USER_VAR:PASSWORD_VAR"/,
    ],
    ['a TLS flag that is not a boolean', { ...minimal, TEMPORAL_TLS: 'yes' }, /TEMPORAL_TLS/],
    [
      'a metrics address without a port',
      { ...minimal, FVPB_METRICS_ADDRESS: '0.0.0.0' },
      /FVPB_METRICS_ADDRESS: expected host:port/,
    ],
    ['a pool size of zero', { ...minimal, FVPB_FVP_POOL_SIZE: '0' }, /FVPB_FVP_POOL_SIZE/],
    ['a shutdown grace that is not a duration', { ...minimal, FVPB_SHUTDOWN_GRACE: 'a while' }, /FVPB_SHUTDOWN_GRACE/],
    ['an unknown log level', { ...minimal, LOG_LEVEL: 'chatty' }, /LOG_LEVEL/],
    [
      'a client certificate without its key',
      { ...minimal, TEMPORAL_TLS_CLIENT_CERT_PATH: '/c.pem' },
      /TEMPORAL_TLS_CLIENT_KEY_PATH/,
    ],
  ];
  for (const [name, env, message] of bad) {
    test(`${name} is refused with a message naming the variable`, () => {
      assert.throws(
        () => loadConfig(env),
        (err: unknown) => err instanceof ConfigError && message.test(err.message),
      );
    });
  }

  describe('durations are bounded, each refusal naming the variable and its range', () => {
    const expected: Record<keyof typeof WORKER_DURATION_BOUNDS, string> = {
      FVPB_SHUTDOWN_GRACE: '1 second and 1 hour',
      FVPB_STICKY_QUEUE_TIMEOUT: '1 second and 10 minutes',
      FVPB_GUARD_CHECK_INTERVAL: '1 second and 1 hour',
      FVPB_GUARD_RESEND_INTERVAL: '1 second and 1 hour',
    };
    for (const [name, range] of Object.entries(expected) as [keyof typeof WORKER_DURATION_BOUNDS, string][]) {
      test(`${name}: ${range}`, () => {
        const [min, max] = WORKER_DURATION_BOUNDS[name];
        for (const edge of [formatMs(min), formatMs(max), String(min), String(max)]) {
          assert.doesNotThrow(() => loadConfig({ ...minimal, [name]: edge }), `${name}=${edge}`);
        }
        for (const outside of [String(min - 1), String(max + 1), '30 days', '1ms']) {
          assert.throws(
            () => loadConfig({ ...minimal, [name]: outside }),
            (err: unknown) =>
              err instanceof ConfigError && err.message.includes(`${name}: expected a duration between ${range}`),
            `${name}=${outside}`,
          );
        }
      });
    }

    test('the invocation timeouts (FVPB_*_TIMEOUT_MS, a Node timer) stay between 1 second and 24 hours', () => {
      for (const prefix of ['FVP', 'VEEAM']) {
        const name = `FVPB_${prefix}_TIMEOUT_MS`;
        for (const edge of ['1000', '86400000']) {
          assert.equal(
            loadConfig({ ...minimal, [name]: edge })[prefix === 'FVP' ? 'fvp' : 'veeam'].invocationTimeoutMs,
            Number(edge),
          );
        }
        for (const outside of ['999', '86400001', '2592000000', '2147483648']) {
          assert.throws(
            () => loadConfig({ ...minimal, [name]: outside }),
            (err: unknown) =>
              err instanceof ConfigError &&
              err.message.includes(`${name}: expected milliseconds between 1000 and 86400000`),
            `${name}=${outside}`,
          );
        }
      }
    });

    test("the defaults and the test workers' short timings are within range", () => {
      const config = loadConfig(minimal);
      assert.equal(config.shutdownGrace, '10 seconds');
      assert.equal(config.stickyQueueTimeout, '10 seconds');
      const { holderCheckIntervalMs, resendIntervalMs, historyLimit } = config.guard;
      assert.deepEqual(
        { holderCheckIntervalMs, resendIntervalMs, historyLimit },
        {
          holderCheckIntervalMs: 60_000,
          resendIntervalMs: 60_000,
          historyLimit: 2000,
        },
      );
      assert.equal(config.fvp.invocationTimeoutMs, 120_000);
      assert.doesNotThrow(() =>
        loadConfig({
          ...minimal,
          FVPB_FVP_TIMEOUT_MS: '10000',
          FVPB_VEEAM_TIMEOUT_MS: '10000',
          FVPB_SHUTDOWN_GRACE: '1 second',
          FVPB_STICKY_QUEUE_TIMEOUT: '1 second',
          FVPB_GUARD_CHECK_INTERVAL: '1 second',
          FVPB_GUARD_RESEND_INTERVAL: '3 seconds',
          ...guardStepTimeouts,
        }),
      );
    });
  });

  test('a refused configuration never echoes a value from the environment', () => {
    const secret = 'pa55-w0rd-that-must-not-leak';
    assert.throws(
      () => loadConfig({ ...minimal, FVPB_FVP_CREDENTIALS: secret, SOME_PASSWORD: secret }),
      (err: unknown) => err instanceof ConfigError && !err.message.includes(secret),
    );
  });
});
