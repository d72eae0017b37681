# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The planner of each concern, on a state already in hand.

Each fix module (``win_service_imagepath``, ``win_systemwriter_exclusions``, ``win_filemaps_acl``,
``win_writer_access``, ``win_cryptsvc``) probes the host itself and plans one concern; ``win_backup_remediate``
probes once and asks every concern in turn, on the same state, for its part of one plan. Both call the functions
here, so a concern decides the same way whichever module asks it.

A concern is: its argument spec (the fix module's options), a check of the arguments beyond the spec (a
``ValueError`` naming the option), the paths whose existence its plan needs, and ``plan(state, args)`` returning a
:class:`Plan` (operations, findings, result keys, and ``recheck``: its findings on another state document).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from ._acl import (DC_OWNER_CHOICES, FILEMAPS_SCOPES, FilemapsPolicy, filemaps_findings, plan_filemaps,
                   plan_service_security, plan_vss_access_control, service_sd_findings, vss_access_control_findings)
from ._exclusions import plan_exclusions
from ._findings import assess, check_name_patterns, matches_any, wanted_paths
from ._imagepath import FIXABLE_CODES, IMAGEPATH_CODES, imagepath_wanted_paths, plan_imagepath_fixes
from ._plan import Plan
from ._state import find_service
from ._vss import CRYPTSVC, plan_cryptsvc, writer_status_after


@dataclass(frozen=True)
class Concern:
    """One concern's planner (see the module docstring)."""

    name: str
    module: str  # the fix module that plans this concern on its own
    spec: dict[str, Any]  # shared by the fix module and the remediation: copy it before changing it
    plan: Callable[..., Plan]
    check: Callable[[dict, dict], None] = lambda args, raw: None
    wanted: Callable[[dict, dict], list[str]] = lambda state, args: []
    spec_options: dict[str, Any] = field(default_factory=dict)
    restarts_cryptsvc: bool = False  # a change it makes takes effect in the System Writer after a CryptSvc restart


# -- ImagePath ----------------------------------------------------------------------------------------------

IMAGEPATH_SPEC = {
    "fix": {"type": "list", "elements": "str", "choices": list(FIXABLE_CODES), "default": list(FIXABLE_CODES)},
    "include": {"type": "list", "elements": "str", "default": ["*"]},
    "exclude": {"type": "list", "elements": "str", "default": []},
    "report_only": {"type": "bool", "default": False},
}


def _service_selected(subject: str, include: list[str], exclude: list[str]) -> bool:
    name = subject.split(":", 1)[1]
    return matches_any(name, include) and not matches_any(name, exclude)


def check_imagepath(args: dict, raw: dict) -> None:
    if not args["include"]:
        raise ValueError("include: give at least one service name pattern (default ['*'])")
    for option in ("include", "exclude"):
        check_name_patterns(option, raw.get(option), args[option])


def plan_imagepath(state: dict, args: dict) -> Plan:
    include, exclude = args["include"], args["exclude"]

    def recheck(doc):
        return [f for f in assess(doc, IMAGEPATH_CODES) if _service_selected(f.subject, include, exclude)]

    operations, rows = plan_imagepath_fixes(state, args["fix"], include, exclude)
    if args["report_only"]:
        operations = []
    services = [row for row in rows if row["defects"]]
    return Plan(operations=operations, findings=recheck(state), recheck=recheck,
                result={"services": services, "report_only": args["report_only"]})


IMAGEPATH = Concern("imagepath", "win_service_imagepath", IMAGEPATH_SPEC, plan_imagepath, check_imagepath,
                    lambda state, args: list(imagepath_wanted_paths(state)))  # missing_file needs existence


# -- ExcludedBinaryPaths (KB 980794) ---------------------------------------------------------------------------

EXCLUSION_CODES = ("exclusion_invalid",)
UNREACHABLE_CODES = ("missing_volume", "missing_file")
EXCLUSIONS_SPEC = {
    "paths": {"type": "list", "elements": "str", "default": []},
    "state": {"type": "str", "default": "present", "choices": ["present", "absent", "exact"]},
    "exclude_unreachable": {"type": "bool", "default": False},
    "include_missing_file": {"type": "bool", "default": False},
    "remove_invalid": {"type": "bool", "default": False},
    "replace_wrong_kind": {"type": "bool", "default": False},
}


def check_exclusions(args: dict, raw: dict) -> None:  # pylint: disable=unused-argument
    if args["include_missing_file"] and not args["exclude_unreachable"]:
        raise ValueError("include_missing_file needs exclude_unreachable: true")
    if args["exclude_unreachable"] and args["state"] == "absent":
        raise ValueError("exclude_unreachable adds paths: it cannot be combined with state: absent")


def exclusions_wanted_paths(state: dict, args: dict) -> list[str]:
    # File existence matters only for missing_file exclusions; missing_volume needs the volumes alone.
    return wanted_paths(state) if args["exclude_unreachable"] and args["include_missing_file"] else []


def plan_exclusions_concern(state: dict, args: dict) -> Plan:
    unreachable = []
    if args["exclude_unreachable"]:
        for finding in assess(state, UNREACHABLE_CODES):
            path = finding.evidence.get("exclusion_path")
            if path:
                unreachable.append({"path": path, "code": finding.code})
    planned = plan_exclusions(state, args["paths"], args["state"], remove_invalid=args["remove_invalid"],
                              replace_wrong_kind=args["replace_wrong_kind"],
                              exclude_unreachable=args["exclude_unreachable"],
                              include_missing_file=args["include_missing_file"], unreachable_paths=unreachable)
    if planned["errors"]:
        raise ValueError("invalid ExcludedBinaryPaths entries, nothing written: " + "; ".join(planned["errors"]))
    result = {key: planned[key] for key in ("before", "after", "added", "removed", "invalid_existing", "notes",
                                            "wrong_kind")}
    result["cryptsvc_restart_needed"] = bool(planned["operations"])
    return Plan(operations=planned["operations"], findings=assess(state, EXCLUSION_CODES), result=result,
                recheck=lambda after: assess(after, EXCLUSION_CODES))


SYSTEMWRITER = Concern("systemwriter", "win_systemwriter_exclusions", EXCLUSIONS_SPEC, plan_exclusions_concern,
                       check_exclusions, exclusions_wanted_paths,
                       spec_options={"required_by": {"include_missing_file": ["exclude_unreachable"]}},
                       restarts_cryptsvc=True)


# -- filemaps and PendingRenames --------------------------------------------------------------------------------

FILEMAPS_SPEC = {
    "scope": {"type": "list", "elements": "str", "choices": list(FILEMAPS_SCOPES), "default": list(FILEMAPS_SCOPES)},
    "users_read": {"type": "bool", "default": True},
    "dc_owner": {"type": "str", "default": "administrators", "choices": list(DC_OWNER_CHOICES)},
    "domain_sid": {"type": "str"},
    "strict_owner": {"type": "bool", "default": False},
}


def check_filemaps(args: dict, raw: dict) -> None:  # pylint: disable=unused-argument
    if not args["scope"]:
        raise ValueError("scope: give at least one of " + ", ".join(FILEMAPS_SCOPES))
    filemaps_policy(args)  # a bad domain_sid (or owner choice) before the host is read


def filemaps_policy(args: dict) -> FilemapsPolicy:
    """The policy the options ask for (FilemapsPolicyError, a ValueError, names a bad option)."""
    policy_args = {"users_read": args["users_read"], "dc_owner": args["dc_owner"], "domain_sid": args["domain_sid"]}
    if args["strict_owner"]:
        policy_args["accepted_owners"] = ()
    return FilemapsPolicy(**policy_args)


def plan_filemaps_concern(state: dict, args: dict) -> Plan:
    policy = filemaps_policy(args)
    operations, rows = plan_filemaps(state, policy, args["scope"])

    def recheck(doc):
        return list(filemaps_findings(doc, policy))

    result = {"targets": rows, "cryptsvc_restart_needed": bool(operations)}
    return Plan(operations=operations, findings=recheck(state), result=result, recheck=recheck)


FILEMAPS = Concern("filemaps", "win_filemaps_acl", FILEMAPS_SPEC, plan_filemaps_concern, check_filemaps,
                   restarts_cryptsvc=True)


# -- VssAccessControl and driver service descriptors ------------------------------------------------------------

WRITER_ACCESS_SPEC = {
    "vss_access_control": {"type": "bool", "default": True},
    "service_descriptors": {"type": "bool", "default": True},
    "services": {"type": "list", "elements": "str", "default": ["*"]},
}


def check_writer_access(args: dict, raw: dict) -> None:
    if not (args["vss_access_control"] or args["service_descriptors"]):
        raise ValueError("nothing to do: vss_access_control and service_descriptors are both false")
    if not args["services"]:
        raise ValueError("services: give at least one name or pattern (default ['*'])")
    check_name_patterns("services", raw.get("services"), args["services"])


def plan_writer_access(state: dict, args: dict) -> Plan:
    patterns = args["services"]

    def recheck(doc):
        found = []
        if args["vss_access_control"]:
            found.extend(vss_access_control_findings(doc))
        if args["service_descriptors"]:
            found.extend(f for f in service_sd_findings(doc) if matches_any(f.subject.split(":", 1)[1], patterns))
        return found

    operations, rows = [], []
    if args["vss_access_control"]:
        ops, vss_rows = plan_vss_access_control(state)
        operations += ops
        rows += vss_rows
    if args["service_descriptors"]:
        names = [s["name"] for s in state["services"] if matches_any(s["name"], patterns)]
        ops, sd_rows = plan_service_security(state, names)
        operations += ops
        rows += sd_rows
    return Plan(operations=operations, findings=recheck(state), result={"targets": rows}, recheck=recheck)


WRITER_ACCESS = Concern("writer_access", "win_writer_access", WRITER_ACCESS_SPEC, plan_writer_access,
                        check_writer_access, restarts_cryptsvc=True)


# -- Cryptographic Services and the System Writer (KB 2009272) --------------------------------------------------

CRYPTSVC_CODES = ("cryptsvc_state", "system_writer_missing", "system_writer_failed")
CRYPTSVC_SPEC = {
    "start_mode": {"type": "str", "default": "auto", "choices": ["auto", "manual"]},
    "state": {"type": "str", "default": "started", "choices": ["started", "restarted"]},
    "ensure_system_writer": {"type": "bool", "default": True},
}
BACKUP_WINDOW = 20  # backups read with the probe, to know when this collection last restarted CryptSvc


def _restarts(backup: dict) -> bool:
    return any(_is_restart(op) for op in backup.get("undo") or [])


def _is_restart(op: dict) -> bool:
    return op.get("op") == "service_state" and str(op.get("service", "")).lower() == CRYPTSVC.lower()


def last_restart(backups: list[dict]) -> tuple[str | None, bool]:
    """When this collection last started or restarted CryptSvc (the newest backup recording it), or None; and
    whether that was its last change (no newer backup, and nothing after the restart in its own: a remediation applies
    its fixes, then the restart, in one backup; a restart now would find the same host)."""
    usable = [b for b in backups if b.get("trusted", True) and b.get("status") == "committed" and b.get("undo")
              and not (b.get("label") or {}).get("rollback_of")]
    for position, backup in enumerate(usable):
        if _restarts(backup):
            last = _is_restart(backup["undo"][-1])  # the undo list is in the order the operations were applied
            return backup.get("created"), position == 0 and last
    return None, False


def cryptsvc_summary(state: dict) -> dict | None:
    service = find_service(state, CRYPTSVC)
    return None if service is None else {"state": service["state"], "start_mode": service["start_mode"]}


def plan_cryptsvc_concern(state: dict, args: dict, restarted_at: str | None = None,
                          nothing_changed_since: bool = False) -> Plan:
    """``restarted_at``/``nothing_changed_since``: :func:`last_restart` of the host's backups."""
    planned = plan_cryptsvc(state, args["start_mode"], args["state"], args["ensure_system_writer"],
                            last_restart=restarted_at, nothing_changed_since=nothing_changed_since)
    if planned["errors"]:
        raise ValueError("; ".join(planned["errors"]))
    codes = CRYPTSVC_CODES if args["ensure_system_writer"] else ("cryptsvc_state",)
    result = {
        "cryptsvc": cryptsvc_summary(state),
        "reasons": planned["reasons"],
        "restart_for_writer": planned["restart_for_writer"],
        "blocked_by": planned["blocked_by"],
        "system_writer": writer_status_after(state) if args["ensure_system_writer"] else None,
    }
    return Plan(operations=planned["operations"], findings=assess(state, codes), result=result,
                recheck=lambda after: assess(after, codes))


def cryptsvc_after(state: dict, args: dict, result: dict, restarted: bool, since: str) -> None:
    """The result keys that only the state after the apply can tell: CryptSvc, and after a (re)start the System
    Writer with the CAPI2 and VSS events logged since ``since`` (the time of the state read before)."""
    result["cryptsvc"] = cryptsvc_summary(state)
    if restarted and args["ensure_system_writer"]:
        result["system_writer"] = writer_status_after(state, since=since)


CRYPTSVC_CONCERN = Concern("cryptsvc", "win_cryptsvc", CRYPTSVC_SPEC, plan_cryptsvc_concern)

# In the order a remediation plans and applies them: the fixes first, CryptSvc (and its one restart) last.
CONCERNS = (IMAGEPATH, SYSTEMWRITER, FILEMAPS, WRITER_ACCESS, CRYPTSVC_CONCERN)
