/**
 * The request of every run in bench:scale and its profiling run (bench/scale-profile.ts): the same
 * runs must be measured in both. Polls at 250 ms, as the guards do in their worker environment
 * (FVPB_GUARD_*_POLL_INTERVAL in both benchmarks); deadlines long enough for 200 VMs on 2 cores.
 */
import type { ProtectedBackupRequest } from '../workflows/input';

export function scaleRequest(job: string): ProtectedBackupRequest {
  return {
    job,
    flush: { deadline: '5 minutes', pollInterval: '250ms', concurrency: 8 },
    veeam: { pollInterval: '250ms' },
    timeouts: { heartbeat: '30 seconds', step: '2 minutes', retryInitialInterval: '200ms' },
  };
}
