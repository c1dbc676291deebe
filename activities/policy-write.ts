/**
 * The one FVP policy write (issue 11), every decision of it in TypeScript: read the VM raw and
 * interpret it; write nothing when the target is already in place (a retry after a lost answer);
 * refuse, writing nothing, when the caller's `expected` is not the VM's requested policy any more
 * (PolicyChanged: someone else changed it); refuse a name-targeted write of a VM whose name holds a
 * wildcard character, or that another FVP VM shares (a VM addressed by its uuid, issue 10 item 4:
 * -Name would address the namesake too); send Set-PrnxAccelerationPolicy with exactly the parameters
 * chosen here; read the VM again and return what FVP says now.
 *
 * FVP has no compare-and-set: the precondition is read right before the write, one module call
 * apart (the module used to read it inside the write's call; the window grows by one round trip).
 */
import { ApplicationFailure } from '@temporalio/common';
import type { OperationInvoker } from './invoker';
import { samePolicy, type RequestedPolicy, type VmPolicy } from '../domain/policy';
import { POLICY_CHANGED } from './failures';
import { describeVm } from './fvp-by-uuid';
import { whileHeartbeating } from './heartbeat';
import { FVP } from './vendor/facts';

export const WRITE_THROUGH: RequestedPolicy = { mode: 'WriteThrough', peers: 0, externalPeers: null };

/**
 * Characters that make a -Name a wildcard pattern if prnxcli's -Name takes wildcards (unknown,
 * facts FVP.setPolicyTarget): `*`, `?`, `[`, `]`, and PowerShell's escape character.
 */
const WILDCARD = /[*?[\]`]/;

/** A VM read for a write: its policy (null: FVP does not know it) and how many other VMs share its name. */
export interface VmRead {
  policy: VmPolicy | null;
  /** Other FVP VMs with the same name (0 when the VM was read by name: several matches fail that read). */
  namesakes: number;
}

export interface PolicyWriteRequest {
  /** The switch to write-through, or a restore (two names of the one write: the lab tells them apart). */
  op: 'Set-VmWriteThrough' | 'Restore-VmCachePolicy';
  /** The VM's name as the caller knows it (only in failures when `uuid` is given). */
  vm: string;
  /** Its FVP uuid: the VM was read by it (its name may have changed since the caller saw it). */
  uuid?: string | undefined;
  /** The requested policy to put in place (externalPeers null: -NumWBExternalPeers not passed). */
  target: RequestedPolicy;
  /** The conditional write's precondition: the VM's requested policy as the caller last saw it. */
  expected: RequestedPolicy | undefined;
  /** Reads and interprets the VM, fresh (by its uuid when given, else by `vm`). */
  read(): Promise<VmRead>;
}

function known(who: string, policy: VmPolicy | null): VmPolicy {
  if (policy === null) {
    throw ApplicationFailure.nonRetryable(`${who} was not found in the FVP cluster`, 'VmNotFound');
  }
  return policy;
}

/**
 * The VM's address for Set-PrnxAccelerationPolicy, as the facts table says; refuses what could match
 * other VMs: a name with a wildcard character, or a name `namesakes` other FVP VMs share.
 */
export function targetOf(current: VmPolicy, namesakes = 0): { vm: string; uuid?: string } {
  if (FVP.setPolicyTarget.value === 'UUID') return { vm: current.vm, uuid: current.uuid };
  if (namesakes > 0) {
    throw ApplicationFailure.nonRetryable(
      `VM ${JSON.stringify(current.vm)} (FVP uuid ${JSON.stringify(current.uuid)}): ${namesakes} other FVP ` +
        `VM${namesakes === 1 ? ' is' : 's are'} named so and Set-PrnxAccelerationPolicy is addressed by -Name ` +
        `(vendor fact 'setPolicyTarget' of activities/vendor/facts.ts); nothing was written. Rename one of them, ` +
        `or set it to 'UUID' once fvpb doctor shows the -UUID parameter`,
      'VmAmbiguous',
    );
  }
  if (WILDCARD.test(current.vm)) {
    // Fail closed rather than escape: if -Name is literal, an escaped name names no VM (or another);
    // if it is a pattern, the raw name could match several. Only -UUID is safe for this VM.
    throw ApplicationFailure.nonRetryable(
      `VM ${JSON.stringify(current.vm)}: its name holds a wildcard character and Set-PrnxAccelerationPolicy is ` +
        `addressed by -Name (vendor fact 'setPolicyTarget' of activities/vendor/facts.ts); nothing was written. ` +
        `Set it to 'UUID' once fvpb doctor shows the -UUID parameter`,
      'UnsafeVmName',
    );
  }
  return { vm: current.vm };
}

export async function writePolicy(fvp: OperationInvoker, request: PolicyWriteRequest): Promise<VmPolicy> {
  const { target, expected } = request;
  const who = describeVm(request.vm, request.uuid);
  const read = await request.read();
  const current = known(who, read.policy);
  if (!current.accelerated) {
    throw ApplicationFailure.nonRetryable(`${who} is not accelerated by FVP: no policy to set`, 'VmNotAccelerated');
  }
  if (samePolicy(current.requested, target)) return current;
  if (expected !== undefined && !samePolicy(current.requested, expected)) {
    throw ApplicationFailure.nonRetryable(
      `${who} has requested policy ${JSON.stringify(current.requested)}, not the expected ` +
        `${JSON.stringify(expected)}: someone else changed it; nothing was changed`,
      POLICY_CHANGED,
    );
  }
  const address = targetOf(current, read.namesakes);
  if (request.op === 'Set-VmWriteThrough' && target.mode === 'WriteThrough') {
    await whileHeartbeating(fvp.invoke('Set-VmWriteThrough', address));
  } else {
    await whileHeartbeating(fvp.invoke('Restore-VmCachePolicy', { ...address, policy: target }));
  }
  return known(who, (await request.read()).policy);
}
