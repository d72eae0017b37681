#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# This file holds documentation only: the module is the action plugin of the same name.

DOCUMENTATION = r"""
---
module: win_systemwriter_exclusions
short_description: Manage the System Writer's ExcludedBinaryPaths list
version_added: 0.2.0
description:
  - Manages the REG_MULTI_SZ value C(ExcludedBinaryPaths) under
    C(HKLM\SYSTEM\CurrentControlSet\Control\SystemWriter), which tells the VSS System Writer to leave service
    binaries out of a System State backup. KB 980794 uses it for services whose binary sits on a volume absent
    from this node (a passive cluster node), which otherwise fails the backup with "Enumeration of the files
    failed. The parameter is incorrect."
  - Every given path is validated first, with KB 980794's rules - an absolute drive path, no environment
    variable, no quotes, no wildcards, no C(.) or C(..) segments, no trailing space or dot, ending in a file name
    with an extension. Any invalid entry fails the task, naming each bad entry and why, and nothing is written.
  - Comparison is case-insensitive and order is kept. Valid entries already on the host that the task does not
    mention are kept (except with O(state=exact)). Invalid entries already on the host are reported as
    C(exclusion_invalid) findings and removed only with O(remove_invalid=true).
  - B(Which Windows versions honour the value is not established.) KB 980794 documents it for Windows Server 2008
    and 2008 R2 with its hotfix; later versions are presumed, not verified, to read it, and the decompiled System
    Writer of a recent build shows no trace of it. An exclusion also leaves the binary out
    of the System State backup, so back it up another way.
  - When the System Writer reads the value (each backup, or at CryptSvc start) is not known either, so restart CryptSvc
    after a change (RV(cryptsvc_restart_needed); the C(systemwriter) role's handler does it).
options:
  paths:
    description:
      - Binary paths, for example C(D:\ProgramFolder\bin\program.exe).
      - Each must be an absolute drive path to a file, unquoted, without environment variables (KB 980794), and at most
        32,767 characters long (Windows' path limit); otherwise the task fails and nothing is written.
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
      - Also add the binaries of this host's C(missing_volume) findings (services whose binary is on a volume that
        is not on this host), as the writer would need them.
    type: bool
    default: false
  include_missing_file:
    description:
      - With O(exclude_unreachable), also add the binaries of C(missing_file) findings. Off by default - a missing
        file usually means a stale service that should be removed or repaired, not excluded.
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
    details: Shows the list before and after, one entry per line.
seealso:
  - module: backupready.windows.win_service_imagepath
  - module: backupready.windows.win_cryptsvc
author:
  - backupready.windows developers (@backupready)
"""

EXAMPLES = r"""
- name: Exclude a clustered service's binary on a passive node (KB 980794)
  backupready.windows.win_systemwriter_exclusions:
    paths:
      - S:\Program Files\ClusterApp\bin\clusapp.exe
  notify: Restart Cryptographic Services

- name: Exclude every binary that sits on a volume absent from this node
  backupready.windows.win_systemwriter_exclusions:
    exclude_unreachable: true

- name: Clean up invalid entries and make the list exactly this
  backupready.windows.win_systemwriter_exclusions:
    paths:
      - D:\ProgramFolder\bin\program.exe
    state: exact
"""

RETURN = r"""
before:
  description: The entries before the task.
  returned: success
  type: list
  elements: str
after:
  description: The entries after the task (what would be written in check mode).
  returned: success
  type: list
  elements: str
added:
  description: Entries added.
  returned: success
  type: list
  elements: str
removed:
  description: Entries removed.
  returned: success
  type: list
  elements: str
invalid_existing:
  description: Entries on the host that break the rules.
  returned: success
  type: list
  elements: str
wrong_kind:
  description: The value's kind when it is not REG_MULTI_SZ, else null.
  returned: success
  type: str
notes:
  description: What the task decided and why (for example an invalid entry kept).
  returned: success
  type: list
  elements: str
cryptsvc_restart_needed:
  description: True when the value changed (or would), so CryptSvc should be restarted.
  returned: success
  type: bool
findings:
  description: The exclusion_invalid findings that remain after the task.
  returned: success
  type: list
  elements: dict
fixed:
  description: The findings this task fixed (or would fix, in check mode).
  returned: when something was (or would be) changed
  type: list
  elements: dict
backup_path:
  description: Where the previous value was saved.
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
