# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""win_filemaps_acl: owner and grants of %windir%\\winsxs\\filemaps (folder, files) and PendingRenames."""

from __future__ import annotations

from ansible_collections.backupready.windows.plugins.plugin_utils._action import BackupReadyAction
from ansible_collections.backupready.windows.plugins.plugin_utils._concerns import FILEMAPS
from ansible_collections.backupready.windows.plugins.plugin_utils._selftest import run_id_of, sandbox_view


class ActionModule(BackupReadyAction):
    ARGUMENT_SPEC = dict(FILEMAPS.spec, filemaps_path={"type": "str"})  # filemaps_path: self-test only (docs/selftest.md)

    def check_arguments(self, args):
        FILEMAPS.check(args, self._task.args)

    def wanted_paths(self, state, args):
        return []  # the probe already holds the descriptors: one call to read, one to apply

    def read_state(self, backend, args):
        """The probe; aimed at a self-test sandbox (filemaps_path), the state whose filemaps is that folder."""
        if not args["filemaps_path"]:
            return backend.probe()
        return sandbox_view(backend.probe(sandbox_run_id=run_id_of(args["filemaps_path"])), args["filemaps_path"])

    def plan(self, state, args):
        return FILEMAPS.plan(state, args)
