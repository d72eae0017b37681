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
  fail_on:
    description:
      - The lowest severity that makes the host not ready.
      - When omitted, the fleet report's setting is used (E(BACKUPREADY_FAIL_ON), or C(fail_on) in the
        C([backupready]) section of C(ansible.cfg)), else C(error). The result says which value was used and where
        it came from (RV(settings)), and the report judges from it, so the gate and the report agree.
    type: str
    choices: [info, warning, error, critical]
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
  waivers:
    description:
      - >-
        Accepted findings. A finding that a waiver matches is returned with RV(findings[].waived=true) and the
        waiver's reason, and does not make the host not ready; it is never dropped. A waiver stops counting the
        day after its C(expires) date, and the finding then says when its waiver expired.
      - >-
        Each waiver is a dict with C(code) (a finding code or a shell pattern), C(reason) (required), C(host) and
        C(subject) (shell patterns, case-insensitive, default C(*)), and C(expires) (YYYY-MM-DD, optional).
        A bad waiver fails the task, naming the entry and the field, before the host is contacted.
    type: list
    elements: dict
    default: []
  waivers_file:
    description:
      - >-
        A YAML or JSON file on the controller holding a list of waivers (the format of O(waivers), with C(host)
        required), added to O(waivers). A relative path is taken from the directory ansible-playbook runs in.
      - When omitted, the fleet report's setting is used (E(BACKUPREADY_WAIVERS_FILE), or C(waivers_file) in the
        C([backupready]) section of C(ansible.cfg), relative to that file's folder).
      - A file that cannot be read or validated fails the task, naming the file, the entry and the field.
    type: path
  baseline:
    description:
      - The C(report.json) of an earlier run of the fleet report. The findings are compared with the host's in it
        (by code and subject) and RV(baseline) lists the new, resolved and unchanged ones. A host the baseline did
        not assess has only new findings.
      - When omitted, E(BACKUPREADY_BASELINE) or C(baseline) in the C([backupready]) section of C(ansible.cfg).
    type: path
  fail_on_new_only:
    description:
      - With O(baseline), RV(gate_passed) is false only when a finding the baseline did not have is at or above
        O(fail_on) and not waived (how code scanners gate CI without blocking on known debt). RV(ready) still
        counts every finding.
      - When omitted, E(BACKUPREADY_FAIL_ON_NEW_ONLY) or C(fail_on_new_only) in C([backupready]), else false.
        Turning it on without a baseline fails the task.
    type: bool
  include_state:
    description:
      - Return the whole host state document as RV(state). It holds every service (often more than 100 KB per
        host), so it is off by default (on AWX / Automation Platform every task result is stored as a job event).
      - The C(backupready.windows.capture) playbook turns it on to save snapshots.
    type: bool
    default: false
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - backupready.windows.windows_target
  - backupready.windows.windows_target.action
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
        Where it came from, C(task option fail_on), C(env: BACKUPREADY_FAIL_ON), C(ini: <file> [backupready] fail_on)
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
  description: The findings a waiver accepted, with its reason, end date and source (a file, or C(task option waivers)).
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
      description: The file the waiver came from, or C(task option waivers).
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
      description: Where the waiver came from (a file, or C(task option waivers)), when waived.
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
"""
