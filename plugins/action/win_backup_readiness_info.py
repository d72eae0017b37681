# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""win_backup_readiness_info: the host state, every finding of every check, and whether the host is ready.

The result records how it was judged: the ``fail_on`` used and where it came from, the waivers applied (with
their reasons, end dates and source), the baseline it was compared with. The fleet report reads the result,
never a configuration of its own, so the report and a gate on ``ready`` / ``gate_passed`` always agree.
"""

from __future__ import annotations

import datetime
import json
import os
import re
from collections import Counter
from types import MappingProxyType
from typing import Mapping

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase

from ansible_collections.backupready.windows.plugins.filter.readiness import readiness_lines
from ansible_collections.backupready.windows.plugins.plugin_utils._action import BackupReadyAction, template_variables
from ansible_collections.backupready.windows.plugins.plugin_utils._findings import (
    CODES, SEVERITIES, assess, finding_key, severity_rank)
from ansible_collections.backupready.windows.plugins.plugin_utils._plan import Plan
from ansible_collections.backupready.windows.plugins.plugin_utils._report import REPORT_FORMAT
from ansible_collections.backupready.windows.plugins.plugin_utils._settings import load_definitions, report_setting
from ansible_collections.backupready.windows.plugins.plugin_utils._waivers import (
    EXPIRED, WAIVED, WaiverError, apply_waivers, read_waivers_file, validate_waivers)
from ansible_collections.backupready.windows.plugins.plugin_utils._display import shown

INLINE_WAIVERS = "task option waivers"
# The options that say how a host is judged (the remediation takes them too)
ASSESSMENT_OPTIONS = ("fail_on", "waivers", "waivers_file", "baseline", "fail_on_new_only")
# playbook_variables: the option each of the assess playbook's variables stands for
PLAYBOOK_VARIABLES = {f"backupready_{option}": option for option in ASSESSMENT_OPTIONS}
# set to a false value, an option is left unset (the report's setting applies), as ``default(omit, true)`` did
UNSET_WHEN_EMPTY = ("waivers_file", "baseline")
GATE_VARIABLE = "backupready_gate"

load_definitions()  # at load time, in the controller: the workers it forks inherit the report's option definitions


def waived_findings(host: str, findings, waivers, today: datetime.date) -> list[dict]:
    """Each finding as a dict, marked waived (with the reason and where the waiver came from) or not; an expired
    waiver says when it expired."""
    marked = []
    for finding, waiver, status in apply_waivers(host, [f.as_dict() for f in findings], waivers, today):
        row = dict(finding)
        row["waived"] = status == WAIVED
        row["waiver_reason"] = waiver.reason if status == WAIVED else None
        row["waiver_expires"] = waiver.expires.isoformat() if status == WAIVED and waiver.expires else None
        row["waiver_expired"] = waiver.expires.isoformat() if status == EXPIRED and waiver.expires else None
        row["waiver_source"] = (waiver.source or None) if status == WAIVED else None
        marked.append(row)
    return marked


def read_baseline(path: str, where: str) -> dict:
    """The report.json of an earlier run, checked enough to compare with; a ValueError names the file."""
    try:
        with open(path, encoding="utf-8") as handle:
            doc = json.load(handle)
    except OSError as exc:
        raise ValueError(f"{where}: cannot read {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise ValueError(f"{where}: {path} is not valid JSON ({exc}); give the report.json of an earlier run") from None
    if not isinstance(doc, dict) or doc.get("format") != REPORT_FORMAT or not isinstance(doc.get("hosts"), list):
        raise ValueError(f"{where}: {path} is not a backupready report.json (no \"format\": \"{REPORT_FORMAT}\" "
                         f"with a list of hosts)")
    return doc


def compare_with_baseline(host: str, marked: list[dict], doc: dict, path: str) -> dict:
    """New, resolved and unchanged findings of ``host`` against the baseline report (keys: code and subject).

    Keys are counted, not merged: a host can have two findings with one code and subject (filemaps files with a bad
    owner and files with bad entries), and each is new, resolved or unchanged on its own. ``new_flags`` tells, for
    each of ``marked`` in order, whether it is new. A host the baseline did not assess has no known findings:
    everything found now is new.
    """
    before = next((h for h in doc["hosts"] if isinstance(h, dict) and str(h.get("name", "")).lower() == host.lower()),
                  None)
    known: list[dict] = []
    if before is not None and before.get("assessed", True):
        known = [{"code": str(f.get("code")), "subject": str(f.get("subject"))}
                 for f in before.get("findings") or [] if isinstance(f, dict)]
    left = Counter(finding_key(f) for f in known)
    new, unchanged, new_flags = [], [], []
    for finding in marked:
        key, item = finding_key(finding), {"code": finding["code"], "subject": finding["subject"]}
        if left[key] > 0:
            left[key] -= 1
            unchanged.append(item)
            new_flags.append(False)
        else:
            new.append(item)
            new_flags.append(True)
    resolved = []
    for item in known:
        if left[finding_key(item)] > 0:
            left[finding_key(item)] -= 1
            resolved.append(item)
    return {
        "path": path,
        "generated": (doc.get("run") or {}).get("finished") if isinstance(doc.get("run"), dict) else None,
        "host_in_baseline": before is not None and bool(before.get("assessed", True)),
        "new": new,
        "resolved": resolved,
        "unchanged": unchanged,
        "new_flags": new_flags,
    }


def not_ready_verdict(result: dict, host: str) -> str:
    """Why the host does not pass the gate (the first line of the playbooks' failure message), or ''."""
    if result.get("gate_passed"):
        return ""
    settings = result.get("settings") or {}
    new = "new findings since the baseline: " if settings.get("fail_on_new_only") else ""
    return (f"{new}{host} is not ready for a System State backup at fail_on {result.get('fail_on')} "
            f"({settings.get('fail_on_origin')}):")


def add_lines(result: dict, host: str, verdict: str, check_mode: bool | None = None) -> None:
    """The host's lines as the playbooks show them (``lines``), and ``verdict``: ``verdict``, then the lines, one
    text (the message of a host that fails the gate), or '' when ``verdict`` is ''. Computed here once, so that the
    playbooks' task that shows them and is the gate only reads them."""
    result["lines"] = readiness_lines(result, host, check_mode)
    result["verdict"] = "\n".join([verdict, *result["lines"]]) if verdict else ""


def add_not_ready_group(action, result: dict, group: str, failing: bool) -> None:
    """not_ready_group: record the group in the result, and add the host to it when it does not pass the gate (never
    when the task failed), so that a later play can fail those hosts only: a playbook without a gate task per host
    relies on it.

    ansible-core 2.21 and later: through the action's own ``add_group`` (as ``ansible.builtin.group_by`` does there),
    which leaves ``changed`` alone. Before: Ansible's strategy reads ``add_group`` and ``parent_groups`` from the
    result of any action, as it does group_by's, and then sets ``changed`` to whether the inventory changed:
    ``host_changed`` keeps whether the host did, for the task's ``changed_when``.
    """
    result["not_ready_group"] = group
    result["host_changed"] = bool(result.get("changed"))
    if not failing or result.get("failed"):
        return
    result.update(add_group=group, parent_groups=["all"])
    if hasattr(ActionBase, "add_group"):
        action.add_group(group, parent_group_names=["all"])


class ActionModule(BackupReadyAction):
    READ_ONLY = True
    ARGUMENT_SPEC = {
        # No default: the shared setting (BACKUPREADY_FAIL_ON, ansible.cfg [backupready] fail_on) or error.
        "fail_on": {"type": "str", "choices": list(SEVERITIES)},
        "codes": {"type": "list", "elements": "str", "choices": sorted(CODES)},
        "waivers": {"type": "list", "elements": "dict", "default": []},
        "waivers_file": {"type": "path"},
        "baseline": {"type": "path"},
        "fail_on_new_only": {"type": "bool"},
        "include_state": {"type": "bool", "default": False},
        "playbook_variables": {"type": "bool", "default": False},
        "not_ready_group": {"type": "str"},
    }
    _variable_args: dict | None = None  # playbook_variables: the options read from the variables
    # where an option given by the task came from, when not the task option itself (each run sets its own)
    _origins: Mapping[str, str] = MappingProxyType({})

    def validate_argument_spec(self, argument_spec=None, **kwargs):
        if self._variable_args is None:
            return super().validate_argument_spec(argument_spec=argument_spec, **kwargs)
        validation = ArgumentSpecValidator(argument_spec, **kwargs).validate(self._variable_args)
        if validation.error_messages:
            # Ansible's messages, naming the variable the option came from
            names = {option: name for name, option in PLAYBOOK_VARIABLES.items()}
            # only where a message names the option (the value as given is left as it is)
            pattern = re.compile(r"(value of |argument '|option '|found in |parameters are required: |mutually exclusive: )("
                                 + "|".join(names) + r")\b")
            messages = [pattern.sub(lambda m: m.group(1) + names[m.group(2)], message)
                        for message in validation.error_messages]
            raise AnsibleActionFail("Validation of the playbook's variables failed:\n" + "\n".join(messages)
                                    + "\nnothing was read", result={"argument_errors": messages})
        return validation, validation.validated_parameters

    def playbook_variables(self, task_vars: dict) -> dict:
        """The task's arguments with the assessment's options taken from the assess playbook's variables (templated
        together; one unset, ``omit`` or, for a file, empty leaves its option unset)."""
        given = sorted(set(self._task.args) & set(PLAYBOOK_VARIABLES.values()))
        if given:
            raise AnsibleActionFail(f"playbook_variables takes {', '.join(PLAYBOOK_VARIABLES.values())} from the "
                                    f"variables {', '.join(PLAYBOOK_VARIABLES)}: do not give {', '.join(given)} as "
                                    "well; nothing was read")
        names = [name for name in (*PLAYBOOK_VARIABLES, GATE_VARIABLE) if name in task_vars]
        values = template_variables(self._templar, {name: task_vars[name] for name in names}, "nothing was read",
                                    task_vars.get("omit"))
        args = {key: value for key, value in self._task.args.items() if key != "playbook_variables"}
        self._gate = True
        for name, value in values.items():
            if value is None:
                continue
            if name == GATE_VARIABLE:
                self._gate = boolean(value, strict=False)  # as the playbook's ``| bool`` read it
                continue
            option = PLAYBOOK_VARIABLES[name]
            if option in UNSET_WHEN_EMPTY and not value:
                continue
            args[option] = value
            self._origins[option] = f"variable {name}"
        return args

    def _setting(self, args, option: str, setting: str | None = None):
        """The task's option, else the fleet report's setting of the same name (environment, ansible.cfg)."""
        if args.get(option) is not None:
            return args[option], self._origins.get(option, f"task option {option}")
        value, origin = report_setting(setting or option)
        return value, origin

    def check_arguments(self, args):
        # Everything is checked before the host is contacted: a bad waiver fails the task naming the entry and
        # field, a bad setting names where it was set.
        fail_on, self._fail_on_origin = self._setting(args, "fail_on")
        fail_on = str(fail_on or "error").lower()
        if fail_on not in SEVERITIES:
            raise ValueError(f"fail_on {shown(fail_on)} from {self._fail_on_origin} is not one of {', '.join(SEVERITIES)}")
        args["fail_on"] = fail_on

        # ``host`` defaults to every host here (a waiver in a host's own vars); waiver files must name it.
        waivers = [dict({"host": "*"}, **w) if isinstance(w, dict) else w for w in args["waivers"]]
        path, self._waivers_origin = self._setting(args, "waivers_file")
        self._waivers_files = []
        try:
            self._waivers = validate_waivers(waivers, self._origins.get("waivers", INLINE_WAIVERS)) if waivers else []
            if path:
                path = os.path.abspath(str(path))  # relative to where ansible-playbook runs, or to ansible.cfg
                label = "waivers_file" if self._waivers_origin.startswith("task") else f"waivers_file ({self._waivers_origin})"
                self._waivers += read_waivers_file(path, label)
                self._waivers_files.append(path)
        except WaiverError as exc:
            self._waivers_error = str(exc)
            raise ValueError(str(exc)) from None

        if args["include_state"] or (args["codes"] and not set(args["codes"]) >= set(CODES)):
            # A capture or a partial assessment gates nothing and makes no report: the fleet's baseline settings
            # (environment, ansible.cfg) are not read, so that a CI setting cannot break a capture.
            self._baseline_doc, self._baseline_path, self._new_only = None, None, False
            self._baseline_origin = self._new_only_origin = "not read (a capture or a partial assessment)"
            return
        baseline, self._baseline_origin = self._setting(args, "baseline")
        self._baseline_doc = None
        self._baseline_path = os.path.abspath(str(baseline)) if baseline else None
        if self._baseline_path:
            self._baseline_doc = read_baseline(self._baseline_path, f"baseline ({self._baseline_origin})")
        new_only, self._new_only_origin = self._setting(args, "fail_on_new_only")
        if isinstance(new_only, str):
            word = new_only.strip().lower()
            if word not in ("1", "true", "yes", "on", "0", "false", "no", "off", ""):
                raise ValueError(f"fail_on_new_only {shown(new_only)} from {self._new_only_origin} is not a boolean "
                                 "(true or false)")
            new_only = word in ("1", "true", "yes", "on")
        self._new_only = bool(new_only)
        if self._new_only and not self._baseline_doc:
            raise ValueError(f"fail_on_new_only is on ({self._new_only_origin}) but no baseline is given: set the "
                             "baseline option (or BACKUPREADY_BASELINE) to the report.json of an earlier run")

    def plan(self, state, args):
        findings = assess(state, args["codes"])
        host = str(self._task_vars_host or state["host"]["name"])
        marked = waived_findings(host, findings, self._waivers, datetime.date.today())
        threshold = severity_rank(args["fail_on"])
        blocking = [f for f in marked if not f["waived"] and severity_rank(f["severity"]) >= threshold]
        by_severity = Counter(f.severity for f in findings)
        baseline = None
        gate_passed = not blocking
        if self._baseline_doc is not None:
            baseline = compare_with_baseline(host, marked, self._baseline_doc, self._baseline_path)
            flags = baseline.pop("new_flags")
            blocking_ids = {id(f) for f in blocking}
            baseline["new_blocking"] = sum(1 for f, is_new in zip(marked, flags) if is_new and id(f) in blocking_ids)
            if self._new_only:
                gate_passed = baseline["new_blocking"] == 0
        result = {
            "ready": not blocking,
            "gate_passed": gate_passed,
            "complete": not args["codes"] or set(args["codes"]) >= set(CODES),
            "fail_on": args["fail_on"],
            "settings": {
                "fail_on": args["fail_on"],
                "fail_on_origin": self._fail_on_origin,
                "waivers_files": list(self._waivers_files),
                "waivers_origin": self._waivers_origin if self._waivers_files else None,
                "waivers_count": len(self._waivers),
                "fail_on_new_only": self._new_only,
                "fail_on_new_only_origin": self._new_only_origin,
            },
            "waived": [{"code": f["code"], "subject": f["subject"], "reason": f["waiver_reason"],
                        "expires": f["waiver_expires"], "waiver_source": f["waiver_source"]}
                       for f in marked if f["waived"]],
            "baseline": baseline,
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
        self._waivers_error = None
        self._origins, self._gate = {}, True
        if boolean(self._task.args.get("playbook_variables", False), strict=False):
            self._variable_args = self.playbook_variables(task_vars or {})
        try:
            result = super().run(tmp, task_vars)
            if result.get("complete"):
                host = str(self._task_vars_host or result["summary"]["host"])
                add_lines(result, host, not_ready_verdict(result, host))
                group = self._task.args.get("not_ready_group")
                if group:
                    add_not_ready_group(self, result, str(group), self._gate and not result["gate_passed"])
            return result
        except AnsibleActionFail as exc:
            if not self._waivers_error:
                raise
            # The report says that no waiver could be applied (run.waivers.error), not only that the host failed.
            raise AnsibleActionFail(self._waivers_error, result={"waivers_error": self._waivers_error}) from None
