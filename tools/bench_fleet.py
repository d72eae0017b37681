# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: the assess playbook on a copy of the demo fleet scaled to N hosts, against a no-op playbook.

Both playbooks run on the same generated inventory, in pairs (assess, no-op, assess, no-op, ...), so that a change in
the machine's load hits both alike; each pair gives one ratio. Wall time is the whole ``ansible-playbook`` run, CPU
is user + system time of its whole process tree (the controller and every forked worker). The machine's load
average is printed with each run.

    .venv/bin/python tools/bench_fleet.py [--hosts 500] [--forks 5] [--pairs 3] [--collection PATH]
                                          [--compare noop|remediate|all]

``--compare remediate`` times the remediate playbook instead: it runs once on the fresh fleet (the first run, which
fixes what it can; not timed), then in pairs (remediate on the converged fleet, assess) on the same hosts.
``--compare all`` does both: the assess / no-op pairs on the fresh fleet, then the remediate ones.

The fleet: the 17 demo snapshots copied round-robin, one file per host (``<demo>-NNNNN.json``, ``host.name`` set to
the new name), with the demo's ``ansible_connection: local`` and its ``cluster_nodes`` / ``domain_controllers``
groups. The no-op playbook runs one ``ansible.builtin.debug`` task per host (a forked worker that does nothing).
The assess and remediate playbooks run with the gate off (``backupready_gate=false``; ``readiness_gate=false`` for
the readiness role of remediate) and write the fleet report into the temporary folder.
``--collection`` times another checkout of the collection (e.g. an earlier commit, exported with ``git archive``).
``--gate`` runs assess with its gate on (as CI does): the hosts that do not pass are failed by the playbook's
second play (about half of the demo copies), and its exit code 2 is expected.

Module calls per host: every result of a ``backupready.windows`` task carries ``module_calls`` (the module calls
and snapshot reads it made); a small callback plugin, written into the temporary folder, sums them per host. It is
enabled only in runs that are not timed: one assess run on the fresh fleet before the pairs, the remediate first
run, and one remediate run on the converged fleet before its pairs (both of the latter also warm the caches alike).
The tool ends with one line per figure, its target and PASS or FAIL (the exit code is 0 either way: it measures).
"""

from __future__ import annotations

import argparse
import configparser
import glob
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO = os.path.join(ROOT, "examples", "fleet")
DEMO_GROUPS = {"cluster_nodes": ["sql-node2"], "domain_controllers": ["dc01", "vss-acl"]}
NOOP = """- name: No-op baseline (one task per host that does nothing)
  hosts: all
  gather_facts: false
  tasks:
    - name: Nothing
      ansible.builtin.debug:
        msg: ok
"""

# Counts module calls per host; enabled (by name, from the temporary folder) only in the runs that are not timed.
CALLS_CALLBACK = '''# Written by tools/bench_fleet.py: module calls per host of the backupready.windows tasks of one playbook run.
from __future__ import annotations

import json
import os

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: bench_calls
type: aggregate
short_description: sums module_calls of the backupready.windows task results per host (tools/bench_fleet.py)
description:
  - Writes, per host, the sum of module_calls and how many results, results without module_calls, changed and
    failed results it had, as JSON into the file the BENCH_CALLS_OUT environment variable names.
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_calls"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.hosts = {}

    def count(self, result):
        task = result._task
        action = str(getattr(task, "resolved_action", None) or task.action)
        if not action.startswith("backupready.windows."):
            return
        row = self.hosts.setdefault(result._host.get_name(),
                                    {"calls": 0, "results": 0, "missing": 0, "changed": 0, "failed": 0})
        row["results"] += 1
        calls = result._result.get("module_calls")
        if calls is None:
            row["missing"] += 1
        else:
            row["calls"] += int(calls)
        row["changed"] += bool(result._result.get("changed"))
        row["failed"] += bool(result._result.get("failed"))

    def v2_runner_on_ok(self, result):
        self.count(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self.count(result)

    def v2_playbook_on_stats(self, stats):
        for host in stats.processed:
            self.hosts.setdefault(host, {"calls": 0, "results": 0, "missing": 0, "changed": 0, "failed": 0})
        with open(os.environ["BENCH_CALLS_OUT"], "w", encoding="utf-8") as handle:
            json.dump(self.hosts, handle, indent=1, sort_keys=True)
'''

# The targets (the table, measured on a 2-core machine): module calls per host, at most; the median of the
# per-pair wall-time ratios, at most.
CALLS_TARGETS = {"assess": 2, "remediate first run": 4, "remediate converged": 2}
RATIO_TARGETS = {("assess", "noop"): 2.5, ("remediate", "assess"): 1.5}


def build_fleet(hosts: int, folder: str) -> str:
    """Write ``hosts`` snapshot copies and their inventory into ``folder``; return the inventory's path."""
    snapshots = sorted(glob.glob(os.path.join(DEMO, "snapshots", "*.json")))
    if not snapshots:
        raise SystemExit(f"no demo snapshots in {DEMO}/snapshots: run tools/build_demo_fleet.py")
    os.makedirs(os.path.join(folder, "snapshots"), exist_ok=True)
    names: dict[str, str] = {}
    groups: dict[str, list[str]] = {group: [] for group in DEMO_GROUPS}
    docs = {path: json.load(open(path, encoding="utf-8")) for path in snapshots}
    for index in range(hosts):
        path = snapshots[index % len(snapshots)]
        demo = os.path.basename(path)[:-5]
        name = f"{demo}-{index:05d}"
        doc = docs[path]
        doc["host"]["name"] = name
        with open(os.path.join(folder, "snapshots", f"{name}.json"), "w", encoding="utf-8") as handle:
            json.dump(doc, handle, indent=1, ensure_ascii=False)
            handle.write("\n")
        names[name] = f"snapshots/{name}.json"
        for group, members in DEMO_GROUPS.items():
            if demo in members:
                groups[group].append(name)
    lines = ["all:", "  children:", "    fleet:", "      vars:", "        ansible_connection: local",
             "        ansible_python_interpreter: \"{{ ansible_playbook_python }}\"", "      hosts:"]
    for name, snapshot in names.items():
        lines += [f"        {name}:", f"          backupready_snapshot: {snapshot}"]
    lines.append("      children:")
    for group, members in groups.items():
        lines += [f"        {group}:", "          hosts:"] + [f"            {name}:" for name in members]
        if not members:
            lines[-1] = "          hosts: {}"
    inventory = os.path.join(folder, "inventory.yml")
    with open(inventory, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    return inventory


def collections_path(collection: str, folder: str) -> str:
    """A collections path where ``backupready.windows`` is ``collection`` (a checkout of this repository)."""
    if os.path.realpath(collection) == ROOT:
        return os.path.join(ROOT, ".venv", "collections")
    path = os.path.join(folder, "collections")
    link = os.path.join(path, "ansible_collections", "backupready", "windows")
    os.makedirs(os.path.dirname(link), exist_ok=True)
    os.symlink(os.path.realpath(collection), link)
    return path


OK_CODES = {0}  # --gate: 2 as well (hosts that do not pass the gate fail)


def run(argv: list[str], env: dict, log: str) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds of the whole tree, return code) of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with open(log, "w", encoding="utf-8") as out:
        code = subprocess.run(argv, env=env, stdout=out, stderr=subprocess.STDOUT, check=False).returncode
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, code


def load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def calls_env(env: dict, folder: str, out: str) -> dict:
    """``env`` with the counting callback enabled beside those the configuration enables, writing into ``out``."""
    plugins = os.path.join(folder, "callback_plugins")
    os.makedirs(plugins, exist_ok=True)
    with open(os.path.join(plugins, "bench_calls.py"), "w", encoding="utf-8") as handle:
        handle.write(CALLS_CALLBACK)
    config = configparser.ConfigParser(interpolation=None)
    config.read(env["ANSIBLE_CONFIG"], encoding="utf-8")
    enabled = env.get("ANSIBLE_CALLBACKS_ENABLED", config.get("defaults", "callbacks_enabled", fallback=""))
    paths = env.get("ANSIBLE_CALLBACK_PLUGINS", config.get("defaults", "callback_plugins", fallback=""))
    names = [name for name in enabled.replace(",", " ").split() if name != "bench_calls"]
    return dict(env, ANSIBLE_CALLBACKS_ENABLED=",".join(names + ["bench_calls"]),
                ANSIBLE_CALLBACK_PLUGINS=os.pathsep.join(filter(None, [plugins, paths])), BENCH_CALLS_OUT=out)


def count_calls(label: str, argv: list[str], env: dict, folder: str) -> dict[str, dict]:
    """Run ``argv`` once, not timed, with the counting callback; print and return {host: its counts}."""
    slug = label.replace(" ", "-")
    out, log = os.path.join(folder, f"calls-{slug}.json"), os.path.join(folder, f"calls-{slug}.log")
    wall, cpu, code = run(argv, calls_env(env, folder, out), log)
    if code not in OK_CODES:
        raise SystemExit(f"{label} failed (rc {code}): see {log}")
    if not os.path.exists(out):
        raise SystemExit(f"{label}: the bench_calls callback wrote nothing (was it loaded?): see {log}")
    with open(out, encoding="utf-8") as handle:
        hosts = json.load(handle)
    calls = [row["calls"] for row in hosts.values()]
    print(f"{label}: module calls per host min {min(calls)}, median {statistics.median(calls):g}, max {max(calls)}; "
          f"changed on {sum(1 for row in hosts.values() if row['changed'])} of {len(hosts)} hosts "
          f"(not timed: wall {wall:.1f} s, CPU {cpu:.1f} s, load {load()})", flush=True)
    return hosts


def time_pairs(commands: dict[str, list[str]], pairs: int, env: dict, folder: str, hosts: int,
               logs: dict[str, str]) -> tuple[list[float], list[float]]:
    """Run the two commands in turn ``pairs`` times; print each run and the medians; return the first / second
    (wall, CPU) ratios of each pair."""
    first, second = list(commands)
    width = max(len(name) for name in commands)
    rows: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for pair in range(1, pairs + 1):
        for name, argv in commands.items():
            log = os.path.join(folder, logs[name].format(pair=pair))
            wall, cpu, code = run(argv, env, log)
            print(f"pair {pair} {name:{width}}: wall {wall:6.1f} s, CPU {cpu:6.1f} s, rc {code}, load {load()}", flush=True)
            if code not in OK_CODES:
                raise SystemExit(f"{name} failed (rc {code}): see {log}")
            rows[name].append((wall, cpu))
        print(f"pair {pair} {first} / {second}: wall {rows[first][-1][0] / rows[second][-1][0]:.2f}, "
              f"CPU {rows[first][-1][1] / rows[second][-1][1]:.2f}", flush=True)
    wall_ratios = [a[0] / b[0] for a, b in zip(rows[first], rows[second])]
    cpu_ratios = [a[1] / b[1] for a, b in zip(rows[first], rows[second])]
    for name, values in rows.items():
        walls, cpus = [v[0] for v in values], [v[1] for v in values]
        print(f"{name:{width}}: wall median {statistics.median(walls):.1f} s (min {min(walls):.1f}), "
              f"{statistics.median(walls) / hosts * 1000:.0f} ms per host; CPU median {statistics.median(cpus):.1f} s")
    print(f"{first} / {second}: wall median {statistics.median(wall_ratios):.2f} (min {min(wall_ratios):.2f}), "
          f"CPU median {statistics.median(cpu_ratios):.2f}")
    return wall_ratios, cpu_ratios


def summary(hosts: int, calls: dict[str, dict[str, dict]], ratios: dict[tuple[str, str], list[float]]) -> list[str]:
    """One line per figure: what was measured, the target, PASS or FAIL."""
    rows = []
    for label, target in CALLS_TARGETS.items():
        if label not in calls:
            continue
        per_host = calls[label]
        values = [row["calls"] for row in per_host.values()]
        uncounted = sum(1 for row in per_host.values() if not row["results"] or row["missing"])
        failed = sum(1 for row in per_host.values() if row["failed"])
        notes = [f"{len(per_host)} of {hosts} hosts"] if len(per_host) != hosts else []
        notes += [f"{uncounted} hosts without module_calls"] if uncounted else []
        notes += [f"{failed} hosts failed"] if failed else []
        ok = max(values) <= target and not notes
        rows.append((f"module calls per host, {label}",
                     f"{min(values)} / {statistics.median(values):g} / {max(values)} (min/median/max)",
                     f"<= {target}", ok, notes))
    if "remediate converged" in calls:
        changed = sum(1 for row in calls["remediate converged"].values() if row["changed"])
        rows.append(("hosts changed, remediate converged", str(changed), "0", changed == 0, []))
    for (first, second), values in ratios.items():
        target = RATIO_TARGETS[(first, second)]
        median = statistics.median(values)
        label = "remediate converged / assess" if first == "remediate" else f"{first} / {second}"
        rows.append((f"wall {label}, paired", f"{median:.2f} median of {len(values)} (min {min(values):.2f}, "
                     f"max {max(values):.2f})", f"<= {target}", median <= target, []))
    width = max(len(row[0]) for row in rows)
    measured = max(len(row[1]) for row in rows)
    lines = [f"{'figure':{width}}  {'measured':{measured}}  {'target':8}  result"]
    for figure, value, target, ok, notes in rows:
        lines.append(f"{figure:{width}}  {value:{measured}}  {target:8}  {'PASS' if ok else 'FAIL'}"
                     + (f" ({'; '.join(notes)})" if notes else ""))
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=500)
    parser.add_argument("--forks", type=int, default=5)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--compare", choices=("noop", "remediate", "all"), default="noop",
                        help="noop: assess / no-op pairs (default); remediate: remediate on the converged fleet / assess "
                        "pairs, after one first run; all: both")
    parser.add_argument("--collection", default=ROOT, help="the checkout of the collection to time (default: this one)")
    parser.add_argument("--keep", help="keep the fleet, the logs and the reports in this folder")
    parser.add_argument("--gate", action="store_true",
                        help="assess with its gate on (the hosts that do not pass fail in a second play; rc 2 expected)")
    args = parser.parse_args()
    if args.gate:
        OK_CODES.add(2)
    playbook_bin = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    if not os.path.exists(playbook_bin):
        playbook_bin = shutil.which("ansible-playbook") or "ansible-playbook"
    folder = args.keep or tempfile.mkdtemp(prefix="bench-fleet-")
    os.makedirs(folder, exist_ok=True)
    try:
        inventory = build_fleet(args.hosts, folder)
        noop = os.path.join(folder, "noop.yml")
        with open(noop, "w", encoding="utf-8") as handle:
            handle.write(NOOP)
        env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(os.path.realpath(args.collection), "ansible.cfg"),
                   ANSIBLE_COLLECTIONS_PATH=collections_path(args.collection, folder),
                   BACKUPREADY_REPORT_DIR=os.path.join(folder, "report"), ANSIBLE_FORCE_COLOR="0")
        common = ["-i", inventory, "-f", str(args.forks)]
        commands = {
            "assess": [playbook_bin, *common, "backupready.windows.assess",
                       *([] if args.gate else ["-e", "backupready_gate=false"])],
            "noop": [playbook_bin, *common, noop],
            # remediate.yml hands no backupready_gate to the readiness role: its gate is readiness_gate.
            "remediate": [playbook_bin, *common, "backupready.windows.remediate", "-e", "backupready_gate=false",
                          "-e", "readiness_gate=false"],
        }
        print(f"{args.hosts} hosts, forks {args.forks}, {args.pairs} pairs, compare {args.compare}, "
              f"gate {'on' if args.gate else 'off'}, "
              f"collection {os.path.realpath(args.collection)}")
        calls: dict[str, dict[str, dict]] = {}
        ratios: dict[tuple[str, str], list[float]] = {}
        # assess on the fresh fleet (read-only: the fleet stays fresh for the remediate first run)
        calls["assess"] = count_calls("assess", commands["assess"], env, folder)
        if args.compare in ("noop", "all"):
            ratios[("assess", "noop")] = time_pairs(
                {"assess": commands["assess"], "noop": commands["noop"]}, args.pairs, env, folder, args.hosts,
                {"assess": "assess-{pair}.log", "noop": "noop-{pair}.log"})[0]
        if args.compare in ("remediate", "all"):
            calls["remediate first run"] = count_calls("remediate first run", commands["remediate"], env, folder)
            calls["remediate converged"] = count_calls("remediate converged", commands["remediate"], env, folder)
            ratios[("remediate", "assess")] = time_pairs(
                {"remediate": commands["remediate"], "assess": commands["assess"]}, args.pairs, env, folder,
                args.hosts, {"remediate": "remediate-converged-{pair}.log", "assess": "assess-converged-{pair}.log"})[0]
        print(f"summary: {args.hosts} hosts, forks {args.forks}, load {load()}")
        for line in summary(args.hosts, calls, ratios):
            print(line)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
