<#
.SYNOPSIS
  The pre-job and post-job script of one Veeam job (job settings: Storage, Advanced, Scripts) for
  jobs that Veeam's own scheduler starts: runs `fvpb hook pre-job|post-job --job <Job>`.

.DESCRIPTION
  Veeam gives a job script no argument about its job, so the job's name is passed explicitly
  (-Job). The pre-job hook exits 0 only once every VM of the job is in write-through with its
  flush verified; any other exit code means "not protected: the job must not run". The post-job
  hook tells the run that Veeam is done (the run releases on its own otherwise).

  Values reach fvpb as separate arguments (PowerShell's call operator with an array), never
  through a command string. What fvpb printed goes to the job's log (stdout) and to a log file.

.EXAMPLE
  Pre-job:  C:\fvpb\veeam-hook.ps1 -Hook pre-job -Job Nightly-SQL -InputFile C:\ProgramData\fvpb\Nightly-SQL.json
  Post-job: C:\fvpb\veeam-hook.ps1 -Hook post-job -Job Nightly-SQL
#>
[CmdletBinding()]
param(
  [Parameter(Mandatory = $true)]
  [ValidateSet('pre-job', 'post-job')]
  [string] $Hook,

  # The Veeam job's exact name, as in the console.
  [Parameter(Mandatory = $true)]
  [ValidateLength(1, 962)]
  [string] $Job,

  # The run input (JSON or YAML): flush deadline, timeouts, veeamStarted settings. Pre-job only.
  [string] $InputFile,

  # How long the pre-job hook may wait for the flush before it fails (keep it below Veeam's script timeout).
  [string] $Timeout = '9 minutes',

  # The fvpb CLI (npm install -g: fvpb.cmd on the PATH of the Veeam Backup Service account).
  [string] $Fvpb = 'fvpb.cmd',

  # Temporal's address and the worker's task queue, unless the account's environment or profile has them.
  [string] $Address,
  [string] $TaskQueue,

  [string] $LogDir = (Join-Path $env:ProgramData 'fvpb\hook-logs')
)

$ErrorActionPreference = 'Stop'
$code = 1 # fail closed: anything that goes wrong before fvpb answers is "not protected"
try {
  $arguments = @('hook', $Hook, '--job', $Job)
  if ($Hook -eq 'pre-job') {
    $arguments += @('--timeout', $Timeout)
    if ($InputFile) { $arguments += @('--input', $InputFile) }
  }
  if ($Address) { $arguments += @('--address', $Address) }
  if ($TaskQueue) { $arguments += @('--task-queue', $TaskQueue) }

  New-Item -ItemType Directory -Force -Path $LogDir | Out-Null
  $log = Join-Path $LogDir ('{0}-{1}-{2}.log' -f $Hook, (Get-Date -Format 'yyyyMMdd-HHmmss'), $PID)
  "fvpb $Hook for job [$Job] as $([Environment]::UserDomainName)\$([Environment]::UserName)" | Out-File -FilePath $log -Encoding utf8

  # The native command's output (stdout and stderr) to the job's log and the file; its exit code is
  # ours. 'Continue' around it: in Windows PowerShell 5.1, with 'Stop', the first line a native
  # command writes to stderr under 2>&1 becomes a terminating error, and its exit code is lost.
  $ErrorActionPreference = 'Continue'
  & $Fvpb @arguments 2>&1 | ForEach-Object { "$_" } | Tee-Object -FilePath $log -Append
  if ($null -ne $LASTEXITCODE) { $code = $LASTEXITCODE }
} catch {
  Write-Output "fvpb $Hook for job [$Job] failed to run: $($_.Exception.Message)"
  $code = 1
}
exit $code
