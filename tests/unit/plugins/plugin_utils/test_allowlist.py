"""What the hands may write (docs/write-path.md §2): the vectors the C# engine runs too, and properties.

- ``tests/vectors/allowlist.json``: operations and whether the allow-list admits them;
- ``tests/vectors/same_command.json``: every ImagePath fix the brain plans on the demo fleet and on the real values
  of ``tests/data``, each admitted in both directions, and hand-written pairs that must be refused;
- ``tests/vectors/descriptors.json``: descriptors compared by meaning and by their writable part;
- properties: every fix ``_imagepath`` proposes for any value is admitted (and its reverse); another executable or
  other arguments never are.
"""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.backupready.windows.plugins.plugin_utils._allowlist import (
    command_of, refusal_outside_allow_list, same_command)
from ansible_collections.backupready.windows.plugins.plugin_utils._imagepath import DRIVER, WIN32, diagnose
from ansible_collections.backupready.windows.plugins.plugin_utils._sddl import same_descriptor, same_writable_part

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
VECTORS = os.path.join(ROOT, "tests", "vectors")


def vectors(name):
    with open(os.path.join(VECTORS, name), encoding="utf-8") as handle:
        return json.load(handle)


ALLOWLIST = vectors("allowlist.json")
SAME_COMMAND = vectors("same_command.json")
DESCRIPTORS = vectors("descriptors.json")


def host_state():
    host = ALLOWLIST["host"]
    return {"host": {"system_root": host["system_root"]},
            "services": [{"name": name, "type": kind} for name, kind in host["services"].items()]}


@pytest.mark.parametrize("case", ALLOWLIST["cases"], ids=lambda c: c["name"])
def test_allowlist_vectors(case):
    why = refusal_outside_allow_list(case["op"], host_state(), case["rollback"])
    if case["allowed"]:
        assert why is None, why
    else:
        assert why is not None and why.startswith("outside what this collection may change: ")
        assert case["reason_contains"] in why, why


def test_a_refusal_shows_a_registry_key_as_windows_shows_it():
    """The key is named as regedit and reg.exe show it: single backslashes, not Python's repr."""
    op = {"op": "registry_value", "key": "HKLM\\SOFTWARE\\Evil", "name": "x",
          "expect": {"kind": "missing", "data": None}, "set": {"kind": "REG_SZ", "data": "C:\\evil.exe"}}
    why = refusal_outside_allow_list(op, host_state())
    assert why == "outside what this collection may change: registry key 'HKLM\\SOFTWARE\\Evil' is outside the allow-list"
    assert "\\\\" not in why


@pytest.mark.parametrize("op, shown", [
    ({"op": "service_start_mode", "service": "Evil\tSvc", "expect": "manual", "set": "auto"}, "service 'Evil<TAB>Svc'"),
    ({"op": "path_security", "path": "C:\\Windows\\System32", "target": "folder", "expect": "O:BA", "set": "O:SY"},
     "path 'C:\\Windows\\System32' is outside"),
    ({"op": "registry_value", "key": "HKLM\\SYSTEM\\CurrentControlSet\\Services\\ALG", "name": "Start",
      "expect": {"kind": "REG_DWORD", "data": 3}, "set": {"kind": "REG_DWORD", "data": 2}}, "not 'Start'"),
])
def test_refusals_show_values_without_python_syntax(op, shown):
    why = refusal_outside_allow_list(op, host_state())
    assert shown in why and "\\\\" not in why, why


def test_the_allowlist_vectors_cover_both_answers_and_both_directions():
    answers = {(c["allowed"], c["rollback"]) for c in ALLOWLIST["cases"]}
    assert answers == {(True, False), (True, True), (False, False), (False, True)}


@pytest.mark.parametrize("pair", SAME_COMMAND["pairs"], ids=lambda p: p["why"][:60])
def test_same_command_vectors_hold_both_ways(pair):
    root = SAME_COMMAND["system_root"]
    assert same_command(pair["a"], pair["b"], pair["driver"], root) is pair["same"]
    assert same_command(pair["b"], pair["a"], pair["driver"], root) is pair["same"]


def test_same_command_vectors_hold_every_planned_fix():
    planned = [p for p in SAME_COMMAND["pairs"] if p["why"].startswith("the fix planned")]
    assert len(planned) >= 10 and all(p["same"] for p in planned)


@pytest.mark.parametrize("pair", DESCRIPTORS["pairs"], ids=lambda p: p["why"])
def test_descriptor_vectors(pair):
    for a, b in ((pair["a"], pair["b"]), (pair["b"], pair["a"])):
        assert same_descriptor(a, b) is pair["same"]
        assert same_writable_part(a, b) is pair["same_writable"]


# ---------------------------------------------------------------------------------------------------
# Properties: the allow-list admits exactly the brain's fixes of ImagePath
# ---------------------------------------------------------------------------------------------------

_segment = st.text(alphabet=st.sampled_from("abcXYZ019 ._-"), min_size=1, max_size=8)
_prefix = st.sampled_from(["C:\\", "c:\\Program Files\\", "\\SystemRoot\\", "\\Systemroot\\Systemroot\\",
                           "\\\\SystemRoot\\", "%SystemRoot%\\", "%windir%\\", "\\??\\C:\\", "System32\\", "",
                           "C:\\Windows\\", "D:\\a\\..\\", "C:/x/", "\\\\server\\share\\"])
_tail = st.sampled_from(["", "\x00junk", "\x00"])
_args = st.sampled_from(["", " -k netsvcs", " /service", " -p \"C:\\a b\\c.txt\""])


@st.composite
def imagepaths(draw):
    driver = draw(st.booleans())
    path = draw(_prefix) + "\\".join(draw(st.lists(_segment, min_size=1, max_size=4)))
    path += ".sys" if driver else ".exe"
    quote = draw(st.booleans())
    value = (f'"{path}"' if quote else path) + ("" if driver else draw(_args)) + draw(_tail)
    return driver, value


@settings(max_examples=400, deadline=None)
@given(imagepaths())
def test_every_fix_the_brain_proposes_is_admitted_both_ways(case):
    driver, value = case
    diagnosis = diagnose(value, kind="REG_EXPAND_SZ", service_type=DRIVER if driver else WIN32)
    if diagnosis.fixed_value is not None:
        assert same_command(value, diagnosis.fixed_value, driver, "C:\\Windows"), (value, diagnosis.fixed_value)
        assert same_command(diagnosis.fixed_value, value, driver, "C:\\Windows")


@settings(max_examples=300, deadline=None)
@given(imagepaths(), _segment)
def test_another_executable_is_never_the_same_command(case, other):
    driver, value = case
    command = command_of(value, driver, "C:\\Windows")
    if command is None:
        return
    executable, arguments = command
    renamed = value.partition("\x00")[0].replace(".sys" if driver else ".exe", f"{other.strip() or 'x'}q" +
                                                 (".sys" if driver else ".exe"), 1)
    assert not same_command(value, renamed, driver, "C:\\Windows")
    if not driver:
        assert not same_command(value, value.partition("\x00")[0] + " --more", driver, "C:\\Windows")
