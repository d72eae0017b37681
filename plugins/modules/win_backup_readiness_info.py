#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# This file holds documentation only: the module is the action plugin of the same name.

DOCUMENTATION = r"""
---
module: win_backup_readiness_info
short_description: Assess whether a Windows host is ready for a System State backup
version_added: 0.2.0
description:
  - Gathers the host state document in one call (services with their raw ImagePath, the SystemWriter key,
    C(vssadmin list writers), filemaps and PendingRenames security, VssAccessControl, recent CAPI2 / VSS /
    Windows Server Backup events), tests the existence of the binaries the checks need in a second call, and
    runs every check of the collection over it.
  - Returns the findings (code, severity, subject, message, evidence, fix, source) and whether the host is
    ready. It never changes anything, in check mode or not.
  - The checks available depend on the collection version; see the README for the list of finding codes and
    their sources.
  - With the host variable C(backupready_snapshot) set to a snapshot file on the controller, the state is read
    from that file instead of the host (see the README, "Snapshots").
options:
  codes:
    description:
      - Only run the checks producing these finding codes. All checks run when omitted.
    type: list
    elements: str
    choices:
      - cryptsvc_state
      - embedded_nul
      - exclusion_invalid
      - filemaps_acl
      - invalid_syntax
      - missing_file
      - missing_volume
      - quoted_driver
      - service_sd_blocks_writer
      - state_unreadable
      - system_writer_failed
      - system_writer_missing
      - unquoted_spaces
      - vss_access_control
  include_state:
    description:
      - Return the whole host state document as RV(state). It holds every service (often more than 100 KB per
        host), so it is off by default (on AWX / Automation Platform every task result is stored as a job event).
      - The C(backupready.windows.capture) playbook turns it on to save snapshots.
    type: bool
    default: false
  playbook_variables:
    description:
      - Take O(fail_on), O(waivers), O(waivers_file), O(baseline) and O(fail_on_new_only) from the host's variables
        C(backupready_fail_on), C(backupready_waivers), C(backupready_waivers_file), C(backupready_baseline) and
        C(backupready_fail_on_new_only), the C(backupready.windows.assess) playbook's, templated together; and the
        gate of O(not_ready_group) from C(backupready_gate) (default true).
      - A variable that is unset (or C(omit), or empty for the two files) leaves its option unset, so the report's
        setting applies. A bad value is refused naming the variable, before the host is read; the result records
        C(variable backupready_fail_on) as where a value came from.
      - It saves templating an argument per option on every host, which costs as much controller time as the
        assessment.
      - Do not give those options as well.
    type: bool
    default: false
  not_ready_group:
    description:
      - Add a host that does not pass the gate (RV(gate_passed=false), every check having run; with
        O(playbook_variables), only while C(backupready_gate) is true) to this inventory group, as C(ansible.builtin.group_by) does, so that a later
        play can fail those hosts only. The C(backupready.windows.assess) playbook fails them that way, without a
        task per host.
      - Before ansible-core 2.21 Ansible then counts the task as changed (the inventory changed); set C(changed_when)
        (the module only reads). From 2.21 the module adds the host through Ansible's own C(add_group) of actions.
      - The group is only added to, never emptied, during a run.
    type: str
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - backupready.windows.windows_target
  - backupready.windows.windows_target.action
  - backupready.windows.assessment_settings
attributes:
  check_mode:
    support: full
    details: Never changes anything; runs the same in check mode.
  diff_mode:
    support: none
notes:
  - Costs at most two module calls per host, whatever the number of services.
  - Only a result that ran every check (RV(complete)) counts for the fleet report, and not one with
    O(include_state=true) (a state capture).
seealso:
  - module: backupready.windows.win_backup_state
author:
  - backupready.windows developers (@backupready)
"""

EXAMPLES = r"""
- name: Assess backup readiness
  backupready.windows.win_backup_readiness_info:
    include_state: false
  register: readiness

- name: Fail when the host is not ready
  ansible.builtin.assert:
    that: readiness.ready
    fail_msg: "{{ readiness.findings | map(attribute='message') | list }}"

- name: Accept the passive cluster node's unreachable binary until the end of the year
  backupready.windows.win_backup_readiness_info:
    include_state: false
    waivers:
      - host: "sql-node*"
        code: missing_volume
        subject: "service:ClusSvcApp"
        reason: passive node; the volume belongs to the active node (KB 980794)
        expires: "2026-12-31"

- name: Assess, and add the hosts that do not pass to a group (the assess playbook's way)
  backupready.windows.win_backup_readiness_info:
    include_state: false
    not_ready_group: not_ready
  register: readiness
  changed_when: false

- name: Only look at Cryptographic Services, and treat warnings as blocking
  backupready.windows.win_backup_readiness_info:
    codes: [cryptsvc_state]
    fail_on: warning
    include_state: false
"""

RETURN = r"""
ready:
  description: True when no finding that is not waived reaches O(fail_on).
  returned: success
  type: bool
  sample: false
fail_on:
  description: The severity threshold used for RV(ready).
  returned: success
  type: str
  sample: error
gate_passed:
  description: >-
    What a gate should check: RV(ready), or with O(fail_on_new_only) whether no new finding (see RV(baseline)) is
    at or above O(fail_on) and not waived.
  returned: success
  type: bool
complete:
  description: Whether every check ran (O(codes) omitted or naming every code); only then is it an assessment of the host.
  returned: success
  type: bool
settings:
  description: How the host was judged, and where each setting came from.
  returned: success
  type: dict
  contains:
    fail_on:
      description: The severity threshold used.
      type: str
    fail_on_origin:
      description: >-
        Where it came from, C(task option fail_on), C(variable backupready_fail_on) (O(playbook_variables)),
        C(env: BACKUPREADY_FAIL_ON), C(ini: <file> [backupready] fail_on)
        or C(default).
      type: str
    waivers_files:
      description: The waiver files applied (absolute paths).
      type: list
      elements: str
    waivers_origin:
      description: Where the waivers file was given (as for RV(settings.fail_on_origin)), or null.
      type: str
    waivers_count:
      description: How many waivers were loaded (from the files and O(waivers)).
      type: int
    fail_on_new_only:
      description: Whether the gate counts only new findings.
      type: bool
    fail_on_new_only_origin:
      description: Where that came from.
      type: str
waived:
  description: The findings a waiver accepted, with its reason, end date and source (a file, C(task option waivers) or C(variable backupready_waivers)).
  returned: success
  type: list
  elements: dict
  contains:
    code:
      description: The finding code.
      type: str
    subject:
      description: The finding subject.
      type: str
    reason:
      description: The waiver's reason.
      type: str
    expires:
      description: The waiver's last day, or null.
      type: str
    waiver_source:
      description: The file the waiver came from, C(task option waivers) or C(variable backupready_waivers).
      type: str
baseline:
  description: The comparison with O(baseline), or null without one. Findings are given as code and subject.
  returned: success
  type: dict
  contains:
    path:
      description: The baseline file.
      type: str
    generated:
      description: When the baseline report was written (its C(run.finished)).
      type: str
    host_in_baseline:
      description: Whether the baseline assessed this host.
      type: bool
    new:
      description: Findings the baseline did not have.
      type: list
      elements: dict
    resolved:
      description: Findings of the baseline no longer found.
      type: list
      elements: dict
    unchanged:
      description: Findings found in both.
      type: list
      elements: dict
    new_blocking:
      description: New findings at or above O(fail_on), not waived.
      type: int
findings:
  description: What was found, most severe first.
  returned: success
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
      description: Where the waiver came from (a file, C(task option waivers) or C(variable backupready_waivers)), when waived.
      type: str
summary:
  description: Counts for this host.
  returned: success
  type: dict
  sample: {"host": "WS2022-01", "os": "Microsoft Windows Server 2022 Standard", "services": 264, "findings": 1,
           "by_severity": {"error": 1}, "by_code": {"cryptsvc_state": 1}}
state:
  description: The host state document (schema in docs/state-schema.md).
  returned: when O(include_state=true)
  type: dict
backend:
  description: Where the state came from, C(live) or C(snapshot).
  returned: success
  type: str
lines:
  description: The host's lines as the assess playbook shows them (the filter C(backupready.windows.readiness_lines)).
  returned: when every check ran (RV(complete=true))
  type: list
  elements: str
verdict:
  description:
    - When the host does not pass the gate (RV(gate_passed=false)), why, then the lines, one text (the message with
      which the assess playbook fails the host); empty when it passes.
  returned: when every check ran (RV(complete=true))
  type: str
module_calls:
  description: How many module calls (or snapshot reads) this task made on the host.
  returned: success
  type: int
  sample: 2
not_ready_group:
  description: The O(not_ready_group) given.
  returned: when O(not_ready_group) is given and every check ran
  type: str
  sample: backupready_not_ready
add_group:
  description: The group the host was added to (O(not_ready_group)), as C(ansible.builtin.group_by) returns it.
  returned: when O(not_ready_group) is given, every check ran and the host does not pass the gate
  type: str
  sample: backupready_not_ready
parent_groups:
  description: The parent group of RV(add_group), C(all).
  returned: when RV(add_group) is
  type: list
  elements: str
host_changed:
  description:
    - Whether the host changed; before ansible-core 2.21, C(changed) is whether the inventory did, once Ansible
      added the host to the group.
  returned: when O(not_ready_group) is given and every check ran
  type: bool
  sample: false
"""
