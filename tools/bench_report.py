"""Time the fleet report for a large fleet (default: 2,000 hosts), and how long report.html takes to open.

Two kinds of fleet:

- ``--fleet demo`` (default): the real findings of the demo fleet (``examples/fleet``, assessed once with
  ansible-playbook and the report callback), copied over and over under new host names (about 1.3 findings
  per host): what a real 2,000-host run gives.
- ``--fleet synthetic``: ~8 generated findings per host, each result carrying a host state document of ~300
  services (which the callback must drop at once): the heavy case.

The results are fed through the real ``readiness_report`` callback, as ansible-playbook would, then it writes
its files. The time to make the data (the demo assess, the synthetic results) is measured apart from the
report's own time: collecting (the callback's ``v2_runner_on_ok``), then building the model and writing each
file. With Chromium installed, report.html is then opened ``--runs`` times in headless Chromium
(``--dump-dom`` and ``--screenshot``: wall time, Chromium's own start included; then through the DevTools
protocol, the page's own figures: from its navigation start to its load event and to its host list drawn).
Run from the checkout after ``make setup``:

    .venv/bin/python tools/bench_report.py [--hosts 2000] [--fleet demo|synthetic] [--runs 3] [--memory] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from unittest.mock import MagicMock

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(ROOT, ".venv", "collections")
BIN = os.path.dirname(sys.executable)
INFO = "backupready.windows.win_backup_readiness_info"


def install_collection() -> None:
    link = os.path.join(COLLECTIONS, "ansible_collections", "backupready", "windows")
    if not os.path.exists(link):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(ROOT, link)
    from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder
    _AnsibleCollectionFinder(paths=[COLLECTIONS])._install()  # pylint: disable=protected-access


# ---- the data ----------------------------------------------------------------------------------------------

def demo_results(tmp: str, report_json: str | None = None) -> list[tuple[str, dict]]:
    """(host, win_backup_readiness_info result) of each demo-fleet host, from one real assess run (or from the
    ``report.json`` of an earlier run, to compare two versions of the report on the same data)."""
    if report_json:
        return template_of(report_json)
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_COLLECTIONS_PATH=COLLECTIONS,
               ANSIBLE_NOCOLOR="1", BACKUPREADY_REPORT_DIR=os.path.join(tmp, "demo-report"),
               PATH=BIN + os.pathsep + os.environ.get("PATH", ""))
    command = [os.path.join(BIN, "ansible-playbook"), "-i", os.path.join(ROOT, "examples", "fleet", "inventory.yml"),
               "backupready.windows.assess", "-e", "backupready_gate=false"]
    done = subprocess.run(command, cwd=tmp, env=env, capture_output=True, text=True, timeout=600, check=False)
    path = os.path.join(tmp, "demo-report", "report.json")
    if not os.path.exists(path):
        sys.exit(f"the demo assess wrote no report.json:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return template_of(path)


def template_of(path: str) -> list[tuple[str, dict]]:
    with open(path, encoding="utf-8") as handle:
        report = json.load(handle)
    return [(host["name"], {"changed": False, "complete": True, "fail_on": "error", "findings": host["findings"],
                            "summary": {"host": host["name"], "os": host.get("os"), "findings": len(host["findings"])}})
            for host in report["hosts"] if host.get("assessed", True) and host.get("os") is not None]


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
    return {"changed": False, "complete": True, "ready": False, "fail_on": "error", "findings": findings, "state": state,
            "summary": {"host": f"host{index:05d}", "os": "Microsoft Windows Server 2022 Standard",
                        "services": 300, "findings": len(findings)}}


def fleet(kind: str, hosts: int, template: list[tuple[str, dict]]):
    """(host name, result) for each host, made one at a time (the caller times the making apart)."""
    if kind == "demo":
        for index in range(hosts):
            name, result = template[index % len(template)]
            yield f"{name}-{index:05d}", result
        return
    from ansible_collections.backupready.windows.plugins.plugin_utils._findings import CODES
    rng, codes = random.Random(7), list(CODES.values())
    for index in range(hosts):
        yield f"host{index:05d}", synthetic_result(rng, index, codes)


# ---- the report --------------------------------------------------------------------------------------------

def one_run(kind: str, hosts: int, template, out: str) -> dict:
    from ansible.executor.task_result import TaskResult
    from ansible.inventory.host import Host
    from ansible.plugins.loader import callback_loader
    from ansible_collections.backupready.windows.plugins.plugin_utils import _report

    display = MagicMock()
    display.verbosity = 0
    callback = callback_loader.get("backupready.windows.readiness_report", display=display)
    callback.set_options(direct={"report_dir": out})
    task = MagicMock()
    task.action = task.resolved_action = INFO
    task.args, task.no_log = {}, False
    generate = collect = 0.0
    names = []
    made = time.perf_counter()
    for name, result in fleet(kind, hosts, template):
        started = time.perf_counter()
        generate += started - made
        names.append(name)
        # a new result object per host, as the strategy hands them over; nothing else keeps it
        callback.v2_runner_on_ok(TaskResult(Host(name), task, result, {}))
        made = time.perf_counter()
        collect += made - started
    writers, timings = dict(_report.WRITERS), {}

    def timed(name, writer):
        def write(*args, **kwargs):
            started = time.perf_counter()
            try:
                return writer(*args, **kwargs)
            finally:
                timings[name] = time.perf_counter() - started
        return write

    _report.WRITERS.update({name: timed(name, writer) for name, writer in writers.items()})
    try:
        stats = MagicMock()
        stats.processed = dict.fromkeys(names, 1)
        started = time.perf_counter()
        callback.v2_playbook_on_stats(stats)
        finish = time.perf_counter() - started
    finally:
        _report.WRITERS.update(writers)
    (line,), _unused = display.display.call_args
    return {"generate": generate, "collect": collect, "build": finish - sum(timings.values()), "writers": timings,
            "line": line, "findings": sum(len(r.findings) for r in callback.collector.hosts.values())}


# ---- report.html in headless Chromium ----------------------------------------------------------------------

def chromium_binary(wanted: str | None) -> str | None:
    if wanted:
        return None if wanted == "none" else wanted
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def open_in_chromium(binary: str, page: str, screenshot: bool = False) -> tuple[float, str]:
    """Wall time of ``chromium --headless --dump-dom`` (or ``--screenshot``, which also lays out and paints the
    first 1280x1400 pixels) on the page, and the DOM it dumped."""
    with tempfile.TemporaryDirectory(prefix="backupready-chromium-") as profile:
        action = [f"--screenshot={os.path.join(profile, 'shot.png')}"] if screenshot else ["--dump-dom"]
        command = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
                   "--disable-background-networking", "--disable-component-update", "--window-size=1280,1400",
                   "--hide-scrollbars", f"--user-data-dir={profile}", *action,
                   page if page == "about:blank" else "file://" + page]
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
        wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return wall, done.stdout


def open_with_devtools(binary: str, page: str) -> dict:
    """A fresh headless Chromium opens the page: its own start (s), then in the page (ms from navigation start)
    the load event and the host list drawn (the page's script records that moment; an older page, without
    script, is drawn at its load event)."""
    sys.path.insert(0, os.path.join(ROOT, "tests", "playbook"))
    from devtools import Browser  # pylint: disable=import-outside-toplevel

    started = time.perf_counter()
    browser = Browser(binary, height=1400)
    try:
        up = time.perf_counter()
        browser.open("file://" + page, drawn=False)
        deadline = time.monotonic() + 60
        while browser.js("!!document.getElementById('report-data') && "
                         "!document.documentElement.hasAttribute('data-drawn-ms')"):
            if time.monotonic() > deadline:
                raise TimeoutError("the page never drew its host list")
            time.sleep(0.01)
        opened = time.perf_counter()
        figures = browser.js("({load: performance.timing.loadEventEnd - performance.timing.navigationStart,"
                             " drawn: document.documentElement.getAttribute('data-drawn-ms')})")
    finally:
        browser.close()
    load = float(figures["load"])
    return {"start": up - started, "open": opened - up, "load": load,
            "drawn": float(figures["drawn"]) if figures["drawn"] else load}


def spread(values: list[float], unit: str = "s", scale: float = 1.0) -> str:
    values = [v * scale for v in values]
    if len(values) == 1:
        return f"{values[0]:.2f} {unit}"
    return f"median {statistics.median(values):.2f} {unit} (min {min(values):.2f}, max {max(values):.2f}, {len(values)} runs)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=2000)
    parser.add_argument("--fleet", choices=("demo", "synthetic"), default="demo")
    parser.add_argument("--runs", type=int, default=3, help="report runs and Chromium openings (default 3)")
    parser.add_argument("--memory", action="store_true", help="one more run under tracemalloc: peak Python memory")
    parser.add_argument("--chromium", default=None, help="the Chromium binary, or 'none' (default: found on PATH)")
    parser.add_argument("--from-report", default=None, metavar="REPORT_JSON",
                        help="with --fleet demo: copy the hosts of this report.json instead of assessing the demo fleet")
    parser.add_argument("--out", default=None, help="report directory to keep (default: a temporary one)")
    args = parser.parse_args()
    install_collection()
    with tempfile.TemporaryDirectory(prefix="backupready-bench-") as tmp:
        out = os.path.abspath(args.out) if args.out else os.path.join(tmp, "report")
        started = time.perf_counter()
        template = demo_results(tmp, args.from_report) if args.fleet == "demo" else []
        prepare = time.perf_counter() - started
        runs = [one_run(args.fleet, args.hosts, template, out) for _unused in range(max(1, args.runs))]
        peak = None
        if args.memory:
            tracemalloc.start()
            one_run(args.fleet, args.hosts, template, out)
            _unused, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
        sizes = {name: os.path.getsize(os.path.join(out, name)) for name in sorted(os.listdir(out))
                 if not name.startswith(".")}
        binary = chromium_binary(args.chromium)
        opened, blank, shots, devtools = [], [], [], []
        if binary:
            blank = [open_in_chromium(binary, "about:blank")[0] for _unused in range(max(1, args.runs))]
            for _unused in range(max(1, args.runs)):
                opened.append(open_in_chromium(binary, os.path.join(out, "report.html")))
            shots = [open_in_chromium(binary, os.path.join(out, "report.html"), screenshot=True)[0]
                     for _unused in range(max(1, args.runs))]
            devtools = [open_with_devtools(binary, os.path.join(out, "report.html")) for _unused in range(max(1, args.runs))]
        first = runs[0]
        print(f"fleet: {args.fleet}, hosts: {args.hosts}, findings: {first['findings']}")
        if args.fleet == "demo":
            print(f"data: {len(template)} assessed hosts from " + (args.from_report or "the demo assess")
                  + f", {prepare:.2f} s (not counted below)")
        print("data generation (not counted below): " + spread([r["generate"] for r in runs]))
        print("collect (callback, per result): " + spread([r["collect"] for r in runs]))
        print("build (hosts, waivers, summary): " + spread([r["build"] for r in runs]))
        for name in first["writers"]:
            print(f"write {name}: " + spread([r["writers"][name] for r in runs]))
        print("html render: " + spread([r["writers"].get("html", 0.0) for r in runs]))
        print("report total (collect + build + write): " + spread(
            [r["collect"] + r["build"] + sum(r["writers"].values()) for r in runs]))
        if peak is not None:
            print(f"peak traced memory: {peak / 2**20:.1f} MiB")
        print("files: " + ", ".join(f"{name} {size / 2**20:.2f} MiB" for name, size in sizes.items()))
        print(f"html size: {sizes.get('report.html', 0) / 2**20:.2f} MiB ({sizes.get('report.html', 0)} bytes)")
        if opened:
            print(f"chromium --dump-dom of about:blank (Chromium's own start): {spread(blank)}")
            print(f"chromium --dump-dom of report.html (load time, Chromium start included): "
                  f"{spread([wall for wall, _dom in opened])}")
            print(f"chromium --screenshot 1280x1400 of report.html (laid out and painted): {spread(shots)}")
            print("devtools, Chromium's own start: " + spread([d["start"] for d in devtools]))
            print("devtools, navigation to host list drawn (wall): " + spread([d["open"] for d in devtools]))
            print("in the page, navigation start to load event: " + spread([d["load"] for d in devtools], "ms"))
            print("in the page, navigation start to host list drawn: " + spread([d["drawn"] for d in devtools], "ms"))
        else:
            print("chromium: not found (install it, or give --chromium PATH); report.html not opened")
        print(first["line"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
