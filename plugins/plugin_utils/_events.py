# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Events the System Writer story leaves behind: CAPI2 512/513, VSS 8213, Windows Server Backup 517/5.

Input is the state document's ``events`` list (``log``, ``provider``, ``id``, ``time_created``,
``message``, ``properties``). Nothing here raises on odd input: an event that cannot be read is
returned with ``kind="unknown"`` (or skipped when it is not one of ours).

The CAPI2 513 detail string is the writer's own English literal (string literals in
cryptcatsvc.dll, decompiled; logged with ``LogSystemErrorEvent(0x201, msg, err)``), so it is matched in any
language. It is read from ``properties`` first (the event's ``<Data>``, which holds
``Details:\\n<detail>\\n\\nSystem Error:\\n<message>``: forum copy of the Event XML), then
from the rendered ``message``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable

CAPI2_PROVIDERS = ("microsoft-windows-capi2", "capi2")
VSS_PROVIDERS = ("vss",)
BACKUP_PROVIDERS = ("microsoft-windows-backup",)
SYSTEM_WRITER_ID = "{e8132975-6f93-4464-a53e-1050253ae220}"  # KB 2009272: System Writer's writer id

# Detail-line prefixes the writer emits (string literals in cryptcatsvc.dll, decompiled); a detail line starts with one of them.
_DETAIL_START = re.compile(
    r"^\s*(AddCoreCsiFiles\s*:|AddCoreCbsFiles\s*:|AddCorePnPFiles\s*:|AddCoreCLRFiles\s*:|AddLegacyDriverFiles\s*:"
    r"|AddWin32ServiceFiles\s*:|TraverseDir\s*:|OnIdentity\(\)\s*:|SystemShutdown initiated)", re.I)

# Section labels of the rendered message. English: KB 2009272 / KB 3209092.
# French: ASSUMED, unverified ("Détails :" / "Erreur système :", French typography puts a space before ':').
_DETAILS_LABEL = re.compile(r"^\s*(details|détails)\s*:\s*(.*)$", re.I)
_SYSTEM_ERROR_LABEL = re.compile(r"^\s*(system error|erreur système|erreur systeme)\s*:\s*(.*)$", re.I)

# (kind, fatal, pattern) in the order they are tried; cryptcatsvc.dll, decompiled (fatal = returns failure to OnIdentify).
_CLASSES: tuple[tuple[str, bool | None, re.Pattern], ...] = (
    # KB 3209092; cryptcatsvc.dll, decompiled: per driver, non-fatal; %ws = the driver's display name.
    ("legacy_driver", False, re.compile(r"^AddLegacyDriverFiles\s*:\s*Unable to back up image of binary (?P<name>.*?)\.?\s*$", re.I)),
    # cryptcatsvc.dll, decompiled: per Win32 service, non-fatal: "... of service %ws since OpenService|QueryServiceConfig API failed".
    ("win32_service", False, re.compile(r"^AddWin32ServiceFiles\s*:\s*Unable to back up image of service (?P<name>.*?) since\b.*$", re.I)),
    # cryptcatsvc.dll, decompiled: OpenSCManager / EnumServicesStatusEx for the enumeration: fatal.
    ("win32_service_enumeration", True, re.compile(r"^AddWin32ServiceFiles\s*:", re.I)),
    # KB 2009272; cryptcatsvc.dll, decompiled: filemaps enumeration and friends, fatal ("System writer is not found in the backup").
    ("core_csi_files", True, re.compile(r"^AddCoreCsiFiles\s*:", re.I)),
    ("core_cbs_files", True, re.compile(r"^AddCoreCbsFiles\s*:", re.I)),  # cryptcatsvc.dll (decompiled): AddPathToWriterMetadata, fatal
    ("core_pnp_files", True, re.compile(r"^AddCorePnPFiles\s*:", re.I)),  # cryptcatsvc.dll (decompiled): driver store files, fatal
    ("core_clr_files", True, re.compile(r"^AddCoreCLRFiles\s*:", re.I)),  # cryptcatsvc.dll (decompiled): %systemroot%\assembly, fatal
    ("on_identity", True, re.compile(r"^OnIdentity\(\)\s*:", re.I)),  # cryptcatsvc.dll (decompiled): SetRestoreMethod / AddComponent, fatal
    ("shutdown", True, re.compile(r"^SystemShutdown initiated", re.I)),  # cryptcatsvc.dll (decompiled): error 0x281, fatal
    ("traverse_dir", None, re.compile(r"^TraverseDir\s*:", re.I)),  # cryptcatsvc.dll, decompiled: "(not traced)"
)

# Windows Server Backup error codes (KB 968247, KB 2009272, KB 4053355): decimal as printed in event 517, and what they mean.
BACKUP_ERRORS = {
    0x80780102: "System writer is not found in the backup.",  # KB 2009272
    0x8078010D: "Enumeration of the files failed.",  # KB 968247
}


@dataclass(frozen=True)
class WriterEvent:
    """A CAPI2 512/513 event from the System Writer.

    ``display_name`` is the name the writer printed: a driver's display name (AddLegacyDriverFiles
    ``%ws``) or the Win32 service name printed by AddWin32ServiceFiles. ``fatal`` is None when unknown.
    """

    kind: str
    fatal: bool | None
    display_name: str | None
    detail: str | None
    system_error: str | None
    time_created: str | None
    event_id: int = 513


@dataclass(frozen=True)
class VssEvent:
    """VSS 8213: the process hosting a writer lacks access rights (KB 2009272)."""

    event_id: int
    system_writer: bool
    message: str | None
    time_created: str | None


@dataclass(frozen=True)
class BackupEvent:
    """Windows Server Backup 517 (Application) / 5 (Backup channel): a failed backup and its error code."""

    event_id: int
    error_code: int | None
    meaning: str | None
    message: str | None
    time_created: str | None

    @property
    def error_hex(self) -> str | None:
        return None if self.error_code is None else f"0x{self.error_code:08X}"


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _lines(text: str) -> list[str]:
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _provider(event: Any) -> str:
    return _text(event.get("provider")).strip().lower() if isinstance(event, dict) else ""


def _event_id(event: dict) -> int | None:
    value = event.get("id")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def split_details(text: str) -> tuple[str | None, str | None]:
    """(detail line, system error text) of a CAPI2 512/513 text block (a ``<Data>`` value or the message)."""
    lines = _lines(text)
    detail = None
    detail_at = None
    for index, line in enumerate(lines):
        if _DETAIL_START.match(line):
            detail, detail_at = line.strip(), index
            break
    if detail is None:
        for index, line in enumerate(lines):
            match = _DETAILS_LABEL.match(line)
            if match:
                rest = [match.group(2)] + lines[index + 1:]
                found = next(((i, item.strip()) for i, item in enumerate(rest) if item.strip()), None)
                if found and not _SYSTEM_ERROR_LABEL.match(found[1]):
                    detail, detail_at = found[1], index + found[0]
                break
    system_error = None
    start = (detail_at + 1) if detail_at is not None else 0
    for index in range(start, len(lines)):
        match = _SYSTEM_ERROR_LABEL.match(lines[index])
        if match:
            parts = [match.group(2)] + lines[index + 1:]
            joined = " ".join(p.strip() for p in parts if p.strip())
            system_error = joined or None
            break
    return detail, system_error


def classify_detail(detail: str | None) -> tuple[str, bool | None, str | None]:
    """(kind, fatal, name) of a detail string; ``("unknown", None, None)`` when it is not a known one."""
    if not detail:
        return "unknown", None, None
    for kind, fatal, pattern in _CLASSES:
        match = pattern.match(detail.strip())
        if match:
            name = match.groupdict().get("name")
            return kind, fatal, (name.strip() or None) if name else None
    return "unknown", None, None


def parse_writer_event(event: Any) -> WriterEvent | None:
    """A CAPI2 512/513 event as a :class:`WriterEvent`; None when ``event`` is not one."""
    if not isinstance(event, dict) or _provider(event) not in CAPI2_PROVIDERS or _event_id(event) not in (512, 513):
        return None
    detail = system_error = None
    properties = event.get("properties")
    for value in properties if isinstance(properties, list) else []:
        if isinstance(value, str):
            detail, system_error = split_details(value)
            if detail:
                break
    if not detail:
        detail, message_error = split_details(_text(event.get("message")))
        system_error = system_error or message_error
    elif system_error is None:
        system_error = split_details(_text(event.get("message")))[1]
    kind, fatal, name = classify_detail(detail)
    time_created = event.get("time_created") if isinstance(event.get("time_created"), str) else None
    return WriterEvent(kind, fatal, name, detail, system_error, time_created, _event_id(event) or 0)


def writer_events(events: Iterable[Any]) -> list[WriterEvent]:
    """Every CAPI2 512/513 event of a state document's ``events`` list, in order."""
    parsed = (parse_writer_event(event) for event in (events if isinstance(events, list) else []))
    return [event for event in parsed if event is not None]


def core_csi_events(events: Iterable[Any]) -> list[WriterEvent]:
    """The fatal ``AddCoreCsiFiles`` events (filemaps; KB 2009272)."""
    return [event for event in writer_events(events) if event.kind == "core_csi_files"]


def parse_vss_event(event: Any) -> VssEvent | None:
    """VSS 8213 (KB 2009272); ``system_writer`` when the System Writer's id or name appears in it."""
    if not isinstance(event, dict) or _provider(event) not in VSS_PROVIDERS or _event_id(event) != 8213:
        return None
    message = _text(event.get("message"))
    properties = event.get("properties")
    texts = [message] + [p for p in (properties if isinstance(properties, list) else []) if isinstance(p, str)]
    system_writer = any(SYSTEM_WRITER_ID in t.lower() or "system writer" in t.lower() for t in texts)
    time_created = event.get("time_created") if isinstance(event.get("time_created"), str) else None
    return VssEvent(8213, system_writer, message or None, time_created)


def vss_access_events(events: Iterable[Any]) -> list[VssEvent]:
    parsed = (parse_vss_event(event) for event in (events if isinstance(events, list) else []))
    return [event for event in parsed if event is not None]


_QUOTED_CODE = re.compile(r"'(0x[0-9A-Fa-f]{8}|\d{9,10})'")


def _error_code(text: str) -> int | None:
    text = text.strip().strip("'")
    try:
        value = int(text, 16) if text.lower().startswith("0x") else int(text)
    except ValueError:
        return None
    return value if 0x80000000 <= value <= 0xFFFFFFFF else None


def parse_backup_event(event: Any) -> BackupEvent | None:
    """Windows Server Backup 517 / 5: ``Backup started at '%6' failed with following error code '%2'`` (blbevents.dll message, libyal/winevt-kb)."""
    if not isinstance(event, dict) or _provider(event) not in BACKUP_PROVIDERS or _event_id(event) not in (5, 517):
        return None
    code = None
    properties = event.get("properties")
    for value in properties if isinstance(properties, list) else []:
        if isinstance(value, str):
            code = _error_code(value)
            if code is not None:
                break
    message = _text(event.get("message"))
    if code is None:
        match = _QUOTED_CODE.search(message)
        code = _error_code(match.group(1)) if match else None
    time_created = event.get("time_created") if isinstance(event.get("time_created"), str) else None
    return BackupEvent(_event_id(event) or 0, code, BACKUP_ERRORS.get(code) if code else None, message or None,
                       time_created)


def backup_events(events: Iterable[Any]) -> list[BackupEvent]:
    parsed = (parse_backup_event(event) for event in (events if isinstance(events, list) else []))
    return [event for event in parsed if event is not None]


def is_resource_string(display_name: str | None) -> bool:
    """``@%SystemRoot%\\system32\\x.dll,-100``: an indirect display name, never the text the event prints."""
    return bool(display_name) and display_name.lstrip().startswith("@")


def map_display_names(state: dict, names: Iterable[str]) -> dict[str, str]:
    """Display name as printed in an event -> service name (case-insensitive).

    A service whose stored display name is a resource string (``@file,-id``) cannot be matched: the
    state holds the indirect string, the event the resolved text; such names stay unmapped (see
    :func:`unmapped_display_names`). A printed name equal to a service name maps to that service.
    """
    by_display: dict[str, str] = {}
    by_name: dict[str, str] = {}
    for service in state.get("services", []) if isinstance(state, dict) else []:
        display = service.get("display_name")
        if isinstance(display, str) and display.strip() and not is_resource_string(display):
            by_display.setdefault(display.strip().lower(), service["name"])
        by_name.setdefault(service["name"].lower(), service["name"])
    mapped: dict[str, str] = {}
    for name in names:
        key = name.strip().lower()
        service = by_display.get(key) or by_name.get(key)
        if service:
            mapped[name] = service
    return mapped


def unmapped_display_names(state: dict, names: Iterable[str]) -> dict[str, str]:
    """Printed names that map to no service, each with the reason (a resource-string display name, or none)."""
    names = list(names)
    mapped = map_display_names(state, names)
    indirect = [s["name"] for s in state.get("services", []) if is_resource_string(s.get("display_name"))]
    reasons = {}
    for name in names:
        if name in mapped:
            continue
        if indirect:
            reasons[name] = ("no service has this display name; it may be one of the services whose display name "
                             f"is a resource string ({', '.join(indirect[:5])}{', ...' if len(indirect) > 5 else ''})")
        else:
            reasons[name] = "no service has this display name"
    return reasons


def service_events(state: dict) -> dict[str, list[dict]]:
    """Per-service CAPI2 events: ``{service name lower-cased: [{time_created, detail, system_error}]}``.

    ``AddLegacyDriverFiles`` / ``AddWin32ServiceFiles`` name the service by its display name (cryptcatsvc.dll,
    decompiled), so each is mapped to the service key; a display name that maps to no service is left out.
    """
    events = [e for e in writer_events(state.get("events", []))
              if e.kind in ("legacy_driver", "win32_service") and e.display_name]
    mapping = map_display_names(state, {e.display_name for e in events})
    by_service: dict[str, list[dict]] = {}
    for event in events:
        service = mapping.get(event.display_name or "")
        if service:
            by_service.setdefault(service.lower(), []).append(
                {"time_created": event.time_created, "detail": event.detail, "system_error": event.system_error})
    return by_service
