#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# This file holds documentation only: the module is the action plugin of the same name.

DOCUMENTATION = r"""
---
module: win_service_imagepath
short_description: Find and safely fix service ImagePath values that break the VSS System Writer
version_added: 0.2.0
description:
  - >-
    System State backups fail when the VSS System Writer derives an invalid, non-local or missing path from a
    service's binary path (KB 4053355 0x8007007B, KB 968247, KB 980794 "The parameter is incorrect"). This module
    derives, for every service, the path the writer derives (drivers and Win32 services differ; C(\??\),
    C(\SystemRoot\), the C(%SystemRoot%\) prefix, the cut after C(.exe), environment expansion) and judges it.
  - >-
    Defects (finding codes) - C(invalid_syntax), C(quoted_driver), C(embedded_nul), C(unquoted_spaces) (Win32
    services only, never drivers; CWE-428), which have a safe fix, and C(missing_volume) and C(missing_file), which
    are reported only (see M(backupready.windows.win_systemwriter_exclusions) with C(exclude_unreachable)).
  - >-
    A fix keeps the arguments byte for byte, the value kind (REG_EXPAND_SZ stays REG_EXPAND_SZ, C(%VAR%) stays
    unexpanded) and the case of what it does not touch. A value that cannot be parsed with confidence is reported and
    never rewritten, and a value is rewritten only when every repairable defect it has is selected in O(fix).
  - >-
    Unlike the advice of KB 4053355 ("remove a leading backslash"), C(\SystemRoot\...) and C(\??\C:\...) are valid
    driver paths and are left alone, and driver paths are never quoted.
options:
  fix:
    description: The defects to repair.
    type: list
    elements: str
    choices: [invalid_syntax, quoted_driver, embedded_nul, unquoted_spaces]
    default: [invalid_syntax, quoted_driver, embedded_nul, unquoted_spaces]
  include:
    description:
      - Service name patterns (shell style, case-insensitive) to look at.
      - A pattern that is not a string, is empty, or has a C([) that no C(]) closes is refused (C([[]) matches a C([)).
    type: list
    elements: str
    default: ["*"]
  exclude:
    description: Service name patterns to leave out (checked as O(include) is).
    type: list
    elements: str
    default: []
  report_only:
    description: Report the defects and the fixes that would be made, change nothing.
    type: bool
    default: false
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - backupready.windows.windows_target
  - backupready.windows.windows_target.action
  - backupready.windows.reviewed_plan
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: Shows each ImagePath before and after, with its value kind; an embedded NUL shows as C(\x00).
notes:
  - >-
    Two module calls read the host (the services, then the existence of their binaries), one writes, whatever the
    number of services.
  - The ImagePath registry value is written directly (compare-and-swap on the exact value read), with its kind kept.
seealso:
  - module: backupready.windows.win_systemwriter_exclusions
  - module: backupready.windows.win_backup_readiness_info
author:
  - backupready.windows developers (@backupready)
"""

EXAMPLES = r"""
- name: Fix every safe ImagePath defect
  backupready.windows.win_service_imagepath:

- name: Only report, for services of one vendor
  backupready.windows.win_service_imagepath:
    include: ["TM*", "Trend*"]
    report_only: true
  register: imagepath

- name: Fix syntax only, never touch unquoted paths
  backupready.windows.win_service_imagepath:
    fix: [invalid_syntax, quoted_driver, embedded_nul]
    exclude: [MyLegacyService]
"""

RETURN = r"""
services:
  description: One entry per service with a defect.
  returned: success
  type: list
  elements: dict
  contains:
    service:
      description: The service (registry key) name.
      type: str
    defects:
      description: The defect codes.
      type: list
      elements: str
    old:
      description: The ImagePath data as found.
      type: str
    new:
      description: The fixed value, or null when no fix is made (none needed, none safe, or not selected).
      type: str
    kind:
      description: The value kind, kept by the fix.
      type: str
    reason:
      description: Why RV(services[].new) is null although the service has a defect (not a string value, no fix
        derived with confidence, or a defect not selected by O(fix)).
      type: str
  sample:
    - service: TMBMServer
      defects: [invalid_syntax]
      old: '"C:\Program Files (x86)\Trend Micro\Client Server Security Agent\..\BM\TMBMSRV.exe" /service'
      new: '"C:\Program Files (x86)\Trend Micro\BM\TMBMSRV.exe" /service'
      kind: REG_EXPAND_SZ
report_only:
  description: The value of O(report_only) the task ran with.
  returned: success
  type: bool
  sample: false
findings:
  description: >-
    The ImagePath findings that remain after the task (evidence includes the writer path and, for
    missing_volume / missing_file, the C(exclusion_path)).
  returned: success
  type: list
  elements: dict
fixed:
  description: The findings this task fixed.
  returned: when something was (or would be) changed
  type: list
  elements: dict
backup_path:
  description: Where the host saved the values that were replaced.
  returned: when changed outside check mode
  type: str
backup_id:
  description:
    - The id of the backup this change saved, which M(backupready.windows.win_backup_rollback) takes as
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
operations:
  description:
    - The operations the task planned, in the order applied, each with C(op), the value it expects to find
      (C(expect)) and the value it writes (C(set)); the shapes are in the collection's C(docs/write-path.md).
  returned: when the task planned a change
  type: list
  elements: dict
  sample: [{"op": "service_start_mode", "service": "CryptSvc", "expect": "disabled", "set": "auto"}]
apply_results:
  description:
    - One entry per operation, with C(index), C(op), C(subject) and C(status) (C(applied), C(would_apply) in
      check mode, C(unchanged), C(refused) with C(reason) and C(found), or C(not_run) after a refusal).
  returned: when the task planned a change
  type: list
  elements: dict
backend:
  description: Where the state came from and the changes went, C(live) (the host) or C(snapshot) (a file).
  returned: success
  type: str
  sample: live
module_calls:
  description: How many module calls (or snapshot reads and writes) this task made for the host.
  returned: success
  type: int
  sample: 2
"""
