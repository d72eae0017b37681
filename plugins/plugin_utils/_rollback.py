# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rolling back an apply: which backup, and which of its undo operations can be applied again.

Every apply saves, before its first write, the undo operations of what it replaces (``expect`` = the value it
wrote, ``set`` = the value it found). A rollback applies those undo operations through the normal apply step,
so the compare-and-swap guard holds: when anything changed since the backup, the whole rollback is refused and
nothing is written. The rollback's own apply is saved as a backup too, labelled ``{"rollback_of": <id>}``.

Input: the host's backups, newest first, as the backends list them (``{"id", "created", "undo", "label"}``, plus
``error`` for one that cannot be read). Output: a :class:`RollbackPlan`. No I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ._operations import OperationError, check_shape

LATEST = "latest"
ROLLBACK_OF = "rollback_of"


class RollbackError(ValueError):
    """The rollback cannot be planned (unknown or unreadable backup, malformed undo list); names the backup."""


@dataclass(frozen=True)
class RollbackPlan:
    """The backup considered (None when there is none), the undo operations to apply, those that cannot be."""

    backup_id: str | None
    operations: list[dict] = field(default_factory=list)
    not_undoable: list[dict] = field(default_factory=list)  # {"op": undo operation, "reason": why it is not applied}
    passed_over: list[str] = field(default_factory=list)  # newer backups holding nothing that can be undone
    msg: str = ""

    @property
    def label(self) -> dict:
        """The label the rollback's own backup carries."""
        return {ROLLBACK_OF: self.backup_id} if self.backup_id and self.operations else {}


def rollback_of(backup: dict) -> str | None:
    """The id of the backup that ``backup`` rolled back, or None when it is not a rollback."""
    target = (backup.get("label") or {}).get(ROLLBACK_OF)
    return target if isinstance(target, str) and target else None


def effective_rollbacks(backups: list[dict]) -> dict[str, str]:
    """``{backup id: id of the rollback that undid it}`` for backups whose rollback still stands.

    A rollback that was itself rolled back (a redo) no longer counts, so the backup it undid can be rolled
    back again. Only a newer backup can roll back an older one (``backups`` is newest first).
    """
    undone: dict[str, str] = {}
    standing: list[bool] = []  # per position: this backup is not itself undone
    for position, backup in enumerate(backups):
        by = next((backups[newer]["id"] for newer in range(position)
                   if standing[newer] and rollback_of(backups[newer]) == backup["id"]), None)
        standing.append(by is None)
        if by is not None:
            undone[backup["id"]] = by
    return undone


def why_not_undoable(op: dict) -> str | None:
    """Why an undo operation is only a record and cannot be applied, or None when it can."""
    kind = op.get("op")
    if kind == "service_state":
        # _operations.undo_of: a start or restart has no inverse; the backup records the state found.
        return f"a start or restart cannot be undone; the backup records that the service was {op.get('expect')!r}"
    if kind == "service_security" and op.get("set") == "default":
        # The SCM default is the absence of Services\<name>\Security; the apply step never deletes it.
        return "the service had no descriptor of its own (the SCM default), which the apply step cannot restore"
    if kind == "path_security" and op.get("target") == "files":
        if "names" not in op:
            return ("the backup does not name the files that were changed: restoring by descriptor alone would "
                    "also change files that already had the new descriptor")
        if not op["names"]:
            return "no file was changed"
    return None


def undo_plan(backup: dict) -> tuple[list[dict], list[dict]]:
    """(operations to apply, not_undoable records) of one readable backup; the undo list runs in reverse order.

    Reverse order: when one apply changed the same subject twice (A -> B, B -> C), C -> B must run before B -> A.
    """
    operations, not_undoable = [], []
    for index, op in reversed(list(enumerate(backup["undo"]))):
        reason = why_not_undoable(op)
        if reason is not None:
            not_undoable.append({"op": op, "reason": reason})
            continue
        try:
            check_shape(op, index)
        except OperationError as exc:
            raise RollbackError(f"backup {backup['id']}: undo {exc}") from None
        operations.append(op)
    return operations, not_undoable


def _readable(backup: dict) -> dict:
    if backup.get("error") or backup.get("undo") is None:
        raise RollbackError(f"backup {backup['id']} cannot be read: {backup.get('error') or 'no undo list'}")
    return backup


def _choose_latest(backups: list[dict], undone: dict[str, str]) -> tuple[dict | None, list[str]]:
    """The newest backup that is no rollback, is not rolled back, and holds something that can be undone."""
    passed_over = []
    for backup in backups:
        if backup["id"] in undone:
            continue
        if backup.get("error"):
            # Its label is unknown too: it may be the newest change. Never silently roll back an older one.
            _readable(backup)
        if rollback_of(backup) is not None:
            continue
        if all(why_not_undoable(op) for op in backup["undo"]):
            passed_over.append(backup["id"])
            continue
        return backup, passed_over
    return None, passed_over


def plan_rollback(backups: list[dict], wanted: str = LATEST) -> RollbackPlan:
    """Plan the rollback of backup ``wanted`` (an id, or ``latest``) from ``backups`` (newest first)."""
    undone = effective_rollbacks(backups)
    if wanted == LATEST:
        backup, passed_over = _choose_latest(backups, undone)
        if backup is None:
            if not backups:
                why = "this host has no backup"
            elif passed_over:
                why = (f"each of the {len(backups)} newest backups is a rollback, was rolled back or holds nothing "
                       f"that can be undone ({', '.join(passed_over)})")
            else:
                why = f"each of the {len(backups)} newest backups is a rollback or was rolled back"
            return RollbackPlan(None, passed_over=passed_over, msg=f"no backup to roll back: {why}")
    else:
        backup = next((b for b in backups if b["id"] == wanted), None)
        passed_over = []
        if backup is None:
            known = ", ".join(b["id"] for b in backups) or "none"
            raise RollbackError(f"backup: no backup {wanted!r} among the {len(backups)} newest of this host "
                                f"(newest first: {known})")
        if wanted in undone:
            return RollbackPlan(wanted, msg=f"backup {wanted} was already rolled back by backup {undone[wanted]}")
    operations, not_undoable = undo_plan(_readable(backup))
    if not operations:
        return RollbackPlan(backup["id"], not_undoable=not_undoable, passed_over=passed_over,
                            msg=f"backup {backup['id']} holds nothing that can be undone")
    msg = f"backup {backup['id']}: {len(operations)} undo operation(s) to apply"
    if not_undoable:
        msg += f", {len(not_undoable)} not undoable (recorded only)"
    return RollbackPlan(backup["id"], operations, not_undoable, passed_over, msg)
