/**
 * The FVP model of one VM, as pure functions of its state and a time (integer epoch ms).
 *
 * - The guest writes at writeAnchor + k * writeIntervalMs (k >= 1), forever; 0 = idle VM.
 * - A write is handled in write-back when, at that moment, the VM is accelerated, its host has
 *   flash and its requested mode is WriteBack: it is acknowledged at once and reaches the array
 *   destageMs later. Otherwise it is written through: acknowledged when it is on the array.
 * - Switching to write-through changes the requested policy at once; new writes go through, and
 *   the effective mode stays WriteBack until the dirty writes destaged (time to destage 0).
 *   Switching back to write-back is immediate.
 */
import type { CacheMode, FlushState, RequestedPolicy, VmPolicy } from '../../domain/policy';
import { LIMITS, pushBounded, type PolicyEvent, type PolicySource, type VmState } from './state';

export const WRITE_THROUGH_POLICY: RequestedPolicy = { mode: 'WriteThrough', peers: 0, externalPeers: null };

export function currentRequested(vm: VmState): RequestedPolicy {
  return lastOf(vm.history).requested;
}

/** The requested policy in force at time t (changes at t itself apply to t). */
export function requestedEventAt(vm: VmState, t: number): PolicyEvent {
  let found = vm.history[0]!;
  for (const event of vm.history) {
    if (event.at > t) break;
    found = event;
  }
  return found;
}

function cachesWrites(vm: VmState): boolean {
  return vm.accelerated && vm.hostHasFlash;
}

/** Closed integer ranges [from, to] during which writes were handled in write-back. */
function writeBackRanges(vm: VmState, lo: number, hi: number): [number, number][] {
  if (!cachesWrites(vm)) return [];
  const ranges: [number, number][] = [];
  vm.history.forEach((event, i) => {
    if (event.requested.mode !== 'WriteBack') return;
    const next = vm.history[i + 1];
    const from = Math.max(lo, i === 0 ? -Infinity : event.at);
    const to = Math.min(hi, next === undefined ? Infinity : next.at - 1);
    if (from <= to) ranges.push([from, to]);
  });
  return ranges;
}

/** Guest writes with a time in [lo, hi]: how many and the latest. */
function writesIn(vm: VmState, lo: number, hi: number): { count: number; last: number | null } {
  const interval = vm.writeIntervalMs;
  if (interval <= 0 || hi < lo) return { count: 0, last: null };
  const kMin = Math.max(1, Math.ceil((lo - vm.writeAnchor) / interval));
  const kMax = Math.floor((hi - vm.writeAnchor) / interval);
  if (kMax < kMin) return { count: 0, last: null };
  return { count: kMax - kMin + 1, last: vm.writeAnchor + kMax * interval };
}

/** Write-back writes acknowledged at or before t that are not on the array at t. */
function dirtyWrites(vm: VmState, t: number): { count: number; last: number | null } {
  if (vm.destageMs <= 0) return { count: 0, last: null };
  let count = 0;
  let last: number | null = null;
  for (const [from, to] of writeBackRanges(vm, t - vm.destageMs + 1, t)) {
    const w = writesIn(vm, from, to);
    count += w.count;
    if (w.last !== null && (last === null || w.last > last)) last = w.last;
  }
  return { count, last };
}

export function unflushedWritesAt(vm: VmState, t: number): number {
  return dirtyWrites(vm, t).count;
}

/** Milliseconds until every write acknowledged by t is on the array. */
export function timeToDestageMs(vm: VmState, t: number): number {
  const { last } = dirtyWrites(vm, t);
  return last === null ? 0 : Math.max(0, last + vm.destageMs - t);
}

export function effectiveAt(vm: VmState, t: number): CacheMode {
  if (!cachesWrites(vm)) return 'WriteThrough';
  if (requestedEventAt(vm, t).requested.mode === 'WriteBack') return 'WriteBack';
  return timeToDestageMs(vm, t) > 0 ? 'WriteBack' : 'WriteThrough';
}

export function policyDoc(vm: VmState, t: number): VmPolicy {
  return {
    vm: vm.name,
    uuid: vm.uuid,
    accelerated: vm.accelerated,
    requested: { ...currentRequestedAt(vm, t) },
    effective: effectiveAt(vm, t),
  };
}

export function flushDoc(vm: VmState, t: number): FlushState {
  return {
    vm: vm.name,
    requested: { ...currentRequestedAt(vm, t) },
    effective: effectiveAt(vm, t),
    timeToDestageSeconds: timeToDestageMs(vm, t) / 1000,
  };
}

function currentRequestedAt(vm: VmState, t: number): RequestedPolicy {
  return requestedEventAt(vm, t).requested;
}

export function samePolicy(a: RequestedPolicy, b: RequestedPolicy): boolean {
  return a.mode === b.mode && a.peers === b.peers && a.externalPeers === b.externalPeers;
}

/** Records a change of the requested policy at t (no event when nothing changes). Mutates `vm`. */
export function setRequested(
  vm: VmState,
  t: number,
  requested: RequestedPolicy,
  source: PolicySource,
  pid: number | null,
): boolean {
  if (samePolicy(currentRequested(vm), requested)) return false;
  const at = Math.max(t, lastOf(vm.history).at);
  pushBounded(vm.history, { at, requested: { ...requested }, source, pid }, LIMITS.historyPerVm);
  return true;
}

/** A period during which a VM's requested mode was WriteThrough. Times are epoch ms. */
export interface WriteThroughWindow {
  /** When the requested mode became WriteThrough. */
  requestedAt: number;
  /** When the effective mode became WriteThrough (dirty data destaged); null if it never did. */
  effectiveAt: number | null;
  /** When the requested mode went back to WriteBack; null while the VM is still in write-through. */
  endedAt: number | null;
  startSource: PolicySource;
  endSource: PolicySource | null;
}

export function writeThroughWindows(vm: VmState): WriteThroughWindow[] {
  const windows: WriteThroughWindow[] = [];
  let open: WriteThroughWindow | null = null;
  for (const event of vm.history) {
    if (event.requested.mode === 'WriteThrough' && open === null) {
      const effective = cachesWrites(vm) ? event.at + timeToDestageMs(vm, event.at) : event.at;
      open = {
        requestedAt: event.at,
        effectiveAt: effective,
        endedAt: null,
        startSource: event.source,
        endSource: null,
      };
      windows.push(open);
    } else if (event.requested.mode === 'WriteBack' && open !== null) {
      open.endedAt = event.at;
      open.endSource = event.source;
      if (open.effectiveAt !== null && open.effectiveAt >= event.at) open.effectiveAt = null;
      open = null;
    }
  }
  return windows;
}

function lastOf<T>(list: T[]): T {
  const item = list[list.length - 1];
  if (item === undefined) throw new Error('empty list');
  return item;
}

/**
 * How a VM leaves FVP mid-run (lab/api.ts VmRemoveBody): `fvp`, FVP no longer knows it (the VM was
 * deleted, or removed from FVP's inventory): every call naming it finds no VM; `cluster`, it is
 * removed from its FVP cluster: still listed, no flash cluster, not accelerated.
 */
export type VmRemoval = 'fvp' | 'cluster';

/** Applies a removal to the FVP model; false when there is nothing to change. Mutates `vms`. */
export function removeVm(vms: VmState[], name: string, from: VmRemoval): boolean {
  const vm = vms.find((v) => v.name === name);
  if (vm === undefined) return false;
  if (from === 'fvp') {
    vms.splice(vms.indexOf(vm), 1);
    return true;
  }
  if (!vm.accelerated) return false;
  // The lab's model has no time-indexed membership: from now on the VM's writes go through, and
  // its policy reads as "not in a flash cluster" (lab/model/raw.ts).
  vm.accelerated = false;
  return true;
}
