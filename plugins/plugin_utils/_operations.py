# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The operations the hands carry out: their vocabulary, shapes and undo (docs/write-path.md, section 1).

An operation is a plain dict that goes as-is to ``win_backup_apply`` on a live host. Every operation
carries the value it expects to replace (``expect``) and the value to write (``set``):

``registry_value``      ``key``, ``name``, ``expect``/``set`` = ``{"kind": REG_*|"missing", "data": ...}``
``service_start_mode``  ``service``, ``expect``/``set`` = a start mode (auto, manual, disabled, ...)
``service_state``       ``service``, ``expect`` = current state, ``set`` = ``started`` | ``restarted``
``path_security``       ``path``, ``target`` = ``folder`` | ``files``, ``expect``/``set`` = owner+DACL SDDL
                        (``O:..D:..``); compared and written by their *writable part* (owner, DACL protection,
                        explicit ACEs); for ``files`` it applies to every file of the folder whose writable part
                        is ``expect``'s (one operation per distinct descriptor), optionally only to ``names``
``service_security``    ``service``, ``expect`` = full SDDL or ``"default"``, ``set`` = full SDDL; the DACL is written

What may be written is ``_allowlist.py``; what Windows does when it is written (the snapshot twin) is
``_twin.py``; how a change is journaled so that it can always be rolled back is ``_journal.py``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from ._sddl import same_descriptor, same_writable_part
from ._state import START_MODES

OP_KINDS = ("registry_value", "service_start_mode", "service_state", "path_security", "service_security")

SERVICES_KEY = "HKLM\\SYSTEM\\CurrentControlSet\\Services"
SYSTEM_WRITER_KEY = "HKLM\\SYSTEM\\CurrentControlSet\\Control\\SystemWriter"
VSS_ACCESS_CONTROL_KEY = "HKLM\\SYSTEM\\CurrentControlSet\\Services\\VSS\\VssAccessControl"
CRYPTSVC = "CryptSvc"
SETTABLE_START_MODES = ("auto", "manual", "disabled")
SERVICE_STATE_ACTIONS = ("started", "restarted")
FILES_TARGETS = ("folder", "files")

_HIVE_ALIASES = {"hkey_local_machine": "HKLM", "hklm": "HKLM", "hklm:": "HKLM"}


class OperationError(ValueError):
    """An operation that is malformed (a bug in a plan, or a hand-written list): names the operation."""


@dataclass
class ApplyOutcome:
    """What applying a list of operations did (the keys ``win_backup_apply`` returns, docs/write-path.md §5).

    ``failed``: a write failed part-way (``changed`` may still be true: what was written before it, or the
    write itself when its call returned); ``journal``: what happened to earlier interrupted backups.
    """

    changed: bool = False
    refused: bool = False
    failed: bool = False
    results: list[dict] = field(default_factory=list)
    undo: list[dict] = field(default_factory=list)
    backup_id: str | None = None
    backup_path: str | None = None
    journal: list[dict] = field(default_factory=list)
    pruned: list[str] = field(default_factory=list)
    msg: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"changed": self.changed, "refused": self.refused, "failed": self.failed, "results": self.results,
                "undo": self.undo, "backup_id": self.backup_id, "backup_path": self.backup_path,
                "journal": self.journal, "pruned": self.pruned, "msg": self.msg}


# ---------------------------------------------------------------------------------------------------
# Shape
# ---------------------------------------------------------------------------------------------------

def normalise_key(key: str) -> str:
    """``HKEY_LOCAL_MACHINE\\System\\...`` -> ``HKLM\\System\\...`` (case kept beyond the hive; no trailing \\)."""
    parts = key.replace("/", "\\").split("\\")
    if not parts or parts[0].lower() not in _HIVE_ALIASES:
        return key
    return "\\".join(["HKLM"] + parts[1:]).rstrip("\\")


def _require(op: dict, key: str, kind: type | tuple, where: str) -> Any:
    if key not in op:
        raise OperationError(f"{where}: '{key}' is missing")
    value = op[key]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise OperationError(f"{where}: '{key}' has the wrong type ({type(value).__name__})")
    return value


def _check_regvalue_shape(value: Any, where: str) -> None:
    if not isinstance(value, dict) or "kind" not in value or "data" not in value:
        raise OperationError(f"{where}: expected {{kind, data}}")
    try:
        validate_state_fragment(value)
    except ValueError as exc:
        raise OperationError(f"{where}: {exc}") from None


def validate_state_fragment(value: dict) -> None:
    """Validate one registry value object with the state schema's rules."""
    from ._state import _check_regvalue  # pylint: disable=import-outside-toplevel
    _check_regvalue(value, "value", "operation")


def check_shape(op: Any, index: int = 0) -> None:
    """Raise OperationError unless ``op`` is a well-formed operation."""
    where = f"operation {index}"
    if not isinstance(op, dict):
        raise OperationError(f"{where}: expected an object")
    kind = _require(op, "op", str, where)
    if kind not in OP_KINDS:
        raise OperationError(f"{where}: unknown op {kind!r} (expected one of {', '.join(OP_KINDS)})")
    where = f"{where} ({kind})"
    if kind == "registry_value":
        _require(op, "key", str, where)
        _require(op, "name", str, where)
        _check_regvalue_shape(op.get("expect"), f"{where}: 'expect'")
        _check_regvalue_shape(op.get("set"), f"{where}: 'set'")
    elif kind == "service_start_mode":
        _require(op, "service", str, where)
        if op.get("expect") not in START_MODES:
            raise OperationError(f"{where}: 'expect' must be one of {', '.join(START_MODES)}")
        if op.get("set") not in SETTABLE_START_MODES:
            raise OperationError(f"{where}: 'set' must be one of {', '.join(SETTABLE_START_MODES)}")
    elif kind == "service_state":
        _require(op, "service", str, where)
        _require(op, "expect", str, where)
        if op.get("set") not in SERVICE_STATE_ACTIONS:
            raise OperationError(f"{where}: 'set' must be one of {', '.join(SERVICE_STATE_ACTIONS)}")
    elif kind == "path_security":
        _require(op, "path", str, where)
        if op.get("target") not in FILES_TARGETS:
            raise OperationError(f"{where}: 'target' must be one of {', '.join(FILES_TARGETS)}")
        _require(op, "expect", str, where)
        _require(op, "set", str, where)
        if "names" in op and not (isinstance(op["names"], list) and all(isinstance(n, str) for n in op["names"])):
            raise OperationError(f"{where}: 'names' must be a list of file names")
    elif kind == "service_security":
        _require(op, "service", str, where)
        _require(op, "expect", str, where)
        _require(op, "set", str, where)


# ---------------------------------------------------------------------------------------------------
# Comparing and undoing
# ---------------------------------------------------------------------------------------------------

def describe(op: dict) -> str:
    kind = op["op"]
    if kind == "registry_value":
        return f"{normalise_key(op['key'])}\\{op['name']}"
    if kind in ("service_start_mode", "service_state", "service_security"):
        return f"service {op['service']} ({kind.replace('service_', '').replace('_', ' ')})"
    return f"{op['path']} ({op['target']} security)"


def values_equal(op: dict, current: Any, expected: Any) -> bool:
    """The compare-and-swap of docs/write-path.md §1: registry values exactly, start modes and states
    case-insensitively, file descriptors by their writable part, service descriptors by meaning."""
    kind = op["op"]
    if kind in ("service_start_mode", "service_state"):
        return isinstance(current, str) and current.lower() == str(expected).lower()
    if kind == "path_security":
        return isinstance(current, str) and isinstance(expected, str) and same_writable_part(current, expected)
    if kind == "service_security":
        if current == "default" or expected == "default":
            return current == expected
        return isinstance(current, str) and isinstance(expected, str) and same_descriptor(current, expected)
    if (isinstance(current, dict) and isinstance(expected, dict) and current.get("kind") == expected.get("kind")
            and current.get("kind") in ("REG_BINARY", "REG_NONE")
            and isinstance(current.get("data"), str) and isinstance(expected.get("data"), str)):
        left, right = _hex_bytes(current["data"]), _hex_bytes(expected["data"])
        return left is not None and left == right  # the bytes, not their spelling
    return current == expected


def _hex_bytes(text: str) -> bytes | None:
    """The bytes a hex string spells (whitespace between byte pairs allowed, an even length, as the state schema has
    it); None when it is not such a string (then it equals nothing, as in the engine's RegistryValue.Same)."""
    if len(text) % 2:
        return None
    try:
        return bytes.fromhex(text)
    except ValueError:
        return None


def is_noop(op: dict, current: Any) -> bool:
    """True when writing ``op`` would not change anything (then nothing is written and no backup is made)."""
    if op["op"] == "service_state":
        return op["set"] == "started" and isinstance(current, str) and current == "running"
    if op["op"] == "path_security" and op["target"] == "files":
        return values_equal(op, op["expect"], op["set"])
    return values_equal(op, current, op["set"])


def undo_of(op: dict, current: Any, names: list[str] | None = None) -> dict:
    """The operation that puts back what ``op`` replaces (what a backup holds).

    ``current``: the value found (for ``files``, unused: the files had ``op["expect"]``); ``names``: for
    ``files``, the names of the files written (None when they are not known: then it cannot be undone).
    """
    undo = {k: copy.deepcopy(v) for k, v in op.items() if k not in ("expect", "set", "names")}
    if op["op"] == "service_state":
        # A start or restart cannot be undone; the backup records the state that was found.
        return dict(undo, expect=current, set="none", note="not undoable: recorded only")
    if op["op"] == "path_security" and op["target"] == "files":
        undo.update(expect=op["set"], set=op["expect"])
        if names is not None:
            undo["names"] = list(names)
        return undo
    undo.update(expect=copy.deepcopy(op["set"]), set=copy.deepcopy(current))
    return undo
