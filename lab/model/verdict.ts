/**
 * The judge: at the moment a Veeam task snapshots a VM, is the backup of that VM consistent?
 * Only if every guest write acknowledged before the snapshot had reached the array by then. In
 * HotAdd mode the lab also requires each of the job's proxies to be VADP-blacklisted at that
 * moment (the lab's conservative reading of the seed article). And a VM that was write-through at
 * its snapshot must stay so until Veeam has finished reading it (its task's end, `readUntil`): the
 * lab's conservative reading of "never give a VM back while Veeam still reads it", which is what
 * lets it judge a run that releases each VM as soon as its task is done. The verdict is a pure
 * function of the VM's policy history, its write stream and the time, so it is computed once the
 * read is over and never changes after. It judges the VM itself, whatever it is called: `vm` is
 * the one the session's task processes (a vCenter rename reaches the task, lab/model/rename.ts),
 * `vmName` the name the task shows when it is judged.
 */
import { effectiveAt, requestedEventAt, unflushedWritesAt } from './fvp';
import type { ProxyState, SessionRecord, Verdict, VmState } from './state';

export function judge(
  session: SessionRecord,
  vmName: string,
  vm: VmState | undefined,
  proxies: ProxyState[],
  snapshotAt: number,
  readUntil: number = snapshotAt,
): Verdict {
  const base = {
    sessionId: session.id,
    job: session.jobName,
    vm: vmName,
    snapshotAt,
    transportMode: session.transportMode,
  };
  const problems: string[] = [];
  let unflushed = 0;
  let requested: Verdict['requestedModeAtSnapshot'] = null;
  let effective: Verdict['effectiveModeAtSnapshot'] = null;
  let writeBackWhileReadAt: number | null = null;
  if (vm !== undefined) {
    requested = requestedEventAt(vm, snapshotAt).requested.mode;
    effective = effectiveAt(vm, snapshotAt);
    unflushed = unflushedWritesAt(vm, snapshotAt);
    if (unflushed > 0) {
      problems.push(
        `${unflushed} acknowledged write${unflushed === 1 ? '' : 's'} not yet on the array; ` +
          `effective policy ${effective} (requested ${requested})`,
      );
    }
    writeBackWhileReadAt = writeBackWhileRead(vm, snapshotAt, readUntil, requested);
    if (writeBackWhileReadAt !== null) {
      problems.push(
        `given write-back ${writeBackWhileReadAt - snapshotAt} ms after its snapshot, ` +
          `while Veeam still read it (until ${readUntil - snapshotAt} ms)`,
      );
    }
  }
  if (session.transportMode === 'HotAdd') {
    const notBlacklisted = session.proxies.filter((name) => {
      const proxy = proxies.find((p) => p.name === name);
      return proxy === undefined || proxy.vadpSince === null || proxy.vadpSince > snapshotAt;
    });
    if (notBlacklisted.length > 0) {
      problems.push(`HotAdd proxy not VADP-blacklisted: ${notBlacklisted.map((n) => JSON.stringify(n)).join(', ')}`);
    }
  }
  let reason: string;
  if (problems.length > 0) reason = problems.join('; ');
  else if (vm === undefined) reason = 'not known to FVP: no write-back caching';
  else if (!vm.accelerated) reason = 'not accelerated by FVP';
  else reason = `all acknowledged writes on the array; effective policy ${effective}`;
  return {
    ...base,
    consistent: problems.length === 0,
    reason,
    requestedModeAtSnapshot: requested,
    effectiveModeAtSnapshot: effective,
    unflushedWrites: unflushed,
    readUntil,
    writeBackWhileReadAt,
  };
}

/** When a VM that caches writes and was requested write-through at its snapshot got write-back before its read ended. */
function writeBackWhileRead(
  vm: VmState,
  snapshotAt: number,
  readUntil: number,
  requestedAtSnapshot: Verdict['requestedModeAtSnapshot'],
): number | null {
  if (!vm.accelerated || !vm.hostHasFlash || requestedAtSnapshot !== 'WriteThrough') return null;
  const event = vm.history.find((e) => e.at > snapshotAt && e.at < readUntil && e.requested.mode === 'WriteBack');
  return event === undefined ? null : event.at;
}
