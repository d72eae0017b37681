#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# This file holds documentation only: the module is the action plugin of the same name.

DOCUMENTATION = r"""
---
module: win_filemaps_acl
short_description: Give the System Writer back read access to WinSxS filemaps and PendingRenames
version_added: 0.2.0
description:
  - >-
    CAPI2 event 513 C(AddCoreCsiFiles : BeginFileEnumeration() failed. Access is denied.) means the VSS System
    Writer cannot read C(%windir%\winsxs\filemaps), and the writer disappears from the backup ("System writer is
    not found in the backup"; KB 2009272). KB 2009272 also names C(%windir%\winsxs\temp\PendingRenames).
  - >-
    Checks the owner and DACL of the filemaps folder, of each distinct descriptor of its files (thousands of
    files, a handful of descriptors), and of PendingRenames, against a policy written in well-known SIDs (Windows
    is localised): TrustedInstaller full control; SYSTEM, Administrators and (O(users_read)) Users read and
    execute; no deny ACE taking any of that away; an owner that is TrustedInstaller, SYSTEM or Administrators
    (another owner, for example a user who took ownership, becomes Administrators, as C(takeown /a) does).
  - >-
    The fix adds or widens only the grants that are missing and removes only the deny ACEs that take them away;
    every other ACE stays as it is, in order, and the group and SACL (TiWorker's audit ACE) are untouched. The
    hand-made fixes published for KB 2009272 differ from one another and drop the SACL.
  - Restart CryptSvc after a change (RV(cryptsvc_restart_needed)); the C(filemaps) role's handler does it.
options:
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
        C(takeown /a) does) or C(domain_admins) (Domain Admins), where that is the site's policy for domain controllers.
      - C(domain_admins) needs O(domain_sid); without it the finding is reported and not fixed.
    type: str
    default: administrators
    choices: [administrators, domain_admins]
  domain_sid:
    description: The domain SID (C(S-1-5-21-x-y-z)), for O(dc_owner=domain_admins).
    type: str
  strict_owner:
    description: >-
      Require the policy owner (Administrators) everywhere, as KB 2009272's C(takeown /a) leaves it, instead of
      also accepting TrustedInstaller and SYSTEM.
    type: bool
    default: false
  filemaps_path:
    description:
      - Self-test only. Check and fix this folder and its files instead of C(%windir%\winsxs\filemaps); PendingRenames
        is then left alone.
      - >-
        Only a self-test sandbox folder is accepted, C(<system drive>\ProgramData\backupready-selftest\<run id>) (8 to 32
        ASCII letters and digits), one that M(backupready.windows.win_backup_selftest_sandbox) made; anything else
        fails the task before the host is changed. The apply step admits that folder with the same value rules as
        filemaps, and on a live host refuses it when C(backupready-selftest) or C(%ProgramData%) is a link, or
        C(backupready-selftest) is not SYSTEM's and Administrators' alone (the collection's C(docs/selftest.md)).
    type: str
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
    details: Shows the owner and DACL before and after, one ACE per line.
notes:
  - >-
    The default descriptor of filemaps on each Windows version was not found in any public source; the policy
    checks what the System Writer needs (effective read access), not a copy of a default.
  - On a live host the change needs the take-ownership and restore privileges, which the apply module enables.
seealso:
  - module: backupready.windows.win_writer_access
  - module: backupready.windows.win_cryptsvc
author:
  - backupready.windows developers (@backupready)
"""

EXAMPLES = r"""
- name: Fix filemaps and PendingRenames permissions (KB 2009272)
  backupready.windows.win_filemaps_acl:
  notify: Restart Cryptographic Services

- name: Only report, for the folder and its files
  backupready.windows.win_filemaps_acl:
    scope: [folder, files]
  check_mode: true
  register: filemaps
"""

RETURN = r"""
targets:
  description: >-
    Per folder, per file descriptor and PendingRenames, what changes (C(changes), C(before), C(after)) or why it
    is skipped (C(skipped)).
  returned: success
  type: list
  elements: dict
cryptsvc_restart_needed:
  description: True when something changed (or would), so CryptSvc should be restarted.
  returned: success
  type: bool
findings:
  description: The filemaps_acl findings that remain after the task.
  returned: success
  type: list
  elements: dict
fixed:
  description: The findings this task fixed.
  returned: when something was (or would be) changed
  type: list
  elements: dict
backup_path:
  description: Where the host saved the descriptors that were replaced (with the names of the files changed).
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
