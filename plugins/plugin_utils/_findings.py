# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Findings, the table of checks, and the engine that runs the table over a host state document.

A finding is plain data: code, severity, subject, message, evidence, fix, source. Codes are stable
(reports and waivers use them); each code has one row in ``CODES`` with its default severity and the
source of the rule. Each concern (imagepath, exclusions, vss, acl, ...) contributes ``Check`` rows with
:func:`register`; :func:`assess` runs every registered check.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Mapping

from ._display import quoted

SEVERITIES = ("info", "warning", "error", "critical")


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity)


def finding_key(finding: Mapping[str, Any]) -> tuple[str, str]:
    """A finding of a host is known by its code and subject (subjects name Windows objects: case-insensitive);
    the report, its baseline comparison and waiver sources key findings so."""
    return str(finding.get("code", "")), str(finding.get("subject", "")).lower()


def matches_any(name: str, patterns: Iterable[str] | None) -> bool:
    """Shell-style patterns, case-insensitive (Windows names: services, hosts, subjects)."""
    return any(fnmatch.fnmatchcase(name.lower(), pattern.lower()) for pattern in patterns or ())


def _unclosed_set(pattern: str) -> int | None:
    """Where a ``[`` opens a set that no ``]`` closes (fnmatch then reads it as a plain ``[``), or None."""
    index = 0
    while index < len(pattern):
        if pattern[index] == "[":
            end = index + 1
            end += pattern[end:end + 1] == "!"
            end += pattern[end:end + 1] == "]"  # a ']' first in a set is a member, as in fnmatch
            close = pattern.find("]", end)
            if close < 0:
                return index
            index = close
        index += 1
    return None


def _what(value: Any) -> str:
    if value is None:
        return "null"
    for kind, words in ((bool, "a boolean"), (dict, "a mapping"), (list, "a list"), (float, "a number")):
        if isinstance(value, kind):
            return words
    return type(value).__name__


def check_name_patterns(option: str, given: Any, patterns: list[str]) -> None:
    """Refuse name patterns that cannot be what was meant; ValueError naming the option and the entry.

    ``given`` is the task argument as written (Ansible turns ``{a: 1}`` or ``null`` into the strings
    ``"{'a': 1}"`` and ``"None"``, which match nothing); ``patterns`` the validated list.
    """
    if isinstance(given, (list, tuple)):
        for index, item in enumerate(given):
            if isinstance(item, bool) or not isinstance(item, (str, int)):
                raise ValueError(f"{option}[{index}]: expected a name pattern (a string), got {_what(item)}")
    for index, pattern in enumerate(patterns):
        if not pattern.strip():
            raise ValueError(f"{option}[{index}]: the pattern is empty: it matches no name")
        where = _unclosed_set(pattern)
        if where is not None:
            raise ValueError(f"{option}[{index}]: {quoted(pattern, limit=80)}: the '[' at character {where + 1} opens a set that is "
                             "never closed (write '[[]' to match a '[')")


@dataclass(frozen=True)
class Code:
    code: str
    severity: str
    summary: str
    source: str
    fix: str


# The stable finding codes (README "Finding codes"). One line each: code, default severity, what, source, fix.
CODES: dict[str, Code] = {c.code: c for c in (
    Code("invalid_syntax", "error", "the path the System Writer derives from a service's binary path is not a valid local path",
         "KB 4053355, KB 968247", "rewrite to the canonical form, keeping arguments and value kind"),
    Code("quoted_driver", "error", "a kernel/file-system driver path in quotes",
         "mullvad/windows-service-rs#57", "unquote"),
    Code("embedded_nul", "warning", "data after an embedded NUL in ImagePath",
         "winsiderss/systeminformer#111", "truncate at the NUL"),
    Code("missing_volume", "error", "binary on a drive letter not present on this host (cluster passive node)",
         "KB 980794", "add to ExcludedBinaryPaths (opt-in); never delete a service"),
    Code("missing_file", "warning", "the derived binary does not exist",
         "KB 968247, KB 3209092", "report (exclusion opt-in)"),
    Code("unquoted_spaces", "warning", "unquoted Win32 command line whose executable path has spaces (CWE-428)",
         "CWE-428, CreateProcessW docs (learn.microsoft.com)", "quote the executable, keep arguments and value kind"),
    Code("exclusion_invalid", "warning", "an ExcludedBinaryPaths entry that is not an absolute, unquoted, variable-free file path, or a duplicate",
         "KB 980794", "normalise / drop"),
    Code("cryptsvc_state", "error", "Cryptographic Services (host of the System Writer) not running or not Automatic",
         "KB 2009272", "start it and set it to Automatic"),
    Code("system_writer_missing", "critical", "System Writer absent from vssadmin list writers",
         "KB 2009272", "restart CryptSvc once, re-check, report events"),
    Code("system_writer_failed", "error", "System Writer in a failed state in vssadmin list writers",
         "KB 2952783, KB 2009272", "restart CryptSvc once, re-check, report events"),
    Code("filemaps_acl", "critical", "filemaps or PendingRenames owner/ACL lacks the required grants, or has a deny",
         "KB 2009272", "set owner and ACEs by well-known SID"),
    Code("vss_access_control", "error", "NETWORK SERVICE not allowed in VssAccessControl (VSS event 8213)",
         "KB 2009272", "set the DWORD to 1"),
    Code("service_sd_blocks_writer", "warning", "a driver service's security descriptor denies the writer SERVICE_QUERY_CONFIG",
         "KB 3209092", "insert (A;;CCLCSWLOCRRC;;;SU) before S:, never replace the SD wholesale"),
    Code("state_unreadable", "error", "a part of the host state could not be read, so nothing about it is judged or changed",
         "docs/state-schema.md (this collection's probe, win_backup_state)",
         "report: read it by hand; run again when it can be read"),
)}


@dataclass(frozen=True)
class Finding:
    """One thing found on one host. ``subject`` names what it is about, e.g. ``service:winmad``."""

    code: str
    subject: str
    message: str
    severity: str = ""
    evidence: dict = field(default_factory=dict)
    fix: str | None = None
    fixable: bool = False
    source: str = ""

    def __post_init__(self) -> None:
        if self.code not in CODES:
            raise ValueError(f"unknown finding code {self.code!r}")
        row = CODES[self.code]
        if not self.severity:
            object.__setattr__(self, "severity", row.severity)
        if self.severity not in SEVERITIES:
            raise ValueError(f"unknown severity {self.severity!r}")
        if not self.source:
            object.__setattr__(self, "source", row.source)
        if self.fix is None:
            object.__setattr__(self, "fix", row.fix)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Check:
    """One row of the check table: what it detects, and which paths it needs tested for existence."""

    name: str
    codes: tuple[str, ...]
    detect: Callable[[dict], Iterable[Finding]]
    wanted_paths: Callable[[dict], Iterable[str]] | None = None


_CHECKS: dict[str, Check] = {}


def register(check: Check) -> Check:
    for code in check.codes:
        if code not in CODES:
            raise ValueError(f"check {check.name!r} declares unknown code {code!r}")
    _CHECKS[check.name] = check
    return check


def registered_checks() -> list[Check]:
    _load_all_checks()
    return list(_CHECKS.values())


def _load_all_checks() -> None:
    """Import every concern module so that its checks are registered (idempotent)."""
    from . import _checks  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import


_MEMO: dict[int, dict] | None = None


@contextmanager
def assessment_memo() -> Iterator[None]:
    """Within it, :func:`assess` and :func:`wanted_paths` answer once per state document: a remediation asks the
    same document for the findings of every check, then each concern for its own codes (taken from the first
    answer), without diagnosing every service again. The caller must not change a document it asked about while
    the memo is open (every change in this collection makes a new document: ``merge_paths``, ``apply_to_state``)."""
    global _MEMO  # pylint: disable=global-statement
    outer = _MEMO
    _MEMO = {} if outer is None else outer
    try:
        yield
    finally:
        _MEMO = outer


def _memo_of(state: dict) -> dict | None:
    if _MEMO is None:
        return None
    entry = _MEMO.get(id(state))
    if entry is None or entry["state"] is not state:  # keeps the document alive: its id cannot be reused meanwhile
        entry = _MEMO[id(state)] = {"state": state}
    return entry


def wanted_paths(state: dict) -> list[str]:
    """Every path any check wants tested for existence (deduplicated case-insensitively, order kept)."""
    memo = _memo_of(state)
    if memo is not None and "wanted" in memo:
        return list(memo["wanted"])
    seen: dict[str, str] = {}
    for check in registered_checks():
        if check.wanted_paths is None:
            continue
        for path in check.wanted_paths(state):
            seen.setdefault(path.lower(), path)
    if memo is not None:
        memo["wanted"] = list(seen.values())
    return list(seen.values())


def assess(state: dict, codes: Iterable[str] | None = None) -> list[Finding]:
    """Run every registered check (or those producing ``codes``) and return their findings, sorted."""
    wanted = set(codes) if codes is not None else None
    memo = _memo_of(state)
    if memo is not None and "all" in memo:
        # every check's findings, sorted: those of some codes are a subset, in the same order
        return [f for f in memo["all"] if wanted is None or f.code in wanted]
    findings: list[Finding] = []
    for check in registered_checks():
        if wanted is not None and not wanted.intersection(check.codes):
            continue
        for finding in check.detect(state):
            if wanted is None or finding.code in wanted:
                findings.append(finding)
    findings = _with_service_events(state, findings)
    findings.sort(key=lambda f: (-severity_rank(f.severity), f.code, f.subject.lower()))
    if memo is not None and wanted is None:
        memo["all"] = list(findings)
    return findings


def _with_service_events(state: dict, findings: list[Finding]) -> list[Finding]:
    """Add the CAPI2 513 events that name a service to every finding about that service (evidence ``capi2_513``)."""
    from ._events import service_events  # pylint: disable=import-outside-toplevel

    by_service = service_events(state)
    if not by_service:
        return findings
    result = []
    for finding in findings:
        kind, _sep, name = finding.subject.partition(":")
        events = by_service.get(name.lower()) if kind == "service" else None
        if events and "capi2_513" not in finding.evidence:
            finding = dataclasses.replace(finding, evidence=dict(finding.evidence, capi2_513=events))
        result.append(finding)
    return result
