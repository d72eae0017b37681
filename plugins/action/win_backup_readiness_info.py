# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""win_backup_readiness_info: the host state, every finding of every check, and whether the host is ready."""

from __future__ import annotations

from collections import Counter

from ansible_collections.backupready.windows.plugins.plugin_utils._action import BackupReadyAction
from ansible_collections.backupready.windows.plugins.plugin_utils._findings import (
    CODES, SEVERITIES, assess, is_ready)
from ansible_collections.backupready.windows.plugins.plugin_utils._plan import Plan


class ActionModule(BackupReadyAction):
    READ_ONLY = True
    ARGUMENT_SPEC = {
        "fail_on": {"type": "str", "default": "error", "choices": list(SEVERITIES)},
        "codes": {"type": "list", "elements": "str", "choices": sorted(CODES)},
        "include_state": {"type": "bool", "default": True},
    }

    def plan(self, state, args):
        findings = assess(state, args["codes"])
        by_severity = Counter(f.severity for f in findings)
        result = {
            "ready": is_ready(findings, args["fail_on"]),
            "fail_on": args["fail_on"],
            "summary": {
                "host": state["host"]["name"],
                "os": state["host"].get("os_caption") or state["host"]["os_version"],
                "services": len(state["services"]),
                "findings": len(findings),
                "by_severity": {s: by_severity[s] for s in SEVERITIES if by_severity[s]},
                "by_code": dict(sorted(Counter(f.code for f in findings).items())),
            },
        }
        if args["include_state"]:
            result["state"] = state
        return Plan(findings=findings, result=result)
