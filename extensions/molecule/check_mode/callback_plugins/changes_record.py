# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test-only callback of the check_mode molecule scenario: what each backupready.windows task changed, per host."""

from __future__ import annotations

DOCUMENTATION = r"""
name: changes_record
type: aggregate
short_description: Record, per host and task, what the collection's modules changed (molecule check_mode scenario)
description:
  - For every C(ok) or C(failed) result of a C(backupready.windows.*) action, records the host, the task name,
    the action, C(changed) and the C(operations) the module reported.
  - At the end of the run writes them as JSON to C(<record_dir>/<playbook>.check.json) when the run is in check
    mode, else C(<record_dir>/<playbook>.json). Writes nothing when no such task ran.
options:
  record_dir:
    description: Directory to write the record to (created if missing).
    type: path
    env:
      - name: BACKUPREADY_MOLECULE_RECORD_DIR
"""

import json
import os

from ansible import context
from ansible.plugins.callback import CallbackBase

COLLECTION_PREFIX = "backupready.windows."


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "changes_record"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self.playbook = "playbook"
        self.records = []

    def v2_playbook_on_start(self, playbook):
        self.playbook = os.path.splitext(os.path.basename(playbook._file_name))[0]

    def _record(self, result, failed):
        action = result._task.action
        if not action.startswith(COLLECTION_PREFIX):
            return
        data = result._result
        self.records.append({
            "host": result._host.get_name(),
            "task": result._task.get_name(),
            "action": action,
            "changed": bool(data.get("changed")),
            "failed": failed,
            "operations": data.get("operations") or [],
        })

    def v2_runner_on_ok(self, result):
        self._record(result, failed=False)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, failed=True)

    def v2_playbook_on_stats(self, stats):
        record_dir = self.get_option("record_dir")
        if not record_dir or not self.records:
            return
        os.makedirs(record_dir, exist_ok=True)
        suffix = ".check.json" if context.CLIARGS.get("check") else ".json"
        path = os.path.join(record_dir, self.playbook + suffix)
        with open(path, "w", encoding="utf-8") as handle:
            json.dump({"playbook": self.playbook, "check": bool(context.CLIARGS.get("check")),
                       "results": self.records}, handle, indent=1, sort_keys=True, default=str)
        self._display.display(f"changes_record: {len(self.records)} results written to {path}")
