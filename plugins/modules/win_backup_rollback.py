#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# This file holds documentation only: the module is the action plugin of the same name.

DOCUMENTATION = r"""
---
module: win_backup_rollback
short_description: Put back what an earlier fix of this collection replaced, from its backup
version_added: 0.2.0
description:
  - Every change this collection makes is saved first as a backup of what it replaces, as undo operations whose
    C(expect) is the value written and C(set) the value found. This module applies the undo operations of one
    backup through the normal apply step, with the same compare-and-swap guard.
  - With O(backup=latest) it rolls back the newest backup that is not itself a rollback and has not been rolled
    back already; backups holding nothing that can be undone are passed over (RV(passed_over)). Rolling back
    several times undoes older and older changes, newest first.
  - When anything the backup's operations wrote has changed since, the whole rollback is refused, nothing is
    written, and the task fails saying which value changed and what it is now.
  - The rollback is itself saved as a backup, labelled C(rollback_of) the backup it undid; rolling that one back
    by its id re-applies the original change.
  - A start or restart of a service cannot be undone, nor the removal of a service's own security descriptor
    (back to the SCM default), nor a file permission change whose backup does not name the files; such entries
    are returned in RV(not_undoable) and not applied.
options:
  backup:
    description:
      - C(latest), or the id of one of the 20 newest backups of the host. The id is the last part of the
        C(backup_path) the changing task returned (a folder under C(backupready_backup_dir) on a live host; on a
        snapshot host, the file name without C(.json)).
      - A backup already rolled back (and not re-applied since) has nothing left to do.
    type: str
    default: latest
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - backupready.windows.windows_target
  - backupready.windows.windows_target.action
  - backupready.windows.reviewed_plan
attributes:
  check_mode:
    support: full
    details: Reports exactly what would be rolled back, or why it would be refused; nothing is written.
  diff_mode:
    support: full
    details: Shows each value before and after the rollback.
notes:
  - One module call reads the host and lists its 20 newest backups, one applies.
  - On a live host the backups are the folders C(<yyyyMMddTHHmmssZ>-<8 hex>) under the host variable
    C(backupready_backup_dir) (default C(%ProgramData%\backupready\backups)), written by
    M(backupready.windows.win_backup_apply); on a snapshot host (C(backupready_snapshot)) they are the files
    C(backups/<host>/<stamp>.json) beside the snapshot.
  - Works on live hosts and on snapshots with the same semantics.
seealso:
  - module: backupready.windows.win_backup_apply
  - module: backupready.windows.win_backup_state
author:
  - backupready.windows developers (@backupready)
"""

EXAMPLES = r"""
- name: Undo the last change made on each host
  backupready.windows.win_backup_rollback:

- name: Undo one given change
  backupready.windows.win_backup_rollback:
    backup: 20240501T100000Z-1a2b3c4d
"""

RETURN = r"""
backup_id:
  description: The backup rolled back (or considered); null when there was none to roll back.
  returned: success
  type: str
  sample: 20240501T100000Z-1a2b3c4d
rolled_back:
  description:
    - The undo operations applied (in check mode, that would be applied), in the order applied (the reverse of the
      backup's order). Empty when the rollback was refused.
  returned: always
  type: list
  elements: dict
not_undoable:
  description:
    - Entries of the backup that cannot be undone, each with the undo operation (C(op)) and C(reason); they are
      recorded only, not applied.
    - Named so, not C(skipped), because Ansible reads a true C(skipped) as a skipped task.
  returned: success
  type: list
  elements: dict
  sample:
    - op: {"op": "service_state", "service": "CryptSvc", "expect": "stopped", "set": "none"}
      reason: "a start or restart cannot be undone; the backup records that the service was 'stopped'"
passed_over:
  description: Newer backups passed over by O(backup=latest) because they hold nothing that can be undone.
  returned: success
  type: list
  elements: str
notes:
  description:
    - Backups passed over for a reason worth knowing, in words, with their ids; a backup whose owner or permissions
      would let someone else have written it is never applied; a backup an interrupted run left pending is judged on
      the host (its change never reached it, or only part of it did).
  returned: success
  type: list
  elements: str
journal:
  description: As for the other modules, what the apply did with backups an interrupted run left pending.
  returned: when there was any
  type: list
  elements: dict
pruned:
  description: Ids of older backups deleted because a host keeps its newest C(backupready_keep_backups) (default 20).
  returned: when any was
  type: list
  elements: str
backup_path:
  description: Where the rollback itself was saved (what it replaced, labelled C(rollback_of)); null when
    nothing was written.
  returned: always
  type: str
apply_results:
  description: One entry per undo operation, as M(backupready.windows.win_backup_apply) returns them
    (C(status) C(refused) with C(reason) and C(found) when the host changed since the backup).
  returned: when there was something to roll back
  type: list
  elements: dict
msg:
  description: What was rolled back, why nothing was, or which value changed since the backup.
  returned: always
  type: str
operations:
  description: The undo operations applied (in check mode, that would be applied), as in RV(rolled_back).
  returned: when there was something to roll back
  type: list
  elements: dict
findings:
  description: Always empty; present because every module of the collection returns it.
  returned: success
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
