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
    }
    supports_check_mode = $true
}
$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)
$module.Result.changed = $false
$module.Result.removed = @()
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
try {
    if ($module.Params.state -eq 'present') {
        $existing = @($services | Where-Object { Test-Path -LiteralPath "$servicesKey\$_" })
        if ($existing.Count -eq 0 -and -not $module.CheckMode) {
            if ([BackupReady.SelftestSandbox]::Create($hostOs, $runId)) { $module.Result.changed = $true }
            $null = New-Service -Name $service -BinaryPathName "$folder\Self Test\selftest.exe -k sandbox" -StartupType Disabled `
                -DisplayName 'backupready.windows self-test (never runs; removed by the self-test)'
            Invoke-Sc -Arguments @('create', "$service-drv", 'type=', 'kernel', 'start=', 'disabled', 'binPath=', "$folder\selftest.sys")
            # The quoted driver path and the descriptor without the System Writer's ACE are the defects to fix.
            Set-ItemProperty -LiteralPath "$servicesKey\$service-drv" -Name ImagePath -Value "`"$folder\selftest.sys`"" -Type ExpandString
            Invoke-Sc -Arguments @('sdset', "$service-drv", 'D:(A;;CCLCSWRPWPDTLOCRRC;;;SY)(A;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;BA)')
            $module.Result.changed = $true
        }
        elseif ($existing.Count -eq 0) {
            $module.Result.changed = $true
        }
    }
    else {
        foreach ($name in $services) {
            $key = "$servicesKey\$name"
            if (-not (Test-Path -LiteralPath $key)) { continue }
            $imagePath = [string](Get-Item -LiteralPath $key).GetValue('ImagePath', '', 'DoNotExpandEnvironmentNames')
            if (-not [BackupReady.SelftestSandbox]::IsServiceOfRun($name, $runId) -or
                $imagePath.IndexOf($folder, [System.StringComparison]::OrdinalIgnoreCase) -lt 0) {
                $module.FailJson("service $name is not the self-test's (its ImagePath is '$imagePath'): it is left as it is")
            }
            if (-not $module.CheckMode) { Invoke-Sc -Arguments @('delete', $name) }
            $module.Result.removed += $name
            $module.Result.changed = $true
        }
        if (-not $module.CheckMode) {
            foreach ($path in [BackupReady.SelftestSandbox]::Remove($hostOs, $runId)) {
                $module.Result.removed += [string]$path
                $module.Result.changed = $true
            }
        }
    }
}
catch {
    $verb = if ($module.Params.state -eq 'present') { 'made' } else { 'removed' }
    $module.FailJson("the self-test sandbox $runId was not $verb in full: $($_.Exception.Message)", $_)
}
finally {
    if ($null -ne $privilege) { $privilege.Dispose() }
}
$module.ExitJson()
