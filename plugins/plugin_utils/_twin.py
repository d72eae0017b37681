# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The snapshot twin: what Windows does when an operation is written to a host state document.

A test that passes on a twin that stores what it is given cannot catch what Windows does differently, so the
twin models the behaviours the write path relies on (docs/write-path.md, section 1):

- a descriptor written to a file or folder keeps its explicit ACEs in the order given; unless its DACL is
  protected, its inherited ACEs are recomputed from the parent and placed after them ("Automatic Propagation of
  Inheritable ACEs", Microsoft docs); group and SACL are not touched;
- writing the filemaps folder's DACL propagates its inheritable ACEs to every file whose DACL is not protected;
- a service descriptor is written through the service API, DACL only;
- a CryptSvc (re)start may change what ``vssadmin list writers`` shows (``simulation`` in the snapshot).

:func:`check_all` checks every operation against the state as found (allow-list, compare-and-swap);
:func:`write_one` writes one operation to a working copy, comparing again first. :func:`apply_to_state`
runs both in memory; it is how plans predict their "after" for ``--diff``. The journal around a real write is
``_journal.py``; the snapshot files are ``_backend.py``.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from typing import Any

from ._allowlist import refusal_outside_allow_list
from ._display import shown
from ._operations import (
    CRYPTSVC, SYSTEM_WRITER_KEY, VSS_ACCESS_CONTROL_KEY, ApplyOutcome, OperationError, check_shape, describe,
    is_noop, normalise_key, undo_of, values_equal,
)
from ._sddl import (
    GENERIC_BITS, Ace, Acl, SddlError, SecurityDescriptor, format_file_rights, format_sddl, join_sddl, map_generic,
    owner_and_dacl, parse_sddl, same_writable_part, split_sddl,
)
from ._state import find_service, validate_state
from ._unreadable import section_unreadable


class TwinError(ValueError):
    """The twin cannot say what Windows would do (e.g. an unprotected DACL whose parent is not captured)."""


_MISSING = {"kind": "missing", "data": None}
# SystemWriter value names (lower-cased) -> the state document's attribute; other names go to other_values.
_SYSTEM_WRITER_ATTRS = {"excludedbinarypaths": "excluded_binary_paths",
                        "reportwin32servicesnonsystemstate": "report_win32_services_non_system_state"}
# The order Windows writes ACE flags in (ConvertSecurityDescriptorToStringSecurityDescriptor output).
_FLAG_ORDER = ("OI", "CI", "NP", "IO", "ID", "SA", "FA", "TP", "CR")
CREATOR_OWNER = "S-1-3-0"


# ---------------------------------------------------------------------------------------------------
# Descriptors: what Windows stores when one is written, and propagation
# ---------------------------------------------------------------------------------------------------

def _flags(flags: set[str]) -> tuple[str, ...]:
    return tuple(f for f in _FLAG_ORDER if f in flags)


def _effective(ace: Ace, child_owner: str | None) -> Ace:
    """The copy of an inheritable ACE that applies to the child itself: ID only, generic rights mapped (files),
    CREATOR OWNER replaced by the child's owner."""
    mask = ace.mask
    rights = ace.rights if not mask & GENERIC_BITS else format_file_rights(map_generic(mask, "file"))
    trustee = child_owner if ace.trustee in ("CO", CREATOR_OWNER) and child_owner else ace.trustee
    return dataclasses.replace(ace, flags=("ID",), rights=rights, trustee=trustee)


def inherited_aces(parent: SecurityDescriptor, is_container: bool, child_owner: str | None) -> list[Ace]:
    """The ACEs a new or re-propagated child gets from ``parent`` ("ACE Inheritance Rules", Microsoft docs).

    A file inherits each ``OI`` ACE, as one effective ACE (``ID``, generic rights mapped, CREATOR OWNER as the
    file's owner). A folder inherits each ``CI`` ACE (and each ``OI``-only one as inherit-only, unless ``NP``):
    kept inheritable with ``ID``, unless ``NP``; an ACE with generic rights or CREATOR OWNER becomes two, the
    effective copy and an inherit-only copy that carries it further down.
    """
    aces: list[Ace] = []
    for ace in (parent.dacl.aces if parent.dacl else ()):
        flags = set(ace.flags)
        if not is_container:
            if "OI" in flags:
                aces.append(_effective(ace, child_owner))
            continue
        special = bool(ace.mask & GENERIC_BITS) or ace.trustee in ("CO", CREATOR_OWNER)
        if "CI" in flags:
            if "NP" in flags:
                aces.append(_effective(ace, child_owner))
            elif special:
                aces.append(_effective(ace, child_owner))
                aces.append(dataclasses.replace(ace, flags=_flags((flags & {"OI", "CI"}) | {"IO", "ID"})))
            else:
                aces.append(dataclasses.replace(ace, flags=_flags((flags & {"OI", "CI"}) | {"ID"})))
        elif "OI" in flags and "NP" not in flags:
            aces.append(dataclasses.replace(ace, flags=_flags({"OI", "IO", "ID"})))
    return aces


def written_descriptor(current: str, new: str, parent: str | None, is_container: bool) -> str:
    """The descriptor Windows stores after ``SetSecurityInfo(owner, DACL)`` of ``new`` on an object holding ``current``.

    Explicit ACEs of ``new`` in order, then (unless protected) the inherited ones, recomputed from ``parent``, or
    kept as they are when the parent is not captured and did not change. Group and SACL stay.
    """
    try:
        before, wanted = parse_sddl(current), parse_sddl(new)
        parent_sd = parse_sddl(parent) if parent else None
    except SddlError as exc:
        raise TwinError(f"a descriptor cannot be parsed: {exc}") from None
    if wanted.dacl is None:
        raise TwinError("a descriptor without a DACL is never written")
    protected = "P" in wanted.dacl.flags
    explicit = [ace for ace in wanted.dacl.aces if not ace.inherited]
    if protected:
        inherited: list[Ace] = []
    elif parent_sd is not None:
        inherited = inherited_aces(parent_sd, is_container, wanted.owner)
    elif before.dacl is not None and "P" in before.dacl.flags:
        raise TwinError("unprotecting a DACL whose parent is not captured: the inherited ACEs cannot be known")
    else:
        inherited = [ace for ace in (before.dacl.aces if before.dacl else ()) if ace.inherited]
    dacl = Acl(("P", "AI") if protected else ("AI",), tuple(explicit + inherited))
    return format_sddl(dataclasses.replace(before, owner=wanted.owner, dacl=dacl))


def repropagated(sddl: str, folder: SecurityDescriptor | str) -> str:
    """A file's descriptor after its folder's DACL was written: its inherited ACEs recomputed (unless protected)."""
    if isinstance(folder, str):
        folder = parse_sddl(folder)
    sd = parse_sddl(sddl)
    if sd.dacl is None or "P" in sd.dacl.flags:
        return sddl
    explicit = [ace for ace in sd.dacl.aces if not ace.inherited]
    aces = tuple(explicit + inherited_aces(folder, False, sd.owner))
    flags = sd.dacl.flags if "AI" in sd.dacl.flags else sd.dacl.flags + ("AI",)
    return format_sddl(dataclasses.replace(sd, dacl=Acl(flags, aces)))


def _regroup(parts: list[tuple[str | None, dict]]) -> list[dict]:
    """Descriptor groups from (new sddl, part of a group) pairs: equal descriptors merge, first appearance first."""
    groups: dict[Any, dict] = {}
    for sddl, part in parts:
        key = ("unreadable", id(part)) if sddl is None else sddl
        group = groups.setdefault(key, {"sddl": sddl, "count": 0, "samples": [], "names": []})
        group["count"] += part["count"]
        if group.get("names") is not None and "names" in part:
            group["names"].extend(part["names"])
        else:
            group["names"] = None
        group["samples"] = (group["samples"] + part["samples"])[:5]
    out = []
    for group in groups.values():
        if group["names"] is None:
            del group["names"]
        else:
            # One order whatever the writes (names in order), so that a rollback gives back the same bytes.
            group["names"].sort()
            group["samples"] = group["names"][:5]
        out.append(group)
    return out


def propagate_to_files(section: dict) -> None:
    """After the folder's DACL was written: every file whose DACL is not protected gets the new inherited ACEs."""
    files = section.get("files")
    if not files or section.get("sddl") is None:
        return
    folder = parse_sddl(section["sddl"])
    parts = [(None if d["sddl"] is None else repropagated(d["sddl"], folder), d) for d in files["descriptors"]]
    files["descriptors"] = _regroup(parts)


# ---------------------------------------------------------------------------------------------------
# Reading the values an operation addresses
# ---------------------------------------------------------------------------------------------------

def _lookup_ci(mapping: dict, name: str) -> Any:
    for key, value in mapping.items():
        if key.lower() == name.lower():
            return value
    return None


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


def _service_for_key(state: dict, key: str) -> dict | None:
    return find_service(state, normalise_key(key).split("\\")[-1])


# A snapshot may hold a self-test sandbox folder (docs/selftest.md): {"run_id", "folder": a filemaps-like section}.
SANDBOX_KEY = "selftest_sandbox"


def folder_section(op: dict, state: dict) -> dict | None:
    path = op["path"].rstrip("\\").lower()
    for section_name in ("filemaps", "pending_renames"):
        section = state[section_name]
        if section["path"].rstrip("\\").lower() == path:
            return section
    sandbox = (state.get(SANDBOX_KEY) or {}).get("folder")
    if isinstance(sandbox, dict) and sandbox.get("path", "").rstrip("\\").lower() == path:
        return sandbox
    return None


def read_current(op: dict, state: dict) -> Any:
    """The value ``op`` would replace, as found in ``state`` (``None`` when the object does not exist).

    For ``files``: the distinct owner+DACL of the folder's files (what the compare looks among).
    """
    kind = op["op"]
    if kind == "registry_value":
        lowered = normalise_key(op["key"]).lower()
        if lowered == SYSTEM_WRITER_KEY.lower():
            section = state["system_writer"]
            attr = _SYSTEM_WRITER_ATTRS.get(op["name"].lower())
            if attr is None:
                return _lookup_ci(section.get("other_values", {}), op["name"]) or _MISSING
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
        section = folder_section(op, state)
        if section is None or not section["exists"] or section["sddl"] is None:
            return None
        if op["target"] == "folder":
            return owner_and_dacl(section["sddl"])
        return [owner_and_dacl(d["sddl"]) for d in (section.get("files") or {}).get("descriptors", [])
                if d["sddl"] is not None]
    return None  # pragma: no cover - check_shape refuses unknown kinds first


def matching_files(op: dict, section: dict) -> tuple[int, list[str] | None]:
    """(how many files a ``files`` operation addresses, their names or None when a group has no names)."""
    only = {n.lower() for n in op["names"]} if "names" in op else None
    count, names, known = 0, [], True
    for descriptor in (section.get("files") or {}).get("descriptors", []):
        if descriptor["sddl"] is None or not same_writable_part(owner_and_dacl(descriptor["sddl"]), op["expect"]):
            continue
        if "names" not in descriptor:
            known = False
            if only is None:
                count += descriptor["count"]
            continue
        chosen = [n for n in descriptor["names"] if only is None or n.lower() in only]
        count += len(chosen)
        names.extend(chosen)
    return count, (names if known else None)


def files_before_after(op: dict, before: dict, after: dict) -> tuple[list[str], list[str]]:
    """The distinct owner+DACL of the files a ``files`` operation addresses, as found and as predicted after."""
    section = folder_section(op, before)
    found, names = [], set()
    for descriptor in (section.get("files") or {}).get("descriptors", []) if section else []:
        sddl = descriptor["sddl"]
        if sddl is not None and same_writable_part(owner_and_dacl(sddl), op["expect"]):
            found.append(owner_and_dacl(sddl))
            names.update(n.lower() for n in descriptor.get("names", []))
    predicted = folder_section(op, after) or {}
    later = []
    for descriptor in (predicted.get("files") or {}).get("descriptors", []):
        if descriptor["sddl"] is not None and names.intersection(n.lower() for n in descriptor.get("names", [])):
            later.append(owner_and_dacl(descriptor["sddl"]))
    if not later and predicted.get("sddl"):
        later = [owner_and_dacl(written_descriptor(f, op["set"], predicted["sddl"], False)) for f in found]
    return list(dict.fromkeys(found)), list(dict.fromkeys(later))


# ---------------------------------------------------------------------------------------------------
# Checking (all operations, against the state as found) and writing (one, comparing again first)
# ---------------------------------------------------------------------------------------------------

@dataclass
class Check:
    """One operation checked against the host: ``status`` apply | unchanged | refused."""

    index: int
    op: dict
    subject: str
    status: str
    current: Any = None
    reason: str | None = None
    found: Any = None
    names: list[str] | None = None  # files: the files it addresses (None: not known)
    count: int = 0


def refusal(op: dict, state: dict, rollback: bool = False) -> tuple[str, Any] | None:
    """(reason, what was found) when ``op`` must be refused on ``state``, else None."""
    reason = refusal_outside_allow_list(op, state, rollback)
    if reason:
        return reason, None
    current = read_current(op, state)
    subject = describe(op)
    unknown = _unreadable_for(op, state)
    if unknown:
        return f"{subject}: could not be read on the host ({unknown}): nothing is written", None
    if current is None:
        return f"{subject}: not found on the host", None
    if op["op"] == "path_security" and op["target"] == "files":
        if not any(same_writable_part(c, op["expect"]) for c in current):
            return f"{subject}: the host changed since it was read: no file has the expected descriptor " \
                   f"{shown(op['expect'])}", current
        return None
    if not values_equal(op, current, op["expect"]):
        if op["op"] == "service_state":
            return f"{subject}: the host changed since it was read: expected state {shown(op['expect'])}, " \
                   f"found {shown(current)}", current
        return f"{subject}: the host changed since it was read: expected {shown(op['expect'])}, found {shown(current)}", current
    return None


def _unreadable_for(op: dict, state: dict) -> str | None:
    """Why the value ``op`` addresses could not be read by the probe (then nothing is compared, nothing written)."""
    kind = op["op"]
    if kind == "registry_value":
        lowered = normalise_key(op["key"]).lower()
        section = ("system_writer" if lowered == SYSTEM_WRITER_KEY.lower() else
                   "vss_access_control" if lowered == VSS_ACCESS_CONTROL_KEY.lower() else "services")
    elif kind == "path_security":
        section = "filemaps" if "filemaps" in op["path"].lower() else "pending_renames"
        sandbox = (state.get(SANDBOX_KEY) or {}).get("folder") or {}
        if sandbox.get("path", "").rstrip("\\").lower() == op["path"].rstrip("\\").lower():
            section = SANDBOX_KEY
    else:
        section = "services"
    return section_unreadable(state, section)


def check_all(state: dict, operations: list[dict], rollback: bool = False) -> list[Check]:
    """Every operation checked against ``state`` as found: nothing is chained, nothing written."""
    for index, op in enumerate(operations):
        check_shape(op, index)
    checks = []
    for index, op in enumerate(operations):
        subject = describe(op)
        why = refusal(op, state, rollback)
        if why is not None:
            checks.append(Check(index, op, subject, "refused", reason=why[0], found=why[1]))
            continue
        current = read_current(op, state)
        check = Check(index, op, subject, "unchanged" if is_noop(op, current) else "apply", current=current)
        if op["op"] == "path_security" and op["target"] == "files":
            check.count, check.names = matching_files(op, folder_section(op, state))
        checks.append(check)
    return checks


class WriteFailed(Exception):
    """A write did not happen, or happened and then failed: ``written`` says which; ``differs`` when what the host
    shows after it is not what was written (the read-back), as opposed to an error after a write that took."""

    def __init__(self, reason: str, written: bool = False, read_back: Any = None, differs: bool = False,
                 names: list[str] | None = None):
        super().__init__(reason)
        self.written = written
        self.read_back = read_back
        self.differs = differs
        self.names = names  # files: the files written before the failure


@dataclass
class Written:
    """What one write did: for ``files`` the names rewritten (None when not known) and how many were skipped."""

    names: list[str] | None = None
    files_changed: int = 0
    files_skipped: int = 0
    read_back: Any = None
    extra: dict = field(default_factory=dict)


def write_one(working: dict, check: Check, fault: str | None = None, now: str | None = None) -> Written:
    """Write ``check.op`` to ``working`` in place, as Windows would; compare again immediately before.

    ``fault`` (tests only): ``before_write`` fails without writing, ``after_write`` writes then fails,
    ``readback_differs`` writes something else than asked (as a host that rewrites a value would).
    ``now`` (ISO 8601): when the write happens; events a simulated restart logs carry that time.
    """
    op = check.op
    current = read_current(op, working)
    stale = current is None or (
        not any(same_writable_part(c, op["expect"]) for c in current)
        if op["op"] == "path_security" and op["target"] == "files" else not values_equal(op, current, op["expect"]))
    if stale:
        raise WriteFailed(f"{check.subject}: the host changed since it was checked: found {shown(current)}")
    if fault == "before_write":
        raise WriteFailed(f"{check.subject}: injected failure before the write")
    if fault == "after_write" and op["op"] == "path_security" and op["target"] == "files" and check.names:
        # Files are written one by one: the failure comes after the first file (as the engine's loop meets it).
        first = check.names[:1]
        _write(dict(op, names=first), working, now)
        raise WriteFailed(f"{check.subject}: injected failure after the write of {first[0]}", written=True,
                          read_back=op["set"], names=first)
    written = _write(op, working, now)
    if fault == "readback_differs":
        _garble(op, working)
    after = read_current(op, working)
    if op["op"] == "path_security" and op["target"] == "files":
        written.read_back = op["set"]
    elif op["op"] == "service_state":
        written.read_back = after
    else:
        written.read_back = after
        if not values_equal(op, after, op["set"]):
            raise WriteFailed(f"{check.subject}: read back {shown(after)} after writing {shown(op['set'])}", written=True,
                              read_back=after, differs=True)
    if fault == "after_write":
        raise WriteFailed(f"{check.subject}: injected failure after the write", written=True, read_back=after)
    return written


def _garble(op: dict, working: dict) -> None:
    """Fault injection: the value on the host ends up different from what was written."""
    if op["op"] == "registry_value" and op["set"]["kind"] in ("REG_SZ", "REG_EXPAND_SZ"):
        _store_registry(op, working, dict(op["set"], data=op["set"]["data"] + "\x00left by the host"))
    elif op["op"] == "service_start_mode":
        find_service(working, op["service"])["start_mode"] = "manual" if op["set"] != "manual" else "auto"
    elif op["op"] == "path_security" and op["target"] == "folder":
        # One explicit ACE more than written (Everyone: read), as the engine's fake does; it does not propagate.
        wanted = parse_sddl(op["set"])
        everyone = parse_sddl("D:(A;;FR;;;WD)").dacl.aces[0]
        garbled = dataclasses.replace(wanted, dacl=dataclasses.replace(wanted.dacl, aces=wanted.dacl.aces + (everyone,)))
        _write(dict(op, set=format_sddl(garbled)), working, None)


def _store_registry(op: dict, state: dict, new: dict) -> None:
    lowered = normalise_key(op["key"]).lower()
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


def _write(op: dict, state: dict, now: str | None) -> Written:
    kind = op["op"]
    if kind == "registry_value":
        _store_registry(op, state, copy.deepcopy(op["set"]))
    elif kind == "service_start_mode":
        find_service(state, op["service"])["start_mode"] = op["set"]
    elif kind == "service_state":
        find_service(state, op["service"])["state"] = "running"
        _simulate_restart(state, op, now)
    elif kind == "service_security":
        # Through the service API, DACL only: owner, group and SACL stay as they are (docs/write-path.md §1).
        service = find_service(state, op["service"])
        sections = split_sddl(service["security"]["sddl"])
        sections["D"] = split_sddl(op["set"]).get("D", "")
        service["security"] = {"sddl": join_sddl(sections), "source": "registry"}
    elif kind == "path_security":
        section = folder_section(op, state)
        if op["target"] == "folder":
            section["sddl"] = written_descriptor(section["sddl"], op["set"], None, is_container=True)
            if section.get("files") is not None:
                propagate_to_files(section)
        else:
            return _write_files(section, op)
    return Written()


def _write_files(section: dict, op: dict) -> Written:
    """Rewrite the files whose writable part is ``expect`` (only ``names`` of them when given)."""
    only = {n.lower() for n in op["names"]} if "names" in op else None
    parts: list[tuple[str | None, dict]] = []
    result = Written(names=[])
    for descriptor in section["files"]["descriptors"]:
        sddl = descriptor["sddl"]
        matches = sddl is not None and same_writable_part(owner_and_dacl(sddl), op["expect"])
        if not matches:
            parts.append((sddl, descriptor))
            continue
        if only is not None and "names" not in descriptor:
            # Without file names the files named cannot be told apart from the others of the group: left alone.
            result.files_skipped += descriptor["count"]
            parts.append((sddl, descriptor))
            continue
        names = descriptor.get("names")
        moved = names if only is None else [n for n in names if n.lower() in only]
        rest = [] if only is None else [n for n in names if n.lower() not in only]
        new_sddl = written_descriptor(sddl, op["set"], section["sddl"], is_container=False)
        if names is None:
            parts.append((new_sddl, descriptor))
            result.names = None
            result.files_changed += descriptor["count"]
            continue
        if rest:
            parts.append((sddl, {"count": len(rest), "samples": rest[:5], "names": rest}))
        if moved:
            parts.append((new_sddl, {"count": len(moved), "samples": moved[:5], "names": moved}))
            result.files_changed += len(moved)
            if result.names is not None:
                result.names.extend(moved)
    section["files"]["descriptors"] = _regroup(parts)
    if result.files_changed == 0:
        raise WriteFailed(f"{describe(op)}: none of the files still had the expected descriptor; nothing was written")
    return result


def _simulate_restart(state: dict, op: dict, now: str | None = None) -> None:
    """Snapshots may say what ``vssadmin list writers`` shows once CryptSvc has (re)started.

    ``if_findings_remain`` (optional): when a finding of one of its ``codes`` is still there at the restart
    (the cause was not fixed, e.g. filemaps_acl), its ``vssadmin`` / ``events`` apply instead. With ``now``
    (a real write), the events are logged at that time, as the writer logs them right after the restart.
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
        logged = copy.deepcopy(after["events"])
        if now is not None:
            for event in logged:
                event["time_created"] = now
        state["events"] = copy.deepcopy(state["events"]) + logged


# ---------------------------------------------------------------------------------------------------
# Applying in memory
# ---------------------------------------------------------------------------------------------------

def copy_state(state: dict) -> dict:
    """A copy to write to: the sections operations change are copied, the rest (events, extra keys) shared."""
    working = dict(state)
    for key in ("services", "system_writer", "vss_access_control", "filemaps", "pending_renames", "vssadmin"):
        working[key] = copy.deepcopy(state[key])
    if SANDBOX_KEY in state:
        working[SANDBOX_KEY] = copy.deepcopy(state[SANDBOX_KEY])
    working["events"] = list(state["events"])
    return working


def refused_outcome(checks: list[Check], total: int) -> ApplyOutcome:
    outcome = ApplyOutcome(refused=True)
    reasons = [c.reason for c in checks if c.status == "refused"]
    for c in checks:
        result = {"index": c.index, "op": c.op["op"], "subject": c.subject,
                  "status": "not_run" if c.status == "apply" else c.status}
        if c.status == "refused":
            result.update(reason=c.reason, found=c.found)
        outcome.results.append(result)
    outcome.msg = f"{len(reasons)} of {total} operation(s) refused, nothing written: " + "; ".join(reasons)
    return outcome


def apply_to_state(state: dict, operations: list[dict], check_mode: bool = False,
                   rollback: bool = False) -> tuple[dict, ApplyOutcome]:
    """Check then write ``operations`` on a copy of ``state``; no journal (that is ``_journal.journaled_apply``).

    Returns the new document (``state`` itself, untouched, when anything is refused) and the outcome.
    ``check_mode`` only changes the per-operation status: the returned document always shows the predicted
    result, so plans can diff it; callers decide whether to persist it.
    """
    checks = check_all(state, operations, rollback)
    if any(c.status == "refused" for c in checks):
        return state, refused_outcome(checks, len(operations))
    working = copy_state(state)
    outcome = ApplyOutcome()
    for check in checks:
        result = {"index": check.index, "op": check.op["op"], "subject": check.subject, "status": check.status}
        outcome.results.append(result)
        if check.status != "apply":
            continue
        try:
            written = write_one(working, check)
        except WriteFailed as exc:
            raise OperationError(f"operation {check.index}: {exc}") from None
        outcome.undo.append(undo_of(check.op, check.current, written.names))
        result["status"] = "would_apply" if check_mode else "applied"
        if check.op["op"] == "path_security" and check.op["target"] == "files":
            result.update(files_changed=written.files_changed, files_skipped=written.files_skipped)
    outcome.changed = any(r["status"] in ("applied", "would_apply") for r in outcome.results)
    validate_state(working, "state after applying operations")
    return working, outcome
