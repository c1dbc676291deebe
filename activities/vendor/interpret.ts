/**
 * Every decision about what FVP's raw output means (issue 11): the module returns what the cmdlets
 * wrote (operations.ts RawFvpVm), and this file turns it into the domain shapes of domain/policy.ts
 * with the vendor-facts table (facts.ts). It FAILS CLOSED: an unknown policy text or code, a
 * missing property, an object where text was expected, an empty requested policy, is a clear
 * non-retryable VendorMismatch naming the VM and the fact, never "not accelerated" or
 * "write-through". Pure: tested on every vendor profile without a server.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { CacheMode, FlushState, RequestedPolicy, VmPolicy } from '../../domain/policy';
import type { RawCall, RawFvpVm, RawFvpVmMatches, RawObject, RawValue, SessionLookup } from '../powershell/operations';
import { FVP, VEEAM } from './facts';

export const VENDOR_MISMATCH = 'VendorMismatch';

/** A vendor fact that does not hold here: nothing can be decided safely (non-retryable). */
export function vendorMismatch(vm: string | null, fact: string, message: string): ApplicationFailure {
  const who = vm === null ? '' : `VM ${JSON.stringify(vm)}: `;
  return ApplicationFailure.nonRetryable(
    `${who}${message} (vendor fact '${fact}' of activities/vendor/facts.ts; run fvpb doctor on the host)`,
    VENDOR_MISMATCH,
  );
}

/** What the FVP management server says about itself, as the rules need it. */
export interface FvpServerFacts {
  build: string;
  version: [number, number];
  faultDomains: boolean;
  /** -StartTime to pass to Get-PrnxObjectStats on this build (undefined: none). */
  statsStartTime: number | undefined;
}

/** A property of a raw object, by name, case-insensitively (PowerShell's rule). */
export function property(object: RawObject, name: string): { present: boolean; value: RawValue } {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(object)) {
    if (key !== '@type' && key.toLowerCase() === wanted) return { present: true, value };
  }
  return { present: false, value: null };
}

function describe(value: RawValue | undefined): string {
  return JSON.stringify(value ?? null).slice(0, 200);
}

function isObject(value: RawValue): value is RawObject {
  return typeof value === 'object' && value !== null;
}

export function interpretFvpServer(servers: RawValue[]): FvpServerFacts {
  const server = servers[0];
  if (servers.length !== 1 || server === undefined || !isObject(server)) {
    throw vendorMismatch(
      null,
      'serverBuildProperty',
      `Get-PrnxObject -Type PrnxMServer returned ${describe(servers as never)}`,
    );
  }
  const build = property(server, FVP.serverBuildProperty.value);
  const match = typeof build.value === 'string' ? /(\d+)\.(\d+)/.exec(build.value) : null;
  if (!build.present || match === null) {
    throw vendorMismatch(
      null,
      'serverBuildProperty',
      `the FVP server's buildinfo is ${describe(build.value)}, not a version`,
    );
  }
  const licence = property(server, FVP.serverLicenceProperty.value);
  if (!licence.present || (typeof licence.value !== 'string' && licence.value !== null)) {
    throw vendorMismatch(
      null,
      'serverLicenceProperty',
      `the FVP server's licensedFeatures is ${describe(licence.value)}`,
    );
  }
  const version: [number, number] = [Number(match[1]), Number(match[2])];
  const [fromMajor, fromMinor] = FVP.statsStartTimeFrom.value;
  const newer = version[0] > fromMajor || (version[0] === fromMajor && version[1] >= fromMinor);
  return {
    build: build.value as string,
    version,
    faultDomains: FVP.faultDomainFeature.value.test(licence.value ?? ''),
    statsStartTime: newer ? FVP.statsStartTime.value : undefined,
  };
}

/** The one Get-PrnxVM object named `vm`; null when FVP does not know it. */
function single(vm: string, raw: RawFvpVmMatches): RawFvpVm | null {
  if (raw.matches.length === 0) return null;
  if (raw.matches.length > 1) {
    throw ApplicationFailure.nonRetryable(
      `${raw.matches.length} FVP VMs are named ${JSON.stringify(vm)}`,
      'VmAmbiguous',
    );
  }
  return raw.matches[0] as RawFvpVm;
}

function required(vm: string, object: RawObject, fact: keyof typeof FVP, name: string): RawValue {
  const found = property(object, name);
  if (!found.present) {
    throw vendorMismatch(vm, fact, `Get-PrnxVM has no property '${name}' (it has ${Object.keys(object).join(', ')})`);
  }
  return found.value;
}

function integer(vm: string, fact: keyof typeof FVP, value: RawValue, min: number, max: number): number {
  const n =
    typeof value === 'number' ? value : typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) {
    throw vendorMismatch(vm, fact, `${describe(value)} is not a count in ${min}..${max}`);
  }
  return n;
}

/**
 * The policy text one Get-PrnxAccelerationPolicy call wrote: a string, or an object carrying it in
 * one of the known properties. Empty, missing, several objects or an unknown text: fail closed.
 */
export function policyMode(vm: string, what: 'requested' | 'effective', call: RawCall | null): CacheMode | null {
  const cmd = `Get-PrnxAccelerationPolicy${what === 'effective' ? ' -Effective' : ''}`;
  if (call === null) throw vendorMismatch(vm, 'vmUuidProperty', `${cmd} could not be called: the VM has no uuid`);
  if (!call.ok) {
    throw ApplicationFailure.retryable(
      `VM ${JSON.stringify(vm)}: ${cmd} failed: ${call.message}`,
      call.type || 'PolicyReadFailed',
    );
  }
  if (call.values.length > 1) throw vendorMismatch(vm, 'policyTexts', `${cmd} wrote ${call.values.length} objects`);
  let value = call.values[0] ?? null;
  if (isObject(value)) {
    const carrier = FVP.policyObjectProperties.value
      .map((name) => property(value as RawObject, name))
      .find((p) => p.present);
    if (carrier === undefined) {
      throw vendorMismatch(
        vm,
        'policyObjectProperties',
        `${cmd} wrote an object ${describe(value)} with none of the known policy properties`,
      );
    }
    value = carrier.value;
  }
  if (value === null || (typeof value === 'string' && value.trim() === '')) return null;
  if (typeof value !== 'string')
    throw vendorMismatch(vm, 'policyTexts', `${cmd} wrote ${describe(value)}, not a policy text`);
  const mode = FVP.policyTexts.value[value.trim().toUpperCase()];
  if (mode === undefined)
    throw vendorMismatch(vm, 'policyTexts', `${cmd} wrote the unknown policy text ${describe(value)}`);
  return mode;
}

function effectiveMode(vm: string, raw: RawFvpVm): CacheMode {
  const text = policyMode(vm, 'effective', raw.effective);
  if (text !== null) return text;
  // No effective text: the Get-PrnxVM code, only where its meaning is known.
  const code = required(vm, raw.vm, 'vmEffectivePolicyProperty', FVP.vmEffectivePolicyProperty.value);
  const mode = FVP.effectivePolicyCodes.value[String(code ?? '').trim()];
  if (mode === undefined) {
    throw vendorMismatch(
      vm,
      'effectivePolicyCodes',
      `the effective policy is empty and effectivePolicy is ${describe(code)}, a code of unknown meaning`,
    );
  }
  return mode;
}

function requestedPolicy(vm: string, raw: RawFvpVm, server: FvpServerFacts): RequestedPolicy {
  const mode = policyMode(vm, 'requested', raw.requested);
  if (mode === null) {
    // Never "already write-through": that would skip the switch and no flush would ever be seen.
    throw vendorMismatch(
      vm,
      'requestedWithoutEffective',
      'the requested policy reads empty (inherited from a datastore or cluster?)',
    );
  }
  const peers = integer(
    vm,
    'vmPeersProperty',
    required(vm, raw.vm, 'vmPeersProperty', FVP.vmPeersProperty.value),
    0,
    2,
  );
  let externalPeers: number | null = null;
  if (server.faultDomains) {
    const external = required(vm, raw.vm, 'vmExternalPeersProperty', FVP.vmExternalPeersProperty.value);
    externalPeers =
      external === null || external === '' ? null : integer(vm, 'vmExternalPeersProperty', external, 0, 8);
  }
  // Without fault domains (FVP Standard) external peers do not exist, whatever the property reads.
  return { mode, peers: mode === 'WriteBack' ? peers : peers, externalPeers };
}

function accelerated(vm: string, raw: RawFvpVm): boolean {
  const cluster = required(vm, raw.vm, 'vmFlashClusterProperty', FVP.vmFlashClusterProperty.value);
  return !(cluster === null || (typeof cluster === 'string' && cluster.trim() === ''));
}

function uuidOf(vm: string, raw: RawFvpVm): string {
  const uuid = required(vm, raw.vm, 'vmUuidProperty', FVP.vmUuidProperty.value);
  if (typeof uuid !== 'string' || uuid === '') throw vendorMismatch(vm, 'vmUuidProperty', `uuid is ${describe(uuid)}`);
  return uuid;
}

/** Get-VmCachePolicy's raw answer as a VmPolicy; null when FVP does not know the VM. */
export function interpretVmPolicy(vm: string, raw: RawFvpVmMatches, server: FvpServerFacts): VmPolicy | null {
  const one = single(vm, raw);
  if (one === null) return null;
  const uuid = uuidOf(vm, one);
  if (!accelerated(vm, one)) {
    return {
      vm,
      uuid,
      accelerated: false,
      requested: { mode: 'WriteThrough', peers: 0, externalPeers: null },
      effective: 'WriteThrough',
    };
  }
  return {
    vm,
    uuid,
    accelerated: true,
    requested: requestedPolicy(vm, one, server),
    effective: effectiveMode(vm, one),
  };
}

/** Get-VmFlushState's raw answer as a FlushState. A missing time to destage is never 0. */
export function interpretFlushState(vm: string, raw: RawFvpVmMatches, server: FvpServerFacts): FlushState {
  const policy = interpretVmPolicy(vm, raw, server);
  if (policy === null)
    throw ApplicationFailure.nonRetryable(`VM ${JSON.stringify(vm)} was not found in the FVP cluster`, 'VmNotFound');
  if (!policy.accelerated) {
    return { vm, requested: policy.requested, effective: policy.effective, timeToDestageSeconds: 0 };
  }
  const stats = (raw.matches[0] as RawFvpVm).stats;
  const cmd = `Get-PrnxObjectStats${server.statsStartTime === undefined ? '' : ` -StartTime ${server.statsStartTime}`}`;
  if (stats === null) throw vendorMismatch(vm, 'vmUuidProperty', `${cmd} could not be called`);
  if (!stats.ok)
    throw ApplicationFailure.retryable(`VM ${JSON.stringify(vm)}: ${cmd} failed: ${stats.message}`, 'NoStatistics');
  const sample = stats.values[0];
  if (sample === undefined) {
    // Retryable: FVP may not have a sample yet; on 3.1+ without -StartTime 0 it never has (facts: statsStartTimeFrom).
    throw ApplicationFailure.retryable(
      `VM ${JSON.stringify(vm)}: ${cmd} returned no sample (FVP ${server.build})`,
      'NoStatistics',
    );
  }
  if (!isObject(sample))
    throw vendorMismatch(vm, 'timeToDestageProperty', `${cmd} wrote ${describe(sample)}, not a sample object`);
  const found = property(sample, FVP.timeToDestageProperty.value);
  const value = found.value;
  const seconds =
    typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  if (!found.present || !Number.isFinite(seconds)) {
    throw vendorMismatch(
      vm,
      'timeToDestageProperty',
      `${cmd}'s sample has time_to_destage ${found.present ? describe(value) : 'missing'} (${describe(sample)})`,
    );
  }
  return { vm, requested: policy.requested, effective: policy.effective, timeToDestageSeconds: Math.max(0, seconds) };
}

/** The Veeam PowerShell module's major version, from Get-VeeamServer's raw module list. */
export function interpretVeeamMajor(modules: RawValue[]): number {
  const module = modules[0];
  const version = module !== undefined && isObject(module) ? property(module, 'Version').value : null;
  const match = typeof version === 'string' ? /^(\d+)\./.exec(version) : null;
  if (match === null) {
    throw vendorMismatch(
      null,
      'moduleName',
      `Get-Module ${VEEAM.moduleName.value} answered ${describe(modules as never)}`,
    );
  }
  return Number(match[1]);
}

/** The per-job session lookup for this Veeam version (never a scan of the whole history). */
export function sessionLookupFor(major: number): SessionLookup {
  const rule = VEEAM.sessionLookup.value.find((r) => major >= r.fromMajor);
  if (rule === undefined) throw vendorMismatch(null, 'sessionLookup', `no session lookup for Veeam ${major}`);
  return rule.lookup;
}

/** Whether a proxy VM is VADP-blacklisted, from Get-ProxyVadp's raw answer (facts FVP.vadpBlacklist). */
export function interpretProxyVadp(vm: string, raw: RawFvpVmMatches): boolean {
  const one = single(vm, raw);
  if (one === null)
    throw ApplicationFailure.nonRetryable(`proxy VM ${JSON.stringify(vm)} was not found by FVP`, 'VmNotFound');
  const { property: name, blacklisted, addBack } = FVP.vadpBlacklist.value;
  const value = required(vm, one.vm, 'vadpBlacklist', name);
  const code =
    typeof value === 'number' ? value : typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : NaN;
  if (code === blacklisted) return true;
  if (code === addBack) return false;
  throw vendorMismatch(
    vm,
    'vadpBlacklist',
    `${name} is ${describe(value)}, neither ${blacklisted} (blacklisted) nor ${addBack}`,
  );
}
