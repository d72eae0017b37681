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
    type: str
    default: error
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
        required), added to O(waivers). A relative path is taken from the directory ansible-playbook runs in. The
        fleet report callback reads the same format from C(BACKUPREADY_WAIVERS_FILE).
      - A file that cannot be read or validated fails the task, naming the file, the entry and the field.
    type: path
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
module_calls:
  description: How many module calls (or snapshot reads) this task made on the host.
  returned: success
  type: int
  sample: 2
"""
