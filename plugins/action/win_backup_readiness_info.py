# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""win_backup_readiness_info: the host state, every finding of every check, and whether the host is ready."""

from __future__ import annotations

import datetime
import os
from collections import Counter

from ansible_collections.backupready.windows.plugins.plugin_utils._action import BackupReadyAction
from ansible_collections.backupready.windows.plugins.plugin_utils._findings import (
    CODES, SEVERITIES, assess, severity_rank)
from ansible_collections.backupready.windows.plugins.plugin_utils._plan import Plan
from ansible_collections.backupready.windows.plugins.plugin_utils._waivers import (
    EXPIRED, WAIVED, apply_waivers, read_waivers_file, validate_waivers)


def waived_findings(host: str, findings, waivers, today: datetime.date) -> list[dict]:
    """Each finding as a dict, marked waived (with the reason) or not; an expired waiver says when it expired."""
    marked = []
    for finding, waiver, status in apply_waivers(host, [f.as_dict() for f in findings], waivers, today):
        row = dict(finding)
        row["waived"] = status == WAIVED
        row["waiver_reason"] = waiver.reason if status == WAIVED else None
        row["waiver_expires"] = waiver.expires.isoformat() if status == WAIVED and waiver.expires else None
        row["waiver_expired"] = waiver.expires.isoformat() if status == EXPIRED and waiver.expires else None
        marked.append(row)
    return marked


class ActionModule(BackupReadyAction):
    READ_ONLY = True
    ARGUMENT_SPEC = {
        "fail_on": {"type": "str", "default": "error", "choices": list(SEVERITIES)},
        "codes": {"type": "list", "elements": "str", "choices": sorted(CODES)},
        "waivers": {"type": "list", "elements": "dict", "default": []},
        "waivers_file": {"type": "path"},
        "include_state": {"type": "bool", "default": False},
    }

    def check_arguments(self, args):
        # Waivers are checked before the host is contacted: a bad one fails the task naming the entry and field.
        # ``host`` defaults to every host here (a waiver in a host's own vars); waiver files must name it.
        waivers = [dict({"host": "*"}, **w) if isinstance(w, dict) else w for w in args["waivers"]]
        self._waivers = validate_waivers(waivers, "waivers")
        path = args["waivers_file"]
        if path:
            path = os.path.abspath(path)  # relative to where ansible-playbook runs, like the report's file
            self._waivers += read_waivers_file(path, "waivers_file")

    def plan(self, state, args):
        findings = assess(state, args["codes"])
        host = str(self._task_vars_host or state["host"]["name"])
        marked = waived_findings(host, findings, self._waivers, datetime.date.today())
        threshold = severity_rank(args["fail_on"])
        blocking = [f for f in marked if not f["waived"] and severity_rank(f["severity"]) >= threshold]
        by_severity = Counter(f.severity for f in findings)
        result = {
            "ready": not blocking,
            "fail_on": args["fail_on"],
            "summary": {
                "host": state["host"]["name"],
                "os": state["host"].get("os_caption") or state["host"]["os_version"],
                "services": len(state["services"]),
                "findings": len(findings),
                "blocking": len(blocking),
                "waived": sum(1 for f in marked if f["waived"]),
                "by_severity": {s: by_severity[s] for s in SEVERITIES if by_severity[s]},
                "by_code": dict(sorted(Counter(f.code for f in findings).items())),
            },
        }
        if args["include_state"]:
            result["state"] = state
        return Plan(findings=findings, result=result, marked_findings=marked)

    def run(self, tmp=None, task_vars=None):
        self._task_vars_host = (task_vars or {}).get("inventory_hostname")
        return super().run(tmp, task_vars)
