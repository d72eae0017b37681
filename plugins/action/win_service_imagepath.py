# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""win_service_imagepath: diagnose every service's ImagePath the way the System Writer reads it, fix the safe ones."""

from __future__ import annotations

from ansible_collections.backupready.windows.plugins.plugin_utils._action import BackupReadyAction
from ansible_collections.backupready.windows.plugins.plugin_utils._concerns import IMAGEPATH


class ActionModule(BackupReadyAction):
    ARGUMENT_SPEC = IMAGEPATH.spec

    def check_arguments(self, args):
        IMAGEPATH.check(args, self._task.args)

    def wanted_paths(self, state, args):
        return IMAGEPATH.wanted(state, args)

    def plan(self, state, args):
        return IMAGEPATH.plan(state, args)
