# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""state_unreadable: what the probe could not read is said, never taken for "absent" or "empty".

A section of the state that fails on the host comes back with the reason (``unreadable`` for the lists, ``error`` with
``key_exists`` or ``exists`` null for a key or a folder, a failed event query). The checks that read such a section
judge nothing there and the planners plan nothing there; this check says so, once per section.
"""

from __future__ import annotations

from typing import Iterator

from ._findings import Check, Finding, register


def unreadable_sections(state: dict) -> dict[str, str]:
    """Section -> why it could not be read (empty when the whole state was read)."""
    found = dict(state.get("unreadable") or {})
    for section in ("system_writer", "vss_access_control", "filemaps", "pending_renames"):
        part = state.get(section) or {}
        unknown = part.get("key_exists", True) is None or part.get("exists", True) is None
        if unknown or (section in ("system_writer", "vss_access_control") and part.get("error")):
            found.setdefault(section, part.get("error") or f"{section} could not be read")
    for query in state.get("event_queries") or []:
        if query.get("status") == "failed":
            where = "/".join(filter(None, (query.get("log"), query.get("provider"))))
            found.setdefault(f"events:{where}", query.get("error") or f"the event query {where} failed")
    return found


def section_unreadable(state: dict, section: str) -> str | None:
    """Why ``section`` could not be read, or None when it was."""
    return unreadable_sections(state).get(section)


def unreadable_findings(state: dict) -> Iterator[Finding]:
    for section, why in sorted(unreadable_sections(state).items()):
        yield Finding("state_unreadable", f"state:{section}", f"{section}: {why}; nothing about it is judged or changed",
                      evidence={"section": section, "error": why}, fixable=False)


register(Check("state_unreadable", ("state_unreadable",), unreadable_findings))
