# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters for readiness results: ``readiness_lines`` (one host) and ``fleet_summary`` (all hosts)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.backupready.windows.plugins.plugin_utils._summary import fleet_summary, host_lines


def readiness_lines(result):
    return host_lines(result)


def readiness_fleet_summary(results, hosts=None):
    if not isinstance(results, (list, tuple)):
        raise AnsibleFilterError(f"fleet_summary: expected a list of win_backup_readiness_info results, "
                                 f"got {type(results).__name__}")
    if hosts is not None and len(list(hosts)) != len(results):
        raise AnsibleFilterError("fleet_summary: 'hosts' must name one host per result")
    return fleet_summary(results, hosts)


class FilterModule:
    def filters(self):
        return {"readiness_lines": readiness_lines, "fleet_summary": readiness_fleet_summary}
