"""A fake Windows host for the action plugins' tests: it plays win_backup_state / win_backup_apply from a state
document and records every module call (shared by the action tests, under make test and ansible-test units)."""

import copy
from unittest.mock import MagicMock

from ansible.playbook.task import Task

from ansible_collections.backupready.windows.plugins.plugin_utils._state import find_service
from ansible_collections.backupready.windows.plugins.plugin_utils._twin import apply_to_state

from statedoc import make_service, make_state


class FakeHost:
    """Plays win_backup_state / win_backup_apply from a state document, recording every call."""

    def __init__(self, state):
        self.state = state
        self.calls = []

    def execute_module(self, module_name=None, module_args=None, task_vars=None, **kwargs):
        self.calls.append((module_name, copy.deepcopy(module_args)))
        if module_name.endswith("win_backup_state"):
            if module_args.get("gather", True):
                return {"changed": False, "state": copy.deepcopy(self.state)}
            return {"changed": False, "paths": {p: True for p in module_args.get("paths", [])}}
        if module_name.endswith("win_backup_apply"):
            new, outcome = apply_to_state(self.state, module_args["operations"], check_mode=self.check_mode)
            if not self.check_mode and not outcome.refused:
                self.state = new
            result = outcome.as_dict()
            result["failed"] = outcome.refused
            return result
        raise AssertionError(f"unexpected module {module_name}")


def make_action(cls, args, host, check_mode=False, diff=False, action="backupready.windows.test"):
    """An action of ``cls`` on a mocked task and connection, whose module calls go to ``host``."""
    task = MagicMock(Task)
    task.args = args
    task.check_mode = check_mode
    task.diff = diff
    task.async_val = 0
    task.action = action
    connection = MagicMock()
    connection._shell.tmpdir = None
    plugin = cls(task, connection, MagicMock(), loader=None, templar=None, shared_loader_obj=None)
    plugin._load_name = task.action  # the plugin loader sets it in a real run (ansible-core 2.16 reads it)
    host.check_mode = check_mode
    plugin._execute_module = host.execute_module
    # ansible-core 2.21+: an action adds its host to a group through the worker (ActionBase.add_group); recorded here
    plugin.groups_added = []
    plugin.add_group = lambda group, parent_group_names=None: plugin.groups_added.append((group, parent_group_names))
    return plugin


class RemediationHost(FakeHost):
    """FakeHost that also lists (no) backups and answers paths asked in the probe's own call."""

    def execute_module(self, module_name=None, module_args=None, task_vars=None, **kwargs):
        result = super().execute_module(module_name, module_args, task_vars, **kwargs)
        if module_name == "backupready.windows.win_backup_state":
            result = dict(result, backups=[])
            if module_args.get("gather", True) and module_args.get("paths"):
                result["paths"] = {p: True for p in module_args["paths"]}
        return result


def remediation_host(crypt_state="running", start_mode="auto", quoted_driver=False, services=20):
    doc = make_state()
    crypt = find_service(doc, "CryptSvc")
    crypt["state"], crypt["start_mode"] = crypt_state, start_mode
    for index in range(services):
        doc["services"].append(make_service(f"drv{index:03}", f"System32\\drivers\\drv{index:03}.sys", type_=1))
    if quoted_driver:
        doc["services"].append(make_service("qdrv", '"\\SystemRoot\\System32\\drivers\\qdrv.sys"', type_=1))
    return RemediationHost(doc)


# The readiness role's defaults (roles/readiness/defaults/main.yml), as role_variables reads them
ROLE_DEFAULTS = {"readiness_remediate": True, "readiness_fail_on": "", "readiness_gate": True, "readiness_waivers": [],
                 "readiness_waivers_file": "", "readiness_baseline": "", "readiness_fail_on_new_only": "",
                 "readiness_fix_imagepath": True, "readiness_fix_exclusions": False, "readiness_fix_filemaps": True,
                 "readiness_fix_cryptsvc": True, "readiness_strict_vars": False, "readiness_fail_on_drift": False,
                 "readiness_playbook_variables": False, "readiness_not_ready_group": ""}
