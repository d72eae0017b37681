# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What fixes a finding, and what to run next: the words the console shows after ``[fixable]``.

A finding is ``fixable`` when a module of this collection can fix it. Whether the ``remediate`` playbook does so
depends on the role variables: some fixes are on by default, others are opt-in. :func:`remedy_for` says which
role and module fix a finding and which variables must be set; :func:`fixable_tag` writes that as the tag of a
console line; :func:`next_step` is the line after a host's findings (the command to preview the fixes, or what
to read when nothing here fixes them).

The variable names and their defaults are those of ``roles/*/defaults/main.yml`` (a unit test checks that every
variable named here exists there with the default this table claims).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

PLAYBOOK = "backupready.windows.remediate"
RUN = f"ansible-playbook -i <inventory> {PLAYBOOK}"
PREVIEW = f"{RUN} --check --diff"
APPLY = f"{RUN} --diff"
REPORT_TO_READ = "each finding's fix in the fleet report (report.md in the report folder, ./backupready-report by default)"


@dataclass(frozen=True)
class Remedy:
    """The role (and its module) that fixes a finding under ``remediate``.

    ``controls``: the variables that decide it, with the value they have by default (all on: the fix runs
    by default). ``opt_in``: the variables to set (``name``, ``value``) because their default leaves it off.
    """

    role: str
    module: str
    controls: tuple[str, ...] = ()
    opt_in: tuple[tuple[str, Any], ...] = ()

    @property
    def on_by_default(self) -> bool:
        return not self.opt_in

    def settings(self) -> list[str]:
        return [f"{name}={_yaml(value)}" for name, value in self.opt_in]


def _yaml(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


_IMAGEPATH = ("readiness_fix_imagepath", "imagepath_fix")
_CRYPTSVC = ("readiness_fix_cryptsvc", "cryptsvc_ensure_system_writer")
_EXCLUSIONS_ON = ("readiness_fix_exclusions", True)

REMEDIES: dict[str, Remedy] = {
    "invalid_syntax": Remedy("imagepath", "win_service_imagepath", _IMAGEPATH),
    "quoted_driver": Remedy("imagepath", "win_service_imagepath", _IMAGEPATH),
    "embedded_nul": Remedy("imagepath", "win_service_imagepath", _IMAGEPATH),
    "unquoted_spaces": Remedy("imagepath", "win_service_imagepath", _IMAGEPATH),
    "exclusion_invalid": Remedy("systemwriter", "win_systemwriter_exclusions",
                                opt_in=(_EXCLUSIONS_ON, ("systemwriter_remove_invalid", True))),
    "missing_volume": Remedy("systemwriter", "win_systemwriter_exclusions",
                             opt_in=(_EXCLUSIONS_ON, ("systemwriter_exclude_unreachable", True))),
    # Excluding a binary that does not exist leaves it out of System State: opt-in, and the service's owner may
    # rather repair or remove the service (the finding's fix says both).
    "missing_file": Remedy("systemwriter", "win_systemwriter_exclusions",
                           opt_in=(_EXCLUSIONS_ON, ("systemwriter_exclude_unreachable", True),
                                   ("systemwriter_include_missing_file", True))),
    "cryptsvc_state": Remedy("cryptsvc", "win_cryptsvc", ("readiness_fix_cryptsvc", "cryptsvc_start_mode")),
    "system_writer_missing": Remedy("cryptsvc", "win_cryptsvc", _CRYPTSVC),
    "system_writer_failed": Remedy("cryptsvc", "win_cryptsvc", _CRYPTSVC),
    "filemaps_acl": Remedy("filemaps", "win_filemaps_acl", ("readiness_fix_filemaps", "filemaps_scope")),
    "vss_access_control": Remedy("filemaps", "win_writer_access", ("readiness_fix_filemaps", "filemaps_vss_access_control")),
    "service_sd_blocks_writer": Remedy("filemaps", "win_writer_access",
                                       ("readiness_fix_filemaps", "filemaps_service_descriptors")),
}

# ExcludedBinaryPaths of the wrong value kind is replaced, not cleaned (win_systemwriter_exclusions replace_wrong_kind).
WRONG_KIND = Remedy("systemwriter", "win_systemwriter_exclusions",
                    opt_in=(_EXCLUSIONS_ON, ("systemwriter_replace_wrong_kind", True)))


# Findings the module does not mark fixable (a binary is missing, not a value wrong) that an opt-in exclusion handles.
EXCLUDED_BY_OPT_IN = ("missing_volume", "missing_file")


def remedy_for(finding: Mapping[str, Any]) -> Remedy | None:
    """The remedy of a fixable finding (a finding as a dict), None when ``remediate`` has none for it."""
    code = finding.get("code")
    if code == "exclusion_invalid" and str(finding.get("subject", "")).startswith("value:"):
        return WRONG_KIND
    if not finding.get("fixable") and code not in EXCLUDED_BY_OPT_IN:
        return None
    if code in EXCLUDED_BY_OPT_IN and (finding.get("evidence") or {}).get("excluded"):
        return None  # already excluded: nothing left to set
    return REMEDIES.get(code)


def fixable_tag(finding: Mapping[str, Any]) -> str:
    """The tag after a fixable finding's message: by what it is fixed and whether that is on by default."""
    remedy = remedy_for(finding)
    if remedy is None:
        return "[fixable: by the collection's modules; see the fix text]"
    where = f"{PLAYBOOK}, role {remedy.role} ({remedy.module})"
    if remedy.on_by_default:
        return f"[fixable: {where}; on by default: {', '.join(remedy.controls)}]"
    return f"[fixable: {where}; off by default: set {' and '.join(remedy.settings())}]"


def opt_in_tag(finding: Mapping[str, Any]) -> str:
    """The tag of a finding not marked fixable that an opt-in switch of ``remediate`` handles, else ``""``."""
    if finding.get("fixable"):
        return ""
    remedy = remedy_for(finding)
    if remedy is None or remedy.on_by_default:
        return ""
    return f"[opt-in: {PLAYBOOK}, role {remedy.role} ({remedy.module}); set {' and '.join(remedy.settings())}]"


def _open(findings: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [f for f in findings if isinstance(f, Mapping) and not f.get("waived")]


def next_step(result: Mapping[str, Any], host: str | None = None, check_mode: bool | None = None) -> str | None:
    """The line after a host's findings: the command that previews the fixes, or what to read; None if nothing.

    ``host``: the inventory name, for ``--limit`` (shell-quoted). ``check_mode``: the findings are those left by a
    ``remediate --check`` run (default: what the result says, ``check_mode``), so the next step is to run it without
    ``--check`` rather than to preview it again.
    """
    if not isinstance(result, Mapping) or not isinstance(result.get("findings"), list):
        return None
    findings = _open(result["findings"])
    if not findings:
        return None
    if check_mode is None:
        check_mode = bool(result.get("check_mode"))
    switches: list[str] = []
    fixable = []
    for finding in findings:
        remedy = remedy_for(finding)
        if remedy is None or not (finding.get("fixable") or remedy.opt_in):
            continue
        fixable.append(finding)
        for setting in remedy.settings():
            if setting not in switches:
                switches.append(setting)
    limit = f" --limit {shlex.quote(str(host))}" if host else ""
    if fixable:
        extra = "".join(f" -e {setting}" for setting in switches)
        rest = len(findings) - len(fixable)
        also = f"; for the {rest} other finding(s), read {REPORT_TO_READ}" if rest else ""
        if check_mode:
            return (f"NEXT: this was a dry run (--check): to make the fixes it showed, run it without --check "
                    f"(`{APPLY}{limit}{extra}`){also}")
        return (f"NEXT: preview the fixes with `{PREVIEW}{limit}{extra}`, "
                f"then run it without --check{also}")
    return f"NEXT: nothing here is fixed by {PLAYBOOK}: read {REPORT_TO_READ} and the README's \"Finding codes\""
