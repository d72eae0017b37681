# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""win_backup_selftest_sandbox: make or remove the self-test sandbox of one run (docs/selftest.md)."""

from __future__ import annotations

import os
import stat

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.backupready.windows.plugins.plugin_utils._action import module_caller, shell_family
from ansible_collections.backupready.windows.plugins.plugin_utils._backend import (
    BackendError, SnapshotBackend, select_backend)
from ansible_collections.backupready.windows.plugins.plugin_utils._journal import posix_trust_problem
from ansible_collections.backupready.windows.plugins.plugin_utils._selftest import (
    SandboxError, add_to_snapshot, check_run_id, names, readback, remove_backups, remove_from_snapshot)
from ansible_collections.backupready.windows.plugins.plugin_utils._state import StateError

SANDBOX_MODULE = "backupready.windows.win_backup_sandbox"


def store_of(backend) -> dict | None:
    """Where the backups go and whether that folder is protected: on a live host the engine's verdict on the store's
    owner and DACL (win_backup_state's listing); on a snapshot host the backup folder's POSIX owner and mode."""
    if not isinstance(backend, SnapshotBackend):
        return getattr(backend, "store", None)
    folder = backend.backup_dir
    if not os.path.isdir(folder):
        return {"path": folder, "exists": False, "secure": None, "problem": None}
    info = os.lstat(folder)
    problem = posix_trust_problem(info.st_mode, info.st_uid, os.geteuid(), f"the backup folder {folder}")
    return {"path": folder, "exists": True, "mode": oct(stat.S_IMODE(info.st_mode)), "secure": problem is None,
            "problem": problem}


class ActionModule(ActionBase):
    ARGUMENT_SPEC = {
        "run_id": {"type": "str", "required": True},
        "state": {"type": "str", "default": "present", "choices": ["present", "absent", "query"]},
    }
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        self._supports_check_mode = True
        self._supports_async = False
        result = super().run(tmp, task_vars)
        del tmp
        task_vars = task_vars or {}
        _validation, args = self.validate_argument_spec(argument_spec=self.ARGUMENT_SPEC)
        check_mode = bool(self._task.check_mode)
        try:
            run_id = check_run_id(args["run_id"])
            backend = select_backend(task_vars, module_caller(self, task_vars), check_mode=check_mode,
                                     shell_family=shell_family(self._connection))
            if args["state"] == "query":
                result.update(changed=False, backend=backend.name, msg=f"self-test sandbox {run_id} read back")
                state = backend.probe(backups=1, sandbox_run_id=run_id)
                result["sandbox"] = readback(state, run_id)
                result["store"] = store_of(backend)
            elif isinstance(backend, SnapshotBackend):
                result.update(self._snapshot(backend, run_id, args["state"], check_mode))
            else:
                module_args = {"run_id": run_id, "state": args["state"]}
                if getattr(backend, "backup_dir", None):
                    module_args["backup_dir"] = backend.backup_dir
                answer = module_caller(self, task_vars)(SANDBOX_MODULE, module_args)
                if answer.get("failed"):
                    raise BackendError(f"{backend.host}: win_backup_sandbox failed: {answer.get('msg') or 'no message'}")
                result.update({k: answer.get(k) for k in ("changed", "folder", "services", "removed", "removed_backups", "msg")})
                result["removed_backups"] = result.get("removed_backups") or []
                result["backend"] = "live"
        except (BackendError, SandboxError, StateError, OSError) as exc:
            raise AnsibleActionFail(str(exc)) from None
        result["run_id"] = run_id
        return result

    @staticmethod
    def _snapshot(backend: SnapshotBackend, run_id: str, state: str, check_mode: bool) -> dict:
        """The sandbox modelled in the snapshot: written atomically under the snapshot's lock, as an apply is."""
        store = backend.store
        with store.lock():
            before = store.read_state()
            where = names(run_id, before["host"]["system_root"])
            backups: list[str] = []
            if state == "present":
                after, changed = add_to_snapshot(before, run_id)
                removed: list[str] = []
            else:
                after, changed, removed = remove_from_snapshot(before, run_id)
            if changed and not check_mode:
                store.check_writable()
                store.write_state(after)
            if state == "absent":
                # The run's own backups (every operation and undo on this sandbox): a self-test leaves none behind.
                store._check_backup_dir()  # pylint: disable=protected-access  # a link or a foreign folder: refused
                backups = remove_backups(store, run_id, before["host"]["system_root"], check_mode, state=before)
                changed = changed or bool(backups)
        verb = "made" if state == "present" else "removed"
        return {"changed": changed, "folder": where["folder"], "services": where["services"], "removed": removed,
                "removed_backups": backups, "backend": "snapshot",
                "msg": f"self-test sandbox {run_id} {verb}" if changed else f"self-test sandbox {run_id}: nothing to do"}
