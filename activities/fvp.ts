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
 */
import { ApplicationFailure } from '@temporalio/common';
import { activityCancellationSignal, type OperationInvoker } from './invoker';
import { PowerShellError } from './powershell/errors';
import { isFlushed, samePolicy, type FlushState, type RequestedPolicy, type VmPolicy } from '../domain/policy';
import { classified, powerShellErrorType } from './failures';
import { writePolicy, WRITE_THROUGH } from './policy-write';
import { createFlushReader } from './flush-reader';
import { retryingReads } from './read-retry';
import { pause, whileHeartbeating } from './heartbeat';
import { FVP } from './vendor/facts';
import { interpretFvpServer, interpretProxyVadp, interpretVmPolicy, type FvpServerFacts } from './vendor/interpret';

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
  /** Flush reads with the worker's one listing per poll round, shared by every flush read (issue 12). */
  const flush = createFlushReader(fvp);

  /**
   * Build and licence of the FVP management server (version and licence rules of the facts
   * table), read once per activity attempt, so that an upgraded or relicensed server is seen at once.
   */
  async function serverFacts(): Promise<FvpServerFacts> {
    const raw = await whileHeartbeating(fvp.invoke('Get-FvpServer', {}));
    return interpretFvpServer(raw.servers);
  }

  /** The VM's policy read raw and interpreted in TypeScript; null when FVP does not know the VM. */
  async function readPolicy(vm: string, facts: FvpServerFacts): Promise<VmPolicy | null> {
    return interpretVmPolicy(vm, await whileHeartbeating(fvp.invoke('Get-VmCachePolicy', { vm })), facts);
  }

  /**
   * A restore refused because FVP does not know the VM (VmNotFound) or does not accelerate it
   * (VmNotAccelerated) ends the workflow's restore loop for good (restore-policy.ts), so the type
   * must never come from a passing refusal: one fresh read confirms it here, or the failure becomes
   * a retryable RestoreNotVerified and the loop tries again.
   */
  async function confirmedIfGone<T>(vm: string, facts: FvpServerFacts, write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (err) {
      const type = err instanceof ApplicationFailure ? err.type : powerShellErrorType(err);
      if (type !== 'VmNotFound' && type !== 'VmNotAccelerated') throw err;
      let now: VmPolicy | null;
      try {
        now = await readPolicy(vm, facts);
      } catch (readErr) {
        if (powerShellErrorType(readErr) !== 'VmNotFound') throw readErr;
        now = null;
      }
      if (now === null) {
        throw ApplicationFailure.nonRetryable(
          `VM ${JSON.stringify(vm)} is no longer known to FVP by this name (deleted, removed from FVP, or renamed): ` +
            `its policy cannot be restored`,
          'VmNotFound',
        );
      }
      if (!now.accelerated) {
        throw ApplicationFailure.nonRetryable(
          `VM ${JSON.stringify(vm)} is no longer accelerated by FVP (not in an FVP cluster): nothing left to restore`,
          'VmNotAccelerated',
        );
      }
      const message = err instanceof Error ? err.message : String(err);
      throw ApplicationFailure.retryable(
        `restore of ${JSON.stringify(vm)} was refused (${message}), but a fresh read finds it accelerated`,
        'RestoreNotVerified',
      );
    }
  }

  async function readVadp(vm: string): Promise<boolean> {
    return interpretProxyVadp(vm, await whileHeartbeating(fvp.invoke('Get-ProxyVadp', { vm })));
  }

  return {
    /** The VM's requested and effective policy; `null` when FVP does not know the VM. */
    async readCachePolicy({ vm }: { vm: string }): Promise<VmPolicy | null> {
      return classified(async () => {
        try {
          return await readPolicy(vm, await serverFacts());
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
    async setWriteThrough({ vm, expected }: { vm: string; expected?: RequestedPolicy }): Promise<VmPolicy> {
      return classified(async () => {
        const facts = await serverFacts();
        return writePolicy(fvp, {
          op: 'Set-VmWriteThrough',
          vm,
          target: WRITE_THROUGH,
          expected,
          read: (name) => readPolicy(name, facts),
        });
      });
    },

    /**
     * Reads the flush state of every VM each `pollIntervalMs` until all are flushed or
     * `returnAfterMs` has passed, and returns the last state of each. Polling here rather than with
     * workflow timers keeps the history small and the reaction time at the poll interval.
     */
    async waitForFlush({
      vms,
      pollIntervalMs,
      returnAfterMs,
    }: {
      vms: string[];
      pollIntervalMs: number;
      returnAfterMs: number;
    }): Promise<FlushState[]> {
      return classified(async () => {
        const facts = await serverFacts();
        const until = Date.now() + returnAfterMs;
        const latest = new Map<string, FlushState>();
        let failed: unknown = null;
        for (;;) {
          const pending = vms.filter((vm) => !isFlushed(latest.get(vm)));
          // One listing per poll round, shared with every other flush read of this worker. A read
          // that fails for a reason a retry may cure is read again next round, not the whole attempt
          // again: a round now makes two calls where one read made one, and a VM's last good state
          // stands meanwhile (only ever "not flushed yet" or flushed, never a guess).
          const results = await flush.read(pending, facts, pollIntervalMs);
          results.forEach((result, i) => {
            if (result.status === 'fulfilled') latest.set(pending[i] as string, result.value);
            else if (retryable(result.reason)) failed = result.reason;
            else throw result.reason;
          });
          const done = vms.every((vm) => isFlushed(latest.get(vm)));
          if (done || Date.now() + pollIntervalMs > until) {
            if (failed !== null && vms.some((vm) => !latest.has(vm))) throw failed;
            return vms.map((vm) => latest.get(vm) as FlushState);
          }
          await pause(pollIntervalMs);
        }
      });
    },

    /**
     * Puts back exactly the recorded requested policy, if the VM's requested policy is still
     * `expected` (write-through, as the run or guard left it), then reads it again to verify it took
     * effect. `expected` is optional only until every caller passes it.
     */
    async restoreCachePolicy({
      vm,
      policy,
      expected,
    }: {
      vm: string;
      policy: RequestedPolicy;
      expected?: RequestedPolicy;
    }): Promise<VmPolicy> {
      return classified(async () => {
        // Finding 5 of issue 11: external peers exist only with fault domains (Enterprise); FVP
        // Standard refuses -NumWBExternalPeers, so a policy read there never carries them. A
        // recorded count above 0 cannot be given back on this licence: say so, never retry forever.
        const facts = await serverFacts();
        if (!facts.faultDomains && (policy.externalPeers ?? 0) > 0) {
          throw ApplicationFailure.nonRetryable(
            `VM ${JSON.stringify(vm)}: the recorded policy has ${policy.externalPeers} external peers, and this FVP ` +
              `licence has no fault domains (licensedFeatures): it cannot be restored as recorded`,
            'ExternalPeersNotLicensed',
          );
        }
        const sent = facts.faultDomains ? policy : { ...policy, externalPeers: null };
        const after = await confirmedIfGone(vm, facts, () =>
          writePolicy(fvp, {
            op: 'Restore-VmCachePolicy',
            vm,
            target: sent,
            expected,
            read: (name) => readPolicy(name, facts),
          }),
        );
        if (!samePolicy(after.requested, policy)) {
          throw ApplicationFailure.retryable(
            `restore of ${JSON.stringify(vm)} did not take: requested is ${JSON.stringify(after.requested)}, recorded ${JSON.stringify(policy)}`,
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
