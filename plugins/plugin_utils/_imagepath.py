# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A service's ImagePath, read the way the VSS System Writer reads it, and judged.

The System Writer asks the SCM for every driver's and every Win32 service's binary path and rewrites
it with its own simple rules (the decompiled ``cryptcatsvc.dll``). A path that those rules
turn into an invalid, non-local or missing file breaks System State backups (KB 4053355 0x8007007B,
KB 968247, KB 980794). This module:

1. splits a binary path into executable and arguments (drivers take no arguments);
2. derives the writer path exactly as the decompiled cryptcatsvc.dll does (:func:`writer_path_of`) and expands it with the host's
   variables (:func:`expand_environment`, ``ExpandEnvironmentStringsW`` semantics);
3. judges it (:func:`diagnose`): ``invalid_syntax``, ``quoted_driver``, ``embedded_nul``,
   ``missing_volume``, ``missing_file`` and, for Win32 services only, ``unquoted_spaces`` (CWE-428);
4. proposes a fixed value when, and only when, one is safe: arguments kept byte for byte, ``%VAR%`` kept
   unexpanded, the case of untouched parts kept; a fix is never proposed for a value that cannot be parsed
   with confidence, and a fix is idempotent (diagnosing it again proposes nothing);
5. registers one check over a host state document and plans ``registry_value`` operations
   (:func:`plan_imagepath_fixes`) that keep the value kind (REG_EXPAND_SZ stays REG_EXPAND_SZ).

Pure functions over plain data; :func:`diagnose` never raises on any string value.
"""

from __future__ import annotations

import copy
import functools
import re
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

from ._display import shown, visible
from ._findings import Check, Finding, matches_any, register
from ._operations import SERVICES_KEY
from ._remedies import REMEDIES
from ._state import is_driver, is_win32, local_drive_letters

DRIVER = "driver"
WIN32 = "win32"
SERVICE_TYPES = (DRIVER, WIN32)
STRING_KINDS = ("REG_SZ", "REG_EXPAND_SZ")

# Defects this module can repair in the value itself, and those it only reports.
FIXABLE_CODES = ("invalid_syntax", "quoted_driver", "embedded_nul", "unquoted_spaces")
REPORTED_CODES = ("missing_volume", "missing_file")
IMAGEPATH_CODES = FIXABLE_CODES + REPORTED_CODES

MAX_PATH = 260  # ExpandEnvironmentStringsW(..., 0x104) in FindBinaryForService: longer fails (cryptcatsvc.dll, decompiled)

_DRIVE_ROOTED = re.compile(r"^[A-Za-z]:\\")
_DRIVE_LETTER = re.compile(r"^[A-Za-z]:?\\?$")
_WHITESPACE = (" ", "\t")
# Characters that cannot appear in a path (askcore INVALID_CHARS "< > : \" | ?", KB 968247; '*' and
# control characters are invalid in Win32 file names).
_INVALID_CHARS = frozenset('"<>|?*') | frozenset(chr(c) for c in range(1, 32))
_ANY_INVALID_CHAR = re.compile("[" + "".join(re.escape(c) for c in sorted(_INVALID_CHARS)) + "]")
_DOT_SEGMENT = re.compile(r"(?:\A|\\)\.\.?(?:\\|\Z)")  # a '.' or '..' segment between backslashes
# A path local_path_problems finds nothing wrong with: X:\ then segments with none of its problems (no doubled
# backslash, no '.' or '..' segment, no '/', ':' or invalid character). Anything else takes the long way.
_CLEAN_LOCAL_PATH = re.compile(r'\A[A-Za-z]:(?:\\(?!\\|\.\.?(?:\\|\Z))[^\\/:"<>|?*\x01-\x1f]*)+\Z')
# Doubled \SystemRoot\ prefixes stacked by ChangeServiceConfig (systeminformer#1371), or a doubled leading
# backslash (KB 4053355 "remove a leading backslash" hypothesis, cryptcatsvc.dll, decompiled).
_SYSTEMROOT_PREFIXES = re.compile(r"^(?:\\+systemroot(?=\\))+\\", re.IGNORECASE)
_SYSTEMROOT_VARIABLE = re.compile(r"^%(?:systemroot|windir)%\\", re.IGNORECASE)


class ImagePathError(ValueError):
    """A bad argument to :func:`diagnose` or the planner: the message names the argument."""


# ---------------------------------------------------------------------------------------------------
# The result
# ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Diagnosis:
    """What the System Writer makes of one binary path, what is wrong with it, and the safe fix if any."""

    defects: tuple[str, ...] = ()
    writer_path: str | None = None
    fixed_value: str | None = None
    notes: tuple[str, ...] = ()
    executable: str | None = None
    arguments: str = ""
    exclusion_path: str | None = None
    service_type: str = WIN32
    reasons: tuple[tuple[str, str], ...] = ()

    def reason(self, code: str) -> str:
        return "; ".join(text for c, text in self.reasons if c == code)

    def as_dict(self) -> dict:
        return {
            "defects": list(self.defects),
            "writer_path": self.writer_path,
            "fixed_value": self.fixed_value,
            "notes": list(self.notes),
            "executable": self.executable,
            "arguments": self.arguments,
            "exclusion_path": self.exclusion_path,
            "service_type": self.service_type,
            "reasons": {code: self.reason(code) for code in self.defects},
        }


@dataclass(slots=True)
class _Verdict:
    """Working state of one judgement (no fix yet)."""

    defects: list[str] = field(default_factory=list)
    reasons: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    writer_path: str | None = None
    exclusion_path: str | None = None
    executable: str | None = None
    arguments: str = ""
    judged: bool = True  # False when an unknown %VAR% hides what the path really is

    def defect(self, code: str, reason: str) -> None:
        if code not in self.defects:
            self.defects.append(code)
        self.reasons.append((code, reason))

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)


# ---------------------------------------------------------------------------------------------------
# Environment expansion (what ExpandEnvironmentStringsW does with the host's system variables)
# ---------------------------------------------------------------------------------------------------

def writer_environment(system_root: str = "C:\\Windows") -> dict[str, str]:
    """System variables seen by CryptSvc, keyed by lower-case name, derived from the host's SystemRoot."""
    root = system_root.rstrip("\\") if isinstance(system_root, str) else ""
    env = {"systemroot": root, "windir": root} if root else {}
    if re.match(r"^[A-Za-z]:(\\|$)", root):
        drive = root[:2]
        # Inferred: Windows' default locations on the system drive; a host that relocated them is not modelled.
        env.update({
            "systemdrive": drive,
            "programfiles": f"{drive}\\Program Files",
            "programw6432": f"{drive}\\Program Files",
            "programfiles(x86)": f"{drive}\\Program Files (x86)",
            "commonprogramfiles": f"{drive}\\Program Files\\Common Files",
            "commonprogramw6432": f"{drive}\\Program Files\\Common Files",
            "commonprogramfiles(x86)": f"{drive}\\Program Files (x86)\\Common Files",
            "programdata": f"{drive}\\ProgramData",
            "allusersprofile": f"{drive}\\ProgramData",
            "public": f"{drive}\\Users\\Public",
        })
    return env


@functools.lru_cache(maxsize=64)
def _environment(system_root: str) -> dict[str, str]:
    """:func:`writer_environment`, built once per SystemRoot for :func:`diagnose` (shared: never changed)."""
    return writer_environment(system_root)


def _has_whitespace(text: str) -> bool:
    return " " in text or "\t" in text  # any of _WHITESPACE


def _looks_like_variable(name: str) -> bool:
    return bool(name) and not any(c in name for c in '\\/:"\x00')


def _percent_pairs(text: str) -> Iterator[tuple[int, int]]:
    """(start, close) of each ``%NAME%`` pair, left to right, scanning on after each closing ``%`` (Wine's
    RtlExpandEnvironmentStrings_U); a lone ``%`` at the end pairs with nothing."""
    index = 0
    while True:
        start = text.find("%", index)
        close = text.find("%", start + 1) if start >= 0 else -1
        if close < 0:
            return
        yield start, close
        index = close + 1


def expand_environment(text: str, env: dict[str, str]) -> tuple[str, list[str]]:
    """Expand ``%NAME%`` (case-insensitive); return the result and the names left unexpanded.

    ExpandEnvironmentStringsW semantics (as reimplemented by Wine's RtlExpandEnvironmentStrings_U): an
    unknown ``%NAME%`` is copied as is and scanning resumes after its closing ``%``; a lone ``%`` is literal.
    """
    if "%" not in text:
        return text, []
    # The pairs of _percent_pairs, from one split: parts[1], parts[3], ... are names when a '%' closes them.
    parts = text.split("%")
    signs = len(parts) - 1
    if signs == 2:  # one pair, the usual %SystemRoot%\...: the same as the loop below
        value = env.get(parts[1].lower())
        if value is not None:
            return parts[0] + value + parts[2], []
    out: list[str] = [parts[0]]
    unknown: list[str] = []
    for index in range(1, signs, 2):
        name = parts[index]
        value = env.get(name.lower())
        if value is None:
            out.append("%" + name + "%")
            if _looks_like_variable(name):
                unknown.append(name)
        else:
            out.append(value)
        out.append(parts[index + 1])
    if signs % 2:
        out.append("%" + parts[signs])  # a lone '%' at the end is literal
    return "".join(out), unknown


# ---------------------------------------------------------------------------------------------------
# Parsing and the writer's own rewrite (cryptcatsvc.dll, decompiled)
# ---------------------------------------------------------------------------------------------------

def _lower(text: str) -> str:
    """CharLowerW / _wcslwr: one character for one character (str.lower() may lengthen non-ASCII text)."""
    if text.isascii():
        return text.lower()
    return "".join(low if len(low := c.lower()) == 1 else c for c in text)


def split_command_line(value: str, service_type: str) -> tuple[str, str, bool]:
    """(executable, arguments, quoted) of a binary path; arguments keep their leading separator.

    Drivers take no arguments and are never quoted (mullvad/windows-service-rs#59): the whole value is the
    path. A Win32 command line is either ``"exe" args`` or, unquoted, the text up to the first ``.exe``
    (where the System Writer cuts, cryptcatsvc.dll, decompiled) followed by the arguments; without ``.exe`` the first
    whitespace-separated token (CreateProcess's first candidate, CreateProcess doc).
    """
    if service_type == DRIVER:
        return value, "", value.startswith('"')
    if value.startswith('"'):
        close = value.find('"', 1)
        if close < 0:
            return value[1:], "", True
        return value[1:close], value[close + 1:], True
    found = _lower(value).find(".exe")
    if found >= 0:
        return value[:found + 4], value[found + 4:], False
    for index, char in enumerate(value):
        if char in _WHITESPACE:
            return value[:index], value[index:], False
    return value, "", False


def writer_path_of(value: str, service_type: str, service_name: str | None = None) -> tuple[str, str] | None:
    """The path the System Writer builds from ``value`` before expansion, as (writer's text, same in the value's case).

    None when the writer skips the service (Win32 without ``.exe``) or cannot name it (empty driver path
    and no service name).
    """
    if service_type == DRIVER:
        # cryptcatsvc.dll AddLegacyDriverFiles/FindBinaryForService (decompiled): empty -> default path from the service name.
        if value == "":
            if not service_name:
                return None
            path = f"%SystemRoot%\\System32\\Drivers\\{service_name}.SYS"
            return path, path
        if value.startswith("\\"):
            low = _lower(value)
            # cryptcatsvc.dll, decompiled: "\??\X" -> "x" (lowercased, prefix stripped)
            if low.startswith("\\??\\"):
                return low[4:], value[4:]
            # cryptcatsvc.dll, decompiled: "\systemroot\X" (12 chars, case-insensitive after CharLowerW) -> "%SystemRoot%\x"
            if low.startswith("\\systemroot\\"):
                return "%SystemRoot%\\" + low[12:], "%SystemRoot%\\" + value[12:]
            # cryptcatsvc.dll, decompiled: any other leading "\" (\\server\..., \\systemroot\...) is used raw, lowercased
            return low, value
        # cryptcatsvc.dll, decompiled: no leading "\" -> "%SystemRoot%\" + the whole string, not lowercased
        return "%SystemRoot%\\" + value, "%SystemRoot%\\" + value
    # cryptcatsvc.dll AddWin32ServiceFiles (decompiled): _wcslwr, wcsstr(".exe"); not found -> service skipped
    low = _lower(value)
    found = low.find(".exe")
    if found < 0:
        return None
    end = found + 4
    # cryptcatsvc.dll, decompiled: a leading quote is dropped unless the token ends the string; the path is cut right after ".exe"
    start = 1 if value.startswith('"') and end != len(value) else 0
    return low[start:end], value[start:end]


def local_path_problems(path: str) -> list[str]:
    """Why ``path`` (expanded) is not a valid local path for the writer; empty when it is."""
    if _CLEAN_LOCAL_PATH.match(path):
        return []
    if path.startswith("\\\\"):
        # askcore DOUBLE_SLASH "UNC Network paths ... are not supported" (KB 968247); cryptcatsvc.dll (decompiled): raw leading "\"
        return ["is a UNC or doubled-backslash path, not a local one"]
    problems = []
    if not _DRIVE_ROOTED.match(path):
        # askcore INVALID_FORMAT "Only paths beginning with [<Drive>]: format are supported" (KB 968247)
        problems.append("does not begin with a drive letter and '\\'")
    if "/" in path:
        # askcore FOWARD_SLASH "Only paths containing an inverted slash are supported" (KB 968247)
        problems.append("contains a forward slash")
    if "\\\\" in path[2:]:
        # askcore DOUBLE_SLASH; KB 4053355 writer path "C:\windows\\systemroot\system32\drivers"
        problems.append("contains a doubled backslash")
    if ":" in path[2:]:
        # askcore INVALID_CHARS ':'; cryptcatsvc.dll (decompiled): "%SystemRoot%\C:\..." -> 0x8007007B
        problems.append("contains ':' after the drive")
    bad = sorted({c for c in path if c in _INVALID_CHARS}) if _ANY_INVALID_CHAR.search(path) else ()
    if bad:
        # askcore INVALID_CHARS '< > " | ?' (KB 968247); '*' and control characters are invalid in names
        problems.append("contains " + ", ".join(shown(c) for c in bad))
    if _DOT_SEGMENT.search(path):
        # askcore RELATIVE_PATH; Trend Micro TMBMServer "..\BM" broke system state (mikefrobbins, 2009)
        problems.append("contains a '.' or '..' segment")
    return problems


def _normalise_volumes(volumes: Iterable[str] | None) -> set[str] | None:
    if volumes is None:
        return None
    if isinstance(volumes, (str, bytes)) or not hasattr(volumes, "__iter__"):
        raise ImagePathError("volumes: expected a list of drive letters such as ['C:', 'D:'], "
                             f"got {type(volumes).__name__}")
    letters = set()
    for item in volumes:
        if not isinstance(item, str) or not _DRIVE_LETTER.match(item.strip()):
            raise ImagePathError(f"volumes: {shown(item)} is not a drive letter (expected 'C:', 'C' or 'C:\\')")
        letters.add(item.strip()[0].upper() + ":")
    return letters


@functools.lru_cache(maxsize=64)
def _volume_set(volumes: tuple) -> frozenset[str]:
    return frozenset(_normalise_volumes(volumes))


def _volumes_of(volumes: Iterable[str] | None) -> frozenset[str] | set[str] | None:
    """:func:`_normalise_volumes`, remembered for a list of drive letters (a host's, for each of its services)."""
    if isinstance(volumes, (list, tuple, set, frozenset)):
        try:
            return _volume_set(tuple(volumes))
        except TypeError:  # an unhashable entry: refused below, naming it
            pass
    return _normalise_volumes(volumes)


# ---------------------------------------------------------------------------------------------------
# Judging
# ---------------------------------------------------------------------------------------------------

@dataclass(slots=True)
class _Context:
    service_type: str
    kind: str | None
    service_name: str | None
    env: dict
    volumes: set | None
    exists: Callable[[str], bool | None] | None


def _judge(value: str, ctx: _Context) -> _Verdict:
    verdict = _Verdict()
    head, nul, tail = value.partition("\x00")
    if nul:
        if tail.strip("\x00"):
            # systeminformer#111 (KProcessHacker3): the SCM and the writer read the C string up to the NUL
            verdict.defect("embedded_nul", f"{len(tail)} character(s) stored after an embedded NUL")
        else:
            verdict.note("trailing NUL characters only (terminators): nothing follows them, ignored")
        value = head
    if ctx.service_type == DRIVER:
        _judge_driver(value, ctx, verdict)
    else:
        _judge_win32(value, ctx, verdict)
    return verdict


def _expand_writer_path(derived: tuple[str, str], ctx: _Context, verdict: _Verdict) -> tuple[str, str] | None:
    writer, display = derived
    expanded_display, unknown = expand_environment(display, ctx.env)
    expanded = expanded_display if writer == display else expand_environment(writer, ctx.env)[0]
    verdict.writer_path = expanded
    if unknown:
        verdict.judged = False
        names = ", ".join(f"%{n}%" for n in dict.fromkeys(unknown))
        verdict.note(f"unknown variable {names}: the writer path cannot be judged on this host")
        return None
    if len(expanded) >= MAX_PATH:
        # cryptcatsvc.dll, decompiled: ExpandEnvironmentStringsW(..., MAX_PATH) fails -> non-fatal CAPI2 513, binary not protected
        verdict.note(f"the writer path is {len(expanded)} characters (MAX_PATH is {MAX_PATH}): the writer "
                     "logs CAPI2 513 and skips it")
    return expanded, expanded_display


def _judge_driver(value: str, ctx: _Context, verdict: _Verdict) -> None:
    verdict.executable, verdict.arguments = value, ""
    if value.startswith('"'):
        # mullvad/windows-service-rs#57: a quoted driver path is invalid; cryptcatsvc.dll (decompiled): gives %SystemRoot%\"C:\...
        verdict.defect("quoted_driver", "a driver path in quotes: the writer reads %SystemRoot%\\\"...")
    derived = writer_path_of(value, DRIVER, ctx.service_name)
    if derived is None:
        verdict.note("empty driver ImagePath and no service name: the writer uses "
                     "%SystemRoot%\\System32\\Drivers\\<service name>.SYS")
        return
    if value == "":
        verdict.note("empty driver ImagePath: the writer and the kernel use %SystemRoot%\\System32\\Drivers\\"
                     f"{ctx.service_name}.SYS")
    if _SYSTEMROOT_VARIABLE.match(value):
        verdict.note("a driver path beginning with %SystemRoot% gets a second %SystemRoot%\\ from the writer "
                     "(cryptcatsvc.dll, decompiled); the SCM may normalise it (unverified): compare with `sc qc`")
    if value[-1:] in _WHITESPACE:
        verdict.note("trailing whitespace in a driver path is kept by the writer (inferred from cryptcatsvc.dll, unverified)")
    resolved = _expand_writer_path(derived, ctx, verdict)
    if "quoted_driver" in verdict.defects:
        return
    prefixes = _SYSTEMROOT_PREFIXES.match(_lower(value))
    if prefixes and prefixes.group(0) != "\\systemroot\\":
        # systeminformer#1371 (doubled \Systemroot\Systemroot\) and KB 4053355 ("leading backslash")
        verdict.defect("invalid_syntax", "a doubled \\SystemRoot\\ prefix or a doubled leading backslash")
    if resolved is None:
        return
    problems = local_path_problems(resolved[0])
    if problems:
        verdict.defect("invalid_syntax", "writer path " + "; ".join(problems))
    if "invalid_syntax" not in verdict.defects:
        _judge_volume_and_file(resolved, ctx, verdict)


def _judge_win32(value: str, ctx: _Context, verdict: _Verdict) -> None:
    executable, arguments, quoted = split_command_line(value, WIN32)
    verdict.executable, verdict.arguments = executable, arguments
    derived = writer_path_of(value, WIN32)
    if derived is None:
        # cryptcatsvc.dll AddWin32ServiceFiles (decompiled): no ".exe" -> the service is skipped (Intel ibtsiva, AutoRuns#53)
        verdict.note("no .exe: the writer skips this service (its binary is not protected by system state)")
        return
    if ctx.kind == "REG_SZ" and "%" in executable:
        verdict.note("REG_SZ with %VAR%: the SCM is believed not to expand it (inferred, unverified); "
                     "the fix keeps the kind")
    resolved = _expand_writer_path(derived, ctx, verdict)
    if resolved is not None:
        problems = local_path_problems(resolved[0])
        if problems:
            verdict.defect("invalid_syntax", "writer path " + "; ".join(problems))
    if not quoted:
        # CreateProcess doc / CWE-428: an unquoted executable path with spaces is resolved prefix by prefix
        inner = executable.strip(" \t")  # whitespace around the command line is not inside the path
        expanded_inner = expand_environment(inner, ctx.env)[0]
        if _has_whitespace(inner) or _has_whitespace(expanded_inner):
            verdict.defect("unquoted_spaces", f"unquoted executable path with spaces: {shown(executable)}")
    if resolved is not None and "invalid_syntax" not in verdict.defects:
        _judge_volume_and_file(resolved, ctx, verdict)


def _judge_volume_and_file(resolved: tuple[str, str], ctx: _Context, verdict: _Verdict) -> None:
    writer, display = resolved
    drive = writer[:2].upper()
    if ctx.volumes is not None:
        if drive not in ctx.volumes:
            # KB 980794: a binary on a volume absent here (passive cluster node) -> "The parameter is incorrect."
            verdict.defect("missing_volume", f"drive {drive} is not a local volume of this host")
            verdict.exclusion_path = display
            return
    elif drive != ctx.env.get("systemdrive", "").upper():
        verdict.note(f"binary on drive {drive}, not the system drive: local volumes unknown, no missing_volume verdict")
    if ctx.exists is not None and ctx.exists(display) is False:
        # CAPI2 513 "AddLegacyDriverFiles: Unable to back up image of binary ... cannot find the file" (a forum copy of that event)
        verdict.defect("missing_file", f"{display} does not exist")
        verdict.exclusion_path = display


# ---------------------------------------------------------------------------------------------------
# Repairing
# ---------------------------------------------------------------------------------------------------

def _split_root(path: str, relative_ok: bool) -> tuple[str, str] | None:
    """(root, rest) of a path whose root must never change: ``\\??\\X:\\``, ``\\SystemRoot\\``, ``X:\\``,
    ``%VAR%\\``, or "" for a driver path relative to %SystemRoot%; None for anything else (UNC, NT, ...)."""
    low = _lower(path)
    if low.startswith("\\??\\") and _DRIVE_ROOTED.match(path[4:]):
        return path[:7], path[7:]
    if low.startswith("\\systemroot\\"):
        return path[:12], path[12:]
    if _DRIVE_ROOTED.match(path):
        return path[:3], path[3:]
    variable = re.match(r"^%[^%\\]+%\\", path)
    if variable:
        return variable.group(0), path[variable.end():]
    if not relative_ok or path.startswith("\\") or ":" in path:
        return None
    return "", path


def normalise_below_root(path: str, relative_ok: bool = False) -> str | None:
    """Collapse doubled backslashes and resolve '.'/'..' segments lexically below the path's root.

    None when the path has no recognised root or a '..' would climb above it (then nothing is proposed).
    """
    parts = _split_root(path, relative_ok)
    if parts is None:
        return None
    root, rest = parts
    if any(c in rest for c in '"%:'):
        return None  # quotes, variables or colons below the root: not a plain path, nothing is guessed
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
    if rest.endswith("\\") or not kept:
        return None  # a directory, not a file: nothing to propose
    return root + "\\".join(kept)


def _repair_driver(value: str, defects: list[str]) -> tuple[str, set[str]]:
    steps: set[str] = set()
    text = value
    if "quoted_driver" in defects and len(text) >= 2 and text[0] == '"' and text[-1] == '"' and '"' not in text[1:-1]:
        # mullvad/windows-service-rs#59: "the path must not be quoted even if it contains spaces"
        text, steps = text[1:-1], steps | {"unquote"}
    elif "quoted_driver" in defects:
        return value, steps  # a quote that is not one pair around the whole path: not parsed with confidence
    if "quoted_driver" not in defects and "invalid_syntax" not in defects:
        return text, steps
    if "/" in text:
        if "%" in text:
            return value, set()  # a slash near a %VAR% may be part of its name: not parsed with confidence
        # askcore FOWARD_SLASH (KB 968247): the same path with inverted slashes
        text, steps = text.replace("/", "\\"), steps | {"slashes"}
    if _SYSTEMROOT_VARIABLE.match(text):
        # dokany#104: CreateService itself stores %SystemRoot%\ as \SystemRoot\ for drivers (valid for both readers)
        text, steps = "\\SystemRoot\\" + text[text.index("\\") + 1:], steps | {"systemroot"}
    prefix = _SYSTEMROOT_PREFIXES.match(text)
    if prefix and prefix.group(0).lower() != "\\systemroot\\":
        # systeminformer#1371 (\Systemroot\Systemroot\) and KB 4053355 (\\SystemRoot\, "remove a leading backslash")
        text, steps = "\\SystemRoot\\" + text[prefix.end():], steps | {"systemroot"}
    if _DRIVE_ROOTED.match(text) and _lower(text).endswith(".sys"):
        # inferred from cryptcatsvc.dll, unverified: C:\... without \??\ becomes %SystemRoot%\C:\...; CreateService stores \??\C:\ (WinDivert#270)
        text, steps = "\\??\\" + text, steps | {"nt_prefix"}
    if _DOT_SEGMENT.search(text):
        # A driver is loaded from an NT path, which does not resolve '.' or '..' (only the Win32 path conversion
        # does): which file was meant cannot be told with confidence, so the value is reported, not rewritten.
        return value, set()
    if "\\\\" in text[1:]:
        cleaned = normalise_below_root(text, relative_ok=True)
        if cleaned is not None and cleaned != text:
            # askcore DOUBLE_SLASH / RELATIVE_PATH (KB 968247): the same file, lexically normalised
            text, steps = cleaned, steps | {"normalise"}
    if text.endswith("\\") or text.lower() in ("\\systemroot\\", ""):
        return value, set()  # a folder, not a driver file: nothing to propose
    return text, steps


def _repair_win32(value: str, defects: list[str], env: dict) -> tuple[str, set[str]]:
    steps: set[str] = set()
    text = value
    if "invalid_syntax" in defects and text.startswith('"') and text.count('"') == 1 and _lower(text).endswith(".exe"):
        # inferred from cryptcatsvc.dll, unverified: "C:\x\y.exe without a closing quote keeps its quote in the writer path
        text, steps = text + '"', steps | {"close_quote"}
    executable, arguments, quoted = split_command_line(text, WIN32)
    if executable.startswith("\\") or not executable:
        return text, steps  # UNC, NT or empty: never rewritten
    cleaned = executable.replace("/", "\\")  # askcore FOWARD_SLASH (KB 968247)
    odd = cleaned != executable or "\\\\" in cleaned[1:] or bool(_DOT_SEGMENT.search(cleaned))
    if "invalid_syntax" in defects and odd:
        # askcore DOUBLE_SLASH / RELATIVE_PATH; Trend Micro "..\BM\TMBMSRV.exe" (mikefrobbins, 2009)
        normalised = normalise_below_root(cleaned)
        if normalised is not None and normalised != executable:
            executable, steps = normalised, steps | {"normalise"}
    if quoted:
        closing = '"' if text.find('"', 1) >= 0 else ""
        return '"' + executable + closing + arguments, steps
    spaced = _has_whitespace(executable) or _has_whitespace(expand_environment(executable, env)[0])
    token_ends = arguments == "" or arguments[0] in _WHITESPACE
    plain = '"' not in executable and executable == executable.strip()
    if "unquoted_spaces" in defects and spaced and token_ends and plain and _lower(executable).endswith(".exe"):
        # CreateService doc: "If the path contains a space, it must be quoted"; arguments kept byte for byte
        return '"' + executable + '"' + arguments, steps | {"quote"}
    return executable + arguments, steps


# Repairs that are safe even when an unknown %VAR% hides the real path.
_SAFE_UNJUDGED = {"truncate", "quote", "close_quote"}


def _propose_fix(value: str, verdict: _Verdict, ctx: _Context) -> str | None:
    if not set(verdict.defects).intersection(FIXABLE_CODES):
        return None
    text = value
    if "embedded_nul" in verdict.defects:
        # systeminformer#111: truncate at the NUL; what the SCM and the writer see is unchanged
        text = value.partition("\x00")[0]
    if ctx.service_type == DRIVER:
        repaired, more = _repair_driver(text, verdict.defects)
    else:
        repaired, more = _repair_win32(text, verdict.defects, ctx.env)
    if more and _same_variables(text, repaired, ctx.env):
        after = _judge(repaired, ctx)
        clean = not set(after.defects).intersection(FIXABLE_CODES)
        if clean and (after.judged or more <= _SAFE_UNJUDGED):
            text = repaired
    return text if text != value else None


def _same_variables(before: str, after: str, env: dict[str, str]) -> bool:
    """A repair never changes which %VAR% a value reads. When every name, paired left to right, is one the writer's
    environment defines, the pairing is the same whichever way ExpandEnvironmentStrings goes on after an undefined
    name: the names read, in order, must be the same. Otherwise everything from the first percent sign to the last
    must stay as it was. The one rewrite allowed is a driver's leading %SystemRoot%\\ (or %windir%\\) becoming
    \\SystemRoot\\ (dokany#104): then the rest of the value is held to the same rule.
    """
    if "%" not in before and "%" not in after:
        return True  # no variable on either side (the rule below finds no name and no span in both)
    if before.startswith('"') and not after.startswith('"'):
        before = before[1:]  # a quoted driver path unquoted (mullvad/windows-service-rs#59)
    prefix = _SYSTEMROOT_VARIABLE.match(before)
    if prefix and not after.startswith("%") and _lower(after).startswith("\\systemroot\\"):
        before, after = before[prefix.end():], after[len("\\SystemRoot\\"):]
    old, new = _defined_names(before, env), _defined_names(after, env)
    if old is not None and new is not None:
        return old == new
    return _percent_span(before) == _percent_span(after)


def _defined_names(text: str, env: dict[str, str]) -> list[str] | None:
    """The names ``%NAME%`` pairs read, left to right; None when one is not defined (then the pairing of the signs
    after it depends on how Windows goes on)."""
    names = [text[start + 1:close].lower() for start, close in _percent_pairs(text)]
    return None if any(name not in env for name in names) else names


def _percent_span(text: str) -> str:
    first, last = text.find("%"), text.rfind("%")
    return "" if first < 0 else text[first:last + 1]


# ---------------------------------------------------------------------------------------------------
# The entry point
# ---------------------------------------------------------------------------------------------------

def infer_service_type(value: str) -> str:
    """A path ending in ``.sys`` (outside quotes) is a driver; anything else a Win32 service."""
    head = value.partition("\x00")[0].strip().strip('"')
    return DRIVER if _lower(head).endswith(".sys") else WIN32


def diagnose(value: str, kind: str | None = None, service_type: str | None = None,
             volumes: Iterable[str] | None = None, service_name: str | None = None,
             system_root: str = "C:\\Windows", exists: Callable[[str], bool | None] | None = None) -> Diagnosis:
    """Diagnose one ImagePath ``value`` as the System Writer would read it on a host.

    ``kind``: REG_SZ, REG_EXPAND_SZ or None (unknown). ``service_type``: ``driver``, ``win32`` or None
    (inferred: ``.sys`` is a driver). ``volumes``: the host's local drive letters, None when unknown (then
    no ``missing_volume`` verdict). ``exists(path)``: True/False/None (unknown) for an expanded writer
    path; None means no ``missing_file`` verdict. Raises :class:`ImagePathError` for bad arguments only.
    """
    if not isinstance(value, str):
        raise ImagePathError(f"value: expected a string (the ImagePath data), got {type(value).__name__}")
    if kind is not None and kind not in STRING_KINDS:
        raise ImagePathError(f"kind: expected REG_SZ, REG_EXPAND_SZ or null, got {shown(kind)}")
    if service_type is not None and service_type not in SERVICE_TYPES:
        raise ImagePathError(f"service_type: expected 'driver', 'win32' or null, got {shown(service_type)}")
    if service_name is not None and not isinstance(service_name, str):
        raise ImagePathError(f"service_name: expected a string or null, got {type(service_name).__name__}")
    if not isinstance(system_root, str):
        raise ImagePathError(f"system_root: expected a string such as 'C:\\Windows', got {type(system_root).__name__}")
    notes = []
    if service_type is None:
        service_type = infer_service_type(value)
        notes.append(f"service type not given: inferred {service_type} (a path ending in .sys is a driver)")
    ctx = _Context(service_type, kind, service_name, _environment(system_root), _volumes_of(volumes), exists)
    verdict = _judge(value, ctx)
    fixed = _propose_fix(value, verdict, ctx)
    # Diagnosis(**fields) without the frozen dataclass's one object.__setattr__ per field (it has no __post_init__):
    # the same object, built in a third of the time (diagnose runs once per service, several times per assessment).
    diagnosis = object.__new__(Diagnosis)
    diagnosis.__dict__.update(
        defects=tuple(verdict.defects),
        writer_path=verdict.writer_path,
        fixed_value=fixed,
        notes=tuple(notes + verdict.notes),
        executable=verdict.executable,
        arguments=verdict.arguments,
        exclusion_path=verdict.exclusion_path,
        service_type=service_type,
        reasons=tuple(verdict.reasons),
    )
    return diagnosis


# ---------------------------------------------------------------------------------------------------
# The check over a host state document
# ---------------------------------------------------------------------------------------------------

def printable(value: str) -> str:
    """The value with NULs and other invisible characters named, ``<NUL>`` (for evidence: see ``_display``)."""
    return visible(value)


def _printable_or_none(value: str | None) -> str | None:
    return None if value is None else printable(value)


def _exclusion_fix(code: str, path: str | None) -> str:
    """The fix of a binary that cannot be backed up: exclude it (opt-in, naming the switches) or repair the service."""
    remedy = REMEDIES[code]
    switches = ", ".join(remedy.settings()[:-1]) + " and " + remedy.settings()[-1]
    exclude = (f"exclude {shown(path)} from System State (ExcludedBinaryPaths, KB 980794) with "
               f"backupready.windows.remediate, opt-in: set {switches}")
    if code == "missing_file":
        return f"repair or remove the service (its owner's call), or {exclude}"
    return f"{exclude}; or repair the service"


def _service_type_of(service: dict) -> str | None:
    if is_driver(service):
        return DRIVER
    if is_win32(service):
        return WIN32
    return None  # neither SERVICE_DRIVER (0xB) nor SERVICE_WIN32 (0x30): not enumerated by the writer (cryptcatsvc.dll, decompiled)


def _paths_lookup(state: dict) -> Callable[[str], bool | None]:
    known = {path.lower(): exists for path, exists in (state.get("paths") or {}).items()}
    return lambda path: known.get(path.lower())


def diagnose_service(service: dict, state: dict, with_existence: bool = True,
                     lookup: Callable[[str], bool | None] | None = None) -> Diagnosis | None:
    """Diagnose one service of a state document; None when its ImagePath is not a string value.

    ``lookup``: the state's :func:`_paths_lookup`, built once by a caller that diagnoses every service (building it
    is linear in the ``paths`` map: once per service would make a host's diagnosis quadratic).
    """
    service_type = _service_type_of(service)
    image_path = service["image_path"]
    if service_type is None:
        return None
    if image_path["kind"] in STRING_KINDS:
        value, kind = image_path["data"], image_path["kind"]
    elif image_path["kind"] == "missing" and service_type == DRIVER:
        value, kind = "", None  # QueryServiceConfigW returns an empty path: the writer's default (cryptcatsvc.dll, decompiled)
    else:
        return None
    return diagnose(value, kind=kind, service_type=service_type, volumes=local_drive_letters(state),
                    service_name=service["name"], system_root=state["host"]["system_root"],
                    exists=(lookup or _paths_lookup(state)) if with_existence else None)


_MESSAGES = {
    "invalid_syntax": "the System Writer derives {writer}, not a valid local path ({reason})",
    "quoted_driver": "driver path in quotes: the System Writer derives {writer}",
    "embedded_nul": "ImagePath holds data after an embedded NUL ({reason})",
    "missing_volume": "binary {exclusion} is on a volume not present on this host ({reason})",
    "missing_file": "binary {exclusion} does not exist",
    "unquoted_spaces": "unquoted Win32 command line whose executable path has spaces (CWE-428): {executable}",
}


def excluded_binary_paths(state: dict) -> set[str]:
    """The lower-cased entries of the SystemWriter ExcludedBinaryPaths value (REG_MULTI_SZ only)."""
    value = state["system_writer"]["excluded_binary_paths"]
    return {entry.lower() for entry in value["data"]} if value["kind"] == "REG_MULTI_SZ" else set()


def imagepath_findings(state: dict) -> Iterator[Finding]:
    """invalid_syntax, quoted_driver, embedded_nul, missing_volume, missing_file, unquoted_spaces per service."""
    excluded = excluded_binary_paths(state)
    lookup = _paths_lookup(state)
    for service in state["services"]:
        diagnosis = diagnose_service(service, state, lookup=lookup)
        if diagnosis is None or not diagnosis.defects:
            continue
        image_path = service["image_path"]
        evidence = {
            "image_path": printable(image_path["data"] or ""),
            "kind": image_path["kind"],
            "service_type": diagnosis.service_type,
            "writer_path": _printable_or_none(diagnosis.writer_path),
            "fixed_value": _printable_or_none(diagnosis.fixed_value),
            "notes": list(diagnosis.notes),
        }
        if service.get("scm_path") is not None:
            evidence["scm_path"] = printable(service["scm_path"])
        for code in diagnosis.defects:
            fixable = code in FIXABLE_CODES and diagnosis.fixed_value is not None
            code_evidence = dict(evidence)
            fix = None
            if code in REPORTED_CODES:
                # The path as it is, not made printable: win_systemwriter_exclusions writes it into ExcludedBinaryPaths
                # (the report and the HTML show it with its invisible characters named).
                code_evidence["exclusion_path"] = diagnosis.exclusion_path
                fix = _exclusion_fix(code, diagnosis.exclusion_path)
            elif fixable:
                fix = f"set ImagePath to {shown(diagnosis.fixed_value)} ({image_path['kind']})"
            else:
                fix = "report only: no fix can be derived with confidence"
            message = _MESSAGES[code].format(writer=shown(diagnosis.writer_path), reason=diagnosis.reason(code),
                                             exclusion=shown(diagnosis.exclusion_path),
                                             executable=shown(diagnosis.executable))
            severity = ""
            if code in REPORTED_CODES and diagnosis.exclusion_path and diagnosis.exclusion_path.lower() in excluded:
                # KB 980794: an excluded binary is left out of System State, so it no longer fails the backup
                # where the value is honoured; honoured beyond 2008 R2 + hotfix is not established,
                # so the finding stays, as a warning rather than an error.
                severity = "warning"
                code_evidence["excluded"] = True
                message += "; it is listed in ExcludedBinaryPaths (honoured on 2008 / 2008 R2 with KB 980794, unverified later)"
                fix = "none needed where ExcludedBinaryPaths is honoured; back the binary up another way"
                fixable = False
            # The subject keeps the name as it is (waivers and baselines match it); the message shows it visibly, so a
            # right-to-left override (U+202E) in a name cannot reverse the rest of the line.
            yield Finding(code, f"service:{service['name']}", f"{visible(service['name'])}: {message}", severity=severity,
                          evidence=code_evidence, fix=fix, fixable=fixable)


def imagepath_wanted_paths(state: dict) -> Iterator[str]:
    """The expanded writer paths of every service whose path is otherwise valid (the probe's second call)."""
    for service in state["services"]:
        diagnosis = diagnose_service(service, state, with_existence=False)
        if diagnosis is None or diagnosis.writer_path is None:
            continue
        if {"invalid_syntax", "quoted_driver", "missing_volume"}.intersection(diagnosis.defects):
            continue
        if any(note.startswith("unknown variable") for note in diagnosis.notes):
            continue
        yield diagnosis.writer_path


register(Check("imagepath", IMAGEPATH_CODES, imagepath_findings, wanted_paths=imagepath_wanted_paths))


# ---------------------------------------------------------------------------------------------------
# The planner
# ---------------------------------------------------------------------------------------------------

def _check_patterns(argument: str, patterns: list[str] | None) -> None:
    if patterns is None:
        return
    if not isinstance(patterns, (list, tuple)) or not all(isinstance(p, str) for p in patterns):
        raise ImagePathError(f"{argument}: expected a list of service name patterns such as ['Mp*'], got {shown(patterns)}")


def plan_imagepath_fixes(state: dict, codes: Iterable[str] | None = None, include: list[str] | None = None,
                         exclude: list[str] | None = None) -> tuple[list[dict], list[dict]]:
    """(registry_value operations, one row per service with a defect) for the safe ImagePath fixes.

    ``codes``: the defects to repair (default: all of FIXABLE_CODES). A value is rewritten only when every
    repairable defect it has is selected. ``include``/``exclude``: shell-style patterns on the service name
    (case-insensitive). A value whose kind is not REG_SZ/REG_EXPAND_SZ is reported, never rewritten.
    """
    selected = set(FIXABLE_CODES if codes is None else codes)
    if isinstance(codes, str) or not selected.issubset(IMAGEPATH_CODES):
        raise ImagePathError(f"codes: expected a list of {', '.join(IMAGEPATH_CODES)}; got {shown(codes)}")
    _check_patterns("include", include)
    _check_patterns("exclude", exclude)
    operations: list[dict] = []
    rows: list[dict] = []
    lookup = _paths_lookup(state)
    for service in state["services"]:
        name = service["name"]
        if include is not None and not matches_any(name, include):
            continue
        if matches_any(name, exclude):
            continue
        image_path = service["image_path"]
        kind = image_path["kind"]
        diagnosis = diagnose_service(service, state, lookup=lookup)
        row = {"service": name, "defects": [], "old": image_path["data"], "new": None, "kind": kind}
        if diagnosis is None:
            if _service_type_of(service) is not None and kind not in STRING_KINDS:
                rows.append(dict(row, reason=f"ImagePath is {kind}, not a string value: reported, never rewritten"))
            continue
        if not diagnosis.defects:
            continue
        row["defects"] = list(diagnosis.defects)
        repairable = set(diagnosis.defects).intersection(FIXABLE_CODES)
        if kind not in STRING_KINDS:
            row["reason"] = f"ImagePath is {kind}: reported, never rewritten"
        elif diagnosis.fixed_value is None:
            row["reason"] = ("no fix can be derived with confidence" if repairable
                             else "nothing to rewrite in the value (see ExcludedBinaryPaths)")
        elif not repairable.issubset(selected):
            row["reason"] = "not selected: " + ", ".join(sorted(repairable - selected))
        else:
            row["new"] = diagnosis.fixed_value
            operations.append({
                "op": "registry_value",
                "key": f"{SERVICES_KEY}\\{name}",
                "name": "ImagePath",
                "expect": copy.deepcopy(image_path),
                # the value kind is kept: REG_EXPAND_SZ stays REG_EXPAND_SZ and %VAR% stays unexpanded
                "set": {"kind": kind, "data": diagnosis.fixed_value},
            })
        rows.append(row)
    return operations, rows
