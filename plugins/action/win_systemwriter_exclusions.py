# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""win_systemwriter_exclusions: the SystemWriter ExcludedBinaryPaths multi-string (KB 980794)."""

from __future__ import annotations

from ansible_collections.backupready.windows.plugins.plugin_utils._action import BackupReadyAction
from ansible_collections.backupready.windows.plugins.plugin_utils._exclusions import plan_exclusions
from ansible_collections.backupready.windows.plugins.plugin_utils._findings import assess, wanted_paths
from ansible_collections.backupready.windows.plugins.plugin_utils._plan import Plan

CODES = ("exclusion_invalid",)
UNREACHABLE_CODES = ("missing_volume", "missing_file")


class ActionModule(BackupReadyAction):
    ARGUMENT_SPEC = {
        "paths": {"type": "list", "elements": "str", "default": []},
        "state": {"type": "str", "default": "present", "choices": ["present", "absent", "exact"]},
        "exclude_unreachable": {"type": "bool", "default": False},
        "include_missing_file": {"type": "bool", "default": False},
        "remove_invalid": {"type": "bool", "default": False},
        "replace_wrong_kind": {"type": "bool", "default": False},
    }
    SPEC_OPTIONS = {"required_by": {"include_missing_file": ["exclude_unreachable"]}}

    def check_arguments(self, args):
        if args["include_missing_file"] and not args["exclude_unreachable"]:
            raise ValueError("include_missing_file needs exclude_unreachable: true")
        if args["exclude_unreachable"] and args["state"] == "absent":
            raise ValueError("exclude_unreachable adds paths: it cannot be combined with state: absent")

    def wanted_paths(self, state, args):
        # File existence matters only for missing_file exclusions; missing_volume needs the volumes alone.
        return wanted_paths(state) if args["exclude_unreachable"] and args["include_missing_file"] else []

    def plan(self, state, args):
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
        return Plan(operations=planned["operations"], findings=assess(state, CODES), result=result,
                    recheck=lambda after: assess(after, CODES))
