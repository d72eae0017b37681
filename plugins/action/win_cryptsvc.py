# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""win_cryptsvc: Cryptographic Services automatic and running, and the System Writer it hosts present."""

from __future__ import annotations

from ansible_collections.backupready.windows.plugins.plugin_utils._action import BackupReadyAction
from ansible_collections.backupready.windows.plugins.plugin_utils._findings import assess
from ansible_collections.backupready.windows.plugins.plugin_utils._plan import Plan
from ansible_collections.backupready.windows.plugins.plugin_utils._state import find_service
from ansible_collections.backupready.windows.plugins.plugin_utils._vss import (
    CRYPTSVC, plan_cryptsvc, writer_status_after)

CODES = ("cryptsvc_state", "system_writer_missing", "system_writer_failed")
BACKUP_WINDOW = 20


def _restarts(backup: dict) -> bool:
    return any(op.get("op") == "service_state" and str(op.get("service", "")).lower() == CRYPTSVC.lower()
               for op in backup.get("undo") or [])


def last_restart(backups: list[dict]) -> tuple[str | None, bool]:
    """When this collection last started or restarted CryptSvc (the newest backup recording it), or None; and
    whether that was its last change (no newer backup: nothing it changed since, a restart would find the same)."""
    usable = [b for b in backups if b.get("trusted", True) and b.get("status") == "committed" and b.get("undo")
              and not (b.get("label") or {}).get("rollback_of")]
    for position, backup in enumerate(usable):
        if _restarts(backup):
            only = all(op.get("op") == "service_state" for op in backup["undo"])
            return backup.get("created"), position == 0 and only
    return None, False


def _cryptsvc(state: dict) -> dict | None:
    service = find_service(state, CRYPTSVC)
    return None if service is None else {"state": service["state"], "start_mode": service["start_mode"]}


class ActionModule(BackupReadyAction):
    ARGUMENT_SPEC = {
        "start_mode": {"type": "str", "default": "auto", "choices": ["auto", "manual"]},
        "state": {"type": "str", "default": "started", "choices": ["started", "restarted"]},
        "ensure_system_writer": {"type": "bool", "default": True},
    }

    def wanted_paths(self, state, args):
        return []  # nothing here depends on file existence: one module call to read, one to apply

    def read_state(self, backend, args):
        """The state and, in the same module call, the backups: when did this collection last restart CryptSvc."""
        state = backend.probe(backups=BACKUP_WINDOW)
        self._last_restart, self._nothing_since = last_restart(backend.list_backups(BACKUP_WINDOW))
        return state

    def plan(self, state, args):
        planned = plan_cryptsvc(state, args["start_mode"], args["state"], args["ensure_system_writer"],
                                last_restart=self._last_restart, nothing_changed_since=self._nothing_since)
        if planned["errors"]:
            raise ValueError("; ".join(planned["errors"]))
        codes = CODES if args["ensure_system_writer"] else ("cryptsvc_state",)
        self._collected_at = state["collected_at"]
        result = {
            "cryptsvc": _cryptsvc(state),
            "reasons": planned["reasons"],
            "restart_for_writer": planned["restart_for_writer"],
            "blocked_by": planned["blocked_by"],
            "system_writer": writer_status_after(state) if args["ensure_system_writer"] else None,
        }
        return Plan(operations=planned["operations"], findings=assess(state, codes), result=result,
                    recheck=lambda after: assess(after, codes))

    def after_apply(self, backend, predicted, plan, args, result):
        """A (re)start cannot be predicted: look at the host again, and report the writer and the events since."""
        if not any(op["op"] == "service_state" for op in plan.operations):
            result["cryptsvc"] = _cryptsvc(predicted)
            return predicted
        state = backend.probe()
        result["cryptsvc"] = _cryptsvc(state)
        if args["ensure_system_writer"]:
            result["system_writer"] = writer_status_after(state, since=self._collected_at)
        return state
