# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where host state comes from and where operations go: a live host, or a snapshot file on the controller.

Both backends offer the same calls, and count the module calls (DESIGN.md: at most 2 module calls per host for
an assessment, 1 more for a remediation):

``probe(backups=0)``      the host state document (validated); with ``backups`` > 0 the live probe also lists
                          that many backups in the same call
``path_exists(paths)``    ``{path: True | False | None}`` (None: cannot say)
``apply(ops, check, label=None)``  an :class:`ApplyOutcome`: all-or-nothing compare-and-swap, with a saved undo
                          list; ``label`` (a dict, e.g. ``{"rollback_of": id}``) is saved with the backup
``list_backups(n)``       the ``n`` newest backups, newest first, each ``{"id", "created", "undo", "label"}``
                          (``label`` a dict, ``{}`` when none; an unreadable backup has ``undo`` None and ``error``)

The live backend runs the ``win_backup_state`` / ``win_backup_apply`` PowerShell modules through a callable
(the action plugin's ``_execute_module``). The snapshot backend reads the file, applies operations with
:func:`_operations.apply_to_state` (the same contract as the PowerShell module), saves the undo list in a
backup file next to the snapshots, then rewrites the snapshot atomically; check mode never touches a file.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from datetime import datetime, timezone
from typing import Any, Callable

from ._operations import ApplyOutcome, OperationError, apply_to_state, check_shape
from ._state import StateError, dump_state, load_state_file, validate_state

STATE_MODULE = "backupready.windows.win_backup_state"
APPLY_MODULE = "backupready.windows.win_backup_apply"
SNAPSHOT_VAR = "backupready_snapshot"
BACKUP_DIR_VAR = "backupready_backup_dir"


class BackendError(Exception):
    """A backend could not do what was asked; the message names the host and what failed."""


def backup_entry(backup_id: str, created: Any, undo: Any, label: Any) -> dict:
    """One backup as ``list_backups`` returns it; a malformed ``undo`` or ``label`` gives an entry with ``error``."""
    if isinstance(undo, dict) and "op" in undo:
        # One operation written as a bare object rather than a list of one (how Windows PowerShell 5.1's
        # ConvertTo-Json writes a one-item list is unverified here): the same undo list, unambiguously.
        undo = [undo]
    entry: dict[str, Any] = {"id": backup_id, "created": created, "undo": undo, "label": {} if label is None else label}
    if not isinstance(undo, list) or not all(isinstance(op, dict) for op in undo):
        entry.update(undo=None, error=f"its undo list is not a list of operations ({type(undo).__name__})")
    if not isinstance(entry["label"], dict):
        entry.update(label={}, undo=None, error=f"its label is not an object ({type(label).__name__})")
    return entry


def _unreadable(backup_id: str, created: Any, why: str) -> dict:
    return {"id": backup_id, "created": created, "undo": None, "label": {}, "error": why}


def _now() -> datetime:
    return datetime.now(timezone.utc)


class SnapshotBackend:
    """State from a snapshot file on the controller; operations rewrite it atomically."""

    name = "snapshot"

    def __init__(self, path: str, host: str, backup_dir: str | None = None, clock: Callable[[], datetime] = _now):
        self.path = path
        self.host = host
        self.backup_dir = backup_dir or os.path.join(os.path.dirname(path) or ".", "backups", host)
        self.calls: list[str] = []
        self._clock = clock
        self._probed_paths: dict[str, bool | None] | None = None

    def probe(self, backups: int = 0) -> dict:  # pylint: disable=unused-argument
        """The snapshot; ``backups`` is accepted for symmetry (:meth:`list_backups` reads the backup files)."""
        self.calls.append("state")
        state = load_state_file(self.path)
        self._probed_paths = {key.lower(): value for key, value in state["paths"].items()}
        return state

    def path_exists(self, paths: list[str]) -> dict[str, bool | None]:
        """Answer from the snapshot's ``paths`` map, case-insensitively (Windows paths); None when not captured.

        After :meth:`probe`, from the map it read (the file is not read and validated a second time).
        """
        self.calls.append("paths")
        known = self._probed_paths
        if known is None:
            known = {key.lower(): value for key, value in load_state_file(self.path)["paths"].items()}
        return {path: known.get(path.lower()) for path in paths}

    def apply(self, operations: list[dict], check_mode: bool, label: dict | None = None) -> ApplyOutcome:
        self.calls.append("apply")
        state = load_state_file(self.path)
        try:
            new_state, outcome = apply_to_state(state, operations, check_mode=check_mode)
        except OperationError as exc:
            raise BackendError(f"{self.host}: invalid operation list: {exc}") from None
        if outcome.refused or check_mode or not outcome.changed:
            return outcome
        outcome.backup_path = self._save_backup(operations, outcome, label or {})
        write_atomically(self.path, dump_state(new_state))
        return outcome

    def _save_backup(self, operations: list[dict], outcome: ApplyOutcome, label: dict) -> str:
        """Save what will be replaced (the undo operations) before the snapshot is rewritten."""
        os.makedirs(self.backup_dir, exist_ok=True)
        now = self._clock()
        stamp = now.strftime("%Y%m%dT%H%M%S%fZ")
        path = os.path.join(self.backup_dir, f"{stamp}.json")
        record = {"format": BACKUP_FORMAT, "host": self.host, "snapshot": os.path.abspath(self.path),
                  "created": now.isoformat(), "operations": operations, "undo": outcome.undo, "label": label}
        write_atomically(path, json.dumps(record, indent=1, ensure_ascii=False) + "\n")
        return path

    def list_backups(self, count: int) -> list[dict]:
        """The ``count`` newest backup files of this host, newest first (their names are UTC stamps)."""
        if not os.path.isdir(self.backup_dir):
            return []
        names = sorted((n for n in os.listdir(self.backup_dir) if _SNAPSHOT_BACKUP_NAME.match(n)), reverse=True)
        return [self._read_backup(name) for name in names[:max(count, 0)]]

    def _read_backup(self, name: str) -> dict:
        backup_id = name[:-len(".json")]
        try:
            with open(os.path.join(self.backup_dir, name), encoding="utf-8") as stream:
                record = json.load(stream)
        except (OSError, ValueError) as exc:
            return _unreadable(backup_id, None, f"{name} cannot be read: {exc}")
        if not isinstance(record, dict) or record.get("format") != BACKUP_FORMAT:
            return _unreadable(backup_id, None, f"{name} is not a {BACKUP_FORMAT} record")
        return backup_entry(backup_id, record.get("created"), record.get("undo"), record.get("label"))


BACKUP_FORMAT = "backupready.backup/1"
_SNAPSHOT_BACKUP_NAME = re.compile(r"^\d{8}T\d{12}Z\.json$")


def write_atomically(path: str, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path`` and rename it over ``path``.

    A crash at any point leaves either the old file or the new one, never a truncated mix.
    """
    directory = os.path.dirname(os.path.abspath(path))
    handle, temp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=directory)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        if os.path.exists(path):
            os.chmod(temp, os.stat(path).st_mode & 0o777)
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise


ModuleCall = Callable[[str, dict], dict]


class LiveBackend:
    """The PowerShell modules over the host's connection (WinRM via pywinrm, PSRP via pypsrp, SSH)."""

    name = "live"

    def __init__(self, call_module: ModuleCall, host: str, backup_dir: str | None = None):
        self._call = call_module
        self.host = host
        self.backup_dir = backup_dir
        self.calls: list[str] = []
        self._listed: tuple[int, list[dict]] | None = None  # (count asked, backups) when probe() listed them

    def _run(self, module: str, args: dict) -> dict:
        result = self._call(module, args)
        if result.get("failed") and not result.get("refused"):
            msg = result.get("msg") or "no message"
            raise BackendError(f"{self.host}: {module.rsplit('.', 1)[-1]} failed: {msg}")
        return result

    def _state_args(self, gather: bool, backups: int) -> dict[str, Any]:
        args: dict[str, Any] = {"gather": gather}
        if backups > 0:
            args["backups"] = backups
            if self.backup_dir:
                args["backup_dir"] = self.backup_dir
        return args

    def probe(self, backups: int = 0) -> dict:
        """The state document; with ``backups`` > 0 the same call lists that many backups (see list_backups)."""
        self.calls.append("state")
        result = self._run(STATE_MODULE, self._state_args(True, backups))
        if "state" not in result:
            raise BackendError(f"{self.host}: win_backup_state returned no 'state'")
        if backups > 0:
            self._listed = (backups, self._parse_backups(result))
        try:
            return validate_state(result["state"], f"{self.host}: win_backup_state result")
        except StateError as exc:
            raise BackendError(str(exc)) from None

    def list_backups(self, count: int) -> list[dict]:
        """The ``count`` newest backups under backup_dir, newest first: no module call when probe() listed them."""
        if self._listed is not None and self._listed[0] >= count:
            return self._listed[1][:count]
        self.calls.append("backups")
        return self._parse_backups(self._run(STATE_MODULE, self._state_args(False, count)))[:count]

    def _parse_backups(self, result: dict) -> list[dict]:
        """win_backup_state returns undo.json and label.json as text: the controller parses them."""
        raw = result.get("backups")
        if not isinstance(raw, list):
            raise BackendError(f"{self.host}: win_backup_state returned no 'backups' list")
        entries = []
        for item in raw:
            if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                raise BackendError(f"{self.host}: win_backup_state returned a backup without an id: {item!r}")
            backup_id, created = item["id"], item.get("created")
            if item.get("error"):
                entries.append(_unreadable(backup_id, created, str(item["error"])))
                continue
            try:
                undo = json.loads(item.get("undo") or "")
                label = None if item.get("label") is None else json.loads(item["label"])
            except (TypeError, ValueError) as exc:
                entries.append(_unreadable(backup_id, created, f"undo.json or label.json is not valid JSON: {exc}"))
                continue
            entries.append(backup_entry(backup_id, created, undo, label))
        return entries

    def path_exists(self, paths: list[str]) -> dict[str, bool | None]:
        self.calls.append("paths")
        result = self._run(STATE_MODULE, {"gather": False, "paths": list(paths)})
        found = result.get("paths") or {}
        return {path: found.get(path) for path in paths}

    def apply(self, operations: list[dict], check_mode: bool, label: dict | None = None) -> ApplyOutcome:
        self.calls.append("apply")
        for index, op in enumerate(operations):
            try:
                check_shape(op, index)
            except OperationError as exc:
                raise BackendError(f"{self.host}: invalid operation list: {exc}") from None
        args: dict[str, Any] = {"operations": operations}
        if self.backup_dir:
            args["backup_dir"] = self.backup_dir
        if label:
            args["label"] = label
        result = self._run(APPLY_MODULE, args)
        return ApplyOutcome(changed=bool(result.get("changed")), refused=bool(result.get("refused")),
                            results=list(result.get("results") or []), undo=list(result.get("undo") or []),
                            backup_path=result.get("backup_path"), msg=result.get("msg") or "")


_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def select_backend(task_vars: dict, call_module: ModuleCall) -> SnapshotBackend | LiveBackend:
    """The snapshot backend when the host has ``backupready_snapshot``, else the live one.

    A relative snapshot path resolves against the directory of the inventory that defines the host.
    """
    host = str(task_vars.get("inventory_hostname", "host"))
    backup_dir = task_vars.get(BACKUP_DIR_VAR)
    snapshot = task_vars.get(SNAPSHOT_VAR)
    if snapshot in (None, ""):
        return LiveBackend(call_module, host, backup_dir)
    if not isinstance(snapshot, str):
        raise BackendError(f"{host}: host variable {SNAPSHOT_VAR} must be a path (a string), "
                           f"got {type(snapshot).__name__}")
    if not os.path.isabs(snapshot):
        base = task_vars.get("inventory_dir") or task_vars.get("playbook_dir") or os.getcwd()
        snapshot = os.path.normpath(os.path.join(base, snapshot))
    if not os.path.isfile(snapshot):
        raise BackendError(f"{host}: {SNAPSHOT_VAR} {snapshot!r} does not exist or is not a file")
    if backup_dir and not os.path.isabs(backup_dir):
        backup_dir = os.path.join(task_vars.get("inventory_dir") or os.getcwd(), backup_dir)
    if backup_dir:
        backup_dir = os.path.join(backup_dir, _UNSAFE.sub("_", host))
    return SnapshotBackend(snapshot, host, backup_dir)
