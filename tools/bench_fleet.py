# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: the assess playbook on a copy of the demo fleet scaled to N hosts, against a no-op playbook.

Both playbooks run on the same generated inventory, in pairs (assess, no-op, assess, no-op, ...), so that a change in
the machine's load hits both alike; each pair gives one ratio. Wall time is the whole ``ansible-playbook`` run, CPU
is user + system time of its whole process tree (the controller and every forked worker). The machine's load
average is printed with each run.

    .venv/bin/python tools/bench_fleet.py [--hosts 500] [--forks 5] [--pairs 3] [--collection PATH]

The fleet: the 17 demo snapshots copied round-robin, one file per host (``<demo>-NNNNN.json``, ``host.name`` set to
the new name), with the demo's ``ansible_connection: local`` and its ``cluster_nodes`` / ``domain_controllers``
groups. The no-op playbook runs one ``ansible.builtin.debug`` task per host (a forked worker that does nothing).
The assess playbook runs with ``backupready_gate=false`` and writes the fleet report into the temporary folder.
``--collection`` times another checkout of the collection (e.g. an earlier commit, exported with ``git archive``).
"""

from __future__ import annotations

import argparse
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=500)
    parser.add_argument("--forks", type=int, default=5)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--collection", default=ROOT, help="the checkout of the collection to time (default: this one)")
    parser.add_argument("--keep", help="keep the fleet, the logs and the reports in this folder")
    args = parser.parse_args()
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
            "assess": [playbook_bin, *common, "backupready.windows.assess", "-e", "backupready_gate=false"],
            "noop": [playbook_bin, *common, noop],
        }
        print(f"{args.hosts} hosts, forks {args.forks}, {args.pairs} pairs, collection {os.path.realpath(args.collection)}")
        rows: dict[str, list[tuple[float, float]]] = {"assess": [], "noop": []}
        for pair in range(1, args.pairs + 1):
            for name, argv in commands.items():
                wall, cpu, code = run(argv, env, os.path.join(folder, f"{name}-{pair}.log"))
                print(f"pair {pair} {name:6}: wall {wall:6.1f} s, CPU {cpu:6.1f} s, rc {code}, load {load()}", flush=True)
                if code != 0:
                    raise SystemExit(f"{name} failed (rc {code}): see {os.path.join(folder, f'{name}-{pair}.log')}")
                rows[name].append((wall, cpu))
        wall_ratios = [a[0] / b[0] for a, b in zip(rows["assess"], rows["noop"])]
        cpu_ratios = [a[1] / b[1] for a, b in zip(rows["assess"], rows["noop"])]
        for name, values in rows.items():
            walls, cpus = [v[0] for v in values], [v[1] for v in values]
            print(f"{name:6}: wall median {statistics.median(walls):.1f} s (min {min(walls):.1f}), "
                  f"{statistics.median(walls) / args.hosts * 1000:.0f} ms per host; CPU median {statistics.median(cpus):.1f} s")
        print(f"assess / noop: wall median {statistics.median(wall_ratios):.2f} (min {min(wall_ratios):.2f}), "
              f"CPU median {statistics.median(cpu_ratios):.2f}")
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
