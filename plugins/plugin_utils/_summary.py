# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Per-host lines and the fleet summary printed by the assess playbook (the full report is a callback)."""

from __future__ import annotations

from collections import Counter
from typing import Any, Iterable, Mapping


def host_lines(result: Mapping[str, Any]) -> list[str]:
    """One line per finding of a win_backup_readiness_info result, most severe first."""
    if not isinstance(result, Mapping) or "findings" not in result:
        msg = result.get("msg") if isinstance(result, Mapping) else None
        return [f"NOT ASSESSED: {msg or 'no result'}"]
    summary = result.get("summary") or {}
    head = "READY" if result.get("ready") else "NOT READY"
    lines = [f"{head}: {len(result['findings'])} finding(s) over {summary.get('services', '?')} services "
             f"({summary.get('os', 'unknown OS')})"]
    for finding in result["findings"]:
        fix = " [fixable]" if finding.get("fixable") else ""
        level = "WAIVED" if finding.get("waived") else finding["severity"].upper()
        waiver = f" [waived: {finding.get('waiver_reason')}]" if finding.get("waived") else ""
        expired = f" [waiver expired {finding['waiver_expired']}]" if finding.get("waiver_expired") else ""
        lines.append(f"{level:8} {finding['code']:25} {finding['subject']}: "
                     f"{finding['message']}{fix}{waiver}{expired} ({finding['source']})")
    return lines


def fleet_summary(results: Iterable[Any], hosts: Iterable[str] | None = None) -> dict[str, Any]:
    """Hosts checked, hosts ready, findings by code, from the registered results of every host."""
    results = list(results)
    names = list(hosts) if hosts is not None else [str(i) for i in range(len(results))]
    by_code: Counter = Counter()
    ready, not_ready, failed = [], [], []
    for name, result in zip(names, results):
        if not isinstance(result, Mapping) or "findings" not in result:
            failed.append(name)
            continue
        (ready if result.get("ready") else not_ready).append(name)
        by_code.update(f["code"] for f in result["findings"])
    return {
        "hosts_checked": len(ready) + len(not_ready),
        "hosts_ready": len(ready),
        "hosts_not_ready": sorted(not_ready),
        "hosts_not_assessed": sorted(failed),
        "findings_by_code": dict(sorted(by_code.items(), key=lambda item: (-item[1], item[0]))),
    }
