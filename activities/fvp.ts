/**
 * FVP activities: read, switch, verify and restore a VM's caching policy, and the VADP blacklist
 * of HotAdd proxies. The module only reads raw and writes what it is told (issue 11); every
 * decision is here and in activities/vendor/: the workflow decides the order.
 *
 * A write (policy-write.ts) reads the VM, and writes nothing when the target is already in place
 * (so the retry of an attempt whose answer was lost is harmless); given `expected` (the requested
 * policy the caller believes the VM has now) it writes only if the VM still has it, and otherwise
 * fails non-retryable with type PolicyChanged (POLICY_CHANGED): someone else changed the VM, the
 * workflow reads again and decides instead of overwriting. Then it reads the VM again.
 *
 * Identity, not names (issue 10 item 4): every FVP activity a guard or run calls takes the VM's
 * FVP `uuid` when the caller knows it. The VM is then found by that uuid in a Get-PrnxVM listing
 * (fvp-by-uuid.ts), never by the name, and what the activity returns carries the VM's CURRENT name
 * (it may have been renamed in vCenter since). A read for a write decision lists afresh; the flush
 * polls share the round's listing. Without `uuid`, everything is by name, as histories recorded
 * before call it.
 */
import { ApplicationFailure } from '@temporalio/common';
import { activityCancellationSignal, type OperationInvoker } from './invoker';
import { PowerShellError } from './powershell/errors';
import { isFlushed, samePolicy, type FlushState, type RequestedPolicy, type VmPolicy } from '../domain/policy';
import { classified, powerShellErrorType } from './failures';
import { writePolicy, WRITE_THROUGH, type VmRead } from './policy-write';
import { createFlushReader } from './flush-reader';
import { FvpListing } from './fvp-listing';
import { SharedRead } from './shared-read';
import { describeVm, readByUuid } from './fvp-by-uuid';
import { retryingReads } from './read-retry';
import { pause, whileHeartbeating } from './heartbeat';
import { FVP } from './vendor/facts';
import { interpretFvpServer, interpretProxyVadp, interpretVmPolicy, type FvpServerFacts } from './vendor/interpret';

/**
 * How a caller names a VM: by its FVP `uuid` when it knows it (the VM is then found by the uuid
 * alone, `vm` only names it in failures), else by its name `vm` (histories recorded before).
 */
export interface VmAddress {
  vm: string;
  uuid?: string | undefined;
}

export interface FvpDependencies {
  fvp: OperationInvoker;
}

/** Whether a failed read may succeed when read again (the boundary's or the interpretation's say). */
function retryable(err: unknown): boolean {
  if (activityCancellationSignal()?.aborted === true) return false;
  if (err instanceof PowerShellError) return err.retryable;
  return err instanceof ApplicationFailure && !err.nonRetryable;
}

export function createFvpActivities({ fvp: module }: FvpDependencies) {
  /** Every call of these activities; reads that fail transiently are read again at once (read-retry.ts). */
  const fvp = retryingReads(module);
  /** The worker's Get-PrnxVM listing: one per poll round for flush reads (issue 12), fresh for reads by uuid. */
  const listing = new FvpListing(fvp);
  /** Flush reads with the worker's one listing per poll round, shared by every flush read (issue 12). */
  const flush = createFlushReader(fvp, listing);

  /** Get-FvpServer, one call shared by the activities that ask while it is in flight (shared-read.ts). */
  const server = new SharedRead(() => fvp.invoke('Get-FvpServer', {}));

  /**
   * Build and licence of the FVP management server (version and licence rules of the facts
   * table), read once per activity attempt, so that an upgraded or relicensed server is seen at
   * once: from a read that answers after the attempt asked (joined while in flight: 200 guards
   * switching at once made ~1,000 of these calls in a 200-VM job, a fifth of all).
   */
  async function serverFacts(): Promise<FvpServerFacts> {
    const raw = await server.fresh();
    return interpretFvpServer(raw.servers);
  }

  /** The VM's policy read raw and interpreted in TypeScript; null when FVP does not know the VM. */
  async function readPolicy(vm: string, facts: FvpServerFacts): Promise<VmPolicy | null> {
    return interpretVmPolicy(vm, await whileHeartbeating(fvp.invoke('Get-VmCachePolicy', { vm })), facts);
  }

  /**
   * The VM by its uuid when given, else by name. By uuid the listing is read afresh (never one a
   * poll round old: this read decides writes), the policy carries the VM's current name, and
   * `namesakes` counts the other FVP VMs of that name (a -Name write would reach them too).
   */
  async function readVm(address: VmAddress, facts: FvpServerFacts): Promise<VmRead> {
    if (address.uuid === undefined) return { policy: await readPolicy(address.vm, facts), namesakes: 0 };
    const found = await readByUuid(fvp, await listing.fresh(), address.uuid, facts);
    if (found === null) return { policy: null, namesakes: 0 };
    return { policy: interpretVmPolicy(found.name, found.raw, facts), namesakes: found.namesakes };
  }

  /**
   * A restore refused because FVP does not know the VM (VmNotFound) or does not accelerate it
   * (VmNotAccelerated) ends the workflow's restore loop for good (restore-policy.ts), so the type
   * must never come from a passing refusal: one fresh read confirms it here, or the failure becomes
   * a retryable RestoreNotVerified and the loop tries again.
   */
  async function confirmedIfGone<T>(address: VmAddress, facts: FvpServerFacts, write: () => Promise<T>): Promise<T> {
    const who = describeVm(address.vm, address.uuid);
    try {
      return await write();
    } catch (err) {
      const type = err instanceof ApplicationFailure ? err.type : powerShellErrorType(err);
      if (type !== 'VmNotFound' && type !== 'VmNotAccelerated') throw err;
      let now: VmPolicy | null;
      try {
        now = (await readVm(address, facts)).policy;
      } catch (readErr) {
        if (powerShellErrorType(readErr) !== 'VmNotFound') throw readErr;
        now = null;
      }
      if (now === null) {
        // Looked up by uuid, a rename cannot explain it: the VM is gone from FVP.
        const gone =
          address.uuid === undefined
            ? 'is no longer known to FVP by this name (deleted, removed from FVP, or renamed)'
            : 'is no longer known to FVP: no VM has this uuid (deleted, or removed from FVP)';
        throw ApplicationFailure.nonRetryable(`${who} ${gone}: its policy cannot be restored`, 'VmNotFound');
      }
      if (!now.accelerated) {
        throw ApplicationFailure.nonRetryable(
          `${describeVm(now.vm, address.uuid)} is no longer accelerated by FVP (not in an FVP cluster): nothing left to restore`,
          'VmNotAccelerated',
        );
      }
      const message = err instanceof Error ? err.message : String(err);
      throw ApplicationFailure.retryable(
        `restore of ${who} was refused (${message}), but a fresh read finds it accelerated`,
        'RestoreNotVerified',
      );
    }
  }

  async function readVadp(vm: string): Promise<boolean> {
    return interpretProxyVadp(vm, await whileHeartbeating(fvp.invoke('Get-ProxyVadp', { vm })));
  }

  return {
    /**
     * The VM's requested and effective policy; `null` when FVP does not know the VM. With `uuid`,
     * the VM with that uuid whatever its name now (the result's `vm`).
     */
    async readCachePolicy({ vm, uuid }: VmAddress): Promise<VmPolicy | null> {
      return classified(async () => {
        try {
          return (await readVm({ vm, uuid }, await serverFacts())).policy;
        } catch (err) {
          if (powerShellErrorType(err) === 'VmNotFound') return null;
          throw err;
        }
      });
    },

    /**
     * Requests write-through, if the VM's requested policy is still `expected` (the one recorded
     * before the switch). Does not wait: -WaitTimeSeconds is unreliable, the workflow verifies the
     * flush. `expected` is optional only until every caller passes it.
     */
    async setWriteThrough({
      vm,
      uuid,
      expected,
    }: VmAddress & { expected?: RequestedPolicy | undefined }): Promise<VmPolicy> {
      return classified(async () => {
        const facts = await serverFacts();
        return writePolicy(fvp, {
          op: 'Set-VmWriteThrough',
          vm,
          uuid,
          target: WRITE_THROUGH,
          expected,
          read: () => readVm({ vm, uuid }, facts),
        });
      });
    },

    /**
     * Reads the flush state of every VM each `pollIntervalMs` until all are flushed or
     * `returnAfterMs` has passed, and returns the last state of each. Polling here rather than with
     * workflow timers keeps the history small and the reaction time at the poll interval. With
     * `uuids` (uuids[i] the FVP uuid of vms[i]), each VM is found by its uuid and its state carries
     * its current name.
     */
    async waitForFlush({
      vms,
      uuids,
      pollIntervalMs,
      returnAfterMs,
    }: {
      vms: string[];
      uuids?: string[] | undefined;
      pollIntervalMs: number;
      returnAfterMs: number;
    }): Promise<FlushState[]> {
      return classified(async () => {
        if (uuids !== undefined && uuids.length !== vms.length) {
          throw ApplicationFailure.nonRetryable(
            `waitForFlush was given ${uuids.length} uuids for ${vms.length} VMs`,
            'InvalidArgument',
          );
        }
        const targets = vms.map((vm, i) => ({ vm, uuid: uuids?.[i] }));
        const facts = await serverFacts();
        const until = Date.now() + returnAfterMs;
        // By position: with uuids, the name a state carries may not be the one asked for.
        const latest = new Map<number, FlushState>();
        let failed: unknown = null;
        for (;;) {
          const pending = targets.map((_, i) => i).filter((i) => !isFlushed(latest.get(i)));
          // One listing per poll round, shared with every other flush read of this worker. A read
          // that fails for a reason a retry may cure is read again next round, not the whole attempt
          // again: a round now makes two calls where one read made one, and a VM's last good state
          // stands meanwhile (only ever "not flushed yet" or flushed, never a guess).
          const results = await flush.read(
            pending.map((i) => targets[i] as (typeof targets)[number]),
            facts,
            pollIntervalMs,
          );
          results.forEach((result, k) => {
            if (result.status === 'fulfilled') latest.set(pending[k] as number, result.value);
            else if (retryable(result.reason)) failed = result.reason;
            else throw result.reason;
          });
          const done = targets.every((_, i) => isFlushed(latest.get(i)));
          if (done || Date.now() + pollIntervalMs > until) {
            if (failed !== null && targets.some((_, i) => !latest.has(i))) throw failed;
            return targets.map((_, i) => latest.get(i) as FlushState);
          }
          await pause(pollIntervalMs);
        }
      });
    },

    /**
     * Puts back exactly the recorded requested policy, if the VM's requested policy is still
     * `expected` (write-through, as the run or guard left it), then reads it again to verify it took
     * effect. `expected` is optional only until every caller passes it. With `uuid`, the VM with
     * that uuid whatever its name now: the result's `vm` is its current name.
     */
    async restoreCachePolicy({
      vm,
      uuid,
      policy,
      expected,
    }: VmAddress & {
      policy: RequestedPolicy;
      expected?: RequestedPolicy | undefined;
    }): Promise<VmPolicy> {
      return classified(async () => {
        // Finding 5 of issue 11: external peers exist only with fault domains (Enterprise); FVP
        // Standard refuses -NumWBExternalPeers, so a policy read there never carries them. A
        // recorded count above 0 cannot be given back on this licence: say so, never retry forever.
        const facts = await serverFacts();
        if (!facts.faultDomains && (policy.externalPeers ?? 0) > 0) {
          throw ApplicationFailure.nonRetryable(
            `${describeVm(vm, uuid)}: the recorded policy has ${policy.externalPeers} external peers, and this FVP ` +
              `licence has no fault domains (licensedFeatures): it cannot be restored as recorded`,
            'ExternalPeersNotLicensed',
          );
        }
        const sent = facts.faultDomains ? policy : { ...policy, externalPeers: null };
        const after = await confirmedIfGone({ vm, uuid }, facts, () =>
          writePolicy(fvp, {
            op: 'Restore-VmCachePolicy',
            vm,
            uuid,
            target: sent,
            expected,
            read: () => readVm({ vm, uuid }, facts),
          }),
        );
        if (!samePolicy(after.requested, policy)) {
          throw ApplicationFailure.retryable(
            `restore of ${describeVm(after.vm, uuid)} did not take: requested is ${JSON.stringify(after.requested)}, recorded ${JSON.stringify(policy)}`,
            'RestoreNotVerified',
          );
        }
        return after;
      });
    },

    async readVadpBlacklist({ proxies }: { proxies: string[] }): Promise<{ vm: string; vadp: boolean }[]> {
      return classified(async () => {
        const results: { vm: string; vadp: boolean }[] = [];
        for (const vm of proxies) results.push({ vm, vadp: await readVadp(vm) });
        return results;
      });
    },

    /** Blacklists the proxy by the evidenced call (issue 11 finding 4), then reads it back. */
    async setVadpBlacklist({ vm }: { vm: string }): Promise<{ vm: string; vadp: boolean }> {
      return classified(async () => {
        const { property, blacklisted } = FVP.vadpBlacklist.value;
        await whileHeartbeating(fvp.invoke('Set-ProxyVadp', { vm, property, value: blacklisted }));
        if (!(await readVadp(vm))) {
          throw ApplicationFailure.nonRetryable(
            `Set-PrnxProperty ${JSON.stringify(vm)} -Name ${property} -Value ${blacklisted} did not blacklist the proxy`,
            'VadpNotApplied',
          );
        }
        return { vm, vadp: true };
      });
    },
  };
}

export type FvpActivities = ReturnType<typeof createFvpActivities>;
