#!powershell

# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

#AnsibleRequires -CSharpUtil Ansible.Basic
#AnsibleRequires -CSharpUtil Ansible.Privilege
#AnsibleRequires -CSharpUtil ..module_utils.BackupReady

# Read-only probe: gathers the host state document (plugins/plugin_utils/_state.py STATE_SPEC) in one call, and
# tests a list of paths for existence. It takes no decision: the Python brain on the controller does.
# Reviewed line by line against docs/POWERSHELL.md; see docs/powershell-review.md.

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
    }
    supports_check_mode = $true
}
$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)
$module.Result.changed = $false

$DoNotExpand = [Microsoft.Win32.RegistryValueOptions]::DoNotExpandEnvironmentNames
$Invariant = [System.Globalization.CultureInfo]::InvariantCulture
$SecuritySectionsFull = [System.Security.AccessControl.AccessControlSections]'Owner, Group, Access, Audit'
$SecuritySectionsNoAudit = [System.Security.AccessControl.AccessControlSections]'Owner, Group, Access'

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
    # Services\<name>\Security, value Security (binary); no value means the SCM default (POWERSHELL.md).
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
    # Every value of a key, name -> value object; key_exists false when the key is absent.
    param([Parameter(Mandatory = $true)][string]$SubKey)
    $values = New-Object -TypeName 'System.Collections.Generic.Dictionary[string,object]'
    $key = [Microsoft.Win32.Registry]::LocalMachine.OpenSubKey($SubKey)
    if ($null -eq $key) {
        return @{ key_exists = $false; values = $values }
    }
    try {
        foreach ($name in $key.GetValueNames()) {
            $values[$name] = [BackupReady.RegistryValue]::Read($key, $name)
        }
    }
    finally {
        $key.Dispose()
    }
    @{ key_exists = $true; values = $values }
}

Function Get-SystemWriter {
    $found = Get-KeyValueMap -SubKey 'SYSTEM\CurrentControlSet\Control\SystemWriter'
    $section = @{
        key_exists = $found.key_exists
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
    # Run once, no shell; decode with the OEM code page (the console code page vssadmin writes in).
    $codePage = [System.Globalization.CultureInfo]::CurrentCulture.TextInfo.OEMCodePage
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
        # Read both streams asynchronously: a full stderr pipe must not block the process.
        $stdoutTask = $process.StandardOutput.ReadToEndAsync()
        $stderrTask = $process.StandardError.ReadToEndAsync()
        if (-not $process.WaitForExit(300000)) {
            $process.Kill()
            $section.stderr = 'vssadmin list writers did not finish within 300 seconds and was stopped'
            return $section
        }
        $process.WaitForExit()
        $section.collected = $true
        $section.exit_code = $process.ExitCode
        $section.stdout = $stdoutTask.Result
        $section.stderr = $stderrTask.Result
    }
    finally {
        $process.Dispose()
    }
    $section
}

Function Get-SddlOfPath {
    # SDDL of a file or folder with the SACL when SeSecurityPrivilege allows it, else owner, group and DACL.
    param(
        [Parameter(Mandatory = $true)][string]$Path,
        [Parameter(Mandatory = $true)][bool]$Directory,
        [Parameter(Mandatory = $true)][System.Security.AccessControl.AccessControlSections]$Sections
    )
    if ($Directory) {
        $security = [System.IO.Directory]::GetAccessControl($Path, $Sections)
    }
    else {
        $security = [System.IO.File]::GetAccessControl($Path, $Sections)
    }
    $security.GetSecurityDescriptorSddlForm($Sections)
}

Function Get-PathSecurity {
    param(
        [Parameter(Mandatory = $true)][string]$Path,
        [Parameter(Mandatory = $true)][bool]$WithFiles,
        [Parameter(Mandatory = $true)][int]$Samples
    )
    $section = @{ path = $Path; exists = $false; sddl = $null; error = $null }
    if ($WithFiles) { $section.files = $null }
    $section.exists = [System.IO.Directory]::Exists($Path)
    if (-not $section.exists) {
        return $section
    }
    $sections = $SecuritySectionsFull
    try {
        $section.sddl = Get-SddlOfPath -Path $Path -Directory $true -Sections $sections
    }
    catch {
        $sections = $SecuritySectionsNoAudit
        try {
            $section.sddl = Get-SddlOfPath -Path $Path -Directory $true -Sections $sections
        }
        catch {
            $section.error = "$Path security cannot be read: $($_.Exception.Message)"
        }
    }
    if (-not $WithFiles) {
        return $section
    }
    # One pass, .NET calls only (20,000 files): group the files by SDDL string (ordinal, case-sensitive).
    $groups = New-Object -TypeName 'System.Collections.Generic.Dictionary[string,object]' -ArgumentList ([System.StringComparer]::Ordinal)
    $order = [System.Collections.Generic.List[object]]@()
    $unreadable = $null
    $count = 0
    try {
        foreach ($file in [System.IO.Directory]::EnumerateFiles($Path)) {
            $count++
            $sddl = $null
            try {
                $sddl = Get-SddlOfPath -Path $file -Directory $false -Sections $sections
            }
            catch {
                try {
                    $sddl = Get-SddlOfPath -Path $file -Directory $false -Sections $SecuritySectionsNoAudit
                }
                catch {
                    $sddl = $null
                }
            }
            if ($null -eq $sddl) {
                if ($null -eq $unreadable) {
                    $unreadable = @{ sddl = $null; count = 0; samples = [System.Collections.Generic.List[string]]@() }
                    $order.Add($unreadable)
                }
                $group = $unreadable
            }
            elseif ($groups.ContainsKey($sddl)) {
                $group = $groups[$sddl]
            }
            else {
                $group = @{ sddl = $sddl; count = 0; samples = [System.Collections.Generic.List[string]]@() }
                $groups[$sddl] = $group
                $order.Add($group)
            }
            # Index syntax for the key 'count': dot syntax could mean the Hashtable's own Count property.
            $group['count'] = $group['count'] + 1
            if ($group['samples'].Count -lt $Samples) {
                $group['samples'].Add([System.IO.Path]::GetFileName($file))
            }
        }
        $section.files = @{ count = $count; descriptors = $order }
    }
    catch {
        $section.error = "$Path files cannot be listed: $($_.Exception.Message)"
    }
    $section
}

Function Get-EventList {
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
    foreach ($query in $queries) {
        $filter = $query.Clone()
        $filter.StartTime = $startTime
        $queryErrors = $null
        # "No events found" and "no such log" are errors unless silenced (POWERSHELL.md); others become a warning.
        $found = Get-WinEvent -FilterHashtable $filter -MaxEvents $MaxEvents -ErrorAction SilentlyContinue -ErrorVariable queryErrors
        foreach ($queryError in @($queryErrors)) {
            if ($null -eq $queryError) { continue }
            $errorId = [string]$queryError.FullyQualifiedErrorId
            $benign = $errorId.StartsWith('NoMatchingEventsFound') -or $errorId.StartsWith('NoMatchingLogsFound') -or
                $errorId.StartsWith('NoMatchingProvidersFound')
            if (-not $benign) {
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
        }
    }
    @{ list = $events }
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

Function Get-BackupList {
    # The $Count newest backup folders win_backup_apply made under $Path: named <yyyyMMddTHHmmssZ>-<8 hex>, holding
    # undo.json (written last, so its presence means the backup is complete). Newest first: by the stamp in the
    # name, then by creation time (two applies in the same second). undo.json and label.json are returned as text:
    # the controller parses them (no ConvertFrom-Json here, its 5.1 output types differ from 7's).
    param([Parameter(Mandatory = $true)][string]$Path, [Parameter(Mandatory = $true)][int]$Count)
    $list = [System.Collections.Generic.List[object]]@()
    if (-not [System.IO.Directory]::Exists($Path)) {
        return @{ list = $list }
    }
    $utf8 = New-Object -TypeName System.Text.UTF8Encoding -ArgumentList $false
    $found = (New-Object -TypeName System.IO.DirectoryInfo -ArgumentList $Path).GetDirectories() |
        Where-Object -FilterScript {
            $_.Name -match '^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}$' -and [System.IO.File]::Exists([System.IO.Path]::Combine($_.FullName, 'undo.json'))
        } |
        Sort-Object -Property @{ Expression = { $_.Name.Substring(0, 16) }; Descending = $true }, @{ Expression = { $_.CreationTimeUtc }; Descending = $true } |
        Select-Object -First $Count
    foreach ($backup in @($found)) {
        if ($null -eq $backup) { continue }
        $entry = @{ id = $backup.Name; created = $null; undo = $null; label = $null; error = $null }
        try {
            $entry.created = $backup.CreationTimeUtc.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", $Invariant)
            $entry.undo = [System.IO.File]::ReadAllText([System.IO.Path]::Combine($backup.FullName, 'undo.json'), $utf8)
            $labelPath = [System.IO.Path]::Combine($backup.FullName, 'label.json')
            if ([System.IO.File]::Exists($labelPath)) {
                $entry.label = [System.IO.File]::ReadAllText($labelPath, $utf8)
            }
        }
        catch {
            $entry.undo = $null
            $entry.error = "$($backup.FullName) cannot be read: $($_.Exception.Message)"
        }
        $list.Add($entry)
    }
    @{ list = $list }
}

Function Invoke-Section {
    # Run one section; on failure warn with its name and keep a valid empty value, so the others survive.
    param([Parameter(Mandatory = $true)][string]$Name, [Parameter(Mandatory = $true)][scriptblock]$Gather, [AllowNull()][object]$Empty)
    try {
        & $Gather
    }
    catch {
        $module.Warn("$Name could not be gathered and is left empty: $($_.Exception.Message)")
        $Empty
    }
}

if ($module.Params.paths.Count -gt 0) {
    $module.Result.paths = (Test-PathList -Paths $module.Params.paths).map
}

if ($module.Params.backups -lt 0) {
    $module.FailJson("backups must be 0 (none) or more, not $($module.Params.backups)")
}
if ($module.Params.backups -gt 0) {
    # Not a section: an empty list on failure would read as "no backup" and a rollback would do nothing silently.
    $backupDir = [System.Environment]::ExpandEnvironmentVariables($module.Params.backup_dir)
    try {
        $module.Result.backups = (Get-BackupList -Path $backupDir -Count $module.Params.backups).list
    }
    catch {
        $module.FailJson("the backups under $backupDir could not be listed: $($_.Exception.Message)", $_)
    }
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
    $emptyValues = @{ key_exists = $false; values = @{} }
    $emptySystemWriter = @{
        key_exists = $false
        excluded_binary_paths = [BackupReady.RegistryValue]::Missing()
        report_win32_services_non_system_state = [BackupReady.RegistryValue]::Missing()
    }
    $filemapsPath = Join-Path -Path $systemRoot -ChildPath 'winsxs\filemaps'
    $pendingPath = Join-Path -Path $systemRoot -ChildPath 'winsxs\temp\PendingRenames'
    $emptyFilemaps = @{ path = $filemapsPath; exists = $false; sddl = $null; error = 'not gathered'; files = $null }
    $emptyPending = @{ path = $pendingPath; exists = $false; sddl = $null; error = 'not gathered' }

    $volumes = Invoke-Section -Name 'volumes' -Gather { Get-VolumeList } -Empty $emptyList
    $services = Invoke-Section -Name 'services' -Gather { Get-ServiceList } -Empty $emptyList
    $systemWriter = Invoke-Section -Name 'system_writer' -Gather { Get-SystemWriter } -Empty $emptySystemWriter
    $vssadmin = Invoke-Section -Name 'vssadmin' -Gather { Invoke-Vssadmin } -Empty @{
        collected = $false; exit_code = $null; stdout = ''; stderr = 'not collected: the vssadmin section failed'
    }
    # SeSecurityPrivilege lets the SACL be read; strict $false: without it the reads fall back to no SACL.
    $privilege = $null
    try {
        $privilege = New-Object -TypeName Ansible.Privilege.PrivilegeEnabler -ArgumentList $false, 'SeSecurityPrivilege'
    }
    catch {
        $module.Warn("SeSecurityPrivilege could not be enabled, SACLs are left out: $($_.Exception.Message)")
    }
    try {
        $samples = $module.Params.filemaps_samples
        $filemaps = Invoke-Section -Name 'filemaps' -Gather { Get-PathSecurity -Path $filemapsPath -WithFiles $true -Samples $samples } -Empty $emptyFilemaps
        $pending = Invoke-Section -Name 'pending_renames' -Gather { Get-PathSecurity -Path $pendingPath -WithFiles $false -Samples 0 } -Empty $emptyPending
    }
    finally {
        if ($null -ne $privilege) { $privilege.Dispose() }
    }
    $vssAccess = Invoke-Section -Name 'vss_access_control' -Gather {
        Get-KeyValueMap -SubKey 'SYSTEM\CurrentControlSet\Services\VSS\VssAccessControl'
    } -Empty $emptyValues
    $maxEvents = $module.Params.max_events
    $eventDays = $module.Params.event_days
    $events = Invoke-Section -Name 'events' -Gather { Get-EventList -MaxEvents $maxEvents -Days $eventDays } -Empty $emptyList
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
        wsb_log_lines = $wsbLines.list
        paths = @{}
    }
}

$module.ExitJson()
