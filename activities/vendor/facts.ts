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

export type Status = 'confirmed' | 'unconfirmed';

export interface Evidenced {
  /** Where the fact comes from (ids of shared/reference/vendor-evidence.md, links). */
  evidence: string;
  status: Status;
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
      Vadp: guess(
        'F12: NO public evidence at all (the only blacklist call seen is Set-PrnxProperty, F11); doctor checks it',
      ),
    },
  },
  'Set-PrnxProperty': {
    endpoint: 'fvp',
    ...seen('F11: bdwill/prnx-invalidate-cache prnx_blacklist.ps1, Set-PrnxProperty <vm> -Name cachePolicy -Value 1|3'),
    parameters: { Name: seen('F11'), Value: seen('F11') },
  },
  'Get-PrnxProperty': {
    endpoint: 'fvp',
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
