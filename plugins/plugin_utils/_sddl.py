# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""SDDL (Security Descriptor Definition Language) text: sections, ACEs, rights, SIDs.

Reference: https://learn.microsoft.com/windows/win32/secauthz/security-descriptor-string-format
"""

from __future__ import annotations


def split_sddl(sddl: str | None) -> dict[str, str]:
    """Split an SDDL string into its O, G, D and S sections (text after the ``X:`` marker, as written).

    Outside parentheses an ``O``, ``G``, ``D`` or ``S`` followed by ``:`` always starts a section: SIDs,
    aliases and ACL flags never contain a colon, and ACE strings are inside parentheses.
    """
    if not sddl:
        return {}
    sections: dict[str, str] = {}
    depth = 0
    current = None
    start = 0
    for index, char in enumerate(sddl):
        if char == "(":
            depth += 1
        elif char == ")":
            depth = max(0, depth - 1)
        elif depth == 0 and char == ":" and index > 0 and sddl[index - 1] in "OGDS":
            if current is not None:
                sections[current] = sddl[start:index - 1]
            current = sddl[index - 1]
            start = index + 1
    if current is not None:
        sections[current] = sddl[start:]
    return sections


def join_sddl(sections: dict[str, str]) -> str:
    return "".join(f"{name}:{sections[name]}" for name in "OGDS" if name in sections)


def owner_and_dacl(sddl: str | None) -> str | None:
    """The ``O:...D:...`` part of a descriptor: what ``path_security`` compares and writes."""
    if sddl is None:
        return None
    sections = split_sddl(sddl)
    return join_sddl({k: v for k, v in sections.items() if k in ("O", "D")})
