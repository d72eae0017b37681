# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The base of every user-facing module: probe -> plan -> apply, through either backend.

A subclass declares ``ARGUMENT_SPEC`` (validated before anything else, with Ansible's own validator) and
implements :meth:`plan`. The base:

1. validates the task arguments (a bad argument fails the task, naming it, before any contact with the host);
2. probes the host state (1 module call), then tests the paths the checks want (1 call, only if any);
3. asks the subclass for a :class:`Plan`;
4. applies the plan's operations (1 call, only if any; in check mode the apply step validates but writes
   nothing), and returns ``changed`` and ``diff`` computed from the plan, so ``--check`` and ``--diff`` are exact.

Round trips stay constant per host whatever the number of services.
"""

from __future__ import annotations

import difflib
import functools
import os
import re
from typing import Any

from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase

# Imported here, at load time, on purpose: Ansible loads each task's action class in the controller before it forks
# the workers, so every check module and the filters the playbooks use are compiled once and inherited by the forks
# (the collection loader compiles a module's source again on every first import in a process).
from . import _checks  # noqa: F401  pylint: disable=unused-import
from ..filter import diagnose_imagepath, readiness  # noqa: F401  pylint: disable=unused-import
from ._backend import BackendError, select_backend
from ._findings import Finding, wanted_paths
from ._operations import ApplyOutcome, OperationError
from ._plan import Plan, diff_for
from ._planfile import PlanFileError, follow_reviewed_plan, task_key
from ._state import StateError
from ._twin import TwinError, apply_to_state
from ._display import shown


def merge_paths(state: dict, found: dict[str, bool | None]) -> dict:
    """The state with path existence answers added (a copy; the probe's own ``paths`` are kept)."""
    merged = dict(state)
    merged["paths"] = dict(state.get("paths") or {})
    merged["paths"].update(found)
    return merged


def findings_as_dicts(findings: list[Finding]) -> list[dict]:
    return [f.as_dict() for f in findings]


def findings_after(plan: Plan, after: dict | None) -> tuple[list[dict], list[dict]]:
    """(the findings of ``plan``'s checks that remain on ``after``, those it fixed), as dicts; without ``after``
    (nothing was applied), the plan's own findings remain."""
    remaining = plan.recheck(after) if after is not None else plan.findings
    keys = {(f.code, f.subject) for f in remaining}
    return findings_as_dicts(remaining), findings_as_dicts([f for f in plan.findings if (f.code, f.subject) not in keys])


def record_outcome(result: dict, outcome: ApplyOutcome) -> bool:
    """An apply's outcome in ``result``: its per-operation results, the backup, the journal and what was pruned, and
    ``changed``. True when it was refused or failed part-way (``failed``, and ``msg`` says what was written): the
    caller stops there."""
    result["apply_results"] = outcome.results
    result["backup_path"] = outcome.backup_path
    result.setdefault("backup_id", outcome.backup_id)  # win_backup_rollback: the backup it undoes
    if outcome.journal:
        result["journal"] = outcome.journal
    if outcome.pruned:
        result["pruned"] = outcome.pruned
    result["changed"] = outcome.changed
    if outcome.refused or outcome.failed:
        # A write that failed part-way: what was written is in the backup, and changed says so.
        result["failed"] = True
        result["msg"] = outcome.msg if outcome.failed else f"nothing was changed: {outcome.msg}"
        return True
    return False


def template_variables(templar, values: dict, refusal: str, omit: Any = None) -> dict:
    """Host variables by name, templated in one call (an argument per variable would cost a Jinja compile each in
    every forked worker); those ``omit`` stood for dropped (ansible-core before 2.19 leaves its placeholder where omit
    was used). A variable that cannot be templated is named, followed by ``refusal``."""
    template = getattr(templar, "template", None)
    if template is not None and values:
        try:
            values = template(values)
        except AnsibleError:
            for name, value in values.items():  # which one
                try:
                    template(value)
                except AnsibleError as exc:
                    raise AnsibleActionFail(f"{name}: {exc}; {refusal}") from None
            raise
    return {name: value for name, value in values.items()
            if not (isinstance(value, str) and isinstance(omit, str) and omit and value.startswith(omit))}


# A variable named like one of the collection's (a role's prefix, or the playbooks' backupready_) that the
# collection never reads is most likely a typo: a misspelt imagepath_exclude would otherwise be ignored in
# silence and the service meant to be left alone would be changed.
VARIABLE_PREFIXES = ("imagepath_", "systemwriter_", "filemaps_", "cryptsvc_", "readiness_", "backupready_")
STRICT_VARS = "readiness_strict_vars"
COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_NAME = re.compile(r"\b(?:" + "|".join(VARIABLE_PREFIXES) + r")[A-Za-z0-9_]+")


@functools.lru_cache(maxsize=None)
def known_variable_names(root: str = COLLECTION_ROOT) -> frozenset[str]:
    """Every name with one of the prefixes that the collection itself uses.

    Read from the collection's files, so the list cannot fall behind them: the roles (their
    ``meta/argument_specs.yml`` options, defaults, registered results and handler results such as
    ``filemaps_cryptsvc_restart``, loop and task variables), the playbooks, and the plugins (the host variables the
    action plugins read, such as ``backupready_snapshot``).
    """
    names: set[str] = set()
    for top, suffixes in (("roles", (".yml", ".yaml")), ("playbooks", (".yml", ".yaml")), ("plugins", (".py",))):
        for folder, _dirs, files in os.walk(os.path.join(root, top)):
            for name in files:
                if name.endswith(suffixes):
                    with open(os.path.join(folder, name), encoding="utf-8") as handle:
                        names.update(_NAME.findall(handle.read()))
    return frozenset(names)


known_variable_names()  # read at load time, in the controller: the workers it forks inherit the list


def unknown_variables(names, known: frozenset[str] | None = None) -> list[tuple[str, str | None]]:
    """``[(name, closest known name or None)]`` for each of ``names`` that has a prefix of the collection's
    variables but is not one of them, sorted."""
    known = known_variable_names() if known is None else known
    out = []
    for name in sorted(n for n in names if isinstance(n, str) and n.startswith(VARIABLE_PREFIXES) and n not in known):
        # Compared without the prefix they share (it would make every name of a role look close), then, for a
        # wrong prefix, whole names.
        prefix = next(p for p in VARIABLE_PREFIXES if name.startswith(p))
        same = {k[len(prefix):]: k for k in sorted(known) if k.startswith(prefix)}
        close = [same[c] for c in difflib.get_close_matches(name[len(prefix):], list(same), n=1, cutoff=0.6)]
        close = close or difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.8)
        out.append((name, close[0] if close else None))
    return out


def unknown_variable_message(name: str, closest: str | None, strict: bool = False) -> str:
    message = f"variable {name} is not one the backupready.windows roles or playbooks read, so it has no effect"
    if closest:
        message += f": did you mean {closest}?"
    return message if strict else f"{message} (set {STRICT_VARS}: true to make this an error)"


class BackupReadyAction(ActionBase):
    """Subclass, set ARGUMENT_SPEC (and SPEC_OPTIONS), implement plan()."""

    ARGUMENT_SPEC: dict[str, Any] = {}
    SPEC_OPTIONS: dict[str, Any] = {}
    READ_ONLY = False
    TRANSFERS_FILES = False
    _requires_connection = False

    def wanted_paths(self, state: dict, args: dict) -> list[str]:  # pylint: disable=unused-argument
        """Paths whose existence the plan needs (default: what every registered check wants)."""
        return wanted_paths(state)

    def plan(self, state: dict, args: dict) -> Plan:
        raise NotImplementedError

    def run(self, tmp=None, task_vars=None):
        self._supports_check_mode = True
        self._supports_async = False
        result = super().run(tmp, task_vars)
        del tmp
        task_vars = task_vars or {}

        _validation, args = self.validate_argument_spec(argument_spec=self.ARGUMENT_SPEC, **self.SPEC_OPTIONS)
        warnings = self.check_variable_names(task_vars)
        if warnings:
            result["warnings"] = warnings
        try:
            self.check_arguments(args)
            backend = select_backend(task_vars, self._module_call(task_vars), check_mode=bool(self._task.check_mode),
                                     shell_family=self._shell_family())
            state = self.read_state(backend, args)
            paths = self.wanted_paths(state, args)
            if paths:
                state = merge_paths(state, backend.path_exists(paths))
            plan = self.plan(state, args)
        except (BackendError, StateError, OperationError, TwinError, ValueError) as exc:
            raise AnsibleActionFail(str(exc)) from None

        # The reviewed plan (backupready_plan_dir, see _planfile): check mode records this task's operations;
        # a real run refuses, before anything is written, operations that are not the recorded ones.
        if not self.READ_ONLY:
            try:
                reviewed = follow_reviewed_plan(task_vars, task_key(self._task, task_vars), state, plan.operations,
                                                bool(self._task.check_mode), getattr(self._templar, "template", None))
            except PlanFileError as exc:
                raise AnsibleActionFail(str(exc)) from None
            if reviewed:
                result["reviewed_plan"] = reviewed

        result.update(plan.result)
        result["backend"] = backend.name
        result["findings"] = plan.marked_findings if plan.marked_findings is not None else findings_as_dicts(plan.findings)
        result["changed"] = False
        if plan.operations and self.READ_ONLY:
            raise AnsibleActionFail("internal error: a read-only module planned operations")
        if plan.operations:
            try:
                outcome = self.apply_plan(backend, plan)
            except BackendError as exc:
                raise AnsibleActionFail(str(exc)) from None
            result["operations"] = plan.operations
            if record_outcome(result, outcome):
                result["module_calls"] = len(backend.calls)
                return result
            if self._task.diff and outcome.changed:
                result["diff"] = diff_for(state, plan.operations)
            if plan.recheck is not None:
                after, _outcome = apply_to_state(state, plan.operations, check_mode=True)
                if outcome.changed and not self._task.check_mode:
                    try:
                        after = self.after_apply(backend, after, plan, args, result)
                    except (BackendError, StateError) as exc:
                        raise AnsibleActionFail(f"the change was made, but checking it failed: {exc}") from None
                result["findings"], result["fixed"] = findings_after(plan, after)
        result["module_calls"] = len(backend.calls)
        return result

    def read_state(self, backend, args: dict) -> dict:  # pylint: disable=unused-argument
        """The host state document (default: the probe, one module call). Override to ask the same call for more."""
        return backend.probe()

    def apply_plan(self, backend, plan: Plan) -> ApplyOutcome:
        """Apply the plan's operations (one module call). Override to label the backup the apply saves."""
        return backend.apply(plan.operations, check_mode=bool(self._task.check_mode))

    def after_apply(self, backend, predicted: dict, plan: Plan, args: dict, result: dict) -> dict:
        """After a real change: the state to judge the result on (default: the exact in-memory prediction).

        Override to look again at the host when the outcome cannot be predicted (a service restart).
        """
        return predicted

    def check_variable_names(self, task_vars: dict) -> list[str]:
        """A warning per variable that looks like one of the collection's but is not; an error, before anything
        is read or written, when readiness_strict_vars is true."""
        unknown = unknown_variables(task_vars)
        if not unknown:
            return []
        strict = task_vars.get(STRICT_VARS, False)
        template = getattr(self._templar, "template", None)
        if template is not None and isinstance(strict, str):
            strict = template(strict)
        try:
            strict = boolean(strict, strict=True)
        except TypeError:
            raise AnsibleActionFail(f"{STRICT_VARS} must be true or false, got {shown(strict)}") from None
        if strict:
            raise AnsibleActionFail("; ".join(unknown_variable_message(name, closest, strict=True)
                                              for name, closest in unknown)
                                    + f"; nothing was read or changed ({STRICT_VARS} is true)")
        return [unknown_variable_message(name, closest) for name, closest in unknown]

    def check_arguments(self, args: dict) -> None:
        """Validation beyond the argument spec; raise ValueError with a message naming the option."""

    def _shell_family(self) -> str | None:
        return shell_family(self._connection)

    def _module_call(self, task_vars: dict):
        return module_caller(self, task_vars)


def shell_family(connection) -> str | None:
    """The connection's shell family (powershell, cmd, sh...), or None when it cannot be told."""
    family = getattr(getattr(connection, "_shell", None), "SHELL_FAMILY", None)
    return family if isinstance(family, str) else None


def module_caller(action: ActionBase, task_vars: dict):
    """``call(module_name, module_args)``: one module run on the host of ``action`` (what a backend calls)."""
    def call(module_name: str, module_args: dict) -> dict:
        return action._execute_module(module_name=module_name, module_args=dict(module_args),  # pylint: disable=protected-access
                                      task_vars=task_vars)
    return call
