# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Build the ImagePath pairs of ``tests/vectors/same_command.json`` from the fixes the brain plans, and the values of
``tests/vectors/display.json`` as ``_display`` shows them.

    .venv/bin/python tools/build_vectors.py             # rewrite tests/vectors/same_command.json and display.json
    .venv/bin/python tools/build_vectors.py --check     # exit 1 when a committed file differs

The allow-list must admit every fix ``_imagepath`` plans and its exact reverse (docs/write-path.md). The pairs are
every fix planned on the demo fleet (``examples/fleet/snapshots``) and on the real values of
``tests/data/imagepaths-*.jsonl`` (each row names its public source), plus hand-written cases (``HANDWRITTEN`` below) that must be refused.
Both the Python allow-list (``_allowlist.same_command``) and the C# engine (``BackupReady.cs``) run the file.

``display.json`` holds values (``DISPLAY`` below: paths, invisible characters of every kind, quotes, long text cut,
nested lists and mappings) and the text ``_display.quoted``/``visible``/``shown`` gives for each; the engine's
``PyText.Quoted``/``Visible``/``Shown`` must give the same text, so that its messages read as the Python side's.
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
from ansible_collections.backupready.windows.plugins.plugin_utils._display import quoted, shown, visible  # noqa: E402
from ansible_collections.backupready.windows.plugins.plugin_utils._imagepath import (  # noqa: E402
    DRIVER, diagnose, infer_service_type, plan_imagepath_fixes,
)

OUT = os.path.join(REPO, "tests", "vectors", "same_command.json")
DISPLAY_OUT = os.path.join(REPO, "tests", "vectors", "display.json")
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
    (True, "C:\\Windows\\..\\0.sys", "\\??\\C:\\0.sys", False,
     "a driver path is opened as an NT path, which does not resolve '..'"),
    (True, "\\??\\C:\\Windows\\..\\Users\\Public\\x.sys", "\\??\\C:\\Users\\Public\\x.sys", False,
     "'..' in an NT path names no file that loads: never the same as one that does"),
    (True, "\\SystemRoot\\System32\\.\\drivers\\x.sys", "\\SystemRoot\\System32\\drivers\\x.sys", False,
     "'.' in a driver path is not resolved either"),
    (False, "\\??\\C:\\a\\..\\x.exe", "C:\\x.exe", False, "'..' after the NT prefix is not resolved"),
    (False, "C:\\Windows\\..\\Windows\\System32\\x.exe", "%SystemRoot%\\System32\\x.exe", True,
     "'..' back into the system root"),
    (False, "C:\\Windows\\..\\..\\x.exe", "C:\\x.exe", False, "'..' above the drive root is not comparable"),
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


# (function, value, options, why): what a message may have to show. Characters are taken from old Unicode versions
# only (the tables of mono and of .NET Framework are older than Python's).
DISPLAY = [
    ("quoted", "C:\\Windows\\System32\\drivers\\x.sys", {}, "a path keeps its single backslashes"),
    ("quoted", "HKLM\\SOFTWARE\\Evil", {}, "a registry key as regedit shows it"),
    ("quoted", "\\\\SystemRoot\\System32\\drivers\\winmad.sys", {}, "a doubled backslash stays doubled (KB 4053355)"),
    ("quoted", "\\\\server\\share\\", {}, "a UNC path and a trailing backslash"),
    ("quoted", "a\x00b", {}, "NUL"),
    ("quoted", "\\??\\C:\\x\\kph.sys\x00garbage\x00\x00", {}, "NULs in an ImagePath (systeminformer#111)"),
    ("quoted", "tab\there", {}, "TAB"),
    ("quoted", "line\r\nend\n", {}, "CR and LF"),
    ("quoted", "del\x7f", {}, "DEL"),
    ("quoted", "esc\x1b[2J\x01\x1f", {}, "other C0 controls"),
    ("quoted", "c1\x80\x85\x9f", {}, "C1 controls"),
    ("quoted", "soft\xadhyphen", {}, "a format character of Latin-1"),
    ("quoted", "zero\u200bwidth\u200e\ufeff", {}, "zero-width space, left-to-right mark, byte order mark"),
    ("quoted", "no\u00a0break\u3000ideographic\u2009thin", {}, "space separators other than the space"),
    ("quoted", "line\u2028paragraph\u2029", {}, "line and paragraph separators"),
    ("quoted", "private\ue000", {}, "a private-use character"),
    ("quoted", "nonchar\uffff", {}, "a noncharacter"),
    ("quoted", "lone\ud800high", {}, "a lone high surrogate"),
    ("quoted", "lone\udc00low", {}, "a lone low surrogate"),
    ("quoted", "\U0001F600 and \U00010000", {}, "non-BMP characters that can be seen"),
    ("quoted", "tag\U000E0001\U0001D173\U000F0000", {}, "non-BMP characters that cannot be seen"),
    ("quoted", "C:\\Users\\J\u00fcrgen\\\u65e5\u672c\\\u0391\u03c9.exe", {}, "letters beyond ASCII are shown"),
    ("quoted", "C:\\O'Brien\\x.exe", {}, "a single quote: double quotes"),
    ("quoted", '"C:\\Program Files\\x.exe" -k', {}, "a double quote: single quotes"),
    ("quoted", "both ' and \"", {}, "both quotes: single quotes"),
    ("quoted", "'", {}, "a single quote alone"),
    ("quoted", " C:\\x.exe  ", {}, "leading and trailing spaces inside the quotes"),
    ("quoted", "", {}, "the empty string"),
    ("quoted", "C:\\" + "a" * 100, {"limit": 10}, "a long value cut inside the quotes"),
    ("quoted", "short", {"limit": 10}, "a value under the limit"),
    ("quoted", "exact", {"limit": 5}, "a value at the limit"),
    ("quoted", "abc", {"limit": 0}, "a limit of zero"),
    ("quoted", "\U0001F600\U0001F600\U0001F600", {"limit": 2}, "the limit counts code points"),
    ("quoted", "a\x00bcdef", {"limit": 3}, "a NUL kept before the cut"),
    ("quoted", "ab'cd", {"limit": 2}, "the quotes chosen from the whole value"),
    ("visible", "C:\\x.sys ", {}, "without edges a trailing space is kept as it is"),
    ("visible", "C:\\x.sys ", {"edges": True}, "a trailing space marked"),
    ("visible", "  C:\\x.sys", {"edges": True}, "leading spaces marked"),
    ("visible", "   ", {"edges": True}, "only spaces"),
    ("visible", "a b", {"edges": True}, "a space inside is not an edge"),
    ("visible", "", {"edges": True}, "the empty string"),
    ("visible", "\tx \u00a0", {"edges": True}, "only the ASCII space is an edge"),
    ("visible", " \x00 ", {"edges": True}, "a NUL between spaces"),
    ("visible", "\\SystemRoot\\x.sys\x00", {}, "a line of its own"),
    ("shown", None, {}, "null"),
    ("shown", True, {}, "true"),
    ("shown", False, {}, "false"),
    ("shown", 0, {}, "zero"),
    ("shown", -5, {}, "a negative integer"),
    ("shown", 4294967295, {}, "a REG_DWORD's largest value"),
    ("shown", 2 ** 64, {}, "an integer beyond 64 bits"),
    ("shown", 1.5, {}, "a float"),
    ("shown", 1e16, {}, "a float in exponent notation"),
    ("shown", 1e-05, {}, "a small float"),
    ("shown", 0.1, {}, "a float that is not exact"),
    ("shown", -0.0, {}, "negative zero"),
    ("shown", "C:\\x.exe", {}, "a string"),
    ("shown", ["C:\\a.exe", "D:\\b.exe"], {}, "a list"),
    ("shown", [], {}, "an empty list"),
    ("shown", {}, {}, "an empty mapping"),
    ("shown", {"kind": "REG_SZ", "data": "C:\\x.exe"}, {}, "a registry value"),
    ("shown", {"kind": "REG_MULTI_SZ", "data": ["C:\\a", "C:\\b\x00"]}, {}, "a REG_MULTI_SZ value"),
    ("shown", {"kind": "REG_DWORD", "data": 2}, {}, "a REG_DWORD value"),
    ("shown", {"NT Authority\\NetworkService": 1}, {}, "a key that is not an identifier is quoted"),
    ("shown", {"a": [None, True, {"b c": "x\ty"}], "_k1": [], "1x": {}, "": 2, "\u00e9t\u00e9": 1.25}, {},
     "nested lists and mappings"),
    ("shown", {"\u2118": 1, "x\u00b7y": 2, "\u0e33x": 3, "x\u0e33": 4, "\u037a": 5, "\u2160x": 6, "x\u0301": 7}, {},
     "keys at the edges of what an identifier is"),
    ("shown", ["abcdef", {"k": "abcdef"}, "ab"], {"limit": 3}, "the limit applies to each string"),
]


def build_display() -> dict:
    functions = {"quoted": quoted, "visible": visible, "shown": shown}
    cases = [{"function": function, "value": value, **options, "expected": functions[function](value, **options),
              "why": why} for function, value, options, why in DISPLAY]
    return {"about": "Values and how they are shown to people (plugins/plugin_utils/_display.py); written by "
                     "tools/build_vectors.py. The C# engine's PyText.Quoted, Visible and Shown give the same text.",
            "cases": cases}


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
    differs = 0
    for path, content in ((OUT, build()), (DISPLAY_OUT, build_display())):
        text = json.dumps(content, indent=1, ensure_ascii=True) + "\n"
        if args.check:
            with open(path, encoding="utf-8") as handle:
                differs |= handle.read() != text
            continue
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
    return 1 if differs else 0


if __name__ == "__main__":
    sys.exit(main())
