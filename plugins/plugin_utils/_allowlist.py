# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the hands may write, whatever they are given: the semantic allow-list (docs/write-path.md, section 2).

The brain plans only safe fixes, but the hands also apply what comes from elsewhere: a rollback applies the undo
operations of a backup record, which is a file. So the allow-list checks *what* a write puts there, not only
*where*:

- a service's ``ImagePath`` may only be rewritten to the **same command** (the fixes ``_imagepath`` plans:
  truncation at a NUL, quoting, ``\\SystemRoot\\`` prefix normalisation, ``\\??\\``, slashes, ``.``/``..``, and
  their exact reverse);
- ``ExcludedBinaryPaths`` may only gain absolute drive paths of at most 32,767 characters;
- ``VssAccessControl`` may only hold the NETWORK SERVICE value;
- a service's descriptor may only gain or lose the System Writer's query ACE (KB 3209092);
- filemaps and PendingRenames may only be given an administrative owner and at most read & execute for anyone
  but TrustedInstaller, SYSTEM, Administrators and Domain Admins; the same value rules hold for the one other folder
  admitted, a self-test sandbox ``<system drive>\\ProgramData\\backupready-selftest\\<run id>`` (docs/selftest.md).

A rollback of a backup verified against the collection's own store (``rollback=True``) may restore what that
backup recorded for ExcludedBinaryPaths, VssAccessControl and filemaps; the two symmetric rules (same command,
writer ACE) hold in both directions. The PowerShell engine (``BackupReady.cs``) implements the same rules; the
vectors in ``tests/vectors/allowlist.json`` run through both.
"""

from __future__ import annotations

import re
from typing import Any

from ._display import quoted, shown
from ._operations import (
    CRYPTSVC, SERVICES_KEY, SYSTEM_WRITER_KEY, VSS_ACCESS_CONTROL_KEY, normalise_key,
)
from ._sddl import (
    FILE_ALL_ACCESS, FILE_READ_AND_EXECUTE, TRUSTED_INSTALLER_SID, SddlError, ace_key, parse_sddl, resolve_sid,
)
from ._state import SERVICE_DRIVER_MASK

OUTSIDE = "outside what this collection may change"

EXCLUDED_BINARY_PATHS = "ExcludedBinaryPaths"  # KB 980794
MAX_PATH_CHARACTERS = 32767  # "Maximum Path Length Limitation" (Microsoft docs): the extended-length path limit
MAX_EXCLUSION_ENTRIES = 4096
# KB 2009272 names the value "NT AUTHORITY\NETWORK SERVICE"; real systems carry "NT Authority\NetworkService".
NETWORK_SERVICE_VALUE_NAMES = ("NT AUTHORITY\\NETWORK SERVICE", "NT Authority\\NetworkService")
WRITER_ACE = "(A;;CCLCSWLOCRRC;;;SU)"  # KB 3209092: "append it with (A;;CCLCSWLOCRRC;;;SU)"

SYSTEM = "S-1-5-18"
ADMINISTRATORS = "S-1-5-32-544"
ADMINISTRATIVE_SIDS = frozenset({SYSTEM, ADMINISTRATORS, TRUSTED_INSTALLER_SID})
_DOMAIN_ADMINS = re.compile(r"S-1-5-21-\d+-\d+-\d+-512")
_SERVICE_NAME = re.compile(r"^[^\\/\x00]{1,256}$")
_DRIVE = re.compile(r"^[a-z]:\\", re.IGNORECASE)
_SYSTEMROOT_RUN = re.compile(r"^(?:\\+systemroot(?=\\))+\\")
_CONTROL = re.compile(r"[\x00-\x1f]")
_NOT_IN_EXCLUSION = re.compile(r'["*?<>|/]')
_VARIABLE = re.compile(r"%[^%\\]+%")


# ---------------------------------------------------------------------------------------------------
# Same command (ImagePath)
# ---------------------------------------------------------------------------------------------------

def _lower(text: str) -> str:
    """One character for one character, as Windows lower-cases a path (str.lower() may lengthen a character)."""
    return "".join(low if len(low := c.lower()) == 1 else c for c in text)


def _split(value: str, driver: bool) -> tuple[str, str] | None:
    """(executable, arguments) of a binary path; None when it cannot be told where the executable ends."""
    if driver:
        if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
            value = value[1:-1]
        return (None if '"' in value else (value, ""))
    if value.startswith('"'):
        close = value.find('"', 1)
        if close < 0:
            return value[1:], ""  # a leading quote without its closing quote
        if close + 1 < len(value) and value[close + 1] not in " \t":
            return None  # "C:\a.exe".d\x.exe: the quote does not end the executable
        return value[1:close], value[close + 1:]
    found = _lower(value).find(".exe")
    if found >= 0:
        if found + 4 < len(value) and value[found + 4] not in " \t":
            return None  # C:\a.exe.d\x.exe: '.exe' inside a folder name
        return value[:found + 4], value[found + 4:]
    for index, char in enumerate(value):
        if char in " \t":
            return value[:index], value[index:]
    return value, ""


def _reduce_path(path: str, driver: bool, system_root: str) -> str | None:
    """The executable reduced to one spelling per file (docs/write-path.md, "Same command"); None if it cannot be."""
    if '"' in path:
        return None
    low = _lower(path.replace("/", "\\"))
    root_low = _lower(system_root.rstrip("\\")) + "\\" if system_root else None
    nt_path = driver
    if low.startswith("\\??\\") and _DRIVE.match(low[4:]):
        low, nt_path = low[4:], True
    if nt_path and any(segment in (".", "..") for segment in low.split("\\")):
        # A driver path and a \??\ path are opened as NT paths, which do not resolve '.' or '..' (only the Win32
        # path conversion does): such a value names no file that loads, and no spelling is the same command.
        return None
    if _DRIVE.match(low):
        # '.' and '..' first, so that C:\Windows\..\x.exe is the file C:\x.exe before the system root is recognised
        below = _segments(low[3:])
        if below is None:
            return None
        low = low[:3] + "\\".join(below)
    prefix = _SYSTEMROOT_RUN.match(low)
    if prefix:
        root, rest = "%systemroot%\\", low[prefix.end():]
    elif low.startswith("%systemroot%\\") or low.startswith("%windir%\\"):
        root, rest = "%systemroot%\\", low[low.index("\\") + 1:]
    elif root_low and low.startswith(root_low):
        root, rest = "%systemroot%\\", low[len(root_low):]
    elif _DRIVE.match(low):
        root, rest = low[:3], low[3:]
    elif low.startswith("\\") or ":" in low:
        return None  # UNC, \Device\..., \??\ without a drive, a colon elsewhere: never compared
    elif driver:
        root, rest = "%systemroot%\\", low  # a driver path without a root is relative to %SystemRoot%
    else:
        root, rest = "", low
    kept = _segments(rest)
    if not kept:
        return None
    return root + "\\".join(kept)


def _segments(rest: str) -> list[str] | None:
    """The segments of a relative path with '.' and '..' resolved; None when a '..' climbs above its start."""
    kept: list[str] = []
    for segment in rest.split("\\"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if not kept:
                return None
            kept.pop()
            continue
        kept.append(segment)
    return kept


def command_of(value: str, driver: bool, system_root: str) -> tuple[str, str] | None:
    """(reduced executable, arguments as written) of an ImagePath value; None when it cannot be reduced."""
    value = value.partition("\x00")[0]  # systeminformer#111: what follows a NUL is not part of the command
    parts = _split(value, driver)
    if parts is None:
        return None
    executable = _reduce_path(parts[0], driver, system_root)
    return None if executable is None else (executable, parts[1])


def same_command(left: str, right: str, driver: bool, system_root: str) -> bool:
    """True when both values run the same executable with the same arguments (docs/write-path.md)."""
    if left.partition("\x00")[0] == right.partition("\x00")[0]:
        return True  # the same text up to the NUL: the same command, whatever the path (truncation at a NUL)
    a, b = command_of(left, driver, system_root), command_of(right, driver, system_root)
    return a is not None and a == b


def _quoted(value: str) -> bool:
    return value.partition("\x00")[0].startswith('"')


def imagepath_problem(expect: Any, new: Any, driver: bool, system_root: str, rollback: bool = False) -> str | None:
    for value in (expect, new):
        if not isinstance(value, dict) or value.get("kind") not in ("REG_SZ", "REG_EXPAND_SZ"):
            kind = value.get("kind") if isinstance(value, dict) else type(value).__name__
            return f"ImagePath is only rewritten between string values (REG_SZ, REG_EXPAND_SZ), not {kind}"
    if expect["kind"] != new["kind"]:
        return f"ImagePath keeps its kind ({expect['kind']}), it is not changed to {new['kind']}"
    before, after = expect["data"], new["data"]
    if not same_command(before, after, driver, system_root):
        return (f"{shown(after)} does not run the same command as {shown(before)} "
                "(only quoting, prefix normalisation and truncation at a NUL are made)")
    if rollback:
        return None
    # The direction of the brain's fixes (docs/write-path.md section 2): only a rollback goes back.
    if not driver and _quoted(before) and not _quoted(after):
        return "the quotes of a Win32 executable are only added (CreateService doc), never removed outside a rollback"
    if driver and not _quoted(before) and _quoted(after):
        return "the quotes of a driver path are only removed (mullvad/windows-service-rs#57), never added outside a rollback"
    if "\x00" not in before and "\x00" in after:
        return "nothing is added after a NUL outside a rollback (systeminformer#111: what follows it is truncated)"
    return None


# ---------------------------------------------------------------------------------------------------
# ExcludedBinaryPaths and VssAccessControl
# ---------------------------------------------------------------------------------------------------

def _entries(value: dict) -> list[str] | None:
    kind, data = value.get("kind"), value.get("data")
    if kind == "REG_MULTI_SZ" and isinstance(data, list):
        return list(data)
    if kind in ("REG_SZ", "REG_EXPAND_SZ") and isinstance(data, str):
        return [data] if data else []
    if kind == "missing":
        return []
    return None


def exclusion_entry_problem(entry: str) -> str | None:
    """Why ``entry`` may not be added to ExcludedBinaryPaths by the hands (a safety floor under the validator)."""
    if not 1 <= len(entry) <= MAX_PATH_CHARACTERS:
        return f"an entry must be 1 to {MAX_PATH_CHARACTERS} characters long, not {len(entry)}"
    if not _DRIVE.match(entry):
        return f"{quoted(entry, 80)} is not an absolute drive path (X:\\...)"
    if _VARIABLE.search(entry):
        return f"{quoted(entry, 80)} holds an environment variable (KB 980794: absolute paths without variables)"
    if _CONTROL.search(entry) or _NOT_IN_EXCLUSION.search(entry):
        return f"{quoted(entry, 80)} holds a control character or one of \" * ? < > | /"
    return None


def exclusions_problem(expect: dict, new: dict, rollback: bool) -> str | None:
    if new.get("kind") not in ("REG_MULTI_SZ", "missing"):
        if rollback and _entries(new) is not None:
            return None
        return f"{EXCLUDED_BINARY_PATHS} is written as REG_MULTI_SZ, not {new.get('kind')}"
    entries = _entries(new) or []
    if len(entries) > MAX_EXCLUSION_ENTRIES:
        return f"{len(entries)} entries, more than the {MAX_EXCLUSION_ENTRIES} allowed"
    if rollback:
        return None
    before = {_lower(e) for e in (_entries(expect) or [])}
    for entry in entries:
        if _lower(entry) not in before:
            problem = exclusion_entry_problem(entry)
            if problem:
                return problem
    return None


def vss_access_problem(name: str, new: dict, rollback: bool) -> str | None:
    if name.lower() not in {n.lower() for n in NETWORK_SERVICE_VALUE_NAMES}:
        return f"only the NETWORK SERVICE value may be written under VssAccessControl, not {quoted(name)}"
    if rollback:
        return None
    if new.get("kind") != "REG_DWORD" or new.get("data") != 1 or isinstance(new.get("data"), bool):
        return f"the NETWORK SERVICE value is only set to REG_DWORD 1 (allowed, KB 2009272), not {shown(new)}"
    return None


# ---------------------------------------------------------------------------------------------------
# Descriptors
# ---------------------------------------------------------------------------------------------------

def service_descriptor_problem(expect: str, new: str) -> str | None:
    """KB 3209092: a service descriptor may only gain or lose the writer's query ACE; all else stays."""
    if expect == "default" or new == "default":
        return "the SCM default descriptor is never written"
    try:
        before, after = parse_sddl(expect), parse_sddl(new)
        writer = ace_key(parse_sddl("D:" + WRITER_ACE).dacl.aces[0])  # type: ignore[union-attr]
    except (SddlError, ValueError) as exc:
        return f"the descriptor cannot be parsed: {exc}"
    for name, left, right in (("owner", before.owner, after.owner), ("group", before.group, after.group)):
        if (resolve_sid(left) if left else None) != (resolve_sid(right) if right else None) or \
                (left is None) != (right is None):
            return f"the {name} would change"
    if before.dacl is None or after.dacl is None or set(before.dacl.flags) != set(after.dacl.flags):
        return "the DACL is only changed by one ACE"
    old = [ace_key(a) for a in before.dacl.aces]
    new_aces = [ace_key(a) for a in after.dacl.aces]
    longer, shorter = (new_aces, old) if len(new_aces) > len(old) else (old, new_aces)
    if len(longer) != len(shorter) + 1:
        return f"the DACL may only gain or lose the System Writer's ACE {WRITER_ACE}"
    if not any(key == writer and longer[:index] + longer[index + 1:] == shorter for index, key in enumerate(longer)):
        return f"the DACL may only gain or lose the System Writer's ACE {WRITER_ACE}"
    same_sacl = (before.sacl is None) == (after.sacl is None) and (
        before.sacl is None or [ace_key(a) for a in before.sacl.aces] == [ace_key(a) for a in after.sacl.aces]
        and set(before.sacl.flags) == set(after.sacl.flags))
    return None if same_sacl else "the SACL would change"


def _administrative(sid: str | None) -> bool:
    return sid is not None and (sid in ADMINISTRATIVE_SIDS or bool(_DOMAIN_ADMINS.fullmatch(sid)))


_POLICY_PRINCIPALS = frozenset({SYSTEM, ADMINISTRATORS, "S-1-5-32-545", TRUSTED_INSTALLER_SID})  # KB 2009272


def _same_grantee(a, b) -> bool:
    return (a.type, frozenset(a.flags), a.object_guid.lower(), a.inherit_object_guid.lower(), resolve_sid(a.trustee),
            a.extra) == (b.type, frozenset(b.flags), b.object_guid.lower(), b.inherit_object_guid.lower(),
                         resolve_sid(b.trustee), b.extra)


def _ace_changes_problem(before: list, after: list) -> str | None:
    """``after`` must come from ``before`` by removing deny ACEs of the policy's principals, widening allow ACEs in
    place and inserting allow ACEs, the rest in their order; what an allow ACE gains stays under its ceiling."""
    position = 0
    for ace in after:
        while position < len(before) and not _same_grantee(before[position], ace):
            dropped = before[position]
            if any(_same_grantee(dropped, later) for later in after):
                return "the ACEs that stay must stay in their order"
            if not (dropped.is_deny and resolve_sid(dropped.trustee) in _POLICY_PRINCIPALS):
                if dropped.is_deny:
                    return (f"only deny ACEs of SYSTEM, Administrators, Users or TrustedInstaller are removed, not "
                            f"{dropped.format()}")
                return f"an allow ACE is never removed outside a rollback: {dropped.format()}"
            position += 1
        if position < len(before):
            kept = before[position]
            position += 1
            gained = ace.mask & ~kept.mask
            if ace.is_deny and ace.mask != kept.mask:
                return f"a deny ACE is not changed: {kept.format()} -> {ace.format()}"
        else:
            if ace.is_deny:
                if any(_same_grantee(earlier, ace) for earlier in before):
                    return "the ACEs that stay must stay in their order"
                continue  # a deny added takes rights away: never dangerous
            gained = ace.mask
        if ace.is_allow and gained:
            ceiling = FILE_ALL_ACCESS if _administrative(resolve_sid(ace.trustee)) else FILE_READ_AND_EXECUTE
            if gained & ~ceiling:
                what = "full control" if ceiling == FILE_ALL_ACCESS else "read & execute"
                return f"{ace.format()} would grant more than {what}"
    for dropped in before[position:]:
        if not (dropped.is_deny and resolve_sid(dropped.trustee) in _POLICY_PRINCIPALS):
            if dropped.is_deny:
                return f"only deny ACEs of SYSTEM, Administrators, Users or TrustedInstaller are removed, not {dropped.format()}"
            return f"an allow ACE is never removed outside a rollback: {dropped.format()}"
    return None


def path_descriptor_problem(expect: str, new: str, rollback: bool) -> str | None:
    """filemaps / PendingRenames: never a NULL DACL; outside a rollback an administrative owner, and only the changes
    the filemaps fix makes (KB 2009272): deny ACEs of its principals removed, allow ACEs added or widened to at most
    read & execute for anyone but the administrative principals."""
    try:
        before, after = parse_sddl(expect), parse_sddl(new)
    except (SddlError, ValueError) as exc:
        return f"the descriptor cannot be parsed: {exc}"
    if after.dacl is None or after.dacl.is_null:
        return "a descriptor without a DACL or with a NULL DACL (everyone may do everything) is never written"
    if rollback:
        return None
    for ace in after.dacl.aces:
        if ace.type not in ("A", "D"):
            return f"only allow and deny ACEs are written, not {ace.format()}"
    owner = resolve_sid(after.owner) if after.owner else None
    if owner != (resolve_sid(before.owner) if before.owner else None) and not _administrative(owner):
        return f"the owner may only become SYSTEM, Administrators, TrustedInstaller or Domain Admins, not {after.owner}"
    explicit_before = [a for a in (before.dacl.aces if before.dacl and not before.dacl.is_null else ()) if not a.inherited]
    explicit_after = [a for a in after.dacl.aces if not a.inherited]
    return _ace_changes_problem(explicit_before, explicit_after)


# ---------------------------------------------------------------------------------------------------
# The allow-list
# ---------------------------------------------------------------------------------------------------

def allowed_folders(system_root: str) -> dict[str, str]:
    """The folders whose security may be changed, keyed by lower-case path: filemaps and PendingRenames."""
    root = system_root.rstrip("\\")
    folders = (f"{root}\\winsxs\\filemaps", f"{root}\\winsxs\\temp\\PendingRenames")
    return {p.lower(): p for p in folders}


# The self-test sandbox (docs/selftest.md): one folder per run, directly under <system drive>\ProgramData\
# backupready-selftest (beside the backup store's backupready folder, which holds backup stores only). Only that exact
# form is admitted, in ASCII (Python lower-cases the Kelvin sign to "k", Windows does not: a look-alike name would be
# another folder), so "..", "\\?\", "/", another drive, a short name, a deeper path or a sibling such as
# "backupready-selftest-evil" are refused. The engine also refuses a sandbox whose parents are links or can be changed
# by anyone but SYSTEM and Administrators (docs/write-path.md section 4).
SELFTEST_FOLDER = "ProgramData\\backupready-selftest"
SELFTEST_SERVICE_PREFIX = "backupready-selftest-"
_RUN_ID = re.compile(r"[0-9A-Za-z]{8,32}")


def selftest_root(system_root: str) -> str | None:
    """``<system drive>\\ProgramData\\backupready-selftest`` of the host, or None when its system root has no drive."""
    if not system_root.isascii() or len(system_root) < 3 or not _DRIVE.match(system_root):
        return None
    return system_root[:2] + "\\" + SELFTEST_FOLDER


def selftest_run_id(path: str, system_root: str) -> str | None:
    """The run id when ``path`` is exactly a self-test sandbox folder of this host (a trailing \\ allowed), else None."""
    root = selftest_root(system_root)
    if root is None or not isinstance(path, str) or not path.isascii():
        return None
    trimmed, prefix = path.rstrip("\\"), root + "\\"
    if trimmed[:len(prefix)].lower() != prefix.lower():
        return None
    run_id = trimmed[len(prefix):]
    return run_id if _RUN_ID.fullmatch(run_id) else None


def _service_driver(state: dict, name: str) -> bool | None:
    for service in state["services"]:
        if service["name"].lower() == name.lower():
            return bool(service["type"] & SERVICE_DRIVER_MASK)
    return None


def _where(op: dict, state: dict) -> str | None:
    """Why the place ``op`` writes to is outside the allow-list (None when it is inside)."""
    kind = op["op"]
    if kind == "registry_value":
        key = normalise_key(op["key"])
        lowered = key.lower()
        name = op["name"]
        if lowered == SYSTEM_WRITER_KEY.lower():
            return None if name.lower() == EXCLUDED_BINARY_PATHS.lower() else \
                f"only {EXCLUDED_BINARY_PATHS} may be written under the SystemWriter key, not {quoted(name)}"
        if lowered == VSS_ACCESS_CONTROL_KEY.lower():
            return None
        prefix = SERVICES_KEY.lower() + "\\"
        if lowered.startswith(prefix):
            service = key[len(prefix):]
            if "\\" in service or not _SERVICE_NAME.match(service):
                return f"key {quoted(op['key'])} is not a service key"
            if name.lower() != "imagepath":
                return f"only ImagePath may be written under a service key, not {quoted(name)}"
            return None
        return f"registry key {quoted(op['key'])} is outside the allow-list"
    if kind in ("service_start_mode", "service_state"):
        if op["service"].lower() != CRYPTSVC.lower():
            return f"service {quoted(op['service'])}: only {CRYPTSVC} may be reconfigured, started or restarted"
        return None
    if kind == "path_security":
        system_root = state["host"]["system_root"]
        if op["path"].rstrip("\\").lower() in allowed_folders(system_root) or selftest_run_id(op["path"], system_root):
            return None
        return (f"path {quoted(op['path'])} is outside the allow-list (filemaps, PendingRenames and the self-test sandbox "
                f"<system drive>\\{SELFTEST_FOLDER}\\<run id> only)")
    if kind == "service_security":
        if not _SERVICE_NAME.match(op["service"]):
            return f"service name {quoted(op['service'])} is not valid"
        return None
    return f"unknown op {quoted(kind)}"


def _what(op: dict, state: dict, rollback: bool) -> str | None:
    """Why the value ``op`` writes is outside the allow-list (None when it is inside)."""
    kind = op["op"]
    if kind == "registry_value":
        lowered = normalise_key(op["key"]).lower()
        if lowered == SYSTEM_WRITER_KEY.lower():
            return exclusions_problem(op["expect"], op["set"], rollback)
        if lowered == VSS_ACCESS_CONTROL_KEY.lower():
            return vss_access_problem(op["name"], op["set"], rollback)
        driver = _service_driver(state, normalise_key(op["key"]).split("\\")[-1])
        if driver is None:
            return None  # not found: refused as such by the compare
        return imagepath_problem(op["expect"], op["set"], driver, state["host"]["system_root"], rollback)
    if kind == "service_security":
        return service_descriptor_problem(op["expect"], op["set"])
    if kind == "path_security":
        return path_descriptor_problem(op["expect"], op["set"], rollback)
    return None


def refusal_outside_allow_list(op: dict, state: dict, rollback: bool = False) -> str | None:
    """``outside what this collection may change: <why>`` for ``op`` on the host of ``state``, or None."""
    why = _where(op, state) or _what(op, state, rollback)
    return f"{OUTSIDE}: {why}" if why else None
