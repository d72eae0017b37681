# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters for readiness results: ``readiness_lines`` (one host) and ``fleet_summary`` (all hosts)."""

from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.backupready.windows.plugins.plugin_utils._display import visible
from ansible_collections.backupready.windows.plugins.plugin_utils._remedies import fixable_tag, next_step, opt_in_tag
from ansible_collections.backupready.windows.plugins.plugin_utils._summary import fleet_summary, host_lines


def readiness_lines(result, host=None, check_mode=None):
    """The host's lines, each ``[fixable]`` saying by what, then one ``NEXT:`` line (what to run or read).

    Every character that cannot be seen, or that would reorder the text (a right-to-left override in a service
    name), is named (``<U+202E>``), wherever it comes from.
    """
    lines = [visible(line) for line in host_lines(result)]
    findings = result.get("findings") if isinstance(result, Mapping) else None
    if not isinstance(findings, list):
        return lines
    start = 1
    for finding in findings:
        if not isinstance(finding, Mapping):
            continue
        at = _line_of(lines, start, finding)
        if at is None:
            continue
        start = at + 1
        if finding.get("fixable") and " [fixable]" in lines[at]:
            lines[at] = lines[at].replace(" [fixable]", " " + fixable_tag(finding), 1)
        tag = "" if finding.get("waived") else opt_in_tag(finding)
        ending = f" ({finding.get('source')})"
        if tag and lines[at].endswith(ending):
            lines[at] = lines[at][:-len(ending)] + " " + tag + ending
    step = next_step(result, host, None if check_mode is None else bool(check_mode))
    if step:
        lines.append(step)
    return lines


def _line_of(lines, start, finding):
    """The index of the first line from ``start`` about this finding (its code, then its subject), or None."""
    code, subject = f" {finding.get('code')} ", f" {visible(finding.get('subject'))}: "
    for index in range(start, len(lines)):
        if code in lines[index] and subject in lines[index]:
            return index
    return None


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
