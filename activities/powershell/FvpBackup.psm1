<#
.SYNOPSIS
    FvpBackup: the PowerShell side of the FVP-protected Veeam backup worker.

.DESCRIPTION
    One function per operation of activities/powershell/operations.ts. The worker never sends
    PowerShell code with values in it: it sends one line per call,

        Invoke-Op '<Function>' '<base64 of UTF-8 JSON arguments>'

    and Invoke-Op decodes the arguments, checks the name against the allow-list below, runs the
    function and prints exactly ONE line of JSON:

        {"ok":true,"op":"<Function>","result":{...}}
        {"ok":false,"op":"<Function>","error":{"type":"...","message":"...","category":"..."}}

    category is one of transient | permanent | already-running | not-connected (Get-ErrorCategory),
    or one this module raises itself: policy-changed | fence-moved (a conditional write or start
    refused: someone else acted, nothing was changed) | start-unknown (Start-VBRJob was sent and
    something failed after it: the job may be running).

    Compatible with Windows PowerShell 5.1 (FVP's prnxcli needs it) and PowerShell 7 (Veeam v13).

    Session start (the worker sends this once per process, as one line):
        [Console]::OutputEncoding = New-Object System.Text.UTF8Encoding $false;
        Import-Module -Name (<path decoded from base64>) -DisableNameChecking -ErrorAction Stop;
        Invoke-Op 'Connect-Endpoint' '<base64 {"server":"...","port":...}>'
    The process environment carries, as data:
        FVPB_ENDPOINT              'fvp' or 'veeam': which vendor module to load
        FVPB_CRED_USER / FVPB_CRED_PASSWORD
                                   read by Connect-Endpoint, then removed from the environment;
                                   absent: connect as the account PowerShell runs as
        FVPB_REMOTE_COMPUTER       optional, see "Remoting"
        FVPB_REMOTE_CONFIGURATION  optional remoting endpoint name (e.g. PowerShell.7)

    Remoting: when FVPB_REMOTE_COMPUTER is set, Connect-Endpoint opens a PSSession to that computer
    (New-PSSession, same credential), loads the text of this very module into it (New-Module, so
    nothing has to be installed there but the vendor cmdlets), and connects to the vendor server
    from there. Every later Invoke-Op runs Invoke-OpJson in that session and prints what it
    returns, so the wire protocol is unchanged. Requirements on the remote computer: WinRM enabled
    (Enable-PSRemoting), the account allowed to use it, and the vendor module installed. The
    vendor server is normally that same computer (server 'localhost' avoids the second hop; a
    different server needs CredSSP or resource-based Kerberos delegation).

    ADAPTING TO YOUR VERSIONS: the vendor facts this module depends on but which could not be
    confirmed from vendor documentation are all in section 1 below, and error classification is
    in Get-ErrorCategory (section 2). Run the Get-Doctor operation on a real host to check them.
#>

Set-StrictMode -Off
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$WarningPreference = 'SilentlyContinue'
$InformationPreference = 'SilentlyContinue'
$VerbosePreference = 'SilentlyContinue'

# =====================================================================================================
# 1. VENDOR FACTS — UNCONFIRMED. Every name below comes from community scripts or blog posts, not from
#    vendor documentation (see the shared DOMAIN.md / reference). Change them here, and only here, when
#    Get-Doctor or your own checks on a real host show otherwise.
# =====================================================================================================
$script:Fvp = @{
    Module                      = 'prnxcli'
    # Get-PrnxVM object properties.
    VmNameProperty              = 'Name'
    VmUuidProperty              = 'uuid'
    VmEffectivePolicyProperty   = 'effectivePolicy'
    VmPeersProperty             = 'numWbPeers'
    VmExternalPeersProperty     = 'numWbExternalPeers'
    # A VM that is not in an FVP cluster has no flash cluster (empty/null): not accelerated.
    VmFlashClusterProperty      = 'flashCluster'
    # Get-PrnxVM .effectivePolicy code that means write-back (scripts treat "7" as write-back).
    EffectivePolicyWriteBack    = '7'
    # Get-PrnxAccelerationPolicy -UUID <id> [-Effective] prints one of these texts. Assumed: without
    # -Effective it returns the REQUESTED (configured) policy, with -Effective what FVP does now.
    PolicyTextWriteBack         = 'WRITE_BACK'
    PolicyTextWriteThrough      = 'WRITE_THROUGH'
    # Set-PrnxAccelerationPolicy picks its VM by this parameter: 'Name' (seen most) or 'UUID' (also
    # seen; immune to wildcard characters in VM names, prefer it if your version has it).
    SetPolicyTarget             = 'Name'
    # A cheap call that fails when the management server is down (Get-Doctor's reachability check).
    PingCommand                 = 'Get-PrnxVM'
}

$script:Veeam = @{
    Module                      = 'Veeam.Backup.PowerShell'
    # Get-VBRJobObject entries: which property tells included from excluded objects, and its value.
    JobObjectTypeProperty       = 'Type'
    JobObjectIncludeValue       = 'Include'
    # CBackupJob exposes IsRunning (used by community scripts; not in the cmdlet reference).
    # Assumed, unconfirmed: IsRunning is true from the moment Start-VBRJob -RunAsync returns, before
    # the session shows in Get-VBRBackupSession. After an uncertain start the worker waits for a
    # session while the job is running, and concludes "nothing started" only once the job has stayed
    # idle, with no session newer than its fence, for a settle window (at least 2 s, 10 poll intervals).
    JobIsRunningProperty        = 'IsRunning'
    # How long Start-BackupJob looks for the session Start-VBRJob -RunAsync created (its return type
    # is undocumented, so the module finds the session itself). Keep invocationTimeoutMs above this.
    SessionAppearSeconds        = 30
    # Get-VBRTaskSession objects: VM name, status, progress (a number or an object with .Percents).
    TaskNameProperty            = 'Name'
    TaskStatusProperty          = 'Status'
    TaskProgressProperty        = 'Progress'
    # Task .Status values -> the result enum of operations.ts (any other status: None).
    TaskResultByStatus          = @{ Success = 'Success'; Warning = 'Warning'; Failed = 'Failed' }
    # Session objects may carry the job's name; when absent, the job's own name is used.
    SessionJobNameProperty      = 'JobName'
    # A running session reports an EndTime placeholder (e.g. 1900-01-01): times before this year are "none".
    NoTimeBeforeYear            = 1971
    PingCommand                 = 'Get-VBRServerSession'
}

# The cmdlets and parameters each endpoint relies on: what Get-Doctor checks.
$script:RequiredCommands = @{
    fvp   = [ordered]@{
        'Connect-PrnxServer'         = @('NameOrIPAddress', 'Credentials')
        'Get-PrnxVM'                 = @()
        'Get-PrnxAccelerationPolicy' = @('UUID', 'Effective')
        'Set-PrnxAccelerationPolicy' = @('Name', 'WriteThrough', 'WriteBack', 'NumWBPeers', 'NumWBExternalPeers', 'WaitTimeSeconds')
        'Set-PrnxProperty'           = @('Name', 'Value')
        'Get-PrnxObject'             = @('Type')
        'Get-PrnxObjectStats'        = @('ObjectIdentifier', 'NumberOfSamples')
    }
    veeam = [ordered]@{
        'Connect-VBRServer'    = @('Server', 'Port', 'Credential')
        'Get-VBRServerSession' = @()
        'Get-VBRJob'           = @()
        'Get-VBRJobObject'     = @('Job')
        'Start-VBRJob'         = @('Job', 'RunAsync', 'FullBackup', 'RetryBackup')
        'Stop-VBRJob'          = @('Job', 'RunAsync')
        'Get-VBRBackupSession' = @('Id')
        'Get-VBRTaskSession'   = @('Session')
    }
}

# Environment variable names (must match activities/powershell/environment.ts HOST_ENV).
$script:EnvEndpoint = 'FVPB_ENDPOINT'
$script:EnvCredentialUser = 'FVPB_CRED_USER'
$script:EnvCredentialPassword = 'FVPB_CRED_PASSWORD'
$script:EnvRemoteComputer = 'FVPB_REMOTE_COMPUTER'
$script:EnvRemoteConfiguration = 'FVPB_REMOTE_CONFIGURATION'

# =====================================================================================================
# 2. ERROR CLASSIFICATION — adapt the patterns to the messages of your FVP / Veeam versions.
#    Each rule is a regular expression matched (case-insensitively) against the error's message,
#    exception type names and FullyQualifiedErrorId, including inner exceptions. First match wins.
#    Errors this module throws itself carry their category and type and skip the rules.
# =====================================================================================================
$script:ErrorRules = @(
    @{ Category = 'already-running'; Type = 'JobAlreadyRunning'; Pattern = 'already running|is already in progress|job is running' }
    @{ Category = 'not-connected'; Type = 'NotConnected'; Pattern = 'not connected|no connection to|connect to .+ first|session (has )?expired|PSRemotingTransportException|remote session .*(closed|broken)' }
    @{ Category = 'permanent'; Type = $null; Pattern = 'ParameterBinding|A parameter cannot be found|Cannot bind parameter|Cannot validate argument|CommandNotFoundException|is not recognized as the name of a cmdlet|authenticat|logon failure|access (is )?denied|unauthori[sz]ed' }
    @{ Category = 'transient'; Type = $null; Pattern = 'management server|unable to connect|could not connect|cannot connect|failed to connect|connection|timed? ?out|temporarily unavailable|service unavailable|RPC server|WebException|SocketException|TimeoutException|EndpointNotFoundException|CommunicationException|busy' }
    @{ Category = 'permanent'; Type = $null; Pattern = 'not found|cannot find|does not exist|no such|invalid|ArgumentException|ItemNotFoundException|not supported' }
)
# Anything no rule recognises: retrying a vendor error we cannot read is the safer default.
$script:DefaultErrorCategory = 'transient'

function Get-ErrorCategory {
    <# Returns @{ Category; Type } for an ErrorRecord. Never throws. #>
    param($ErrorRecord)
    try {
        $exception = $ErrorRecord.Exception
        for ($e = $exception; $null -ne $e; $e = $e.InnerException) {
            if ($e.Data.Contains('FvpBackup.Category')) {
                return @{ Category = [string]$e.Data['FvpBackup.Category']; Type = [string]$e.Data['FvpBackup.Type'] }
            }
        }
        $texts = New-Object System.Collections.Generic.List[string]
        $texts.Add([string]$ErrorRecord.FullyQualifiedErrorId)
        for ($e = $exception; $null -ne $e; $e = $e.InnerException) {
            $texts.Add($e.GetType().FullName)
            $texts.Add([string]$e.Message)
        }
        $text = $texts -join "`n"
        $typeName = 'Error'
        if ($null -ne $exception) { $typeName = $exception.GetType().FullName }
        foreach ($rule in $script:ErrorRules) {
            if ($text -match $rule.Pattern) {
                $type = $typeName
                if ($rule.Type) { $type = $rule.Type }
                return @{ Category = $rule.Category; Type = $type }
            }
        }
        return @{ Category = $script:DefaultErrorCategory; Type = $typeName }
    } catch {
        return @{ Category = $script:DefaultErrorCategory; Type = 'Error' }
    }
}

function New-OpError {
    <# An exception this module throws on purpose, with its category and type (e.g. VmNotFound). #>
    param([string]$Category, [string]$Type, [string]$Message)
    $exception = New-Object System.InvalidOperationException $Message
    $exception.Data['FvpBackup.Category'] = $Category
    $exception.Data['FvpBackup.Type'] = $Type
    return $exception
}

# =====================================================================================================
# 3. THE ENTRY POINT
# =====================================================================================================
$script:OperationNames = @(
    'Connect-Endpoint', 'Get-Doctor',
    'Get-VmCachePolicy', 'Get-FvpServer', 'Set-VmWriteThrough', 'Restore-VmCachePolicy', 'Get-VmFlushState', 'Get-ProxyVadp', 'Set-ProxyVadp',
    'Get-VeeamServer', 'Get-BackupJob', 'Start-BackupJob', 'Get-BackupSession', 'Find-BackupSession', 'Stop-BackupJob'
)
$script:ModuleFile = $PSCommandPath
$script:Endpoint = $null
$script:Server = $null
$script:RemoteSession = $null

# UTF-8 without a byte order mark (the init line sets it too): VM names are not ASCII. Only where a
# console exists: in a WinRM session (wsmprovhost, host 'ServerRemoteHost') the setter throws "The
# handle is invalid", which with ErrorActionPreference Stop would abort loading the module remotely
# (posh-git #708/#727). Remotely the output travels as objects, so the encoding does not matter there.
if ($Host.Name -ne 'ServerRemoteHost') {
    try { [Console]::OutputEncoding = New-Object System.Text.UTF8Encoding $false } catch { $null = $_ }
}

if ($PSVersionTable.PSVersion.Major -lt 6) {
    # Windows PowerShell 5.1 serialises arrays as {"value":[...],"Count":n} because of this type data.
    Remove-TypeData -TypeName System.Array -ErrorAction SilentlyContinue
}

function Invoke-Op {
    <# The one command the worker sends. Prints exactly one line of JSON on stdout. #>
    param([string]$Name, [string]$ArgsBase64)
    $json = Invoke-OpJson -Name $Name -EncodedArgs $ArgsBase64
    [Console]::Out.WriteLine($json)
}

function Invoke-OpJson {
    <# Runs an operation and returns its envelope as one line of JSON (also what remoting calls). #>
    param([string]$Name, [string]$EncodedArgs)
    try {
        if ($script:OperationNames -cnotcontains $Name) {
            throw (New-OpError 'permanent' 'CommandNotFound' "Invoke-Op: '$Name' is not an operation of FvpBackup")
        }
        if ($null -ne $script:RemoteSession -and $Name -cne 'Connect-Endpoint') {
            $remoteJson = Invoke-Command -Session $script:RemoteSession -ErrorAction Stop -ScriptBlock {
                param($n, $a)
                Invoke-OpJson -Name $n -EncodedArgs $a
            } -ArgumentList $Name, $EncodedArgs
            return [string]$remoteJson
        }
        $opArgs = ConvertFrom-OpArgs -EncodedArgs $EncodedArgs
        $command = Get-Item -LiteralPath ('function:' + $Name)
        # Only the function's output is the result; warnings, verbose, information and host output are dropped.
        $result = & $command $opArgs 3>$null 4>$null 5>$null 6>$null
        $envelope = [ordered]@{ ok = $true; op = $Name; result = $result }
    } catch {
        $class = Get-ErrorCategory -ErrorRecord $_
        $message = [string]$_.Exception.Message
        $envelope = [ordered]@{
            ok    = $false
            op    = $Name
            error = [ordered]@{ type = [string]$class.Type; message = $message; category = [string]$class.Category }
        }
    }
    try {
        return (ConvertTo-Json -InputObject $envelope -Depth 10 -Compress)
    } catch {
        $fallback = [ordered]@{
            ok    = $false
            op    = $Name
            error = [ordered]@{ type = 'SerializationFailed'; message = "ConvertTo-Json failed: $($_.Exception.Message)"; category = 'permanent' }
        }
        return (ConvertTo-Json -InputObject $fallback -Depth 10 -Compress)
    }
}

function ConvertFrom-OpArgs {
    <# base64 -> UTF-8 -> JSON, keeping every string exactly as sent. #>
    param([string]$EncodedArgs)
    try {
        $json = [System.Text.Encoding]::UTF8.GetString([System.Convert]::FromBase64String($EncodedArgs))
    } catch {
        throw (New-OpError 'permanent' 'InvalidArgument' 'Invoke-Op: the arguments are not base64')
    }
    $convert = Get-Command -Name ConvertFrom-Json
    if ($convert.Parameters.ContainsKey('DateKind')) {
        # PowerShell 7.5+: keep date-like strings (a VM named "2024-01-01") as strings.
        return ConvertFrom-Json -InputObject $json -DateKind String
    }
    if ($PSVersionTable.PSVersion.Major -ge 6) {
        # PowerShell 6.0-7.4 turn date-like strings into [datetime]: parse with Newtonsoft, no date handling.
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
    if ($null -eq $Token) { return $null }
    switch ([string]$Token.Type) {
        'Object' {
            $properties = [ordered]@{}
            foreach ($property in $Token.Properties()) { $properties[$property.Name] = ConvertFrom-JToken -Token $property.Value }
            return [pscustomobject]$properties
        }
        'Array' {
            $items = New-Object System.Collections.Generic.List[object]
            foreach ($item in $Token) { $items.Add((ConvertFrom-JToken -Token $item)) }
            return , $items.ToArray()
        }
        'Null' { return $null }
        default { return $Token.Value }
    }
}

# =====================================================================================================
# 4. HELPERS
# =====================================================================================================
function Get-ArgValue {
    <# A property of the decoded arguments; -Required throws InvalidArgument when it is missing. #>
    param($OpArgs, [string]$Name, [switch]$Required)
    $property = $null
    if ($null -ne $OpArgs) { $property = $OpArgs.PSObject.Properties[$Name] }
    if ($null -eq $property -or $null -eq $property.Value) {
        if ($Required) { throw (New-OpError 'permanent' 'InvalidArgument' "Invoke-Op: argument '$Name' is missing") }
        return $null
    }
    return $property.Value
}

function Test-ArgPresent {
    <# Whether the arguments carry $Name at all, even as null (null can be a meaningful value). #>
    param($OpArgs, [string]$Name)
    return ($null -ne $OpArgs -and $null -ne $OpArgs.PSObject.Properties[$Name])
}

function Get-VendorProperty {
    <# A property of a vendor object; a missing property is an unconfirmed vendor fact that is wrong here. #>
    param($Object, [string]$Name, [string]$What, [switch]$Optional)
    $property = $null
    if ($null -ne $Object) { $property = $Object.PSObject.Properties[$Name] }
    if ($null -eq $property) {
        if ($Optional) { return $null }
        throw (New-OpError 'permanent' 'VendorMismatch' "$What has no property '$Name' (an unconfirmed vendor fact: see section 1 of FvpBackup.psm1)")
    }
    return $property.Value
}

function Format-Date {
    <# ISO 8601 in UTC, or $null. Veeam times come in local time. #>
    param($Value)
    if ($null -eq $Value) { return $null }
    $date = [datetime]$Value
    if ($date.Year -lt $script:Veeam.NoTimeBeforeYear) { return $null }
    return $date.ToUniversalTime().ToString('o')
}

function ConvertTo-Percent {
    param($Value)
    if ($null -eq $Value) { return 0 }
    $percents = Get-VendorProperty -Object $Value -Name 'Percents' -What 'progress' -Optional
    if ($null -ne $percents) { $Value = $percents }
    $number = [double]$Value
    if ($number -lt 0) { return 0 }
    if ($number -gt 100) { return 100 }
    return $number
}

function Read-CredentialFromEnvironment {
    <# The credential handed over in the environment, as a PSCredential; removes it from the environment. #>
    $user = [Environment]::GetEnvironmentVariable($script:EnvCredentialUser, 'Process')
    $password = [Environment]::GetEnvironmentVariable($script:EnvCredentialPassword, 'Process')
    [Environment]::SetEnvironmentVariable($script:EnvCredentialUser, $null, 'Process')
    [Environment]::SetEnvironmentVariable($script:EnvCredentialPassword, $null, 'Process')
    if ([string]::IsNullOrEmpty($user)) { return $null }
    $secure = New-Object System.Security.SecureString
    if (-not [string]::IsNullOrEmpty($password)) {
        foreach ($character in $password.ToCharArray()) { $secure.AppendChar($character) }
    }
    $secure.MakeReadOnly()
    $password = $null
    return New-Object System.Management.Automation.PSCredential -ArgumentList $user, $secure
}

function Get-EndpointName {
    $name = [Environment]::GetEnvironmentVariable($script:EnvEndpoint, 'Process')
    if ($name -cne 'fvp' -and $name -cne 'veeam') {
        throw (New-OpError 'permanent' 'InvalidArgument' "the environment variable $($script:EnvEndpoint) must be 'fvp' or 'veeam'")
    }
    return $name
}

function Assert-Connected {
    if ($null -eq $script:Endpoint) {
        throw (New-OpError 'not-connected' 'NotConnected' 'Not connected: Connect-Endpoint has not succeeded in this session')
    }
}

# The properties projected from each vendor object: raw, as the cmdlets return them, interpreted in
# TypeScript with the vendor-facts table (activities/vendor/facts.ts, which lists the same names; a
# test compares them). A property an object lacks is left out, never defaulted.
$script:Project = @{
    PrnxVm     = @('Name', 'uuid', 'effectivePolicy', 'numWbPeers', 'numWbExternalPeers', 'flashCluster', 'cachePolicy')
    PrnxStats  = @('time_to_destage')
    PrnxServer = @('buildinfo', 'licensedFeatures')
}

function ConvertTo-Raw {
    <# A vendor value as data: scalars as they are (dates ISO UTC, enums and GUIDs as text), objects as @type + listed properties (all if no list), nested objects as text. #>
    param($Value, $Properties)
    if ($null -eq $Value) { return $null }
    if ($Value -is [datetime]) { return $Value.ToUniversalTime().ToString('o') }
    if ($Value -is [enum] -or $Value -is [guid] -or $Value -is [char]) { return [string]$Value }
    if ($Value -is [string] -or $Value -is [bool] -or $Value -is [ValueType]) { return $Value }
    $raw = [ordered]@{ '@type' = $Value.GetType().FullName }
    foreach ($property in $Value.PSObject.Properties) {
        if ($null -ne $Properties -and $Properties -notcontains $property.Name) { continue }
        $item = $property.Value
        if ($null -eq $item -or $item -is [string] -or $item -is [ValueType]) { $raw[$property.Name] = ConvertTo-Raw -Value $item -Properties $null }
        else { $raw[$property.Name] = [string]$item }
    }
    return $raw
}

function Invoke-RawCall {
    <# Runs one vendor call: every object it wrote as raw data, or its error as data (TypeScript decides what either means). #>
    param([scriptblock]$Call, $Properties)
    try {
        $values = New-Object System.Collections.Generic.List[object]
        foreach ($item in @(& $Call)) { $values.Add((ConvertTo-Raw -Value $item -Properties $Properties)) }
        return [ordered]@{ ok = $true; values = $values.ToArray() }
    } catch {
        return [ordered]@{ ok = $false; type = $_.Exception.GetType().FullName; message = [string]$_.Exception.Message }
    }
}

function Read-FvpVm {
    <# Every Get-PrnxVM object named exactly $Name (names may hold any character), raw, with its policy (and stats) outputs. #>
    param([string]$Name, [bool]$Stats, $StartTime)
    Assert-Connected
    $found = New-Object System.Collections.Generic.List[object]
    foreach ($vm in @(Get-PrnxVM -ErrorAction Stop)) {
        $vmName = $vm.PSObject.Properties['Name']
        if ($null -eq $vmName -or [string]$vmName.Value -cne $Name) { continue }
        $entry = [ordered]@{ vm = (ConvertTo-Raw -Value $vm -Properties $script:Project.PrnxVm); requested = $null; effective = $null; stats = $null }
        $uuidProperty = $vm.PSObject.Properties['uuid']
        if ($null -ne $uuidProperty -and -not [string]::IsNullOrEmpty([string]$uuidProperty.Value)) {
            $uuid = [string]$uuidProperty.Value
            $entry.requested = Invoke-RawCall -Call { Get-PrnxAccelerationPolicy -UUID $uuid -ErrorAction Stop } -Properties $null
            $entry.effective = Invoke-RawCall -Call { Get-PrnxAccelerationPolicy -UUID $uuid -Effective -ErrorAction Stop } -Properties $null
            if ($Stats -and $null -eq $StartTime) {
                $entry.stats = Invoke-RawCall -Call { Get-PrnxObjectStats -ObjectIdentifier $uuid -NumberOfSamples 1 -ErrorAction Stop } -Properties $script:Project.PrnxStats
            } elseif ($Stats) {
                $entry.stats = Invoke-RawCall -Call { Get-PrnxObjectStats -ObjectIdentifier $uuid -StartTime ([long]$StartTime) -NumberOfSamples 1 -ErrorAction Stop } -Properties $script:Project.PrnxStats
            }
        }
        $found.Add($entry)
    }
    return $found.ToArray()
}

# =====================================================================================================
# 5. SESSION
# =====================================================================================================
function Connect-Endpoint {
    <# args: { server, port? }. Loads the vendor module and connects; see "Remoting" at the top. #>
    param($OpArgs)
    $server = [string](Get-ArgValue $OpArgs 'server' -Required)
    $port = Get-ArgValue $OpArgs 'port'
    $endpoint = Get-EndpointName
    $credential = Read-CredentialFromEnvironment
    $remoteComputer = [Environment]::GetEnvironmentVariable($script:EnvRemoteComputer, 'Process')
    if ([string]::IsNullOrEmpty($remoteComputer)) {
        Connect-Vendor -Endpoint $endpoint -Server $server -Port $port -Credential $credential
    } else {
        $script:RemoteSession = Open-RemoteModule -ComputerName $remoteComputer -Credential $credential
        Invoke-Command -Session $script:RemoteSession -ErrorAction Stop -ScriptBlock {
            param($e, $s, $p, $c)
            Connect-Vendor -Endpoint $e -Server $s -Port $p -Credential $c
        } -ArgumentList $endpoint, $server, $port, $credential | Out-Null
        $script:Endpoint = $endpoint
        $script:Server = $server
    }
    return [ordered]@{ connected = $true }
}

function Connect-Vendor {
    <# Imports the endpoint's vendor module and connects to its server (runs remotely when remoting). #>
    param([string]$Endpoint, [string]$Server, $Port, $Credential)
    if ($Endpoint -ceq 'fvp') {
        Import-Module -Name $script:Fvp.Module -DisableNameChecking -ErrorAction Stop | Out-Null
        $prnx = @{ NameOrIPAddress = $Server; ErrorAction = 'Stop' }
        if ($null -ne $Credential) { $prnx.Credentials = $Credential }
        $null = Connect-PrnxServer @prnx
    } else {
        Import-Module -Name $script:Veeam.Module -DisableNameChecking -ErrorAction Stop | Out-Null
        $vbr = @{ Server = $Server; ErrorAction = 'Stop' }
        if ($null -ne $Port) { $vbr.Port = [int]$Port }
        if ($null -ne $Credential) { $vbr.Credential = $Credential }
        $null = Connect-VBRServer @vbr
    }
    $script:Endpoint = $Endpoint
    $script:Server = $Server
}

function Open-RemoteModule {
    <# A PSSession on $ComputerName with this module loaded from its text. #>
    param([string]$ComputerName, $Credential)
    $options = @{ ComputerName = $ComputerName; ErrorAction = 'Stop' }
    if ($null -ne $Credential) { $options.Credential = $Credential }
    $configuration = [Environment]::GetEnvironmentVariable($script:EnvRemoteConfiguration, 'Process')
    if (-not [string]::IsNullOrEmpty($configuration)) { $options.ConfigurationName = $configuration }
    $session = New-PSSession @options
    $moduleText = [System.IO.File]::ReadAllText($script:ModuleFile, [System.Text.Encoding]::UTF8)
    Invoke-Command -Session $session -ErrorAction Stop -ScriptBlock {
        param($text)
        New-Module -Name 'FvpBackup' -ScriptBlock ([ScriptBlock]::Create($text)) | Import-Module -Global -DisableNameChecking
    } -ArgumentList $moduleText | Out-Null
    return $session
}

# =====================================================================================================
# 6. FVP OPERATIONS
# =====================================================================================================
function Resolve-FvpVm {
    <# The Get-PrnxVM object whose name is exactly $Name (names may hold any character). #>
    param([string]$Name)
    Assert-Connected
    $found = @(Get-PrnxVM -ErrorAction Stop | Where-Object {
            [string](Get-VendorProperty -Object $_ -Name $script:Fvp.VmNameProperty -What 'Get-PrnxVM object') -ceq $Name
        })
    if ($found.Count -eq 0) { throw (New-OpError 'permanent' 'VmNotFound' "VM '$Name' was not found in the FVP cluster") }
    if ($found.Count -gt 1) { throw (New-OpError 'permanent' 'VmAmbiguous' "$($found.Count) FVP VMs are named '$Name'") }
    return $found[0]
}

function ConvertTo-CacheMode {
    <# Policy text (WRITE_BACK / WRITE_THROUGH) or effectivePolicy code -> WriteBack | WriteThrough. #>
    param($Value, [string]$What)
    $text = ([string]$Value).Trim()
    if ($text -eq $script:Fvp.PolicyTextWriteBack -or $text -eq $script:Fvp.EffectivePolicyWriteBack) { return 'WriteBack' }
    if ($text -eq $script:Fvp.PolicyTextWriteThrough) { return 'WriteThrough' }
    throw (New-OpError 'permanent' 'VendorMismatch' "$What is '$text', which this module cannot read (see section 1 of FvpBackup.psm1)")
}

function Get-FvpPolicyText {
    param([string]$Uuid, [switch]$Effective)
    $params = @{ UUID = $Uuid; ErrorAction = 'Stop' }
    if ($Effective) { $params.Effective = $true }
    return [string](@(Get-PrnxAccelerationPolicy @params) | Select-Object -First 1)
}

function Get-RequestedPolicy {
    <# The requested policy; the peer counts must be readable for an accelerated VM (they are what a restore puts back). #>
    param($PrnxVm, [string]$RequestedText, [bool]$Accelerated)
    $mode = 'WriteThrough'
    if (-not [string]::IsNullOrEmpty($RequestedText)) { $mode = ConvertTo-CacheMode -Value $RequestedText -What 'the requested policy' }
    $optional = -not $Accelerated
    $peers = Get-VendorProperty -Object $PrnxVm -Name $script:Fvp.VmPeersProperty -What 'Get-PrnxVM object' -Optional:$optional
    $external = Get-VendorProperty -Object $PrnxVm -Name $script:Fvp.VmExternalPeersProperty -What 'Get-PrnxVM object' -Optional:$optional
    $peerCount = 0
    if ($null -ne $peers) { $peerCount = [int]$peers }
    $externalCount = $null
    if ($null -ne $external -and [string]$external -ne '') { $externalCount = [int]$external }
    return [ordered]@{ mode = $mode; peers = $peerCount; externalPeers = $externalCount }
}

function Get-VmPolicyDocument {
    param([string]$Name)
    $vm = Resolve-FvpVm -Name $Name
    $uuid = [string](Get-VendorProperty -Object $vm -Name $script:Fvp.VmUuidProperty -What 'Get-PrnxVM object')
    $cluster = Get-VendorProperty -Object $vm -Name $script:Fvp.VmFlashClusterProperty -What 'Get-PrnxVM object' -Optional
    $accelerated = -not [string]::IsNullOrEmpty([string]$cluster)
    $requestedText = ''
    $effective = 'WriteThrough'
    if ($accelerated) {
        $requestedText = Get-FvpPolicyText -Uuid $uuid
        $effectiveText = Get-FvpPolicyText -Uuid $uuid -Effective
        if ([string]::IsNullOrEmpty($effectiveText)) {
            $code = Get-VendorProperty -Object $vm -Name $script:Fvp.VmEffectivePolicyProperty -What 'Get-PrnxVM object'
            if ([string]$code -eq $script:Fvp.EffectivePolicyWriteBack) { $effective = 'WriteBack' }
        } else {
            $effective = ConvertTo-CacheMode -Value $effectiveText -What 'the effective policy'
        }
    }
    return [ordered]@{
        vm          = $Name
        uuid        = $uuid
        accelerated = $accelerated
        requested   = Get-RequestedPolicy -PrnxVm $vm -RequestedText $requestedText -Accelerated $accelerated
        effective   = $effective
    }
}

function Set-FvpPolicy {
    <# Set-PrnxAccelerationPolicy on the VM, addressed as section 1 says (parameter names literal: the CI surface check reads them). #>
    param([string]$Name, [string]$Mode, $Peers, $ExternalPeers, $WaitTimeSeconds)
    $vm = Resolve-FvpVm -Name $Name
    $cluster = Get-VendorProperty -Object $vm -Name $script:Fvp.VmFlashClusterProperty -What 'Get-PrnxVM object' -Optional
    if ([string]::IsNullOrEmpty([string]$cluster)) {
        throw (New-OpError 'permanent' 'VmNotAccelerated' "VM '$Name' is not accelerated by FVP: no policy to set")
    }
    $params = @{ ErrorAction = 'Stop' }
    if ($script:Fvp.SetPolicyTarget -ceq 'UUID') {
        $params.UUID = [string](Get-VendorProperty -Object $vm -Name $script:Fvp.VmUuidProperty -What 'Get-PrnxVM object')
    } else {
        $params.Name = $Name
    }
    if ($Mode -ceq 'WriteBack') {
        $params.WriteBack = $true
        $params.NumWBPeers = [int]$Peers
        # Only with fault domains (Enterprise licence); passing it elsewhere fails.
        if ($null -ne $ExternalPeers) { $params.NumWBExternalPeers = [int]$ExternalPeers }
    } else {
        $params.WriteThrough = $true
        if ($null -ne $WaitTimeSeconds) { $params.WaitTimeSeconds = [int]$WaitTimeSeconds }
    }
    $null = Set-PrnxAccelerationPolicy @params
}

function ConvertTo-PolicyArg {
    <# A RequestedPolicy argument ({ mode, peers, externalPeers }) as the hashtable Get-RequestedPolicy returns. #>
    param($Policy, [string]$Name)
    $mode = [string](Get-ArgValue $Policy 'mode' -Required)
    if ($mode -cne 'WriteBack' -and $mode -cne 'WriteThrough') {
        throw (New-OpError 'permanent' 'InvalidArgument' "$($Name).mode '$mode' is neither WriteBack nor WriteThrough")
    }
    $external = Get-ArgValue $Policy 'externalPeers'
    if ($null -ne $external) { $external = [int]$external }
    return [ordered]@{ mode = $mode; peers = [int](Get-ArgValue $Policy 'peers' -Required); externalPeers = $external }
}

function Test-SamePolicy {
    <#
    samePolicy of domain/policy.ts, the one comparison the module makes: same mode; in write-through
    the peer counts do not matter; a null external peer count equals 0.
    #>
    param($A, $B)
    if ([string]$A.mode -cne [string]$B.mode) { return $false }
    if ([string]$A.mode -ceq 'WriteThrough') { return $true }
    $externalA = 0
    if ($null -ne $A.externalPeers) { $externalA = [int]$A.externalPeers }
    $externalB = 0
    if ($null -ne $B.externalPeers) { $externalB = [int]$B.externalPeers }
    return ([int]$A.peers -eq [int]$B.peers -and $externalA -eq $externalB)
}

function Assert-ExpectedPolicy {
    <#
    A conditional write's precondition: the VM's current requested policy is the caller's `expected`.
    Not atomic (FVP has no compare-and-set): it narrows a stale write's window to this one call.
    #>
    param([string]$Name, $Current, $OpArgs)
    if (-not (Test-ArgPresent $OpArgs 'expected')) { return }
    $expected = ConvertTo-PolicyArg -Policy (Get-ArgValue $OpArgs 'expected' -Required) -Name 'expected'
    if (-not (Test-SamePolicy $Current $expected)) {
        $found = ConvertTo-Json -InputObject $Current -Depth 10 -Compress
        $wanted = ConvertTo-Json -InputObject $expected -Depth 10 -Compress
        throw (New-OpError 'policy-changed' 'PolicyChanged' "VM '$Name' has requested policy $found, not the expected $($wanted): someone else changed it; nothing was changed")
    }
}

function Get-VmCachePolicy {
    <# args: { vm } -> { matches: [ RawFvpVm ] } (operations.ts): raw, interpreted by activities/vendor/interpret.ts. #>
    param($OpArgs)
    return [ordered]@{ matches = @(Read-FvpVm -Name ([string](Get-ArgValue $OpArgs 'vm' -Required)) -Stats $false -StartTime $null) }
}

function Get-FvpServer {
    <# args: {} -> { servers: [raw Get-PrnxObject -Type PrnxMServer] }: build and licence, read by TypeScript. #>
    param($OpArgs)
    Assert-Connected
    $servers = New-Object System.Collections.Generic.List[object]
    foreach ($server in @(Get-PrnxObject -Type PrnxMServer -ErrorAction Stop)) {
        $servers.Add((ConvertTo-Raw -Value $server -Properties $script:Project.PrnxServer))
    }
    return [ordered]@{ servers = $servers.ToArray() }
}

function Set-VmWriteThrough {
    <#
    args: { vm, waitTimeSeconds?, expected? } -> VmPolicy. -WaitTimeSeconds is undocumented: the
    worker verifies the flush itself. Already write-through: returns without writing (a retry after
    a lost answer). Otherwise refuses policy-changed unless the requested policy is `expected`.
    #>
    param($OpArgs)
    $name = [string](Get-ArgValue $OpArgs 'vm' -Required)
    $current = Get-VmPolicyDocument -Name $name
    $target = [ordered]@{ mode = 'WriteThrough'; peers = 0; externalPeers = $null }
    if ($current.accelerated -and (Test-SamePolicy $current.requested $target)) { return $current }
    if ($current.accelerated) { Assert-ExpectedPolicy -Name $name -Current $current.requested -OpArgs $OpArgs }
    Set-FvpPolicy -Name $name -Mode 'WriteThrough' -WaitTimeSeconds (Get-ArgValue $OpArgs 'waitTimeSeconds')
    return Get-VmPolicyDocument -Name $name
}

function Restore-VmCachePolicy {
    <#
    args: { vm, policy: { mode, peers, externalPeers }, expected? } -> VmPolicy. Puts back exactly
    the recorded policy. Already in place: returns without writing (a retry after a lost answer).
    Otherwise refuses policy-changed unless the requested policy is `expected`.
    #>
    param($OpArgs)
    $name = [string](Get-ArgValue $OpArgs 'vm' -Required)
    $policy = ConvertTo-PolicyArg -Policy (Get-ArgValue $OpArgs 'policy' -Required) -Name 'policy'
    $current = Get-VmPolicyDocument -Name $name
    if ($current.accelerated -and (Test-SamePolicy $current.requested $policy)) { return $current }
    if ($current.accelerated) { Assert-ExpectedPolicy -Name $name -Current $current.requested -OpArgs $OpArgs }
    Set-FvpPolicy -Name $name -Mode $policy.mode -Peers $policy.peers -ExternalPeers $policy.externalPeers
    return Get-VmPolicyDocument -Name $name
}

function Get-VmFlushState {
    <# args: { vm, startTime? } -> { matches: [ RawFvpVm with stats ] }: raw, interpreted by activities/vendor/interpret.ts. #>
    param($OpArgs)
    $name = [string](Get-ArgValue $OpArgs 'vm' -Required)
    return [ordered]@{ matches = @(Read-FvpVm -Name $name -Stats $true -StartTime (Get-ArgValue $OpArgs 'startTime')) }
}

function Get-ProxyVadp {
    <# args: { vm } -> { matches: [ RawFvpVm ] }: the proxy's raw Get-PrnxVM object; TypeScript reads the blacklist from it. #>
    param($OpArgs)
    return [ordered]@{ matches = @(Read-FvpVm -Name ([string](Get-ArgValue $OpArgs 'vm' -Required)) -Stats $false -StartTime $null) }
}

function Set-ProxyVadp {
    <# args: { vm, property, value } -> { vm, sent }: Set-PrnxProperty <vm> -Name <property> -Value <value> (prnx_blacklist.ps1); verified by TypeScript. #>
    param($OpArgs)
    Assert-Connected
    $name = [string](Get-ArgValue $OpArgs 'vm' -Required)
    $property = [string](Get-ArgValue $OpArgs 'property' -Required)
    $value = [int](Get-ArgValue $OpArgs 'value' -Required)
    $null = Set-PrnxProperty $name -Name $property -Value $value -ErrorAction Stop
    return [ordered]@{ vm = $name; sent = $true }
}

# =====================================================================================================
# 7. VEEAM OPERATIONS
# =====================================================================================================
function Resolve-VeeamJob {
    param([string]$Name)
    Assert-Connected
    # Filter ourselves: -Name takes wildcards, and job names may contain [ ] * ?.
    $found = @(Get-VBRJob -ErrorAction Stop | Where-Object { [string]$_.Name -eq $Name })
    $exact = @($found | Where-Object { [string]$_.Name -ceq $Name })
    if ($exact.Count -eq 1) { return $exact[0] }
    if ($found.Count -eq 0) { throw (New-OpError 'permanent' 'JobNotFound' "Veeam job '$Name' was not found") }
    throw (New-OpError 'permanent' 'JobAmbiguous' "$($found.Count) Veeam jobs are named '$Name'")
}

function Get-JobId {
    param($Job)
    $id = Get-VendorProperty -Object $Job -Name 'Id' -What 'Veeam job'
    return [string]$id
}

function Test-JobRunning {
    <# The job's IsRunning where the object has it, else: its newest session is not Stopped. #>
    param($Job, [string]$Lookup)
    $flag = Get-VendorProperty -Object $Job -Name $script:Veeam.JobIsRunningProperty -What 'Veeam job' -Optional
    if ($null -ne $flag) { return [bool]$flag }
    $newest = @(Get-JobSessions -Job $Job -Lookup $Lookup | Sort-Object -Property CreationTime -Descending) | Select-Object -First 1
    return ($null -ne $newest -and [string]$newest.State -cne 'Stopped')
}

function Get-JobSessions {
    <#
    The job's sessions by the per-job lookup TypeScript chose by Veeam version (operations.ts
    SessionLookup): never the unfiltered Get-VBRBackupSession, which reads the server's whole
    history on every call (veeam-healthcheck #110). FindLastSession gives the newest one only.
    #>
    param($Job, [string]$Lookup)
    if ($Lookup -ceq 'FindLastSession') { return @($Job.FindLastSession() | Where-Object { $null -ne $_ }) }
    if ($Lookup -ceq 'GetByJob') { return @([Veeam.Backup.Core.CBackupSession]::GetByJob($Job.Id) | Where-Object { $null -ne $_ }) }
    if ($Lookup -ceq 'JobParameter') { return @(Get-VBRBackupSession -Job $Job -ErrorAction Stop) }
    throw (New-OpError 'permanent' 'InvalidArgument' "Invoke-Op: session lookup '$Lookup' is not FindLastSession, GetByJob or JobParameter")
}

function Get-VeeamServer {
    <# args: {} -> { modules: [raw Veeam.Backup.PowerShell module: Name, Version] }: TypeScript picks the session lookup by version. #>
    param($OpArgs)
    Assert-Connected
    $modules = New-Object System.Collections.Generic.List[object]
    foreach ($module in @(Get-Module -Name $script:Veeam.Module)) { $modules.Add((ConvertTo-Raw -Value $module -Properties @('Name', 'Version'))) }
    return [ordered]@{ modules = $modules.ToArray() }
}

function ConvertTo-SessionDocument {
    param($Session, [string]$JobName)
    $state = [string](Get-VendorProperty -Object $Session -Name 'State' -What 'Veeam session')
    $endTime = $null
    if ($state -ceq 'Stopped') {
        $endTime = Format-Date (Get-VendorProperty -Object $Session -Name 'EndTime' -What 'Veeam session' -Optional)
    }
    $name = Get-VendorProperty -Object $Session -Name $script:Veeam.SessionJobNameProperty -What 'Veeam session' -Optional
    if ([string]::IsNullOrEmpty([string]$name)) { $name = $JobName }
    $tasks = New-Object System.Collections.Generic.List[object]
    foreach ($task in @(Get-VBRTaskSession -Session $Session -ErrorAction Stop)) {
        $status = [string](Get-VendorProperty -Object $task -Name $script:Veeam.TaskStatusProperty -What 'Veeam task session')
        $result = 'None'
        if ($script:Veeam.TaskResultByStatus.ContainsKey($status)) { $result = $script:Veeam.TaskResultByStatus[$status] }
        $tasks.Add([ordered]@{
                vm       = [string](Get-VendorProperty -Object $task -Name $script:Veeam.TaskNameProperty -What 'Veeam task session')
                status   = $status
                result   = $result
                progress = ConvertTo-Percent (Get-VendorProperty -Object $task -Name $script:Veeam.TaskProgressProperty -What 'Veeam task session' -Optional)
            })
    }
    return [ordered]@{
        id           = [string](Get-VendorProperty -Object $Session -Name 'Id' -What 'Veeam session')
        jobId        = [string](Get-VendorProperty -Object $Session -Name 'JobId' -What 'Veeam session')
        jobName      = [string]$name
        state        = $state
        result       = [string](Get-VendorProperty -Object $Session -Name 'Result' -What 'Veeam session')
        progress     = ConvertTo-Percent (Get-VendorProperty -Object $Session -Name 'Progress' -What 'Veeam session' -Optional)
        creationTime = Format-Date (Get-VendorProperty -Object $Session -Name 'CreationTime' -What 'Veeam session')
        endTime      = $endTime
        tasks        = $tasks.ToArray()
    }
}

function Get-BackupJob {
    <# args: { job, lookup } -> BackupJob (VMs as added to the job: containers are not expanded). #>
    param($OpArgs)
    $job = Resolve-VeeamJob -Name ([string](Get-ArgValue $OpArgs 'job' -Required))
    $lookup = [string](Get-ArgValue $OpArgs 'lookup' -Required)
    $vms = New-Object System.Collections.Generic.List[string]
    foreach ($object in @(Get-VBRJobObject -Job $job -ErrorAction Stop)) {
        $kind = Get-VendorProperty -Object $object -Name $script:Veeam.JobObjectTypeProperty -What 'Veeam job object' -Optional
        if ($null -eq $kind -or [string]$kind -eq $script:Veeam.JobObjectIncludeValue) {
            $vms.Add([string](Get-VendorProperty -Object $object -Name 'Name' -What 'Veeam job object'))
        }
    }
    return [ordered]@{
        id        = Get-JobId -Job $job
        name      = [string]$job.Name
        vms       = $vms.ToArray()
        isRunning = [bool](Test-JobRunning -Job $job -Lookup $lookup)
    }
}

function Start-BackupJob {
    <#
    args: { job, fullBackup, retryBackup, fence?, lookup } -> BackupSession. Starts the job once (-RunAsync)
    and returns the session it created: the job's newest session that did not exist before the start
    (no clock comparison, so a skewed clock between here and the server does not matter).
    fence: the id of the job's newest session when the caller took its fence (null: none). When the
    newest session is another one, somebody started the job since: refuse fence-moved, start nothing.
    Every error once Start-VBRJob may have been sent is start-unknown: the job may be running, the
    caller must re-attach (Find-BackupSession), never start again.
    #>
    param($OpArgs)
    $name = [string](Get-ArgValue $OpArgs 'job' -Required)
    $lookup = [string](Get-ArgValue $OpArgs 'lookup' -Required)
    $job = Resolve-VeeamJob -Name $name
    $sessions = @(Get-JobSessions -Job $job -Lookup $lookup)
    if (Test-ArgPresent $OpArgs 'fence') {
        $fence = [string](Get-ArgValue $OpArgs 'fence')
        $newest = @($sessions | Sort-Object -Property CreationTime -Descending) | Select-Object -First 1
        $newestId = ''
        if ($null -ne $newest) { $newestId = [string]$newest.Id }
        if ($newestId -ne $fence) {
            throw (New-OpError 'fence-moved' 'FenceMoved' "Veeam job '$name': the newest session is '$newestId', not the fence '$fence': somebody started the job since; nothing was started")
        }
    }
    if (Test-JobRunning -Job $job -Lookup $lookup) {
        throw (New-OpError 'already-running' 'JobAlreadyRunning' "Veeam job '$name' is already running")
    }
    $before = @{}
    foreach ($old in $sessions) { $before[[string]$old.Id] = $true }
    $start = @{ Job = $job; RunAsync = $true; ErrorAction = 'Stop' }
    if ([bool](Get-ArgValue $OpArgs 'fullBackup')) { $start.FullBackup = $true }
    if ([bool](Get-ArgValue $OpArgs 'retryBackup')) { $start.RetryBackup = $true }
    try {
        $null = Start-VBRJob @start
    } catch {
        # Only "already running" surely started nothing; any other error (a timeout, a dropped
        # connection, an InvalidOperationException) may have come after the server took the start.
        $class = Get-ErrorCategory -ErrorRecord $_
        if ($class.Category -ceq 'already-running') { throw }
        throw (New-OpError 'start-unknown' 'JobStartUnknown' "Start-VBRJob for Veeam job '$name' failed, it may have started: $($_.Exception.Message)")
    }
    try {
        $deadline = (Get-Date).AddSeconds($script:Veeam.SessionAppearSeconds)
        do {
            $new = @(Get-JobSessions -Job $job -Lookup $lookup | Where-Object { -not $before.ContainsKey([string]$_.Id) } |
                    Sort-Object -Property CreationTime -Descending)
            if ($new.Count -gt 0) { return ConvertTo-SessionDocument -Session $new[0] -JobName $name }
            Start-Sleep -Milliseconds 500
        } while ((Get-Date) -lt $deadline)
    } catch {
        throw (New-OpError 'start-unknown' 'JobStartUnknown' "Veeam job '$name' was started, then its session could not be read: $($_.Exception.Message)")
    }
    throw (New-OpError 'start-unknown' 'SessionNotFound' "Veeam job '$name' was started but its session did not appear within $($script:Veeam.SessionAppearSeconds) s")
}

function Get-BackupSession {
    <# args: { sessionId } -> BackupSession #>
    param($OpArgs)
    Assert-Connected
    $id = [string](Get-ArgValue $OpArgs 'sessionId' -Required)
    $guid = [guid]::Empty
    if (-not [guid]::TryParse($id, [ref]$guid)) { throw (New-OpError 'permanent' 'InvalidArgument' "session id '$id' is not a GUID") }
    $session = @(Get-VBRBackupSession -Id $guid -ErrorAction Stop) | Select-Object -First 1
    if ($null -eq $session) { throw (New-OpError 'permanent' 'SessionNotFound' "Veeam session '$id' was not found") }
    return ConvertTo-SessionDocument -Session $session -JobName ''
}

function Find-BackupSession {
    <# args: { job, since (ISO 8601), lookup } -> { session: newest session created at or after since, or null } #>
    param($OpArgs)
    $job = Resolve-VeeamJob -Name ([string](Get-ArgValue $OpArgs 'job' -Required))
    $lookup = [string](Get-ArgValue $OpArgs 'lookup' -Required)
    $sinceText = [string](Get-ArgValue $OpArgs 'since' -Required)
    $since = [datetime]::MinValue
    $styles = [System.Globalization.DateTimeStyles]::RoundtripKind
    if (-not [datetime]::TryParse($sinceText, [System.Globalization.CultureInfo]::InvariantCulture, $styles, [ref]$since)) {
        throw (New-OpError 'permanent' 'InvalidArgument' "since '$sinceText' is not an ISO 8601 time")
    }
    $sinceUtc = $since.ToUniversalTime()
    $newest = @(Get-JobSessions -Job $job -Lookup $lookup | Where-Object { ([datetime]$_.CreationTime).ToUniversalTime() -ge $sinceUtc } |
            Sort-Object -Property CreationTime -Descending) | Select-Object -First 1
    if ($null -eq $newest) { return [ordered]@{ session = $null } }
    return [ordered]@{ session = ConvertTo-SessionDocument -Session $newest -JobName ([string]$job.Name) }
}

function Stop-BackupJob {
    <# args: { job } -> { job, stopRequested: true }. Stop-VBRJob asks for confirmation unless told not to. #>
    param($OpArgs)
    $job = Resolve-VeeamJob -Name ([string](Get-ArgValue $OpArgs 'job' -Required))
    $null = Stop-VBRJob -Job $job -RunAsync -Confirm:$false -ErrorAction Stop
    return [ordered]@{ job = [string]$job.Name; stopRequested = $true }
}

# =====================================================================================================
# 8. DOCTOR
# =====================================================================================================
function Get-DoctorObservations {
    <# Runs the raw probes of the unconfirmed vendor facts (issue 11), read by activities/vendor/doctor-facts.ts. #>
    param([string]$Endpoint)
    $probes = New-Object System.Collections.Generic.List[object]
    $probes.Add([ordered]@{ probe = 'host'; subject = $null; result = (Invoke-RawCall -Properties @('Name', 'Version') -Call { $Host }) })
    if ($Endpoint -ceq 'fvp') {
        $probes.Add([ordered]@{ probe = 'Get-PrnxObject -Type PrnxMServer'; subject = $null; result = (Invoke-RawCall -Properties $null -Call { Get-PrnxObject -Type PrnxMServer -ErrorAction Stop }) })
        $probes.Add([ordered]@{ probe = '(Get-Command Set-PrnxProperty).Parameters.Keys'; subject = $null; result = (Invoke-RawCall -Properties $null -Call { @((Get-Command -Name Set-PrnxProperty -ErrorAction Stop).Parameters.Keys) }) })
        $probes.Add([ordered]@{ probe = '(Get-Command Set-PrnxAccelerationPolicy).Parameters.Keys'; subject = $null; result = (Invoke-RawCall -Properties $null -Call { @((Get-Command -Name Set-PrnxAccelerationPolicy -ErrorAction Stop).Parameters.Keys) }) })
        $vm = @(Get-PrnxVM -ErrorAction Stop | Where-Object { -not [string]::IsNullOrEmpty([string]$_.flashCluster) }) | Select-Object -First 1
        if ($null -ne $vm) {
            $uuid = [string]$vm.uuid
            $subject = [string]$vm.Name
            $probes.Add([ordered]@{ probe = 'Get-PrnxVM (first accelerated)'; subject = $subject; result = (Invoke-RawCall -Properties $null -Call { $vm }) })
            $probes.Add([ordered]@{ probe = 'Get-PrnxAccelerationPolicy -UUID'; subject = $subject; result = (Invoke-RawCall -Properties $null -Call { Get-PrnxAccelerationPolicy -UUID $uuid -ErrorAction Stop }) })
            $probes.Add([ordered]@{ probe = 'Get-PrnxAccelerationPolicy -UUID -Effective'; subject = $subject; result = (Invoke-RawCall -Properties $null -Call { Get-PrnxAccelerationPolicy -UUID $uuid -Effective -ErrorAction Stop }) })
            $probes.Add([ordered]@{ probe = 'Get-PrnxObjectStats -NumberOfSamples 1'; subject = $subject; result = (Invoke-RawCall -Properties $null -Call { Get-PrnxObjectStats -ObjectIdentifier $uuid -NumberOfSamples 1 -ErrorAction Stop }) })
            $probes.Add([ordered]@{ probe = 'Get-PrnxObjectStats -StartTime 0 -NumberOfSamples 1'; subject = $subject; result = (Invoke-RawCall -Properties $null -Call { Get-PrnxObjectStats -ObjectIdentifier $uuid -StartTime 0 -NumberOfSamples 1 -ErrorAction Stop }) })
        }
    } else {
        $probes.Add([ordered]@{ probe = 'Get-Module Veeam.Backup.PowerShell'; subject = $null; result = (Invoke-RawCall -Properties @('Name', 'Version') -Call { Get-Module -Name $script:Veeam.Module }) })
        foreach ($job in @(Get-VBRJob -ErrorAction Stop)) {
            $name = [string]$job.Name
            $probes.Add([ordered]@{ probe = 'job schedule and objects'; subject = $name; result = (Invoke-RawCall -Properties $null -Call { [pscustomobject]@{ IsScheduleEnabled = $job.IsScheduleEnabled; Objects = ((@(Get-VBRJobObject -Job $job -ErrorAction Stop) | ForEach-Object { "$($_.Name) [$($_.Type)]" }) -join '; ') } }) })
        }
        $first = @(Get-VBRJob -ErrorAction Stop) | Select-Object -First 1
        if ($null -ne $first) {
            foreach ($lookup in @('FindLastSession', 'GetByJob', 'JobParameter')) {
                $probes.Add([ordered]@{ probe = "session lookup $lookup"; subject = [string]$first.Name; result = (Invoke-RawCall -Properties $null -Call {
                            $watch = [System.Diagnostics.Stopwatch]::StartNew()
                            $count = @(Get-JobSessions -Job $first -Lookup $lookup).Count
                            [pscustomobject]@{ Milliseconds = $watch.ElapsedMilliseconds; Sessions = $count }
                        }) })
            }
        }
    }
    return $probes.ToArray()
}

function Get-Doctor {
    <# args: {} -> DoctorReport: what this host has, and what is missing for this module to work. #>
    param($OpArgs)
    $problems = New-Object System.Collections.Generic.List[string]
    $endpoint = $script:Endpoint
    if ($null -eq $endpoint) { $endpoint = Get-EndpointName }
    $moduleName = $script:Fvp.Module
    $ping = $script:Fvp.PingCommand
    if ($endpoint -ceq 'veeam') { $moduleName = $script:Veeam.Module; $ping = $script:Veeam.PingCommand }

    if ($endpoint -ceq 'fvp' -and $PSVersionTable.PSEdition -ceq 'Core') {
        $problems.Add('FVP runs on PowerShell Core here; prnxcli is built for Windows PowerShell 5.1 (use powershell.exe)')
    }

    $modules = New-Object System.Collections.Generic.List[object]
    $loaded = Get-Module -Name $moduleName
    if ($null -eq $loaded) {
        try { $loaded = Import-Module -Name $moduleName -DisableNameChecking -PassThru -ErrorAction Stop }
        catch { $problems.Add("module $moduleName does not load: $($_.Exception.Message)") }
    }
    $version = $null
    if ($null -ne $loaded) { $version = [string](@($loaded)[0].Version) }
    $modules.Add([ordered]@{ name = $moduleName; loaded = ($null -ne $loaded); version = $version })

    $cmdlets = New-Object System.Collections.Generic.List[object]
    $required = $script:RequiredCommands[$endpoint]
    foreach ($commandName in $required.Keys) {
        $command = Get-Command -Name $commandName -ErrorAction SilentlyContinue
        $missing = New-Object System.Collections.Generic.List[string]
        if ($null -eq $command) {
            $problems.Add("cmdlet $commandName is missing")
        } else {
            foreach ($parameter in $required[$commandName]) {
                if (-not $command.Parameters.ContainsKey($parameter)) {
                    $missing.Add($parameter)
                    $problems.Add("cmdlet $commandName has no -$parameter parameter")
                }
            }
        }
        $cmdlets.Add([ordered]@{ name = $commandName; present = ($null -ne $command); missingParameters = $missing.ToArray() })
    }

    $reachable = $false
    if ($null -eq $script:Endpoint) {
        $problems.Add('not connected: Connect-Endpoint has not succeeded in this session')
    } else {
        try {
            $answer = & $ping -ErrorAction Stop | Select-Object -First 1
            $reachable = $true
            if ($endpoint -ceq 'veeam' -and $null -eq $answer) {
                $reachable = $false
                $problems.Add('Get-VBRServerSession reports no connection to the Veeam server')
            }
            if ($endpoint -ceq 'fvp' -and $null -ne $answer) {
                # Check the unconfirmed Get-PrnxVM property names on a real object.
                foreach ($property in @($script:Fvp.VmNameProperty, $script:Fvp.VmUuidProperty, $script:Fvp.VmEffectivePolicyProperty,
                        $script:Fvp.VmPeersProperty, $script:Fvp.VmExternalPeersProperty, $script:Fvp.VmFlashClusterProperty)) {
                    if ($null -eq $answer.PSObject.Properties[$property]) { $problems.Add("Get-PrnxVM objects have no property '$property'") }
                }
            }
        } catch {
            $problems.Add("server $($script:Server) does not answer: $($_.Exception.Message)")
        }
    }

    $observations = New-Object System.Collections.Generic.List[object]
    if ($reachable) {
        foreach ($observation in @(Get-DoctorObservations -Endpoint $endpoint)) { $observations.Add($observation) }
    }

    return [ordered]@{
        observations    = $observations.ToArray()
        endpoint        = $endpoint
        psEdition       = [string]$PSVersionTable.PSEdition
        psVersion       = [string]$PSVersionTable.PSVersion
        modules         = $modules.ToArray()
        cmdlets         = $cmdlets.ToArray()
        serverReachable = $reachable
        problems        = $problems.ToArray()
    }
}

Export-ModuleMember -Function (@('Invoke-Op', 'Invoke-OpJson', 'Connect-Vendor') + $script:OperationNames)
