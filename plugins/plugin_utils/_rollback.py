# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rolling back an apply: which backup, and which of its undo operations can be applied again.

Every apply journals what it replaces (``_journal.py``): a record holding the undo operations of what was
written (``expect`` = the value written, ``set`` = the value found). A rollback applies those undo operations
through the normal apply step, naming the backup (``rollback_of``): the hands check that each operation is one
of that backup's, in their own store, and the compare-and-swap guard holds: when anything changed since the
backup, the whole rollback is refused and nothing is written. The rollback's own record is labelled
``{"rollback_of": <id>}``.

Only backups the collection can trust are used (docs/write-path.md §4): an entry whose owner or permissions
would let someone else have written it is refused and named. A backup a crash left *pending* is judged
against the host as it is now (``_journal.resolve_pending``): its change never reached the host -> passed over;
part of it did -> those parts are rolled back; someone changed it since -> refused.

Input: the host's backups, newest first, as ``_journal.entry`` dicts, and the state just read. Output: a
:class:`RollbackPlan`. No I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ._display import shown
from ._journal import COMMITTED, PENDING, not_undo_of, resolve_pending
from ._operations import OperationError, check_shape

LATEST = "latest"
ROLLBACK_OF = "rollback_of"


class RollbackError(ValueError):
    """The rollback cannot be planned (unknown, untrusted or unreadable backup, malformed undo list); names it."""


@dataclass(frozen=True)
class RollbackPlan:
    """The backup considered (None when there is none), the undo operations to apply, those that cannot be."""

    backup_id: str | None
    operations: list[dict] = field(default_factory=list)
    not_undoable: list[dict] = field(default_factory=list)  # {"op": undo operation, "reason": why it is not applied}
    passed_over: list[str] = field(default_factory=list)  # newer backups holding nothing that can be undone
    notes: list[str] = field(default_factory=list)  # untrusted entries skipped, interrupted backups judged
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

    A rollback counts only when it is newer than the backup it names and what it applied are undo operations of
    that backup (a label alone proves nothing). A rollback that was itself rolled back (a redo) no longer counts,
    so the backup it undid can be rolled back again.
    """
    by_id = {b["id"]: b for b in backups}
    undone: dict[str, str] = {}
    standing: list[bool] = []  # per position: this backup is not itself undone
    for position, backup in enumerate(backups):
        by = next((backups[newer]["id"] for newer in range(position)
                   if standing[newer] and rollback_of(backups[newer]) == backup["id"]
                   and _applied_undo_of(backups[newer], by_id.get(backup["id"]))), None)
        standing.append(by is None)
        if by is not None:
            undone[backup["id"]] = by
    return undone


def _applied_undo_of(rollback: dict, target: dict | None) -> bool:
    if target is None or not isinstance(target.get("undo"), list) or not isinstance(rollback.get("operations"), list):
        return False
    return bool(rollback["operations"]) and not_undo_of(rollback["operations"], target["undo"], target["id"]) is None


def why_not_undoable(op: dict) -> str | None:
    """Why an undo operation is only a record and cannot be applied, or None when it can."""
    kind = op.get("op")
    if kind == "service_state":
        # _operations.undo_of: a start or restart has no inverse; the backup records the state found.
        return f"a start or restart cannot be undone; the backup records that the service was {shown(op.get('expect'))}"
    if kind == "service_security" and op.get("set") == "default":
        # The SCM default is the absence of Services\\<name>\\Security; the apply step never deletes it.
        return "the service had no descriptor of its own (the SCM default), which the apply step cannot restore"
    if kind == "path_security" and op.get("target") == "files":
        if "names" not in op:
            return ("the backup does not name the files that were changed: restoring by descriptor alone would "
                    "also change files that already had the new descriptor")
        if not op["names"]:
            return "no file was changed"
    return None


def undo_plan(backup_id: str, undo: list[dict]) -> tuple[list[dict], list[dict]]:
    """(operations to apply, not_undoable records) of one backup's undo list, which runs in reverse order.

    Reverse order: the last change is undone first (a folder's DACL before the owner of its files).
    """
    operations, not_undoable = [], []
    for index, op in reversed(list(enumerate(undo))):
        reason = why_not_undoable(op)
        if reason is not None:
            not_undoable.append({"op": op, "reason": reason})
            continue
        try:
            check_shape(op, index)
        except OperationError as exc:
            raise RollbackError(f"backup {backup_id}: undo {exc}") from None
        operations.append(op)
    return operations, not_undoable


def _usable_undo(backup: dict, state: dict | None) -> tuple[list[dict] | None, str | None]:
    """(the undo list to plan from, a note) of a trusted, readable backup; (None, why) when it must be passed over.

    Raises RollbackError when it cannot be used and must not be passed over silently.
    """
    if not backup.get("trusted", True):
        raise RollbackError(f"backup {backup['id']} is not one this collection can trust, so it is never applied: "
                            f"{backup.get('error')}")
    if backup.get("error") or backup.get("undo") is None:
        raise RollbackError(f"backup {backup['id']} cannot be read: {backup.get('error') or 'no undo list'}")
    if backup.get("status") in (COMMITTED, None):
        return backup["undo"], None
    if backup.get("status") == PENDING:
        if state is None:
            raise RollbackError(f"backup {backup['id']} was interrupted (pending) and the host was not read")
        resolution = resolve_pending(backup["id"], backup["undo"], state)
        if resolution.action == "keep":
            raise RollbackError(resolution.msg)
        if resolution.action == "discard":
            return None, resolution.msg
        return resolution.undo, resolution.msg
    raise RollbackError(f"backup {backup['id']} has an unknown status {shown(backup.get('status'))}")


def _choose_latest(backups: list[dict], undone: dict[str, str], state: dict | None
                   ) -> tuple[dict | None, list[dict], list[str], list[str]]:
    """The newest backup that is no rollback, is not rolled back, and holds something that can be undone."""
    passed_over: list[str] = []
    notes: list[str] = []
    for backup in backups:
        if backup["id"] in undone:
            continue
        if not backup.get("trusted", True):
            # Not ours: never applied, never in the way of the backups that are. Said in the result.
            notes.append(f"backup {backup['id']} skipped, it cannot be trusted: {backup.get('error')}")
            continue
        if backup.get("error"):
            # Its label is unknown too: it may be the newest change. Never silently roll back an older one.
            raise RollbackError(f"backup {backup['id']} cannot be read: {backup['error']}")
        if rollback_of(backup) is not None:
            continue
        undo, note = _usable_undo(backup, state)
        if note:
            notes.append(note)
        if undo is None or all(why_not_undoable(op) for op in undo):
            passed_over.append(backup["id"])
            continue
        return backup, undo, passed_over, notes
    return None, [], passed_over, notes


def plan_rollback(backups: list[dict], wanted: str = LATEST, state: dict | None = None) -> RollbackPlan:
    """Plan the rollback of backup ``wanted`` (an id, or ``latest``) from ``backups`` (newest first).

    ``state``: the host as just read, to judge a backup a crash left pending.
    """
    undone = effective_rollbacks(backups)
    notes: list[str] = []
    if wanted == LATEST:
        backup, undo, passed_over, notes = _choose_latest(backups, undone, state)
        if backup is None:
            if not backups:
                why = "this host has no backup"
            elif passed_over:
                why = (f"each of the {len(backups)} newest backups is a rollback, was rolled back or holds nothing "
                       f"that can be undone ({', '.join(passed_over)})")
            else:
                why = f"each of the {len(backups)} newest backups is a rollback, was rolled back or cannot be trusted"
            return RollbackPlan(None, passed_over=passed_over, notes=notes, msg=f"no backup to roll back: {why}")
    else:
        backup = next((b for b in backups if b["id"] == wanted), None)
        passed_over = []
        if backup is None:
            known = ", ".join(b["id"] for b in backups) or "none"
            raise RollbackError(f"backup: no backup {shown(wanted)} among the {len(backups)} newest of this host "
                                f"(newest first: {known})")
        if wanted in undone:
            return RollbackPlan(wanted, msg=f"backup {wanted} was already rolled back by backup {undone[wanted]}")
        undo, note = _usable_undo(backup, state)
        if note:
            notes.append(note)
        if undo is None:
            return RollbackPlan(wanted, notes=notes, msg=note or f"backup {wanted} holds nothing that can be undone")
    operations, not_undoable = undo_plan(backup["id"], undo)
    if not operations:
        return RollbackPlan(backup["id"], not_undoable=not_undoable, passed_over=passed_over, notes=notes,
                            msg=f"backup {backup['id']} holds nothing that can be undone")
    msg = f"backup {backup['id']}: {len(operations)} undo operation(s) to apply"
    if not_undoable:
        msg += f", {len(not_undoable)} not undoable (recorded only)"
    return RollbackPlan(backup["id"], operations, not_undoable, passed_over, notes, msg)
