# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""win_backup_rollback: put back what an earlier apply replaced, from its backup, with the same guard."""

from __future__ import annotations

from ansible_collections.backupready.windows.plugins.plugin_utils._action import BackupReadyAction
from ansible_collections.backupready.windows.plugins.plugin_utils._allowlist import OUTSIDE
from ansible_collections.backupready.windows.plugins.plugin_utils._plan import Plan
from ansible_collections.backupready.windows.plugins.plugin_utils._rollback import LATEST, plan_rollback
from ansible_collections.backupready.windows.plugins.plugin_utils._display import shown

# How many of the newest backups are listed, in the same module call as the state.
BACKUP_WINDOW = 20


class ActionModule(BackupReadyAction):
    ARGUMENT_SPEC = {
        "backup": {"type": "str", "default": LATEST},
    }

    def check_arguments(self, args):
        if not args["backup"].strip():
            raise ValueError(f"backup: give a backup id or {shown(LATEST)}")

    def wanted_paths(self, state, args):
        return []  # one module call reads the state and the backups, one applies

    def read_state(self, backend, args):
        state = backend.probe(backups=BACKUP_WINDOW)
        self._backups = backend.list_backups(BACKUP_WINDOW)
        return state

    def plan(self, state, args):
        rollback = plan_rollback(self._backups, args["backup"].strip(), state)
        self._rollback = rollback
        return Plan(operations=rollback.operations, result={
            "backup_id": rollback.backup_id,
            "rolled_back": rollback.operations,
            "not_undoable": rollback.not_undoable,
            "passed_over": rollback.passed_over,
            "notes": rollback.notes,
            "backup_path": None,
            "msg": "; ".join([rollback.msg] + rollback.notes),
        })

    def apply_plan(self, backend, plan):
        return backend.apply(plan.operations, check_mode=bool(self._task.check_mode), label=self._rollback.label,
                             rollback_of=self._rollback.backup_id)

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        rollback = self._rollback
        if not rollback.operations:
            return result  # nothing to roll back: the plan's message says why
        if result.get("failed"):
            applied = [r for r in result.get("apply_results", []) if r.get("status") in ("applied", "written_unverified")]
            result["rolled_back"] = [rollback.operations[r["index"]] for r in applied]
            why = result["msg"]
            if not applied:
                reasons = " ".join(r.get("reason") or "" for r in result.get("apply_results", []))
                if OUTSIDE in why or OUTSIDE in reasons:
                    cause = f"it asks for a change {OUTSIDE}"
                elif "changed since" in reasons:
                    cause = "the host changed since the backup was made"
                else:
                    cause = "nothing was written"
                result["msg"] = f"backup {rollback.backup_id} was not rolled back: {cause}; {why}"
            else:
                result["msg"] = (f"backup {rollback.backup_id} was rolled back only in part ({len(applied)} of "
                                 f"{len(rollback.operations)} operation(s)): {why}")
            return result
        applied = [r for r in result.get("apply_results", []) if r.get("status") in ("applied", "would_apply")]
        result["rolled_back"] = [rollback.operations[r["index"]] for r in applied]
        verb = "would be" if self._task.check_mode else "were"
        result["msg"] = f"backup {rollback.backup_id}: {len(applied)} operation(s) {verb} rolled back"
        if rollback.not_undoable:
            result["msg"] += f", {len(rollback.not_undoable)} not undoable (recorded only, see not_undoable)"
        if rollback.notes:
            result["msg"] += "; " + "; ".join(rollback.notes)
        return result
