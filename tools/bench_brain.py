# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: the assessment's own logic (read the state, test the wanted paths, assess, turn the findings into the
task's result) on a demo host (261 services) and on a generated 3,000-service host.

Prints milliseconds per host and microseconds per service for both, and the ratio of the per-service costs (the
logic is linear when that ratio stays near 1). No Ansible process is started: this is what the
``win_backup_readiness_info`` action does in its worker once the task arguments are validated.

    .venv/bin/python tools/bench_brain.py [--host dc01] [--services 3000] [--runs 7]

The generated host (:func:`scaled_state`) is deterministic: every service of the 17 demo snapshots (deduplicated by
name) is taken in turn, and each further copy gets a new name and a new binary (``name-N`` and ``binary-N.exe``
/ ``.sys``) whose existence answer is copied into ``paths``; the CAPI2 513 events that name a service are copied
for each copy of it, so every kind of finding scales with the host.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import glob
import json
import os
import re
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))

import conftest  # noqa: E402,F401  # pylint: disable=wrong-import-position,unused-import  # collection finder

SNAPSHOTS = os.path.join(ROOT, "examples", "fleet", "snapshots")
_BINARY = re.compile(r"\.(exe|sys)(?=[^\\]*$|[\s\"\x00])", re.IGNORECASE)


def demo_snapshots() -> list[str]:
    paths = sorted(glob.glob(os.path.join(SNAPSHOTS, "*.json")))
    if not paths:
        raise SystemExit(f"no demo snapshots in {SNAPSHOTS}: run tools/build_demo_fleet.py")
    return paths


def _renamed(text: str, copy_index: int) -> str:
    """``...\\binary.exe args`` -> ``...\\binary-N.exe args`` (the first .exe/.sys); unchanged when it names none."""
    return _BINARY.sub(lambda m: f"-{copy_index}{m.group(0)}", text, count=1)


def scaled_state(snapshot_paths: list[str], services: int) -> dict:
    """A valid host state document with ``services`` services built from the given snapshots (see the module doc).

    The host itself (volumes, writer, ACLs) is the first snapshot's, with every volume any snapshot has; the
    services, paths and events are the union of all the snapshots', then copied under new names.
    """
    docs = [json.load(open(path, encoding="utf-8")) for path in snapshot_paths]
    state = copy.deepcopy(docs[0])
    state["host"]["name"] = f"generated-{services}"
    letters = {v.get("drive_letter") for v in state["volumes"]}
    pool, names, paths, events = [], set(), {}, []
    for doc in docs:
        for volume in doc["volumes"]:
            if volume.get("drive_letter") not in letters:
                letters.add(volume.get("drive_letter"))
                state["volumes"].append(copy.deepcopy(volume))
        for service in doc["services"]:
            if service["name"].lower() not in names:
                names.add(service["name"].lower())
                pool.append(service)
        for path, exists in doc["paths"].items():
            paths.setdefault(path, exists)
        for event in doc["events"]:
            if event not in events:
                events.append(event)
    generated, new_paths, new_events = [], dict(paths), list(events)
    for index in range(services):
        original = pool[index % len(pool)]
        copy_index = index // len(pool)
        if copy_index == 0:
            generated.append(copy.deepcopy(original))
            continue
        service = copy.deepcopy(original)
        service["name"] = f"{original['name']}-{copy_index}"
        if isinstance(original.get("display_name"), str) and not original["display_name"].startswith("@"):
            service["display_name"] = f"{original['display_name']}-{copy_index}"
        if isinstance(service["image_path"].get("data"), str):
            service["image_path"]["data"] = _renamed(service["image_path"]["data"], copy_index)
        if isinstance(service.get("scm_path"), str):
            service["scm_path"] = _renamed(service["scm_path"], copy_index)
        generated.append(service)
        for event in events:
            marker = f"image of binary {original.get('display_name')}."
            if original.get("display_name") and marker in json.dumps(event):
                text = json.dumps(event).replace(json.dumps(marker)[1:-1], json.dumps(
                    f"image of binary {service['display_name']}.")[1:-1])
                new_events.append(json.loads(text))
    for path, exists in paths.items():
        for copy_index in range(1, (services - 1) // len(pool) + 1):
            renamed = _renamed(path, copy_index)
            if renamed != path:
                new_paths.setdefault(renamed, exists)
    # The writer's default path of a driver with no ImagePath follows the service name.
    for service in generated:
        if service["image_path"]["kind"] == "missing":
            default = f"C:\\Windows\\System32\\Drivers\\{service['name']}.SYS"
            original = re.sub(r"-\d+\.SYS$", ".SYS", default)
            if original in paths:
                new_paths.setdefault(default, paths[original])
    state["services"] = generated
    state["paths"] = new_paths
    state["events"] = new_events
    return state


def write_state(state: dict, folder: str) -> str:
    from ansible_collections.backupready.windows.plugins.plugin_utils._state import dump_state  # noqa: E402

    path = os.path.join(folder, f"{state['host']['name']}.json")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(dump_state(state))
    return path


def action_logic(snapshot_path: str, host: str) -> dict:
    """What the assessment action does for a snapshot host once its arguments are valid: the probe (read and
    validate the snapshot), the wanted paths and their existence, every check, and the findings as the task
    returns them (as dicts, marked by the waivers: none here). Returns the wanted paths and the findings."""
    # pylint: disable=import-outside-toplevel
    from ansible_collections.backupready.windows.plugins.action.win_backup_readiness_info import waived_findings
    from ansible_collections.backupready.windows.plugins.plugin_utils._action import merge_paths
    from ansible_collections.backupready.windows.plugins.plugin_utils._backend import SnapshotBackend
    from ansible_collections.backupready.windows.plugins.plugin_utils._findings import assess, wanted_paths

    backend = SnapshotBackend(snapshot_path, host)
    state = backend.probe()
    paths = wanted_paths(state)
    if paths:
        state = merge_paths(state, backend.path_exists(paths))
    findings = assess(state)
    return {"wanted_paths": paths, "findings": waived_findings(host, findings, [], datetime.date.today())}


def _time(path: str, host: str, runs: int) -> list[float]:
    times = []
    for _run in range(runs):
        started = time.perf_counter()
        action_logic(path, host)
        times.append(time.perf_counter() - started)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="dc01", help="the demo host to time (default: dc01)")
    parser.add_argument("--services", type=int, default=3000, help="services of the generated host (default: 3000)")
    parser.add_argument("--runs", type=int, default=7, help="timed runs of each host (default: 7); the median is printed")
    args = parser.parse_args()
    demo = os.path.join(SNAPSHOTS, f"{args.host}.json")
    if not os.path.isfile(demo):
        raise SystemExit(f"--host {args.host}: no snapshot {demo}")
    with tempfile.TemporaryDirectory() as folder:
        big = write_state(scaled_state(demo_snapshots(), args.services), folder)
        rows = []
        for name, path in ((args.host, demo), (f"generated-{args.services}", big)):
            count = len(json.load(open(path, encoding="utf-8"))["services"])
            action_logic(path, name)  # warm-up: imports and first-call costs are not the logic's
            times = _time(path, name, args.runs)
            median = statistics.median(times)
            rows.append((name, count, median, min(times)))
            print(f"{name}: {count} services, {median * 1000:.1f} ms per host (min {min(times) * 1000:.1f}), "
                  f"{median / count * 1e6:.1f} us per service")
    small, large = rows
    ratio = (large[2] / large[1]) / (small[2] / small[1])
    print(f"per-service cost, {large[0]} / {small[0]}: {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
