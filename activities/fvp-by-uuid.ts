/**
 * A VM found by its FVP uuid, never by its name (issue 10 item 4: identity, not names). A VM
 * renamed in vCenter keeps its uuid (Get-PrnxVM.uuid is vSphere's instance UUID, vendor evidence
 * F5), and two VMs of two flash clusters may share a name, so a guard that knows the uuid finds
 * its VM in a Get-PrnxVM listing by that uuid, takes the VM's CURRENT name from the same object,
 * and reads its policy (and statistics) by uuid (Get-VmPolicyStats). The raw answer is assembled
 * as the module's per-name read returns it, so that activities/vendor/interpret.ts reads both alike.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { OperationInvoker } from './invoker';
import { whileHeartbeating } from './heartbeat';
import type { RawFvpVmMatches, RawObject } from './powershell/operations';
import { FVP } from './vendor/facts';
import { property, vendorMismatch, type FvpServerFacts } from './vendor/interpret';

export interface UuidMatch {
  /** The listing's object whose uuid property is the uuid. */
  object: RawObject;
  /** Its current name (the VM may have been renamed since the caller last saw it). */
  name: string;
  /** How many OTHER listed objects carry that same name: a -Name write would address them too. */
  namesakes: number;
}

/** The one listed object with this uuid; null when FVP lists none; VmAmbiguous when several. */
export function findByUuid(listed: RawObject[], uuid: string): UuidMatch | null {
  const found = listed.filter((o) => property(o, FVP.vmUuidProperty.value).value === uuid);
  if (found.length === 0) return null;
  if (found.length > 1) {
    // Fail closed: a write or a flush verdict for one of them could be about the other.
    throw ApplicationFailure.nonRetryable(
      `${found.length} FVP VMs have the uuid ${JSON.stringify(uuid)}: which one is meant cannot be told; nothing was read or written`,
      'VmAmbiguous',
    );
  }
  const object = found[0] as RawObject;
  const name = property(object, FVP.vmNameProperty.value).value;
  if (typeof name !== 'string' || name === '') {
    throw vendorMismatch(
      null,
      'vmNameProperty',
      `the Get-PrnxVM object with uuid ${JSON.stringify(uuid)} has the name ${JSON.stringify(name)}`,
    );
  }
  const namesakes = listed.filter((o) => o !== object && property(o, FVP.vmNameProperty.value).value === name).length;
  return { object, name, namesakes };
}

export interface UuidRead extends UuidMatch {
  /** As Get-VmFlushState would answer for the VM's current name, with this one object only. */
  raw: RawFvpVmMatches;
}

/** The VM with this uuid in `listed`, with its policy and statistics read by uuid; null when not listed. */
export async function readByUuid(
  fvp: OperationInvoker,
  listed: RawObject[],
  uuid: string,
  facts: FvpServerFacts,
): Promise<UuidRead | null> {
  const match = findByUuid(listed, uuid);
  if (match === null) return null;
  const args = facts.statsStartTime === undefined ? { uuid } : { uuid, startTime: facts.statsStartTime };
  const detail = await whileHeartbeating(fvp.invoke('Get-VmPolicyStats', args));
  return { ...match, raw: { matches: [{ vm: match.object, ...detail }] } };
}

/** "VM "web-01" (FVP uuid …)": how failures name a VM addressed by uuid. */
export function describeVm(vm: string, uuid: string | undefined): string {
  return uuid === undefined
    ? `VM ${JSON.stringify(vm)}`
    : `VM ${JSON.stringify(vm)} (FVP uuid ${JSON.stringify(uuid)})`;
}
