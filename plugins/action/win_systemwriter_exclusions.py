# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""win_systemwriter_exclusions: the SystemWriter ExcludedBinaryPaths multi-string (KB 980794)."""

from __future__ import annotations

from ansible_collections.backupready.windows.plugins.plugin_utils._action import BackupReadyAction
from ansible_collections.backupready.windows.plugins.plugin_utils._concerns import SYSTEMWRITER


class ActionModule(BackupReadyAction):
    ARGUMENT_SPEC = SYSTEMWRITER.spec
    SPEC_OPTIONS = SYSTEMWRITER.spec_options

    def check_arguments(self, args):
        SYSTEMWRITER.check(args, self._task.args)

    def wanted_paths(self, state, args):
        return SYSTEMWRITER.wanted(state, args)

    def plan(self, state, args):
        return SYSTEMWRITER.plan(state, args)
