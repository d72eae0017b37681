"""Time and peak memory of the fleet report for a large fleet (default: 2,000 hosts x ~8 findings).

Feeds synthetic win_backup_readiness_info results (each with a host state document of ~300 services, which
the callback must drop at once) through the real readiness_report callback, as ansible-playbook would, then
lets it write the four files. Run from the checkout after `make setup`:

    .venv/bin/python tools/bench_report.py [--hosts 2000] [--out DIR]

Two passes: one timed without tracing, one under tracemalloc for the peak of Python allocations.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
import tracemalloc
from unittest.mock import MagicMock

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(ROOT, ".venv", "collections")


def install_collection() -> None:
    link = os.path.join(COLLECTIONS, "ansible_collections", "backupready", "windows")
    if not os.path.exists(link):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(ROOT, link)
    from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder
    _AnsibleCollectionFinder(paths=[COLLECTIONS])._install()  # pylint: disable=protected-access


def synthetic_result(rng: random.Random, index: int, codes) -> dict:
    findings = []
    for n in range(rng.randint(4, 12)):  # ~8 on average
        code = rng.choice(codes)
        findings.append({"code": code.code, "severity": code.severity, "subject": f"service:svc{index}_{n}",
                         "message": f"{code.summary} <&> on svc{index}_{n}", "fix": code.fix, "fixable": True,
                         "source": code.source, "evidence": {"image_path": f"C:\\Program Files\\Vendor {n}\\svc.exe",
                                                             "kind": "REG_EXPAND_SZ", "values": list(range(5))}})
    state = {"services": [{"name": f"svc{i}", "image_path": {"kind": "REG_EXPAND_SZ", "data": "x" * 120},
                           "security": {"sddl": "D:(A;;CCLCSWRPWPDTLOCRRC;;;SY)" * 3}} for i in range(300)]}
    return {"changed": False, "ready": False, "fail_on": "error", "findings": findings, "state": state,
            "summary": {"host": f"host{index:05d}", "os": "Microsoft Windows Server 2022 Standard",
                        "services": 300, "findings": len(findings)}}


def one_run(hosts: int, out: str) -> dict:
    from ansible.executor.task_result import TaskResult
    from ansible.inventory.host import Host
    from ansible.plugins.loader import callback_loader
    from ansible_collections.backupready.windows.plugins.plugin_utils._findings import CODES

    display = MagicMock()
    display.verbosity = 0
    callback = callback_loader.get("backupready.windows.readiness_report", display=display)
    callback.set_options(direct={"report_dir": out})
    task = MagicMock()
    task.action = task.resolved_action = "backupready.windows.win_backup_readiness_info"
    task.args, task.no_log = {"include_state": True}, False
    rng = random.Random(7)
    codes = list(CODES.values())
    started = time.perf_counter()
    names = []
    for index in range(hosts):
        name = f"host{index:05d}"
        names.append(name)
        # a new result object per host, as the strategy hands them over; nothing else keeps it
        callback.v2_runner_on_ok(TaskResult(Host(name), task, synthetic_result(rng, index, codes), {}))
    collected = time.perf_counter()
    stats = MagicMock()
    stats.processed = dict.fromkeys(names, 1)
    callback.v2_playbook_on_stats(stats)
    finished = time.perf_counter()
    (line,), _unused = display.display.call_args
    return {"collect": collected - started, "write": finished - collected, "line": line,
            "findings": sum(len(r.findings) for r in callback.collector.hosts.values())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=2000)
    parser.add_argument("--out", default=None, help="report directory (default: a temporary one)")
    args = parser.parse_args()
    install_collection()
    with tempfile.TemporaryDirectory(prefix="backupready-bench-") as tmp:
        out = args.out or os.path.join(tmp, "report")
        timed = one_run(args.hosts, out)
        tracemalloc.start()
        one_run(args.hosts, out)
        _unused, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        sizes = {name: os.path.getsize(os.path.join(out, name)) for name in sorted(os.listdir(out))}
    print(f"hosts: {args.hosts}, findings: {timed['findings']}")
    print(f"collect: {timed['collect']:.2f} s, write: {timed['write']:.2f} s, total: {timed['collect'] + timed['write']:.2f} s")
    print(f"peak traced memory: {peak / 2**20:.1f} MiB")
    print("files: " + ", ".join(f"{name} {size / 2**20:.1f} MiB" for name, size in sizes.items()))
    print(timed["line"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
