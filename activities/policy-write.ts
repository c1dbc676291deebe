/**
 * The one FVP policy write (issue 11), every decision of it in TypeScript: read the VM raw and
 * interpret it; write nothing when the target is already in place (a retry after a lost answer);
 * refuse, writing nothing, when the caller's `expected` is not the VM's requested policy any more
 * (PolicyChanged: someone else changed it); refuse a name-targeted write of a VM whose name holds a
 * wildcard character; send Set-PrnxAccelerationPolicy with exactly the parameters chosen here; read
 * the VM again and return what FVP says now.
 *
 * FVP has no compare-and-set: the precondition is read right before the write, one module call
 * apart (the module used to read it inside the write's call; the window grows by one round trip).
 */
import { ApplicationFailure } from '@temporalio/common';
import type { OperationInvoker } from './invoker';
import { samePolicy, type RequestedPolicy, type VmPolicy } from '../domain/policy';
import { POLICY_CHANGED } from './failures';
import { whileHeartbeating } from './heartbeat';
import { FVP } from './vendor/facts';

export const WRITE_THROUGH: RequestedPolicy = { mode: 'WriteThrough', peers: 0, externalPeers: null };

/**
 * Characters that make a -Name a wildcard pattern if prnxcli's -Name takes wildcards (unknown,
 * facts FVP.setPolicyTarget): `*`, `?`, `[`, `]`, and PowerShell's escape character.
 */
const WILDCARD = /[*?[\]`]/;

export interface PolicyWriteRequest {
  /** The switch to write-through, or a restore (two names of the one write: the lab tells them apart). */
  op: 'Set-VmWriteThrough' | 'Restore-VmCachePolicy';
  vm: string;
  /** The requested policy to put in place (externalPeers null: -NumWBExternalPeers not passed). */
  target: RequestedPolicy;
  /** The conditional write's precondition: the VM's requested policy as the caller last saw it. */
  expected: RequestedPolicy | undefined;
  /** Reads and interprets the VM (null: FVP does not know it). */
  read(vm: string): Promise<VmPolicy | null>;
}

function known(vm: string, policy: VmPolicy | null): VmPolicy {
  if (policy === null) {
    throw ApplicationFailure.nonRetryable(`VM ${JSON.stringify(vm)} was not found in the FVP cluster`, 'VmNotFound');
  }
  return policy;
}

/** The VM's address for Set-PrnxAccelerationPolicy, as the facts table says; refuses what could match other VMs. */
export function targetOf(current: VmPolicy): { vm: string; uuid?: string } {
  if (FVP.setPolicyTarget.value === 'UUID') return { vm: current.vm, uuid: current.uuid };
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
  const { vm, target, expected } = request;
  const current = known(vm, await request.read(vm));
  if (!current.accelerated) {
    throw ApplicationFailure.nonRetryable(
      `VM ${JSON.stringify(vm)} is not accelerated by FVP: no policy to set`,
      'VmNotAccelerated',
    );
  }
  if (samePolicy(current.requested, target)) return current;
  if (expected !== undefined && !samePolicy(current.requested, expected)) {
    throw ApplicationFailure.nonRetryable(
      `VM ${JSON.stringify(vm)} has requested policy ${JSON.stringify(current.requested)}, not the expected ` +
        `${JSON.stringify(expected)}: someone else changed it; nothing was changed`,
      POLICY_CHANGED,
    );
  }
  const address = targetOf(current);
  if (request.op === 'Set-VmWriteThrough' && target.mode === 'WriteThrough') {
    await whileHeartbeating(fvp.invoke('Set-VmWriteThrough', address));
  } else {
    await whileHeartbeating(fvp.invoke('Restore-VmCachePolicy', { ...address, policy: target }));
  }
  return known(vm, await request.read(vm));
}
