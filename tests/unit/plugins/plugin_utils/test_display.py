"""How values are shown to people (``_display``): Windows paths as Windows shows them, invisible characters named."""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.backupready.windows.plugins.plugin_utils._display import quoted, shown, visible

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
with open(os.path.join(ROOT, "tests", "vectors", "display.json"), encoding="utf-8") as _handle:
    DISPLAY_VECTORS = json.load(_handle)["cases"]  # the C# engine runs them too (tests/csharp/test_engine.py)

WINMAD = "\\\\SystemRoot\\System32\\drivers\\winmad.sys"  # KB 4053355: the defect is the doubled leading backslash


def test_a_path_keeps_its_single_backslashes():
    assert quoted("C:\\Windows\\System32\\drivers\\x.sys") == "'C:\\Windows\\System32\\drivers\\x.sys'"
    assert "\\\\" not in quoted("C:\\Windows\\x.sys")  # repr would double each one


def test_a_doubled_backslash_in_the_value_stays_doubled_and_only_that_one():
    assert quoted(WINMAD) == "'\\\\SystemRoot\\System32\\drivers\\winmad.sys'"
    assert quoted(WINMAD).count("\\\\") == 1
    assert quoted(WINMAD) != quoted(WINMAD[1:])  # the defect and its fix look different


@pytest.mark.parametrize("value, expected", [
    ("a\x00b", "'a<NUL>b'"),
    ("x.sys\x00\x00", "'x.sys<NUL><NUL>'"),
    ("tab\there", "'tab<TAB>here'"),
    ("line\r\nend", "'line<CR><LF>end'"),
    ("esc\x1b[2J", "'esc<U+001B>[2J'"),
    ("zero\u200bwidth", "'zero<U+200B>width'"),
    ("no\u00a0break", "'no<U+00A0>break'"),
    ("del\x7f", "'del<DEL>'"),
])
def test_invisible_characters_are_named(value, expected):
    assert quoted(value) == expected


def test_trailing_and_leading_spaces_show_inside_the_quotes():
    assert quoted("C:\\dir\\x.exe  ") == "'C:\\dir\\x.exe  '"
    assert quoted(" C:\\x.exe") == "' C:\\x.exe'"


def test_without_quotes_the_edges_are_marked_on_request():
    assert visible("C:\\x.sys ", edges=True) == "C:\\x.sys<SP>"
    assert visible("  C:\\x.sys", edges=True) == "<SP><SP>C:\\x.sys"
    assert visible("   ", edges=True) == "<SP><SP><SP>"
    assert visible("C:\\x.sys ") == "C:\\x.sys "  # evidence keeps the value as it is, only the invisible named
    assert visible("a b", edges=True) == "a b"


def test_a_value_with_a_single_quote_is_put_in_double_quotes():
    assert quoted("C:\\O'Brien\\x.exe") == '"C:\\O\'Brien\\x.exe"'
    assert quoted('"C:\\Program Files\\x.exe" -k') == "'\"C:\\Program Files\\x.exe\" -k'"


def test_a_long_value_is_cut_inside_the_quotes():
    assert quoted("C:\\" + "a" * 100, limit=10) == "'C:\\aaaaaaa...'"
    assert quoted("short", limit=10) == "'short'"


@pytest.mark.parametrize("value, expected", [
    (None, "null"),
    (True, "true"),
    (0, "0"),
    (["C:\\a.exe", "D:\\b.exe"], "['C:\\a.exe', 'D:\\b.exe']"),
    ({"kind": "REG_SZ", "data": "C:\\x.exe"}, "{kind: 'REG_SZ', data: 'C:\\x.exe'}"),
    ({"NT Authority\\NetworkService": 1}, "{'NT Authority\\NetworkService': 1}"),
])
def test_any_value_is_shown_without_python_syntax(value, expected):
    assert shown(value) == expected
    assert "\\\\" not in shown(value)


@pytest.mark.parametrize("case", DISPLAY_VECTORS, ids=lambda c: c["why"])
def test_the_shared_vectors_hold(case):
    function = {"quoted": quoted, "visible": visible, "shown": shown}[case["function"]]
    options = {key: case[key] for key in ("limit", "edges") if key in case}
    assert function(case["value"], **options) == case["expected"]


def test_the_shared_vectors_cover_every_kind_of_value():
    functions = {c["function"] for c in DISPLAY_VECTORS}
    values = [c["value"] for c in DISPLAY_VECTORS]
    assert functions == {"quoted", "visible", "shown"}
    assert {type(v) for v in values} >= {str, type(None), bool, int, float, list, dict}
    text = "".join(v for v in values if isinstance(v, str))
    assert all(c in text for c in "\x00\t\r\n\x7f'\"\\\ud800\U0001F600\U000E0001")
    assert any("limit" in c for c in DISPLAY_VECTORS) and any(c.get("edges") for c in DISPLAY_VECTORS)
