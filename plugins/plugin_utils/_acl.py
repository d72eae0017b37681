# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Permissions that starve the System Writer: filemaps / PendingRenames, VssAccessControl, service SDs.

Three causes, one per finding code:

- ``filemaps_acl`` (KB 2009272; the write-up "System writer is not found in the backup Error (Windows Server
  Backup)", below "the write-up"): the writer cannot enumerate ``%windir%\\winsxs\\filemaps`` or
  ``%windir%\\winsxs\\temp\\PendingRenames``; CAPI2 513 ``AddCoreCsiFiles : BeginFileEnumeration() failed.``
  and "System writer is not found in the backup". The policy is written in well-known SIDs only.
- ``vss_access_control`` (KB 2009272): NETWORK SERVICE not allowed under ``VssAccessControl`` (VSS 8213).
- ``service_sd_blocks_writer`` (KB 3209092): a driver service whose security descriptor does not give
  SERVICE_QUERY_CONFIG to the writer's token (MSLLDP); CAPI2 513 ``AddLegacyDriverFiles``.

Each has a check (registered in the check table) and a planner returning ``(operations, rows)``: the
operations are the typed operations of ``_operations`` (compare-and-swap), the rows say what changes,
for ``--diff`` and reports.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Iterable, Iterator

from ._allowlist import NETWORK_SERVICE_VALUE_NAMES, WRITER_ACE
from ._display import shown
from ._events import core_csi_events, service_events, vss_access_events
from ._findings import Check, Finding, register
from ._operations import VSS_ACCESS_CONTROL_KEY
from ._sddl import (
    FILE_ALL_ACCESS, FILE_READ_AND_EXECUTE, SERVICE_QUERY_CONFIG, SID_ALIASES, TRUSTED_INSTALLER_SID, Ace, SddlError,
    SecurityDescriptor, format_file_rights, format_sddl, grants, owner_and_dacl, parse_sddl, resolve_sid, sid_name,
)
from ._state import is_driver
from ._twin import TwinError, repropagated, written_descriptor
from ._unreadable import section_unreadable

SYSTEM = "S-1-5-18"
ADMINISTRATORS = "S-1-5-32-544"
USERS = "S-1-5-32-545"
TRUSTED_INSTALLER = TRUSTED_INSTALLER_SID
DOMAIN_ADMINS_RID = 512  # SID strings doc: "DA" = DOMAIN_GROUP_RID_ADMINS (512), relative to the domain SID
DC_OWNER_CHOICES = ("administrators", "domain_admins")
FILEMAPS_SCOPES = ("folder", "files", "pending_renames")

_DOMAIN_SID = re.compile(r"S-1-5-21-\d+-\d+-\d+")
_ALIAS_OF = {sid: alias for alias, (sid, _name) in SID_ALIASES.items()}


# ---------------------------------------------------------------------------------------------------
# filemaps policy
# ---------------------------------------------------------------------------------------------------

class FilemapsPolicyError(ValueError):
    """A policy, or a descriptor, that does not allow a confident fix."""


@dataclass(frozen=True)
class FilemapsPolicy:
    """Who must own, and be granted what on, filemaps (folder and files) and PendingRenames.

    The write-up: "Local administrators, or Domain administrators if a DC: Owner, Read&exec, List folder, Read;
    SYSTEM: as above excluding Owner; Local Users, or Domain Users (may not be required): as above;
    TrustedInstaller: Full Control". KB 2009272: ``takeown /a`` (owner Administrators), SYSTEM (RX),
    TrustedInstaller (F), Users (RX). No deny ACE for any of them (KB 2009272; the write-up).

    ``accepted_owners`` are left alone when found: no public source gives the default owner; it is presumed
    to be TrustedInstaller (files written by the servicing stack may be owned by SYSTEM), and an owner does not
    change who can read. Any other owner (e.g. a user who took ownership) is replaced by the policy owner.
    ``accepted_owners=()`` requires the policy owner everywhere (KB 2009272 and the write-up, literally).
    """

    users_read: bool = True
    dc_owner: str = "administrators"
    domain_sid: str | None = None
    domain_controller: bool = False
    accepted_owners: tuple[str, ...] = (TRUSTED_INSTALLER, SYSTEM)

    def __post_init__(self) -> None:
        if self.dc_owner not in DC_OWNER_CHOICES:
            raise FilemapsPolicyError(f"dc_owner must be one of {', '.join(DC_OWNER_CHOICES)}, got {shown(self.dc_owner)}")
        if self.domain_sid is not None and not _DOMAIN_SID.fullmatch(self.domain_sid):
            raise FilemapsPolicyError(f"domain_sid must look like S-1-5-21-<n>-<n>-<n>, got {shown(self.domain_sid)}")
        for sid in self.accepted_owners:
            if resolve_sid(sid) != sid:
                raise FilemapsPolicyError(f"accepted_owners must be full SIDs (S-1-...), got {shown(sid)}")

    def for_host(self, state: dict) -> "FilemapsPolicy":
        """The policy as it applies to the host of ``state`` (domain controller or not)."""
        return dataclasses.replace(self, domain_controller=state["host"]["product_type"] == "domain_controller")

    @property
    def wants_domain_admins(self) -> bool:
        return self.domain_controller and self.dc_owner == "domain_admins"

    @property
    def owner_sid(self) -> str | None:
        """The owner to set; None when it is Domain Admins and the domain SID is unknown (report, never fix)."""
        if not self.wants_domain_admins:
            return ADMINISTRATORS  # KB 2009272: takeown /a; the write-up: local administrators
        if self.domain_sid is None:
            return None
        return f"{self.domain_sid}-{DOMAIN_ADMINS_RID}"  # the write-up: "Domain administrators if a DC"

    @property
    def required_grants(self) -> tuple[tuple[str, int], ...]:
        """(SID, file rights) each principal must be granted, in the order fixes add them."""
        rows = [(TRUSTED_INSTALLER, FILE_ALL_ACCESS),  # KB 2009272: "NT Service\trustedinstaller:(F)"
                (SYSTEM, FILE_READ_AND_EXECUTE),  # KB 2009272: "NT AUTHORITY\SYSTEM:(RX)"
                (ADMINISTRATORS, FILE_READ_AND_EXECUTE)]  # the write-up: administrators Read&exec, List folder, Read
        if self.users_read:
            rows.append((USERS, FILE_READ_AND_EXECUTE))  # KB 2009272: "BUILTIN\Users:(RX)"; the write-up: "may not be required"
        return tuple(rows)

    def owner_ok(self, owner: str | None) -> bool:
        if owner is None:
            return False
        if resolve_sid(owner, self.domain_sid) in self.accepted_owners:
            return True
        if self.wants_domain_admins:
            resolved = resolve_sid(owner, self.domain_sid)
            if self.domain_sid is None:
                return owner == "DA" or bool(resolved and re.fullmatch(r"S-1-5-21-\d+-\d+-\d+-512", resolved))
            return resolved == self.owner_sid
        return resolve_sid(owner, self.domain_sid) == self.owner_sid


DEFAULT_FILEMAPS_POLICY = FilemapsPolicy()


def _trustee_text(sid: str) -> str:
    """How Windows writes a SID in SDDL: its alias when it has one (SY, BA, BU), else the SID."""
    return _ALIAS_OF.get(sid, sid)


def _describe_trustee(trustee: str | None, domain_sid: str | None) -> str:
    if trustee is None:
        return "not set"
    sid = resolve_sid(trustee, domain_sid)
    return sid_name(sid) if sid else trustee


def _matches(ace: Ace, sid: str, domain_sid: str | None) -> bool:
    return ace.sid(domain_sid) == sid


def _allowed_mask(aces: Iterable[Ace], sid: str, domain_sid: str | None) -> int:
    """File rights the allow ACEs for ``sid`` give on the object itself (inherit-only and object ACEs skipped)."""
    mask = 0
    for ace in aces:
        if ace.type in ("A", "OA") and not ace.inherit_only and not ace.object_guid and _matches(ace, sid, domain_sid):
            mask |= ace.effective_mask("file")
    return mask


def _blocking_denies(aces: Iterable[Ace], sid: str, needed: int, is_folder: bool, domain_sid: str | None) -> list[Ace]:
    """Deny ACEs for ``sid`` that take away any needed right: on a folder also inherit-only ones (the files inherit them)."""
    return [ace for ace in aces
            if ace.is_deny and _matches(ace, sid, domain_sid) and ace.effective_mask("file") & needed
            and (is_folder or not ace.inherit_only)]


def _rights_label(mask: int) -> str:
    if mask == FILE_ALL_ACCESS:
        return f"full control ({mask:#x})"
    if mask == FILE_READ_AND_EXECUTE:
        return f"read & execute and list ({mask:#x})"
    return f"{mask:#x}"


def check_descriptor(sddl: str, policy: FilemapsPolicy, is_folder: bool) -> list[str]:
    """What is wrong with one descriptor under ``policy``: short sentences naming each principal and its SID."""
    try:
        sd = parse_sddl(sddl)
    except SddlError as exc:
        return [f"the descriptor cannot be parsed ({exc}); it is reported, not changed"]
    problems = []
    if not policy.owner_ok(sd.owner):
        current = _describe_trustee(sd.owner, policy.domain_sid)
        if policy.owner_sid is None:
            problems.append(f"owner is {current}, not Domain Admins; the domain SID is unknown, so the owner "
                            "cannot be set (give domain_sid)")
        else:
            accepted = "".join(f", or {sid_name(sid)}" for sid in policy.accepted_owners)
            problems.append(f"owner is {current}, not {sid_name(policy.owner_sid)}{accepted}")
    if sd.dacl is None or sd.dacl.is_null:
        return problems  # a NULL DACL grants everything to everyone
    for sid, needed in policy.required_grants:
        for ace in _blocking_denies(sd.dacl.aces, sid, needed, is_folder, policy.domain_sid):
            problems.append(f"{sid_name(sid)} is denied rights it needs by {ace.format()}")
        missing = needed & ~_allowed_mask(sd.dacl.aces, sid, policy.domain_sid)
        if missing:
            problems.append(f"{sid_name(sid)} is not granted {_rights_label(needed)}: missing {missing:#x}")
    return problems


@dataclass(frozen=True)
class DescriptorFix:
    """The fixed descriptor and one line per change (owner, ACE added / changed / removed)."""

    before: str
    after: str
    changes: tuple[str, ...]

    @property
    def changed(self) -> bool:
        return self.after != self.before


def plan_descriptor_fix(sddl: str, policy: FilemapsPolicy, is_folder: bool) -> DescriptorFix:
    """Fix owner and DACL of one descriptor under ``policy``; raise FilemapsPolicyError when it cannot be done safely.

    Owner set per policy; deny ACEs for the policy's principals that take away a needed right removed;
    an explicit allow ACE for the principal with too few rights gets the missing bits (flags kept); else a
    new allow ACE (``OICI`` on a folder) is inserted after the explicit ACEs, before the inherited ones
    (canonical order). Every other ACE, the ACL flags, the group and the SACL are kept as written.
    """
    try:
        sd = parse_sddl(sddl)
    except SddlError as exc:
        raise FilemapsPolicyError(f"the descriptor cannot be parsed, so it is not changed: {exc}") from None
    changes: list[str] = []
    owner = sd.owner
    if not policy.owner_ok(owner):
        if policy.owner_sid is None:
            raise FilemapsPolicyError(f"owner is {_describe_trustee(owner, None)}; the policy wants Domain Admins "
                                      "but the domain SID is unknown (give domain_sid)")
        owner = _trustee_text(policy.owner_sid)
        changes.append(f"owner {_describe_trustee(sd.owner, policy.domain_sid)} -> {sid_name(policy.owner_sid)}")
    dacl = sd.dacl
    if changes and (dacl is None or dacl.is_null):
        # A NULL DACL (everyone may do everything) is never written back (docs/write-path.md section 2), and writing
        # an owner means writing a DACL too: reported, not changed.
        raise FilemapsPolicyError("the DACL is NULL or missing (everyone may do everything): the owner cannot be set "
                                  "without writing a DACL; it is reported, not changed")
    if dacl is not None and not dacl.is_null:
        aces = list(dacl.aces)
        for sid, needed in policy.required_grants:
            for ace in _blocking_denies(aces, sid, needed, is_folder, policy.domain_sid):
                if ace.inherited:
                    # Windows recomputes inherited ACEs from the parent: only the parent's fix removes this one.
                    raise FilemapsPolicyError(f"{sid_name(sid)} is denied by {ace.format()}, which it inherits from "
                                              "its folder: it goes only when the folder is fixed")
                aces.remove(ace)
                changes.append(f"removed deny ACE {ace.format()} for {sid_name(sid)} (it takes away rights the writer needs)")
        for sid, needed in policy.required_grants:
            missing = needed & ~_allowed_mask(aces, sid, policy.domain_sid)
            if not missing:
                continue
            index = next((i for i, ace in enumerate(aces)
                          if ace.type == "A" and not ace.inherit_only and not ace.inherited and not ace.object_guid
                          and not ace.inherit_object_guid and ace.extra is None and _matches(ace, sid, policy.domain_sid)),
                         None)
            if index is not None:
                old = aces[index]
                new = dataclasses.replace(old, rights=format_file_rights(old.effective_mask("file") | missing))
                aces[index] = new
                changes.append(f"changed {old.format()} to {new.format()} for {sid_name(sid)}")
            else:
                new = Ace("A", ("OI", "CI") if is_folder else (), format_file_rights(needed), "", "", _trustee_text(sid))
                at = next((i for i, ace in enumerate(aces) if ace.inherited), len(aces))
                aces.insert(at, new)
                changes.append(f"added {new.format()} for {sid_name(sid)}")
        dacl = dataclasses.replace(dacl, aces=tuple(aces))
    fixed = dataclasses.replace(sd, owner=owner, dacl=dacl)
    after = format_sddl(fixed) if changes else sddl
    return DescriptorFix(sddl, after, tuple(changes))


def fix_descriptor(sddl: str, policy: FilemapsPolicy, is_folder: bool) -> str:
    """The descriptor with owner and DACL fixed per ``policy`` (see :func:`plan_descriptor_fix`)."""
    return plan_descriptor_fix(sddl, policy, is_folder).after


# ---------------------------------------------------------------------------------------------------
# filemaps_acl: check and planner
# ---------------------------------------------------------------------------------------------------

def _event_evidence(state: dict) -> list[dict]:
    return [{"time_created": e.time_created, "detail": e.detail, "system_error": e.system_error}
            for e in core_csi_events(state.get("events", []))]


def _fixable(sddl: str, policy: FilemapsPolicy, is_folder: bool) -> bool:
    try:
        plan_descriptor_fix(sddl, policy, is_folder)
    except FilemapsPolicyError:
        return False
    return True


def folder_after_fix(section: dict, policy: FilemapsPolicy) -> str | None:
    """The folder's descriptor once its fix is written (as Windows stores it); None when it is not fixed."""
    if not section["exists"] or section["sddl"] is None:
        return None
    try:
        fix = plan_descriptor_fix(section["sddl"], policy, is_folder=True)
        return written_descriptor(section["sddl"], fix.after, None, is_container=True) if fix.changed else None
    except (FilemapsPolicyError, TwinError):
        return None


def file_after_folder_fix(sddl: str, folder: str | None) -> str:
    """A file's descriptor once the folder fix has propagated to it (itself when the folder is not fixed)."""
    if folder is None:
        return sddl
    try:
        return repropagated(sddl, folder)
    except SddlError:
        return sddl


def _unreadable(subject: str, what: str, error: str | None, events: list[dict]) -> Finding:
    return Finding("filemaps_acl", subject, f"the security of {what} could not be read" + (f": {error}" if error else ""),
                   evidence={"error": error, "events": events}, fixable=False,
                   fix="report: read the owner and ACL by hand (icacls) and compare with KB 2009272")


def filemaps_findings(state: dict, policy: FilemapsPolicy = DEFAULT_FILEMAPS_POLICY) -> Iterator[Finding]:
    """filemaps_acl over the filemaps folder, each distinct descriptor of its files, and PendingRenames.

    Source: KB 2009272 and the write-up. Evidence carries the CAPI2 513 AddCoreCsiFiles events.
    """
    policy = policy.for_host(state)
    events = _event_evidence(state)
    filemaps = state["filemaps"]
    path = filemaps["path"]
    if filemaps["exists"] is None:
        pass  # could not be told: state_unreadable says so; nothing is judged
    elif not filemaps["exists"]:
        # the folder is part of every WinSxS store; its absence is not something to create.
        yield Finding("filemaps_acl", f"path:{path}", f"{path} does not exist: the System Writer cannot enumerate the "
                      "component store file maps", evidence={"exists": False, "events": events}, fixable=False,
                      fix="report: repair the component store (DISM /RestoreHealth); nothing is created")
    elif filemaps["sddl"] is None:
        yield _unreadable(f"path:{path}", path, filemaps.get("error"), events)
    else:
        problems = check_descriptor(filemaps["sddl"], policy, is_folder=True)
        if problems:
            yield Finding("filemaps_acl", f"path:{path}", f"{path}: " + "; ".join(problems),
                          evidence={"sddl": filemaps["sddl"], "problems": problems, "events": events},
                          fixable=_fixable(filemaps["sddl"], policy, True))
        files = filemaps.get("files") or {}
        folder_fixed = folder_after_fix(filemaps, policy)
        for descriptor in files.get("descriptors", []):
            subject = f"files:{path}\\*"
            what = f"{descriptor['count']} file(s) in {path} (e.g. {', '.join(descriptor['samples'][:3]) or 'no sample'})"
            if descriptor["sddl"] is None:
                yield _unreadable(subject, what, None, events)
                continue
            problems = check_descriptor(descriptor["sddl"], policy, is_folder=False)
            if problems:
                yield Finding("filemaps_acl", subject, f"{what}: " + "; ".join(problems),
                              evidence={"count": descriptor["count"], "samples": descriptor["samples"],
                                        "problems": problems, "sddl": descriptor["sddl"], "events": events},
                              fixable=_fixable(file_after_folder_fix(descriptor["sddl"], folder_fixed), policy, False))
    pending = state["pending_renames"]
    if pending["exists"] is None:
        return  # could not be told: state_unreadable says so
    if not pending["exists"]:
        return  # KB 2009272 names it, but the folder exists only while renames are pending: absent is normal
    if pending["sddl"] is None:
        yield _unreadable(f"path:{pending['path']}", pending["path"], pending.get("error"), events)
        return
    problems = check_descriptor(pending["sddl"], policy, is_folder=True)
    if problems:
        yield Finding("filemaps_acl", f"path:{pending['path']}", f"{pending['path']}: " + "; ".join(problems),
                      evidence={"sddl": pending["sddl"], "problems": problems, "events": events},
                      fixable=_fixable(pending["sddl"], policy, True))


def _folder_op(section: dict, target: str, policy: FilemapsPolicy) -> tuple[list[dict], list[dict]]:
    path = section["path"]
    if not section["exists"] or section["sddl"] is None:
        return [], []
    try:
        fix = plan_descriptor_fix(section["sddl"], policy, is_folder=True)
    except FilemapsPolicyError as exc:
        return [], [{"target": target, "path": path, "skipped": str(exc)}]
    if not fix.changed:
        return [], []
    op = {"op": "path_security", "path": path, "target": "folder",
          "expect": owner_and_dacl(fix.before), "set": owner_and_dacl(fix.after)}
    row = {"target": target, "path": path, "before": op["expect"], "after": op["set"], "changes": list(fix.changes)}
    return [op], [row]


def _files_ops(section: dict, policy: FilemapsPolicy, folder: str | None) -> tuple[list[dict], list[dict]]:
    """One operation per distinct owner+DACL of the files, planned on the descriptors the files will have once
    the folder fix (``folder``: the folder's descriptor after it, or None) has propagated to them."""
    path = section["path"]
    ops: list[dict] = []
    rows: list[dict] = []
    if not section["exists"] or not section.get("files"):
        return ops, rows
    planned: dict[str, dict] = {}
    for descriptor in section["files"]["descriptors"]:
        if descriptor["sddl"] is None:
            rows.append({"target": "files", "path": path, "count": descriptor["count"],
                         "samples": descriptor["samples"], "skipped": "security could not be read"})
            continue
        try:
            fix = plan_descriptor_fix(file_after_folder_fix(descriptor["sddl"], folder), policy, is_folder=False)
        except FilemapsPolicyError as exc:
            rows.append({"target": "files", "path": path, "count": descriptor["count"],
                         "samples": descriptor["samples"], "skipped": str(exc)})
            continue
        if not fix.changed:
            continue
        expect = owner_and_dacl(fix.before)
        if expect in planned:  # same owner+DACL, different group/SACL: one operation moves them all
            planned[expect]["count"] += descriptor["count"]
            continue
        ops.append({"op": "path_security", "path": path, "target": "files", "expect": expect,
                    "set": owner_and_dacl(fix.after)})
        row = {"target": "files", "path": path, "count": descriptor["count"], "samples": descriptor["samples"][:3],
               "before": expect, "after": owner_and_dacl(fix.after), "changes": list(fix.changes)}
        planned[expect] = row
        rows.append(row)
    return ops, rows


def plan_filemaps(state: dict, policy: FilemapsPolicy = DEFAULT_FILEMAPS_POLICY,
                  scope: Iterable[str] = FILEMAPS_SCOPES) -> tuple[list[dict], list[dict]]:
    """``path_security`` operations that bring filemaps (folder, files) and PendingRenames to ``policy``.

    One ``folder`` operation per folder, then one ``files`` operation per distinct owner+DACL needing a change,
    planned on the files as they will be once the folder fix has propagated to them (Windows recomputes their
    inherited ACEs: docs/write-path.md §1), so a file operation only sets what the folder does not give it.
    Rows: per target, what changes (``changes``), or why it is skipped (``skipped``).
    """
    scope = set(scope)
    unknown = scope - set(FILEMAPS_SCOPES)
    if unknown:
        raise ValueError(f"unknown filemaps scope {', '.join(sorted(unknown))} (expected {', '.join(FILEMAPS_SCOPES)})")
    policy = policy.for_host(state)
    ops: list[dict] = []
    rows: list[dict] = []
    parts = []
    if "folder" in scope:
        parts.append(_folder_op(state["filemaps"], "folder", policy))
    if "files" in scope:
        folder = folder_after_fix(state["filemaps"], policy) if "folder" in scope else None
        parts.append(_files_ops(state["filemaps"], policy, folder))
    if "pending_renames" in scope:
        parts.append(_folder_op(state["pending_renames"], "pending_renames", policy))
    for part_ops, part_rows in parts:
        ops.extend(part_ops)
        rows.extend(part_rows)
    return ops, rows


# ---------------------------------------------------------------------------------------------------
# vss_access_control (KB 2009272)
# ---------------------------------------------------------------------------------------------------

# KB 2009272 names the value "NT AUTHORITY\NETWORK SERVICE"; real systems carry "NT Authority\NetworkService".
# Assumption (unverified): VSS reads either spelling, so both are accepted, case-insensitively; a new value
# is written with the KB's spelling, and only when neither exists.
VSS_ACCESS_CONTROL_NAMES = NETWORK_SERVICE_VALUE_NAMES
_ALLOWED = {"kind": "REG_DWORD", "data": 1}  # KB 2009272: REG_DWORD, value 1


def network_service_values(state: dict) -> dict[str, dict]:
    """The VssAccessControl values naming NETWORK SERVICE (either spelling), as stored."""
    wanted = {name.lower() for name in VSS_ACCESS_CONTROL_NAMES}
    return {name: value for name, value in state["vss_access_control"]["values"].items() if name.lower() in wanted}


def _vss_allowed(state: dict) -> bool:
    return any(value == _ALLOWED for value in network_service_values(state).values())


def vss_access_control_findings(state: dict) -> Iterator[Finding]:
    """vss_access_control: no NETWORK SERVICE value equal to DWORD 1 under VssAccessControl. Source: KB 2009272."""
    if _vss_allowed(state) or section_unreadable(state, "vss_access_control"):
        return  # allowed, or could not be read (state_unreadable says so)
    section = state["vss_access_control"]
    events = [{"time_created": e.time_created, "system_writer": e.system_writer, "message": e.message}
              for e in vss_access_events(state.get("events", []))]
    found = network_service_values(state)
    what = ("no NETWORK SERVICE value" if not found
            else "; ".join(f"{name} = {value['kind']} {shown(value['data'])}" for name, value in found.items()))
    yield Finding("vss_access_control", f"registry:{VSS_ACCESS_CONTROL_KEY}",
                  f"VssAccessControl does not allow NETWORK SERVICE (the System Writer's account): {what}",
                  evidence={"key_exists": section["key_exists"], "values": section["values"], "events": events},
                  fixable=True)


def plan_vss_access_control(state: dict) -> tuple[list[dict], list[dict]]:
    """One ``registry_value`` operation setting NETWORK SERVICE to DWORD 1, or nothing when it is already allowed
    (or when the key could not be read: then nothing is known, and nothing is written)."""
    if _vss_allowed(state):
        return [], []
    if section_unreadable(state, "vss_access_control"):
        why = section_unreadable(state, "vss_access_control")
        return [], [{"target": "vss_access_control", "key": VSS_ACCESS_CONTROL_KEY, "skipped": why}]
    found = network_service_values(state)
    if found:
        name, current = next(iter(found.items()))
    else:
        name, current = VSS_ACCESS_CONTROL_NAMES[0], {"kind": "missing", "data": None}
    op = {"op": "registry_value", "key": VSS_ACCESS_CONTROL_KEY, "name": name, "expect": dict(current),
          "set": dict(_ALLOWED)}
    row = {"target": "vss_access_control", "key": VSS_ACCESS_CONTROL_KEY, "name": name, "before": current,
           "after": dict(_ALLOWED)}
    return [op], [row]


# ---------------------------------------------------------------------------------------------------
# service_sd_blocks_writer (KB 3209092)
# ---------------------------------------------------------------------------------------------------

# The System Writer runs in CryptSvc as NETWORK SERVICE (KB 2009272 8213 data). Its token holds, among others:
# NS S-1-5-20 (the account), SU S-1-5-6 (SERVICE logon), AU S-1-5-11, WD S-1-1-0, BU S-1-5-32-545 (members of
# Users). Inferred from KB 3209092 ("NT AUTHORITY\SERVICE", "token contains SU"); the token also has more SIDs
# (LOCAL, the service SID), which can only grant more, so a finding here may rarely be a false alarm.
WRITER_TOKEN = frozenset({"S-1-5-20", "S-1-5-6", "S-1-5-11", "S-1-1-0", "S-1-5-32-545"})


def service_sd_blocks_writer(sddl: str) -> bool:
    """True when ``sddl`` does not give SERVICE_QUERY_CONFIG to the writer's token. Raises SddlError if unparseable."""
    return not grants(parse_sddl(sddl), WRITER_TOKEN, SERVICE_QUERY_CONFIG, "service")


def fix_service_sddl(sddl: str) -> str:
    """``sddl`` with the KB 3209092 ACE added at the end of the DACL (just before ``S:``), the rest byte for byte.

    The idempotent fix open-source tools use for KB 3209092: never replace the descriptor wholesale. Unchanged when the writer is
    already granted CC. Raises SddlError (unparseable) or ValueError (the ACE would not help: a deny
    for a SID of the writer's token comes first).
    """
    sd = parse_sddl(sddl)
    if grants(sd, WRITER_TOKEN, SERVICE_QUERY_CONFIG, "service"):
        return sddl
    ace = parse_sddl("D:" + WRITER_ACE).dacl.aces[0]  # type: ignore[union-attr]
    fixed: SecurityDescriptor = dataclasses.replace(sd, dacl=dataclasses.replace(sd.dacl, aces=sd.dacl.aces + (ace,)))  # type: ignore[union-attr]
    if not grants(fixed, WRITER_TOKEN, SERVICE_QUERY_CONFIG, "service"):
        raise ValueError("a deny ACE for a SID of the writer's token takes SERVICE_QUERY_CONFIG away before any allow; "
                         f"adding {WRITER_ACE} would not help")
    return format_sddl(fixed)


def service_sd_findings(state: dict) -> Iterator[Finding]:
    """service_sd_blocks_writer for every driver service with its own descriptor. Source: KB 3209092.

    Descriptors with source "default" (the SCM default) are not flagged; "unreadable" ones cannot be judged.
    """
    events = service_events(state)
    for service in state["services"]:
        security = service["security"]
        if not is_driver(service) or security["source"] != "registry" or security["sddl"] is None:
            continue
        sddl = security["sddl"]
        subject = f"service:{service['name']}"
        evidence = {"display_name": service["display_name"], "sddl": sddl,
                    "capi2_513": events.get(service["name"].lower(), [])}
        try:
            blocked = service_sd_blocks_writer(sddl)
        except SddlError as exc:
            yield Finding("service_sd_blocks_writer", subject,
                          f"the security descriptor of driver {service['name']} cannot be parsed: {exc}",
                          evidence=evidence, fixable=False, fix="report: check it with sc sdshow; nothing is changed")
            continue
        if not blocked:
            continue
        try:
            fix_service_sddl(sddl)
            fixable, fix = True, None
        except ValueError as exc:
            fixable, fix = False, f"report: {exc}"
        yield Finding("service_sd_blocks_writer", subject,
                      f"driver {service['name']} ({service['display_name']}): its security descriptor does not give "
                      "SERVICE_QUERY_CONFIG to the System Writer's account (NETWORK SERVICE / SERVICE)",
                      evidence=evidence, fixable=fixable, fix=fix)


def plan_service_security(state: dict, services: Iterable[str] | None = None) -> tuple[list[dict], list[dict]]:
    """One ``service_security`` operation per blocking driver descriptor that can be fixed (all, or ``services``)."""
    only = {name.lower() for name in services} if services is not None else None
    ops: list[dict] = []
    rows: list[dict] = []
    for service in state["services"]:
        security = service["security"]
        if only is not None and service["name"].lower() not in only:
            continue
        if not is_driver(service) or security["source"] != "registry" or security["sddl"] is None:
            continue
        sddl = security["sddl"]
        try:
            fixed = fix_service_sddl(sddl)
        except ValueError as exc:  # SddlError included: report, never fix
            rows.append({"target": "service_security", "service": service["name"], "skipped": str(exc)})
            continue
        if fixed == sddl:
            continue
        ops.append({"op": "service_security", "service": service["name"], "expect": sddl, "set": fixed})
        rows.append({"target": "service_security", "service": service["name"], "before": sddl, "after": fixed,
                     "changes": [f"added {WRITER_ACE} for {sid_name('S-1-5-6')} at the end of the DACL"]})
    return ops, rows


register(Check("filemaps_acl", ("filemaps_acl",), filemaps_findings))
register(Check("vss_access_control", ("vss_access_control",), vss_access_control_findings))
register(Check("service_sd_blocks_writer", ("service_sd_blocks_writer",), service_sd_findings))
