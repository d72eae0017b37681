#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# This file holds documentation only: the module is the action plugin of the same name.

DOCUMENTATION = r"""
---
module: win_writer_access
short_description: Let the System Writer's account register with VSS and read every driver's configuration
version_added: 0.2.0
description:
  - >-
    O(vss_access_control) (KB 2009272, VSS event 8213):
    C(HKLM\SYSTEM\CurrentControlSet\Services\VSS\VssAccessControl) must allow NETWORK SERVICE, the account
    CryptSvc runs as, with a REG_DWORD of 1. Both spellings of the value name (C(NT AUTHORITY\NETWORK SERVICE)
    in the KB, C(NT Authority\NetworkService) on real systems) are read; the KB spelling is written only when
    neither exists.
  - >-
    O(service_descriptors) (KB 3209092): a driver service whose security descriptor does not grant
    SERVICE_QUERY_CONFIG to the writer's account (the MSLLDP case) logs CAPI2 513
    C(AddLegacyDriverFiles: Unable to back up image of binary <display name>) on every backup. The fix inserts
    C((A;;CCLCSWLOCRRC;;;SU)) at the end of the DACL and keeps the rest of the descriptor, SACL included, byte for
    byte. A descriptor that cannot be parsed, or where a deny ACE for the writer's account comes first, is
    reported and not changed. Services without a stored descriptor use the SCM default and are not touched.
options:
  vss_access_control:
    description: Check and fix VssAccessControl.
    type: bool
    default: true
  service_descriptors:
    description: Check and fix the security descriptors of driver services.
    type: bool
    default: true
  services:
    description:
      - Service name patterns (shell style, case-insensitive) for O(service_descriptors).
      - A pattern that is not a string, is empty, or has a C([) that no C(]) closes is refused (C([[]) matches a C([)).
    type: list
    elements: str
    default: ["*"]
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
    details: Shows the value, and each descriptor one ACE per line, before and after.
notes:
  - >-
    The writer's account is taken to hold NETWORK SERVICE, SERVICE, Authenticated Users, Everyone and Users;
    that is an inference from KB 3209092, not a documented list.
seealso:
  - module: backupready.windows.win_filemaps_acl
author:
  - backupready.windows developers (@backupready)
"""

EXAMPLES = r"""
- name: VssAccessControl and every driver's descriptor
  backupready.windows.win_writer_access:

- name: Only the MSLLDP driver (KB 3209092)
  backupready.windows.win_writer_access:
    vss_access_control: false
    services: [MSLLDP]
"""

RETURN = r"""
targets:
  description: What changes for VssAccessControl and each service descriptor (C(before), C(after), C(changes)), or why it is skipped.
  returned: success
  type: list
  elements: dict
findings:
  description: The vss_access_control and service_sd_blocks_writer findings that remain after the task.
  returned: success
  type: list
  elements: dict
fixed:
  description: The findings this task fixed.
  returned: when something was (or would be) changed
  type: list
  elements: dict
backup_path:
  description: Where the host saved what was replaced.
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
