# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: diagnose 10,000 ImagePath values and print values/second and peak memory.

Values: the real default-Windows values (``../shared/data/imagepaths-default-windows.jsonl`` when present),
repeated, plus generated variants with the real-world defects of reference §A.6 (doubled \\SystemRoot\\,
``..\\`` segments, embedded NUL, quoted drivers, forward slashes, unquoted spaces, other volumes).

    .venv/bin/python tools/bench_imagepath.py [--count 10000] [--data PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import tracemalloc

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))

import conftest  # noqa: E402,F401  # pylint: disable=wrong-import-position,unused-import  # collection finder
from ansible_collections.backupready.windows.plugins.plugin_utils._imagepath import diagnose  # noqa: E402

DEFAULT_DATA = os.path.join(ROOT, "..", "shared", "data", "imagepaths-default-windows.jsonl")
FALLBACK = [  # used when the shared data set is not there
    ("\\SystemRoot\\System32\\drivers\\1394ohci.sys", "driver"),
    ("System32\\drivers\\ACPI.sys", "driver"),
    ("%SystemRoot%\\system32\\svchost.exe -k netsvcs -p", "win32"),
    ('"%systemroot%\\system32\\wbengine.exe"', "win32"),
]


def real_values(path: str) -> list[tuple[str, str]]:
    if not os.path.exists(path):
        return list(FALLBACK)
    rows = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            driver = "DRIVER" in row["observed_via"]
            rows.append((row["value"], "driver" if driver else "win32"))
    return rows


def variants(value: str, service_type: str) -> list[tuple[str, str]]:
    """Defective variants of one real value (reference §A.6)."""
    out = [(value + "\x001251;LC_MONETARY=Russian_Russia.1251", service_type), (value.replace("\\", "/"), service_type)]
    if service_type == "driver":
        out += [("\\Systemroot" + value if value.lower().startswith("\\systemroot\\") else "\\" + value, "driver"),
                ('"C:\\Windows\\' + value.split("\\", 2)[-1] + '"', "driver")]
    else:
        out += [("C:\\Program Files\\Vendor Dir\\..\\App\\" + value.split("\\")[-1], "win32"),
                ('"S:\\Cluster Disk\\' + value.split("\\")[-1].split(" ")[0] + '" -node', "win32")]
    return out


def workload(count: int, path: str) -> list[tuple[str, str]]:
    base = real_values(path)
    generated = [v for value, kind in base for v in variants(value, kind)]
    pool = base + generated
    return [pool[i % len(pool)] for i in range(count)]


def exists(path: str) -> bool:  # pylint: disable=unused-argument
    """Every binary exists (existence answers as the probe's second call gives them)."""
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--data", default=DEFAULT_DATA)
    args = parser.parse_args()
    values = workload(args.count, args.data)
    volumes = ["C:", "D:"]

    started = time.perf_counter()
    defects = 0
    for value, service_type in values:
        defects += bool(diagnose(value, service_type=service_type, volumes=volumes, service_name="svc",
                                 exists=exists).defects)
    elapsed = time.perf_counter() - started

    tracemalloc.start()
    for value, service_type in values:
        diagnose(value, service_type=service_type, volumes=volumes, service_name="svc", exists=exists)
    _unused, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    print(f"values: {len(values)} ({defects} with a defect)")
    print(f"time: {elapsed:.3f} s, {len(values) / elapsed:,.0f} values/second")
    print(f"peak memory while diagnosing (tracemalloc): {peak / 1024:.1f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
