# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cryptographic Services (the host of the VSS System Writer) and the writer itself.

The System Writer "runs as part of the Cryptographic Services (CryptSvc) service" (in-box VSS writers doc);
"System writer is not found in the backup" follows when CryptSvc fails (KB 2009272;
the write-up "System writer is not found in the backup Error (Windows Server Backup)").

Read top to bottom: the CryptSvc check; the ``vssadmin list writers`` parser (English and French labels,
with a fallback on the shape of the lines); what the output says about the System Writer; the
``system_writer_missing`` / ``system_writer_failed`` checks; the plan of the future ``win_cryptsvc`` module
and the writer summary it returns after applying.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable, Iterator

from ._display import shown as displayed
from ._events import core_csi_events
from ._findings import Check, Finding, assess, register
from ._operations import SETTABLE_START_MODES, SERVICE_STATE_ACTIONS
from ._state import find_service
from ._unreadable import section_unreadable

CRYPTSVC = "CryptSvc"
# Startup type Automatic on Server 2016+ ("Security guidelines for disabling system services in Windows Server",
# learn.microsoft.com).
CRYPTSVC_START_MODE = "auto"


def cryptsvc_findings(state: dict) -> Iterator[Finding]:
    """cryptsvc_state: CryptSvc missing, not running, or not Automatic (source: the write-up in this module's docstring)."""
    service = find_service(state, CRYPTSVC)
    if service is None:
        yield Finding("cryptsvc_state", "service:CryptSvc", "Cryptographic Services (CryptSvc) is not installed",
                      severity="critical", evidence={"exists": False}, fixable=False,
                      fix="reinstall or repair Windows: the System Writer lives in CryptSvc")
        return
    problems = []
    if service["state"] != "running":
        problems.append(f"state is {service['state'] or 'unknown'}, not running")
    if service["start_mode"] != CRYPTSVC_START_MODE:
        problems.append(f"start mode is {service['start_mode']}, not auto")
    if problems:
        yield Finding("cryptsvc_state", f"service:{service['name']}",
                      "Cryptographic Services: " + "; ".join(problems),
                      evidence={"state": service["state"], "start_mode": service["start_mode"]},
                      fix="set CryptSvc to Automatic and start it", fixable=True)


register(Check("cryptsvc", ("cryptsvc_state",), cryptsvc_findings))


# ---------------------------------------------------------------------------------------------------
# ``vssadmin list writers``: the parser
# ---------------------------------------------------------------------------------------------------

# In-box VSS writers doc, KB 2009272: the System Writer's id is the same on every host and in every language.
SYSTEM_WRITER_ID = "{e8132975-6f93-4464-a53e-1050253ae220}"
SYSTEM_WRITER_NAME = "System Writer"

# VSS_WRITER_STATE (learn.microsoft.com vss_writer_state): 1 STABLE, 2..5 WAITING_FOR_*,
# 6..15 FAILED_AT_*; vssadmin prints "Failed" for all of 6..15, so the number is what counts.
STATE_STABLE = 1
WAITING_STATES = range(2, 6)
FAILED_STATES = range(6, 16)

# English: real output (KB 2952783); French: ASSUMED localisation, not verified verbatim on a real box.
NO_ERROR_TEXTS = ("no error", "aucune erreur")

# Field labels per language, compared after _label_key(). English: (Nagios sample, KB 2952783,
# KB 2009272). French: ASSUMED wording of a French Windows (not seen verbatim); the shape fallback in
# _field_by_shape() covers a wording or an encoding (a mangled "État") that this table does not know.
FIELD_LABELS = {
    "writer name": "name",
    "writer id": "writer_id",
    "writer instance id": "instance_id",
    "state": "state",
    "last error": "last_error",
    "nom de l'enregistreur": "name",
    "id de l'enregistreur": "writer_id",
    "id de l'instance de l'enregistreur": "instance_id",
    "état": "state",
    "etat": "state",
    "dernière erreur": "last_error",
    "derniere erreur": "last_error",
}

_GUID = re.compile(r"^\{[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\}$")
_STATE = re.compile(r"^\[(\d+)\]\s*(.*)$")
_QUOTED = re.compile(r"^'(.*)'$|^\"(.*)\"$")


@dataclass(frozen=True)
class Writer:
    """One block of ``vssadmin list writers``; a field the output did not show is None."""

    name: str
    writer_id: str | None = None
    instance_id: str | None = None
    state_number: int | None = None
    state_text: str | None = None
    last_error: str | None = None

    @property
    def is_system_writer(self) -> bool:
        """By writer id when a whole GUID was read (any language), else by name (a truncated id line)."""
        if self.writer_id is not None and _GUID.match(self.writer_id):
            return self.writer_id.lower() == SYSTEM_WRITER_ID
        return self.name.casefold() == SYSTEM_WRITER_NAME.casefold()

    @property
    def last_error_is_none(self) -> bool:
        """True when the last error says "no error" (or is not shown, e.g. a truncated block)."""
        return self.last_error is None or self.last_error.strip().rstrip(".").casefold() in NO_ERROR_TEXTS


def _label_key(label: str) -> str:
    text = unicodedata.normalize("NFC", label).replace("\u2019", "'").replace("\u00a0", " ")
    return " ".join(text.split()).casefold()


def _field_by_shape(value: str, block: dict | None) -> str | None:
    """Fallback when the label is unknown: what the value looks like, and where it is in the block."""
    if _QUOTED.match(value):
        return "name"  # only a writer name is printed in quotes (vssadmin's real output, KB 2952783)
    if block is None:
        return None
    if _GUID.match(value):
        if block.get("writer_id") is None:
            return "writer_id"
        return "instance_id" if block.get("instance_id") is None else None
    if _STATE.match(value):
        return "state"
    if block.get("state_text") is not None and block.get("last_error") is None:
        return "last_error"  # the line after the state is the last error
    return None


def _unquote(value: str) -> str:
    """``'System Writer'`` -> ``System Writer``; a name cut by a truncated capture loses its opening quote too."""
    if value[:1] not in ("'", '"'):
        return value
    inner = value[1:]
    return inner[:-1] if inner.endswith(value[0]) else inner


def parse_vssadmin_writers(text: str) -> list[Writer]:
    """Parse ``vssadmin list writers`` output (any indentation, CRLF or LF, English or French labels).

    Lines that are not ``label: value`` (header, "Waiting for responses", blank lines) are skipped; a block
    starts at each writer name; a truncated last block keeps the fields it has.
    """
    if not isinstance(text, str):
        raise TypeError(f"vssadmin output must be text, got {type(text).__name__}")
    writers: list[Writer] = []
    block: dict[str, Any] | None = None
    for raw in text.replace("\ufeff", "").replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        label, colon, value = raw.strip().partition(":")
        if not colon:
            continue
        value = value.strip()
        field_name = FIELD_LABELS.get(_label_key(label)) or _field_by_shape(value, block)
        if field_name == "name":
            if block is not None:
                writers.append(Writer(**block))
            block = {"name": _unquote(value)}
        elif block is None or field_name is None:
            continue
        elif field_name == "state":
            match = _STATE.match(value)
            block["state_number"] = int(match.group(1)) if match else None
            block["state_text"] = match.group(2).strip() if match else value
        else:
            block[field_name] = value
    if block is not None:
        writers.append(Writer(**block))
    return writers


def find_system_writer(writers: Iterable[Writer]) -> Writer | None:
    """The System Writer: by its writer id (language independent), else by name."""
    writers = list(writers)
    for writer in writers:
        if writer.writer_id is not None and writer.writer_id.lower() == SYSTEM_WRITER_ID:
            return writer
    return next((writer for writer in writers if writer.is_system_writer), None)


# ---------------------------------------------------------------------------------------------------
# What the output says about the System Writer
# ---------------------------------------------------------------------------------------------------

# vssadmin run without elevation: "Error: You don't have the correct permissions ..." / E_ACCESSDENIED.
# The French strings are ASSUMED, not verified on a French box.
_ACCESS_DENIED = ("access is denied", "correct permissions", "0x80070005",
                  "accès refusé", "acces refuse", "autorisations appropriées")


def vssadmin_unusable(vssadmin: dict) -> str | None:
    """Why no verdict can be drawn from the captured output (a note for the report), or None when it can."""
    if not vssadmin.get("collected"):
        return "vssadmin list writers was not collected"
    both = f"{vssadmin.get('stderr') or ''}\n{vssadmin.get('stdout') or ''}".casefold()
    if any(marker in both for marker in _ACCESS_DENIED):
        return "vssadmin list writers was denied access (it must run elevated)"
    code = vssadmin.get("exit_code")
    if code is None:
        return "the exit code of vssadmin list writers is unknown"
    if code != 0:
        return f"vssadmin list writers exited with code {code}"
    if not parse_vssadmin_writers(vssadmin.get("stdout") or ""):
        return "vssadmin list writers lists no writer at all: the output is empty or not understood"
    return None


@dataclass(frozen=True)
class WriterReading:
    """The System Writer as ``vssadmin list writers`` shows it.

    ``verdict``: ``stable``, ``missing``, ``failed`` (6..15), ``waiting`` (2..5), ``last_error`` (stable but
    with an error), ``unknown`` (a state this module cannot read), or ``no_verdict`` (``reason`` says why).
    """

    verdict: str
    reason: str
    writer: Writer | None = None
    writers: tuple[Writer, ...] = ()

    @property
    def needs_restart(self) -> bool:
        """KB 2009272: restart CryptSvc when the writer is missing or failed."""
        return self.verdict in ("missing", "failed", "last_error")


def read_system_writer(state: dict) -> WriterReading:
    vssadmin = state["vssadmin"]
    why_not = vssadmin_unusable(vssadmin)
    if why_not:
        return WriterReading("no_verdict", why_not)
    writers = tuple(parse_vssadmin_writers(vssadmin["stdout"]))
    writer = find_system_writer(writers)
    if writer is None:
        # KB 2009272, askcorejp 2012: "writer missing" = no System Writer block at all.
        return WriterReading("missing", "the System Writer is not listed by vssadmin list writers", None, writers)
    number = writer.state_number
    shown = f"[{number}] {writer.state_text}" if number is not None else displayed(writer.state_text)
    if number in FAILED_STATES:
        return WriterReading("failed", f"state {shown}", writer, writers)
    if number in WAITING_STATES:
        return WriterReading("waiting", f"state {shown}", writer, writers)
    if number != STATE_STABLE:
        return WriterReading("unknown", f"state {shown} is not one this collection can read", writer, writers)
    if not writer.last_error_is_none:
        return WriterReading("last_error", f"state {shown} but last error {displayed(writer.last_error)}", writer, writers)
    return WriterReading("stable", f"state {shown}", writer, writers)


def capi2_core_csi_failures(events: Iterable[dict]) -> list[str]:
    """Detail strings of CAPI2 513 ``AddCoreCsiFiles`` events (fatal to OnIdentify: writer missing; KB 2009272).

    Both spellings occur: ``AddCoreCsiFiles: ...`` (KB 2009272) and ``AddCoreCsiFiles : ...`` (the write-up).
    """
    details: list[str] = []
    for event in events:
        if event["id"] != 513 or "capi2" not in event["provider"].casefold():
            continue
        texts = [p for p in event["properties"] if p] + ([event["message"]] if event["message"] else [])
        for text in texts:
            line = next((ln.strip() for ln in text.splitlines() if "addcorecsifiles" in ln.casefold()), None)
            if line:
                if line not in details:
                    details.append(line)
                break
    return details


# ---------------------------------------------------------------------------------------------------
# The checks
# ---------------------------------------------------------------------------------------------------

RESTART_FIX = "restart CryptSvc once, re-check, report events"
SUBJECT = "writer:System Writer"


def system_writer_findings(state: dict) -> Iterator[Finding]:
    """system_writer_missing / system_writer_failed from ``vssadmin list writers``. Sources: KB 2009272, KB 2952783.

    No verdict (nothing yielded) when vssadmin was not collected, failed or was denied access:
    :func:`vssadmin_unusable` gives the note for the report.
    """
    reading = read_system_writer(state)
    if reading.verdict in ("no_verdict", "stable"):
        return
    if reading.verdict == "missing":
        evidence: dict[str, Any] = {"writers": [w.name for w in reading.writers],
                                    "exit_code": state["vssadmin"]["exit_code"]}
        message = f"System Writer is not listed by vssadmin list writers ({len(reading.writers)} other writer(s) listed)"
        core_csi = capi2_core_csi_failures(state["events"])
        if core_csi:
            # KB 2009272: CAPI2 513 AddCoreCsiFiles BeginFileEnumeration() failed = filemaps/PendingRenames ACL.
            evidence["capi2_513"] = core_csi
            message += "; CAPI2 513 AddCoreCsiFiles explains why (KB 2009272: filemaps / PendingRenames permissions)"
        yield Finding("system_writer_missing", SUBJECT, message, evidence=evidence, fix=RESTART_FIX, fixable=True)
        return
    writer = reading.writer
    evidence = {"state_number": writer.state_number, "state_text": writer.state_text,
                "last_error": writer.last_error, "writer_id": writer.writer_id}
    message = f"System Writer: {reading.reason}"
    if reading.verdict == "failed":
        yield Finding("system_writer_failed", SUBJECT, message, severity="error", evidence=evidence,
                      fix=RESTART_FIX, fixable=True)
    elif reading.verdict == "last_error":
        yield Finding("system_writer_failed", SUBJECT, message, severity="warning", evidence=evidence,
                      fix=RESTART_FIX, fixable=True)
    elif reading.verdict == "waiting":
        # Do not restart CryptSvc during a running backup; a waiting writer may be in one.
        yield Finding("system_writer_failed", SUBJECT, message + " (waiting: a backup may be running)",
                      severity="warning", evidence=evidence, fixable=False,
                      fix="wait for the running backup to end; if the writer stays waiting, " + RESTART_FIX)
    else:
        yield Finding("system_writer_failed", SUBJECT, message, severity="warning", evidence=evidence,
                      fixable=False, fix="re-run vssadmin list writers and read the System Writer state by hand")


register(Check("system_writer", ("system_writer_missing", "system_writer_failed"), system_writer_findings))


# ---------------------------------------------------------------------------------------------------
# Plan of the win_cryptsvc module, and what it reports after applying
# ---------------------------------------------------------------------------------------------------

DESIRED_STATES = SERVICE_STATE_ACTIONS  # started | restarted
# Causes a CryptSvc restart cannot fix (KB 2009272: fix the permissions, then restart): while one is known, the
# writer is not restarted for (it would stay missing, and every run would restart it again).
RESTART_BLOCKING_CODES = ("filemaps_acl", "vss_access_control")
CAPI2_ACCESS_DENIED = "capi2_513_access_denied"


RESTART_WITHOUT_EFFECT = "restarted_without_effect"


def restart_blockers(state: dict, last_restart: str | None = None, nothing_changed_since: bool = False) -> list[str]:
    """Why a restart cannot bring the System Writer back: finding codes of ``RESTART_BLOCKING_CODES``, and
    ``capi2_513_access_denied`` when an ``AddCoreCsiFiles`` access-denied event came after this collection's
    last restart of CryptSvc (``last_restart``, ISO 8601): that restart did not help. An older event does not
    block: the permissions may have been fixed since, and one restart is what KB 2009272 asks for.
    ``restarted_without_effect`` when this collection's last change was that restart (``nothing_changed_since``) and
    the writer is still missing or failed: another restart would find the same host (``state: restarted`` forces one).
    """
    blockers = sorted({f.code for f in assess(state, RESTART_BLOCKING_CODES)})
    if last_restart and nothing_changed_since:
        blockers.append(RESTART_WITHOUT_EFFECT)
    since = _event_time(last_restart)
    if since is not None:
        for event in core_csi_events(state["events"]):
            created = _event_time(event.time_created)
            denied = any(m in (event.system_error or "").casefold() for m in _ACCESS_DENIED)
            if denied and created is not None and created >= since:
                blockers.append(CAPI2_ACCESS_DENIED)
                break
    return blockers


def plan_cryptsvc(state: dict, start_mode: str = "auto", desired_state: str = "started",
                  ensure_system_writer: bool = True, last_restart: str | None = None,
                  nothing_changed_since: bool = False) -> dict:
    """Operations that bring CryptSvc to ``start_mode`` / ``desired_state`` (and the writer back, once).

    Returns ``{operations, reasons, restart_for_writer, blocked_by, errors}``; ``errors`` is non-empty when
    nothing can be planned (CryptSvc absent, its state unknown); ``blocked_by`` names what keeps a restart for
    the writer from helping (:func:`restart_blockers`), and then no restart is planned for it.
    Semantics of the operations: ``_operations.py``.
    """
    if start_mode not in SETTABLE_START_MODES:
        raise ValueError(f"start_mode: expected one of {', '.join(SETTABLE_START_MODES)}, got {displayed(start_mode)}")
    if desired_state not in DESIRED_STATES:
        raise ValueError(f"desired_state: expected one of {', '.join(DESIRED_STATES)}, got {displayed(desired_state)}")
    if start_mode == "disabled":
        raise ValueError(f"start_mode 'disabled' cannot be combined with desired_state {displayed(desired_state)}: "
                         "a disabled service cannot be started")
    plan: dict[str, Any] = {"operations": [], "reasons": [], "restart_for_writer": False, "blocked_by": [],
                            "errors": []}
    service = find_service(state, CRYPTSVC)
    if service is None and section_unreadable(state, "services"):
        plan["errors"].append(f"the services could not be read ({section_unreadable(state, 'services')}): "
                              "nothing can be planned")
        return plan
    if service is None:
        plan["errors"].append("CryptSvc is not installed on this host: nothing can be planned")
        return plan
    name = service["name"]
    if service["start_mode"] != start_mode:
        plan["operations"].append({"op": "service_start_mode", "service": name,
                                   "expect": service["start_mode"], "set": start_mode})
        plan["reasons"].append(f"start mode is {service['start_mode']}, not {start_mode}")
    current = service["state"]
    reading = read_system_writer(state) if ensure_system_writer else None
    action = None
    if desired_state == "restarted":
        action = "restarted"
        plan["reasons"].append("a restart was asked for")
    elif current != "running":
        action = "started"
        plan["reasons"].append(f"CryptSvc is {current or 'in an unknown state'}, not running")
    elif reading is not None and reading.needs_restart:
        plan["blocked_by"] = restart_blockers(state, last_restart, nothing_changed_since)
        if not plan["blocked_by"]:
            action = "restarted"
    if reading is not None:
        if plan["blocked_by"]:
            plan["reasons"].append(f"System Writer {reading.verdict}: {reading.reason}; not restarted: a restart "
                                   f"cannot bring it back while {', '.join(plan['blocked_by'])} remains "
                                   "(KB 2009272: fix the permissions first, then restart CryptSvc)")
        elif reading.needs_restart:
            # KB 2009272 ends with net stop / net start cryptsvc; restart once, then re-check.
            then = "CryptSvc is restarted once" if action == "restarted" else "starting CryptSvc should bring it back"
            plan["reasons"].append(f"System Writer {reading.verdict}: {reading.reason}; {then}, then re-checked")
        elif reading.verdict == "waiting":
            plan["reasons"].append(f"System Writer {reading.reason}: not restarted, a backup may be running")
        elif reading.verdict == "no_verdict":
            plan["reasons"].append(f"System Writer not checked: {reading.reason}")
    if action is not None:
        if current is None:
            plan["errors"].append("the state of CryptSvc is unknown: it cannot be started or restarted safely")
            return plan
        plan["operations"].append({"op": "service_state", "service": name, "expect": current, "set": action})
        plan["restart_for_writer"] = bool(reading is not None and reading.needs_restart)
    return plan


def _event_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def writer_status_after(state: dict, since: str | None = None) -> dict:
    """The System Writer after apply, for the module's result, with the CAPI2 and VSS events of ``state``.

    ``since`` (ISO 8601) keeps only the events created at or after it (the restart); an event whose time
    cannot be read is then left out.
    """
    reading = read_system_writer(state)
    writer = reading.writer
    limit = _event_time(since) if since else None
    if since and limit is None:
        raise ValueError(f"since: {displayed(since)} is not an ISO 8601 time")
    events = []
    for event in state["events"]:
        provider = event["provider"].casefold()
        if "capi2" not in provider and provider != "vss":
            continue
        if limit is not None:
            created = _event_time(event["time_created"])
            if created is None or created < limit:
                continue
        events.append({"provider": event["provider"], "id": event["id"], "time_created": event["time_created"],
                       "message": event["message"]})
    return {
        "present": None if reading.verdict == "no_verdict" else writer is not None,
        "verdict": reading.verdict,
        "reason": reading.reason,
        "state": writer.state_number if writer else None,
        "state_text": writer.state_text if writer else None,
        "last_error": writer.last_error if writer else None,
        "capi2_513": capi2_core_csi_failures(state["events"]) if reading.verdict == "missing" else [],
        "events": events,
    }
