/**
 * THE VENDOR FACTS: every name, text, code and version rule the product relies on when it speaks to
 * PernixData FVP (prnxcli) and Veeam B&R PowerShell, one row each, with its evidence and whether
 * that evidence confirms it. No PernixData documentation or Get-Help output was available: every FVP
 * fact comes from community scripts (several by PernixData and Veeam engineers) and blogs; Veeam
 * facts come from Veeam's PowerShell reference and VeeamHub. The full register is
 * shared/reference/vendor-evidence.md (ids F1..F15, V1..V13, P1..P2 below point into it).
 *
 * FOR THE ADMIN: run `fvpb doctor` on the real hosts first (docs/deploying.md). It prints what the
 * cmdlets really return and says which rows below it confirmed or contradicted. Correct a row here
 * (and set its status) when your installation says otherwise; nothing else has to change. Rows are
 * plain data: no code decides anything from a comment.
 *
 * Two tables:
 * - CMDLETS: every vendor cmdlet the module calls and every parameter it passes. The CI check
 *   (test/powershell/module-syntax.test.ts) parses FvpBackup.psm1 and fails on any vendor cmdlet or
 *   parameter that is not in this table, so the module cannot drift from what was reviewed.
 * - FACTS: the values the TypeScript interpretation (activities/vendor/interpret.ts) reads the raw
 *   vendor output with.
 */

import type { InventoryView } from '../powershell/operations';

export type Status = 'confirmed' | 'unconfirmed';

export interface Evidenced {
  /** Where the fact comes from (ids of shared/reference/vendor-evidence.md, links). */
  evidence: string;
  status: Status;
  /** Only probed by doctor, never passed: its absence is not a problem. */
  probeOnly?: true;
}

export interface CmdletFact extends Evidenced {
  endpoint: 'fvp' | 'veeam';
  /** Each parameter the module may pass, with its own evidence. */
  parameters: Record<string, Evidenced>;
}

const seen = (evidence: string): Evidenced => ({ evidence, status: 'confirmed' });
const guess = (evidence: string): Evidenced => ({ evidence, status: 'unconfirmed' });

/** Every vendor cmdlet (and its parameters) the module may call. */
export const CMDLETS: Record<string, CmdletFact> = {
  // ---------------------------------------------------------------------------------- FVP (prnxcli)
  'Connect-PrnxServer': {
    endpoint: 'fvp',
    ...seen('F3: poulpreben 0cffbd0; bdwill master; prnx_blacklist.ps1'),
    parameters: {
      NameOrIPAddress: seen('F3'),
      Credentials: seen('F3 (PSCredential, plural spelling)'),
    },
  },
  'Get-PrnxVM': {
    endpoint: 'fvp',
    ...seen('F4: bdwill a703337 ("Tested to be working now"), master, 9a38825'),
    parameters: {},
  },
  'Get-PrnxObject': {
    endpoint: 'fvp',
    ...seen('F10: FVP 3.1 variant, (Get-PrnxObject -Type PrnxMServer).buildinfo / .licensedFeatures'),
    parameters: { Type: seen('F10') },
  },
  'Get-PrnxAccelerationPolicy': {
    endpoint: 'fvp',
    ...guess('F8: called in bdwill from-james 34571ff, its output never compared (assignment in an if)'),
    parameters: {
      UUID: seen('F8 (-uuid)'),
      Effective: guess('F8: only ever called with -Effective; the call without it is never seen'),
    },
  },
  'Set-PrnxAccelerationPolicy': {
    endpoint: 'fvp',
    ...seen('F6: poulpreben; bdwill master/from-james; eschek87'),
    parameters: {
      Name: seen('F6'),
      UUID: seen('F6 (from-james, 3.1 variant: -uuid)'),
      WriteThrough: seen('F6'),
      WriteBack: seen('F6'),
      NumWBPeers: seen('F6'),
      NumWBExternalPeers: seen('F6, F7: Enterprise (fault domains) only'),
      WaitTimeSeconds: guess('F6: passed with 30/60 in scripts; semantics unknown (the workflows never pass it)'),
      Vadp: {
        ...guess(
          'F12: NO public evidence at all (the only blacklist call seen is Set-PrnxProperty, F11); doctor checks it',
        ),
        probeOnly: true,
      },
    },
  },
  'Set-PrnxProperty': {
    endpoint: 'fvp',
    ...seen('F11: bdwill/prnx-invalidate-cache prnx_blacklist.ps1, Set-PrnxProperty <vm> -Name cachePolicy -Value 1|3'),
    parameters: { Name: seen('F11'), Value: seen('F11') },
  },
  'Get-PrnxProperty': {
    endpoint: 'fvp',
    probeOnly: true,
    ...guess('no public call seen: the read counterpart of Set-PrnxProperty, checked by doctor before use'),
    parameters: { Name: guess('by analogy with Set-PrnxProperty -Name') },
  },
  'Get-PrnxObjectStats': {
    endpoint: 'fvp',
    ...seen('F9: from-james; FVP 3.1 variant'),
    parameters: {
      ObjectIdentifier: seen('F9'),
      NumberOfSamples: seen('F9'),
      StartTime: seen('F9: FVP 3.1 variant passes -StartTime 0 on 3.1'),
    },
  },
  // ------------------------------------------------------------------------------- Veeam B&R (v11+)
  'Connect-VBRServer': {
    endpoint: 'veeam',
    ...seen('V2: helpcenter connect-vbrserver (13.0.1)'),
    parameters: { Server: seen('V2'), Port: seen('V2'), Credential: seen('V2') },
  },
  'Get-VBRServerSession': {
    endpoint: 'veeam',
    ...seen('V3: helpcenter get-vbrserversession; scripts test (Get-VBRServerSession).Server'),
    parameters: {},
  },
  'Get-VBRJob': { endpoint: 'veeam', ...seen('V4: helpcenter get-vbrjob'), parameters: { Name: seen('V4') } },
  'Get-VBRJobObject': {
    endpoint: 'veeam',
    ...seen('V6: helpcenter get-vbrjobobject (returns the objects added to the job, containers unexpanded)'),
    parameters: { Job: seen('V6') },
  },
  'Find-VBRViEntity': {
    endpoint: 'veeam',
    ...seen(
      'V6: VeeamHub veeamporter.ps1 (-VMsAndTemplates, -DatastoresAndVMs, -Tags per job object type), Get-VMsNotInBackups.ps1 (-VMsAndTemplates, -Tags: Name, Type, Path, Reference); community reports (-HostsAndClusters)',
    ),
    parameters: {
      VMsAndTemplates: seen('V6: veeamporter.ps1, Get-VMsNotInBackups.ps1'),
      HostsAndClusters: guess('V6: community report scripts (VmHostName filter); not in VeeamHub'),
      DatastoresAndVMs: seen('V6: veeamporter.ps1'),
      Tags: seen('V6: veeamporter.ps1, Get-VMsNotInBackups.ps1'),
    },
  },
  'Start-VBRJob': {
    endpoint: 'veeam',
    ...seen('V7: helpcenter start-vbrjob (13.0.2)'),
    parameters: {
      Job: seen('V7'),
      RunAsync: seen('V7'),
      FullBackup: seen('V7'),
      RetryBackup: guess('V7: documented, semantics vague (most likely retries the failed objects only)'),
    },
  },
  'Stop-VBRJob': {
    endpoint: 'veeam',
    ...seen('V8: helpcenter stop-vbrjob'),
    parameters: { Job: seen('V8'), RunAsync: seen('V8'), Confirm: seen('V8: Confirm on by default') },
  },
  'Get-VBRBackupSession': {
    endpoint: 'veeam',
    ...seen('V9: helpcenter get-vbrbackupsession; unfiltered it reads the whole history (veeam-healthcheck #110)'),
    parameters: {
      Id: seen('V9'),
      Job: seen('V9: v13 only (veeam-healthcheck #147)'),
    },
  },
  'Get-VBRTaskSession': {
    endpoint: 'veeam',
    ...seen('V12: helpcenter get-vbrtasksession'),
    parameters: { Session: seen('V12') },
  },
};

/** Parameters every cmdlet takes (PowerShell common parameters): never vendor facts. */
export const COMMON_PARAMETERS = ['ErrorAction', 'WarningAction', 'Verbose', 'Debug', 'ErrorVariable'] as const;

/**
 * Vendor .NET types and methods the module calls directly (`[Type]::Method(...)`), keyed
 * `Type::Method`. Instance methods on vendor objects (`$job.FindLastSession()`) are listed too, for
 * doctor and the reader, though the syntax check cannot type a variable.
 */
export const VENDOR_METHODS: Record<string, Evidenced> = {
  'Veeam.Backup.Core.CBackupSession::GetByJob': seen(
    'V9: VeeamHub veeam-healthcheck ADR 0012 (per-job session lookup without reading the whole history)',
  ),
  'CBackupJob.FindLastSession': seen('V5: VeeamHub BR-Dump-Object/VBRJob.md; RunVBRJob.ps1'),
};

/** A value the interpretation reads raw vendor output with, with its evidence. */
export interface Fact<T> extends Evidenced {
  value: T;
  /** What doctor prints to confirm or contradict it on a real host. */
  doctor: string;
}

const fact = <T>(value: T, status: Status, evidence: string, doctor: string): Fact<T> => ({
  value,
  status,
  evidence,
  doctor,
});

/**
 * The FVP facts (prnxcli). Property names are matched case-insensitively, as PowerShell does
 * (scripts spell them `uuid`/`UUID`, `numWbPeers`/`NumWBPeers`).
 */
export const FVP = {
  moduleName: fact('prnxcli', 'confirmed', 'F1: Import-Module prnxcli', 'Get-Module -Name prnxcli -ListAvailable'),
  /**
   * How Set-PrnxAccelerationPolicy picks its VM: -Name (the most seen) or -UUID (from-james, the 3.1
   * variant). Whether -Name takes wildcards is unknown, so with 'Name' the product refuses a VM whose
   * name holds a wildcard character (activities/fvp.ts): escaping would change the name if the
   * parameter is literal, not escaping could touch other VMs if it is not. 'UUID' has no such limit.
   */
  setPolicyTarget: fact<'Name' | 'UUID'>(
    'Name',
    'unconfirmed',
    'F6: -Name in poulpreben, bdwill master, eschek87; -uuid in from-james and the FVP 3.1 variant',
    '(Get-Command Set-PrnxAccelerationPolicy).Parameters.Keys',
  ),
  vmNameProperty: fact('Name', 'confirmed', 'F4', 'Get-PrnxVM | Select -First 1 | Format-List *'),
  vmUuidProperty: fact('uuid', 'confirmed', 'F4, F5 (equals PowerCLI PersistentId)', 'Get-PrnxVM properties'),
  vmPeersProperty: fact(
    'numWbPeers',
    'unconfirmed',
    'F4: name used by the tested script a703337; whether it holds the configured or the current count is unknown',
    'Get-PrnxVM properties on a write-back VM with 1 peer',
  ),
  vmExternalPeersProperty: fact(
    'numWbExternalPeers',
    'unconfirmed',
    'F4 (may be $null), F7: meaningful only with fault domains (Enterprise)',
    'Get-PrnxVM numWbExternalPeers on this licence',
  ),
  vmFlashClusterProperty: fact(
    'flashCluster',
    'unconfirmed',
    'F4/9a38825 compares it with a cluster name; "empty = not accelerated" is not demonstrated (datastore membership?)',
    'Get-PrnxVM flashCluster of an accelerated and a non-accelerated VM',
  ),
  vmEffectivePolicyProperty: fact(
    'effectivePolicy',
    'confirmed',
    'F4: effectivePolicy -eq "7" selects write-back VMs (a703337, "Tested to be working now")',
    'Get-PrnxVM effectivePolicy of a write-back and a write-through VM',
  ),
  /** effectivePolicy codes with a known meaning; any other code fails closed (it was read as write-through before). */
  effectivePolicyCodes: fact<Record<string, 'WriteBack' | 'WriteThrough'>>(
    { '7': 'WriteBack' },
    'unconfirmed',
    'F4: only "7" (write-back) is seen; no write-through code is evidenced',
    'Get-PrnxVM effectivePolicy of a write-through VM',
  ),
  /** Get-PrnxAccelerationPolicy output texts. WRITE_BACK appears in no public source. */
  policyTexts: fact<Record<string, 'WriteBack' | 'WriteThrough'>>(
    { WRITE_BACK: 'WriteBack', WRITE_THROUGH: 'WriteThrough' },
    'unconfirmed',
    'F8: WRITE_THROUGH only in an assignment inside an if; WRITE_BACK nowhere',
    'Get-PrnxAccelerationPolicy -UUID <u> [-Effective]: type and text, on a write-back and a write-through VM',
  ),
  /** When Get-PrnxAccelerationPolicy writes an object, the properties that may carry the policy text. */
  policyObjectProperties: fact(
    ['Policy', 'AccelerationPolicy', 'WritePolicy', 'Mode'],
    'unconfirmed',
    'F6/F8: scripts assign the result ($CacheMode = ...), its type is never shown',
    'Get-PrnxAccelerationPolicy output GetType().FullName and properties',
  ),
  /** Without -Effective the cmdlet returns the requested (configured) policy. */
  requestedWithoutEffective: fact(
    true,
    'unconfirmed',
    'F8: the call without -Effective is never seen in public code',
    'Get-PrnxAccelerationPolicy -UUID <u> with and without -Effective on a VM that is destaging',
  ),
  timeToDestageProperty: fact(
    'time_to_destage',
    'unconfirmed',
    'F9: only ever read as $t.time_to_destage + 10 (works even when $null); seconds assumed',
    'Get-PrnxObjectStats -ObjectIdentifier <u> -NumberOfSamples 1 [-StartTime 0]: properties and value on a clean VM',
  ),
  /** FVP builds from which Get-PrnxObjectStats needs -StartTime 0 (major, minor). */
  statsStartTimeFrom: fact(
    [3, 1] as [number, number],
    'unconfirmed',
    'F9, F10: the FVP 3.1 variant passes -StartTime 0 when the version is "3.1"',
    'Get-PrnxObjectStats with and without -StartTime 0; (Get-PrnxObject -Type PrnxMServer).buildinfo',
  ),
  statsStartTime: fact(0, 'unconfirmed', 'F9: -StartTime 0 in the FVP 3.1 variant', 'as statsStartTimeFrom'),
  serverBuildProperty: fact('buildinfo', 'confirmed', 'F10', '(Get-PrnxObject -Type PrnxMServer).buildinfo'),
  serverLicenceProperty: fact(
    'licensedFeatures',
    'confirmed',
    'F10',
    '(Get-PrnxObject -Type PrnxMServer).licensedFeatures',
  ),
  /** licensedFeatures matching this allows -NumWBExternalPeers (fault domains: Enterprise). */
  faultDomainFeature: fact(
    /FVP_FEATURE_FAULT_DOMAIN/,
    'unconfirmed',
    'F7: the 3.1 variant gates -NumWBExternalPeers on licensedFeatures -match "FVP_FEATURE_FAULT_DOMAIN"; the Standard branch drops it',
    'licensedFeatures on Standard and Enterprise',
  ),
  /**
   * The HotAdd VADP blacklist of a proxy VM: Set-PrnxProperty <vm> -Name cachePolicy -Value 1, and
   * 3 to add it back (prnx_blacklist.ps1). How a blacklisted proxy reads back is not evidenced: the
   * product assumes the same property on its Get-PrnxVM object.
   */
  vadpBlacklist: fact(
    { property: 'cachePolicy', blacklisted: 1, addBack: 3 },
    'unconfirmed',
    'F11: bdwill/prnx-invalidate-cache prnx_blacklist.ps1 (the write); the read-back is not evidenced; no -Vadp switch anywhere (F12)',
    '(Get-Command Set-PrnxProperty).Parameters.Keys; Get-PrnxVM properties of a blacklisted proxy',
  ),
} as const;

/** The Veeam facts (Veeam.Backup.PowerShell, v11+). */
export const VEEAM = {
  /** Get-VBRJobObject entries: the property telling included from excluded objects, and its value. */
  jobObjectTypeProperty: fact('Type', 'confirmed', 'V6', 'Get-VBRJobObject -Job <j> | Select Name, Type'),
  jobObjectIncludeValue: fact('Include', 'confirmed', 'V6', 'Get-VBRJobObject -Job <j> | Select Name, Type'),
  /**
   * What a job is made of (issue 10 item 1; activities/vendor/containers.ts applies these rows): each
   * Get-VBRJobObject entry's kind (Type), its inventory type (Object.ViType), its vSphere id
   * (Object.ObjectId, a moref). An entry of the VM type is a VM; an entry of a container type is
   * expanded to the VMs under it in the Find-VBRViEntity view that holds that type; the job's
   * exclusions (VMs and containers) are taken out. A type without a row fails the run before
   * anything changes, naming the container: add its VMs to the job one by one, or add a row here.
   */
  jobObjectKinds: fact<Record<string, 'include' | 'exclude' | 'ignore'>>(
    { Include: 'include', Exclude: 'exclude', VssChild: 'ignore', ExcludeDisksChild: 'ignore' },
    'unconfirmed',
    'V6: Include/Exclude filtered by community scripts (confirmed); VssChild and ExcludeDisksChild (per-VM option entries, VeeamHub BR-Dump-Object/VBRJobObject.md IsVssChild, IsExcludeDisksChild) are a guess; any other kind fails closed',
    'Get-VBRJobObject -Job <j> | Select Name, Type, @{n="ViType";e={$_.Object.ViType}} (fvpb doctor: job schedule and objects)',
  ),
  jobObjectViTypeProperty: fact(
    'Object.ViType',
    'confirmed',
    'V6: VeeamHub BR-Dump-Object/VBRJobObject.md (Object.ViType), Get-VMsNotInBackups.ps1 ($_.Object.ViType -eq "VirtualMachine" / "Tag"); FVP 3.1 community variant ($o.object.vitype)',
    'fvpb doctor: job schedule and objects, "name [kind, ViType]"',
  ),
  jobObjectIdProperty: fact(
    'Object.ObjectId',
    'confirmed',
    'V6: VeeamHub BR-Dump-Object/VBRJobObject.md (Object.ObjectId), Get-VMsNotInBackups.ps1 (MoRefID = Object.ObjectID)',
    'Get-VBRJobObject -Job <j> | % { $_.Object.ObjectId }',
  ),
  /** The ViType of a job object that is one VM (processed as it is, never expanded). */
  vmViType: fact(
    'VirtualMachine',
    'confirmed',
    'V6: Get-VMsNotInBackups.ps1 and the FVP 3.1 community variant compare Object.ViType with "VirtualMachine"',
    'fvpb doctor: job schedule and objects',
  ),
  /** Per container ViType, the Find-VBRViEntity view holding it and the VMs under it. No row: not expandable. */
  containerViews: fact<Record<string, InventoryView>>(
    {
      Folder: 'VMsAndTemplates',
      Datacenter: 'HostsAndClusters',
      Cluster: 'HostsAndClusters',
      Host: 'HostsAndClusters',
      ResourcePool: 'HostsAndClusters',
      Datastore: 'DatastoresAndVMs',
      Tag: 'Tags',
    },
    'unconfirmed',
    'V6: veeamporter.ps1 looks folders up in -VMsAndTemplates, datastores in -DatastoresAndVMs, tags in -Tags, hosts/clusters/datacenters without a view; "Tag" and "Cluster" ViType values seen in scripts, the others are a guess; the view of resource pools is a guess',
    'fvpb doctor: the ViType of each job object; Find-VBRViEntity -<view> | ? Reference -eq <its ObjectId>',
  ),
  /** Find-VBRViEntity entities: the properties read, and the Type of a VM entity (compared case-insensitively). */
  viEntityProperties: fact(
    { name: 'Name', type: 'Type', path: 'Path', reference: 'Reference' },
    'confirmed',
    'V6: Get-VMsNotInBackups.ps1 selects Name, Reference, Uuid, Path; veeamporter.ps1 filters on Type',
    'Find-VBRViEntity -VMsAndTemplates | Select -First 3 | Format-List *',
  ),
  viEntityVmType: fact(
    'Vm',
    'confirmed',
    'V6: Get-VMsNotInBackups.ps1 (Type -eq "VM"), Verify-VeeamProtectedVMs.ps1 (Type -eq "Vm"); PowerShell compares case-insensitively, so does the product',
    'Find-VBRViEntity -VMsAndTemplates | Group-Object Type',
  ),
  /**
   * How a VM is "under" a container: the container is the view's entity whose Reference equals the
   * job object's ObjectId, and a VM entity is under it when its Path begins with the container's Path
   * and this separator (vCenter\datacenter\...\name).
   */
  viPathSeparator: fact(
    '\\',
    'unconfirmed',
    'V6: Get-VMsNotInBackups.ps1 splits Path on "\\" (first element: the vCenter); that the Path of a VM extends its container\'s Path, and that Reference equals the job object\'s ObjectId, is not demonstrated',
    'Find-VBRViEntity -<view>: Path and Reference of a container and of a VM in it',
  ),
  /** CBackupJob.IsRunning (not in the cmdlet reference; used by VeeamHub). Absent: the newest session decides. */
  jobIsRunningProperty: fact(
    'IsRunning',
    'confirmed',
    'V5: VeeamHub BR-Dump-Object/VBRJob.md',
    '(Get-VBRJob)[0].IsRunning',
  ),
  /**
   * CBackupJob.IsScheduleEnabled: whether Veeam's scheduler may start the job on its own (issue 10
   * item 7). Read raw by Get-BackupJob and interpreted as enabled / disabled / unknown (absent): a run
   * the worker starts on a scheduled job warns. Advisory only: the fenced start and whenAlreadyRunning
   * carry the safety. Unconfirmed: scripts read it as "the job is enabled" (Disable-VBRJob) and one
   * reads the schedule itself from JobOptions.RunManually; a job with a schedule but "run manually"
   * set may read as enabled here (a warning too many, never one too few).
   */
  jobScheduleEnabledProperty: fact(
    'IsScheduleEnabled',
    'unconfirmed',
    'V5: VeeamHub BR-Dump-Object/VBRJob.md lists $VBRJob.IsScheduleEnabled [System.Boolean]; helpcenter enable-vbrjobschedule / disable-vbrjobschedule (13.0.1) toggle the schedule without naming the property; community scripts read $job.IsScheduleEnabled',
    '(Get-VBRJob -Name <job>).IsScheduleEnabled before and after Disable-VBRJobSchedule -Job <job>',
  ),
  /** Task .Status values with a result; any other status is a task without one yet (None). */
  taskResultByStatus: fact<Record<string, 'Success' | 'Warning' | 'Failed'>>(
    { Success: 'Success', Warning: 'Warning', Failed: 'Failed' },
    'confirmed',
    'V12: helpcenter get-vbrtasksession (Status)',
    'Get-VBRTaskSession -Session <s> | Select Name, Status',
  ),
  /** The properties of sessions (and Name, Status, Progress of task sessions) the product reads. */
  sessionProperties: fact(
    ['Id', 'JobId', 'JobName', 'State', 'Result', 'Progress', 'CreationTime', 'EndTime'],
    'confirmed',
    'V10, V11 (State and Result enums), V12 (tasks)',
    'Get-VBRBackupSession -Id <id> | Format-List *',
  ),
  /** A running session's EndTime is a placeholder (1900-01-01): times before this year are "none". */
  noTimeBeforeYear: fact(1971, 'confirmed', 'V10: EndTime of a running session', "a running session's EndTime"),
  /** Progress: a number, or an object whose Percents is (the module projects both). */
  progressPercentsProperty: fact(
    'Progress.Percents',
    'confirmed',
    'V10: scripts read $s.Progress.Percents; older ones $s.Progress',
    "a running session's Progress",
  ),
  moduleName: fact(
    'Veeam.Backup.PowerShell',
    'confirmed',
    'V1',
    'Get-Module -Name Veeam.Backup.PowerShell -ListAvailable',
  ),
  /**
   * Per-job session lookup by module major version (issue 11 finding 1): the unfiltered
   * Get-VBRBackupSession reads the whole history (9 h 40 min for 9 calls on 42,409 sessions,
   * veeam-healthcheck #110), its -Job filter exists from v13 only (#147). Below v13,
   * $job.FindLastSession() (VeeamHub RunVBRJob.ps1); GetByJob is the documented-by-VeeamHub
   * alternative an admin can put here if doctor shows FindLastSession missing.
   */
  sessionLookup: fact(
    [
      { fromMajor: 13, lookup: 'JobParameter' },
      { fromMajor: 0, lookup: 'FindLastSession' },
    ] as const,
    'unconfirmed',
    'V9 (-Job is v13-only); V5 (FindLastSession on CBackupJob); VeeamHub ADR 0012 (GetByJob)',
    'the time of one per-job lookup, and of one unfiltered Get-VBRBackupSession, on the production server',
  ),
} as const;
