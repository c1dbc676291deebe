/**
 * Guard timeouts for tests of the guard's state class without a server (test/workflows/guard-*):
 * short and fixed, so that what a test asserts about retries and polls does not move with the
 * product's defaults.
 */
import type { GuardTimeouts } from '../../domain/guard-protocol';

export const unitGuardTimeouts: GuardTimeouts = {
  heartbeatMs: 1000,
  stepMs: 10_000,
  retryInitialMs: 100,
  retryMaximumAttempts: 3,
  restoreMaxIntervalMs: 1000,
  flushPollMs: 200,
  jobPollMs: 500,
};
