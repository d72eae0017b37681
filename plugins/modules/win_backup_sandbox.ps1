#!powershell

# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

#AnsibleRequires -CSharpUtil Ansible.Basic
#AnsibleRequires -CSharpUtil Ansible.Privilege
#AnsibleRequires -CSharpUtil ..module_utils.BackupReady

# Makes or removes the self-test sandbox of one run (docs/selftest.md). The folder is the engine's
# (BackupReady.SelftestSandbox: run id, parents, links); the two services are registered here, disabled, with binaries
# that do not exist, and deleted only when their name is the run's and their ImagePath names the run's folder.

$spec = @{
    options = @{
        run_id = @{ type = 'str'; required = $true }
        state = @{ type = 'str'; default = 'present'; choices = @('present', 'absent') }
        backup_dir = @{ type = 'path'; default = '%ProgramData%\backupready\backups' }
    }
    supports_check_mode = $true
}
$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)
$module.Result.changed = $false
$module.Result.removed = @()
$module.Result.removed_backups = @()
$hostOs = [BackupReady.WindowsHostOs]::new($null, $null)
$runId = $module.Params.run_id
$sc = Join-Path -Path $env:SystemRoot -ChildPath 'System32\sc.exe'
try {
    $folder = [BackupReady.SelftestSandbox]::Folder($hostOs, $runId)
}
catch {
    $module.FailJson($_.Exception.Message, $_)
}
$service = "backupready-selftest-$runId"
$services = @($service, "$service-drv")
$module.Result.folder = $folder
$module.Result.services = $services
$servicesKey = 'HKLM:\SYSTEM\CurrentControlSet\Services'

Function Invoke-Sc {
    param([Parameter(Mandatory = $true)][string[]]$Arguments)
    $output = & $sc @Arguments 2>&1
    if ($LASTEXITCODE -ne 0) {
        throw "sc.exe $($Arguments[0]) $($Arguments[1]) failed ($LASTEXITCODE): $output"
    }
}

$privilege = $null
try {
    $privilege = New-Object -TypeName Ansible.Privilege.PrivilegeEnabler -ArgumentList $false,
        'SeBackupPrivilege', 'SeRestorePrivilege', 'SeTakeOwnershipPrivilege'
}
catch {
    $module.Warn("SeBackupPrivilege, SeRestorePrivilege and SeTakeOwnershipPrivilege could not be enabled: $($_.Exception.Message)")
}
$made = @()
$folderMade = $false
try {
    if ($module.Params.state -eq 'present') {
        # Each piece is checked on its own: what is missing is made (a half-made sandbox is completed), what is there
        # must be this run's (its ImagePath names the run's folder) or nothing more is done and it is named.
        foreach ($name in $services) {
            $key = "$servicesKey\$name"
            if (-not (Test-Path -LiteralPath $key)) { continue }
            $imagePath = [string](Get-Item -LiteralPath $key).GetValue('ImagePath', '', 'DoNotExpandEnvironmentNames')
            if ($imagePath.IndexOf("$folder\", [System.StringComparison]::OrdinalIgnoreCase) -lt 0) {
                $module.FailJson("service $name exists and is not the self-test's (its ImagePath is '$imagePath'): nothing was changed")
            }
        }
        $folderThere = [System.IO.Directory]::Exists($folder)
        if ($module.CheckMode) {
            $missing = @($services | Where-Object { -not (Test-Path -LiteralPath "$servicesKey\$_") })
            $module.Result.changed = ($missing.Count -gt 0) -or (-not $folderThere)
        }
        else {
            if ([BackupReady.SelftestSandbox]::Create($hostOs, $runId)) {
                $module.Result.changed = $true
                $folderMade = -not $folderThere
            }
            if (-not (Test-Path -LiteralPath "$servicesKey\$service")) {
                $null = New-Service -Name $service -BinaryPathName "$folder\Self Test\selftest.exe -k sandbox" -StartupType Disabled `
                    -DisplayName 'backupready.windows self-test (never runs; removed by the self-test)'
                $made += $service
                $module.Result.changed = $true
            }
            $driverKey = "$servicesKey\$service-drv"
            $driverFix = $false
            if (-not (Test-Path -LiteralPath $driverKey)) {
                Invoke-Sc -Arguments @('create', "$service-drv", 'type=', 'kernel', 'start=', 'disabled', 'binPath=', "$folder\selftest.sys")
                $made += "$service-drv"
                $driverFix = $true
            }
            elseif ([string](Get-Item -LiteralPath $driverKey).GetValue('ImagePath', '', 'DoNotExpandEnvironmentNames') -ne "`"$folder\selftest.sys`"") {
                $driverFix = $true  # made, then stopped before its ImagePath and descriptor were set
            }
            if ($driverFix) {
                # The quoted driver path and the descriptor without the System Writer's ACE are the defects to fix.
                Set-ItemProperty -LiteralPath $driverKey -Name ImagePath -Value "`"$folder\selftest.sys`"" -Type ExpandString
                Invoke-Sc -Arguments @('sdset', "$service-drv", 'D:(A;;CCLCSWRPWPDTLOCRRC;;;SY)(A;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;BA)')
                $module.Result.changed = $true
            }
        }
    }
    else {
        foreach ($name in $services) {
            $key = "$servicesKey\$name"
            if (-not (Test-Path -LiteralPath $key)) { continue }
            $imagePath = [string](Get-Item -LiteralPath $key).GetValue('ImagePath', '', 'DoNotExpandEnvironmentNames')
            if (-not [BackupReady.SelftestSandbox]::IsServiceOfRun($name, $runId) -or
                $imagePath.IndexOf("$folder\", [System.StringComparison]::OrdinalIgnoreCase) -lt 0) {
                $module.FailJson("service $name is not the self-test's (its ImagePath is '$imagePath'): it is left as it is")
            }
            if (-not $module.CheckMode) { Invoke-Sc -Arguments @('delete', $name) }
            $module.Result.removed += $name
            $module.Result.changed = $true
        }
        if ($module.CheckMode) {
            if ([System.IO.Directory]::Exists($folder)) {
                $module.Result.removed += $folder
                $module.Result.changed = $true
            }
        }
        else {
            foreach ($path in [BackupReady.SelftestSandbox]::Remove($hostOs, $runId)) {
                $module.Result.removed += [string]$path
                $module.Result.changed = $true
            }
        }
        # The run's own backups (every operation and undo on this sandbox): none is left behind, no other is deleted.
        $backupDir = [System.Environment]::ExpandEnvironmentVariables($module.Params.backup_dir)
        foreach ($id in [BackupReady.SelftestSandbox]::RemoveBackups($hostOs, $backupDir, $runId, $module.CheckMode)) {
            $module.Result.removed_backups += [string]$id
            $module.Result.changed = $true
        }
    }
}
catch {
    $verb = if ($module.Params.state -eq 'present') { 'made' } else { 'removed' }
    $why = $_.Exception.Message
    $undone = @()
    if ($module.Params.state -eq 'present') {
        # What this call made is removed again: a failed make leaves nothing of its own behind.
        foreach ($name in $made) {
            try { Invoke-Sc -Arguments @('delete', $name); $undone += $name }
            catch { $module.Warn("service $name was made and could not be removed: $($_.Exception.Message)") }
        }
        if ($folderMade) {
            try { foreach ($path in [BackupReady.SelftestSandbox]::Remove($hostOs, $runId)) { $undone += [string]$path } }
            catch { $module.Warn("$folder was made and could not be removed: $($_.Exception.Message)") }
        }
    }
    $module.Result.removed = $undone
    $module.FailJson("the self-test sandbox $runId was not $verb in full: $why", $_)
}
finally {
    if ($null -ne $privilege) { $privilege.Dispose() }
}
$module.ExitJson()
