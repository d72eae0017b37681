# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""win_filemaps_acl: owner and grants of %windir%\\winsxs\\filemaps (folder, files) and PendingRenames."""

from __future__ import annotations

from ansible_collections.backupready.windows.plugins.plugin_utils._acl import (
    DC_OWNER_CHOICES, FILEMAPS_SCOPES, FilemapsPolicy, filemaps_findings, plan_filemaps)
from ansible_collections.backupready.windows.plugins.plugin_utils._action import BackupReadyAction
from ansible_collections.backupready.windows.plugins.plugin_utils._plan import Plan
from ansible_collections.backupready.windows.plugins.plugin_utils._selftest import run_id_of, sandbox_view


class ActionModule(BackupReadyAction):
    ARGUMENT_SPEC = {
        "scope": {"type": "list", "elements": "str", "choices": list(FILEMAPS_SCOPES), "default": list(FILEMAPS_SCOPES)},
        "users_read": {"type": "bool", "default": True},
        "dc_owner": {"type": "str", "default": "administrators", "choices": list(DC_OWNER_CHOICES)},
        "domain_sid": {"type": "str"},
        "strict_owner": {"type": "bool", "default": False},
        "filemaps_path": {"type": "str"},  # self-test only: a sandbox folder (docs/selftest.md)
    }

    def check_arguments(self, args):
        if not args["scope"]:
            raise ValueError("scope: give at least one of " + ", ".join(FILEMAPS_SCOPES))

    def wanted_paths(self, state, args):
        return []  # the probe already holds the descriptors: one call to read, one to apply

    def read_state(self, backend, args):
        """The probe; aimed at a self-test sandbox (filemaps_path), the state whose filemaps is that folder."""
        if not args["filemaps_path"]:
            return backend.probe()
        return sandbox_view(backend.probe(sandbox_run_id=run_id_of(args["filemaps_path"])), args["filemaps_path"])

    def plan(self, state, args):
        policy_args = {"users_read": args["users_read"], "dc_owner": args["dc_owner"], "domain_sid": args["domain_sid"]}
        if args["strict_owner"]:
            policy_args["accepted_owners"] = ()
        policy = FilemapsPolicy(**policy_args)  # FilemapsPolicyError (a ValueError) names the bad option
        operations, rows = plan_filemaps(state, policy, args["scope"])

        def recheck(doc):
            return list(filemaps_findings(doc, policy))

        result = {"targets": rows, "cryptsvc_restart_needed": bool(operations)}
        return Plan(operations=operations, findings=recheck(state), result=result, recheck=recheck)
