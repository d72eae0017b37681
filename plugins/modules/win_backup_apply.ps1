#!powershell

# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

#AnsibleRequires -CSharpUtil Ansible.Basic
#AnsibleRequires -CSharpUtil Ansible.Privilege
#AnsibleRequires -CSharpUtil ..module_utils.BackupReady

# Wires Ansible.Basic to the apply engine of BackupReady.cs (docs/write-path.md). Every decision is taken there:
# shape, semantic allow-list, compare-and-swap before anything and again before each write, the journaled backup
# record in the protected store, pending resolution, retention, rollback verification. The test suite runs that code
# under mono against a fake Windows (tests/csharp). This file passes the options in and copies the result out.
# Windows PowerShell 5.1 and PowerShell 7 take the same path. See docs/powershell-review.md.

$spec = @{
    options = @{
        operations = @{ type = 'list'; elements = 'dict'; required = $true }
        backup_dir = @{ type = 'path'; default = '%ProgramData%\backupready\backups' }
        label = @{ type = 'dict'; default = @{} }
        keep_backups = @{ type = 'int'; default = 20 }
        rollback_of = @{ type = 'str' }
    }
    supports_check_mode = $true
}
$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)

# Every documented key is set now, so a failure before the engine answers still returns all of them.
$module.Result.changed = $false
$module.Result.refused = $false
$module.Result.results = @()
$module.Result.undo = @()
$module.Result.backup_id = $null
$module.Result.backup_path = $null
$module.Result.journal = @()
$module.Result.pruned = @()
$module.Result.store = $null
$module.Result.msg = ''

if ($module.Params.keep_backups -lt 1) {
    $module.FailJson("keep_backups must be 1 or more, not $($module.Params.keep_backups)")
}

# Starting and restarting a service are the cmdlets: they stop and start dependent services (CryptSvc has some) and
# wait for the state. The engine re-reads the state right before calling them and waits for 'running' after.
$startService = [Action[string]] {
    param([string]$Name)
    Start-Service -Name $Name -WarningAction SilentlyContinue -ErrorAction Stop
}
$restartService = [Action[string]] {
    param([string]$Name)
    Restart-Service -Name $Name -Force -WarningAction SilentlyContinue -ErrorAction Stop
}
$hostOs = [BackupReady.WindowsHostOs]::new($startService, $restartService)
$backupDir = [System.Environment]::ExpandEnvironmentVariables($module.Params.backup_dir)
$rollbackOf = $module.Params.rollback_of
if ($null -eq $rollbackOf) {
    $rollbackOf = [NullString]::Value
}

# Backup intent (FILE_FLAG_BACKUP_SEMANTICS) opens TrustedInstaller-owned filemaps only with these privileges enabled.
$privilege = $null
try {
    $privilege = New-Object -TypeName Ansible.Privilege.PrivilegeEnabler -ArgumentList $false,
        'SeBackupPrivilege', 'SeRestorePrivilege', 'SeTakeOwnershipPrivilege'
}
catch {
    $module.Warn("SeBackupPrivilege, SeRestorePrivilege and SeTakeOwnershipPrivilege could not be enabled: $($_.Exception.Message)")
}
try {
    $outcome = [BackupReady.BackupEngine]::Apply($hostOs, $module.Params.operations, $backupDir, $module.Params.label,
        $module.Params.keep_backups, $rollbackOf, $module.CheckMode)
}
catch {
    $module.FailJson("the apply stopped: $($_.Exception.Message). A backup record it left pending is resolved by the next apply.", $_)
}
finally {
    if ($null -ne $privilege) { $privilege.Dispose() }
}

foreach ($name in @('changed', 'refused', 'results', 'undo', 'backup_id', 'backup_path', 'journal', 'pruned', 'store', 'msg')) {
    $module.Result[$name] = $outcome[$name]
}
foreach ($warning in $outcome['warnings']) {
    $module.Warn([string]$warning)
}
$diff = $outcome['diff']
if ($diff['before'].Count -gt 0) {
    $module.Diff.before = $diff['before']
    $module.Diff.after = $diff['after']
}
if ($outcome['failed']) {
    $module.FailJson([string]$outcome['msg'])
}
$module.ExitJson()
