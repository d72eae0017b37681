# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Typed operations and their exact semantics, shared by the snapshot backend and the plans.

An operation is a plain dict that goes as-is to ``win_backup_apply`` on a live host. Every operation
carries the value it expects to replace (``expect``) and the value to write (``set``):

``registry_value``      ``key``, ``name``, ``expect``/``set`` = ``{"kind": REG_*|"missing", "data": ...}``
``service_start_mode``  ``service``, ``expect``/``set`` = a start mode (auto, manual, disabled, ...)
``service_state``       ``service``, ``expect`` = current state, ``set`` = ``started`` | ``restarted``
``path_security``       ``path``, ``target`` = ``folder`` | ``files``, ``expect``/``set`` = owner+DACL SDDL
                        (``O:..D:..``); for ``files`` it applies to every file of the folder whose owner+DACL is
                        ``expect`` (one operation per distinct descriptor), optionally only to ``names``
``service_security``    ``service``, ``expect`` = full SDDL or ``"default"``, ``set`` = full SDDL

The apply step is all-or-nothing: every operation is checked first (shape, allow-list, expected value);
if any is refused nothing is written and the result says which and why. Then what will be replaced is
saved (the undo list, itself a list of operations) before anything is written.

:func:`apply_to_state` implements that on a state document in memory; it is the snapshot backend, and it
is how plans compute their "after" for ``--diff``. The PowerShell module implements the same contract.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

from ._sddl import join_sddl, owner_and_dacl, split_sddl
from ._state import START_MODES, find_service, validate_state

OP_KINDS = ("registry_value", "service_start_mode", "service_state", "path_security", "service_security")

SERVICES_KEY = "HKLM\\SYSTEM\\CurrentControlSet\\Services"
SYSTEM_WRITER_KEY = "HKLM\\SYSTEM\\CurrentControlSet\\Control\\SystemWriter"
VSS_ACCESS_CONTROL_KEY = "HKLM\\SYSTEM\\CurrentControlSet\\Services\\VSS\\VssAccessControl"
CRYPTSVC = "CryptSvc"
SETTABLE_START_MODES = ("auto", "manual", "disabled")
SERVICE_STATE_ACTIONS = ("started", "restarted")
FILES_TARGETS = ("folder", "files")

_HIVE_ALIASES = {"hkey_local_machine": "HKLM", "hklm": "HKLM", "hklm:": "HKLM"}
_SERVICE_NAME = re.compile(r"^[^\\/\x00]{1,256}$")


class OperationError(ValueError):
    """An operation that is malformed (a bug in a plan, or a hand-written list): names the operation."""


@dataclass
class ApplyOutcome:
    """What applying a list of operations did (the same shape ``win_backup_apply`` returns)."""

    changed: bool = False
    refused: bool = False
    results: list[dict] = field(default_factory=list)
    undo: list[dict] = field(default_factory=list)
    backup_path: str | None = None
    msg: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"changed": self.changed, "refused": self.refused, "results": self.results,
                "undo": self.undo, "backup_path": self.backup_path, "msg": self.msg}


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
# Allow-list (the same list as in win_backup_apply.ps1)
# ---------------------------------------------------------------------------------------------------

def allowed_folders(state: dict) -> dict[str, str]:
    """The folders whose security may be changed, keyed by lower-case path: filemaps and PendingRenames."""
    root = state["host"]["system_root"].rstrip("\\")
    folders = (f"{root}\\winsxs\\filemaps", f"{root}\\winsxs\\temp\\PendingRenames")
    return {p.lower(): p for p in folders}


def refusal_outside_allow_list(op: dict, state: dict) -> str | None:
    """Why ``op`` is outside the allow-list, or None when it is allowed."""
    kind = op["op"]
    if kind == "registry_value":
        key = normalise_key(op["key"])
        lowered = key.lower()
        name = op["name"]
        services_prefix = SERVICES_KEY.lower() + "\\"
        if lowered == SYSTEM_WRITER_KEY.lower() or lowered == VSS_ACCESS_CONTROL_KEY.lower():
            return None if name else "the default value of a key is not allowed"
        if lowered.startswith(services_prefix):
            service = key[len(services_prefix):]
            if "\\" in service or not _SERVICE_NAME.match(service):
                return f"key {op['key']!r} is not a service key"
            if name.lower() != "imagepath":
                return f"only ImagePath may be written under a service key, not {name!r}"
            return None
        return f"registry key {op['key']!r} is outside the allow-list"
    if kind in ("service_start_mode", "service_state"):
        if op["service"].lower() != CRYPTSVC.lower():
            return f"service {op['service']!r}: only {CRYPTSVC} may be reconfigured, started or restarted"
        return None
    if kind == "path_security":
        if op["path"].rstrip("\\").lower() not in allowed_folders(state):
            return f"path {op['path']!r} is outside the allow-list (filemaps and PendingRenames only)"
        return None
    if kind == "service_security":
        if not _SERVICE_NAME.match(op["service"]):
            return f"service name {op['service']!r} is not valid"
        return None
    return f"unknown op {kind!r}"  # pragma: no cover - check_shape refuses it first


# ---------------------------------------------------------------------------------------------------
# Reading and writing the values an operation addresses, on a state document
# ---------------------------------------------------------------------------------------------------

_MISSING = {"kind": "missing", "data": None}
# SystemWriter value names (lower-cased) -> the state document's attribute; other names go to other_values.
_SYSTEM_WRITER_ATTRS = {"excludedbinarypaths": "excluded_binary_paths",
                        "reportwin32servicesnonsystemstate": "report_win32_services_non_system_state"}


def _service_for_key(state: dict, key: str) -> dict | None:
    return find_service(state, normalise_key(key).split("\\")[-1])


def read_current(op: dict, state: dict) -> Any:
    """The value ``op`` would replace, as found in ``state`` (``None`` when the object does not exist)."""
    kind = op["op"]
    if kind == "registry_value":
        lowered = normalise_key(op["key"]).lower()
        if lowered == SYSTEM_WRITER_KEY.lower():
            section = state["system_writer"]
            attr = _SYSTEM_WRITER_ATTRS.get(op["name"].lower())
            if attr is None:
                extra = section.get("other_values", {})
                return _lookup_ci(extra, op["name"]) or _MISSING
            return section[attr]
        if lowered == VSS_ACCESS_CONTROL_KEY.lower():
            return _lookup_ci(state["vss_access_control"]["values"], op["name"]) or _MISSING
        service = _service_for_key(state, op["key"])
        return None if service is None else service["image_path"]
    if kind in ("service_start_mode", "service_state", "service_security"):
        service = find_service(state, op["service"])
        if service is None:
            return None
        if kind == "service_start_mode":
            return service["start_mode"]
        if kind == "service_state":
            return service["state"]
        return service["security"]["sddl"] if service["security"]["source"] == "registry" else "default"
    if kind == "path_security":
        section = _folder_section(op, state)
        if section is None or not section["exists"]:
            return None
        if op["target"] == "folder":
            return owner_and_dacl(section["sddl"])
        return [owner_and_dacl(d["sddl"]) for d in (section.get("files") or {}).get("descriptors", [])]
    return None  # pragma: no cover


def _lookup_ci(mapping: dict, name: str) -> Any:
    for key, value in mapping.items():
        if key.lower() == name.lower():
            return value
    return None


def _folder_section(op: dict, state: dict) -> dict | None:
    path = op["path"].rstrip("\\").lower()
    for section_name in ("filemaps", "pending_renames"):
        section = state[section_name]
        if section["path"].rstrip("\\").lower() == path:
            return section
    return None


def _replace_owner_and_dacl(sddl: str | None, new: str) -> str:
    """Keep group and SACL of ``sddl``, take owner and DACL from ``new``."""
    kept = {k: v for k, v in split_sddl(sddl).items() if k in ("G", "S")}
    kept.update({k: v for k, v in split_sddl(new).items() if k in ("O", "D")})
    return join_sddl(kept)


def values_equal(op: dict, current: Any, expected: Any) -> bool:
    """Comparison used for compare-and-swap: exact, except case-insensitive names and SDDL whitespace."""
    if op["op"] in ("service_start_mode", "service_state"):
        return isinstance(current, str) and current.lower() == str(expected).lower()
    return current == expected


def _write(op: dict, state: dict) -> None:
    kind = op["op"]
    if kind == "registry_value":
        lowered = normalise_key(op["key"]).lower()
        new = copy.deepcopy(op["set"])
        if lowered == SYSTEM_WRITER_KEY.lower():
            section = state["system_writer"]
            section["key_exists"] = True
            attr = _SYSTEM_WRITER_ATTRS.get(op["name"].lower())
            if attr is None:
                _set_ci(section.setdefault("other_values", {}), op["name"], new)
            else:
                section[attr] = new
        elif lowered == VSS_ACCESS_CONTROL_KEY.lower():
            state["vss_access_control"]["key_exists"] = True
            _set_ci(state["vss_access_control"]["values"], op["name"], new)
        else:
            _service_for_key(state, op["key"])["image_path"] = new
    elif kind == "service_start_mode":
        find_service(state, op["service"])["start_mode"] = op["set"]
    elif kind == "service_state":
        find_service(state, op["service"])["state"] = "running"
        _simulate_restart(state, op)
    elif kind == "service_security":
        find_service(state, op["service"])["security"] = {"sddl": op["set"], "source": "registry"}
    elif kind == "path_security":
        section = _folder_section(op, state)
        if op["target"] == "folder":
            section["sddl"] = _replace_owner_and_dacl(section["sddl"], op["set"])
        else:
            _write_files(section, op)


def _set_ci(mapping: dict, name: str, value: Any) -> None:
    for key in list(mapping):
        if key.lower() == name.lower():
            if value == _MISSING:
                del mapping[key]
            else:
                mapping[key] = value
            return
    if value != _MISSING:
        mapping[name] = value


def _simulate_restart(state: dict, op: dict) -> None:
    """Snapshots may say what ``vssadmin list writers`` shows once CryptSvc has (re)started.

    ``if_findings_remain`` (optional): when a finding of one of its ``codes`` is still there at the restart
    (the cause was not fixed, e.g. filemaps_acl), its ``vssadmin`` / ``events`` apply instead.
    """
    after = (state.get("simulation") or {}).get("on_cryptsvc_restart") or {}
    if op["service"].lower() != CRYPTSVC.lower():
        return
    branch = after.get("if_findings_remain")
    if branch:
        from ._findings import assess  # pylint: disable=import-outside-toplevel  # the checks import this module
        if assess(state, branch["codes"]):
            after = branch
    if "vssadmin" in after:
        state["vssadmin"] = copy.deepcopy(after["vssadmin"])
    if "events" in after:
        state["events"] = copy.deepcopy(state["events"]) + copy.deepcopy(after["events"])


def _write_files(section: dict, op: dict) -> None:
    """Move the files whose owner+DACL is ``expect`` (or only ``names`` of them) to ``set``."""
    files = section["files"]
    only = {n.lower() for n in op["names"]} if "names" in op else None
    regrouped: dict[str, dict] = {}
    for descriptor in files["descriptors"]:
        names = descriptor.get("names")
        matches = owner_and_dacl(descriptor["sddl"]) == op["expect"]
        if matches and only is not None and names is None:
            # Without a file list we cannot move only some of the files: keep the group as it is.
            matches = False
        moved, kept = _partition(descriptor, only if matches else set())
        if matches and only is None:
            moved, kept = descriptor, None
        for part, sddl in ((kept, descriptor["sddl"]), (moved, _replace_owner_and_dacl(descriptor["sddl"], op["set"]))):
            if not part:
                continue
            group = regrouped.setdefault(sddl, {"sddl": sddl, "count": 0, "samples": []})
            group["count"] += part["count"]
            group["samples"] = (group["samples"] + part["samples"])[:5]
            if "names" in part:
                group.setdefault("names", []).extend(part["names"])
    files["descriptors"] = list(regrouped.values())


def _partition(descriptor: dict, names: set[str]) -> tuple[dict | None, dict | None]:
    """Split a descriptor group into (files named in ``names``, the rest)."""
    if not names or "names" not in descriptor:
        return None, descriptor
    moved = [n for n in descriptor["names"] if n.lower() in names]
    rest = [n for n in descriptor["names"] if n.lower() not in names]
    return _descriptor_group(moved), _descriptor_group(rest)


def _descriptor_group(names: list[str]) -> dict | None:
    """A descriptor group of the files ``names`` (None when there are none)."""
    return {"count": len(names), "samples": names[:5], "names": names} if names else None


def _files_changed(section: dict, op: dict) -> list[str] | None:
    """The names of the files a ``files`` operation moves, when the snapshot knows them."""
    only = {n.lower() for n in op["names"]} if "names" in op else None
    names: list[str] = []
    for descriptor in (section.get("files") or {}).get("descriptors", []):
        if owner_and_dacl(descriptor["sddl"]) != op["expect"]:
            continue
        if "names" not in descriptor:
            return None
        names.extend(n for n in descriptor["names"] if only is None or n.lower() in only)
    return names


def undo_of(op: dict, current: Any, state: dict) -> dict:
    """The operation that puts back what ``op`` replaces (what a backup holds)."""
    undo = {k: v for k, v in op.items() if k not in ("expect", "set", "names")}
    if op["op"] == "service_state":
        # A start or restart cannot be undone; the backup records the state that was found.
        return dict(undo, op="service_state", expect=current, set="none", note="not undoable: recorded only")
    if op["op"] == "path_security" and op["target"] == "files":
        section = _folder_section(op, state)
        changed = _files_changed(section, op)
        undo.update(expect=op["set"], set=op["expect"])
        if changed is not None:
            undo["names"] = changed
        return undo
    undo.update(expect=copy.deepcopy(op["set"]), set=copy.deepcopy(current))
    return undo


# ---------------------------------------------------------------------------------------------------
# Applying, in memory
# ---------------------------------------------------------------------------------------------------

def describe(op: dict) -> str:
    kind = op["op"]
    if kind == "registry_value":
        return f"{normalise_key(op['key'])}\\{op['name']}"
    if kind in ("service_start_mode", "service_state", "service_security"):
        return f"service {op['service']} ({kind.replace('service_', '').replace('_', ' ')})"
    return f"{op['path']} ({op['target']} security)"


def refusal(op: dict, state: dict) -> tuple[str, Any] | None:
    """(reason, what was found) when ``op`` must be refused on ``state``, else None."""
    reason = refusal_outside_allow_list(op, state)
    if reason:
        return reason, None
    current = read_current(op, state)
    if current is None:
        return f"{describe(op)}: not found on the host", None
    if op["op"] == "path_security" and op["target"] == "files":
        if op["expect"] not in current:
            return f"{describe(op)}: no file has the expected descriptor {op['expect']!r}", current
        return None
    if op["op"] == "service_state":
        if not values_equal(op, current, op["expect"]):
            return f"{describe(op)}: expected state {op['expect']!r}, found {current!r}", current
        return None
    if not values_equal(op, current, op["expect"]):
        return f"{describe(op)}: expected {op['expect']!r}, found {current!r}", current
    if op["op"] == "service_security" and op["set"] == "default":
        return f"{describe(op)}: cannot write the SCM default descriptor", current
    return None


def is_noop(op: dict, current: Any) -> bool:
    if op["op"] == "service_state":
        return op["set"] == "started" and isinstance(current, str) and current == "running"
    if op["op"] == "path_security" and op["target"] == "files":
        return op["expect"] == op["set"]
    return values_equal(op, current, op["set"])


def apply_to_state(state: dict, operations: list[dict], check_mode: bool = False) -> tuple[dict, ApplyOutcome]:
    """Apply ``operations`` to a copy of ``state``, with the win_backup_apply contract.

    Returns the new document (``state`` itself, untouched, when anything is refused) and the outcome.
    ``check_mode`` only changes the per-operation status: the returned document always shows the
    result, so plans can diff it; callers decide whether to persist it.
    """
    for index, op in enumerate(operations):
        check_shape(op, index)
    outcome = ApplyOutcome()
    working = copy.deepcopy(state)
    refusals = []
    for index, op in enumerate(operations):
        why = refusal(op, working)
        if why is None:
            current = read_current(op, working)
            if is_noop(op, current):
                outcome.results.append({"index": index, "op": op["op"], "subject": describe(op), "status": "unchanged"})
                continue
            outcome.undo.append(undo_of(op, current, working))
            _write(op, working)
            outcome.results.append({"index": index, "op": op["op"], "subject": describe(op),
                                    "status": "would_apply" if check_mode else "applied"})
        else:
            reason, found = why
            refusals.append(reason)
            outcome.results.append({"index": index, "op": op["op"], "subject": describe(op), "status": "refused",
                                    "reason": reason, "found": found})
    if refusals:
        outcome.refused = True
        outcome.undo = []
        outcome.msg = f"{len(refusals)} of {len(operations)} operation(s) refused, nothing written: " + "; ".join(refusals)
        for result in outcome.results:
            if result["status"] in ("applied", "would_apply"):
                result["status"] = "not_run"
        return state, outcome
    outcome.changed = any(r["status"] in ("applied", "would_apply") for r in outcome.results)
    validate_state(working, "state after applying operations")
    return working, outcome
