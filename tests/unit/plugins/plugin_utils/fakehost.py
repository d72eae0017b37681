"""A fake Windows host for the action plugins' tests: it plays win_backup_state / win_backup_apply from a state
document and records every module call (shared by the action tests, under make test and ansible-test units)."""

import copy
from unittest.mock import MagicMock

from ansible.playbook.task import Task

from ansible_collections.backupready.windows.plugins.plugin_utils._twin import apply_to_state


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
