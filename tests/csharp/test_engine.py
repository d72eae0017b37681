# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The C# engine (plugins/module_utils/BackupReady.cs) compiled with mcs and run under mono against a fake Windows.

- the three vector files run through the engine and must give the decisions the files state (and, for the
  allow-list, the very messages of the Python reference ``_allowlist.refusal_outside_allow_list``);
- the shape check gives the messages of ``_operations.check_shape`` (hypothesis over malformed operations);
- the records' JSON writer gives the bytes of ``json.dumps(value, indent=1, sort_keys=True)`` (hypothesis);
- ``EngineTests.cs`` (hand-written expectations: partial apply and rollback, crashes, trust, forged rollbacks, the
  acl-broken filemaps plan, compare-and-swap at write time, retention, ...) runs in one mono process;
- the ``scenario`` protocol (the cross-check with the Python twin) runs a crash-and-recover sequence.

One mono process per batch, never one per case. Without mcs/mono the tests skip, or fail when ``CI`` is set.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.backupready.windows.plugins.plugin_utils._acl import plan_filemaps
from ansible_collections.backupready.windows.plugins.plugin_utils._allowlist import refusal_outside_allow_list
from ansible_collections.backupready.windows.plugins.plugin_utils._display import shown
from ansible_collections.backupready.windows.plugins.plugin_utils._operations import OperationError, check_shape

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
# tools/mutate_engine.py points this at mutated copies to show that the tests fail when the engine is broken.
SOURCE_DIR = Path(os.environ.get("BACKUPREADY_CS_SOURCES", "")) if os.environ.get("BACKUPREADY_CS_SOURCES") else None
ENGINE = (SOURCE_DIR or ROOT / "plugins" / "module_utils") / "BackupReady.cs"
SOURCES = [ENGINE] + [(SOURCE_DIR or HERE) / name for name in ("FakeOs.cs", "Harness.cs", "EngineTests.cs")]
VECTORS = ROOT / "tests" / "vectors"
SNAPSHOTS = ROOT / "examples" / "fleet" / "snapshots"
TEST_NAMES = re.findall(r"public static void (Test\w+)\(\)", (HERE / "EngineTests.cs").read_text(encoding="utf-8"))


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is not installed (CI is set)")
        pytest.skip(f"{name} is not installed: the C# engine is not run here")
    return path


def build(sources: list[Path], out: Path) -> subprocess.CompletedProcess:
    # System.Numerics only for the tests (a BigInteger as PowerShell 7 passes one); the engine itself does not use it.
    return subprocess.run([_tool("mcs"), "-target:exe", "-langversion:5", "-warnaserror+", "-r:System.Numerics.dll", f"-out:{out}",
                           *map(str, sources)], capture_output=True, text=True, check=False)


def run(exe: Path, requests: list[dict]) -> list:
    out = subprocess.run([_tool("mono"), str(exe)], input=json.dumps(requests), capture_output=True, text=True,
                         check=False, timeout=300)
    assert out.returncode == 0, out.stderr
    answers = json.loads(out.stdout)
    for answer in answers:
        assert not (isinstance(answer, dict) and "error" in answer and len(answer) == 1), answer["error"]
    return answers


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    exe = tmp_path_factory.mktemp("engine") / "harness.exe"
    compiled = build(SOURCES, exe)
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    return lambda requests: run(exe, requests)


def acl_broken_with_names() -> dict:
    """The acl-broken demo host with a name for each filemaps file (the fake needs them; the probe lists samples)."""
    world = json.loads((SNAPSHOTS / "acl-broken.json").read_text(encoding="utf-8"))
    for index, group in enumerate(world["filemaps"]["files"]["descriptors"]):
        names = list(group["samples"])
        while len(names) < group["count"]:
            names.append(f"file-{index}-{len(names)}.cdf-ms")
        group["names"] = names
    return world


# ---------------------------------------------------------------------------------------------------
# Hand-written engine tests (EngineTests.cs)
# ---------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def engine_tests(harness):
    world = acl_broken_with_names()
    plan, _rows = plan_filemaps(world)
    answers = harness([{"cmd": "tests", "inputs": {"acl-broken": world, "acl-broken-plan": plan}}])[0]
    return {answer["name"]: answer for answer in answers}


def test_engine_tests_are_found():
    assert len(TEST_NAMES) >= 20


@pytest.mark.parametrize("name", TEST_NAMES)
def test_engine(engine_tests, name):
    answer = engine_tests[name]
    assert answer["ok"], answer["message"]


# ---------------------------------------------------------------------------------------------------
# The vectors both implementations run
# ---------------------------------------------------------------------------------------------------

def _vector_state(host: dict) -> dict:
    services = [{"name": name, "type": kind} for name, kind in host["services"].items()]
    return {"host": {"system_root": host["system_root"]}, "services": services}


def test_allowlist_vectors(harness):
    vectors = json.loads((VECTORS / "allowlist.json").read_text(encoding="utf-8"))
    answers = harness([{"cmd": "allowlist", "host": vectors["host"], "cases": vectors["cases"]}])[0]
    state = _vector_state(vectors["host"])
    assert len(answers) == len(vectors["cases"])
    for case, answer in zip(vectors["cases"], answers):
        refusal = answer["refusal"]
        assert (refusal is None) == case["allowed"], (case["name"], refusal)
        if not case["allowed"]:
            assert case["reason_contains"] in refusal, (case["name"], refusal)
        # The same message as the Python reference, word for word.
        assert refusal == refusal_outside_allow_list(case["op"], state, case["rollback"]), case["name"]


def test_a_refusal_shows_a_registry_key_as_windows_shows_it(harness):
    """Python and the engine name the key as regedit and reg.exe show it: single backslashes, not Python's repr."""
    vectors = json.loads((VECTORS / "allowlist.json").read_text(encoding="utf-8"))
    op = {"op": "registry_value", "key": "HKLM\\SOFTWARE\\Evil", "name": "x",
          "expect": {"kind": "missing", "data": None}, "set": {"kind": "REG_SZ", "data": "C:\\evil.exe"}}
    engine = harness([{"cmd": "allowlist", "host": vectors["host"], "cases": [{"op": op}]}])[0][0]["refusal"]
    python = refusal_outside_allow_list(op, _vector_state(vectors["host"]))
    assert engine == python == \
        "outside what this collection may change: registry key 'HKLM\\SOFTWARE\\Evil' is outside the allow-list"


def test_display_vectors(harness):
    """The engine shows values as _display does (PyText.Quoted, Visible, Shown): tests/vectors/display.json."""
    cases = json.loads((VECTORS / "display.json").read_text(encoding="utf-8"))["cases"]
    answers = harness([{"cmd": "display", "cases": cases}])[0]
    assert len(answers) == len(cases)
    for case, answer in zip(cases, answers):
        assert answer == case["expected"], case["why"]


# Characters whose Unicode category is the same in mono's tables and Python's (assigned long ago), of every kind the
# display tells apart: letters, marks, digits, spaces, controls, format characters, surrogates, private use.
_SHOWN_ALPHABET = list("aZ_0 .-'\"\\:%") + ["\x00", "\t", "\n", "\r", "\x7f", "\x85", "\xa0", "\xad", "\xe9", "\u0301", "\u0e33",
                                            "\u200b", "\u2028", "\u3000", "\ud800", "\ue000", "\U0001F600", "\U000E0001"]
_shown_text = st.text(alphabet=st.sampled_from(_SHOWN_ALPHABET), max_size=8)
_shown_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-2 ** 70, 2 ** 70), st.floats(allow_nan=False, allow_infinity=False),
              _shown_text),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_shown_text, inner, max_size=3)), max_leaves=10)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(_shown_values, st.one_of(st.none(), st.integers(0, 6))), min_size=1, max_size=30))
def test_shown_matches_python(harness, items):
    cases = [{"function": "shown", "value": value, **({} if limit is None else {"limit": limit})} for value, limit in items]
    answers = harness([{"cmd": "display", "cases": cases}])[0]
    assert answers == [shown(value, limit) for value, limit in items]


def test_same_command_vectors(harness):
    vectors = json.loads((VECTORS / "same_command.json").read_text(encoding="utf-8"))
    answers = harness([{"cmd": "same_command", "system_root": vectors["system_root"], "pairs": vectors["pairs"]}])[0]
    for pair, (forward, backward) in zip(vectors["pairs"], answers):
        assert forward == backward == pair["same"], pair


def test_descriptor_vectors(harness):
    vectors = json.loads((VECTORS / "descriptors.json").read_text(encoding="utf-8"))
    answers = harness([{"cmd": "descriptors", "pairs": vectors["pairs"]}])[0]
    for pair, answer in zip(vectors["pairs"], answers):
        assert answer == {"same": pair["same"], "same_writable": pair["same_writable"]}, pair


# ---------------------------------------------------------------------------------------------------
# Shape messages: the same as _operations.check_shape
# ---------------------------------------------------------------------------------------------------

def python_shape(op, index: int):
    try:
        check_shape(op, index)
    except OperationError as exc:
        return str(exc)
    return None


_json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-2 ** 70, 2 ** 70),
                          st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=6))
_json = st.recursive(_json_scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                            st.dictionaries(st.text(max_size=4), inner, max_size=3)),
                     max_leaves=8)
_kinds = st.sampled_from(["REG_SZ", "REG_EXPAND_SZ", "REG_MULTI_SZ", "REG_DWORD", "REG_QWORD", "REG_BINARY", "REG_NONE",
                          "missing", "REG_LINK", 7])
_data = st.one_of(_json, st.integers(-1, 2 ** 65), st.sampled_from(["0a1b", "ab cd ", "abc", "zz", "", "a b"]),
                  st.lists(st.text(max_size=3), max_size=2))
_regvalue = st.one_of(_json, st.fixed_dictionaries({"kind": _kinds, "data": _data}),
                      st.fixed_dictionaries({"kind": _kinds}))
_op = st.one_of(
    _json,
    st.fixed_dictionaries({"op": st.sampled_from(["registry_value", "nope", 3]), "key": st.one_of(st.just("HKLM\\X"), _json),
                           "name": st.one_of(st.just("ImagePath"), _json), "expect": _regvalue, "set": _regvalue}),
    st.fixed_dictionaries({"op": st.just("service_start_mode"), "service": st.one_of(st.just("CryptSvc"), _json),
                           "expect": st.one_of(st.sampled_from(["manual", "unknown", "Auto"]), _json),
                           "set": st.one_of(st.sampled_from(["auto", "boot"]), _json)}),
    st.fixed_dictionaries({"op": st.just("service_state"), "service": st.just("CryptSvc"),
                           "expect": st.one_of(st.just("stopped"), _json), "set": st.one_of(st.just("started"), _json)}),
    st.fixed_dictionaries({"op": st.just("path_security"), "path": st.one_of(st.just("C:\\x"), _json),
                           "target": st.one_of(st.sampled_from(["folder", "files"]), _json),
                           "expect": st.one_of(st.just("O:BA"), _json), "set": st.one_of(st.just("O:SY"), _json)},
                          optional={"names": st.one_of(st.lists(st.text(max_size=3), max_size=2), _json)}),
    st.fixed_dictionaries({"op": st.just("service_security"), "service": st.one_of(st.just("X"), _json),
                           "expect": st.one_of(st.just("default"), _json), "set": st.one_of(st.just("D:"), _json)}),
)


def _printable(value) -> bool:
    """Keep to text whose repr() is the same in any Unicode version (mono's tables are older than Python's)."""
    if isinstance(value, str):
        return all(c.isascii() for c in value)
    if isinstance(value, float):
        return True
    if isinstance(value, list):
        return all(_printable(v) for v in value)
    if isinstance(value, dict):
        return all(_printable(k) and _printable(v) for k, v in value.items())
    return True


@settings(max_examples=30, deadline=None)
@given(st.lists(_op.filter(_printable), min_size=1, max_size=40))
def test_shape_messages_match_python(harness, ops):
    answers = harness([{"cmd": "shape", "ops": ops}])[0]
    for index, (op, answer) in enumerate(zip(ops, answers)):
        assert answer == python_shape(op, index), op


# ---------------------------------------------------------------------------------------------------
# JSON: the records' bytes are Python's json.dumps(value, indent=1, sort_keys=True)
# ---------------------------------------------------------------------------------------------------

_text = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10ffff), max_size=8)
_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-2 ** 100, 2 ** 100), st.floats(allow_nan=False, allow_infinity=False), _text),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_text, inner, max_size=4)),
    max_leaves=20)


@settings(max_examples=40, deadline=None)
@given(st.lists(_values, min_size=1, max_size=30))
def test_json_dump_matches_python(harness, values):
    texts = [json.dumps(value) for value in values]
    answers = harness([{"cmd": "json", "texts": texts}])[0]
    for value, answer in zip(values, answers):
        assert answer == {"dump": json.dumps(value, indent=1, sort_keys=True)}, value


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=50))
def test_float_repr_matches_python(harness, values):
    assert harness([{"cmd": "floats", "values": values}])[0] == [repr(v) for v in values]


def test_json_reader_refuses_what_python_refuses(harness):
    texts = ["", "{", "[1,]", "{'a': 1}", "01", "1.", "\"\\x\"", "[1] 2", "\"a\nb\""]
    for text, answer in zip(texts, harness([{"cmd": "json", "texts": texts}])[0]):
        with pytest.raises(ValueError):
            json.loads(text)
        assert "error" in answer, text


def test_repr_of_values(harness):
    values = ["it's", "say \"hi\"", "both ' and \"", "tab\tnul\x00", "\x7f\x80\xa0é", "\u2028", None, True, 12, 2 ** 64,
              1e16, 1e-5, 0.1, [1, "a"], {"a": [None]}]
    assert harness([{"cmd": "repr", "values": values}])[0] == [repr(v) for v in values]


# ---------------------------------------------------------------------------------------------------
# The scenario protocol (what the Python twin is cross-checked with)
# ---------------------------------------------------------------------------------------------------

def test_scenario_crash_then_recovery(harness):
    world = json.loads((SNAPSHOTS / "crypt-off.json").read_text(encoding="utf-8"))
    cryptsvc = next(s for s in world["services"] if s["name"].lower() == "cryptsvc")
    start = {"op": "service_start_mode", "service": cryptsvc["name"], "expect": cryptsvc["start_mode"], "set": "auto"}
    steps = [
        {"operations": [start], "check_mode": True},
        {"operations": [start], "faults": [{"index": 0, "when": "crash_after_write"}]},
        {"operations": []},
    ]
    answer = harness([{"cmd": "scenario", "world": world, "store": [], "steps": steps}])[0]
    check, crash, recover = answer["steps"]
    assert check["result"]["results"][0]["status"] == "would_apply" and check["store"] == []
    assert check["world"]["services"] == json.loads(json.dumps(world["services"]))
    assert crash["result"] == {"crashed": True, "msg": "crash after the write of operation 0"}
    after = next(s for s in crash["world"]["services"] if s["name"] == cryptsvc["name"])
    assert after["start_mode"] == "auto"
    assert [r["status"] for r in crash["store"]] == ["pending"]
    assert crash["store"][0]["id"] == "20260101T000000000Z-00000001"
    assert recover["result"]["journal"] == [{"id": "20260101T000000000Z-00000001", "action": "committed",
                                             "msg": "1 of its 1 change(s) are on the host: committed with their undo"}]
    assert recover["store"][0]["status"] == "committed"
    assert recover["store"][0]["undo"] == [{"op": "service_start_mode", "service": cryptsvc["name"], "expect": "auto",
                                            "set": cryptsvc["start_mode"]}]


# ---------------------------------------------------------------------------------------------------
# The journal's rules, decision for decision the same as the Python reference's
# ---------------------------------------------------------------------------------------------------

_USER = "S-1-5-21-1004336348-1177238915-682003330-1001"
_OP = {"op": "registry_value", "key": "HKLM\\SYSTEM\\CurrentControlSet\\Services\\ALG", "name": "ImagePath",
       "expect": {"kind": "REG_SZ", "data": "a"}, "set": {"kind": "REG_SZ", "data": "b"}}
_RECORD = {"format": "backupready.backup/2", "writer": "backupready.windows", "id": "20260101T000000000Z-00000001",
           "host": "fs01", "created": "2026-01-01T00:00:00.000Z", "status": "committed", "operations": [_OP],
           "undo": [dict(_OP, expect=_OP["set"], set=_OP["expect"])], "results": [], "label": {}}


def _record(**changes):
    record = dict(_RECORD)
    for key, value in changes.items():
        if value is None:
            record.pop(key)
        else:
            record[key] = value
    return record


def test_record_shapes_are_judged_as_python_judges_them(harness):
    from ansible_collections.backupready.windows.plugins.plugin_utils._journal import record_problem
    start = {"op": "service_state", "service": "CryptSvc", "expect": "stopped", "set": "none", "note": "recorded only"}
    records = [
        _RECORD, _record(results=None), _record(label=None), _record(label=[]), _record(status="done"),
        _record(format="backupready.backup/1"), _record(writer="someone"), _record(undo={}), _record(operations=None),
        _record(operations=[{"op": "registry_value", "key": "HKLM\\X"}]), _record(undo=[{"op": "nope"}]),
        _record(undo=[start]), _record(undo=[dict(start, set="bogus")]), _record(undo=[start, "x"]),
        _record(operations=[_OP, dict(_OP, expect="REG_SZ")]), [], "text",
    ]
    answers = harness([{"cmd": "records", "records": records}])[0]
    assert [answer is None for answer in answers] == [record_problem(r) is None for r in records], answers


def test_the_store_trust_rule_is_python_s(harness):
    from ansible_collections.backupready.windows.plugins.plugin_utils._journal import dacl_trust_problem
    good = "D:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)"
    cases = [("BA", good), ("SY", good), ("S-1-5-32-544", good), (_USER, good), (None, good), ("BA", ""),
             ("BA", "D:NO_ACCESS_CONTROL"), ("BA", "D:P"), ("BA", "D:P(A;OICIIO;GA;;;CO)"), ("BA", "D:P(A;;0x2000000;;;BU)"),
             ("BA", "D:P(A;;FR;;;BU)"), ("BA", "D:P(D;;FA;;;BU)"), ("BA", "D:P(A;;0x116;;;BU)"), ("BA", "D:P(A;;GW;;;WD)"),
             ("BA", "D:P(A;;SD;;;AU)"), ("BA", "D:P(A;;FA;;;S-1-5-32-544)(A;;FA;;;S-1-5-18)"), ("BA", "D:P(A;;GR;;;BU)"),
             ("BA", "D:P(OA;;0x2;bf967a86-0de6-11d0-a285-00aa003049e2;;BU)"), ("BA", "D:P(XA;;FA;;;BU;(Member_of {SID(BA)}))"),
             ("DA", "D:P(A;;FA;;;BA)"), ("BA", "D:P(A;;FA;;;DA)"), ("BA", "D:P(A;ID;WO;;;BU)"), ("BA", "D:P(AU;SA;FA;;;BU)")]
    answers = harness([{"cmd": "trust", "cases": [{"owner": o, "dacl": d} for o, d in cases]}])[0]
    python = [dacl_trust_problem(o, ("O:" + o if o else "") + d, "entry") for o, d in cases]
    assert [a is None for a in answers] == [p is None for p in python], list(zip(cases, answers, python))


def test_registry_values_compare_as_python_compares_them(harness):
    from ansible_collections.backupready.windows.plugins.plugin_utils._operations import values_equal

    def value(kind, data):
        return {"kind": kind, "data": data}
    pairs = [(value("REG_BINARY", "ab01"), value("REG_BINARY", "AB01")), (value("REG_NONE", "0A"), value("REG_NONE", "0a")),
             (value("REG_BINARY", "ab01"), value("REG_BINARY", "ab02")), (value("REG_BINARY", "ab01"), value("REG_NONE", "ab01")),
             (value("REG_SZ", "a"), value("REG_SZ", "A")), (value("REG_EXPAND_SZ", "a\x00b"), value("REG_EXPAND_SZ", "a\x00b")),
             (value("REG_DWORD", 1), value("REG_DWORD", 1)), (value("REG_DWORD", 1), value("REG_QWORD", 1)),
             (value("REG_MULTI_SZ", ["a"]), value("REG_MULTI_SZ", ["a"])), (value("REG_MULTI_SZ", ["a"]), value("REG_MULTI_SZ", ["A"])),
             (value("missing", None), value("missing", None)), (value("REG_BINARY", ""), value("REG_BINARY", "")),
             (value("REG_BINARY", "ab 01 "), value("REG_BINARY", "AB01")), (value("REG_NONE", " 0a "), value("REG_NONE", "0A")),
             (value("REG_NONE", " 0a"), value("REG_NONE", " 0a")), (value("REG_BINARY", "xy"), value("REG_BINARY", "xy")),
             (value("REG_BINARY", "ab 01"), value("REG_BINARY", "ab 02"))]
    assert values_equal({"op": "registry_value"}, *pairs[12])  # the bytes, not their spelling
    answers = harness([{"cmd": "values", "pairs": [list(p) for p in pairs]}])[0]
    assert answers == [values_equal({"op": "registry_value"}, a, b) for a, b in pairs]


def test_windows_opens_never_follow_links():
    """Every CreateFileW of WindowsHostOs passes FILE_FLAG_OPEN_REPARSE_POINT (a junction or symbolic link is opened as
    itself: the engine's link checks read its attributes), and no .NET path API that follows links is used. Static:
    there is no Windows here to run it."""
    text = ENGINE.read_text(encoding="utf-8")
    windows = text[text.index("public sealed class WindowsHostOs"):]
    calls = [m.start() for m in re.finditer(r"HostNative\.CreateFile(?:Secured)?\(", windows)]
    assert len(calls) >= 2
    for start in calls:
        arguments = windows[start:windows.index(";", start)]
        assert "FILE_FLAG_OPEN_REPARSE_POINT" in arguments, arguments
    assert not re.findall(r"\b(?:File|Directory)\.\w+\(", windows)
