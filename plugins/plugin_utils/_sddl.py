# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""SDDL (Security Descriptor Definition Language) text: sections, ACEs, rights, SIDs.

Reference: https://learn.microsoft.com/windows/win32/secauthz/security-descriptor-string-format
(sections and ACL flags), .../secauthz/ace-strings (ACE fields, types, flags and rights letters),
.../secauthz/sid-strings (SID aliases).

Two layers:

- :func:`split_sddl`, :func:`join_sddl`, :func:`owner_and_dacl`: lenient text splitting, used by the
  operations (``path_security`` compares and writes the ``O:..D:..`` part).
- :func:`parse_sddl` / :func:`format_sddl`: a strict parser into frozen dataclasses and its writer.
  ``format_sddl(parse_sddl(s)) == s`` byte for byte: every field keeps the text it was written with
  (rights letters or hex, alias or full SID, conditional expressions). Malformed text raises
  :class:`SddlError` (a ``ValueError``) naming the position and what was expected.

:func:`grants` is the effective-access question the checks ask: does this DACL give these rights to a
token holding these SIDs?
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

from ._display import shown


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


# ---------------------------------------------------------------------------------------------------
# Vocabulary
# ---------------------------------------------------------------------------------------------------

# ACE strings doc (ace_type): allow/deny/audit/alarm, object, callback, label, resource-attribute, scoped-policy, trust.
ACE_TYPES = ("A", "D", "AU", "AL", "OA", "OD", "OU", "OL", "ML", "XA", "XD", "XU", "ZA", "RA", "SP", "TL", "FL")
ALLOW_TYPES = ("A", "OA", "XA", "ZA")
DENY_TYPES = ("D", "OD", "XD")

# ACE strings doc (ace_flags): inheritance, audit success/failure, trust-protected, critical.
ACE_FLAGS = ("CI", "OI", "NP", "IO", "ID", "SA", "FA", "TP", "CR")

# Security descriptor string format doc (dacl_flags / sacl_flags).
ACL_FLAGS = ("P", "AI", "AR", "NO_ACCESS_CONTROL")

# Access mask bits (winnt.h / winsvc.h), one source per line.
DELETE = 0x10000  # winnt.h DELETE (SDDL "SD")
READ_CONTROL = 0x20000  # winnt.h READ_CONTROL (SDDL "RC"); also STANDARD_RIGHTS_READ/WRITE/EXECUTE
WRITE_DAC = 0x40000  # winnt.h WRITE_DAC (SDDL "WD")
WRITE_OWNER = 0x80000  # winnt.h WRITE_OWNER (SDDL "WO")
GENERIC_ALL = 0x10000000  # winnt.h GENERIC_ALL (SDDL "GA")
GENERIC_EXECUTE = 0x20000000  # winnt.h GENERIC_EXECUTE (SDDL "GX")
GENERIC_WRITE = 0x40000000  # winnt.h GENERIC_WRITE (SDDL "GW")
GENERIC_READ = 0x80000000  # winnt.h GENERIC_READ (SDDL "GR")
GENERIC_BITS = GENERIC_ALL | GENERIC_EXECUTE | GENERIC_WRITE | GENERIC_READ

SERVICE_QUERY_CONFIG = 0x1  # winsvc.h; SDDL "CC" (Service Security and Access Rights doc)
SERVICE_CHANGE_CONFIG = 0x2  # winsvc.h; SDDL "DC"
SERVICE_QUERY_STATUS = 0x4  # winsvc.h; SDDL "LC"
SERVICE_ENUMERATE_DEPENDENTS = 0x8  # winsvc.h; SDDL "SW"
SERVICE_START = 0x10  # winsvc.h; SDDL "RP"
SERVICE_STOP = 0x20  # winsvc.h; SDDL "WP"
SERVICE_PAUSE_CONTINUE = 0x40  # winsvc.h; SDDL "DT"
SERVICE_INTERROGATE = 0x80  # winsvc.h; SDDL "LO"
SERVICE_USER_DEFINED_CONTROL = 0x100  # winsvc.h; SDDL "CR"
SERVICE_ALL_ACCESS = 0xF01FF  # winsvc.h SERVICE_ALL_ACCESS

FILE_ALL_ACCESS = 0x1F01FF  # winnt.h FILE_ALL_ACCESS (SDDL "FA")
FILE_GENERIC_READ = 0x120089  # winnt.h FILE_GENERIC_READ (SDDL "FR")
FILE_GENERIC_WRITE = 0x120116  # winnt.h FILE_GENERIC_WRITE (SDDL "FW")
FILE_GENERIC_EXECUTE = 0x1200A0  # winnt.h FILE_GENERIC_EXECUTE (SDDL "FX")
FILE_READ_AND_EXECUTE = FILE_GENERIC_READ | FILE_GENERIC_EXECUTE  # 0x1200a9: icacls (RX), "read & execute, list"

# ACE strings doc (rights): every letter pair and its bits. The directory-service letters are the
# bits 0x1..0x100; service SDDL reuses them for SERVICE_* rights (CC = SERVICE_QUERY_CONFIG, ...).
RIGHTS_LETTERS: dict[str, int] = {
    "GA": GENERIC_ALL, "GR": GENERIC_READ, "GW": GENERIC_WRITE, "GX": GENERIC_EXECUTE,
    "RC": READ_CONTROL, "SD": DELETE, "WD": WRITE_DAC, "WO": WRITE_OWNER,
    "CC": 0x1, "DC": 0x2, "LC": 0x4, "SW": 0x8, "RP": 0x10, "WP": 0x20, "DT": 0x40, "LO": 0x80, "CR": 0x100,
    "FA": FILE_ALL_ACCESS, "FR": FILE_GENERIC_READ, "FW": FILE_GENERIC_WRITE, "FX": FILE_GENERIC_EXECUTE,
    "KA": 0xF003F, "KR": 0x20019, "KW": 0x20006, "KX": 0x20019,  # winnt.h KEY_ALL_ACCESS / KEY_READ / KEY_WRITE / KEY_EXECUTE
    "NR": 0x2, "NW": 0x1, "NX": 0x4,  # winnt.h SYSTEM_MANDATORY_LABEL_NO_READ_UP / NO_WRITE_UP / NO_EXECUTE_UP
}

# Generic mappings per object type: GENERIC_* -> specific rights.
GENERIC_MAPPINGS: dict[str, dict[int, int]] = {
    # File Security and Access Rights doc: FILE_GENERIC_READ/WRITE/EXECUTE, FILE_ALL_ACCESS.
    "file": {GENERIC_READ: FILE_GENERIC_READ, GENERIC_WRITE: FILE_GENERIC_WRITE,
             GENERIC_EXECUTE: FILE_GENERIC_EXECUTE, GENERIC_ALL: FILE_ALL_ACCESS},
    # Service Security and Access Rights doc: GENERIC_READ = STANDARD_RIGHTS_READ | QUERY_CONFIG | QUERY_STATUS |
    # INTERROGATE | ENUMERATE_DEPENDENTS; WRITE = STANDARD_RIGHTS_WRITE | CHANGE_CONFIG; EXECUTE =
    # STANDARD_RIGHTS_EXECUTE | START | STOP | PAUSE_CONTINUE | USER_DEFINED_CONTROL; ALL = SERVICE_ALL_ACCESS.
    "service": {GENERIC_READ: READ_CONTROL | 0x1 | 0x4 | 0x80 | 0x8, GENERIC_WRITE: READ_CONTROL | 0x2,
                GENERIC_EXECUTE: READ_CONTROL | 0x10 | 0x20 | 0x40 | 0x100, GENERIC_ALL: SERVICE_ALL_ACCESS},
}
OBJECT_TYPES = tuple(GENERIC_MAPPINGS)

# "SID strings" doc (learn.microsoft.com/windows/win32/secauthz/sid-strings): alias -> SID and account.
# Domain-relative aliases carry the RID only (None SID prefix): they need the domain (or machine) SID.
SID_ALIASES: dict[str, tuple[str, str]] = {
    "AA": ("S-1-5-32-579", "Access Control Assistance Operators"),
    "AC": ("S-1-15-2-1", "ALL APPLICATION PACKAGES"),
    "AN": ("S-1-5-7", "ANONYMOUS LOGON"),
    "AO": ("S-1-5-32-548", "Account Operators"),
    "AS": ("S-1-18-1", "Authentication authority asserted identity"),
    "AU": ("S-1-5-11", "Authenticated Users"),
    "BA": ("S-1-5-32-544", "Administrators"),
    "BG": ("S-1-5-32-546", "Guests"),
    "BO": ("S-1-5-32-551", "Backup Operators"),
    "BU": ("S-1-5-32-545", "Users"),
    "CD": ("S-1-5-32-574", "Certificate Service DCOM Access"),
    "CG": ("S-1-3-1", "CREATOR GROUP"),
    "CO": ("S-1-3-0", "CREATOR OWNER"),
    "CY": ("S-1-5-32-569", "Cryptographic Operators"),
    "ED": ("S-1-5-9", "ENTERPRISE DOMAIN CONTROLLERS"),
    "ER": ("S-1-5-32-573", "Event Log Readers"),
    "ES": ("S-1-5-32-576", "RDS Endpoint Servers"),
    "HA": ("S-1-5-32-578", "Hyper-V Administrators"),
    "HI": ("S-1-16-12288", "High Mandatory Level"),
    "IS": ("S-1-5-32-568", "IIS_IUSRS"),
    "IU": ("S-1-5-4", "INTERACTIVE"),
    "LS": ("S-1-5-19", "LOCAL SERVICE"),
    "LU": ("S-1-5-32-559", "Performance Log Users"),
    "LW": ("S-1-16-4096", "Low Mandatory Level"),
    "ME": ("S-1-16-8192", "Medium Mandatory Level"),
    "MP": ("S-1-16-8448", "Medium Plus Mandatory Level"),
    "MS": ("S-1-5-32-577", "RDS Management Servers"),
    "MU": ("S-1-5-32-558", "Performance Monitor Users"),
    "NO": ("S-1-5-32-556", "Network Configuration Operators"),
    "NS": ("S-1-5-20", "NETWORK SERVICE"),
    "NU": ("S-1-5-2", "NETWORK"),
    "OW": ("S-1-3-4", "OWNER RIGHTS"),
    "PO": ("S-1-5-32-550", "Print Operators"),
    "PS": ("S-1-5-10", "SELF"),
    "PU": ("S-1-5-32-547", "Power Users"),
    "RA": ("S-1-5-32-575", "RDS Remote Access Servers"),
    "RC": ("S-1-5-12", "RESTRICTED"),
    "RD": ("S-1-5-32-555", "Remote Desktop Users"),
    "RE": ("S-1-5-32-552", "Replicator"),
    "RM": ("S-1-5-32-580", "Remote Management Users"),
    "RU": ("S-1-5-32-554", "Pre-Windows 2000 Compatible Access"),
    "SI": ("S-1-16-16384", "System Mandatory Level"),
    "SO": ("S-1-5-32-549", "Server Operators"),
    "SS": ("S-1-18-2", "Service asserted identity"),
    "SU": ("S-1-5-6", "SERVICE"),
    "SY": ("S-1-5-18", "SYSTEM"),
    "UD": ("S-1-5-84-0-0-0-0-0", "User-mode drivers"),
    "WD": ("S-1-1-0", "Everyone"),
    "WR": ("S-1-5-33", "WRITE RESTRICTED"),
}
# Same doc: aliases relative to the domain (or, for LA/LG, the machine) SID: alias -> (RID, account).
SID_DOMAIN_ALIASES: dict[str, tuple[int, str]] = {
    "AP": (525, "Protected Users"), "CA": (517, "Cert Publishers"), "CN": (522, "Cloneable Domain Controllers"),
    "DA": (512, "Domain Admins"), "DC": (515, "Domain Computers"), "DD": (516, "Domain Controllers"),
    "DG": (514, "Domain Guests"), "DU": (513, "Domain Users"), "EA": (519, "Enterprise Admins"),
    "EK": (527, "Enterprise Key Admins"), "KA": (526, "Key Admins"), "LA": (500, "Administrator"),
    "LG": (501, "Guest"), "PA": (520, "Group Policy Creator Owners"), "RO": (498, "Enterprise Read-only Domain Controllers"),
    "RS": (553, "RAS and IAS Servers"), "SA": (518, "Schema Admins"),
}
# The TrustedInstaller service SID (NT SERVICE\TrustedInstaller: SHA-1 of the upper-case service name, the
# documented service-SID algorithm; the same SID appears in Windows' own descriptors).
TRUSTED_INSTALLER_SID = "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464"

_SID_NAMES = dict(SID_ALIASES.values())
_SID_NAMES[TRUSTED_INSTALLER_SID] = "TrustedInstaller"

_SID_RE = re.compile(r"S-1-(?:0[xX][0-9A-Fa-f]{1,12}|\d+)(?:-\d+)*")
_ALIAS_RE = re.compile(r"[A-Z]{2}")
_GUID_RE = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")
_HEX_RE = re.compile(r"0[xX][0-9A-Fa-f]{1,8}")
_TYPE_RE = re.compile(r"[A-Z]{1,2}")


def resolve_sid(trustee: str, domain_sid: str | None = None) -> str | None:
    """Full SID for a trustee as written (``S-1-...`` or an alias); None when it cannot be known.

    Domain-relative aliases (``DA``, ``DU``, ...) resolve only with ``domain_sid``; unknown aliases never.
    """
    if _SID_RE.fullmatch(trustee):
        return trustee.upper()
    if trustee in SID_ALIASES:
        return SID_ALIASES[trustee][0]
    if trustee in SID_DOMAIN_ALIASES and domain_sid:
        return f"{domain_sid.upper()}-{SID_DOMAIN_ALIASES[trustee][0]}"
    return None


def sid_name(sid: str) -> str:
    """``Administrators (S-1-5-32-544)``: the well-known (English) name with the SID, or the SID alone."""
    name = _SID_NAMES.get(sid.upper())
    return f"{name} ({sid})" if name else sid


def is_sid(text: str) -> bool:
    return bool(_SID_RE.fullmatch(text))


# ---------------------------------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------------------------------

class SddlError(ValueError):
    """SDDL text that cannot be parsed: names the position (0-based) and what was expected there."""

    def __init__(self, sddl: str, position: int, expected: str) -> None:
        self.sddl = sddl
        self.position = position
        self.expected = expected
        found = shown(sddl[position:position + 12]) if position < len(sddl) else "the end of the text"
        excerpt = sddl if len(sddl) <= 80 else sddl[max(0, position - 30):position + 30]
        super().__init__(f"invalid SDDL at position {position}: expected {expected}, found {found} (in {shown(excerpt)})")


def rights_mask(rights: str) -> int:
    """The access mask written in an ACE rights field (letters or hex), generic bits left as they are."""
    if not rights:
        return 0
    if _HEX_RE.fullmatch(rights):
        return int(rights, 16)
    mask = 0
    for index in range(0, len(rights), 2):
        token = rights[index:index + 2]
        if token not in RIGHTS_LETTERS:
            raise ValueError(f"unknown SDDL rights letters {shown(token)} in {shown(rights)}")
        mask |= RIGHTS_LETTERS[token]
    return mask


def map_generic(mask: int, object_type: str) -> int:
    """Replace GENERIC_* bits by the object type's specific rights (its generic mapping)."""
    if object_type not in GENERIC_MAPPINGS:
        raise ValueError(f"unknown object type {shown(object_type)} (expected one of {', '.join(OBJECT_TYPES)})")
    mapped = mask & ~GENERIC_BITS
    for generic, specific in GENERIC_MAPPINGS[object_type].items():
        if mask & generic:
            mapped |= specific
    return mapped


def format_file_rights(mask: int) -> str:
    """Rights text for a file ACE the way Windows writes it: ``FA``/``FR``/``FW``/``FX`` when exact, else hex."""
    for letters in ("FA", "FR", "FW", "FX"):
        if mask == RIGHTS_LETTERS[letters]:
            return letters
    return f"0x{mask:x}"


@dataclass(frozen=True)
class Ace:
    """One ACE, every field as written. ``extra`` is a conditional expression or resource attribute, verbatim."""

    type: str
    flags: tuple[str, ...]
    rights: str
    object_guid: str
    inherit_object_guid: str
    trustee: str
    extra: str | None = None

    @property
    def known_type(self) -> bool:
        return self.type in ACE_TYPES

    @property
    def is_allow(self) -> bool:
        return self.type in ALLOW_TYPES

    @property
    def is_deny(self) -> bool:
        return self.type in DENY_TYPES

    @property
    def inherit_only(self) -> bool:
        return "IO" in self.flags

    @property
    def inherited(self) -> bool:
        return "ID" in self.flags

    @property
    def mask(self) -> int:
        return rights_mask(self.rights)

    def effective_mask(self, object_type: str) -> int:
        return map_generic(self.mask, object_type)

    def sid(self, domain_sid: str | None = None) -> str | None:
        return resolve_sid(self.trustee, domain_sid)

    def format(self) -> str:
        fields = [self.type, "".join(self.flags), self.rights, self.object_guid, self.inherit_object_guid, self.trustee]
        if self.extra is not None:
            fields.append(self.extra)
        return "(" + ";".join(fields) + ")"


@dataclass(frozen=True)
class Acl:
    flags: tuple[str, ...]
    aces: tuple[Ace, ...]

    @property
    def is_null(self) -> bool:
        """``NO_ACCESS_CONTROL``: a NULL ACL (for a DACL, everyone has every right)."""
        return "NO_ACCESS_CONTROL" in self.flags

    def format(self) -> str:
        return "".join(self.flags) + "".join(ace.format() for ace in self.aces)


@dataclass(frozen=True)
class SecurityDescriptor:
    """Owner, group (trustees as written), DACL and SACL; ``order`` is the order the sections were written in."""

    owner: str | None = None
    group: str | None = None
    dacl: Acl | None = None
    sacl: Acl | None = None
    order: tuple[str, ...] = ("O", "G", "D", "S")

    def format(self) -> str:
        return format_sddl(self)


# ---------------------------------------------------------------------------------------------------
# Parser and writer
# ---------------------------------------------------------------------------------------------------

def _at_section(text: str, pos: int) -> bool:
    return pos + 1 < len(text) and text[pos] in "OGDS" and text[pos + 1] == ":"


def _parse_trustee_at(text: str, pos: int) -> tuple[str, int]:
    """A SID (``S-1-...``) or a two-letter alias starting at ``pos`` (owner and group sections)."""
    match = _SID_RE.match(text, pos) or _ALIAS_RE.match(text, pos)
    if not match:
        raise SddlError(text, pos, "a SID (S-1-...) or a two-letter SID alias")
    return match.group(0), match.end()


def _parse_acl(text: str, pos: int) -> tuple[Acl, int]:
    flags: list[str] = []
    while pos < len(text) and text[pos] != "(" and not _at_section(text, pos):
        for flag in ("NO_ACCESS_CONTROL", "AI", "AR", "P"):
            if text.startswith(flag, pos):
                flags.append(flag)
                pos += len(flag)
                break
        else:
            raise SddlError(text, pos, "ACL flags (P, AI, AR, NO_ACCESS_CONTROL), an ACE '(' or the next section")
    aces: list[Ace] = []
    while pos < len(text) and text[pos] == "(":
        ace, pos = _parse_ace(text, pos)
        aces.append(ace)
    return Acl(tuple(flags), tuple(aces)), pos


def _field(text: str, pos: int, opened: int, stops: str) -> tuple[str, int]:
    """Text from ``pos`` up to (not including) the first character of ``stops``."""
    end = pos
    while end < len(text) and text[end] not in stops:
        if text[end] == "(":
            raise SddlError(text, end, f"';' or ')' (ACE opened at position {opened})")
        end += 1
    if end >= len(text):
        raise SddlError(text, end, f"')' closing the ACE opened at position {opened}")
    return text[pos:end], end


def _parse_ace(text: str, pos: int) -> tuple[Ace, int]:
    opened = pos
    pos += 1
    values: list[tuple[str, int]] = []
    names = ("the ACE type", "ACE flags", "ACE rights", "the object GUID", "the inherited object GUID")
    for name in names:
        start = pos
        value, pos = _field(text, pos, opened, ";)")
        if text[pos] != ";":
            raise SddlError(text, pos, f"';' after {name} (an ACE has 6 fields)")
        values.append((value, start))
        pos += 1
    start = pos
    trustee, pos = _field(text, pos, opened, ";)")
    extra = None
    if text[pos] == ";":
        extra, pos = _conditional(text, pos + 1, opened)
    pos += 1  # the closing ")"

    (ace_type, type_at), (flags_text, flags_at), (rights, rights_at), (guid, guid_at), (iguid, iguid_at) = values
    if not _TYPE_RE.fullmatch(ace_type):
        raise SddlError(text, type_at, "an ACE type (A, D, AU, OA, ...)")
    if len(flags_text) % 2:
        raise SddlError(text, flags_at, f"ACE flags in pairs ({', '.join(ACE_FLAGS)})")
    flags = tuple(flags_text[i:i + 2] for i in range(0, len(flags_text), 2))
    for index, flag in enumerate(flags):
        if flag not in ACE_FLAGS:
            raise SddlError(text, flags_at + 2 * index, f"an ACE flag ({', '.join(ACE_FLAGS)})")
    if rights and not _HEX_RE.fullmatch(rights):
        if len(rights) % 2:
            raise SddlError(text, rights_at, "rights as hex (0x...) or letter pairs (FA, CC, RP, ...)")
        for index in range(0, len(rights), 2):
            if rights[index:index + 2] not in RIGHTS_LETTERS:
                raise SddlError(text, rights_at + index, "a rights letter pair (GA, GR, RC, CC, FA, ...) or hex 0x...")
    for value, at in ((guid, guid_at), (iguid, iguid_at)):
        if value and not _GUID_RE.fullmatch(value):
            raise SddlError(text, at, "an empty field or a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)")
    if not (_SID_RE.fullmatch(trustee) or _ALIAS_RE.fullmatch(trustee)):
        raise SddlError(text, start, "a SID (S-1-...) or a two-letter SID alias as the ACE trustee")
    return Ace(ace_type, flags, rights, guid, iguid, trustee, extra), pos


def _conditional(text: str, pos: int, opened: int) -> tuple[str, int]:
    """Conditional-ACE / resource-attribute data: up to the ``)`` that closes the ACE (nesting and quotes kept)."""
    start = pos
    depth = 0
    quote = False
    while pos < len(text):
        char = text[pos]
        if quote:
            quote = char != '"'
        elif char == '"':
            quote = True
        elif char == "(":
            depth += 1
        elif char == ")":
            if depth == 0:
                return text[start:pos], pos
            depth -= 1
        pos += 1
    raise SddlError(text, pos, f"')' closing the ACE opened at position {opened}")


def parse_sddl(text: str) -> SecurityDescriptor:
    """Parse a security descriptor string; raise :class:`SddlError` when it is not valid SDDL."""
    if not isinstance(text, str):
        raise SddlError(shown(text), 0, "an SDDL string")
    parts: dict[str, object] = {}
    order: list[str] = []
    pos = 0
    while pos < len(text):
        if not _at_section(text, pos):
            expected = "a section marker (O:, G:, D: or S:)" if not order else "the next section (O:, G:, D:, S:) or the end"
            raise SddlError(text, pos, expected)
        section = text[pos]
        if section in parts:
            raise SddlError(text, pos, f"each section once ({section}: appears twice)")
        pos += 2
        if section in "OG":
            parts[section], pos = _parse_trustee_at(text, pos)
        else:
            parts[section], pos = _parse_acl(text, pos)
        order.append(section)
        if pos < len(text) and not _at_section(text, pos):
            raise SddlError(text, pos, "the next section (O:, G:, D:, S:) or the end")
    return SecurityDescriptor(owner=parts.get("O"), group=parts.get("G"), dacl=parts.get("D"),  # type: ignore[arg-type]
                              sacl=parts.get("S"), order=tuple(order))  # type: ignore[arg-type]


def format_sddl(descriptor: SecurityDescriptor) -> str:
    """The SDDL text of ``descriptor``: sections in their recorded order, then any others in O, G, D, S order."""
    values = {"O": descriptor.owner, "G": descriptor.group, "D": descriptor.dacl, "S": descriptor.sacl}
    order = list(descriptor.order) + [s for s in "OGDS" if s not in descriptor.order]
    out = []
    for section in order:
        value = values[section]
        if value is None:
            continue
        out.append(f"{section}:{value if isinstance(value, str) else value.format()}")
    return "".join(out)


def _as_descriptor(descriptor: SecurityDescriptor | str) -> SecurityDescriptor:
    return parse_sddl(descriptor) if isinstance(descriptor, str) else descriptor


def _normalise_sids(sids: Iterable[str], domain_sid: str | None) -> set[str]:
    resolved = set()
    for sid in sids:
        full = resolve_sid(sid, domain_sid)
        if full is None:
            raise ValueError(f"principal {shown(sid)} is not a SID (S-1-...) or a known SID alias")
        resolved.add(full)
    return resolved


def _applies_to_object(ace: Ace) -> bool:
    """ACEs that take part in an access check on the object itself (not inherit-only, no object-specific GUID)."""
    return not ace.inherit_only and not ace.object_guid


def grants(descriptor: SecurityDescriptor | str, principal_sids: Iterable[str], rights: int, object_type: str,
           domain_sid: str | None = None) -> bool:
    """True when the DACL gives every bit of ``rights`` to a token holding ``principal_sids``.

    Walks the DACL in order, as AccessCheck does: inherit-only ACEs are skipped; an allow ACE for a
    SID of the token grants its bits; a deny ACE for a SID of the token that covers a requested bit not
    yet granted refuses access. No ``D:`` section, or ``D:NO_ACCESS_CONTROL``, is a NULL DACL (everyone
    allowed); ``D:`` with no ACE allows nobody. Generic bits are mapped with the object type's generic
    mapping. Conservative where the text cannot be evaluated: a callback (conditional) allow grants
    nothing, a callback deny is taken as denying. Owner-implied rights (READ_CONTROL, WRITE_DAC) are not counted.
    """
    sd = _as_descriptor(descriptor)
    token = _normalise_sids(principal_sids, domain_sid)
    wanted = map_generic(rights, object_type)
    if sd.dacl is None or sd.dacl.is_null:
        return True
    granted = 0
    for ace in sd.dacl.aces:
        if granted & wanted == wanted:
            break
        if not _applies_to_object(ace) or ace.sid(domain_sid) not in token:
            continue
        mask = ace.effective_mask(object_type)
        if ace.is_deny and mask & wanted & ~granted:
            return False
        if ace.type in ("A", "OA"):
            granted |= mask & wanted
    return granted & wanted == wanted


def deny_aces_for(descriptor: SecurityDescriptor | str, sids: Iterable[str], domain_sid: str | None = None,
                  include_inherit_only: bool = False) -> list[Ace]:
    """Deny ACEs of the DACL whose trustee is one of ``sids`` (inherit-only ones only when asked)."""
    sd = _as_descriptor(descriptor)
    wanted = _normalise_sids(sids, domain_sid)
    if sd.dacl is None:
        return []
    return [ace for ace in sd.dacl.aces
            if ace.is_deny and ace.sid(domain_sid) in wanted and (include_inherit_only or not ace.inherit_only)]


# ---------------------------------------------------------------------------------------------------
# Comparing descriptors by meaning (docs/write-path.md, "Descriptors are compared by meaning")
# ---------------------------------------------------------------------------------------------------

def _trustee_key(trustee: str | None) -> str | None:
    if trustee is None:
        return None
    return resolve_sid(trustee) or trustee.upper()


def ace_key(ace: Ace) -> tuple:
    """What makes two ACEs the same: type, the set of flags, the numeric mask, GUIDs and the SID (aliases resolved)."""
    return (ace.type, frozenset(ace.flags), rights_mask(ace.rights), ace.object_guid.lower(),
            ace.inherit_object_guid.lower(), _trustee_key(ace.trustee), ace.extra)


def _acl_key(acl: Acl | None) -> tuple | None:
    if acl is None:
        return None
    return (frozenset(acl.flags), tuple(ace_key(ace) for ace in acl.aces))


def descriptor_key(sddl: str, sections: str = "OGDS") -> tuple:
    """A value equal for two SDDL strings exactly when they describe the same ``sections``. Raises SddlError."""
    sd = parse_sddl(sddl)
    parts = {"O": _trustee_key(sd.owner), "G": _trustee_key(sd.group), "D": _acl_key(sd.dacl), "S": _acl_key(sd.sacl)}
    return tuple((name, parts[name]) for name in "OGDS" if name in sections)


def same_descriptor(left: str | None, right: str | None, sections: str = "OGDS") -> bool:
    """True when both parse and describe the same ``sections``; False when either cannot be parsed."""
    if left is None or right is None:
        return left is right
    try:
        return descriptor_key(left, sections) == descriptor_key(right, sections)
    except (SddlError, ValueError):
        return False


def writable_key(sddl: str) -> tuple:
    """The part of a file or folder descriptor that a write sets: owner, DACL protection, explicit ACEs in order.

    Inherited (``ID``) ACEs are computed by Windows from the parent, never written. Raises SddlError.
    """
    sd = parse_sddl(sddl)
    if sd.dacl is None:
        return (_trustee_key(sd.owner), None, None)
    if sd.dacl.is_null:
        return (_trustee_key(sd.owner), "P" in sd.dacl.flags, "NULL")  # everyone, everything: not an empty DACL
    explicit = tuple(ace_key(ace) for ace in sd.dacl.aces if not ace.inherited)
    return (_trustee_key(sd.owner), "P" in sd.dacl.flags, explicit)


def same_writable_part(left: str | None, right: str | None) -> bool:
    """True when both parse and set the same owner, DACL protection and explicit ACEs."""
    if left is None or right is None:
        return left is right
    try:
        return writable_key(left) == writable_key(right)
    except (SddlError, ValueError):
        return False
