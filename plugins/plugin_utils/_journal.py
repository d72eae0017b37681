# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Journaled backups: every change can be rolled back, a crash leaves nothing that blocks a rollback, and only
backups the collection wrote are ever applied (docs/write-path.md, sections 3 and 4).

:func:`journaled_apply` is the protocol, written once over a small store interface (:class:`Store`): the
snapshot backend gives it files on the controller (``_backend.SnapshotStore``), the tests and the cross-check
with the C# engine an in-memory one (:class:`MemoryStore`). The PowerShell engine (``BackupReady.cs``)
implements the same protocol on a live host.

1. one writer at a time (the store's lock); temporary files a crash left are removed;
2. pending records (a crash between "pending" and "committed") are resolved against the host;
3. every operation is checked against the host as found (allow-list, compare-and-swap): a refusal writes nothing;
4. the record is written ``pending`` with the undo of what is about to change, then each operation is written
   (compared again first, read back after), then the record is rewritten ``committed`` holding the undo of what was
   written only (nothing written: the record is deleted); older committed records beyond ``keep`` are pruned.
"""

from __future__ import annotations

import copy
import re
import stat
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Iterator

from ._display import quoted, shown
from ._operations import ApplyOutcome, OperationError, check_shape, describe, undo_of, values_equal
from ._sddl import SddlError, owner_and_dacl, parse_sddl, resolve_sid, same_writable_part
from ._twin import (
    Check, TwinError, WriteFailed, check_all, copy_state, folder_section, read_current, refused_outcome, write_one,
)

BACKUP_FORMAT = "backupready.backup/2"
WRITER = "backupready.windows"
PENDING = "pending"
COMMITTED = "committed"
DEFAULT_KEEP = 20
FAULTS = ("before_write", "after_write", "readback_differs", "crash_after_pending", "crash_after_write")


class SimulatedCrash(BaseException):
    """Tests only: the process dies here (nothing after it runs, no clean-up)."""


# ---------------------------------------------------------------------------------------------------
# Records
# ---------------------------------------------------------------------------------------------------

def record_problem(record: Any) -> str | None:
    """Why ``record`` is not a backup record this collection wrote (format and shape), or None."""
    if not isinstance(record, dict):
        return f"not a JSON object ({type(record).__name__})"
    if record.get("format") != BACKUP_FORMAT:
        return f"its format is {shown(record.get('format'))}, not {quoted(BACKUP_FORMAT)}"
    if record.get("writer") != WRITER:
        return f"it does not say it was written by {WRITER}"
    if record.get("status") not in (PENDING, COMMITTED):
        return f"its status is {shown(record.get('status'))}, not {PENDING} or {COMMITTED}"
    for key, kind in (("undo", list), ("operations", list), ("label", dict)):
        if not isinstance(record.get(key), kind):
            return f"its {key} is not a {kind.__name__}"
    for name in ("undo", "operations"):
        for index, op in enumerate(record[name]):
            if name == "undo" and isinstance(op, dict) and op.get("op") == "service_state":
                continue  # a record of a start or restart (set "none"): never applied, see _rollback.why_not_undoable
            try:
                check_shape(op, index)
            except OperationError as exc:
                return f"its {name} list is malformed: {exc}"
    return None


def entry(backup_id: str, record: Any, trusted: bool = True, error: str | None = None) -> dict:
    """One backup as a store lists it (``list_backups`` of both backends; ``_rollback`` reads these keys)."""
    problem = error or (None if record is None else record_problem(record))
    if record is None and problem is None:
        problem = "it cannot be read"
    if problem or not trusted:
        return {"id": backup_id, "created": record.get("created") if isinstance(record, dict) else None,
                "status": None, "undo": None, "operations": None, "label": {}, "trusted": trusted,
                "error": problem or "not trusted"}
    return {"id": backup_id, "created": record.get("created"), "status": record["status"], "undo": record["undo"],
            "operations": record["operations"], "label": record["label"], "trusted": True, "error": None}


# Rights that let someone change or replace a backup (docs/write-path.md §4): FILE_WRITE_DATA / ADD_FILE (0x2),
# FILE_APPEND_DATA / ADD_SUBDIRECTORY (0x4), FILE_WRITE_EA (0x10), FILE_DELETE_CHILD (0x40), FILE_WRITE_ATTRIBUTES
# (0x100), DELETE, WRITE_DAC, WRITE_OWNER, GENERIC_ALL, GENERIC_WRITE (winnt.h).
# MAXIMUM_ALLOWED (0x2000000) asks for whatever the DACL gives: it is counted as a right to change too.
WRITE_RIGHTS = 0x2 | 0x4 | 0x10 | 0x40 | 0x100 | 0x10000 | 0x40000 | 0x80000 | 0x2000000 | 0x10000000 | 0x40000000
STORE_OWNERS = ("S-1-5-18", "S-1-5-32-544")  # SYSTEM, Administrators
STORE_SDDL = "D:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)"  # what the engine gives the store when it creates it


def dacl_trust_problem(owner: str | None, sddl: str | None, what: str) -> str | None:
    """The live store's rule for one folder or file: owned by SYSTEM or Administrators, and no allow ACE (inherit-only
    ones included: they reach what is created below) gives anyone else a right that allows changing it."""
    sid = resolve_sid(owner) if owner else None
    if sid not in STORE_OWNERS:
        return f"{what} is owned by {owner or 'nobody'}, not SYSTEM or Administrators"
    if sddl is None:
        return f"the permissions of {what} could not be read"
    try:
        descriptor = parse_sddl(sddl)
    except SddlError as exc:
        return f"the permissions of {what} cannot be parsed: {exc}"
    if descriptor.dacl is None or descriptor.dacl.is_null:
        return f"{what} has no DACL: everyone may change it"
    for ace in descriptor.dacl.aces:
        if ace.is_allow and ace.mask & WRITE_RIGHTS and resolve_sid(ace.trustee) not in STORE_OWNERS:
            return f"{what} lets {ace.trustee} change it ({ace.format()})"
    return None


def posix_trust_problem(mode: int, uid: int, euid: int, what: str) -> str | None:
    """The controller's version of the store rule (docs/write-path.md §4): ours, a plain file or folder, and not
    writable by group or others; None when trusted."""
    if stat.S_ISLNK(mode):
        return f"{what} is a symbolic link"
    if uid not in (euid, 0):
        return f"{what} belongs to user {uid}, not to the user running Ansible ({euid}) or root"
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"{what} can be written by {'others' if mode & stat.S_IWOTH else 'its group'} (mode {stat.S_IMODE(mode):o})"
    return None


# ---------------------------------------------------------------------------------------------------
# Pending records
# ---------------------------------------------------------------------------------------------------

def _files_by_name(state: dict, op: dict) -> dict[str, str]:
    section = folder_section(op, state)
    found: dict[str, str] = {}
    for descriptor in ((section or {}).get("files") or {}).get("descriptors", []):
        for name in descriptor.get("names", []):
            if descriptor["sddl"] is not None:
                found[name.lower()] = owner_and_dacl(descriptor["sddl"])
    return found


def _names_listed(state: dict, op: dict) -> set[str]:
    """Every file name the folder lists, readable or not (an unreadable file is there: its change cannot be told)."""
    section = folder_section(op, state)
    return {name.lower() for descriptor in ((section or {}).get("files") or {}).get("descriptors", [])
            for name in descriptor.get("names", [])}


def presence(undo: dict, state: dict) -> tuple[str, dict | None]:
    """Is the change ``undo`` undoes on the host? (``present`` | ``absent`` | ``unknown`` | ``record`` | ``deferred``: the host judges it, the undo
    operation to keep: for ``files`` only the names whose change is there)."""
    if undo.get("op") == "service_state":
        return "record", undo
    if undo.get("op") == "path_security" and undo.get("target") == "files":
        names = undo.get("names")
        if not names:
            return "unknown", None
        section = folder_section(undo, state) or {}
        groups = (section.get("files") or {}).get("descriptors", [])
        if groups and not any("names" in group for group in groups):
            # A live probe lists files by descriptor with samples, not by name: the engine judges them when it
            # applies (docs/write-path.md section 3); kept as it is.
            return "deferred", undo
        files = _files_by_name(state, undo)
        listed = _names_listed(state, undo)
        there = [n for n in names if same_writable_part(files.get(n.lower()), undo["expect"])]
        gone = [n for n in names if same_writable_part(files.get(n.lower()), undo["set"])]
        deleted = [n for n in names if n.lower() not in listed]  # a file that is gone has nothing to restore
        if len(there) + len(gone) + len(deleted) != len(names):
            return "unknown", None
        return ("present", dict(undo, names=there)) if there else ("absent", None)
    current = read_current(undo, state)
    if current is not None and values_equal(undo, current, undo["expect"]):
        return "present", undo
    if current is not None and values_equal(undo, current, undo["set"]):
        return "absent", None
    return "unknown", None


@dataclass(frozen=True)
class Resolution:
    """What to do with a pending record: ``discard`` | ``commit`` (with ``undo``) | ``keep``, and why."""

    action: str
    undo: list[dict]
    msg: str


def resolve_pending(backup_id: str, undo_list: list[dict], state: dict) -> Resolution:
    """docs/write-path.md §3: a record a crash left pending, judged against the host as it is now."""
    verdicts = []
    for undo in undo_list:
        verdict, keep = presence(undo, state)
        if verdict == "unknown":
            return Resolution("keep", undo_list, f"backup {backup_id} was interrupted and {describe(undo)} changed "
                                                 "since (or cannot be read): it is left pending and is not rolled back "
                                                 "automatically")
        verdicts.append((verdict, keep))
    kept: list[dict] = []
    present = 0
    for position, (verdict, keep) in enumerate(verdicts):
        if verdict == "record":
            # A start or restart is known to have happened only when a later change of the record is on the host.
            if any(later in ("present", "deferred") for later, _keep in verdicts[position + 1:]):
                kept.append(keep)
            continue
        if verdict in ("present", "deferred"):
            present += 1
            kept.append(keep)
    if present == 0:
        return Resolution("discard", [], f"backup {backup_id} was interrupted before its change reached the host: "
                                         "discarded")
    return Resolution("commit", kept, f"backup {backup_id} was interrupted after {present} of "
                                      f"{len(undo_list)} change(s) reached the host: kept with those")


# ---------------------------------------------------------------------------------------------------
# Rollbacks of verified backups, retention
# ---------------------------------------------------------------------------------------------------

def not_undo_of(operations: list[dict], undo: list[dict], backup_id: str) -> str | None:
    """The first operation that is not, field for field, a distinct undo operation of the backup (each used once), or
    None when all are: the one matching rule of rollbacks, their labels and the planner (_rollback)."""
    unused = list(undo)
    for index, op in enumerate(operations):
        if op not in unused:
            return f"operation {index} ({describe(op)}) is not an undo operation of backup {backup_id}"
        unused.remove(op)
    return None


def claim_problem(backup: dict, backups: list[dict]) -> str | None:
    """Why a record's label ``rollback_of`` is not borne out by its operations, or None (docs/write-path.md §4): a
    record that says it rolled back a backup of the store must hold that backup's undo operations, else the
    rollback planner would take the word of a record for what was restored (the engine's ClaimProblem)."""
    claimed = (backup.get("label") or {}).get("rollback_of")
    if not isinstance(claimed, str) or not backup.get("trusted") or backup.get("error"):
        return None
    target = next((b for b in backups if b["id"] == claimed), None)
    if target is None or not target["trusted"] or target["error"] or not isinstance(target.get("undo"), list):
        return None
    refusal = not_undo_of(backup.get("operations") or [], target["undo"], claimed)
    return None if refusal is None else f"its label says it rolled back {claimed}, but {refusal}"


def with_claims_judged(backups: list[dict]) -> list[dict]:
    """The listing a user sees (the engine's ListBackups): every record whose rollback label is not borne out marked
    untrusted, with why. The journal's own steps (pending resolution, retention) take the store's listing as it is,
    as the engine's Maintain and Prune do; a rollback judges its target's claim in :func:`rollback_problem`."""
    judged = []
    for backup in backups:
        problem = claim_problem(backup, backups)
        judged.append(backup if problem is None else entry(backup["id"], None, trusted=False, error=problem))
    return judged


def rollback_problem(operations: list[dict], backups: list[dict], backup_id: str) -> str | None:
    """Why ``operations`` may not be applied as the rollback of ``backup_id`` (docs/write-path.md §2), or None.

    Each undo operation of the backup may be used once.
    """
    target = next((b for b in backups if b["id"] == backup_id), None)
    if target is None:
        return f"backup {backup_id} is not in this host's store"
    if not target["trusted"] or target["error"]:
        return f"backup {backup_id} is not one this collection can trust: {target['error']}"
    claim = claim_problem(target, backups)
    if claim:
        return f"backup {backup_id} is not one this collection can trust: {claim}"
    if target["status"] != COMMITTED:
        return f"backup {backup_id} is {target['status']}, not committed"
    return not_undo_of(operations, target["undo"], backup_id)


def to_prune(backups: list[dict], keep: int, protect: str | None) -> list[str]:
    """Ids of the committed, trusted records beyond the newest ``keep`` (never ``protect``, never a pending one)."""
    committed = sorted((b["id"] for b in backups if b["trusted"] and b["status"] == COMMITTED and b["id"] != protect),
                       reverse=True)
    return committed[max(keep - (1 if protect else 0), 0):]


# ---------------------------------------------------------------------------------------------------
# The protocol
# ---------------------------------------------------------------------------------------------------

class Store:
    """Where a host's state and backup records live. Subclasses: ``_backend.SnapshotStore``, :class:`MemoryStore`."""

    host = "host"

    @contextmanager
    def lock(self) -> Iterator[None]:
        yield

    def cleanup(self) -> list[str]:
        """Remove temporary files a crash left; return what was removed."""
        return []

    def read_state(self) -> dict:
        raise NotImplementedError

    def write_state(self, state: dict) -> None:
        raise NotImplementedError

    def check_writable(self) -> None:
        """Raise (a backend error naming the file) when the host cannot be written at all."""

    def list_backups(self) -> list[dict]:
        """Every backup of the host as :func:`entry` dicts, newest first."""
        raise NotImplementedError

    def write_record(self, backup_id: str, record: dict) -> str:
        """Write (atomically) and return where."""
        raise NotImplementedError

    def delete_record(self, backup_id: str) -> None:
        raise NotImplementedError

    def new_id(self) -> str:
        raise NotImplementedError

    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class MemoryStore(Store):
    """A host held in memory: the tests' store, and the Python side of the cross-check with the C# engine."""

    def __init__(self, state: dict, records: dict[str, dict] | None = None, host: str = "host",
                 untrusted: dict[str, str] | None = None, security: dict[str, tuple[str, str]] | None = None):
        self.state = state
        self.records = dict(records or {})
        self.untrusted = dict(untrusted or {})  # id -> why
        # id -> (owner, SDDL) of a live store entry: judged as the engine judges it (dacl_trust_problem)
        for backup_id, (owner, sddl) in (security or {}).items():
            problem = dacl_trust_problem(owner, sddl, f"backup {backup_id}")
            if problem:
                self.untrusted[backup_id] = problem
        self.host = host
        self._counter = 0

    def read_state(self) -> dict:
        return self.state

    def write_state(self, state: dict) -> None:
        self.state = state

    def list_backups(self) -> list[dict]:
        return [entry(i, copy.deepcopy(self.records[i]), i not in self.untrusted, self.untrusted.get(i))
                for i in sorted(self.records, reverse=True)]

    def write_record(self, backup_id: str, record: dict) -> str:
        self.records[backup_id] = copy.deepcopy(record)
        return backup_id

    def delete_record(self, backup_id: str) -> None:
        self.records.pop(backup_id, None)

    def new_id(self) -> str:
        self._counter += 1
        return f"20260101T000000000Z-{self._counter:08x}"

    def now(self) -> datetime:
        return datetime(2026, 1, 1, tzinfo=timezone.utc)


def _record(store: Store, backup_id: str, status: str, operations: list[dict], undo: list[dict], label: dict,
            results: list[dict], created: str | None = None) -> dict:
    """A backup record; ``created`` is when its pending version was written (before the first write)."""
    return {"format": BACKUP_FORMAT, "writer": WRITER, "id": backup_id, "host": store.host,
            "created": created or store.now().isoformat().replace("+00:00", "Z"), "status": status,
            "operations": operations, "undo": undo, "results": results, "label": label}


def _resolve_all(store: Store, state: dict) -> list[dict]:
    journal = []
    for backup in reversed(store.list_backups()):
        if backup["status"] != PENDING:
            continue
        resolution = resolve_pending(backup["id"], backup["undo"], state)
        if resolution.action == "discard":
            store.delete_record(backup["id"])
            action = "discarded"
        elif resolution.action == "commit":
            record = _record(store, backup["id"], COMMITTED, backup["operations"], resolution.undo, backup["label"],
                             [], backup["created"])
            store.write_record(backup["id"], record)
            action = "committed"
        else:
            action = "left_pending"
        journal.append({"id": backup["id"], "action": action, "msg": resolution.msg})
    return journal


def _resolved_in_memory(backups: list[dict], state: dict) -> list[dict]:
    """The listing as it will be once its pending records are resolved (for a check-mode rollback)."""
    out = []
    for backup in backups:
        if backup["status"] == PENDING:
            resolution = resolve_pending(backup["id"], backup["undo"], state)
            if resolution.action == "discard":
                continue
            if resolution.action == "commit":
                backup = dict(backup, status=COMMITTED, undo=resolution.undo)
        out.append(backup)
    return out


def _written_undo(check: Check, names: list[str] | None, read_back: Any = None) -> dict:
    undo = undo_of(check.op, check.current, names)
    if read_back is not None and check.op["op"] != "service_state" and not (
            check.op["op"] == "path_security" and check.op["target"] == "files"):
        # What Windows actually stores is what a rollback must find (as the engine's CommittedUndo); a files
        # undo expects the descriptor planned, each named file having been read back against it.
        undo["expect"] = copy.deepcopy(read_back)
    return undo


def journaled_apply(store: Store, operations: list[dict], check_mode: bool = False, label: dict | None = None,
                    rollback_of: str | None = None, keep: int = DEFAULT_KEEP,
                    faults: dict[int, str] | None = None) -> ApplyOutcome:
    """Apply ``operations`` to the host behind ``store`` with the protocol of docs/write-path.md §3.

    ``faults`` (tests only): ``{operation index: one of FAULTS}``.
    """
    faults = faults or {}
    label = dict(label or {})
    with nullcontext() if check_mode else store.lock():  # check mode touches no file, not even the lock
        cleaned = [] if check_mode else store.cleanup()
        state = store.read_state()
        journal = [] if check_mode else _resolve_all(store, state)
        rollback = False
        labelled = label.get("rollback_of")
        if labelled is not None and rollback_of is not None and labelled != rollback_of:
            return ApplyOutcome(refused=True, journal=journal,
                                msg=f"outside what this collection may change: the label names backup {shown(labelled)} "
                                    f"but the rollback is of {shown(rollback_of)}; nothing written")
        rollback_of = rollback_of if rollback_of is not None else labelled  # a labelled rollback is verified too
        if rollback_of is not None:
            backups = store.list_backups()
            if check_mode:  # judged in memory as the real run will judge them (nothing is written in check mode)
                backups = _resolved_in_memory(backups, state)
            problem = rollback_problem(operations, backups, rollback_of)
            if problem:
                outcome = ApplyOutcome(refused=True, journal=journal,
                                       msg=f"outside what this collection may change: {problem}; nothing written")
                return outcome
            rollback = True
            label["rollback_of"] = rollback_of
        checks = check_all(state, operations, rollback)
        if any(c.status == "refused" for c in checks):
            outcome = refused_outcome(checks, len(operations))
            outcome.journal = journal
            return outcome
        to_apply = [c for c in checks if c.status == "apply"]
        outcome = ApplyOutcome(journal=journal)
        if cleaned:
            outcome.journal.append({"id": None, "action": "cleaned", "msg": "removed temporary files a crash left: "
                                    + ", ".join(cleaned)})
        if check_mode or not to_apply:
            for c in checks:
                status = "would_apply" if c.status == "apply" else c.status
                outcome.results.append({"index": c.index, "op": c.op["op"], "subject": c.subject, "status": status})
                if c.status == "apply":
                    outcome.undo.append(undo_of(c.op, c.current, c.names))
            outcome.changed = bool(to_apply)
            outcome.msg = (f"check mode: {len(to_apply)} operation(s) would be applied" if check_mode
                           else f"nothing to do: {len(checks)} operation(s) unchanged")
            return outcome
        store.check_writable()
        backup_id = store.new_id()
        planned_undo = [undo_of(c.op, c.current, c.names) for c in to_apply]
        outcome.backup_id = backup_id
        pending = _record(store, backup_id, PENDING, operations, planned_undo, label, [])
        outcome.backup_path = store.write_record(backup_id, pending)
        if "crash_after_pending" in faults.values():
            raise SimulatedCrash("after the pending record")
        outcome = _write_all(store, state, checks, faults, outcome)
        record = _record(store, backup_id, COMMITTED, operations, outcome.undo, label, outcome.results,
                         pending["created"])
        try:
            if outcome.undo:
                store.write_record(backup_id, record)
            else:
                store.delete_record(backup_id)
                outcome.backup_id = outcome.backup_path = None
        except Exception as exc:  # pylint: disable=broad-exception-caught  # what was written stays said
            outcome.failed = True
            outcome.msg += (f"; the backup record could not be completed ({exc}): it stays pending and the next "
                            "run resolves it")
            return outcome
        if not outcome.failed:
            try:
                for old in to_prune(store.list_backups(), keep, backup_id):
                    store.delete_record(old)
                    outcome.pruned.append(old)
            except Exception as exc:  # pylint: disable=broad-exception-caught  # retention is not the change
                outcome.msg += f"; older backups could not be pruned: {exc}"
        return outcome


def _write_all(store: Store, state: dict, checks: list[Check], faults: dict[int, str],
               outcome: ApplyOutcome) -> ApplyOutcome:
    working = copy_state(state)
    written: list[str] = []
    failure = None
    for check in checks:
        result = {"index": check.index, "op": check.op["op"], "subject": check.subject, "status": check.status}
        outcome.results.append(result)
        if check.status != "apply":
            continue
        if failure is not None:
            result["status"] = "not_run"
            continue
        fault = faults.get(check.index)
        try:
            done = write_one(working, check, fault if fault in ("before_write", "after_write", "readback_differs")
                             else None, now=store.now().isoformat().replace("+00:00", "Z"))
        except TwinError as exc:  # the twin cannot say what Windows would do: nothing is written for it
            result.update(status="failed", reason=str(exc))
            failure = f"operation {check.index} ({check.subject}) failed: {exc}"
            continue
        except WriteFailed as exc:
            # Written and read back otherwise: written_unverified; an error (after the write took, or before it): failed.
            result.update(status="written_unverified" if exc.differs else "failed",
                          reason=f"{exc}; the host shows the change was made (it is in the undo)" if exc.written
                          and not exc.differs else str(exc))
            if check.op["op"] == "path_security" and check.op["target"] == "files":
                done = len(exc.names) if exc.names is not None else check.count
                result.update(files_changed=done if exc.written else 0, files_skipped=0)
            if exc.written:
                store.write_state(working)
                outcome.undo.append(_written_undo(check, exc.names if exc.names is not None else check.names,
                                                  exc.read_back))
                written.append(check.subject)
            failure = f"operation {check.index} ({check.subject}) failed: {exc}"
            continue
        try:
            store.write_state(working)
        except Exception as exc:  # pylint: disable=broad-exception-caught  # the write did not reach the host
            result.update(status="failed", reason=str(exc))
            failure = f"operation {check.index} ({check.subject}) failed: {exc}"
            continue
        outcome.undo.append(_written_undo(check, done.names, done.read_back))
        written.append(check.subject)
        result["status"] = "applied"
        if check.op["op"] == "path_security" and check.op["target"] == "files":
            result.update(files_changed=done.files_changed, files_skipped=done.files_skipped)
        if fault == "crash_after_write":
            raise SimulatedCrash(f"after writing operation {check.index}")
    outcome.changed = bool(written)
    outcome.failed = failure is not None
    where = f"backup (undo list): {outcome.backup_id}" if written else "nothing was written, no backup kept"
    if failure:
        outcome.msg = f"{failure}. Written before it: {'; '.join(written) or 'nothing'}. {where}"
    else:
        outcome.msg = f"{len(written)} operation(s) applied, {len(checks) - len(written)} unchanged; {where}"
    return outcome


BACKUP_ID = re.compile(r"^\d{8}T\d{9,12}Z(-[0-9a-f]{8})?$")


def parse_faults(value: Any) -> dict[int, str]:
    """Tests only: ``[{"index": k, "when": ...}]`` as in the scenario format of the C# harness."""
    faults: dict[int, str] = {}
    for item in value or []:
        if item.get("when") not in FAULTS:
            raise ValueError(f"unknown fault {shown(item.get('when'))}")
        faults[int(item["index"])] = item["when"]
    return faults


def run_scenario(scenario: dict, call: Callable[[MemoryStore, dict], ApplyOutcome] | None = None) -> dict:
    """The Python side of the cross-check with the C# engine: the scenario format of ``tests/csharp``."""
    records = {r["id"]: {k: v for k, v in r.items() if k not in ("owner", "sddl")} for r in scenario.get("store", [])}
    security = {r["id"]: (r["owner"], r.get("sddl")) for r in scenario.get("store", []) if "owner" in r}
    store = MemoryStore(copy.deepcopy(scenario["world"]), records, security=security)
    steps = []
    for step in scenario["steps"]:
        try:
            outcome = journaled_apply(store, step["operations"], check_mode=step.get("check_mode", False),
                                      label=step.get("label"), rollback_of=step.get("rollback_of"),
                                      keep=step.get("keep_backups", DEFAULT_KEEP),
                                      faults=parse_faults(step.get("faults")))
            result = outcome.as_dict()
        except SimulatedCrash as exc:
            result = {"crashed": str(exc)}
        steps.append({"result": result, "world": copy.deepcopy(store.state),
                      "store": [store.records[i] for i in sorted(store.records)]})
    return {"steps": steps}
