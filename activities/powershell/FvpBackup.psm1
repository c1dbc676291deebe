<#
.SYNOPSIS
    FvpBackup: the PowerShell side of the FVP-protected Veeam backup worker. It calls the PernixData FVP
    (prnxcli) and Veeam B&R cmdlets and returns what they wrote, raw; it decides nothing. The worker reads
    the output, classifies errors and decides in TypeScript: the vendor facts (property names, policy texts
    and codes, version and licence rules) are in activities/vendor/facts.ts, the error rules in
    activities/powershell/errors.ts. Nothing here needs adapting: run `fvpb doctor` (docs/deploying.md).
.DESCRIPTION
    One line per call, Invoke-Op '<Function>' '<base64 of UTF-8 JSON arguments>'; one line of JSON back:
    {"ok":true,"op":..,"result":..} or {"ok":false,"op":..,"error":{"code","message","errorId","exceptions":[{"type","message"}]}}
    (`code`: only on the errors this module raises itself). Windows PowerShell 5.1 (prnxcli) and 7 (Veeam v13).
    Environment, as data: FVPB_ENDPOINT ('fvp' or 'veeam'); FVPB_CRED_USER / FVPB_CRED_PASSWORD (read by
    Connect-Endpoint, then removed; absent: the account PowerShell runs as); FVPB_REMOTE_COMPUTER and
    FVPB_REMOTE_CONFIGURATION (optional): Connect-Endpoint opens a PSSession there (WinRM, same credential),
    loads this module's text into it and runs every later call there (server 'localhost' avoids a second hop).
#>
Set-StrictMode -Off
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'; $WarningPreference = 'SilentlyContinue'
$InformationPreference = 'SilentlyContinue'; $VerbosePreference = 'SilentlyContinue'
# Environment variable names (must match activities/powershell/environment.ts HOST_ENV).
$script:EnvEndpoint = 'FVPB_ENDPOINT'
$script:EnvCredentialUser = 'FVPB_CRED_USER'
$script:EnvCredentialPassword = 'FVPB_CRED_PASSWORD'
$script:EnvRemoteComputer = 'FVPB_REMOTE_COMPUTER'
$script:EnvRemoteConfiguration = 'FVPB_REMOTE_CONFIGURATION'
$script:OperationNames = @('Connect-Endpoint', 'Get-Doctor', 'Get-VmCachePolicy', 'Get-FvpServer', 'Set-VmWriteThrough', 'Restore-VmCachePolicy',
    'Get-FvpVms', 'Get-VmPolicyStats', 'Get-VmFlushState', 'Get-ProxyVadp', 'Set-ProxyVadp', 'Get-VeeamServer', 'Get-BackupJob', 'Get-ViEntities', 'Start-BackupJob', 'Get-BackupSession', 'Find-BackupSession', 'Stop-BackupJob')
# The properties projected from each vendor object (activities/vendor/facts.ts names the same; a test compares them).
# 'A.B' reads property B of property A (Veeam's progress may be an object). A property an object lacks is left out.
$script:Project = @{
    PrnxVm       = @('Name', 'uuid', 'effectivePolicy', 'numWbPeers', 'numWbExternalPeers', 'flashCluster', 'cachePolicy')
    PrnxStats    = @('time_to_destage')
    PrnxServer   = @('buildinfo', 'licensedFeatures')
    VbrJob       = @('Id', 'Name', 'IsRunning', 'IsScheduleEnabled')
    VbrJobObject = @('Name', 'Type', 'Location', 'Object.ViType', 'Object.Name', 'Object.ObjectId')
    VbrSession   = @('Id', 'JobId', 'JobName', 'State', 'Result', 'Progress', 'Progress.Percents', 'CreationTime', 'EndTime')
    VbrTask      = @('Name', 'Status', 'Progress', 'Progress.Percents')
}
$script:ModuleFile = $PSCommandPath; $script:Endpoint = $null; $script:RemoteSession = $null

# UTF-8 without a byte order mark, only where a console exists: in a WinRM session the setter throws
# "The handle is invalid" and would abort loading the module remotely (posh-git #708/#727).
if ($Host.Name -ne 'ServerRemoteHost') {
    try { [Console]::OutputEncoding = New-Object System.Text.UTF8Encoding $false } catch { $null = $_ }
}
# Windows PowerShell 5.1 serialises arrays as {"value":[...],"Count":n} because of this type data.
if ($PSVersionTable.PSVersion.Major -lt 6) { Remove-TypeData -TypeName System.Array -ErrorAction SilentlyContinue }

# ========== THE ENTRY POINT ==========
function Invoke-Op { # The one command the worker sends. Prints exactly one line of JSON on stdout.
    param([string]$Name, [string]$ArgsBase64)
    $json = Invoke-OpJson -Name $Name -EncodedArgs $ArgsBase64
    [Console]::Out.WriteLine($json)
}
function Invoke-OpJson { # Runs an operation and returns its envelope as one line of JSON (also what remoting calls).
    param([string]$Name, [string]$EncodedArgs)
    try {
        if ($script:OperationNames -cnotcontains $Name) { throw (New-OpError 'CommandNotFound' "Invoke-Op: '$Name' is not an operation of FvpBackup") }
        if ($null -ne $script:RemoteSession -and $Name -cne 'Connect-Endpoint') {
            return [string](Invoke-Command -Session $script:RemoteSession -ErrorAction Stop -ScriptBlock { param($n, $a) Invoke-OpJson -Name $n -EncodedArgs $a } -ArgumentList $Name, $EncodedArgs)
        }
        $opArgs = ConvertFrom-OpArgs -EncodedArgs $EncodedArgs
        $command = Get-Item -LiteralPath ('function:' + $Name)
        # Only the function's output is the result; warnings, verbose, information and host output are dropped.
        $result = & $command $opArgs 3>$null 4>$null 5>$null 6>$null
        $envelope = [ordered]@{ ok = $true; op = $Name; result = $result }
    } catch {
        $envelope = [ordered]@{ ok = $false; op = $Name; error = (ConvertTo-ErrorFacts -ErrorRecord $_) }
    }
    try { return (ConvertTo-Json -InputObject $envelope -Depth 10 -Compress) }
    catch {
        $fallback = [ordered]@{ ok = $false; op = $Name; error = [ordered]@{ code = 'SerializationFailed'; message = "ConvertTo-Json failed: $($_.Exception.Message)"; errorId = $null; exceptions = @() } }
        return (ConvertTo-Json -InputObject $fallback -Depth 10 -Compress)
    }
}
function ConvertTo-ErrorFacts { # An error as data: this module's own code (if it raised it), message, FullyQualifiedErrorId, every exception's type and message.
    param($ErrorRecord)
    $code = $null
    $chain = New-Object System.Collections.Generic.List[object]
    for ($e = $ErrorRecord.Exception; $null -ne $e; $e = $e.InnerException) {
        if ($null -eq $code -and $e.Data.Contains('FvpBackup.Code')) { $code = [string]$e.Data['FvpBackup.Code'] }
        $chain.Add([ordered]@{ type = $e.GetType().FullName; message = [string]$e.Message })
    }
    return [ordered]@{ code = $code; message = [string]$ErrorRecord.Exception.Message; errorId = [string]$ErrorRecord.FullyQualifiedErrorId; exceptions = $chain.ToArray() }
}
function New-OpError { # An exception this module raises on purpose, with its code (classified by activities/powershell/errors.ts).
    param([string]$Code, [string]$Message, [Exception]$Inner)
    $exception = New-Object System.InvalidOperationException -ArgumentList $Message, $Inner
    $exception.Data['FvpBackup.Code'] = $Code
    return $exception
}
function ConvertFrom-OpArgs { # base64 -> UTF-8 -> JSON, keeping every string exactly as sent.
    param([string]$EncodedArgs)
    try { $json = [System.Text.Encoding]::UTF8.GetString([System.Convert]::FromBase64String($EncodedArgs)) }
    catch { throw (New-OpError 'InvalidArgument' 'Invoke-Op: the arguments are not base64') }
    $convert = Get-Command -Name ConvertFrom-Json
    # PowerShell 7.5+: keep date-like strings (a VM named "2024-01-01") as strings.
    if ($convert.Parameters.ContainsKey('DateKind')) { return ConvertFrom-Json -InputObject $json -DateKind String }
    if ($PSVersionTable.PSVersion.Major -ge 6) { # 6.0-7.4 turn date-like strings into [datetime]: Newtonsoft, no date handling.
        $settings = New-Object Newtonsoft.Json.JsonSerializerSettings
        $settings.DateParseHandling = [Newtonsoft.Json.DateParseHandling]::None
        $token = [Newtonsoft.Json.JsonConvert]::DeserializeObject($json, [Newtonsoft.Json.Linq.JToken], $settings)
        return ConvertFrom-JToken -Token $token
    }
    # Windows PowerShell 5.1 only converts "\/Date(...)\/" strings, which JSON.stringify never writes.
    return ConvertFrom-Json -InputObject $json
}
function ConvertFrom-JToken {
    param($Token)
    if ($null -eq $Token -or [string]$Token.Type -eq 'Null') { return $null }
    if ([string]$Token.Type -eq 'Object') {
        $properties = [ordered]@{}
        foreach ($property in $Token.Properties()) { $properties[$property.Name] = ConvertFrom-JToken -Token $property.Value }
        return [pscustomobject]$properties
    }
    if ([string]$Token.Type -ne 'Array') { return $Token.Value }
    $items = New-Object System.Collections.Generic.List[object]
    foreach ($item in $Token) { $items.Add((ConvertFrom-JToken -Token $item)) }
    return , $items.ToArray()
}

# ========== HELPERS ==========
function Get-ArgValue { # A property of the decoded arguments; -Required throws InvalidArgument when it is missing.
    param($OpArgs, [string]$Name, [switch]$Required)
    $property = $null
    if ($null -ne $OpArgs) { $property = $OpArgs.PSObject.Properties[$Name] }
    if ($null -ne $property -and $null -ne $property.Value) { return $property.Value }
    if ($Required) { throw (New-OpError 'InvalidArgument' "Invoke-Op: argument '$Name' is missing") }
    return $null
}
function Assert-Connected { if ($null -eq $script:Endpoint) { throw (New-OpError 'NotConnected' 'Not connected: Connect-Endpoint has not succeeded in this session') } }
function ConvertTo-Raw { # A vendor value as data: scalars as they are (dates ISO UTC, enums and GUIDs as text), objects as @type + listed properties (all if no list), nested objects as text.
    param($Value, $Properties)
    if ($null -eq $Value) { return $null }
    if ($Value -is [datetime]) { return $Value.ToUniversalTime().ToString('o') }
    if ($Value -is [enum] -or $Value -is [guid] -or $Value -is [char]) { return [string]$Value }
    if ($Value -is [string] -or $Value -is [bool] -or $Value -is [ValueType]) { return $Value }
    $raw = [ordered]@{ '@type' = $Value.GetType().FullName }
    $names = $Properties
    if ($null -eq $names) { $names = @($Value.PSObject.Properties | ForEach-Object { $_.Name }) }
    foreach ($name in $names) {
        $owner = $Value; $leaf = $name
        $dot = $name.IndexOf('.')
        if ($null -ne $Properties -and $dot -gt 0) {
            $owner = $Value.PSObject.Properties[$name.Substring(0, $dot)]
            if ($null -ne $owner) { $owner = $owner.Value }
            $leaf = $name.Substring($dot + 1)
        }
        if ($null -eq $owner -or $owner -is [ValueType] -or $owner -is [string]) { continue }
        $property = $owner.PSObject.Properties[$leaf]
        if ($null -eq $property) { continue }
        $item = $property.Value
        if ($null -eq $item -or $item -is [string] -or $item -is [ValueType]) { $raw[$name] = ConvertTo-Raw -Value $item -Properties $null }
        else { $raw[$name] = [string]$item }
    }
    return $raw
}
function ConvertTo-RawList {
    param($Values, $Properties)
    $list = New-Object System.Collections.Generic.List[object]
    foreach ($item in @($Values)) { if ($null -ne $item) { $list.Add((ConvertTo-Raw -Value $item -Properties $Properties)) } }
    return , $list.ToArray()
}
function Invoke-RawCall { # Runs one vendor call: every object it wrote as raw data, or its error as data (TypeScript decides what either means).
    param([scriptblock]$Call, $Properties)
    try { return [ordered]@{ ok = $true; values = (ConvertTo-RawList -Values @(& $Call) -Properties $Properties) } }
    catch { return [ordered]@{ ok = $false; type = $_.Exception.GetType().FullName; message = [string]$_.Exception.Message } }
}

# ========== SESSION ==========
function Connect-Endpoint { # args: { server, port?, module } (module: the vendor module TypeScript names). Loads it and connects; see "Remoting".
    param($OpArgs)
    $server = [string](Get-ArgValue $OpArgs 'server' -Required)
    $port = Get-ArgValue $OpArgs 'port'
    $module = [string](Get-ArgValue $OpArgs 'module' -Required)
    $endpoint = [Environment]::GetEnvironmentVariable($script:EnvEndpoint, 'Process')
    if ($endpoint -cne 'fvp' -and $endpoint -cne 'veeam') { throw (New-OpError 'InvalidArgument' "$($script:EnvEndpoint) must be 'fvp' or 'veeam'") }
    $user = [Environment]::GetEnvironmentVariable($script:EnvCredentialUser, 'Process'); $password = [Environment]::GetEnvironmentVariable($script:EnvCredentialPassword, 'Process')
    [Environment]::SetEnvironmentVariable($script:EnvCredentialUser, $null, 'Process'); [Environment]::SetEnvironmentVariable($script:EnvCredentialPassword, $null, 'Process')
    $credential = $null
    $secure = New-Object System.Security.SecureString
    foreach ($character in ([string]$password).ToCharArray()) { $secure.AppendChar($character) }
    if (-not [string]::IsNullOrEmpty($user)) { $credential = New-Object System.Management.Automation.PSCredential -ArgumentList $user, $secure }
    $remoteComputer = [Environment]::GetEnvironmentVariable($script:EnvRemoteComputer, 'Process')
    if ([string]::IsNullOrEmpty($remoteComputer)) {
        Connect-Vendor -Endpoint $endpoint -Module $module -Server $server -Port $port -Credential $credential
    } else {
        $options = @{ ComputerName = $remoteComputer; ErrorAction = 'Stop' }
        if ($null -ne $credential) { $options.Credential = $credential }
        $configuration = [Environment]::GetEnvironmentVariable($script:EnvRemoteConfiguration, 'Process')
        if (-not [string]::IsNullOrEmpty($configuration)) { $options.ConfigurationName = $configuration }
        $session = New-PSSession @options
        $moduleText = [System.IO.File]::ReadAllText($script:ModuleFile, [System.Text.Encoding]::UTF8)
        Invoke-Command -Session $session -ErrorAction Stop -ScriptBlock {
            param($text, $e, $m, $s, $p, $c)
            New-Module -Name 'FvpBackup' -ScriptBlock ([ScriptBlock]::Create($text)) | Import-Module -Global -DisableNameChecking
            Connect-Vendor -Endpoint $e -Module $m -Server $s -Port $p -Credential $c
        } -ArgumentList $moduleText, $endpoint, $module, $server, $port, $credential | Out-Null
        $script:RemoteSession = $session
        $script:Endpoint = $endpoint
    }
    return [ordered]@{ connected = $true }
}
function Connect-Vendor { # Imports the vendor module and connects to its server (runs remotely when remoting).
    param([string]$Endpoint, [string]$Module, [string]$Server, $Port, $Credential)
    Import-Module -Name $Module -DisableNameChecking -ErrorAction Stop | Out-Null
    if ($Endpoint -ceq 'fvp') {
        $prnx = @{ NameOrIPAddress = $Server; ErrorAction = 'Stop' }
        if ($null -ne $Credential) { $prnx.Credentials = $Credential }
        $null = Connect-PrnxServer @prnx
    } else {
        $vbr = @{ Server = $Server; ErrorAction = 'Stop' }
        if ($null -ne $Port) { $vbr.Port = [int]$Port }
        if ($null -ne $Credential) { $vbr.Credential = $Credential }
        $null = Connect-VBRServer @vbr
    }
    $script:Endpoint = $Endpoint
}

# ========== FVP ==========
function Read-FvpVm { # Every Get-PrnxVM object named exactly $Name (names may hold any character), raw, with its policy (and stats) outputs.
    param([string]$Name, [bool]$Stats, $StartTime)
    Assert-Connected
    $found = New-Object System.Collections.Generic.List[object]
    foreach ($vm in @(Get-PrnxVM -ErrorAction Stop)) {
        if ($null -eq $vm.PSObject.Properties['Name'] -or [string]$vm.PSObject.Properties['Name'].Value -cne $Name) { continue }
        $entry = [ordered]@{ vm = (ConvertTo-Raw -Value $vm -Properties $script:Project.PrnxVm); requested = $null; effective = $null; stats = $null }
        $uuid = [string]$vm.PSObject.Properties['uuid'].Value
        if (-not [string]::IsNullOrEmpty($uuid)) { foreach ($pair in (Read-PrnxDetail -Uuid $uuid -Stats $Stats -StartTime $StartTime).GetEnumerator()) { $entry[$pair.Key] = $pair.Value } }
        $found.Add($entry)
    }
    return [ordered]@{ matches = $found.ToArray() }
}
function Read-PrnxDetail { # One VM's Get-PrnxAccelerationPolicy outputs (requested, -Effective) and, with -Stats, Get-PrnxObjectStats, raw.
    param([string]$Uuid, [bool]$Stats, $StartTime)
    $detail = [ordered]@{ requested = (Invoke-RawCall -Properties $null -Call { Get-PrnxAccelerationPolicy -UUID $Uuid -ErrorAction Stop }) }
    $detail.effective = Invoke-RawCall -Properties $null -Call { Get-PrnxAccelerationPolicy -UUID $Uuid -Effective -ErrorAction Stop }
    if (-not $Stats) { return $detail }
    $detail.stats = Invoke-RawCall -Properties $script:Project.PrnxStats -Call {
        if ($null -eq $StartTime) { Get-PrnxObjectStats -ObjectIdentifier $Uuid -NumberOfSamples 1 -ErrorAction Stop }
        else { Get-PrnxObjectStats -ObjectIdentifier $Uuid -StartTime ([long]$StartTime) -NumberOfSamples 1 -ErrorAction Stop }
    }
    return $detail
}
# One-line operations take their arguments as $args[0] (Invoke-OpJson passes them positionally).
# { vm } -> { matches: [ RawFvpVm ] }; Get-VmFlushState adds the statistics (-StartTime when TypeScript's version rule says so).
function Get-VmCachePolicy { Read-FvpVm -Name ([string](Get-ArgValue $args[0] 'vm' -Required)) -Stats $false -StartTime $null }
function Get-ProxyVadp { Read-FvpVm -Name ([string](Get-ArgValue $args[0] 'vm' -Required)) -Stats $false -StartTime $null }
function Get-VmFlushState { Read-FvpVm -Name ([string](Get-ArgValue $args[0] 'vm' -Required)) -Stats $true -StartTime (Get-ArgValue $args[0] 'startTime') }
# A poll round (issue 12): one raw listing of every VM, then per VM by uuid its policy and statistics outputs.
function Get-FvpVms { Assert-Connected; [ordered]@{ vms = (ConvertTo-RawList -Values @(Get-PrnxVM -ErrorAction Stop) -Properties $script:Project.PrnxVm) } }
function Get-VmPolicyStats { Assert-Connected; Read-PrnxDetail -Uuid ([string](Get-ArgValue $args[0] 'uuid' -Required)) -Stats $true -StartTime (Get-ArgValue $args[0] 'startTime') }
function Get-FvpServer { # args: {} -> { servers: [raw Get-PrnxObject -Type PrnxMServer] }.
    param($OpArgs)
    Assert-Connected
    return [ordered]@{ servers = (ConvertTo-RawList -Values @(Get-PrnxObject -Type PrnxMServer -ErrorAction Stop) -Properties $script:Project.PrnxServer) }
}
function Set-FvpPolicy { # The one write: Set-PrnxAccelerationPolicy with what TypeScript chose; the VM by -UUID when args.uuid is given, else -Name args.vm.
    param($OpArgs, [string]$Mode, $Peers, $ExternalPeers)
    Assert-Connected
    $params = @{ ErrorAction = 'Stop' }
    $uuid = Get-ArgValue $OpArgs 'uuid'
    if ($null -ne $uuid) { $params.UUID = [string]$uuid } else { $params.Name = [string](Get-ArgValue $OpArgs 'vm' -Required) }
    if ($Mode -ceq 'WriteThrough') { $params.WriteThrough = $true }
    elseif ($Mode -ceq 'WriteBack') { $params.WriteBack = $true; $params.NumWBPeers = [int]$Peers }
    else { throw (New-OpError 'InvalidArgument' "Invoke-Op: mode '$Mode' is neither WriteThrough nor WriteBack") }
    if ($null -ne $ExternalPeers) { $params.NumWBExternalPeers = [int]$ExternalPeers }
    if ($null -ne (Get-ArgValue $OpArgs 'waitTimeSeconds')) { $params.WaitTimeSeconds = [int](Get-ArgValue $OpArgs 'waitTimeSeconds') }
    $null = Set-PrnxAccelerationPolicy @params
    return [ordered]@{ sent = $true }
}
# args: { vm, uuid?, waitTimeSeconds? } and { vm, uuid?, policy: { mode, peers, externalPeers } }: two names for the one write (the lab tells a switch from a restore by them).
function Set-VmWriteThrough { Set-FvpPolicy $args[0] 'WriteThrough' $null $null }
function Restore-VmCachePolicy { $policy = Get-ArgValue $args[0] 'policy' -Required; Set-FvpPolicy $args[0] ([string]$policy.mode) $policy.peers $policy.externalPeers }
function Set-ProxyVadp { # args: { vm, property, value } -> { vm, sent }: Set-PrnxProperty <vm> -Name <property> -Value <value> (prnx_blacklist.ps1).
    param($OpArgs)
    Assert-Connected
    $name = [string](Get-ArgValue $OpArgs 'vm' -Required)
    $null = Set-PrnxProperty $name -Name ([string](Get-ArgValue $OpArgs 'property' -Required)) -Value ([int](Get-ArgValue $OpArgs 'value' -Required)) -ErrorAction Stop
    return [ordered]@{ vm = $name; sent = $true }
}

# ========== VEEAM ==========
function Resolve-VeeamJob { # The job named exactly $Name: filtered here, since -Name takes wildcards and job names may contain [ ] * ?.
    param([string]$Name)
    Assert-Connected
    $found = @(Get-VBRJob -ErrorAction Stop | Where-Object { [string]$_.Name -ceq $Name })
    if ($found.Count -eq 0) { throw (New-OpError 'JobNotFound' "Veeam job '$Name' was not found") }
    if ($found.Count -gt 1) { throw (New-OpError 'JobAmbiguous' "$($found.Count) Veeam jobs are named '$Name'") }
    return $found[0]
}
function Get-JobSessions { # The job's sessions by the per-job lookup TypeScript chose by Veeam version: never the unfiltered Get-VBRBackupSession (veeam-healthcheck #110).
    param($Job, [string]$Lookup)
    if ($Lookup -ceq 'FindLastSession') { return @($Job.FindLastSession() | Where-Object { $null -ne $_ }) }
    if ($Lookup -ceq 'GetByJob') { return @([Veeam.Backup.Core.CBackupSession]::GetByJob($Job.Id) | Where-Object { $null -ne $_ }) }
    if ($Lookup -ceq 'JobParameter') { return @(Get-VBRBackupSession -Job $Job -ErrorAction Stop) }
    throw (New-OpError 'InvalidArgument' "Invoke-Op: session lookup '$Lookup' is not FindLastSession, GetByJob or JobParameter")
}
function ConvertTo-RawSession {
    param($Session)
    $tasks = ConvertTo-RawList -Values @(Get-VBRTaskSession -Session $Session -ErrorAction Stop) -Properties $script:Project.VbrTask
    return [ordered]@{ session = (ConvertTo-Raw -Value $Session -Properties $script:Project.VbrSession); tasks = $tasks }
}
function Get-VeeamServer { # args: { module } -> { modules: [raw module: Name, Version] }: TypeScript picks the session lookup by version.
    param($OpArgs)
    Assert-Connected
    return [ordered]@{ modules = (ConvertTo-RawList -Values @(Get-Module -Name ([string](Get-ArgValue $OpArgs 'module' -Required))) -Properties @('Name', 'Version')) }
}
function Get-BackupJob { # args: { job } -> { job: raw (Id, Name, IsRunning, IsScheduleEnabled), objects: [raw Get-VBRJobObject entries] } (containers unexpanded: see Get-ViEntities).
    param($OpArgs)
    $job = Resolve-VeeamJob -Name ([string](Get-ArgValue $OpArgs 'job' -Required))
    $objects = ConvertTo-RawList -Values @(Get-VBRJobObject -Job $job -ErrorAction Stop) -Properties $script:Project.VbrJobObject
    return [ordered]@{ job = (ConvertTo-Raw -Value $job -Properties $script:Project.VbrJob); objects = $objects }
}
function Get-ViEntities { # args: { view } -> { entities: [raw Find-VBRViEntity -<view>: Name, Type, Path, Reference] }: TypeScript expands a job's containers with them.
    $view = [string](Get-ArgValue $args[0] 'view' -Required); Assert-Connected; $calls = @{ 'VMsAndTemplates' = { Find-VBRViEntity -VMsAndTemplates -ErrorAction Stop }; 'HostsAndClusters' = { Find-VBRViEntity -HostsAndClusters -ErrorAction Stop }; 'DatastoresAndVMs' = { Find-VBRViEntity -DatastoresAndVMs -ErrorAction Stop }; 'Tags' = { Find-VBRViEntity -Tags -ErrorAction Stop } }; if (-not $calls.ContainsKey($view)) { throw (New-OpError 'InvalidArgument' "Invoke-Op: '$view' is not an inventory view") }; [ordered]@{ entities = (ConvertTo-RawList -Values @(& $calls[$view]) -Properties @('Name', 'Type', 'Path', 'Reference')) } }
function Find-BackupSession { # args: { job, lookup } -> { sessions: [raw session] }: the job's sessions as the lookup returns them (no tasks).
    param($OpArgs)
    $job = Resolve-VeeamJob -Name ([string](Get-ArgValue $OpArgs 'job' -Required))
    $sessions = Get-JobSessions -Job $job -Lookup ([string](Get-ArgValue $OpArgs 'lookup' -Required))
    return [ordered]@{ sessions = (ConvertTo-RawList -Values $sessions -Properties $script:Project.VbrSession) }
}
function Get-BackupSession { # args: { sessionId } -> { matches: [ { session, tasks } ] } (Get-VBRBackupSession -Id may write several).
    param($OpArgs)
    Assert-Connected
    $id = [string](Get-ArgValue $OpArgs 'sessionId' -Required)
    $guid = [guid]::Empty
    if (-not [guid]::TryParse($id, [ref]$guid)) { throw (New-OpError 'InvalidArgument' "session id '$id' is not a GUID") }
    $found = New-Object System.Collections.Generic.List[object]
    foreach ($session in @(Get-VBRBackupSession -Id $guid -ErrorAction Stop)) { if ($null -ne $session) { $found.Add((ConvertTo-RawSession -Session $session)) } }
    return [ordered]@{ matches = $found.ToArray() }
}
function Start-BackupJob {
    # args: { job, fullBackup, retryBackup, fence?, lookup } -> { before: [ids of the sessions the lookup listed before the start] }.
    # Refuses FenceMoved (newest session is not the fence) or JobAlreadyRunning (IsRunning not $false), else starts once.
    # The check and the start are one call on purpose: checked from TypeScript, a whole invocation would pass between them,
    # a window in which anybody could start the job. Which session is ours, and waiting for it, is activities/veeam.ts's.
    param($OpArgs)
    $name = [string](Get-ArgValue $OpArgs 'job' -Required)
    $job = Resolve-VeeamJob -Name $name
    $sessions = @(Get-JobSessions -Job $job -Lookup ([string](Get-ArgValue $OpArgs 'lookup' -Required)))
    if ($null -ne $OpArgs.PSObject.Properties['fence']) {
        $fence = [string](Get-ArgValue $OpArgs 'fence')
        $newestId = [string](@($sessions | Sort-Object -Property CreationTime -Descending) | Select-Object -First 1).Id
        if ($newestId -ne $fence) { throw (New-OpError 'FenceMoved' "Veeam job '$name': the newest session is '$newestId', not the fence '$fence': somebody started the job since; nothing was started") }
    }
    if ($null -eq $job.PSObject.Properties['IsRunning']) { throw (New-OpError 'VendorMismatch' "Veeam job '$name' has no IsRunning property: nothing was started") }
    if ($job.PSObject.Properties['IsRunning'].Value -ne $false) { throw (New-OpError 'JobAlreadyRunning' "Veeam job '$name' is already running") }
    $before = @($sessions | ForEach-Object { [string]$_.Id })
    $start = @{ Job = $job; RunAsync = $true; ErrorAction = 'Stop' }
    if ([bool](Get-ArgValue $OpArgs 'fullBackup')) { $start.FullBackup = $true }
    if ([bool](Get-ArgValue $OpArgs 'retryBackup')) { $start.RetryBackup = $true }
    try { $null = Start-VBRJob @start }
    catch { throw (New-OpError 'JobStartFailed' "Start-VBRJob for Veeam job '$name' failed, it may have started: $($_.Exception.Message)" $_.Exception) }
    return [ordered]@{ before = $before }
}
function Stop-BackupJob { # args: { job } -> { job, stopRequested: true }. Stop-VBRJob asks for confirmation unless told not to.
    param($OpArgs)
    $job = Resolve-VeeamJob -Name ([string](Get-ArgValue $OpArgs 'job' -Required))
    $null = Stop-VBRJob -Job $job -RunAsync -Confirm:$false -ErrorAction Stop
    return [ordered]@{ job = [string]$job.Name; stopRequested = $true }
}

# ========== DOCTOR: raw observations only; activities/vendor/doctor-report.ts judges them ==========
function Get-Doctor { # args: { module, commands } -> raw: the host, the vendor module, each command's parameter names, a probe per unconfirmed vendor fact.
    param($OpArgs)
    $endpoint = [Environment]::GetEnvironmentVariable($script:EnvEndpoint, 'Process')
    $moduleName = [string](Get-ArgValue $OpArgs 'module' -Required)
    $module = Invoke-RawCall -Properties @('Name', 'Version') -Call { $m = Get-Module -Name $moduleName; if ($null -eq $m) { $m = Import-Module -Name $moduleName -DisableNameChecking -PassThru -ErrorAction Stop }; $m }
    $commands = New-Object System.Collections.Generic.List[object]
    foreach ($name in @(Get-ArgValue $OpArgs 'commands')) {
        $command = Get-Command -Name ([string]$name) -ErrorAction SilentlyContinue
        $commands.Add([ordered]@{ name = [string]$name; parameters = $(if ($null -ne $command) { , @($command.Parameters.Keys) } else { $null }) })
    }
    $probes = New-Object System.Collections.Generic.List[object]
    if ($null -ne $script:Endpoint) {
        $probes.Add([ordered]@{ probe = 'host'; subject = $null; result = (Invoke-RawCall -Properties @('Name', 'Version') -Call { $Host }) })
        if ($endpoint -ceq 'fvp') { Add-FvpProbes -Probes $probes } else { Add-VeeamProbes -Probes $probes }
    }
    return [ordered]@{ endpoint = $endpoint; psEdition = [string]$PSVersionTable.PSEdition; psVersion = [string]$PSVersionTable.PSVersion
        connected = ($null -ne $script:Endpoint); module = $module; commands = $commands.ToArray(); observations = $probes.ToArray() }
}
function Add-Probe {
    param($Probes, [string]$Probe, $Subject, [scriptblock]$Call)
    $Probes.Add([ordered]@{ probe = $Probe; subject = $Subject; result = (Invoke-RawCall -Properties $null -Call $Call) })
}
function Add-FvpProbes {
    param($Probes)
    Add-Probe $Probes 'Get-PrnxObject -Type PrnxMServer' $null { Get-PrnxObject -Type PrnxMServer -ErrorAction Stop }
    # The probes' subject: the first VM in a flash cluster (none, or no listing: those rows stay not checked).
    $vm = $null
    try { $vm = @(Get-PrnxVM -ErrorAction Stop | Where-Object { -not [string]::IsNullOrEmpty([string]$_.flashCluster) }) | Select-Object -First 1 } catch { $null = $_ }
    if ($null -eq $vm) { return }
    $uuid = [string]$vm.uuid
    Add-Probe $Probes 'Get-PrnxVM (first accelerated)' ([string]$vm.Name) { $vm }
    Add-Probe $Probes 'Get-PrnxAccelerationPolicy -UUID' ([string]$vm.Name) { Get-PrnxAccelerationPolicy -UUID $uuid -ErrorAction Stop }
    Add-Probe $Probes 'Get-PrnxAccelerationPolicy -UUID -Effective' ([string]$vm.Name) { Get-PrnxAccelerationPolicy -UUID $uuid -Effective -ErrorAction Stop }
    Add-Probe $Probes 'Get-PrnxObjectStats -NumberOfSamples 1' ([string]$vm.Name) { Get-PrnxObjectStats -ObjectIdentifier $uuid -NumberOfSamples 1 -ErrorAction Stop }
    Add-Probe $Probes 'Get-PrnxObjectStats -StartTime 0 -NumberOfSamples 1' ([string]$vm.Name) { Get-PrnxObjectStats -ObjectIdentifier $uuid -StartTime 0 -NumberOfSamples 1 -ErrorAction Stop }
}
function Add-VeeamProbes {
    param($Probes)
    Add-Probe $Probes 'Get-VBRServerSession' $null { Get-VBRServerSession -ErrorAction Stop }
    $jobs = @(); try { $jobs = @(Get-VBRJob -ErrorAction Stop) } catch { $null = $_ }
    foreach ($job in $jobs) {
        Add-Probe $Probes 'job schedule and objects' ([string]$job.Name) {
            [pscustomobject]@{ IsScheduleEnabled = $job.IsScheduleEnabled; Objects = ((@(Get-VBRJobObject -Job $job -ErrorAction Stop) | ForEach-Object { "$($_.Name) [$($_.Type), $($_.Object.ViType)]" }) -join '; ') }
        }
    }
    foreach ($lookup in @('FindLastSession', 'GetByJob', 'JobParameter')) {
        if ($jobs.Count -eq 0) { break }
        Add-Probe $Probes "session lookup $lookup" ([string]$jobs[0].Name) {
            $watch = [System.Diagnostics.Stopwatch]::StartNew(); $count = @(Get-JobSessions -Job $jobs[0] -Lookup $lookup).Count
            [pscustomobject]@{ Milliseconds = $watch.ElapsedMilliseconds; Sessions = $count }
        }
    }
}

Export-ModuleMember -Function (@('Invoke-Op', 'Invoke-OpJson', 'Connect-Vendor') + $script:OperationNames)
