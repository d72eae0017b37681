# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""win_writer_access: what the System Writer's account may open, VssAccessControl and driver service descriptors."""

from __future__ import annotations

from ansible_collections.backupready.windows.plugins.plugin_utils._action import BackupReadyAction
from ansible_collections.backupready.windows.plugins.plugin_utils._concerns import WRITER_ACCESS


class ActionModule(BackupReadyAction):
    ARGUMENT_SPEC = WRITER_ACCESS.spec

    def check_arguments(self, args):
        WRITER_ACCESS.check(args, self._task.args)

    def wanted_paths(self, state, args):
        return []

    def plan(self, state, args):
        return WRITER_ACCESS.plan(state, args)
