#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# This file holds documentation only: the module is the action plugin of the same name.

DOCUMENTATION = r"""
---
module: win_cryptsvc
short_description: Keep Cryptographic Services running and the VSS System Writer it hosts present
version_added: 0.2.0
description:
  - The VSS System Writer runs inside Cryptographic Services (CryptSvc); when CryptSvc fails, backups say
    "System writer is not found in the backup" (KB 2009272).
  - Sets CryptSvc's start mode (Automatic by default) and starts it when it is not running.
  - With O(ensure_system_writer=true), when the System Writer is missing from, or failed in,
    C(vssadmin list writers), restarts CryptSvc once, looks again, and returns the writer's state with the
    CAPI2 and VSS events logged since the restart (RV(system_writer)). A writer still missing after the
    restart is reported, not hidden, and the remaining finding explains what is left (for example the filemaps
    permissions of M(backupready.windows.win_filemaps_acl)).
  - A writer waiting for a backup to complete (state 2 to 5) is not restarted, since a backup may be running.
options:
  start_mode:
    description: The start mode CryptSvc must have.
    type: str
    default: auto
    choices: [auto, manual]
  state:
    description:
      - C(started) starts CryptSvc when it is not running.
      - C(restarted) always restarts it, and always reports a change (as M(ansible.windows.win_service) does).
    type: str
    default: started
    choices: [started, restarted]
  ensure_system_writer:
    description:
      - Check the System Writer in C(vssadmin list writers), restart CryptSvc once when it is missing or failed,
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
attributes:
  check_mode:
    support: full
    details: Reports exactly what would change; nothing is started, restarted or written.
  diff_mode:
    support: full
    details: Shows the start mode and state before and after.
notes:
  - One module call reads the host, one applies; after a (re)start one more call reads the host again, because
    the writer's state after a restart cannot be predicted.
  - Restarting CryptSvc briefly interrupts catalog and signature checks (Windows Update, MSI installs); do not
    run it during a backup.
  - Works on live hosts and on snapshots (C(backupready_snapshot)); on a snapshot the state after a restart
    comes from the snapshot's C(simulation.on_cryptsvc_restart), when it has one.
seealso:
  - module: backupready.windows.win_backup_readiness_info
  - module: backupready.windows.win_filemaps_acl
author:
  - backupready.windows developers (@backupready)
"""

EXAMPLES = r"""
- name: CryptSvc automatic and running, System Writer present
  backupready.windows.win_cryptsvc:

- name: Restart CryptSvc (for example after an ExcludedBinaryPaths change)
  backupready.windows.win_cryptsvc:
    state: restarted

- name: Only the service, not the writer
  backupready.windows.win_cryptsvc:
    ensure_system_writer: false
"""

RETURN = r"""
cryptsvc:
  description: CryptSvc's state and start mode (after the change outside check mode).
  returned: success
  type: dict
  sample: {"state": "running", "start_mode": "auto"}
system_writer:
  description: The System Writer as read from C(vssadmin list writers) (after the restart when one was made).
  returned: when O(ensure_system_writer=true)
  type: dict
  contains:
    present:
      description: Whether the System Writer is listed; null when vssadmin gave no verdict.
      type: bool
    verdict:
      description: stable, missing, failed, waiting, last_error, unknown or no_verdict.
      type: str
    reason:
      description: Why the verdict was reached, in one sentence.
      type: str
    state:
      description: The VSS_WRITER_STATE number.
      type: int
    state_text:
      description: The writer's state as C(vssadmin) printed it.
      type: str
    last_error:
      description: The writer's last error, as printed.
      type: str
    capi2_513:
      description: CAPI2 513 AddCoreCsiFiles details, when the writer is missing.
      type: list
      elements: str
    events:
      description: CAPI2 and VSS events (since the restart, when one was made).
      type: list
      elements: dict
reasons:
  description: Why each operation was planned.
  returned: success
  type: list
  elements: str
restart_for_writer:
  description: Whether CryptSvc was (or would be) restarted because of the System Writer.
  returned: success
  type: bool
blocked_by:
  description:
    - Why a restart for the System Writer was not made because it cannot bring the writer back (KB 2009272 fixes the
      permissions first). The codes of C(filemaps_acl) or C(vss_access_control) findings, and
      C(capi2_513_access_denied) when an C(AddCoreCsiFiles) access-denied event was logged after this collection's
      last restart of CryptSvc, C(restarted_without_effect) when that restart was this collection's last change and
      the writer is still missing or failed (O(state=restarted) forces a restart). Empty when nothing blocks a restart.
  returned: success
  type: list
  elements: str
  sample: [filemaps_acl]
findings:
  description: The cryptsvc_state / system_writer findings that remain after this task (see M(backupready.windows.win_backup_readiness_info)).
  returned: success
  type: list
  elements: dict
fixed:
  description: The findings this task fixed.
  returned: when something was (or would be) changed
  type: list
  elements: dict
backup_path:
  description: Where the host saved what was replaced (the previous start mode).
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
