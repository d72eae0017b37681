# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""win_cryptsvc: Cryptographic Services automatic and running, and the System Writer it hosts present."""

from __future__ import annotations

from ansible_collections.backupready.windows.plugins.plugin_utils._action import BackupReadyAction
from ansible_collections.backupready.windows.plugins.plugin_utils._concerns import (
    BACKUP_WINDOW, CRYPTSVC_CONCERN, cryptsvc_after, last_restart)

__all__ = ["ActionModule", "last_restart"]


class ActionModule(BackupReadyAction):
    ARGUMENT_SPEC = CRYPTSVC_CONCERN.spec

    def wanted_paths(self, state, args):
        return []  # nothing here depends on file existence: one module call to read, one to apply

    def read_state(self, backend, args):
        """The state and, in the same module call, the backups: when did this collection last restart CryptSvc."""
        state = backend.probe(backups=BACKUP_WINDOW)
        self._last_restart, self._nothing_since = last_restart(backend.list_backups(BACKUP_WINDOW))
        return state

    def plan(self, state, args):
        self._collected_at = state["collected_at"]
        return CRYPTSVC_CONCERN.plan(state, args, self._last_restart, self._nothing_since)

    def after_apply(self, backend, predicted, plan, args, result):
        """A (re)start cannot be predicted: look at the host again, and report the writer and the events since."""
        restarted = any(op["op"] == "service_state" for op in plan.operations)
        state = backend.probe() if restarted else predicted
        cryptsvc_after(state, args, result, restarted, self._collected_at)
        return state
