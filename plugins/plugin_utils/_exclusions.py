# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``ExcludedBinaryPaths``: the System Writer's list of binaries to leave out of system state (KB 980794).

KB 980794: a Multi-String Value ``ExcludedBinaryPaths`` under
``HKLM\\SYSTEM\\CurrentControlSet\\Control\\SystemWriter``; "The binary paths should be absolute paths. They
should not include environment variables (such as %windir%) and should not be enclosed in double or single
quotation marks. Be sure to also include the full binary name with the path", e.g.
``D:\\ProgramFolder\\bin\\program.exe``.

Which Windows versions honour the value is documented only for 2008 / Vista / 7 / 2008 R2 with the
KB 980794 hotfix; later versions are presumed, not verified (KB 980794).

Read top to bottom: the validator (one rule per line, each with its source), the ``exclusion_invalid``
check, and the planner of the value (present / absent / exact).
"""

from __future__ import annotations

import copy
import re
from collections import Counter
from typing import Any, Iterable, Iterator

from ._display import quoted
from ._display import shown as shown_value
from ._findings import Check, Finding, register
from ._operations import SYSTEM_WRITER_KEY
from ._unreadable import section_unreadable

VALUE_NAME = "ExcludedBinaryPaths"
VALUE_KIND = "REG_MULTI_SZ"  # KB 980794: "New > Multi-String Value"
STATE_MODES = ("present", "absent", "exact")

# "Maximum Path Length Limitation" (Microsoft docs): a path is at most about 32,767 characters, even with the
# \\?\ prefix; a longer entry cannot name a file.
MAX_PATH_CHARACTERS = 32767
_DRIVE_PATH = re.compile(r"^[A-Za-z]:\\")
_ENV_VAR = re.compile(r"%[^%\\]+%")
_CONTROL = re.compile(r"[\x01-\x1f]")


# ---------------------------------------------------------------------------------------------------
# The validator
# ---------------------------------------------------------------------------------------------------

def validate_exclusion(path: str) -> list[str]:
    """Why ``path`` is not a valid ``ExcludedBinaryPaths`` entry (empty list: valid)."""
    if not isinstance(path, str):
        raise TypeError(f"an ExcludedBinaryPaths entry must be a string, got {type(path).__name__}: {shown_value(path)}")
    if path == "":
        # REG_MULTI_SZ: an empty string ends the list for a reader (double NUL); KB 883357.
        return ["is empty (an empty string ends a multi-string list)"]
    reasons: list[str] = []
    if len(path) > MAX_PATH_CHARACTERS:
        reasons.append(f"is {len(path):,} characters long: a Windows path has at most {MAX_PATH_CHARACTERS:,}")
    if "\x00" in path:
        reasons.append("contains a NUL character")
    if path != path.strip():
        reasons.append("has leading or trailing whitespace")
    body = path.strip()
    if body.startswith(("\\??\\", "\\\\?\\", "\\\\.\\")):
        # KB 980794: absolute paths; an NT (\??\) or device (\\?\, \\.\) prefix is not what the writer reports.
        reasons.append("uses an NT or device path prefix (\\??\\, \\\\?\\ or \\\\.\\), not a drive path")
    elif body.startswith("\\\\"):
        reasons.append("is a UNC (network) path, not a local drive path")
    elif not _DRIVE_PATH.match(body):
        # KB 980794: "The binary paths should be absolute paths".
        reasons.append("is not an absolute drive path (X:\\...)")
    if _ENV_VAR.search(path):
        # KB 980794: "should not include environment variables (such as %windir%)".
        reasons.append("contains an environment variable (%...%)")
    if '"' in path:
        # KB 980794: "should not be enclosed in double ... quotation marks"; '"' is also illegal in a file name.
        reasons.append("contains a double quotation mark")
    if body[:1] == "'" or body[-1:] == "'":
        # KB 980794: "... or single quotation marks" (a ' inside a name is a legal NTFS character).
        reasons.append("is enclosed in single quotation marks")
    if "*" in path or "?" in path.replace("\\??\\", "").replace("\\\\?\\", ""):
        # KB 980794: the full binary name; wildcards are not paths.
        reasons.append("contains a wildcard (* or ?)")
    if "/" in path:
        # Inferred from the writer's path rules: the writer's paths use backslashes; a forward slash does not match.
        reasons.append("contains a forward slash")
    if any(c in path for c in "<>|") or _CONTROL.search(path):
        # Win32 naming rules: < > | and control characters are illegal in file names.
        reasons.append("contains a character that is illegal in a file name (< > | or a control character)")
    if ":" in body.strip("\"'")[2:]:  # quotes are their own reason: the drive colon inside them is not
        # Inferred from the writer's path rules: ':' beyond position 2 is an alternate data stream or bad syntax (0x8007007B).
        reasons.append("contains a colon after the drive letter")
    segments = body[3:].split("\\") if _DRIVE_PATH.match(body) else []
    if any(s == "" for s in segments[:-1]):
        reasons.append("contains an empty segment (a doubled backslash)")
    if any(s in (".", "..") for s in segments):
        # KB 4053355: '.' and '..' segments are not in the writer's canonical paths.
        reasons.append("contains a '.' or '..' segment")
    if any(s.endswith((" ", ".")) and s not in (".", "..") for s in segments):
        # Win32 naming rules: a name cannot end in a space or a dot (Windows strips them).
        reasons.append("has a segment that ends in a space or a dot")
    last = body.rsplit("\\", 1)[-1] if "\\" in body else body
    if not re.search(r"[^.\\]\.[^.\\ ]+$", last.rstrip()):
        # KB 980794: "Be sure to also include the full binary name with the path" (e.g. program.exe).
        reasons.append("does not end in a file name with an extension")
    return reasons


def is_valid_exclusion(path: str) -> bool:
    return not validate_exclusion(path)


def shown(path: str) -> str:
    """An entry as messages show it, quoted (``_display``): a very long one cut in the middle, with its length."""
    if len(path) <= 200:
        return quoted(path)
    return f"{quoted(path[:120] + '...' + path[-40:])} ({len(path):,} characters)"


# ---------------------------------------------------------------------------------------------------
# The check
# ---------------------------------------------------------------------------------------------------

def _subject(entry: str) -> str:
    return f"exclusion:{entry}"


def exclusion_findings(state: dict) -> Iterator[Finding]:
    """exclusion_invalid: wrong value kind, empty strings, duplicates, invalid entries. Source: KB 980794."""
    if section_unreadable(state, "system_writer"):
        return  # could not be read: state_unreadable says so
    value = state["system_writer"]["excluded_binary_paths"]
    kind = value["kind"]
    if kind == "missing":
        return
    if kind != VALUE_KIND:
        yield Finding("exclusion_invalid", f"value:{VALUE_NAME}",
                      f"{VALUE_NAME} is {kind}, not {VALUE_KIND} (KB 980794: a Multi-String Value)",
                      evidence={"kind": kind, "data": value["data"]}, fixable=True,
                      fix=f"recreate it as {VALUE_KIND} (opt-in: module option replace_wrong_kind; role variables "
                          "readiness_fix_exclusions=true and systemwriter_replace_wrong_kind=true)")
        return
    seen: dict[str, int] = {}
    for index, entry in enumerate(value["data"]):
        if entry == "":
            yield Finding("exclusion_invalid", f"exclusion:(empty string at index {index})",
                          f"{VALUE_NAME} holds an empty string at index {index}: a reader stops there, "
                          "so the entries after it are ignored",
                          evidence={"index": index, "entries_after": value["data"][index + 1:]}, fixable=True,
                          fix="drop the empty string (dropped whenever the value is written; on its own, opt-in: module option remove_invalid; role variables "
                              "readiness_fix_exclusions=true and systemwriter_remove_invalid=true)")
            continue
        reasons = validate_exclusion(entry)
        key = entry.lower()
        if key in seen:
            yield Finding("exclusion_invalid", _subject(entry),
                          f"{VALUE_NAME} entry {shown(entry)} duplicates entry {seen[key]} (case-insensitive)",
                          evidence={"index": index, "duplicate_of": seen[key], "reasons": reasons}, fixable=True,
                          fix="drop the duplicate (opt-in: module option remove_invalid; role variables "
                              "readiness_fix_exclusions=true and systemwriter_remove_invalid=true)")
            continue
        seen[key] = index
        if reasons:
            yield Finding("exclusion_invalid", _subject(entry),
                          f"{VALUE_NAME} entry {shown(entry)} " + "; ".join(reasons),
                          evidence={"index": index, "reasons": reasons}, fixable=True,
                          fix="correct it by hand, or drop it (opt-in: module option remove_invalid; role variables "
                              "readiness_fix_exclusions=true and systemwriter_remove_invalid=true)")


register(Check("exclusions", ("exclusion_invalid",), exclusion_findings))


# ---------------------------------------------------------------------------------------------------
# The planner
# ---------------------------------------------------------------------------------------------------

def _dedupe(entries: Iterable[str]) -> list[str]:
    """First spelling of each entry, case-insensitively, in order."""
    seen: set[str] = set()
    kept = []
    for entry in entries:
        if entry.lower() not in seen:
            seen.add(entry.lower())
            kept.append(entry)
    return kept


def _minus(entries: list[str], others: list[str]) -> list[str]:
    """``entries`` not matched one-for-one (case-insensitively) in ``others``: a multiset difference."""
    left = Counter(o.lower() for o in others)
    out = []
    for entry in entries:
        if left[entry.lower()]:
            left[entry.lower()] -= 1
        else:
            out.append(entry)
    return out


def _unreachable(items: Iterable[Any], include_missing_file: bool, notes: list[str]) -> list[str]:
    """The paths to exclude for the unreachable binaries: strings, or ``{"path", "code"}`` of findings."""
    paths = []
    for item in items:
        if isinstance(item, str):
            path = item
        elif isinstance(item, dict) and isinstance(item.get("path"), str):
            if item.get("code") == "missing_file" and not include_missing_file:
                continue
            path = item["path"]
        else:
            raise ValueError(f"unreachable_paths: expected a path or {{path, code}}, got {shown_value(item)}")
        reasons = validate_exclusion(path)
        if reasons:
            # No fix is proposed for a value that cannot be used with confidence: it is reported instead.
            notes.append(f"unreachable binary {shown(path)} not excluded: " + "; ".join(reasons))
            continue
        paths.append(path)
    return paths


def _check_arguments(paths: Any, state_mode: str, exclude_unreachable: bool) -> None:
    if isinstance(paths, str) or not isinstance(paths, (list, tuple)):
        raise ValueError(f"paths: expected a list of paths, got {type(paths).__name__}")
    for index, path in enumerate(paths):
        if not isinstance(path, str):
            raise ValueError(f"paths[{index}]: expected a string, got {type(path).__name__}")
    if state_mode not in STATE_MODES:
        raise ValueError(f"state: expected one of {', '.join(STATE_MODES)}, got {shown_value(state_mode)}")
    if exclude_unreachable and state_mode == "absent":
        raise ValueError("exclude_unreachable adds paths: it cannot be combined with state 'absent'")


def plan_exclusions(state: dict, paths: list[str], state_mode: str, remove_invalid: bool = False,
                    replace_wrong_kind: bool = False, exclude_unreachable: bool = False,
                    include_missing_file: bool = False, unreachable_paths: Iterable[Any] = ()) -> dict:
    """Plan ``ExcludedBinaryPaths``: ``present`` adds, ``absent`` removes, ``exact`` makes it equal to ``paths``.

    Comparison is case-insensitive; existing entries keep their place and spelling, new ones are appended
    in the given order. Returns ``errors`` (invalid given paths: the caller fails and writes nothing),
    ``before``, ``after``, ``operations`` (zero or one ``registry_value``), ``invalid_existing``, ``added``,
    ``removed``, ``notes`` and ``wrong_kind``.
    """
    _check_arguments(paths, state_mode, exclude_unreachable)
    unreadable = section_unreadable(state, "system_writer")
    if unreadable:
        return {"errors": [f"the SystemWriter key could not be read ({unreadable}): nothing is changed"],
                "before": [], "after": [], "operations": [], "invalid_existing": [], "added": [], "removed": [],
                "notes": [], "wrong_kind": None}
    section = state["system_writer"]
    current = section["excluded_binary_paths"]
    kind, data = current["kind"], current["data"]
    notes: list[str] = []
    if kind == VALUE_KIND:
        before = list(data)
    elif kind in ("REG_SZ", "REG_EXPAND_SZ") and data:
        before = [data]
    else:
        before = []
    plan: dict[str, Any] = {
        "errors": [f"{shown(p)}: {r}" for p in paths for r in validate_exclusion(p)],
        "before": before, "after": list(before), "operations": [],
        "invalid_existing": [e for e in before if validate_exclusion(e)],
        "added": [], "removed": [], "notes": notes,
        "wrong_kind": kind if kind not in (VALUE_KIND, "missing") else None,
    }
    if plan["errors"]:
        return plan

    existing = before
    if plan["wrong_kind"]:
        if not replace_wrong_kind:
            notes.append(f"{VALUE_NAME} is {kind}, not {VALUE_KIND}: left alone and nothing planned "
                         "(set replace_wrong_kind to replace it)")
            return plan
        existing = [e for e in before if not validate_exclusion(e)]
        notes.append(f"{VALUE_NAME} is {kind}: replaced by a {VALUE_KIND} value"
                     + (" that keeps " + ", ".join(shown(e) for e in existing) if existing else ""))
    if not section["key_exists"]:
        notes.append("the SystemWriter key does not exist: it is created (KB 980794)")

    wanted = _dedupe(list(paths) + (_unreachable(unreachable_paths, include_missing_file, notes)
                                    if exclude_unreachable else []))
    wanted_keys = {w.lower() for w in wanted}
    if state_mode == "present":
        existing_keys = {e.lower() for e in existing}
        after = existing + [w for w in wanted if w.lower() not in existing_keys]
    elif state_mode == "absent":
        after = [e for e in existing if e.lower() not in wanted_keys]
    else:  # exact: the list replaces everything; entries already there keep their place and spelling
        kept = _dedupe(e for e in existing if e.lower() in wanted_keys)
        kept_keys = {k.lower() for k in kept}
        after = kept + [w for w in wanted if w.lower() not in kept_keys]
    if remove_invalid:
        after = [e for e in after if not validate_exclusion(e)]
    else:
        for entry in after:
            if entry and validate_exclusion(entry):
                notes.append(f"invalid entry {shown(entry)} kept (set remove_invalid to drop it)")

    differs = kind != VALUE_KIND or [e.lower() for e in after] != [e.lower() for e in existing]
    if kind == "missing" and not after:
        differs = False
    if differs or remove_invalid:
        # Whenever the value is written: never write an empty string (it ends the list, KB 883357)
        # nor a second spelling of the same path.
        cleaned = _dedupe(e for e in after if e != "")
        if len(cleaned) != len(after):
            notes.append("empty strings and duplicates are not written back")
        after = cleaned
        differs = differs or after != existing
    if not differs:
        return plan
    plan["after"] = after
    plan["added"] = _minus(after, existing)
    plan["removed"] = _minus(before, after)
    plan["operations"] = [{
        "op": "registry_value", "key": SYSTEM_WRITER_KEY, "name": VALUE_NAME,
        "expect": copy.deepcopy(current), "set": {"kind": VALUE_KIND, "data": list(after)},
    }]
    # Not published: whether the writer reads the value per OnIdentify or at CryptSvc start is unknown.
    notes.append("restart CryptSvc after the change: when the System Writer reads the value is not known")
    return plan
