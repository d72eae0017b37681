#!powershell

# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

#AnsibleRequires -CSharpUtil Ansible.Basic
#AnsibleRequires -CSharpUtil Ansible.Privilege
#AnsibleRequires -CSharpUtil ..module_utils.BackupReady

# Read-only probe: gathers the host state document (plugins/plugin_utils/_state.py STATE_SPEC) in one call, tests a
# list of paths for existence and lists the backup store. It takes no decision: the Python brain on the controller
# does. Path security (filemaps, its files, PendingRenames) and the backup listing are read by BackupReady.cs (raw
# descriptors on handles opened with backup intent; the store's trust rule), which the test suite runs under mono.
# Windows PowerShell 5.1 and PowerShell 7 take the same path. See docs/powershell-review.md.

$spec = @{
    options = @{
        gather = @{ type = 'bool'; default = $true }
        paths = @{ type = 'list'; elements = 'str'; default = @() }
        max_events = @{ type = 'int'; default = 50 }
        event_days = @{ type = 'int'; default = 30 }
        vssadmin = @{ type = 'bool'; default = $true }
        filemaps_samples = @{ type = 'int'; default = 5 }
        backups = @{ type = 'int'; default = 0 }
        backup_dir = @{ type = 'path'; default = '%ProgramData%\backupready\backups' }
        selftest_run_id = @{ type = 'str' }
    }
    supports_check_mode = $true
}
$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)
$module.Result.changed = $false

foreach ($limit in @(@('max_events', 1), @('filemaps_samples', 0), @('event_days', 0), @('backups', 0))) {
    if ($module.Params[$limit[0]] -lt $limit[1]) {
        $module.FailJson("$($limit[0]) must be $($limit[1]) or more, not $($module.Params[$limit[0]])")
    }
}
# The OS as the engine sees it; the probe never starts or restarts a service (no delegates).
$hostOs = [BackupReady.WindowsHostOs]::new($null, $null)

$DoNotExpand = [Microsoft.Win32.RegistryValueOptions]::DoNotExpandEnvironmentNames
$Invariant = [System.Globalization.CultureInfo]::InvariantCulture

Function ConvertTo-IsoUtc {
    param([Parameter(Mandatory = $true)][DateTime]$Time)
    # Invariant culture: a custom format's ':' is the culture's time separator otherwise.
    $Time.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", $Invariant)
}

Function Get-StringValue {
    # A REG_SZ / REG_EXPAND_SZ value as stored (not expanded), or $null for any other kind or when absent.
    param([Parameter(Mandatory = $true)][Microsoft.Win32.RegistryKey]$Key, [Parameter(Mandatory = $true)][string]$Name)
    $value = $Key.GetValue($Name, $null, $DoNotExpand)
    if ($value -is [string]) { $value } else { $null }
}

Function Get-HostFact {
    $os = Get-CimInstance -ClassName Win32_OperatingSystem -Property 'Version', 'BuildNumber', 'Caption', 'ProductType'
    $productTypes = @{ 1 = 'workstation'; 2 = 'domain_controller'; 3 = 'server' }
    $productType = [int]$os.ProductType
    if (-not $productTypes.ContainsKey($productType)) {
        throw "Win32_OperatingSystem.ProductType is $productType, not 1, 2 or 3"
    }
    $build = $null
    $parsedBuild = 0
    if ([int]::TryParse([string]$os.BuildNumber, [ref]$parsedBuild)) { $build = $parsedBuild }
    @{
        name = [System.Environment]::MachineName
        os_version = [string]$os.Version
        os_build = $build
        os_caption = $os.Caption
        product_type = $productTypes[$productType]
        system_root = $env:SystemRoot
        system_drive = $env:SystemDrive
        powershell_version = $PSVersionTable.PSVersion.ToString()
    }
}

Function Get-VolumeList {
    $volumes = [System.Collections.Generic.List[object]]@()
    foreach ($volume in (Get-CimInstance -ClassName Win32_Volume -Property 'DriveLetter', 'Name', 'FileSystem')) {
        $volumes.Add(@{
                drive_letter = $volume.DriveLetter
                mount_point = [string]$volume.Name
                file_system = $volume.FileSystem
            })
    }
    @{ list = $volumes }
}

Function Get-ServiceSecurity {
    # Services\<name>\Security, value Security (binary); no value means the SCM default.
    param([Parameter(Mandatory = $true)][Microsoft.Win32.RegistryKey]$ServiceKey)
    $securityKey = $null
    try {
        $securityKey = $ServiceKey.OpenSubKey('Security')
        if ($null -eq $securityKey) {
            return @{ sddl = $null; source = 'default' }
        }
        $bytes = $securityKey.GetValue('Security', $null, $DoNotExpand)
        if ($null -eq $bytes) {
            return @{ sddl = $null; source = 'default' }
        }
        if ($bytes -isnot [byte[]]) {
            return @{ sddl = $null; source = 'unreadable' }
        }
        $descriptor = [System.Security.AccessControl.RawSecurityDescriptor]::new($bytes, 0)
        @{ sddl = $descriptor.GetSddlForm([System.Security.AccessControl.AccessControlSections]::All); source = 'registry' }
    }
    catch {
        @{ sddl = $null; source = 'unreadable' }
    }
    finally {
        if ($null -ne $securityKey) { $securityKey.Dispose() }
    }
}

Function Get-ServiceList {
    # One pass over the Services key; one CIM query each for Win32_Service and Win32_SystemDriver (not one per service).
    $scm = @{}  # case-insensitive, like service names
    try {
        foreach ($className in @('Win32_SystemDriver', 'Win32_Service')) {
            foreach ($instance in (Get-CimInstance -ClassName $className -Property 'Name', 'State', 'PathName')) {
                $scm[[string]$instance.Name] = $instance
            }
        }
    }
    catch {
        $module.Warn("services: the SCM view (Win32_Service, Win32_SystemDriver) cannot be read, state and scm_path are null: $($_.Exception.Message)")
        $scm = @{}
    }
    $startModes = @('boot', 'system', 'auto', 'manual', 'disabled')  # Start value 0..4
    $states = @('running', 'stopped', 'start_pending', 'stop_pending', 'continue_pending', 'pause_pending', 'paused', 'unknown')
    $services = [System.Collections.Generic.List[object]]@()
    $skipped = [System.Collections.Generic.List[string]]@()
    $servicesKey = [Microsoft.Win32.Registry]::LocalMachine.OpenSubKey('SYSTEM\CurrentControlSet\Services')
    if ($null -eq $servicesKey) { throw 'HKLM\SYSTEM\CurrentControlSet\Services cannot be opened' }
    try {
        foreach ($name in $servicesKey.GetSubKeyNames()) {
            $key = $null
            try {
                $key = $servicesKey.OpenSubKey($name)
                if ($null -eq $key) { continue }
                $type = [BackupReady.RegistryValue]::Read($key, 'Type')
                if ($type.kind -ne 'REG_DWORD') { continue }
                $start = [BackupReady.RegistryValue]::Read($key, 'Start')
                $startMode = 'unknown'
                # data is a UInt32: compare as [long] first, an [int] cast of 0xFFFFFFFF would throw.
                if ($start.kind -eq 'REG_DWORD' -and [long]$start.data -le 4) {
                    $startMode = $startModes[[int]$start.data]
                }
                $state = $null
                $scmPath = $null
                if ($scm.ContainsKey($name)) {
                    $instance = $scm[$name]
                    $state = ([string]$instance.State).ToLowerInvariant().Replace(' ', '_')
                    if ($states -notcontains $state) { $state = 'unknown' }
                    $scmPath = $instance.PathName
                }
                $services.Add(@{
                        name = $name
                        display_name = Get-StringValue -Key $key -Name 'DisplayName'
                        type = $type.data
                        start_mode = $startMode
                        state = $state
                        account = Get-StringValue -Key $key -Name 'ObjectName'
                        image_path = [BackupReady.RegistryValue]::Read($key, 'ImagePath')
                        scm_path = $scmPath
                        security = Get-ServiceSecurity -ServiceKey $key
                    })
            }
            catch {
                $skipped.Add("$name ($($_.Exception.Message))")
            }
            finally {
                if ($null -ne $key) { $key.Dispose() }
            }
        }
    }
    finally {
        $servicesKey.Dispose()
    }
    if ($skipped.Count -gt 0) {
        $module.Warn("services: $($skipped.Count) service key(s) could not be read and are left out: $($skipped -join '; ')")
    }
    @{ list = $services }
}

Function Get-KeyValueMap {
    # Every value of a key, name -> value object; key_exists false when the key is absent (a key that cannot be read
    # throws: the section then says "could not be read", never "absent").
    param([Parameter(Mandatory = $true)][string]$SubKey)
    $values = New-Object -TypeName 'System.Collections.Generic.Dictionary[string,object]'
    $key = [Microsoft.Win32.Registry]::LocalMachine.OpenSubKey($SubKey)
    if ($null -eq $key) {
        return @{ key_exists = $false; values = $values; error = $null }
    }
    try {
        foreach ($name in $key.GetValueNames()) {
            $values[$name] = [BackupReady.RegistryValue]::Read($key, $name)
        }
    }
    finally {
        $key.Dispose()
    }
    @{ key_exists = $true; values = $values; error = $null }
}

Function Get-SystemWriter {
    $found = Get-KeyValueMap -SubKey 'SYSTEM\CurrentControlSet\Control\SystemWriter'
    $section = @{
        key_exists = $found.key_exists
        error = $null
        excluded_binary_paths = [BackupReady.RegistryValue]::Missing()
        report_win32_services_non_system_state = [BackupReady.RegistryValue]::Missing()
        other_values = New-Object -TypeName 'System.Collections.Generic.Dictionary[string,object]'
    }
    # Index syntax for the key 'values': dot syntax could mean the Hashtable's own Values property.
    $foundValues = $found['values']
    foreach ($name in $foundValues.Keys) {
        if ($name -eq 'ExcludedBinaryPaths') {
            $section.excluded_binary_paths = $foundValues[$name]
        }
        elseif ($name -eq 'ReportWin32ServicesNonSystemState') {
            $section.report_win32_services_non_system_state = $foundValues[$name]
        }
        else {
            $section.other_values[$name] = $foundValues[$name]
        }
    }
    $section
}

Function Invoke-Vssadmin {
    # Run once, no shell. A console program started without a console writes in the system OEM code page (GetOEMCP),
    # not in the OEM code page of the remote user's culture (which can differ over WinRM).
    $codePage = [BackupReady.WindowsHostOs]::OemCodePage()
    $section = @{ collected = $false; exit_code = $null; stdout = ''; stderr = ''; encoding = $codePage }
    if (-not $module.Params.vssadmin) {
        $section.stderr = 'not collected: the vssadmin option is false'
        return $section
    }
    $systemDir = [System.Environment]::SystemDirectory
    if ([System.Environment]::Is64BitOperatingSystem -and -not [System.Environment]::Is64BitProcess) {
        # A 32-bit process sees SysWOW64 as System32, and there is no 32-bit vssadmin.exe.
        $systemDir = Join-Path -Path $env:SystemRoot -ChildPath 'Sysnative'
    }
    $encoding = [System.Text.Encoding]::GetEncoding($codePage)
    $startInfo = New-Object -TypeName System.Diagnostics.ProcessStartInfo
    $startInfo.FileName = Join-Path -Path $systemDir -ChildPath 'vssadmin.exe'
    $startInfo.Arguments = 'list writers'
    $startInfo.UseShellExecute = $false
    $startInfo.CreateNoWindow = $true
    $startInfo.RedirectStandardOutput = $true
    $startInfo.RedirectStandardError = $true
    $startInfo.StandardOutputEncoding = $encoding
    $startInfo.StandardErrorEncoding = $encoding
    $process = $null
    try {
        $process = [System.Diagnostics.Process]::Start($startInfo)
    }
    catch {
        $section.stderr = "vssadmin.exe could not be started ($($startInfo.FileName)): $($_.Exception.Message)"
        return $section
    }
    try {
        # Read both streams asynchronously: a full stderr pipe must not block the process. stdout is read as bytes and
        # decoded here, so that the self-test can return the bytes as vssadmin wrote them (stdout_base64).
        $stdoutBytes = New-Object -TypeName System.IO.MemoryStream
        $stdoutTask = $process.StandardOutput.BaseStream.CopyToAsync($stdoutBytes)
        $stderrTask = $process.StandardError.ReadToEndAsync()
        if (-not $process.WaitForExit(300000)) {
            $process.Kill()
            $section.stderr = 'vssadmin list writers did not finish within 300 seconds and was stopped'
            return $section
        }
        $process.WaitForExit()
        $stdoutTask.Wait()
        $raw = $stdoutBytes.ToArray()
        $section.collected = $true
        $section.exit_code = $process.ExitCode
        $section.stdout = $encoding.GetString($raw)
        $section.stderr = $stderrTask.Result
        if ($module.Params.selftest_run_id) {
            $section.stdout_base64 = [System.Convert]::ToBase64String($raw)
        }
    }
    finally {
        $process.Dispose()
    }
    $section
}

Function Get-EventList {
    # One query at a time, each in its own try/catch; a per-query status tells "no events" from a wrong provider or log.
    param([Parameter(Mandatory = $true)][int]$MaxEvents, [Parameter(Mandatory = $true)][int]$Days)
    $levels = @{ 0 = 'information'; 1 = 'critical'; 2 = 'error'; 3 = 'warning'; 4 = 'information'; 5 = 'verbose' }
    $startTime = (Get-Date).AddDays(-$Days)
    $queries = @(
        @{ LogName = 'Application'; ProviderName = 'Microsoft-Windows-CAPI2'; Id = @(512, 513) },
        @{ LogName = 'Application'; ProviderName = 'Microsoft-Windows-Backup'; Id = @(517, 521) },
        @{ LogName = 'Microsoft-Windows-Backup'; Id = @(5) },
        @{ LogName = 'Application'; ProviderName = 'VSS'; Id = @(8193, 8213) }
    )
    $events = [System.Collections.Generic.List[object]]@()
    $statuses = [System.Collections.Generic.List[object]]@()
    foreach ($query in $queries) {
        $provider = $null
        if ($query.ContainsKey('ProviderName')) { $provider = $query.ProviderName }
        $status = @{ log = $query.LogName; provider = $provider; ids = $query.Id; status = 'ok'; count = 0; error = $null }
        $statuses.Add($status)
        $filter = $query.Clone()
        $filter.StartTime = $startTime
        $queryErrors = $null
        $found = @()
        try {
            # "No events found" and "no such log/provider" are errors unless silenced (Get-WinEvent docs); they become the
            # status of the query. A terminating error (a bad query, EventLogException) fails this query only.
            $found = Get-WinEvent -FilterHashtable $filter -MaxEvents $MaxEvents -ErrorAction SilentlyContinue -ErrorVariable queryErrors
        }
        catch {
            $status.status = 'failed'
            $status.error = $_.Exception.Message
            $module.Warn("events: query $($query.LogName)/$($query.Id -join ',') failed: $($_.Exception.Message)")
            continue
        }
        foreach ($queryError in @($queryErrors)) {
            if ($null -eq $queryError) { continue }
            $errorId = [string]$queryError.FullyQualifiedErrorId
            if ($errorId.StartsWith('NoMatchingEventsFound')) {
                $status.status = 'no_events'
            }
            elseif ($errorId.StartsWith('NoMatchingLogsFound')) {
                $status.status = 'no_log'
            }
            elseif ($errorId.StartsWith('NoMatchingProvidersFound')) {
                $status.status = 'no_provider'
            }
            else {
                $status.status = 'failed'
                $status.error = [string]$queryError
                $module.Warn("events: query $($query.LogName)/$($query.Id -join ',') failed: $queryError")
            }
        }
        foreach ($record in @($found)) {
            if ($null -eq $record) { continue }
            $message = $null
            try { $message = $record.Message } catch { $message = $null }
            $level = $null
            if ($null -ne $record.Level -and $levels.ContainsKey([int]$record.Level)) { $level = $levels[[int]$record.Level] }
            $time = $null
            if ($null -ne $record.TimeCreated) { $time = ConvertTo-IsoUtc -Time $record.TimeCreated }
            $properties = [System.Collections.Generic.List[object]]@()
            foreach ($property in $record.Properties) {
                if ($null -eq $property.Value) { $properties.Add($null) } else { $properties.Add([string]$property.Value) }
            }
            $events.Add(@{
                    log = [string]$record.LogName
                    provider = [string]$record.ProviderName
                    id = [int]$record.Id
                    time_created = $time
                    level = $level
                    message = $message
                    properties = $properties
                })
            # Index syntax for the key 'count': dot syntax could mean the Hashtable's own Count property.
            $status['count'] = $status['count'] + 1
        }
    }
    @{ list = $events; queries = $statuses }
}

Function Get-WsbLogLine {
    # The 5 newest *.log files; lines starting "Error in backup of" (KB 2747459 line format), 200 at most.
    $lines = [System.Collections.Generic.List[object]]@()
    $folder = Join-Path -Path $env:SystemRoot -ChildPath 'Logs\WindowsServerBackup'
    if (-not [System.IO.Directory]::Exists($folder)) {
        return @{ list = $lines }
    }
    $files = (New-Object -TypeName System.IO.DirectoryInfo -ArgumentList $folder).GetFiles('*.log') |
        Sort-Object -Property LastWriteTimeUtc -Descending |
        Select-Object -First 5
    foreach ($file in $files) {
        if ($lines.Count -ge 200) { break }
        try {
            # Shared read: wbengine may still hold the newest log open. The reader detects the UTF-16 BOM.
            $stream = [System.IO.FileStream]::new($file.FullName, [System.IO.FileMode]::Open, [System.IO.FileAccess]::Read,
                [System.IO.FileShare]::ReadWrite)
            $reader = [System.IO.StreamReader]::new($stream, $true)
            try {
                while ($null -ne ($line = $reader.ReadLine())) {
                    if ($line.StartsWith('Error in backup of', [System.StringComparison]::Ordinal)) {
                        $lines.Add(@{ file = $file.FullName; line = $line })
                        if ($lines.Count -ge 200) { break }
                    }
                }
            }
            finally {
                $reader.Dispose()
                $stream.Dispose()
            }
        }
        catch {
            $module.Warn("wsb_log_lines: $($file.FullName) cannot be read: $($_.Exception.Message)")
        }
    }
    @{ list = $lines }
}

Function Test-PathList {
    # path as given -> true / false, or null when it cannot be tested (invalid characters or format).
    param([Parameter(Mandatory = $true)][AllowEmptyCollection()][object[]]$Paths)
    $result = New-Object -TypeName 'System.Collections.Generic.Dictionary[string,object]' -ArgumentList ([System.StringComparer]::Ordinal)
    foreach ($path in $Paths) {
        $given = [string]$path
        $exists = $null
        try {
            $expanded = [System.Environment]::ExpandEnvironmentVariables($given)
            if ($expanded.IndexOfAny([System.IO.Path]::GetInvalidPathChars()) -lt 0) {
                $null = [System.IO.Path]::GetFullPath($expanded)  # throws on an invalid format ("C:\a:b", "")
                $exists = [System.IO.File]::Exists($expanded) -or [System.IO.Directory]::Exists($expanded)
            }
        }
        catch {
            $exists = $null
        }
        $result[$given] = $exists
    }
    @{ map = $result }
}

# Sections that could not be read, name -> why: the state's 'unreadable' map (a list that failed reads as empty
# otherwise, and an empty service list would read as "no service").
$unreadable = @{}

Function Invoke-Section {
    # Run one section; on failure warn with its name and return the fallback with the error in its 'error' key: a
    # section that fails says "could not be read", never "absent" (its key_exists / exists is null, not false).
    param([Parameter(Mandatory = $true)][string]$Name, [Parameter(Mandatory = $true)][scriptblock]$Gather, [AllowNull()][object]$Empty)
    try {
        & $Gather
    }
    catch {
        $why = "$Name could not be read: $($_.Exception.Message)"
        $module.Warn($why)
        $unreadable[$Name] = $why
        if ($Empty -is [hashtable] -and $Empty.ContainsKey('error')) {
            $Empty['error'] = $why
        }
        $Empty
    }
}

if ($module.Params.paths.Count -gt 0) {
    $module.Result.paths = (Test-PathList -Paths $module.Params.paths).map
}

if ($module.Params.backups -gt 0) {
    # Not a section: an empty list on failure would read as "no backup" and a rollback would do nothing silently.
    # Only trusted entries carry their record (docs/write-path.md section 4); the others say why they are not trusted.
    $backupDir = [System.Environment]::ExpandEnvironmentVariables($module.Params.backup_dir)
    try {
        $listing = [BackupReady.BackupEngine]::ListBackups($hostOs, $backupDir, $module.Params.backups)
    }
    catch {
        $module.FailJson("the backups under $backupDir could not be listed: $($_.Exception.Message)", $_)
    }
    $module.Result.backups = $listing['backups']
    $module.Result.store = $listing['store']
}

if ($module.Params.gather) {
    $systemRoot = $env:SystemRoot
    try {
        $hostFact = Get-HostFact
    }
    catch {
        # No valid empty value exists for the host facts (product type decides domain controller rules).
        $module.FailJson("host facts could not be read from Win32_OperatingSystem: $($_.Exception.Message)", $_)
    }
    $emptyList = @{ list = [System.Collections.Generic.List[object]]@() }
    # Fallbacks of sections that fail: unknown (null), never absent, with the error (see Invoke-Section).
    $emptyValues = @{ key_exists = $null; values = @{}; error = $null }
    $emptySystemWriter = @{
        key_exists = $null
        excluded_binary_paths = [BackupReady.RegistryValue]::Missing()
        report_win32_services_non_system_state = [BackupReady.RegistryValue]::Missing()
        error = $null
    }
    $filemapsPath = Join-Path -Path $systemRoot -ChildPath 'winsxs\filemaps'
    $pendingPath = Join-Path -Path $systemRoot -ChildPath 'winsxs\temp\PendingRenames'
    $emptyFilemaps = @{ path = $filemapsPath; exists = $null; sddl = $null; error = $null; files = $null }
    $emptyPending = @{ path = $pendingPath; exists = $null; sddl = $null; error = $null }
    $emptyEvents = @{ list = [System.Collections.Generic.List[object]]@(); queries = [System.Collections.Generic.List[object]]@() }

    $volumes = Invoke-Section -Name 'volumes' -Gather { Get-VolumeList } -Empty $emptyList
    $services = Invoke-Section -Name 'services' -Gather { Get-ServiceList } -Empty $emptyList
    $systemWriter = Invoke-Section -Name 'system_writer' -Gather { Get-SystemWriter } -Empty $emptySystemWriter
    $vssadmin = Invoke-Section -Name 'vssadmin' -Gather { Invoke-Vssadmin } -Empty @{
        collected = $false; exit_code = $null; stdout = ''; stderr = 'not collected: the vssadmin section failed'
        encoding = [BackupReady.WindowsHostOs]::OemCodePage()
    }
    # SeBackupPrivilege: the raw reads open files with backup intent, so a DACL that denies Administrators does not
    # hide a descriptor (acl-broken filemaps deny Users, Administrators among them). SeSecurityPrivilege lets the SACL
    # be read. Strict $false: without them the reads go on (the SACL is then left out).
    $privilege = $null
    try {
        $privilege = New-Object -TypeName Ansible.Privilege.PrivilegeEnabler -ArgumentList $false, 'SeBackupPrivilege', 'SeSecurityPrivilege'
    }
    catch {
        $module.Warn("SeBackupPrivilege and SeSecurityPrivilege could not be enabled: $($_.Exception.Message)")
    }
    try {
        $samples = $module.Params.filemaps_samples
        $filemaps = Invoke-Section -Name 'filemaps' -Gather {
            [BackupReady.BackupEngine]::PathSecurity($hostOs, $filemapsPath, $true, $samples)
        } -Empty $emptyFilemaps
        $pending = Invoke-Section -Name 'pending_renames' -Gather {
            [BackupReady.BackupEngine]::PathSecurity($hostOs, $pendingPath, $false, 0)
        } -Empty $emptyPending
        $sandbox = $null
        if ($module.Params.selftest_run_id) {
            # The self-test sandbox folder of that run (docs/selftest.md), read as filemaps is; Folder refuses any other.
            # A failure lands in unreadable, and the folder's exists is then null (not known), never false.
            $sandboxRunId = $module.Params.selftest_run_id
            $sandbox = Invoke-Section -Name 'selftest_sandbox' -Gather {
                $sandboxPath = [BackupReady.SelftestSandbox]::Folder($hostOs, $sandboxRunId)
                @{ run_id = $sandboxRunId
                    folder = [BackupReady.BackupEngine]::PathSecurity($hostOs, $sandboxPath, $true, $samples) }
            } -Empty @{ run_id = $sandboxRunId; error = $null
                folder = @{ path = $null; exists = $null; sddl = $null; files = $null; error = 'selftest_sandbox could not be read' } }
        }
    }
    finally {
        if ($null -ne $privilege) { $privilege.Dispose() }
    }
    $vssAccess = Invoke-Section -Name 'vss_access_control' -Gather {
        Get-KeyValueMap -SubKey 'SYSTEM\CurrentControlSet\Services\VSS\VssAccessControl'
    } -Empty $emptyValues
    $maxEvents = $module.Params.max_events
    $eventDays = $module.Params.event_days
    $events = Invoke-Section -Name 'events' -Gather { Get-EventList -MaxEvents $maxEvents -Days $eventDays } -Empty $emptyEvents
    $wsbLines = Invoke-Section -Name 'wsb_log_lines' -Gather { Get-WsbLogLine } -Empty $emptyList

    $module.Result.state = @{
        schema_version = 1
        collected_at = ConvertTo-IsoUtc -Time ([DateTime]::UtcNow)
        collector = 'backupready.windows.win_backup_state'
        host = $hostFact
        volumes = $volumes.list
        services = $services.list
        system_writer = $systemWriter
        vssadmin = $vssadmin
        filemaps = $filemaps
        pending_renames = $pending
        vss_access_control = $vssAccess
        events = $events.list
        event_queries = $events.queries
        wsb_log_lines = $wsbLines.list
        paths = @{}
        unreadable = $unreadable
    }
    if ($null -ne $sandbox) {
        $module.Result.state.selftest_sandbox = $sandbox
    }
}

$module.ExitJson()
