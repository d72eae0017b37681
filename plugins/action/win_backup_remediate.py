# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""win_backup_remediate: assess, fix every enabled concern in one apply, and verify, from one probe.

One module call reads the host (with the backups, for when CryptSvc was last restarted), one tests the paths the
checks and the planners need, one applies the operations of every concern (the CryptSvc restart, when a fix needs
one, last and once), and one reads the host again only after a service (re)start, whose outcome cannot be
predicted. On a host with nothing to fix: two calls. Everything else is decided here, on the state in hand, by the
same planners the single-concern modules use (``_concerns.py``), and the verification is the twin's exact
prediction of what the apply wrote (``_twin.apply_to_state``), or the state read after the restart.
"""

from __future__ import annotations

import copy
import functools
import os
import re

from ansible.errors import AnsibleActionFail
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.backupready.windows.plugins.action.win_backup_readiness_info import (
    ASSESSMENT_OPTIONS, ActionModule as ReadinessInfo, add_lines, add_not_ready_group)
from ansible_collections.backupready.windows.plugins.plugin_utils._action import (
    COLLECTION_ROOT, findings_after, merge_paths, record_outcome, template_variables)
from ansible_collections.backupready.windows.plugins.plugin_utils._backend import BackendError, select_backend
from ansible_collections.backupready.windows.plugins.plugin_utils._concerns import (
    BACKUP_WINDOW, CONCERNS, CRYPTSVC_CONCERN, cryptsvc_after, last_restart)
from ansible_collections.backupready.windows.plugins.plugin_utils._findings import assessment_memo, wanted_paths
from ansible_collections.backupready.windows.plugins.plugin_utils._operations import OperationError, describe
from ansible_collections.backupready.windows.plugins.plugin_utils._plan import diff_for
from ansible_collections.backupready.windows.plugins.plugin_utils._planfile import (
    PlanFileError, follow_reviewed_plan, task_key)
from ansible_collections.backupready.windows.plugins.plugin_utils._state import StateError
from ansible_collections.backupready.windows.plugins.plugin_utils._twin import TwinError, apply_to_state
from ansible_collections.backupready.windows.plugins.plugin_utils._display import shown

# What CryptSvc's restart does when a fix needs one and the cryptsvc concern is off: what the fix roles' handler
# (win_cryptsvc with state restarted) did.
RESTART_ARGS = {"start_mode": "auto", "state": "restarted", "ensure_system_writer": True}
ASSESSMENT_KEYS = ("ready", "gate_passed", "complete", "fail_on", "settings", "waived", "baseline", "summary")

# select_by_tags: the tags of each phase, as the readiness role documents them. A phase runs when Ansible would run
# a task with these tags (and the task's own inherited tags) under the run's --tags and --skip-tags.
PHASE_TAGS = {
    "assess": {"readiness", "assess"},
    "imagepath": {"readiness", "remediate", "imagepath"},
    "systemwriter": {"readiness", "remediate", "systemwriter"},
    "filemaps": {"readiness", "remediate", "filemaps"},
    "writer_access": {"readiness", "remediate", "filemaps"},
    "cryptsvc": {"readiness", "remediate", "cryptsvc"},
    "verify": {"readiness", "verify"},
}
ALL_PHASE_TAGS = set().union(*PHASE_TAGS.values())
MODULES = {concern.name: concern.module for concern in CONCERNS}


def tags_select(tags: set[str], only_tags, skip_tags) -> bool:
    """Whether Ansible runs a task with ``tags`` under ``--tags only_tags --skip-tags skip_tags`` (the rules of
    ``ansible.playbook.taggable.Taggable.evaluate_tags``)."""
    only, skip = set(only_tags or []), set(skip_tags or [])
    untagged = not tags
    tags = tags or {"untagged"}
    run = True
    if only:
        run = ("always" in tags or ("all" in only and "never" not in tags) or not tags.isdisjoint(only)
               or ("tagged" in only and not untagged and "never" not in tags))
    if run and skip:
        if "all" in skip:
            run = "always" in tags and "always" not in skip
        elif not tags.isdisjoint(skip) or ("tagged" in skip and not untagged):
            run = False
    return run


def _role_spec() -> dict:
    """The readiness role's argument spec (its variables and the concern roles'), read once, at load time."""
    import yaml  # pylint: disable=import-outside-toplevel

    with open(os.path.join(COLLECTION_ROOT, "roles", "readiness", "meta", "argument_specs.yml"), encoding="utf-8") as handle:
        options = yaml.safe_load(handle)["argument_specs"]["main"]["options"]
    options.pop("backupready_plan_dir", None)  # read by every writing task of the collection itself (_planfile)
    return options


ROLE_SPEC = _role_spec()
# role variable -> (option, sub-option) of this module; the concern variables by their prefix below
ROLE_OPTIONS = {
    "readiness_fail_on": ("fail_on", None), "readiness_waivers": ("waivers", None),
    "readiness_waivers_file": ("waivers_file", None), "readiness_baseline": ("baseline", None),
    "readiness_fail_on_new_only": ("fail_on_new_only", None), "readiness_remediate": ("remediate", None),
    "readiness_not_ready_group": ("not_ready_group", None),
    "readiness_fix_imagepath": ("imagepath", "enabled"), "readiness_fix_exclusions": ("systemwriter", "enabled"),
    "readiness_fix_filemaps": ("filemaps", "enabled"), "readiness_fix_cryptsvc": ("cryptsvc", "enabled"),
    "filemaps_vss_access_control": ("writer_access", "vss_access_control"),
    "filemaps_service_descriptors": ("writer_access", "service_descriptors"),
    "filemaps_services": ("writer_access", "services"),
}
# Validated with the rest, not options of this module: readiness_gate and readiness_fail_on_drift decide fails_gate
# (which the role's gate task and not_ready_group act on), readiness_strict_vars is read by every module of the
# collection (check_variable_names), readiness_playbook_variables here (role_variables).
ROLE_ONLY = ("readiness_gate", "readiness_strict_vars", "readiness_fail_on_drift", "readiness_playbook_variables")
# readiness_playbook_variables: the remediate playbook's variables and the role variable each stands for (which,
# when the playbook's is unset, takes its default from the role's spec)
PLAYBOOK_VARIABLES = {f"backupready_{name}": f"readiness_{name}" for name in (*ASSESSMENT_OPTIONS, "fail_on_drift")}
CONCERN_PREFIXES = ("imagepath", "systemwriter", "filemaps", "cryptsvc")
TRUE_WORDS, FALSE_WORDS = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


@functools.lru_cache(maxsize=None)
def extra_variable_names() -> frozenset[str]:
    """The names of the run's extra variables (``-e``), read once a process (at load time, in the controller)."""
    try:
        from ansible.parsing.dataloader import DataLoader  # pylint: disable=import-outside-toplevel
        from ansible.utils.vars import load_extra_vars  # pylint: disable=import-outside-toplevel

        return frozenset(load_extra_vars(DataLoader()))
    except Exception:  # pylint: disable=broad-except  # no CLI arguments (a unit test) or a bad -e: Ansible says so
        return frozenset()


extra_variable_names()


def _option_of(name: str) -> tuple[str, str | None]:
    known = ROLE_OPTIONS.get(name)
    if known:
        return known
    prefix, _sep, sub = name.partition("_")
    if prefix not in CONCERN_PREFIXES or not sub:
        raise ValueError(f"internal error: the role variable {name} stands for no option of win_backup_remediate")
    return prefix, sub


# (option, sub-option) -> the role variable, to name it in a concern's message
ROLE_NAMES = {_option_of(name): name for name in ROLE_SPEC if name not in ROLE_ONLY}


def options_from_role_variables(values: dict, strict: bool = True) -> dict:
    """This module's options from the readiness role's variables (validated, their defaults filled in). ``strict``:
    a readiness_fail_on_new_only that is not a boolean word is a ValueError (otherwise it is left as it is)."""
    args: dict = {name: {} for name in ("imagepath", "systemwriter", "filemaps", "writer_access", "cryptsvc")}
    for name, value in values.items():
        if name in ROLE_ONLY:
            continue
        option, sub = _option_of(name)
        if option in ("fail_on", "waivers_file", "baseline", "fail_on_new_only") and value in ("", None):
            continue  # empty: the fleet report's setting (environment, ansible.cfg) or the default
        if option == "fail_on_new_only" and not isinstance(value, bool):
            word = str(value).strip().lower()
            if strict and word not in TRUE_WORDS + FALSE_WORDS:
                raise ValueError(f"readiness_fail_on_new_only {shown(value)} is not a boolean (true or false, or empty "
                                 "for the fleet report's setting)")
            value = word in TRUE_WORDS
        if option == "filemaps" and sub == "domain_sid" and not value:
            continue
        if sub is None:
            args[option] = value
        else:
            args[option][sub] = value
    access = args["writer_access"]
    access["enabled"] = bool(args["filemaps"].get("enabled", True)) and bool(
        access.get("vss_access_control", True) or access.get("service_descriptors", True))
    return args


def _concern_spec(concern) -> dict:
    options = dict(copy.deepcopy(concern.spec), enabled={"type": "bool", "default": concern.name != "systemwriter"})
    spec = {"type": "dict", "default": {}, "options": options}
    spec.update(concern.spec_options)
    return spec


class ActionModule(ReadinessInfo):
    READ_ONLY = False
    ARGUMENT_SPEC = dict(
        {name: ReadinessInfo.ARGUMENT_SPEC[name] for name in ASSESSMENT_OPTIONS},
        remediate={"type": "bool", "default": True},
        select_by_tags={"type": "bool", "default": False},
        role_variables={"type": "bool", "default": False},
        not_ready_group={"type": "str"},
        **{concern.name: _concern_spec(concern) for concern in CONCERNS},
    )

    def role_variables(self, task_vars: dict) -> dict:
        """The readiness role's variables the host has, templated together (an ``omit`` drops one, as Ansible's
        validation of a role does); a variable that cannot be templated is named."""
        given = {name: task_vars[name] for name in ROLE_SPEC if name in task_vars}
        self._mapped: set[str] = set()
        template = getattr(self._templar, "template", None)
        if boolean((template or (lambda v: v))(given.get("readiness_playbook_variables", False)), strict=False):
            # the remediate playbook's variables stand for the role's (a template per variable and host would cost
            # as much controller time as the remediation)
            extra = extra_variable_names()
            for name, role_name in PLAYBOOK_VARIABLES.items():
                if role_name in extra:
                    continue  # -e readiness_...: an extra variable wins (over the playbook's vars it always did)
                value = task_vars.get(name)
                given[role_name] = copy.deepcopy(ROLE_SPEC[role_name]["default"]) if value is None else value
                self._mapped.add(role_name)
        return template_variables(self._templar, given, "nothing was read or changed", task_vars.get("omit"))

    def role_arguments(self, args: dict, task_vars: dict) -> dict:
        """role_variables: the options from the readiness role's variables, validated with the role's argument spec
        (the messages Ansible's own role validation gives, naming the variable), before anything is read."""
        values = self.role_variables(task_vars)
        validated = ArgumentSpecValidator(ROLE_SPEC).validate(values)
        self._gates = (validated.validated_parameters.get("readiness_gate", True),
                       validated.validated_parameters.get("readiness_fail_on_drift", False))
        # where the assessment's settings came from, as the report records them
        self._origins = {option: (f"variable backupready_{option}" if f"readiness_{option}" in self._mapped
                                  else f"variable readiness_{option}")
                         for option in ASSESSMENT_OPTIONS}
        if validated.error_messages:
            raise AnsibleActionFail("Validation of arguments failed:\n" + "\n".join(validated.error_messages)
                                    + "\nnothing was read or changed",
                                    result={"argument_errors": list(validated.error_messages)})
        # The values as given, for the checks that look at what the user wrote (a name pattern that is a mapping:
        # the spec made it a string, which would match nothing)
        self._raw_role_options = options_from_role_variables(values, strict=False)
        try:
            options = options_from_role_variables(validated.validated_parameters)
        except ValueError as exc:
            raise AnsibleActionFail(f"{exc}; nothing was read or changed") from None
        options.update(role_variables=True, select_by_tags=args["select_by_tags"])
        mapped = ArgumentSpecValidator(copy.deepcopy(self.ARGUMENT_SPEC)).validate(options)
        if mapped.error_messages:  # the role's spec and this module's agree (tests/unit/test_role_specs.py)
            raise AnsibleActionFail("internal error: " + "; ".join(mapped.error_messages))
        return mapped.validated_parameters

    def concern_message(self, concern, message: str) -> str:
        """A concern's refusal, naming the role variable when the options came from them."""
        if self._raw_role_options is None:
            return f"{concern.name}: {message}"
        first = re.match(r"[a-z_]+", message)
        name = ROLE_NAMES.get((concern.name, first.group(0))) if first else None
        if name:
            message = name + message[first.end():]
        return f"{message}; nothing was read or changed"

    # -- which phases run ------------------------------------------------------------------------------------

    def phases(self, args: dict, task_vars: dict) -> dict[str, bool]:
        wanted = {name: True for name in PHASE_TAGS}
        for concern in CONCERNS:
            wanted[concern.name] = args["remediate"] and args[concern.name]["enabled"]
        if args["select_by_tags"]:
            # the tags the task inherits (a play's or include's), without its own: always (it must run to decide) and
            # never
            inherited = set(getattr(self._task, "tags", None) or []) - ALL_PHASE_TAGS - {"always", "never"}
            only, skip = task_vars.get("ansible_run_tags") or ["all"], task_vars.get("ansible_skip_tags") or []
            for name, tags in PHASE_TAGS.items():
                wanted[name] = wanted[name] and tags_select(tags | inherited, only, skip)
        if not any(wanted[c.name] for c in CONCERNS):
            wanted["verify"] = wanted["verify"] and not wanted["assess"]  # nothing is fixed: one assessment
        return wanted

    # -- the run ---------------------------------------------------------------------------------------------

    def run(self, tmp=None, task_vars=None):
        self._supports_check_mode = True
        self._supports_async = False
        result = ActionBase.run(self, tmp, task_vars)  # the base's probe-plan-apply is replaced, not extended
        task_vars = task_vars or {}
        self._task_vars_host = task_vars.get("inventory_hostname")
        self._waivers_error = None
        check_mode = bool(self._task.check_mode)

        self._raw_role_options = None
        self._origins = {}
        self._gates = (True, False)  # (readiness_gate, readiness_fail_on_drift) as the role's gate task reads them
        if boolean(self._task.args.get("role_variables", False), strict=False):
            given = sorted(k for k in self._task.args if k not in ("role_variables", "select_by_tags"))
            if given:
                raise AnsibleActionFail(f"role_variables takes every option from the readiness role's variables: do "
                                        f"not give {', '.join(given)} as well; nothing was read or changed")
        # a copy: Ansible's validator fills a concern's sub-option defaults into the spec's own default {}
        _validation, args = self.validate_argument_spec(argument_spec=copy.deepcopy(self.ARGUMENT_SPEC))
        self._check_mode, self._args = check_mode, args
        if args["role_variables"]:
            args = self._args = self.role_arguments(args, task_vars)
        warnings = self.check_variable_names(task_vars)
        if warnings:
            result["warnings"] = warnings
        phases = self.phases(args, task_vars)
        with assessment_memo():
            return self._run(result, args, phases, task_vars)

    def _run(self, result: dict, args: dict, phases: dict[str, bool], task_vars: dict) -> dict:
        check_mode = self._check_mode
        assessing = phases["assess"] or phases["verify"]
        selected = [c for c in CONCERNS if phases[c.name]]
        result["phases"] = [name for name, on in phases.items() if on]
        try:
            # Every option is checked before the host is contacted, the concerns' too (also of a concern the tags
            # leave out): a bad one changes nothing. The assessment's settings (waivers, baseline) only when it runs.
            args.update(codes=None, include_state=False)
            if assessing:
                self.check_arguments(args)
            for concern in CONCERNS:
                if args["remediate"] and args[concern.name]["enabled"]:
                    raw = (self._raw_role_options if self._raw_role_options is not None else self._task.args)
                    try:
                        concern.check(args[concern.name], raw.get(concern.name) or {})
                    except ValueError as exc:
                        raise ValueError(self.concern_message(concern, str(exc))) from None
            if not assessing and not selected:
                result.update(skipped=True, complete=False, changed=False,
                              msg="no phase of the remediation is selected by the tags of this run; nothing was read")
                return result
            backend = select_backend(task_vars, self._module_call(task_vars), check_mode=check_mode,
                                     shell_family=self._shell_family())
            state = backend.probe(backups=BACKUP_WINDOW if selected else 0)
            # An assessment wants every path any check wants, a superset of what each concern's planner wants.
            paths = set(wanted_paths(state)) if assessing else set()
            for concern in selected if not assessing else ():
                paths.update(concern.wanted(state, args[concern.name]))
            if assessing and selected and not getattr(backend, "answers_every_path", False):
                paths.update(self.paths_after(state, args, selected))
            if paths:
                state = merge_paths(state, backend.path_exists(sorted(paths)))
        except (BackendError, StateError, OperationError, TwinError, ValueError) as exc:
            if self._waivers_error:
                raise AnsibleActionFail(self._waivers_error, result={"waivers_error": self._waivers_error}) from None
            raise AnsibleActionFail(str(exc)) from None

        # From here the host has been read: a failure still reports the assessment of the host as it was (the fleet
        # report keeps its findings beside the error), and what was written, if anything, with its backup.
        before = self.plan(state, args) if assessing else None
        if before is not None:
            self.judged(result, before, before)
        result.update(backend=backend.name, changed=False, operations=[])
        try:
            plans, operations = self.plan_concerns(state, args, selected, backend)
            result["operations"] = operations
            reviewed = follow_reviewed_plan(task_vars, task_key(self._task, task_vars), state, operations, check_mode,
                                            getattr(self._templar, "template", None))
        except (BackendError, StateError, OperationError, TwinError, ValueError, PlanFileError) as exc:
            raise AnsibleActionFail(str(exc), result=self.failed(result, backend)) from None
        if reviewed:
            result["reviewed_plan"] = reviewed

        final_state, after = state, None
        if operations:
            try:
                outcome = backend.apply(operations, check_mode=check_mode)
            except BackendError as exc:
                raise AnsibleActionFail(str(exc), result=self.failed(result, backend)) from None
            if record_outcome(result, outcome):
                result["concerns"] = {name: dict(plan.result, module=MODULES[name], operations=plan.operations)
                                      for name, plan in plans.items()}
                return self.failed(result, backend)
            if self._task.diff and outcome.changed:
                result["diff"] = diff_for(state, operations)
            after, _outcome = apply_to_state(state, operations, check_mode=True)
            if outcome.changed and not check_mode:
                try:
                    final_state = self.look_again(backend, state, after, operations, assessing)
                except (BackendError, StateError) as exc:
                    raise AnsibleActionFail(f"the change was made (backup {outcome.backup_id}), but checking it failed: "
                                            f"{exc}", result=self.failed(result, backend)) from None
                after = final_state

        result["concerns"] = self.concern_results(plans, state, after, result.get("apply_results") or [])
        if before is not None and final_state is not state and phases["verify"]:
            self.judged(result, self.plan(final_state, args), before)
        elif before is None:
            result["complete"] = False
        result["module_calls"] = len(backend.calls)
        self.show(result)
        return result

    def show(self, result: dict) -> None:
        """``lines`` and ``verdict`` (see ``add_lines``): in check mode, the changes pending (the drift gate's
        message, whether or not the gate uses it); otherwise, when the host does not pass, that it is not ready."""
        host = str(self._task_vars_host or "host")
        if self._check_mode:
            verdict = (f"{len(result.get('operations') or [])} change(s) pending on {host} (drift); run "
                       "backupready.windows.remediate --check --diff to see them:")
        elif result.get("complete") and not result.get("gate_passed"):
            verdict = f"{host} is not ready for a System State backup:"
        else:
            verdict = ""
        if result.get("complete"):
            add_lines(result, host, verdict, self._check_mode and self._args["remediate"])
        else:
            result["lines"] = ["no assessment in this run"]
            result["verdict"] = "\n".join([verdict, *result["lines"]]) if verdict else ""
        result["fails_gate"] = self.fails_gate(result)
        if self._args.get("not_ready_group"):
            add_not_ready_group(self, result, self._args["not_ready_group"], result["fails_gate"])

    def fails_gate(self, result: dict) -> bool:
        """Whether the host fails the readiness role's gate, which its gate task (roles/readiness/tasks/run.yml) and
        not_ready_group act on: not ready after a real run (readiness_gate), or, in check mode, a change pending
        (readiness_fail_on_drift)."""
        gate, drift = self._gates
        if self._check_mode:
            return bool(drift and result.get("changed"))
        return bool(gate and not result.get("gate_passed", True))

    @staticmethod
    def judged(result: dict, plan, before) -> None:
        """The assessment keys of ``plan`` in ``result``; ``verified`` when it is not the assessment ``before``."""
        result.update({key: plan.result[key] for key in ASSESSMENT_KEYS})
        result["findings"] = plan.marked_findings
        result["verified"] = plan is not before
        if plan is not before:
            result["before"] = {"ready": before.result["ready"], "summary": before.result["summary"]}

    def failed(self, result: dict, backend) -> dict:
        result.update(failed=True, module_calls=len(backend.calls))
        self.show(result)
        return result

    def plan_concerns(self, state: dict, args: dict, selected, backend) -> tuple[dict, list[dict]]:
        """Each selected concern's plan on ``state``, and their operations in order; CryptSvc last, on the state the
        other fixes leave (a filemaps fix lifts what blocked a restart for the writer), restarted once when a fix
        needs it (even when the cryptsvc concern is off, as the fix roles' handler did). Without a ``backend`` (to
        list the backups: when was CryptSvc last restarted), CryptSvc is not planned: the plan ahead of
        :meth:`paths_after` needs the other fixes only."""
        plans, operations = {}, []
        for concern in selected:
            if concern is CRYPTSVC_CONCERN:
                continue
            plan = concern.plan(state, args[concern.name])
            plans[concern.name] = plan
            operations += plan.operations
        restart = any(c.restarts_cryptsvc and plans[c.name].operations for c in selected if c.name in plans)
        if backend is not None and (CRYPTSVC_CONCERN in selected or restart):
            crypt_args = dict(args["cryptsvc"]) if CRYPTSVC_CONCERN in selected else dict(RESTART_ARGS)
            crypt_args.pop("enabled", None)
            if restart:
                crypt_args["state"] = "restarted"
            self._crypt_args = crypt_args
            restarted_at, nothing_since = last_restart(backend.list_backups(BACKUP_WINDOW))
            predicted = apply_to_state(state, operations, check_mode=True)[0] if operations else state
            plan = CRYPTSVC_CONCERN.plan(predicted, crypt_args, restarted_at, nothing_since and not operations)
            plans["cryptsvc"] = plan
            operations += plan.operations
        seen = set()
        for op in operations:
            key = (op["op"], describe(op))
            if key in seen:
                raise ValueError(f"internal error: two concerns planned the same change ({key[1]}); nothing was changed")
            seen.add(key)
        return plans, operations

    def paths_after(self, state: dict, args: dict, selected) -> set[str]:
        """The paths the verification will want (a fixed ImagePath names a file the old value did not), asked in the
        same call as the others: the fixes planned once ahead on what the probe holds. The real plan comes after
        the paths are known; anything it wants beyond these is asked after the apply."""
        try:
            _plans, operations = self.plan_concerns(state, args, selected, None)
            if not operations:
                return set()
            return set(wanted_paths(apply_to_state(state, operations, check_mode=True)[0]))
        except (OperationError, TwinError, ValueError, StateError):
            return set()  # the real plan, on the same state, will say what is wrong

    def look_again(self, backend, state: dict, predicted: dict, operations: list[dict], assessing: bool) -> dict:
        """The state to verify on after a real change: the exact prediction, or, after a service (re)start, the
        host read again (with the paths in the same call). Paths the new values name that were not tested before
        are tested now (one call), so that the verification does not guess."""
        wanted = set(wanted_paths(predicted)) if assessing else set()
        known = {p.lower() for p in state.get("paths") or {}}
        if any(op["op"] == "service_state" for op in operations):
            return backend.probe(paths=sorted(wanted))
        missing = sorted(p for p in wanted if p.lower() not in known)
        if not missing or getattr(backend, "answers_every_path", False):
            return predicted  # a snapshot's probe held every answer it has
        return merge_paths(predicted, backend.path_exists(missing))

    def concern_results(self, plans: dict, state: dict, after: dict | None, applied: list[dict]) -> dict:
        """Per concern: what its module would return (its result keys, operations, whether they changed anything,
        the findings left and those fixed), from the one apply (``applied``: its per-operation results)."""
        out, start = {}, 0
        for name, plan in plans.items():
            statuses = [r.get("status") for r in applied[start:start + len(plan.operations)]]
            start += len(plan.operations)
            row = dict(plan.result, module=MODULES[name], operations=plan.operations,
                       changed=after is not None and any(s in ("applied", "would_apply") for s in statuses))
            if plan.recheck is not None:
                row["findings"], row["fixed"] = findings_after(plan, after)
            if name == "cryptsvc" and after is not None:
                restarted = any(op["op"] == "service_state" for op in plan.operations) and not self._check_mode
                cryptsvc_after(after, self._crypt_args, row, restarted, state["collected_at"])
            out[name] = row
        return out
