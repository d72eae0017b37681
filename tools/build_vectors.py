# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Build the ImagePath pairs of ``tests/vectors/same_command.json`` from the fixes the brain plans.

    .venv/bin/python tools/build_vectors.py             # rewrite tests/vectors/same_command.json
    .venv/bin/python tools/build_vectors.py --check     # exit 1 when the committed file differs

The allow-list must admit every fix ``_imagepath`` plans and its exact reverse (docs/write-path.md). The pairs are
every fix planned on the demo fleet (``examples/fleet/snapshots``) and on the real values of
``tests/data/imagepaths-*.jsonl`` (each row names its public source), plus hand-written cases (``HANDWRITTEN`` below) that must be refused.
Both the Python allow-list (``_allowlist.same_command``) and the C# engine (``BackupReady.cs``) run the file.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, ".venv", "collections"))

# pylint: disable=wrong-import-position
from ansible_collections.backupready.windows.plugins.plugin_utils import _checks  # noqa: E402,F401  # pylint: disable=unused-import
from ansible_collections.backupready.windows.plugins.plugin_utils._imagepath import (  # noqa: E402
    DRIVER, diagnose, infer_service_type, plan_imagepath_fixes,
)

OUT = os.path.join(REPO, "tests", "vectors", "same_command.json")
VALUES = [os.path.join(REPO, "tests", "data", name)
          for name in ("imagepaths-default-windows.jsonl", "imagepaths-more-real.jsonl")]
SYSTEM_ROOT = "C:\\Windows"

# (driver, a, b, same, why): the edges of the rule, written by hand.
HANDWRITTEN = [
    (False, "%SystemRoot%\\System32\\alg.exe", "C:\\Users\\Public\\evil.exe", False, "another executable"),
    (False, "%SystemRoot%\\System32\\svchost.exe -k netsvcs -p", "%SystemRoot%\\System32\\svchost.exe -k netsvcs -p -x",
     False, "other arguments"),
    (False, "%SystemRoot%\\System32\\svchost.exe -k netsvcs", "%SystemRoot%\\System32\\svchost.exe -k  netsvcs",
     False, "arguments are compared exactly, spacing included"),
    (False, "%SystemRoot%\\System32\\svchost.exe -k netsvcs", "%systemroot%\\system32\\SVCHOST.EXE -k netsvcs",
     True, "the executable is compared as Windows compares paths"),
    (False, "C:\\Program Files\\App\\svc.exe -k", "\"C:\\Program Files\\App\\svc.exe\" -k", True, "quoting"),
    (False, "\"C:\\Program Files\\App\\svc.exe", "\"C:\\Program Files\\App\\svc.exe\"", True, "closing quote"),
    (False, "C:\\Windows\\System32\\x.exe", "%SystemRoot%\\System32\\x.exe", True, "the host's system root"),
    (False, "%windir%\\System32\\x.exe", "%SystemRoot%\\System32\\x.exe", True, "%windir%"),
    (False, "C:\\a\\..\\..\\x.exe", "C:\\x.exe", False, "'..' above the root is not comparable"),
    (False, "\\\\server\\share\\x.exe", "\\\\server\\share\\x.exe", True, "identical text is the same command"),
    (False, "\\\\server\\share\\x.exe", "\\\\Server\\share\\x.exe", False, "UNC paths are never reduced"),
    (False, "C:\\a\\b\\..\\x.exe", "C:\\a\\x.exe", True, "'..' resolved"),
    (False, "C:\\a.exe.d\\x.exe", "\"C:\\a.exe\".d\\x.exe", False, "'.exe' inside a folder name: not reducible"),
    (False, "\"C:\\a b\\x.exe\"-k", "C:\\a b\\x.exe -k", False, "a closing quote not followed by a space"),
    (False, "C:/a/x.exe", "C:\\a\\x.exe", True, "forward slashes"),
    (False, "D:\\a\\x.exe", "C:\\a\\x.exe", False, "another drive"),
    (True, "\\Systemroot\\Systemroot\\System32\\drivers\\vdrvroot.sys",
     "\\SystemRoot\\System32\\drivers\\vdrvroot.sys", True, "doubled \\SystemRoot\\ (systeminformer#1371)"),
    (True, "\\\\SystemRoot\\System32\\drivers\\x.sys", "\\SystemRoot\\System32\\drivers\\x.sys", True,
     "a leading doubled backslash (KB 4053355)"),
    (True, "System32\\drivers\\x.sys", "\\SystemRoot\\System32\\drivers\\x.sys", True, "relative to %SystemRoot%"),
    (True, "\\??\\C:\\x\\kph.sys\x00garbage", "\\??\\C:\\x\\kph.sys", True, "data after a NUL (systeminformer#111)"),
    (True, "\"\\SystemRoot\\System32\\drivers\\x.sys\"", "\\SystemRoot\\System32\\drivers\\x.sys", True,
     "a quoted driver (mullvad/windows-service-rs#57)"),
    (True, "C:\\x\\y.sys", "\\??\\C:\\x\\y.sys", True, "the NT prefix of a drive path"),
    (True, "\\SystemRoot\\System32\\drivers\\x.sys", "\\SystemRoot\\System32\\drivers\\evil.sys", False,
     "another driver file"),
    (True, "\\SystemRoot\\System32\\drivers\\x.sys", "\\Device\\HarddiskVolume1\\x.sys", False,
     "an NT device path is never comparable"),
    (True, "\\\\server\\share\\x.sys\x00junk", "\\\\server\\share\\x.sys", True,
     "the same text up to the NUL, even for a path that cannot be reduced"),
    (True, "\\\\server\\share\\x.sys", "\\\\server\\share\\y.sys", False, "UNC paths are not reduced"),
    (True, "\\SystemRoot\\x\\\"y.sys", "\\SystemRoot\\x\\y.sys", False, "a quote inside a driver path"),
]


def _pairs_from(states: list[tuple[str, dict]]) -> list[dict]:
    pairs = []
    for source, state in states:
        types = {s["name"].lower(): s["type"] for s in state["services"]}
        operations, _rows = plan_imagepath_fixes(state)
        for op in operations:
            service = op["key"].rsplit("\\", 1)[-1]
            driver = bool(types[service.lower()] & 0xB)
            pairs.append({"driver": driver, "a": op["expect"]["data"], "b": op["set"]["data"], "same": True,
                          "why": f"the fix planned for {service} ({source})"})
    return pairs


def build() -> dict:
    states = []
    for path in sorted(glob.glob(os.path.join(REPO, "examples", "fleet", "snapshots", "*.json"))):
        with open(path, encoding="utf-8") as handle:
            states.append((f"demo host {os.path.basename(path)[:-5]}", json.load(handle)))
    pairs = _pairs_from(states)
    values = []
    for path in VALUES:
        with open(path, encoding="utf-8") as handle:
            values.extend(json.loads(line) for line in handle if line.strip())
    for item in values:
        service_type = infer_service_type(item["value"])
        diagnosis = diagnose(item["value"], kind="REG_EXPAND_SZ", service_type=service_type)
        if diagnosis.fixed_value is not None:
            pairs.append({"driver": service_type == DRIVER, "a": item["value"], "b": diagnosis.fixed_value,
                          "same": True, "why": f"the fix planned for {item['id']} ({item['source']})"})
    for driver, a, b, same, why in HANDWRITTEN:
        pairs.append({"driver": driver, "a": a, "b": b, "same": same, "why": why})
    return {"about": "ImagePath pairs for the 'same command' rule of docs/write-path.md; written by "
                     "tools/build_vectors.py. Each pair holds in both directions.",
            "system_root": SYSTEM_ROOT, "pairs": pairs}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    text = json.dumps(build(), indent=1, ensure_ascii=True) + "\n"
    if args.check:
        with open(OUT, encoding="utf-8") as handle:
            return 0 if handle.read() == text else 1
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
