#!powershell

# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

#AnsibleRequires -CSharpUtil Ansible.Basic
#AnsibleRequires -CSharpUtil Ansible.Privilege
#AnsibleRequires -CSharpUtil ..module_utils.BackupReady

# Carries out a list of typed operations with the contract of plugins/plugin_utils/_operations.py:
# check every operation (shape, allow-list, expected value) first; if any is refused write nothing; save the undo
# list before the first write; write in order, read every write back, stop at the first failure.
# It takes no decision of its own. Reviewed against docs/POWERSHELL.md; see docs/powershell-review.md.

$spec = @{
    options = @{
        operations = @{ type = 'list'; elements = 'dict'; required = $true }
        backup_dir = @{ type = 'path'; default = '%ProgramData%\backupready\backups' }
        label = @{ type = 'dict'; default = @{} }
    }
    supports_check_mode = $true
}
$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)

# The allow-list: the same list as refusal_outside_allow_list() in _operations.py.
$ServicesKey = 'HKLM\SYSTEM\CurrentControlSet\Services'
$SystemWriterKey = 'HKLM\SYSTEM\CurrentControlSet\Control\SystemWriter'
$VssAccessControlKey = 'HKLM\SYSTEM\CurrentControlSet\Services\VSS\VssAccessControl'
$CryptSvc = 'CryptSvc'
$SystemRoot = $env:SystemRoot.TrimEnd('\')
$AllowedFolders = @(
    "$SystemRoot\winsxs\filemaps".ToLowerInvariant(),
    "$SystemRoot\winsxs\temp\PendingRenames".ToLowerInvariant()
)
$ServiceNamePattern = '^[^\\/\x00]{1,256}$'

$OpKinds = @('registry_value', 'service_start_mode', 'service_state', 'path_security', 'service_security')
$StartModes = @('boot', 'system', 'auto', 'manual', 'disabled', 'unknown')  # Start value 0..4, then unknown
$SettableStartModes = @('auto', 'manual', 'disabled')
$StartupTypes = @{ auto = 'Automatic'; manual = 'Manual'; disabled = 'Disabled' }
$StateActions = @('started', 'restarted')
$Targets = @('folder', 'files')
$OwnerAccess = [System.Security.AccessControl.AccessControlSections]'Owner, Access'
$Invariant = [System.Globalization.CultureInfo]::InvariantCulture
$DoNotExpand = [Microsoft.Win32.RegistryValueOptions]::DoNotExpandEnvironmentNames
$ServiceTimeout = [TimeSpan]::FromSeconds(60)

Function Test-Same {
    # Ordinal string equality: -eq / -ceq compare with the current culture.
    param([AllowNull()][object]$Left, [AllowNull()][object]$Right)
    ($Left -is [string]) -and ($Right -is [string]) -and [string]::Equals($Left, $Right, [System.StringComparison]::Ordinal)
}

Function Format-Value {
    param([AllowNull()][object]$Value)
    ConvertTo-Json -InputObject $Value -Compress -Depth 10
}

Function ConvertTo-NormalKey {
    # HKEY_LOCAL_MACHINE\System\... -> HKLM\System\... (case kept beyond the hive; no trailing \), as normalise_key().
    param([Parameter(Mandatory = $true)][AllowEmptyString()][string]$Key)
    $parts = $Key.Replace('/', '\').Split('\')
    if (@('hkey_local_machine', 'hklm', 'hklm:') -notcontains $parts[0].ToLowerInvariant()) {
        return $Key
    }
    ('HKLM\' + [string]::Join('\', $parts, 1, $parts.Length - 1)).TrimEnd('\')
}

Function Get-SubKeyPath {
    # HKLM\SYSTEM\... -> SYSTEM\... for [Microsoft.Win32.Registry]::LocalMachine.
    param([Parameter(Mandatory = $true)][string]$Key)
    (ConvertTo-NormalKey -Key $Key).Substring(5)
}

Function Test-ServiceLevelKey {
    # SystemWriter and VssAccessControl are the keys whose values may be created; the rest are service keys.
    param([Parameter(Mandatory = $true)][string]$Key)
    $lowered = (ConvertTo-NormalKey -Key $Key).ToLowerInvariant()
    -not ($lowered -eq $SystemWriterKey.ToLowerInvariant() -or $lowered -eq $VssAccessControlKey.ToLowerInvariant())
}

Function Get-Subject {
    # As describe() in _operations.py.
    param([Parameter(Mandatory = $true)][hashtable]$Op)
    $kind = $Op['op']
    if ($kind -eq 'registry_value') {
        return "$(ConvertTo-NormalKey -Key $Op['key'])\$($Op['name'])"
    }
    if ($kind -eq 'path_security') {
        return "$($Op['path']) ($($Op['target']) security)"
    }
    $what = $kind.Replace('service_', '').Replace('_', ' ')
    "service $($Op['service']) ($what)"
}

Function Get-ShapeError {
    # As check_shape() in _operations.py: the reason an operation is malformed, or $null.
    param([Parameter(Mandatory = $true)][hashtable]$Op, [Parameter(Mandatory = $true)][int]$Index)
    $where = "operation $Index"
    $kind = $Op['op']
    if ($kind -isnot [string]) {
        return "${where}: 'op' is missing or not a string"
    }
    if ($OpKinds -cnotcontains $kind) {
        return "${where}: unknown op '$kind' (expected one of $($OpKinds -join ', '))"
    }
    $where = "$where ($kind)"
    $strings = @{
        registry_value = @('key', 'name')
        service_start_mode = @('service')
        service_state = @('service', 'expect')
        path_security = @('path', 'expect', 'set')
        service_security = @('service', 'expect', 'set')
    }
    foreach ($name in $strings[$kind]) {
        if ($Op[$name] -isnot [string]) {
            return "${where}: '$name' is missing or not a string"
        }
    }
    if ($kind -eq 'registry_value') {
        foreach ($name in @('expect', 'set')) {
            $problem = [BackupReady.RegistryValue]::ShapeError($Op[$name])
            if ($null -ne $problem) {
                return "${where}: '$name': $problem"
            }
        }
    }
    elseif ($kind -eq 'service_start_mode') {
        if ($StartModes -cnotcontains $Op['expect']) {
            return "${where}: 'expect' must be one of $($StartModes -join ', ')"
        }
        if ($SettableStartModes -cnotcontains $Op['set']) {
            return "${where}: 'set' must be one of $($SettableStartModes -join ', ')"
        }
    }
    elseif ($kind -eq 'service_state') {
        if ($StateActions -cnotcontains $Op['set']) {
            return "${where}: 'set' must be one of $($StateActions -join ', ')"
        }
    }
    elseif ($kind -eq 'path_security') {
        if ($Targets -cnotcontains $Op['target']) {
            return "${where}: 'target' must be one of $($Targets -join ', ')"
        }
        if ($Op.ContainsKey('names')) {
            $names = $Op['names']
            $valid = $names -is [System.Collections.IList]
            if ($valid) {
                foreach ($name in $names) {
                    if ($name -isnot [string]) { $valid = $false }
                }
            }
            if (-not $valid) {
                return "${where}: 'names' must be a list of file names"
            }
        }
    }
    $null
}

Function Get-AllowListRefusal {
    # As refusal_outside_allow_list() in _operations.py: why the operation is outside the allow-list, or $null.
    param([Parameter(Mandatory = $true)][hashtable]$Op)
    $kind = $Op['op']
    if ($kind -eq 'registry_value') {
        $key = ConvertTo-NormalKey -Key $Op['key']
        $lowered = $key.ToLowerInvariant()
        $name = $Op['name']
        if ($lowered -eq $SystemWriterKey.ToLowerInvariant() -or $lowered -eq $VssAccessControlKey.ToLowerInvariant()) {
            if ($name.Length -gt 0) { return $null }
            return 'the default value of a key is not allowed'
        }
        $prefix = $ServicesKey.ToLowerInvariant() + '\'
        if ($lowered.StartsWith($prefix, [System.StringComparison]::Ordinal)) {
            $service = $key.Substring($prefix.Length)
            if ($service.Contains('\') -or $service -notmatch $ServiceNamePattern) {
                return "key '$($Op['key'])' is not a service key"
            }
            if ($name.ToLowerInvariant() -ne 'imagepath') {
                return "only ImagePath may be written under a service key, not '$name'"
            }
            return $null
        }
        return "registry key '$($Op['key'])' is outside the allow-list"
    }
    if ($kind -eq 'service_start_mode' -or $kind -eq 'service_state') {
        if ($Op['service'].ToLowerInvariant() -ne $CryptSvc.ToLowerInvariant()) {
            return "service '$($Op['service'])': only $CryptSvc may be reconfigured, started or restarted"
        }
        return $null
    }
    if ($kind -eq 'path_security') {
        if ($AllowedFolders -notcontains $Op['path'].TrimEnd('\').ToLowerInvariant()) {
            return "path '$($Op['path'])' is outside the allow-list (filemaps and PendingRenames only)"
        }
        return $null
    }
    if ($Op['service'] -notmatch $ServiceNamePattern) {
        return "service name '$($Op['service'])' is not valid"
    }
    $null
}

Function Open-ServiceKey {
    # A service key as the probe lists it (it has a Type value), read-only; $null when there is none.
    param([Parameter(Mandatory = $true)][string]$Service)
    $key = [Microsoft.Win32.Registry]::LocalMachine.OpenSubKey("SYSTEM\CurrentControlSet\Services\$Service")
    if ($null -eq $key) {
        return $null
    }
    $type = [BackupReady.RegistryValue]::Read($key, 'Type')
    if ($type['kind'] -ne 'REG_DWORD') {
        $key.Dispose()
        return $null
    }
    $key
}

Function Get-StartMode {
    param([Parameter(Mandatory = $true)][Microsoft.Win32.RegistryKey]$Key)
    $start = [BackupReady.RegistryValue]::Read($Key, 'Start')
    # data is a UInt32: compare as [long] first, an [int] cast of 0xFFFFFFFF would throw.
    if ($start['kind'] -eq 'REG_DWORD' -and [long]$start['data'] -le 4) {
        return $StartModes[[int]$start['data']]
    }
    'unknown'
}

Function Get-ServiceStateName {
    # ServiceControllerStatus StartPending -> start_pending (the probe's names, from Win32_Service.State).
    param([Parameter(Mandatory = $true)][string]$Service)
    $controller = Get-Service -Name $Service -ErrorAction SilentlyContinue
    if ($null -eq $controller) {
        return $null
    }
    ([regex]::Replace($controller.Status.ToString(), '(?<=[a-z])([A-Z])', '_$1')).ToLowerInvariant()
}

Function Get-ServiceSddl {
    # Full SDDL of Services\<name>\Security value Security, or 'default' when there is none (the SCM default).
    param([Parameter(Mandatory = $true)][Microsoft.Win32.RegistryKey]$ServiceKey)
    $securityKey = $ServiceKey.OpenSubKey('Security')
    if ($null -eq $securityKey) {
        return 'default'
    }
    try {
        $bytes = $securityKey.GetValue('Security', $null, $DoNotExpand)
        if ($null -eq $bytes) {
            return 'default'
        }
        if ($bytes -isnot [byte[]]) {
            throw "the Security value of $($ServiceKey.Name)\Security is not binary"
        }
        [System.Security.AccessControl.RawSecurityDescriptor]::new($bytes, 0).GetSddlForm([System.Security.AccessControl.AccessControlSections]::All)
    }
    finally {
        $securityKey.Dispose()
    }
}

Function Get-OwnerDacl {
    # Owner and DACL of a file or folder in SDDL ("O:..D:.."): what path_security compares and writes.
    param([Parameter(Mandatory = $true)][string]$Path, [Parameter(Mandatory = $true)][bool]$Directory)
    if ($Directory) {
        return [System.IO.Directory]::GetAccessControl($Path, $OwnerAccess).GetSecurityDescriptorSddlForm($OwnerAccess)
    }
    [System.IO.File]::GetAccessControl($Path, $OwnerAccess).GetSecurityDescriptorSddlForm($OwnerAccess)
}

Function Read-Current {
    # What the operation would replace, as read_current(): @{ found; value; names (files); refusal (extra reason) }.
    param([Parameter(Mandatory = $true)][hashtable]$Op)
    $kind = $Op['op']
    $read = @{ found = $false; value = $null; names = $null; refusal = $null }
    if ($kind -eq 'registry_value') {
        $isService = Test-ServiceLevelKey -Key $Op['key']
        $subKey = Get-SubKeyPath -Key $Op['key']
        if ($isService) {
            $key = Open-ServiceKey -Service $subKey.Substring('SYSTEM\CurrentControlSet\Services\'.Length)
        }
        else {
            $key = [Microsoft.Win32.Registry]::LocalMachine.OpenSubKey($subKey)
        }
        if ($null -eq $key) {
            if ($isService) {
                return $read
            }
            # An absent SystemWriter or VssAccessControl key holds no value: every value is missing.
            $read.found = $true
            $read.value = [BackupReady.RegistryValue]::Missing()
            $vssService = [Microsoft.Win32.Registry]::LocalMachine.OpenSubKey('SYSTEM\CurrentControlSet\Services\VSS')
            if ((ConvertTo-NormalKey -Key $Op['key']).ToLowerInvariant() -eq $VssAccessControlKey.ToLowerInvariant()) {
                if ($null -eq $vssService) {
                    $read.refusal = 'the VSS service key does not exist and a service key is never created'
                }
            }
            if ($null -ne $vssService) { $vssService.Dispose() }
            return $read
        }
        try {
            $read.found = $true
            $read.value = [BackupReady.RegistryValue]::Read($key, $Op['name'])
        }
        finally {
            $key.Dispose()
        }
        return $read
    }
    if ($kind -eq 'service_start_mode' -or $kind -eq 'service_security') {
        $key = Open-ServiceKey -Service $Op['service']
        if ($null -eq $key) {
            return $read
        }
        try {
            $read.found = $true
            if ($kind -eq 'service_start_mode') {
                $read.value = Get-StartMode -Key $key
            }
            else {
                $read.value = Get-ServiceSddl -ServiceKey $key
            }
        }
        finally {
            $key.Dispose()
        }
        return $read
    }
    if ($kind -eq 'service_state') {
        $read.value = Get-ServiceStateName -Service $Op['service']
        $read.found = $null -ne $read.value
        return $read
    }
    # path_security
    $path = $Op['path']
    if (-not [System.IO.Directory]::Exists($path)) {
        return $read
    }
    $read.found = $true
    if ($Op['target'] -eq 'folder') {
        $read.value = Get-OwnerDacl -Path $path -Directory $true
        return $read
    }
    # One pass over the folder: the distinct owner+DACL of its files, and the files this operation would change.
    $only = $null
    if ($Op.ContainsKey('names')) {
        $only = New-Object -TypeName 'System.Collections.Generic.HashSet[string]' -ArgumentList ([System.StringComparer]::OrdinalIgnoreCase)
        foreach ($name in $Op['names']) { $null = $only.Add($name) }
    }
    $distinct = New-Object -TypeName 'System.Collections.Generic.List[string]'
    $names = New-Object -TypeName 'System.Collections.Generic.List[string]'
    $unreadable = 0
    foreach ($file in [System.IO.Directory]::EnumerateFiles($path)) {
        try {
            $sddl = Get-OwnerDacl -Path $file -Directory $false
        }
        catch {
            $unreadable++
            continue
        }
        if (-not $distinct.Contains($sddl)) { $distinct.Add($sddl) }
        $name = [System.IO.Path]::GetFileName($file)
        if ((Test-Same -Left $sddl -Right $Op['expect']) -and ($null -eq $only -or $only.Contains($name))) {
            $names.Add($name)
        }
    }
    if ($unreadable -gt 0) {
        $module.Warn("$path : the security of $unreadable file(s) cannot be read; they are left out of $(Get-Subject -Op $Op)")
    }
    $read.value = $distinct
    $read.names = $names
    $read
}

Function Test-ValueEqual {
    # As values_equal(): start mode and state case-insensitive, registry values by kind and data, SDDL ordinal.
    param([Parameter(Mandatory = $true)][hashtable]$Op, [AllowNull()][object]$Current, [AllowNull()][object]$Expected)
    $kind = $Op['op']
    if ($kind -eq 'service_start_mode' -or $kind -eq 'service_state') {
        return ($Current -is [string]) -and $Current.ToLowerInvariant() -eq ([string]$Expected).ToLowerInvariant()
    }
    if ($kind -eq 'registry_value') {
        return [BackupReady.RegistryValue]::Same($Current, $Expected)
    }
    Test-Same -Left $Current -Right $Expected
}

Function Get-SddlProblem {
    # A 'set' SDDL that cannot be parsed is refused before anything is written.
    param([Parameter(Mandatory = $true)][hashtable]$Op)
    try {
        if ($Op['op'] -eq 'path_security') {
            $security = New-Object -TypeName System.Security.AccessControl.DirectorySecurity
            $security.SetSecurityDescriptorSddlForm($Op['set'], $OwnerAccess)
        }
        elseif ($Op['op'] -eq 'service_security' -and $Op['set'] -ne 'default') {
            $null = [System.Security.AccessControl.RawSecurityDescriptor]::new($Op['set'])
        }
    }
    catch {
        return "'set' is not valid SDDL: $($_.Exception.Message)"
    }
    $null
}

Function Get-Check {
    # Check one operation against the host: as refusal() then is_noop() in _operations.py.
    param([Parameter(Mandatory = $true)][hashtable]$Op, [Parameter(Mandatory = $true)][int]$Index)
    $subject = Get-Subject -Op $Op
    $check = @{ index = $Index; op = $Op['op']; subject = $subject; status = $null; reason = $null; found = $null; current = $null; names = $null }
    $reason = Get-AllowListRefusal -Op $Op
    if ($null -ne $reason) {
        $check.status = 'refused'
        $check.reason = $reason
        return $check
    }
    try {
        $read = Read-Current -Op $Op
    }
    catch {
        $check.status = 'refused'
        $check.reason = "${subject}: cannot be read: $($_.Exception.Message)"
        return $check
    }
    $check.current = $read.value
    $check.names = $read.names
    $kind = $Op['op']
    if (-not $read.found) {
        $reason = "${subject}: not found on the host"
    }
    elseif ($null -ne $read.refusal) {
        $reason = "${subject}: $($read.refusal)"
        $check.found = $read.value
    }
    elseif ($kind -eq 'path_security' -and $Op['target'] -eq 'files') {
        $known = $false
        foreach ($sddl in $read.value) {
            if (Test-Same -Left $sddl -Right $Op['expect']) { $known = $true }
        }
        if (-not $known) {
            $reason = "${subject}: no file has the expected descriptor '$($Op['expect'])'"
            $check.found = $read.value
        }
    }
    elseif (-not (Test-ValueEqual -Op $Op -Current $read.value -Expected $Op['expect'])) {
        if ($kind -eq 'service_state') {
            $reason = "${subject}: expected state '$($Op['expect'])', found '$($read.value)'"
        }
        else {
            $reason = "${subject}: expected $(Format-Value -Value $Op['expect']), found $(Format-Value -Value $read.value)"
        }
        $check.found = $read.value
    }
    elseif ($kind -eq 'service_security' -and $Op['set'] -eq 'default') {
        $reason = "${subject}: cannot write the SCM default descriptor"
        $check.found = $read.value
    }
    if ($null -eq $reason) {
        $problem = Get-SddlProblem -Op $Op
        if ($null -ne $problem) { $reason = "${subject}: $problem" }
    }
    if ($null -ne $reason) {
        $check.status = 'refused'
        $check.reason = $reason
        return $check
    }
    # is_noop()
    if ($kind -eq 'service_state') {
        $noop = $Op['set'] -eq 'started' -and $read.value -eq 'running'
    }
    elseif ($kind -eq 'path_security' -and $Op['target'] -eq 'files') {
        $noop = Test-Same -Left $Op['expect'] -Right $Op['set']
    }
    else {
        $noop = Test-ValueEqual -Op $Op -Current $read.value -Expected $Op['set']
    }
    if ($noop) { $check.status = 'unchanged' } else { $check.status = 'apply' }
    $check
}

Function Get-Undo {
    # As undo_of(): the operation that puts back what this one replaces.
    param([Parameter(Mandatory = $true)][hashtable]$Op, [Parameter(Mandatory = $true)][hashtable]$Check)
    $undo = @{}
    foreach ($key in $Op.Keys) {
        if (@('expect', 'set', 'names') -notcontains $key) { $undo[$key] = $Op[$key] }
    }
    if ($Op['op'] -eq 'service_state') {
        # A start or restart cannot be undone; the backup records the state that was found.
        $undo.expect = $Check.current
        $undo.set = 'none'
        $undo.note = 'not undoable: recorded only'
    }
    elseif ($Op['op'] -eq 'path_security' -and $Op['target'] -eq 'files') {
        $undo.expect = $Op['set']
        $undo.set = $Op['expect']
        $undo.names = $Check.names
    }
    else {
        $undo.expect = $Op['set']
        $undo.set = $Check.current
    }
    $undo
}

Function Write-JsonFile {
    param([Parameter(Mandatory = $true)][string]$Path, [Parameter(Mandatory = $true)][AllowEmptyCollection()][object]$Value)
    $json = ConvertTo-Json -InputObject $Value -Depth 99
    [System.IO.File]::WriteAllText($Path, $json, (New-Object -TypeName System.Text.UTF8Encoding -ArgumentList $false))
}

Function Invoke-NativeProgram {
    # Run a program without a shell, capture exit code and output; a bounded wait.
    param([Parameter(Mandatory = $true)][string]$FilePath, [Parameter(Mandatory = $true)][string[]]$Arguments)
    $encoding = [System.Text.Encoding]::GetEncoding([System.Globalization.CultureInfo]::CurrentCulture.TextInfo.OEMCodePage)
    $startInfo = New-Object -TypeName System.Diagnostics.ProcessStartInfo
    $startInfo.FileName = $FilePath
    $startInfo.Arguments = [BackupReady.ProcessArgument]::Join($Arguments)
    $startInfo.UseShellExecute = $false
    $startInfo.CreateNoWindow = $true
    $startInfo.RedirectStandardOutput = $true
    $startInfo.RedirectStandardError = $true
    $startInfo.StandardOutputEncoding = $encoding
    $startInfo.StandardErrorEncoding = $encoding
    $process = [System.Diagnostics.Process]::Start($startInfo)
    try {
        $stdoutTask = $process.StandardOutput.ReadToEndAsync()
        $stderrTask = $process.StandardError.ReadToEndAsync()
        if (-not $process.WaitForExit(60000)) {
            $process.Kill()
            throw "$FilePath $($startInfo.Arguments) did not finish within 60 seconds and was stopped"
        }
        $process.WaitForExit()
        @{ exit_code = $process.ExitCode; stdout = $stdoutTask.Result; stderr = $stderrTask.Result }
    }
    finally {
        $process.Dispose()
    }
}

Function Set-RegistryValue {
    param([Parameter(Mandatory = $true)][hashtable]$Op)
    $subKey = Get-SubKeyPath -Key $Op['key']
    if (Test-ServiceLevelKey -Key $Op['key']) {
        # Never create a service key: it was found in the check and must still be there.
        $key = [Microsoft.Win32.Registry]::LocalMachine.OpenSubKey($subKey, $true)
        if ($null -eq $key) { throw "HKLM\$subKey no longer exists" }
    }
    else {
        # SystemWriter / VssAccessControl: created when absent (for VssAccessControl the VSS key was checked).
        $key = [Microsoft.Win32.Registry]::LocalMachine.CreateSubKey($subKey)
    }
    try {
        $now = [BackupReady.RegistryValue]::Read($key, $Op['name'])
        if (-not [BackupReady.RegistryValue]::Same($now, $Op['expect'])) {
            throw "the value changed since it was checked: now $(Format-Value -Value $now)"
        }
        [BackupReady.RegistryValue]::Write($key, $Op['name'], $Op['set'])
        $after = [BackupReady.RegistryValue]::Read($key, $Op['name'])
        if (-not [BackupReady.RegistryValue]::Same($after, $Op['set'])) {
            throw "read back $(Format-Value -Value $after) after writing $(Format-Value -Value $Op['set'])"
        }
    }
    finally {
        $key.Dispose()
    }
}

Function Set-ServiceStartMode {
    param([Parameter(Mandatory = $true)][hashtable]$Op)
    Set-Service -Name $Op['service'] -StartupType $StartupTypes[$Op['set']]
    $key = Open-ServiceKey -Service $Op['service']
    if ($null -eq $key) { throw "service $($Op['service']) no longer exists" }
    try {
        $after = Get-StartMode -Key $key
    }
    finally {
        $key.Dispose()
    }
    if ($after -ne $Op['set']) {
        throw "read back start mode '$after' after setting '$($Op['set'])'"
    }
}

Function Set-ServiceRunning {
    param([Parameter(Mandatory = $true)][hashtable]$Op)
    if ($Op['set'] -eq 'started') {
        Start-Service -Name $Op['service'] -WarningAction SilentlyContinue
    }
    else {
        # -Force: CryptSvc has dependent services.
        Restart-Service -Name $Op['service'] -Force -WarningAction SilentlyContinue
    }
    $controller = Get-Service -Name $Op['service']
    try {
        $controller.WaitForStatus([System.ServiceProcess.ServiceControllerStatus]::Running, $ServiceTimeout)
    }
    catch {
        # WaitForStatus throws System.ServiceProcess.TimeoutException (wrapped by PowerShell): a timeout is a failure.
        $controller.Refresh()
        throw "service $($Op['service']) is not running $($ServiceTimeout.TotalSeconds) seconds after being $($Op['set']) (status $($controller.Status)): $($_.Exception.Message)"
    }
}

Function Set-PathSecurity {
    param([Parameter(Mandatory = $true)][hashtable]$Op, [Parameter(Mandatory = $true)][hashtable]$Check)
    $path = $Op['path']
    $isFolder = $Op['target'] -eq 'folder'
    $targets = New-Object -TypeName 'System.Collections.Generic.List[string]'
    if ($isFolder) {
        $targets.Add($path)
    }
    else {
        foreach ($name in $Check.names) { $targets.Add([System.IO.Path]::Combine($path, $name)) }
    }
    $changed = 0
    # Administrators do not hold WRITE_DAC on TrustedInstaller-owned filemaps (POWERSHELL.md): strict enabling.
    $privilege = New-Object -TypeName Ansible.Privilege.PrivilegeEnabler -ArgumentList $true, 'SeTakeOwnershipPrivilege', 'SeRestorePrivilege'
    try {
        foreach ($target in $targets) {
            $now = Get-OwnerDacl -Path $target -Directory $isFolder
            if (-not (Test-Same -Left $now -Right $Op['expect'])) {
                if ($isFolder) { throw "the owner and DACL of $target changed since they were checked: now '$now'" }
                continue  # a file that no longer has the expected descriptor is left alone (compare-and-swap)
            }
            # Only the owner and DACL sections are marked modified, so only they are written: group and SACL stay.
            if ($isFolder) {
                $security = New-Object -TypeName System.Security.AccessControl.DirectorySecurity
            }
            else {
                $security = New-Object -TypeName System.Security.AccessControl.FileSecurity
            }
            $security.SetSecurityDescriptorSddlForm($Op['set'], $OwnerAccess)
            $wanted = $security.GetSecurityDescriptorSddlForm($OwnerAccess)
            if ($isFolder) {
                [System.IO.Directory]::SetAccessControl($target, $security)
            }
            else {
                [System.IO.File]::SetAccessControl($target, $security)
            }
            $after = Get-OwnerDacl -Path $target -Directory $isFolder
            if (-not (Test-Same -Left $after -Right $wanted)) {
                throw "read back '$after' from $target after writing '$wanted'"
            }
            $changed++
        }
    }
    finally {
        $privilege.Dispose()
    }
    $changed
}

Function Set-ServiceSecurity {
    param([Parameter(Mandatory = $true)][hashtable]$Op)
    $key = Open-ServiceKey -Service $Op['service']
    if ($null -eq $key) { throw "service $($Op['service']) no longer exists" }
    try { $now = Get-ServiceSddl -ServiceKey $key } finally { $key.Dispose() }
    if (-not (Test-Same -Left $now -Right $Op['expect'])) {
        throw "the security descriptor changed since it was checked: now '$now'"
    }
    $scExe = Join-Path -Path ([System.Environment]::SystemDirectory) -ChildPath 'sc.exe'
    $run = Invoke-NativeProgram -FilePath $scExe -Arguments @('sdset', $Op['service'], $Op['set'])
    if ($run.exit_code -ne 0) {
        throw "sc.exe sdset $($Op['service']) exited with $($run.exit_code): $($run.stdout.Trim()) $($run.stderr.Trim())"
    }
    $wanted = [System.Security.AccessControl.RawSecurityDescriptor]::new($Op['set']).GetSddlForm([System.Security.AccessControl.AccessControlSections]::All)
    $key = Open-ServiceKey -Service $Op['service']
    if ($null -eq $key) { throw "service $($Op['service']) no longer exists" }
    try { $after = Get-ServiceSddl -ServiceKey $key } finally { $key.Dispose() }
    if (-not (Test-Same -Left $after -Right $wanted)) {
        throw "read back '$after' after sc.exe sdset '$wanted'"
    }
}

# 1. Shape: a malformed operation is a bug in a plan or a hand-written list; nothing is read or written.
$operations = [System.Collections.Generic.List[hashtable]]@()
$index = 0
foreach ($raw in $module.Params.operations) {
    if ($raw -isnot [System.Collections.IDictionary]) {
        $module.FailJson("operation ${index}: expected an object")
    }
    $op = @{}
    foreach ($key in $raw.Keys) { $op[[string]$key] = $raw[$key] }
    $problem = Get-ShapeError -Op $op -Index $index
    if ($null -ne $problem) {
        $module.FailJson($problem)
    }
    $operations.Add($op)
    $index++
}

# 2. Check every operation against the host (allow-list, expected value) before anything is written.
$privilege = $null
try {
    # Reading a SACL-less owner+DACL needs no privilege; SeBackupPrivilege may let the read past a restrictive DACL.
    $privilege = New-Object -TypeName Ansible.Privilege.PrivilegeEnabler -ArgumentList $false, 'SeBackupPrivilege'
}
catch {
    $privilege = $null
}
$checks = [System.Collections.Generic.List[hashtable]]@()
try {
    for ($i = 0; $i -lt $operations.Count; $i++) {
        $checks.Add((Get-Check -Op $operations[$i] -Index $i))
    }
}
finally {
    if ($null -ne $privilege) { $privilege.Dispose() }
}

$results = [System.Collections.Generic.List[object]]@()
$undo = [System.Collections.Generic.List[object]]@()
$refusals = [System.Collections.Generic.List[string]]@()
foreach ($check in $checks) {
    if ($check.status -eq 'refused') { $refusals.Add($check.reason) }
}
$module.Result.backup_path = $null

if ($refusals.Count -gt 0) {
    foreach ($check in $checks) {
        $result = @{ index = $check.index; op = $check.op; subject = $check.subject; status = $check.status }
        if ($check.status -eq 'refused') {
            $result.reason = $check.reason
            $result.found = $check.found
        }
        elseif ($check.status -eq 'apply') {
            $result.status = 'not_run'
        }
        $results.Add($result)
    }
    $module.Result.changed = $false
    $module.Result.refused = $true
    $module.Result.results = $results
    $module.Result.undo = $undo
    $module.FailJson("$($refusals.Count) of $($operations.Count) operation(s) refused, nothing written: $($refusals -join '; ')")
}

$before = @{}
$after = @{}
foreach ($check in $checks) {
    if ($check.status -eq 'apply') {
        $op = $operations[$check.index]
        $undo.Add((Get-Undo -Op $op -Check $check))
        if ($op['op'] -eq 'path_security' -and $op['target'] -eq 'files') {
            $before[$check.subject] = @{ descriptor = $op['expect']; files = $check.names }
            $after[$check.subject] = @{ descriptor = $op['set']; files = $check.names }
        }
        else {
            $before[$check.subject] = $check.current
            $after[$check.subject] = $op['set']
        }
    }
}
$toApply = $undo.Count
if ($toApply -gt 0) {
    $module.Diff.before = $before
    $module.Diff.after = $after
}
$module.Result.refused = $false
$module.Result.undo = $undo

# 3. Check mode stops here.
if ($module.CheckMode) {
    foreach ($check in $checks) {
        $status = $check.status
        if ($status -eq 'apply') { $status = 'would_apply' }
        $results.Add(@{ index = $check.index; op = $check.op; subject = $check.subject; status = $status })
    }
    $module.Result.changed = $toApply -gt 0
    $module.Result.results = $results
    $module.Result.msg = "check mode: $toApply operation(s) would be applied, $($checks.Count - $toApply) unchanged"
    $module.ExitJson()
}

# 4. Save what will be replaced, then write in order; read back every write; stop at the first failure.
$backupPath = $null
if ($toApply -gt 0) {
    $backupDir = [System.Environment]::ExpandEnvironmentVariables($module.Params.backup_dir)
    $stamp = [DateTime]::UtcNow.ToString("yyyyMMdd'T'HHmmss'Z'", $Invariant)
    $backupPath = Join-Path -Path $backupDir -ChildPath ("{0}-{1}" -f $stamp, [Guid]::NewGuid().ToString('N').Substring(0, 8))
    try {
        $null = [System.IO.Directory]::CreateDirectory($backupPath)
        # undo.json last: win_backup_state lists only folders holding it, so a listed backup is complete.
        $label = $module.Params.label
        if ($null -ne $label -and $label.Count -gt 0) {
            Write-JsonFile -Path (Join-Path -Path $backupPath -ChildPath 'label.json') -Value $label
        }
        Write-JsonFile -Path (Join-Path -Path $backupPath -ChildPath 'operations.json') -Value $operations
        Write-JsonFile -Path (Join-Path -Path $backupPath -ChildPath 'undo.json') -Value $undo
    }
    catch {
        $module.Result.changed = $false
        $module.FailJson("the backup could not be written to $backupPath, nothing was changed: $($_.Exception.Message)", $_)
    }
}
$module.Result.backup_path = $backupPath

$applied = [System.Collections.Generic.List[string]]@()
foreach ($check in $checks) {
    $result = @{ index = $check.index; op = $check.op; subject = $check.subject; status = $check.status }
    $results.Add($result)
    if ($check.status -ne 'apply') {
        continue
    }
    $op = $operations[$check.index]
    try {
        if ($op['op'] -eq 'registry_value') {
            Set-RegistryValue -Op $op
        }
        elseif ($op['op'] -eq 'service_start_mode') {
            Set-ServiceStartMode -Op $op
        }
        elseif ($op['op'] -eq 'service_state') {
            Set-ServiceRunning -Op $op
        }
        elseif ($op['op'] -eq 'path_security') {
            $result.files_changed = Set-PathSecurity -Op $op -Check $check
        }
        else {
            Set-ServiceSecurity -Op $op
        }
    }
    catch {
        $result.status = 'failed'
        $result.reason = $_.Exception.Message
        $module.Result.changed = $applied.Count -gt 0
        $module.Result.results = $results
        $done = 'nothing'
        if ($applied.Count -gt 0) { $done = $applied -join '; ' }
        $module.FailJson(("operation $($check.index) ($($check.subject)) failed: $($_.Exception.Message). " +
                "Applied before it: $done. Backup (undo list): $backupPath"), $_)
    }
    $result.status = 'applied'
    $applied.Add($check.subject)
}

# 5. Result.
$module.Result.changed = $applied.Count -gt 0
$module.Result.results = $results
if ($applied.Count -gt 0) {
    $module.Result.msg = "$($applied.Count) operation(s) applied, $($checks.Count - $applied.Count) unchanged; backup: $backupPath"
}
else {
    $module.Result.msg = "nothing to do: $($checks.Count) operation(s) unchanged"
}
$module.ExitJson()
