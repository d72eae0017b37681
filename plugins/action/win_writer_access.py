# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""win_writer_access: what the System Writer's account may open, VssAccessControl and driver service descriptors."""

from __future__ import annotations

from ansible_collections.backupready.windows.plugins.plugin_utils._acl import (
    plan_service_security, plan_vss_access_control, service_sd_findings, vss_access_control_findings)
from ansible_collections.backupready.windows.plugins.plugin_utils._action import BackupReadyAction
from ansible_collections.backupready.windows.plugins.plugin_utils._findings import check_name_patterns, matches_any
from ansible_collections.backupready.windows.plugins.plugin_utils._plan import Plan


class ActionModule(BackupReadyAction):
    ARGUMENT_SPEC = {
        "vss_access_control": {"type": "bool", "default": True},
        "service_descriptors": {"type": "bool", "default": True},
        "services": {"type": "list", "elements": "str", "default": ["*"]},
    }

    def check_arguments(self, args):
        if not (args["vss_access_control"] or args["service_descriptors"]):
            raise ValueError("nothing to do: vss_access_control and service_descriptors are both false")
        if not args["services"]:
            raise ValueError("services: give at least one name or pattern (default ['*'])")
        check_name_patterns("services", self._task.args.get("services"), args["services"])

    def wanted_paths(self, state, args):
        return []

    def plan(self, state, args):
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
