# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Waivers: a finding the owner of a host has accepted, with a reason and, optionally, an end date.

A waiver file is a YAML (or JSON) list of entries::

    - host: "sql-node*"          # fnmatch pattern on the inventory host name (required)
      code: missing_volume       # a finding code, or an fnmatch pattern matching at least one code (required)
      subject: "service:clus*"   # fnmatch pattern on the finding subject (default "*")
      reason: "passive cluster node; the volume belongs to the active node (KB 980794)"   # required
      expires: 2026-12-31        # optional: the waiver counts up to and including this day

Matching is case-insensitive (host names and Windows service names are). A waived finding is never dropped:
the report shows it as ``waived`` with the reason. An expired waiver stops counting: the finding is open
again and the report says on which day the waiver expired.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from ._findings import CODES, matches_any
from ._display import shown

WAIVER_KEYS = ("host", "code", "subject", "reason", "expires")
REQUIRED_KEYS = ("host", "code", "reason")

OPEN = "open"
WAIVED = "waived"
EXPIRED = "expired"  # a waiver matched but its end date has passed: the finding counts as open

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class WaiverError(ValueError):
    """A waiver file that cannot be trusted; the message names the file, the entry and the field."""


@dataclass(frozen=True)
class Waiver:
    host: str
    code: str
    subject: str
    reason: str
    expires: datetime.date | None = None
    index: int = 0  # position in the file, for messages
    source: str = field(default="", compare=False)  # the file it was read from, or the option that gave it (the report records it)

    def matches(self, host: str, finding: Mapping[str, Any]) -> bool:
        return (matches_any(host, [self.host]) and matches_any(str(finding.get("code", "")), [self.code])
                and matches_any(str(finding.get("subject", "")), [self.subject]))

    def expired_on(self, today: datetime.date) -> bool:
        return self.expires is not None and today > self.expires


def _is_pattern(text: str) -> bool:
    return any(ch in text for ch in "*?[")


def _parse_date(value: Any, where: str) -> datetime.date:
    # YAML reads an unquoted 2026-12-31 as a date already; JSON and quoted YAML give a string.
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value.strip()):
        try:
            return datetime.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise WaiverError(f"{where}: field 'expires': {shown(value)} is not a date in the form YYYY-MM-DD")


def validate_waivers(data: Any, source: str = "waivers") -> list[Waiver]:
    """The waivers of ``data`` (already parsed YAML/JSON), or a WaiverError naming what is wrong.

    Every error names ``source``, the entry index (from 0) and the field, so that the author can fix the file.
    """
    if data is None:
        return []
    if not isinstance(data, list):
        raise WaiverError(f"{source}: expected a list of waivers, got {type(data).__name__}")
    waivers = []
    for index, entry in enumerate(data):
        where = f"{source}: waiver #{index}"
        if not isinstance(entry, Mapping):
            raise WaiverError(f"{where}: expected a mapping with {', '.join(REQUIRED_KEYS)}, got {type(entry).__name__}")
        unknown = sorted(str(k) for k in entry if k not in WAIVER_KEYS)
        if unknown:
            raise WaiverError(f"{where}: unknown key(s) {', '.join(unknown)} (allowed: {', '.join(WAIVER_KEYS)})")
        for key in REQUIRED_KEYS:
            if key not in entry:
                raise WaiverError(f"{where}: field {shown(key)} is required")
        for key in ("host", "code", "subject", "reason"):
            if key in entry and not isinstance(entry[key], str):
                raise WaiverError(f"{where}: field {shown(key)}: expected a string, got {type(entry[key]).__name__}")
        host, code = entry["host"].strip(), entry["code"].strip()
        subject = entry.get("subject", "*").strip()
        reason = entry["reason"].strip()
        for key, value in (("host", host), ("code", code), ("subject", subject)):
            if not value:
                raise WaiverError(f"{where}: field {shown(key)} is empty (use \"*\" to match everything)")
        if not reason:
            raise WaiverError(f"{where}: field 'reason' is empty: say why this finding is accepted")
        known = [c for c in CODES if matches_any(c, [code])]
        if not known:
            what = "matches no known finding code" if _is_pattern(code) else "is not a known finding code"
            raise WaiverError(f"{where}: field 'code': {shown(code)} {what} (known: {', '.join(sorted(CODES))})")
        expires = _parse_date(entry["expires"], where) if entry.get("expires") is not None else None
        waivers.append(Waiver(host=host, code=code, subject=subject, reason=reason, expires=expires, index=index,
                              source=source))
    return waivers


# Quoted parts of PyYAML's messages that are its own words (token names such as '<block mapping start>'), or
# one or two characters (the punctuation it expected or found); any other quoted part may be file content.
_YAML_OWN_WORDS = re.compile(r"'(?:<[a-z ]+>|[^']{1,2})'")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


def _yaml_words(text: str | None) -> str:
    """PyYAML's description of a problem, without anything it quotes from the file."""
    if not text:
        return ""
    return _QUOTED.sub(lambda m: m.group() if _YAML_OWN_WORDS.fullmatch(m.group()) else "'...'", text)


def yaml_error_message(exc: Exception) -> str:
    """Where and what a YAML error is (line, column, kind), never the file's lines.

    PyYAML's own message quotes the offending line: pointed at the wrong file (one holding passwords), that line
    would reach the console and every report.
    """
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    if hasattr(exc, "character") and hasattr(exc, "position"):  # yaml.reader.ReaderError: a code point, or a byte
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        return f"character {exc.position}: U+{code:04X} is not allowed in YAML"
    words = "; ".join(w for w in (_yaml_words(getattr(exc, "context", None)),
                                  _yaml_words(getattr(exc, "problem", None))) if w)
    return where + (words or type(exc).__name__)


def parse_waivers_text(text: str, source: str) -> list[Waiver]:
    """Parse a waiver file's text (YAML, of which JSON is a subset) and validate it."""
    import yaml  # pylint: disable=import-outside-toplevel  # PyYAML comes with ansible-core

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise WaiverError(f"{source}: not valid YAML/JSON ({yaml_error_message(exc)})") from None
    return validate_waivers(data, source)


def read_waivers_file(path: str, option: str) -> list[Waiver]:
    """The waivers of the file at ``path``, given as ``option``; a WaiverError names the option and the file."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        raise WaiverError(f"{option}: cannot read {path}: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise WaiverError(f"{option}: {path} is not UTF-8 text (byte {exc.start} is not UTF-8): "
                          "save the waivers file as UTF-8") from None
    return parse_waivers_text(text, path)


def waiver_for(host: str, finding: Mapping[str, Any], waivers: Iterable[Waiver],
               today: datetime.date) -> tuple[Waiver | None, str]:
    """The waiver that decides ``finding`` and the resulting status (open, waived or expired).

    An unexpired waiver wins over an expired one; among several, the first in the file. When only expired
    waivers match, the one that expired last is reported.
    """
    expired: Waiver | None = None
    for waiver in waivers:
        if not waiver.matches(host, finding):
            continue
        if not waiver.expired_on(today):
            return waiver, WAIVED
        if expired is None or (waiver.expires or datetime.date.min) > (expired.expires or datetime.date.min):
            expired = waiver
    if expired is not None:
        return expired, EXPIRED
    return None, OPEN


def apply_waivers(host: str, findings: Iterable[Mapping[str, Any]], waivers: Iterable[Waiver],
                  today: datetime.date) -> list[tuple[Mapping[str, Any], Waiver | None, str]]:
    """Each finding with the waiver that decides it (or None) and its status; nothing is dropped."""
    waivers = list(waivers)
    return [(finding, *waiver_for(host, finding, waivers, today)) for finding in findings]
