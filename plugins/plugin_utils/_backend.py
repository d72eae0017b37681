# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where host state comes from and where operations go: a live host, or a snapshot file on the controller.

Both backends offer the same calls, and count the module calls (at most 2 module calls per host for an
assessment, 1 more for a remediation):

``probe(backups=0)``      the host state document (validated); with ``backups`` > 0 the live probe also lists
                          that many backups in the same call
``path_exists(paths)``    ``{path: True | False | None}`` (None: cannot say)
``apply(ops, check, label=None, rollback_of=None)``  an :class:`ApplyOutcome` (docs/write-path.md): checked
                          all-or-nothing, journaled (a pending backup record before the first write, committed after
                          the last), compare-and-swap again before each write; ``rollback_of`` names the backup a
                          rollback undoes (its undo operations only, verified against the store)
``list_backups(n)``       the ``n`` newest backups, newest first, as :func:`_journal.entry` dicts (``trusted``,
                          ``error``, ``status``, ``undo``, ``operations``, ``label``)

The live backend runs the ``win_backup_state`` / ``win_backup_apply`` PowerShell modules through a callable
(the action plugin's ``_execute_module``); the journal there is the C# engine's. The snapshot backend runs
:func:`_journal.journaled_apply` on :class:`SnapshotStore` (the snapshot file, a lock beside it, its backup
folder), with the twin (``_twin.py``) as the model of Windows; check mode never touches a file.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import stat
import tempfile
import time
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterator

from . import _journal
from ._operations import ApplyOutcome, OperationError, check_shape
from ._state import StateError, dump_state, load_state_file, validate_state
from ._twin import TwinError
from ._display import shown

STATE_MODULE = "backupready.windows.win_backup_state"
APPLY_MODULE = "backupready.windows.win_backup_apply"
SNAPSHOT_VAR = "backupready_snapshot"
BACKUP_DIR_VAR = "backupready_backup_dir"


class BackendError(Exception):
    """A backend could not do what was asked; the message names the host and what failed."""


def _now() -> datetime:
    return datetime.now(timezone.utc)


LOCK_TIMEOUT_SECONDS = 60.0
_BACKUP_NAME = re.compile(r"^(\d{8}T\d{12}Z)\.json$")


def _stamp(path: str) -> tuple:
    info = os.stat(path)
    return (info.st_ino, info.st_size, info.st_mtime_ns)


def _temp_prefix(path: str) -> str:
    """Temporary files of ``path`` are named after it, so a clean-up only ever removes its own."""
    return f".{os.path.basename(path)}.tmp-"


class SnapshotStore(_journal.Store):
    """A snapshot file and its backup folder, for :func:`_journal.journaled_apply`.

    One writer at a time: ``flock`` on ``<snapshot>.lock`` around read-compare-write (another run, or anything
    that takes the same lock, waits). Every file is written atomically (a temporary file beside it, renamed over
    it); temporary files a crash left are named after their file and removed by the next writer.
    """

    def __init__(self, path: str, host: str, backup_dir: str, clock: Callable[[], datetime] = _now,
                 lock_timeout: float = LOCK_TIMEOUT_SECONDS):
        self.path = path
        self.host = host
        self.backup_dir = backup_dir
        self._clock = clock
        self._lock_timeout = lock_timeout
        self._last_id: str | None = None
        self._stamp: tuple | None = None  # the snapshot file as last read or written (inode, size, mtime)

    @contextmanager
    def lock(self) -> Iterator[None]:
        lock_path = os.path.realpath(self.path) + ".lock"  # one lock per file, however the inventory names it
        try:
            handle = open(lock_path, "a+b")  # pylint: disable=consider-using-with  # closed below
        except OSError as exc:
            raise BackendError(f"{self.host}: the snapshot's folder {os.path.dirname(lock_path)} is read-only or cannot be "
                               f"written (its lock file {os.path.basename(lock_path)} cannot be made: "
                               f"{exc.strerror or exc}): nothing was changed and no backup was made") from None
        try:
            deadline = time.monotonic() + self._lock_timeout
            while True:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise BackendError(f"{self.host}: {self.path} is being changed by another run (lock "
                                           f"{lock_path} held for more than {self._lock_timeout:.0f} s); nothing "
                                           "was changed") from None
                    time.sleep(0.05)
            yield
        finally:
            handle.close()

    def cleanup(self) -> list[str]:
        removed = []
        for folder, prefix in ((os.path.dirname(os.path.abspath(self.path)), _temp_prefix(self.path)),
                               (self.backup_dir, ".")):
            if not os.path.isdir(folder) or os.path.islink(folder):
                continue
            for name in os.listdir(folder):
                if name.startswith(prefix) and ".tmp-" in name and name.endswith(".json"):
                    os.unlink(os.path.join(folder, name))
                    removed.append(os.path.join(folder, name))
        return removed

    def read_state(self) -> dict:
        stamp = _stamp(self.path)
        state = load_state_file(self.path)
        self._stamp = stamp if _stamp(self.path) == stamp else None
        return state

    def _unchanged_since_read(self) -> None:
        """Compare again right before the rename: a writer that does not take the lock (an editor, a script)
        and changed the file since it was read makes this write stop, naming it, instead of losing that edit."""
        if self._stamp is None or _stamp(self.path) != self._stamp:
            raise BackendError(f"{self.host}: {self.path} was changed by something else while this run was writing "
                               "it; the rest was not written (run again to see the host as it is now)")

    def check_writable(self) -> None:
        if os.path.islink(self.path):
            raise BackendError(f"{self.host}: {self.path} is a symbolic link: the snapshot is not written through it; "
                               "nothing was changed")
        if not os.access(self.path, os.W_OK) or not os.stat(self.path).st_mode & stat.S_IWUSR:
            raise BackendError(f"{self.host}: {self.path} is read-only: nothing was changed (make it writable, or "
                               "run with --check)")
        self._check_backup_dir()
        # The snapshot is replaced through a temporary file beside it, and the backup is written first: try both
        # folders now, so that a folder that cannot be written (read-only, immutable, another owner) stops the run
        # before the backup of a change that could never be made is left behind.
        folder = os.path.dirname(os.path.abspath(self.path))
        self._try_writing(folder, _temp_prefix(self.path), f"the folder {folder} of the snapshot")
        existing = next(f for f in (self.backup_dir, os.path.dirname(self.backup_dir), folder) if os.path.isdir(f))
        self._try_writing(existing, ".backupready-probe.tmp-", f"the backup folder {existing}")

    def _try_writing(self, folder: str, prefix: str, what: str) -> None:
        try:
            handle, temp = tempfile.mkstemp(prefix=prefix, suffix=".json", dir=folder)
        except OSError as exc:
            raise BackendError(f"{self.host}: {what} is read-only or cannot be written ({exc.strerror or exc}): "
                               f"{self.path} was not changed and no backup was made (make the folder writable, or run "
                               "with --check)") from None
        os.close(handle)
        os.unlink(temp)

    def _check_backup_dir(self) -> None:
        for folder in (os.path.dirname(self.backup_dir), self.backup_dir):
            if os.path.islink(folder):
                raise BackendError(f"{self.host}: the backup folder {folder} is a symbolic link: backups are not "
                                   "written through it; nothing was changed")

    def write_state(self, state: dict) -> None:
        try:
            write_atomically(self.path, dump_state(state), guard=self._unchanged_since_read)
        except UnicodeEncodeError as exc:
            raise BackendError(f"{self.host}: {self.path}: the new document cannot be written as UTF-8 "
                               f"({exc.reason} at character {exc.start})") from None
        except OSError as exc:
            raise BackendError(f"{self.host}: {self.path} cannot be written ({exc.strerror or exc}): the file or its "
                               "folder is read-only or protected") from None
        self._stamp = _stamp(self.path)

    def list_backups(self) -> list[dict]:
        if not os.path.isdir(self.backup_dir):
            return []
        euid = os.geteuid()
        folder_problem = _journal.posix_trust_problem(os.lstat(self.backup_dir).st_mode, os.lstat(self.backup_dir).st_uid,
                                                      euid, f"the backup folder {self.backup_dir}")
        entries = []
        for name in sorted((n for n in os.listdir(self.backup_dir) if _BACKUP_NAME.match(n)), reverse=True):
            backup_id = name[:-len(".json")]
            path = os.path.join(self.backup_dir, name)
            info = os.lstat(path)
            problem = folder_problem or _journal.posix_trust_problem(info.st_mode, info.st_uid, euid, path)
            if problem:
                entries.append(_journal.entry(backup_id, None, trusted=False, error=problem))
                continue
            try:
                with open(path, encoding="utf-8") as stream:
                    record = json.load(stream)
            except (OSError, ValueError) as exc:
                entries.append(_journal.entry(backup_id, None, error=f"{name} cannot be read: {exc}"))
                continue
            if _journal.record_problem(record) is None and record.get("host") != self.host:
                entries.append(_journal.entry(backup_id, None, trusted=False,
                                              error=f"{path} is a backup of host {shown(record.get('host'))}, not {shown(self.host)}"))
                continue
            entries.append(_journal.entry(backup_id, record))
        return entries

    def write_record(self, backup_id: str, record: dict) -> str:
        self._check_backup_dir()
        # 0700 whatever the umask: a folder its group could write would not be trusted (docs/write-path.md §4).
        for folder in (os.path.dirname(self.backup_dir), self.backup_dir):
            if not os.path.isdir(folder):
                os.makedirs(folder, mode=0o700, exist_ok=True)
                os.chmod(folder, 0o700)
        path = os.path.join(self.backup_dir, f"{backup_id}.json")
        write_atomically(path, json.dumps(record, indent=1, ensure_ascii=False) + "\n")
        return path

    def delete_record(self, backup_id: str) -> None:
        path = os.path.join(self.backup_dir, f"{backup_id}.json")
        if os.path.lexists(path):
            os.unlink(path)

    def new_id(self) -> str:
        stamp = self._clock().strftime("%Y%m%dT%H%M%S%fZ")
        taken = set(os.listdir(self.backup_dir)) if os.path.isdir(self.backup_dir) else set()
        while f"{stamp}.json" in taken or stamp == self._last_id:
            moment = datetime.strptime(stamp, "%Y%m%dT%H%M%S%fZ") + timedelta(microseconds=1)
            stamp = moment.strftime("%Y%m%dT%H%M%S%fZ")
        self._last_id = stamp
        return stamp

    def now(self) -> datetime:
        return self._clock()


class SnapshotBackend:
    """State from a snapshot file on the controller; operations rewrite it atomically, journaled."""

    name = "snapshot"
    answers_every_path = True  # the probe holds the snapshot's whole paths map: no path needs asking ahead

    def __init__(self, path: str, host: str, backup_dir: str | None = None, clock: Callable[[], datetime] = _now,
                 keep: int = _journal.DEFAULT_KEEP):
        self.path = path
        self.host = host
        self.backup_dir = backup_dir or os.path.join(os.path.dirname(path) or ".", "backups", safe_name(host))
        self.calls: list[str] = []
        self.keep = keep
        self.store = SnapshotStore(path, host, self.backup_dir, clock)
        self._probed_paths: dict[str, bool | None] | None = None
        self.faults: dict[int, str] = {}  # tests only (fault injection at an operation index)

    def probe(self, backups: int = 0, sandbox_run_id: str | None = None,  # pylint: disable=unused-argument
              paths: list[str] | None = None) -> dict:
        """The snapshot; ``backups`` is accepted for symmetry (:meth:`list_backups` reads the backup files), and so is
        ``sandbox_run_id`` (a snapshot holds its self-test sandbox, if any, under ``selftest_sandbox``). ``paths``
        are answered in the same call, as :meth:`path_exists` answers them (added to the state's ``paths``)."""
        self.calls.append("state")
        state = load_state_file(self.path)
        self._probed_paths = {key.lower(): value for key, value in state["paths"].items()}
        if paths:
            state["paths"].update({path: self._probed_paths.get(path.lower()) for path in paths})
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

    def apply(self, operations: list[dict], check_mode: bool, label: dict | None = None,
              rollback_of: str | None = None) -> ApplyOutcome:
        self.calls.append("apply")
        try:
            return _journal.journaled_apply(self.store, operations, check_mode=check_mode, label=label,
                                            rollback_of=rollback_of, keep=self.keep, faults=self.faults)
        except OperationError as exc:
            raise BackendError(f"{self.host}: invalid operation list: {exc}") from None
        except (StateError, TwinError) as exc:
            raise BackendError(f"{self.host}: {exc}; nothing was changed") from None
        except OSError as exc:
            raise BackendError(f"{self.host}: {exc.filename or self.path}: {exc.strerror or exc}") from None

    def list_backups(self, count: int) -> list[dict]:
        """The ``count`` newest backups of this host, newest first (:func:`_journal.entry` dicts), claims judged
        as the engine's listing judges them."""
        return _journal.with_claims_judged(self.store.list_backups())[:max(count, 0)]


def write_atomically(path: str, text: str, guard: Callable[[], None] | None = None) -> None:
    """Write ``text`` to a temporary file beside ``path`` and rename it over ``path``.

    A crash at any point leaves either the old file or the new one, never a truncated mix; the temporary file
    is named after ``path`` (``.<name>.tmp-*``), so the next writer can remove what a crash left. ``guard`` runs
    right before the rename and may refuse it (by raising).
    """
    directory = os.path.dirname(os.path.abspath(path))
    data = text.encode("utf-8")  # before any file exists: a text that cannot be written leaves nothing behind
    handle, temp = tempfile.mkstemp(prefix=_temp_prefix(path), suffix=".json", dir=directory)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        if os.path.exists(path):
            os.chmod(temp, os.stat(path).st_mode & 0o777)
        if guard is not None:
            guard()
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise


ModuleCall = Callable[[str, dict], dict]


class LiveBackend:
    """The PowerShell modules over the host's connection (WinRM via pywinrm, PSRP via pypsrp, SSH)."""

    name = "live"

    def __init__(self, call_module: ModuleCall, host: str, backup_dir: str | None = None,
                 keep: int = _journal.DEFAULT_KEEP, task_check_mode: bool = False):
        self._call = call_module
        self.host = host
        self.backup_dir = backup_dir
        self.keep = keep
        self.task_check_mode = task_check_mode
        self.calls: list[str] = []
        self.store: dict | None = None  # the store's owner, DACL and whether it is secure, from the last listing
        self._listed: tuple[int, list[dict]] | None = None  # (count asked, backups) when probe() listed them

    def _run(self, module: str, args: dict) -> dict:
        result = self._call(module, args)
        if result.get("failed") and not result.get("refused") and not isinstance(result.get("results"), list):
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

    def probe(self, backups: int = 0, sandbox_run_id: str | None = None, paths: list[str] | None = None) -> dict:
        """The state document; with ``backups`` > 0 the same call lists that many backups (see list_backups); with
        ``sandbox_run_id`` the same call reads that run's self-test sandbox folder too (``selftest_sandbox``,
        docs/selftest.md); ``paths`` are tested in the same call too (added to the state's ``paths``)."""
        self.calls.append("state")
        args = self._state_args(True, backups)
        if sandbox_run_id:
            args["selftest_run_id"] = sandbox_run_id
        if paths:
            args["paths"] = list(paths)
        result = self._run(STATE_MODULE, args)
        if "state" not in result:
            raise BackendError(f"{self.host}: win_backup_state returned no 'state'")
        if backups > 0:
            self._listed = (backups, self._parse_backups(result))
        try:
            state = validate_state(result["state"], f"{self.host}: win_backup_state result")
        except StateError as exc:
            raise BackendError(str(exc)) from None
        if paths:
            found = result.get("paths") or {}
            state["paths"] = dict(state.get("paths") or {})
            state["paths"].update({path: found.get(path) for path in paths})
        return state

    def list_backups(self, count: int) -> list[dict]:
        """The ``count`` newest backups under backup_dir, newest first: no module call when probe() listed them."""
        if self._listed is not None and self._listed[0] >= count:
            return self._listed[1][:count]
        self.calls.append("backups")
        return self._parse_backups(self._run(STATE_MODULE, self._state_args(False, count)))[:count]

    def _parse_backups(self, result: dict) -> list[dict]:
        """win_backup_state returns each backup.json as text (the controller parses it) with the engine's verdict
        on its owner and DACL (``trusted``, docs/write-path.md §4)."""
        raw = result.get("backups")
        if not isinstance(raw, list):
            raise BackendError(f"{self.host}: win_backup_state returned no 'backups' list")
        self.store = result.get("store") if isinstance(result.get("store"), dict) else None
        entries = []
        for item in raw:
            if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                raise BackendError(f"{self.host}: win_backup_state returned a backup without an id: {shown(item)}")
            backup_id = item["id"]
            if item.get("trusted") is not True:
                entries.append(_journal.entry(backup_id, None, trusted=False,
                                              error=str(item.get("error") or "its owner or DACL is not trusted")))
                continue
            if item.get("error") or not isinstance(item.get("record"), str):
                entries.append(_journal.entry(backup_id, None, error=str(item.get("error") or "no backup.json")))
                continue
            try:
                record = json.loads(item["record"])
            except ValueError as exc:
                entries.append(_journal.entry(backup_id, None, error=f"backup.json is not valid JSON: {exc}"))
                continue
            entries.append(_journal.entry(backup_id, record))
        return entries

    def path_exists(self, paths: list[str]) -> dict[str, bool | None]:
        self.calls.append("paths")
        result = self._run(STATE_MODULE, {"gather": False, "paths": list(paths)})
        found = result.get("paths") or {}
        return {path: found.get(path) for path in paths}

    def apply(self, operations: list[dict], check_mode: bool, label: dict | None = None,
              rollback_of: str | None = None) -> ApplyOutcome:
        self.calls.append("apply")
        if check_mode and not self.task_check_mode:
            # The module's check mode comes from the task only: a preview asked for in a real run would write.
            raise BackendError(f"{self.host}: internal error: a check-mode apply was asked for in a task that is not "
                               "in check mode; nothing was sent to the host")
        for index, op in enumerate(operations):
            try:
                check_shape(op, index)
            except OperationError as exc:
                raise BackendError(f"{self.host}: invalid operation list: {exc}") from None
        args: dict[str, Any] = {"operations": operations, "keep_backups": self.keep}
        if self.backup_dir:
            args["backup_dir"] = self.backup_dir
        if label:
            args["label"] = label
        if rollback_of:
            args["rollback_of"] = rollback_of
        result = self._run(APPLY_MODULE, args)
        refused = bool(result.get("refused"))
        return ApplyOutcome(changed=bool(result.get("changed")), refused=refused,
                            failed=bool(result.get("failed")) and not refused,
                            results=list(result.get("results") or []), undo=list(result.get("undo") or []),
                            backup_id=result.get("backup_id"), backup_path=result.get("backup_path"),
                            journal=list(result.get("journal") or []), pruned=list(result.get("pruned") or []),
                            msg=result.get("msg") or "")


_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")
SNAPSHOT_ROOT_VAR = "backupready_snapshot_root"
KEEP_VAR = "backupready_keep_backups"


def safe_name(host: str) -> str:
    """A host name as one safe path segment: a name cannot steer a backup folder (``../`` becomes ``.._``), and two
    names that differ only in what was replaced (``a/b``, ``a_b``) do not share one (a digest is appended)."""
    name = _UNSAFE.sub("_", host)
    if name in ("", ".", "..") or name.startswith("."):
        name = "_" + name
    if name != host:
        name += "-" + hashlib.sha256(host.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return name


def _within(path: str, root: str) -> bool:
    return os.path.commonpath([path, root]) == root


def _keep(task_vars: dict, host: str) -> int:
    keep = task_vars.get(KEEP_VAR, _journal.DEFAULT_KEEP)
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
        raise BackendError(f"{host}: host variable {KEEP_VAR} must be a whole number of backups, 1 or more; "
                           f"got {shown(keep)}")
    return keep


# The shells the PowerShell modules run in: WinRM and PSRP use powershell; SSH to Windows needs ansible_shell_type
# powershell (or cmd).
WINDOWS_SHELLS = ("powershell", "cmd")


def select_backend(task_vars: dict, call_module: ModuleCall, check_mode: bool = False,
                   shell_family: str | None = None) -> SnapshotBackend | LiveBackend:
    """The snapshot backend when the host has ``backupready_snapshot``, else the live one.

    ``shell_family`` is the connection's shell (``SHELL_FAMILY``) when known: a host without a snapshot whose
    connection cannot run the PowerShell modules (``local``, or SSH with a POSIX shell) is refused before any call,
    saying what is needed, instead of failing later on a missing ``powershell`` interpreter.

    A relative snapshot path resolves against the directory of the inventory that defines the host, and must
    stay inside it (or inside ``backupready_snapshot_root``): a variable cannot make the collection rewrite a
    file elsewhere. Backups go to ``backups/<host>`` beside the snapshot, the host name made one safe segment.
    """
    host = str(task_vars.get("inventory_hostname", "host"))
    backup_dir = task_vars.get(BACKUP_DIR_VAR)
    keep = _keep(task_vars, host)
    if SNAPSHOT_VAR not in task_vars or task_vars[SNAPSHOT_VAR] is None:
        if isinstance(shell_family, str) and shell_family not in WINDOWS_SHELLS:
            connection = task_vars.get("ansible_connection") or "the default"
            raise BackendError(
                f"{host}: no {SNAPSHOT_VAR} is set, and the connection ({connection}, shell {shell_family}) cannot run "
                f"the collection's PowerShell modules: give the host {SNAPSHOT_VAR} (the path of a snapshot of it), or "
                "reach the Windows host over WinRM or PSRP (ansible_connection: winrm or psrp; or ssh with "
                "ansible_shell_type: powershell); nothing was changed")
        return LiveBackend(call_module, host, backup_dir, keep, task_check_mode=check_mode)
    snapshot = task_vars[SNAPSHOT_VAR]
    if not isinstance(snapshot, str):
        raise BackendError(f"{host}: host variable {SNAPSHOT_VAR} must be a path (a string), "
                           f"got {type(snapshot).__name__}")
    if not snapshot.strip():
        raise BackendError(f"{host}: host variable {SNAPSHOT_VAR} is empty: give the path of the host's snapshot, "
                           "or remove the variable to reach the host itself over WinRM or PSRP")
    base = task_vars.get("inventory_dir") or task_vars.get("playbook_dir") or os.getcwd()
    path = os.path.normpath(os.path.join(base, snapshot))
    roots = [os.path.realpath(base)]
    extra = task_vars.get(SNAPSHOT_ROOT_VAR)
    if extra is not None:
        if not isinstance(extra, str) or not extra.strip():
            raise BackendError(f"{host}: host variable {SNAPSHOT_ROOT_VAR} must be a folder path, got {shown(extra)}")
        roots.append(os.path.realpath(os.path.join(base, extra)))
    real = os.path.realpath(path)
    if not any(_within(real, root) for root in roots):
        raise BackendError(f"{host}: {SNAPSHOT_VAR} {shown(snapshot)} resolves to {real}, outside the inventory's folder "
                           f"{roots[0]}; set {SNAPSHOT_ROOT_VAR} to the folder that holds the snapshots to allow it")
    if not os.path.isfile(path):
        raise BackendError(f"{host}: {SNAPSHOT_VAR} {shown(snapshot)} does not exist or is not a file")
    if backup_dir is not None:
        if not isinstance(backup_dir, str) or not backup_dir.strip():
            raise BackendError(f"{host}: host variable {BACKUP_DIR_VAR} must be a folder path, got {shown(backup_dir)}")
        backup_dir = os.path.join(os.path.join(base, backup_dir), safe_name(host))
    return SnapshotBackend(path, host, backup_dir, keep=keep)
