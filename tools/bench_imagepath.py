# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: diagnose 10,000 ImagePath values and print values/second and peak memory.

Values: the real values of ``tests/data/imagepaths-default-windows.jsonl`` and ``imagepaths-more-real.jsonl`` (it stops,
naming the file, when one cannot be read),
repeated, plus generated variants with the real-world defects of winsiderss/systeminformer#111 and #1371, mikefrobbins.com 2009 (doubled \\SystemRoot\\,
``..\\`` segments, embedded NUL, quoted drivers, forward slashes, unquoted spaces, other volumes).

    .venv/bin/python tools/bench_imagepath.py [--count 10000] [--runs 5] [--data PATH ...]

Each run diagnoses every value once; the median and the best run are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import tracemalloc

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))

import conftest  # noqa: E402,F401  # pylint: disable=wrong-import-position,unused-import  # collection finder
from ansible_collections.backupready.windows.plugins.plugin_utils._imagepath import diagnose  # noqa: E402

DEFAULT_DATA = [os.path.join(ROOT, "tests", "data", "imagepaths-default-windows.jsonl"),
                os.path.join(ROOT, "tests", "data", "imagepaths-more-real.jsonl")]


def real_values(path: str) -> list[tuple[str, str]]:
    """(value, service type) of each row of a JSON-lines data set; exits naming the file when it cannot be read."""
    rows = []
    try:
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                try:
                    row = json.loads(line)
                    driver = "DRIVER" in row.get("observed_via", "")
                    rows.append((row["value"], "driver" if driver else "win32"))
                except (ValueError, KeyError, TypeError, AttributeError) as exc:
                    raise SystemExit(f"bench_imagepath: {path}, line {number}: not a data set row ({exc})") from None
    except OSError as exc:
        raise SystemExit(f"bench_imagepath: cannot read the data set {path}: {exc.strerror or exc} "
                         "(the data sets are in tests/data/)") from None
    if not rows:
        raise SystemExit(f"bench_imagepath: the data set {path} is empty")
    return rows


def variants(value: str, service_type: str) -> list[tuple[str, str]]:
    """Defective variants of one real value (winsiderss/systeminformer#111 and #1371, mikefrobbins.com 2009)."""
    out = [(value + "\x001251;LC_MONETARY=Russian_Russia.1251", service_type), (value.replace("\\", "/"), service_type)]
    if service_type == "driver":
        out += [("\\Systemroot" + value if value.lower().startswith("\\systemroot\\") else "\\" + value, "driver"),
                ('"C:\\Windows\\' + value.split("\\", 2)[-1] + '"', "driver")]
    else:
        out += [("C:\\Program Files\\Vendor Dir\\..\\App\\" + value.split("\\")[-1], "win32"),
                ('"S:\\Cluster Disk\\' + value.split("\\")[-1].split(" ")[0] + '" -node', "win32")]
    return out


def workload(count: int, paths: list[str]) -> list[tuple[str, str]]:
    base = [row for path in paths for row in real_values(path)]
    generated = [v for value, kind in base for v in variants(value, kind)]
    pool = base + generated
    return [pool[i % len(pool)] for i in range(count)]


def exists(path: str) -> bool:  # pylint: disable=unused-argument
    """Every binary exists (existence answers as the probe's second call gives them)."""
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--data", action="append", metavar="PATH",
                        help="a JSON-lines data set (repeat for more); default: the two in tests/data/")
    args = parser.parse_args()
    values = workload(args.count, args.data or DEFAULT_DATA)
    volumes = ["C:", "D:"]

    times = []
    for _run in range(max(args.runs, 1)):
        started = time.perf_counter()
        defects = 0
        for value, service_type in values:
            defects += bool(diagnose(value, service_type=service_type, volumes=volumes, service_name="svc",
                                     exists=exists).defects)
        times.append(time.perf_counter() - started)
    elapsed, best = statistics.median(times), min(times)

    tracemalloc.start()
    for value, service_type in values:
        diagnose(value, service_type=service_type, volumes=volumes, service_name="svc", exists=exists)
    _unused, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    print(f"values: {len(values)} ({defects} with a defect)")
    print(f"time: {elapsed:.3f} s, {len(values) / elapsed:,.0f} values/second (median of {len(times)} runs; "
          f"best {best:.3f} s, {len(values) / best:,.0f} values/second)")
    print(f"peak memory while diagnosing (tracemalloc): {peak / 1024:.1f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
