#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# This file holds documentation only: the module is the action plugin of the same name.

DOCUMENTATION = r"""
---
module: win_backup_remediate
short_description: Assess a Windows host, fix what blocks a System State backup in one change, and verify
version_added: 0.3.0
description:
  - >-
    One task does what M(backupready.windows.win_backup_readiness_info), the fix modules
    M(backupready.windows.win_service_imagepath), M(backupready.windows.win_systemwriter_exclusions),
    M(backupready.windows.win_filemaps_acl), M(backupready.windows.win_writer_access) and
    M(backupready.windows.win_cryptsvc), and a second assessment do one after the other, from one read of the host.
    Each concern is planned by the same code as its module, with that module's options (O(imagepath),
    O(systemwriter), O(filemaps), O(writer_access), O(cryptsvc)), so it decides exactly as the module would on
    the same host.
  - >-
    Module calls per host: one reads the host (with its recent backups, to know when this collection last restarted
    CryptSvc), one tests the existence of the paths the checks and the fixes need, one applies the operations of
    every enabled concern, and one reads the host again only after CryptSvc was started or restarted (what a
    service start leads to cannot be predicted). On a host with nothing to fix, at most two calls. After a change
    without a service start, the state after is the exact prediction of what was written; only when a new value
    names a path not tested yet is that path tested, in one more call. At most four calls.
  - >-
    The operations are applied in this order: ImagePath, ExcludedBinaryPaths, filemaps and PendingRenames,
    VssAccessControl and driver service descriptors, CryptSvc. A change to ExcludedBinaryPaths, filemaps,
    VssAccessControl or a driver's descriptor reaches the System Writer only when CryptSvc restarts, so when
    O(systemwriter), O(filemaps) or O(writer_access) changes anything, CryptSvc is restarted once, as the last
    operation. This happens even when O(cryptsvc.enabled=false) or the C(cryptsvc) tag is not selected, as the
    roles' handler did (M(backupready.windows.win_cryptsvc) with C(state: restarted)): with the O(cryptsvc) options
    when that concern runs, otherwise with C(start_mode: auto) and C(ensure_system_writer: true). An ImagePath fix
    alone does not restart CryptSvc. CryptSvc is planned on the state the other fixes leave, so a filemaps
    permission fixed in the same apply no longer blocks a restart for the System Writer.
  - >-
    The result's top-level assessment keys (RV(ready), RV(gate_passed), RV(complete), RV(fail_on), RV(settings),
    RV(waived), RV(baseline), RV(summary), RV(findings)) are those M(backupready.windows.win_backup_readiness_info)
    returns, for the host as it is after the run: after a real change the host is assessed again (RV(verified=true),
    and RV(before) gives the readiness before the change), on the exact prediction of what the apply wrote, or, after
    a CryptSvc start or restart (whose outcome cannot be predicted), on the host read again. In check mode they
    describe the host before any change, as they do when nothing changed or the C(verify) phase is not selected. The
    fleet report counts a result with RV(complete=true) as the host's assessment; a task that fails after the host
    was read still returns the assessment of the host as it was read, and the report keeps it beside the error.
  - >-
    Every option is checked before the host is contacted, those of each concern enabled with O(remediate=true)
    included (also a concern the tags leave out): a bad option fails the task and nothing is read or written.
    What only the host's state can show (for example an invalid path in O(systemwriter.paths)) fails the task
    after the read, before anything is written.
  - >-
    All the operations go to the host in one apply, checked all-or-nothing (each value must still be the one read)
    and saved first in one backup (RV(backup_id)), so M(backupready.windows.win_backup_rollback) given that id puts
    back everything this run replaced (a service start or restart cannot be undone).
options:
  remediate:
    description:
      - Fix the concerns whose C(enabled) is true.
      - When false, nothing is fixed and the host is assessed once, as M(backupready.windows.win_backup_readiness_info)
        does; the concerns' options are then not checked beyond their types.
    type: bool
    default: true
  role_variables:
    description:
      - Take every option from the host's variables named as the C(backupready.windows.readiness) role names them
        (C(readiness_fail_on), C(readiness_waivers), C(readiness_waivers_file), C(readiness_baseline),
        C(readiness_fail_on_new_only), C(readiness_remediate), C(readiness_fix_imagepath), C(readiness_fix_exclusions),
        C(readiness_fix_filemaps), C(readiness_fix_cryptsvc), and the concern roles' C(imagepath_*),
        C(systemwriter_*), C(filemaps_*) and C(cryptsvc_*)), instead of from the task's arguments. This is how the
        role runs it.
      - The variables are validated with the role's own argument spec (C(meta/argument_specs.yml) of the role), with
        the messages Ansible's role validation gives, naming the variable (RV(argument_errors)); a bad one fails the
        task before the host is read. An empty C(readiness_fail_on), C(readiness_waivers_file), C(readiness_baseline)
        or C(readiness_fail_on_new_only) takes the fleet report's setting, as the role documents.
      - >-
        C(readiness_gate), C(readiness_fail_on_drift) (read by the role's gate task, and by this module for
        O(not_ready_group)) and C(readiness_strict_vars) are validated with the rest. What a check of a concern refuses names the variable too (for example
        C(filemaps_services: give at least one name or pattern)), and a name pattern is checked as it was written.
      - No other option but O(select_by_tags) may be given with it; C(readiness_not_ready_group) stands for
        O(not_ready_group). With C(readiness_playbook_variables) true, the C(backupready.windows.remediate)
        playbook's C(backupready_fail_on), C(backupready_waivers), C(backupready_waivers_file), C(backupready_baseline),
        C(backupready_fail_on_new_only) and C(backupready_fail_on_drift) stand for the C(readiness_*) variables of the
        same names (unset, the role's default), unless that C(readiness_*) variable is an extra variable (C(-e)).
    type: bool
    default: false
  not_ready_group:
    description:
      - Add a host that does not pass the C(readiness) role's gate to this inventory group, as
        C(ansible.builtin.group_by) does, so that a later play can fail those hosts only (the
        C(backupready.windows.remediate) playbook does, without a gate task per host). Not passing is what the role's
        gate task decides. After a real run, the host is not ready (RV(gate_passed=false)) and C(readiness_gate) is
        true. In check mode, a change is pending and C(readiness_fail_on_drift) is true.
      - Before ansible-core 2.21 Ansible then sets C(changed) to whether the inventory changed; RV(host_changed)
        keeps whether the host did, for the task's C(changed_when) (the role's C(fleet) tasks set it). From 2.21 the
        module adds the host through Ansible's own C(add_group) of actions.
      - C(readiness_gate) and C(readiness_fail_on_drift) are read with O(role_variables) only (without it, the gate is
        on and the drift gate off).
    type: str
  select_by_tags:
    description:
      - >-
        Run only the phases that the run's C(--tags) and C(--skip-tags) select, so that one task can stand for the
        assessment, each fix and the verification, each with its own tags (as in the C(backupready.windows.readiness)
        role). Tag the task C(always) (as the role does), so that Ansible runs it and the phases are chosen here;
        with no phase selected it reads nothing and returns skipped. A task carrying the phases' own tags would be
        skipped whole by a C(--skip-tags) of any one of them.
      - >-
        The phases and their tags: C(assess) (C(readiness), C(assess)); C(imagepath) (C(readiness), C(remediate),
        C(imagepath)); C(systemwriter) (C(readiness), C(remediate), C(systemwriter)); C(filemaps) and
        C(writer_access) (both C(readiness), C(remediate), C(filemaps)); C(cryptsvc) (C(readiness), C(remediate),
        C(cryptsvc)); C(verify) (C(readiness), C(verify)). A phase runs when Ansible would run a task with those
        tags, plus the task's tags that are not phase tags (for example tags inherited from the play), under the
        run's C(--tags) and C(--skip-tags).
      - >-
        A fix phase runs only when O(remediate=true) and its concern's C(enabled) is true. When no fix phase runs
        and C(assess) does, C(verify) is dropped (one assessment). When neither C(assess) nor C(verify) runs, the
        host is not assessed (RV(complete=false)). The CryptSvc restart that a fix needs is made even when the
        C(cryptsvc) phase does not run.
      - When false, every phase runs (each fix when O(remediate=true) and its concern's C(enabled) is true).
      - RV(phases) lists the phases that ran.
    type: bool
    default: false
  imagepath:
    description:
      - >-
        Fix service ImagePath values that break the System Writer, as
        M(backupready.windows.win_service_imagepath) does (see it for the defects, and how each is fixed).
    type: dict
    default: {}
    suboptions:
      enabled:
        description: Fix this concern (with O(remediate=true)).
        type: bool
        default: true
      fix:
        description: The defects to repair.
        type: list
        elements: str
        choices: [invalid_syntax, quoted_driver, embedded_nul, unquoted_spaces]
        default: [invalid_syntax, quoted_driver, embedded_nul, unquoted_spaces]
      include:
        description:
          - Service name patterns (shell style, case-insensitive) to look at.
          - >-
            A pattern that is not a string, is empty, or has a C([) that no C(]) closes is refused (C([[]) matches
            a C([)).
        type: list
        elements: str
        default: ["*"]
      exclude:
        description: Service name patterns to leave out (checked as O(imagepath.include) is).
        type: list
        elements: str
        default: []
      report_only:
        description: Report the defects and the fixes that would be made (RV(concerns.imagepath)), change nothing.
        type: bool
        default: false
  systemwriter:
    description:
      - >-
        Manage the System Writer's ExcludedBinaryPaths list, as M(backupready.windows.win_systemwriter_exclusions)
        does (see it for the rules a path must follow).
      - >-
        Off by default: an exclusion leaves the binary out of the System State backup, and which Windows versions
        honour the value is not established.
    type: dict
    default: {}
    suboptions:
      enabled:
        description: Manage ExcludedBinaryPaths (with O(remediate=true)).
        type: bool
        default: false
      paths:
        description:
          - Binary paths, for example C(D:\ProgramFolder\bin\program.exe).
          - >-
            Each must be an absolute drive path to a file, unquoted, without environment variables (KB 980794), and
            at most 32,767 characters long; otherwise the task fails and nothing is written.
        type: list
        elements: str
        default: []
      state:
        description:
          - C(present) adds the paths that are missing; C(absent) removes the listed paths; C(exact) makes the value
            equal to the list.
        type: str
        default: present
        choices: [present, absent, exact]
      exclude_unreachable:
        description:
          - >-
            Also add the binaries of this host's C(missing_volume) findings (services whose binary is on a volume
            that is not on this host). Cannot be combined with O(systemwriter.state=absent).
        type: bool
        default: false
      include_missing_file:
        description:
          - >-
            With O(systemwriter.exclude_unreachable=true), also add the binaries of C(missing_file) findings
            (without it, the task fails). Off by default: a missing file usually means a stale service that should
            be removed or repaired, not excluded.
        type: bool
        default: false
      remove_invalid:
        description: Remove invalid entries (and duplicates) already on the host.
        type: bool
        default: false
      replace_wrong_kind:
        description: When the value exists with another kind than REG_MULTI_SZ, replace it (its valid paths are kept).
        type: bool
        default: false
  filemaps:
    description:
      - >-
        Give the System Writer back read access to C(%windir%\winsxs\filemaps) (the folder and its files) and
        PendingRenames, as M(backupready.windows.win_filemaps_acl) does (see it for the policy and what a fix
        changes).
    type: dict
    default: {}
    suboptions:
      enabled:
        description: Fix this concern (with O(remediate=true)).
        type: bool
        default: true
      scope:
        description: What to check and fix.
        type: list
        elements: str
        choices: [folder, files, pending_renames]
        default: [folder, files, pending_renames]
      users_read:
        description: Require Users (S-1-5-32-545) read and execute, as KB 2009272 grants it.
        type: bool
        default: true
      dc_owner:
        description:
          - >-
            On a domain controller, the owner to set when the owner must change: C(administrators) (BUILTIN, as
            C(takeown /a) does) or C(domain_admins) (Domain Admins).
          - C(domain_admins) needs O(filemaps.domain_sid); without it the finding is reported and not fixed.
        type: str
        default: administrators
        choices: [administrators, domain_admins]
      domain_sid:
        description: The domain SID (C(S-1-5-21-x-y-z)), for O(filemaps.dc_owner=domain_admins).
        type: str
      strict_owner:
        description: >-
          Require the policy owner (Administrators) everywhere, as KB 2009272's C(takeown /a) leaves it, instead of
          also accepting TrustedInstaller and SYSTEM.
        type: bool
        default: false
  writer_access:
    description:
      - >-
        Let the System Writer's account register with VSS (VssAccessControl) and read every driver's configuration
        (driver service security descriptors), as M(backupready.windows.win_writer_access) does (see it for what
        each fix changes).
    type: dict
    default: {}
    suboptions:
      enabled:
        description:
          - Fix this concern (with O(remediate=true)).
          - >-
            While it is true, setting both O(writer_access.vss_access_control) and
            O(writer_access.service_descriptors) to false fails the task; set O(writer_access.enabled=false) instead.
        type: bool
        default: true
      vss_access_control:
        description: Check and fix VssAccessControl (KB 2009272).
        type: bool
        default: true
      service_descriptors:
        description: Check and fix the security descriptors of driver services (KB 3209092).
        type: bool
        default: true
      services:
        description:
          - Service name patterns (shell style, case-insensitive) for O(writer_access.service_descriptors).
          - >-
            A pattern that is not a string, is empty, or has a C([) that no C(]) closes is refused (C([[]) matches
            a C([)).
        type: list
        elements: str
        default: ["*"]
  cryptsvc:
    description:
      - >-
        Keep Cryptographic Services running and the VSS System Writer it hosts present, as
        M(backupready.windows.win_cryptsvc) does (see it for when a restart is made, or blocked).
      - >-
        Whatever these options say, CryptSvc is restarted when another concern's change needs it (see the
        description); when this concern runs, that restart uses its O(cryptsvc.start_mode) and
        O(cryptsvc.ensure_system_writer).
    type: dict
    default: {}
    suboptions:
      enabled:
        description: Manage CryptSvc (with O(remediate=true)).
        type: bool
        default: true
      start_mode:
        description: The start mode CryptSvc must have.
        type: str
        default: auto
        choices: [auto, manual]
      state:
        description:
          - C(started) starts CryptSvc when it is not running.
          - C(restarted) always restarts it, and always reports a change.
        type: str
        default: started
        choices: [started, restarted]
      ensure_system_writer:
        description:
          - >-
            Check the System Writer in C(vssadmin list writers), restart CryptSvc once when it is missing or failed,
            and look again.
          - When false, only the service's start mode and state are managed.
        type: bool
        default: true
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - backupready.windows.windows_target
  - backupready.windows.windows_target.action
  - backupready.windows.reviewed_plan
  - backupready.windows.assessment_settings
attributes:
  check_mode:
    support: full
    details: >-
      The apply runs in check mode: every operation is checked on the host as a real run checks it, and nothing is
      written, started or restarted. RV(operations) are exactly those a real run would apply, and the findings each
      concern would leave are predicted exactly, except what depends on a CryptSvc start or restart (the System
      Writer), which is reported as read.
  diff_mode:
    support: full
    details: >-
      Shows every change of every concern before and after, as the fix modules show them; the same in check mode
      and in a real run.
notes:
  - >-
    Restarting CryptSvc briefly interrupts catalog and signature checks (Windows Update, MSI installs); do not run
    this module during a backup.
  - >-
    Works on live hosts and on snapshots (C(backupready_snapshot)); on a snapshot the state after a CryptSvc
    restart comes from the snapshot's C(simulation.on_cryptsvc_restart), when it has one.
seealso:
  - module: backupready.windows.win_backup_readiness_info
  - module: backupready.windows.win_backup_rollback
  - module: backupready.windows.win_cryptsvc
author:
  - backupready.windows developers (@backupready)
"""

EXAMPLES = r"""
- name: Assess, fix what can be fixed safely, and verify (gate_passed says whether the host is ready now)
  backupready.windows.win_backup_remediate:
  register: remediation

- name: Report what a real run would change (drift), and fail when anything would
  backupready.windows.win_backup_remediate:
  check_mode: true
  diff: true
  register: drift
  failed_when: drift is failed or drift.changed

- name: Also exclude the binaries on volumes absent from this passive cluster node, and drop invalid entries
  backupready.windows.win_backup_remediate:
    systemwriter:
      enabled: true
      exclude_unreachable: true
      remove_invalid: true
"""

RETURN = r"""
phases:
  description: >-
    The phases that ran, in order, among C(assess), C(imagepath), C(systemwriter), C(filemaps), C(writer_access),
    C(cryptsvc) and C(verify) (see O(select_by_tags)).
  returned: when the host was read
  type: list
  elements: str
  sample: [assess, imagepath, filemaps, writer_access, cryptsvc, verify]
backend:
  description: Where the state came from and the changes went, C(live) (the host) or C(snapshot) (a file).
  returned: when the host was read
  type: str
  sample: live
changed:
  description: >-
    Whether the apply changed (or, in check mode, would change) anything. After a write that failed part-way, true
    when something was written.
  returned: always
  type: bool
operations:
  description:
    - >-
      The operations of every concern, in the order applied (the CryptSvc restart, when one is needed, last), each
      with C(op), the value it expects to find (C(expect)) and the value it writes (C(set)); the shapes are in the
      collection's C(docs/write-path.md). Empty when there is nothing to change.
  returned: when the host was read
  type: list
  elements: dict
  sample: [{"op": "service_start_mode", "service": "CryptSvc", "expect": "disabled", "set": "auto"}]
apply_results:
  description:
    - One entry per operation, with C(index), C(op), C(subject) and C(status) (C(applied), C(would_apply) in
      check mode, C(unchanged), C(refused) with C(reason) and C(found), or C(not_run) after a refusal).
  returned: when there was something to apply
  type: list
  elements: dict
backup_path:
  description: Where the host saved what the run replaced; null when nothing was written.
  returned: when there was something to apply
  type: str
backup_id:
  description:
    - The id of the one backup this run saved, which M(backupready.windows.win_backup_rollback) takes as
      O(backupready.windows.win_backup_rollback#module:backup); null when nothing was written.
  returned: when there was something to apply
  type: str
  sample: 20261130T101500123456Z
journal:
  description:
    - What happened to backups an interrupted earlier run left pending (C(action) C(discarded), C(committed) or
      C(left_pending), with C(id) and C(msg)), and temporary files a crash left that were removed (C(cleaned)).
  returned: when there was any
  type: list
  elements: dict
  sample: [{"id": "20261130T101500123456Z", "action": "discarded",
            "msg": "backup 20261130T101500123456Z was interrupted before its change reached the host: discarded"}]
pruned:
  description: Ids of older backups deleted because a host keeps its newest C(backupready_keep_backups) (default 20).
  returned: when any was
  type: list
  elements: str
reviewed_plan:
  description: The reviewed plan this task recorded (check mode) or followed (a real run).
  returned: when C(backupready_plan_dir) is set
  type: dict
  contains:
    file:
      description: The plan file of the host.
      type: str
    task:
      description: The key the task is recorded under (its role, name and module, and loop item).
      type: str
    status:
      description: C(recorded) in check mode, C(matched) in a real run that applied the recorded operations.
      type: str
concerns:
  description:
    - >-
      Per concern that ran, what its fix module would have returned: the module's own result keys, with
      C(module), C(operations), C(changed), C(findings) and C(fixed). C(cryptsvc) is also there when another
      concern's change restarts CryptSvc.
    - After a write that failed part-way, or a refusal, each concern has only its module's result keys and
      C(operations).
  returned: when the host was read
  type: dict
  contains:
    imagepath:
      description: As M(backupready.windows.win_service_imagepath) returns it.
      type: dict
      contains:
        module:
          description: The fix module of this concern.
          type: str
          sample: win_service_imagepath
        operations:
          description: This concern's part of RV(operations).
          type: list
          elements: dict
        changed:
          description: Whether its operations changed (or would change) anything.
          type: bool
        findings:
          description: The ImagePath findings, of the services selected, that remain after the run.
          type: list
          elements: dict
        fixed:
          description: The findings this run fixed (or would fix, in check mode).
          type: list
          elements: dict
        services:
          description: >-
            One entry per service with a defect (see
            RV(backupready.windows.win_service_imagepath#module:services)).
          type: list
          elements: dict
        report_only:
          description: The value of O(imagepath.report_only) the task ran with.
          type: bool
    systemwriter:
      description: As M(backupready.windows.win_systemwriter_exclusions) returns it.
      type: dict
      contains:
        module:
          description: The fix module of this concern.
          type: str
          sample: win_systemwriter_exclusions
        operations:
          description: This concern's part of RV(operations).
          type: list
          elements: dict
        changed:
          description: Whether its operations changed (or would change) anything.
          type: bool
        findings:
          description: The exclusion_invalid findings that remain after the run.
          type: list
          elements: dict
        fixed:
          description: The findings this run fixed (or would fix, in check mode).
          type: list
          elements: dict
        before:
          description: The entries before the run.
          type: list
          elements: str
        after:
          description: The entries after the run (what would be written in check mode).
          type: list
          elements: str
        added:
          description: Entries added.
          type: list
          elements: str
        removed:
          description: Entries removed.
          type: list
          elements: str
        invalid_existing:
          description: Entries on the host that break the rules.
          type: list
          elements: str
        wrong_kind:
          description: The value's kind when it is not REG_MULTI_SZ, else null.
          type: str
        notes:
          description: What was decided and why (for example an invalid entry kept).
          type: list
          elements: str
        cryptsvc_restart_needed:
          description: True when the value changed (or would); CryptSvc is then restarted last.
          type: bool
    filemaps:
      description: As M(backupready.windows.win_filemaps_acl) returns it.
      type: dict
      contains:
        module:
          description: The fix module of this concern.
          type: str
          sample: win_filemaps_acl
        operations:
          description: This concern's part of RV(operations).
          type: list
          elements: dict
        changed:
          description: Whether its operations changed (or would change) anything.
          type: bool
        findings:
          description: The filemaps_acl findings that remain after the run.
          type: list
          elements: dict
        fixed:
          description: The findings this run fixed (or would fix, in check mode).
          type: list
          elements: dict
        targets:
          description: >-
            Per folder, per file descriptor and PendingRenames, what changes (C(changes), C(before), C(after)) or
            why it is skipped (C(skipped)).
          type: list
          elements: dict
        cryptsvc_restart_needed:
          description: True when something changed (or would); CryptSvc is then restarted last.
          type: bool
    writer_access:
      description: As M(backupready.windows.win_writer_access) returns it.
      type: dict
      contains:
        module:
          description: The fix module of this concern.
          type: str
          sample: win_writer_access
        operations:
          description: This concern's part of RV(operations).
          type: list
          elements: dict
        changed:
          description: Whether its operations changed (or would change) anything.
          type: bool
        findings:
          description: The vss_access_control and service_sd_blocks_writer findings that remain after the run.
          type: list
          elements: dict
        fixed:
          description: The findings this run fixed (or would fix, in check mode).
          type: list
          elements: dict
        targets:
          description: >-
            What changes for VssAccessControl and each service descriptor (C(before), C(after), C(changes)), or
            why it is skipped.
          type: list
          elements: dict
    cryptsvc:
      description: As M(backupready.windows.win_cryptsvc) returns it.
      type: dict
      contains:
        module:
          description: The fix module of this concern.
          type: str
          sample: win_cryptsvc
        operations:
          description: This concern's part of RV(operations) (the start mode, then the start or restart).
          type: list
          elements: dict
        changed:
          description: Whether its operations changed (or would change) anything.
          type: bool
        findings:
          description: The cryptsvc_state / system_writer findings that remain after the run.
          type: list
          elements: dict
        fixed:
          description: The findings this run fixed (or would fix, in check mode).
          type: list
          elements: dict
        cryptsvc:
          description: CryptSvc's state and start mode (after the change outside check mode).
          type: dict
          sample: {"state": "running", "start_mode": "auto"}
        reasons:
          description: Why each operation was planned.
          type: list
          elements: str
        restart_for_writer:
          description: Whether CryptSvc was (or would be) restarted because of the System Writer.
          type: bool
        blocked_by:
          description: >-
            Why a restart for the System Writer was not made (see
            RV(backupready.windows.win_cryptsvc#module:blocked_by)); empty when nothing blocks it.
          type: list
          elements: str
        system_writer:
          description: >-
            The System Writer as read from C(vssadmin list writers), after the restart when one was made, with the
            CAPI2 and VSS events logged since (see RV(backupready.windows.win_cryptsvc#module:system_writer)).
            Null when C(ensure_system_writer) is false.
          type: dict
ready:
  description: True when no finding that is not waived reaches O(fail_on).
  returned: when the host was assessed
  type: bool
  sample: false
gate_passed:
  description: >-
    What a gate should check: RV(ready), or with O(fail_on_new_only) whether no new finding (see RV(baseline)) is
    at or above O(fail_on) and not waived.
  returned: when the host was assessed
  type: bool
complete:
  description: >-
    Whether the host was assessed, with every check (the C(assess) or C(verify) phase ran); false when only fixes
    ran.
  returned: success
  type: bool
fail_on:
  description: The severity threshold used for RV(ready).
  returned: when the host was assessed
  type: str
  sample: error
settings:
  description: >-
    How the host was judged, and where each setting came from (see
    RV(backupready.windows.win_backup_readiness_info#module:settings)).
  returned: when the host was assessed
  type: dict
waived:
  description: >-
    The findings a waiver accepted, with its reason, end date and source (see
    RV(backupready.windows.win_backup_readiness_info#module:waived)).
  returned: when the host was assessed
  type: list
  elements: dict
baseline:
  description: >-
    The comparison with O(baseline), or null without one (see
    RV(backupready.windows.win_backup_readiness_info#module:baseline)).
  returned: when the host was assessed
  type: dict
summary:
  description: Counts for this host.
  returned: when the host was assessed
  type: dict
  sample: {"host": "WS2022-01", "os": "Microsoft Windows Server 2022 Standard", "services": 264, "findings": 1,
           "blocking": 1, "waived": 0, "by_severity": {"error": 1}, "by_code": {"cryptsvc_state": 1}}
findings:
  description: What was found, most severe first, with waivers applied.
  returned: when the host was assessed
  type: list
  elements: dict
  contains:
    code:
      description: Stable finding code (reports and waivers use it).
      type: str
      sample: cryptsvc_state
    severity:
      description: One of info, warning, error, critical.
      type: str
      sample: error
    subject:
      description: What the finding is about, e.g. C(service:CryptSvc).
      type: str
    message:
      description: One sentence for a person.
      type: str
    evidence:
      description: The data the verdict rests on.
      type: dict
    fix:
      description: What fixes it.
      type: str
    fixable:
      description: Whether a module of this collection can fix it safely.
      type: bool
    source:
      description: The KB article or public issue behind the rule.
      type: str
      sample: KB 2009272
    waived:
      description: Whether a waiver accepts this finding.
      type: bool
    waiver_reason:
      description: The reason of the waiver, when waived.
      type: str
    waiver_expires:
      description: The last day the waiver counts, when it has one.
      type: str
    waiver_expired:
      description: The day the matching waiver expired, when it has (the finding then counts again).
      type: str
    waiver_source:
      description: Where the waiver came from (a file, or C(task option waivers)), when waived.
      type: str
verified:
  description: >-
    True when the assessment was made again on the host as the change left it (the exact prediction of what the apply
    wrote, or the host read again after a CryptSvc start or restart); false when it is the assessment of the host as
    first read (nothing changed, check mode, the C(verify) phase did not run, or the task failed).
  returned: when the host was assessed
  type: bool
before:
  description: The readiness before the change, when RV(verified) is true.
  returned: when RV(verified) is true
  type: dict
  contains:
    ready:
      description: RV(ready) before the change.
      type: bool
    summary:
      description: RV(summary) before the change.
      type: dict
lines:
  description:
    - The host's lines as the playbooks and the role show them (the filter C(backupready.windows.readiness_lines)),
      or C(no assessment in this run) when the host was not assessed.
  returned: when the host was read
  type: list
  elements: str
verdict:
  description:
    - In check mode, how many changes are pending (the drift gate's message, whether or not the drift gate is on);
      otherwise, when the host does not pass the gate, that it is not ready (also when the task failed after the
      read); then the lines, one text. Otherwise empty. The role's last task fails the host with it.
  returned: when the host was read
  type: str
argument_errors:
  description: With O(role_variables=true), what the role's argument spec refused, one message per variable.
  returned: when a role variable is not valid
  type: list
  elements: str
fails_gate:
  description:
    - Whether the host fails the C(readiness) role's gate, which its gate task and O(not_ready_group) act on. After
      a real run, the host is not ready (RV(gate_passed=false)) and C(readiness_gate) is true. In check mode, a change
      is pending and C(readiness_fail_on_drift) is true (both read with O(role_variables); without it, the gate is on
      and the drift gate off).
  returned: when a phase ran (not C(skipped))
  type: bool
  sample: false
not_ready_group:
  description: The O(not_ready_group) given.
  returned: when O(not_ready_group) is given and a phase ran (not C(skipped))
  type: str
  sample: backupready_not_remediated
add_group:
  description: The group the host was added to (O(not_ready_group)), as C(ansible.builtin.group_by) returns it.
  returned: when O(not_ready_group) is given, the task did not fail and the host does not pass the gate
  type: str
  sample: backupready_not_remediated
parent_groups:
  description: The parent group of RV(add_group), C(all).
  returned: when RV(add_group) is
  type: list
  elements: str
host_changed:
  description:
    - Whether the host changed; before ansible-core 2.21, C(changed) is whether the inventory did, once Ansible
      added the host to the group.
  returned: when O(not_ready_group) is given and a phase ran (not C(skipped))
  type: bool
  sample: false
module_calls:
  description: How many module calls (or snapshot reads and writes) this task made for the host.
  returned: when the host was read
  type: int
  sample: 2
waivers_error:
  description: >-
    Why the waivers could not be used (a bad waiver or waivers file); the task failed before the host was read.
  returned: when the waivers were bad
  type: str
"""
