# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""win_service_imagepath: diagnose every service's ImagePath the way the System Writer reads it, fix the safe ones."""

from __future__ import annotations

from ansible_collections.backupready.windows.plugins.plugin_utils._action import BackupReadyAction
from ansible_collections.backupready.windows.plugins.plugin_utils._findings import assess, check_name_patterns, matches_any
from ansible_collections.backupready.windows.plugins.plugin_utils._imagepath import (
    FIXABLE_CODES, IMAGEPATH_CODES, imagepath_wanted_paths, plan_imagepath_fixes)
from ansible_collections.backupready.windows.plugins.plugin_utils._plan import Plan


def _selected(subject: str, include: list[str], exclude: list[str]) -> bool:
    name = subject.split(":", 1)[1]
    return matches_any(name, include) and not matches_any(name, exclude)


class ActionModule(BackupReadyAction):
    ARGUMENT_SPEC = {
        "fix": {"type": "list", "elements": "str", "choices": list(FIXABLE_CODES), "default": list(FIXABLE_CODES)},
        "include": {"type": "list", "elements": "str", "default": ["*"]},
        "exclude": {"type": "list", "elements": "str", "default": []},
        "report_only": {"type": "bool", "default": False},
    }

    def check_arguments(self, args):
        if not args["include"]:
            raise ValueError("include: give at least one service name pattern (default ['*'])")
        for option in ("include", "exclude"):
            check_name_patterns(option, self._task.args.get(option), args[option])

    def wanted_paths(self, state, args):
        return list(imagepath_wanted_paths(state))  # missing_file needs existence: the probe's second call

    def plan(self, state, args):
        include, exclude = args["include"], args["exclude"]

        def recheck(doc):
            return [f for f in assess(doc, IMAGEPATH_CODES) if _selected(f.subject, include, exclude)]

        operations, rows = plan_imagepath_fixes(state, args["fix"], include, exclude)
        if args["report_only"]:
            operations = []
        services = [row for row in rows if row["defects"]]
        return Plan(operations=operations, findings=recheck(state), recheck=recheck,
                    result={"services": services, "report_only": args["report_only"]})
