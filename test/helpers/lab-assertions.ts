/**
 * What the lab can prove about a run: every backup judged consistent, every VM back to the policy
 * it had, exactly one Veeam session per run.
 */
import assert from 'node:assert/strict';
import type { RequestedPolicy } from '../../domain/policy';
import type { Lab } from './harness';

export async function requestedPolicies(lab: Lab): Promise<Map<string, RequestedPolicy>> {
  const state = await lab.client.state();
  return new Map(state.fvp.vms.map((vm) => [vm.name, vm.requested]));
}

/** Every VM has exactly the requested policy it had in `before`. */
export async function assertPoliciesAre(lab: Lab, before: Map<string, RequestedPolicy>): Promise<void> {
  const now = await requestedPolicies(lab);
  for (const [vm, policy] of before) assert.deepEqual(now.get(vm), policy, `policy of ${JSON.stringify(vm)}`);
}

export async function sessionsOf(lab: Lab, job: string) {
  return (await lab.client.state()).veeam.sessions.filter((s) => s.jobName === job);
}

/** The job ran exactly `count` sessions and the lab judged every VM of them consistent. */
export async function assertConsistentSessions(lab: Lab, job: string, count: number, vms: string[]): Promise<void> {
  const sessions = await sessionsOf(lab, job);
  assert.equal(sessions.length, count, `sessions of ${job}`);
  const verdicts = await lab.client.verdicts({ job });
  for (const session of sessions) {
    for (const vm of vms) {
      const verdict = verdicts.find((v) => v.sessionId === session.id && v.vm === vm);
      assert.ok(verdict, `a verdict for ${vm} in session ${session.id}`);
      assert.equal(verdict.consistent, true, `backup of ${vm} consistent: ${verdict.reason}`);
    }
  }
}

/** Nothing was changed: no policy write reached the lab and no job started. */
export async function assertNothingChanged(lab: Lab, before: Map<string, RequestedPolicy>, job: string): Promise<void> {
  const { invocations } = await lab.client.invocations();
  const writes = invocations.filter((i) =>
    ['Set-VmWriteThrough', 'Restore-VmCachePolicy', 'Start-BackupJob', 'Set-ProxyVadp', 'Stop-BackupJob'].includes(
      i.op,
    ),
  );
  assert.deepEqual(
    writes.map((w) => w.op),
    [],
    'no write operation reached FVP or Veeam',
  );
  await assertPoliciesAre(lab, before);
  assert.equal((await sessionsOf(lab, job)).length, 0, 'no Veeam session');
}
