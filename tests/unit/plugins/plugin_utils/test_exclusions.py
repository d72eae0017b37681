"""ExcludedBinaryPaths: the validator (KB 980794), the exclusion_invalid check, and the planner."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ansible_collections.backupready.windows.plugins.plugin_utils import _exclusions, _findings, _state, _twin
from statedoc import make_state

KB_EXAMPLE = "D:\\ProgramFolder\\bin\\program.exe"  # KB 980794's own example


# ---------------------------------------------------------------------------------------------------
# The validator: one row per rule, the invalid side and a valid neighbour
# ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", [
    KB_EXAMPLE,
    "C:\\Windows\\System32\\drivers\\winmad.sys",
    "E:\\Program Files (x86)\\Vendor\\agent.exe",      # spaces and brackets are legal
    "d:\\app\\O'Brien\\tool.exe",                     # a single quote inside a name is legal NTFS
    "D:\\app\\my.tool.v2\\bin\\x.tar.gz",             # dots inside names
    "D:\\x.exe",
    "D:\\100%\\x.exe",                                # a lone % is not a variable
])
def test_valid_paths(path):
    assert _exclusions.validate_exclusion(path) == []
    assert _exclusions.is_valid_exclusion(path)


@pytest.mark.parametrize("path, reason", [
    ("", "is empty"),
    ("D:\\app\\x.exe\x00junk", "NUL"),
    (" D:\\app\\x.exe", "leading or trailing whitespace"),
    ("D:\\app\\x.exe ", "leading or trailing whitespace"),
    ("\tD:\\app\\x.exe", "leading or trailing whitespace"),
    ("\\??\\D:\\app\\x.exe", "NT or device path prefix"),
    ("\\\\?\\D:\\app\\x.exe", "NT or device path prefix"),
    ("\\\\.\\D:\\app\\x.exe", "NT or device path prefix"),
    ("\\\\server\\share\\x.exe", "UNC"),
    ("app\\bin\\x.exe", "not an absolute drive path"),
    ("\\app\\bin\\x.exe", "not an absolute drive path"),
    ("D:app\\x.exe", "not an absolute drive path"),
    ("\\SystemRoot\\System32\\drivers\\x.sys", "not an absolute drive path"),
    ("%windir%\\system32\\x.exe", "environment variable"),
    ("D:\\%ProgramFiles%\\x.exe", "environment variable"),
    ('"D:\\app\\x.exe"', "double quotation mark"),
    ('D:\\app\\x.exe"', "double quotation mark"),
    ("'D:\\app\\x.exe'", "single quotation marks"),
    ("D:\\app\\x.exe'", "single quotation marks"),
    ("D:\\app\\*.exe", "wildcard"),
    ("D:\\app\\x?.exe", "wildcard"),
    ("D:/app/x.exe", "forward slash"),
    ("D:\\app/bin\\x.exe", "forward slash"),
    ("D:\\app\\x<1>.exe", "illegal in a file name"),
    ("D:\\app\\x|y.exe", "illegal in a file name"),
    ("D:\\app\\x\x07.exe", "illegal in a file name"),
    ("D:\\app\\x.exe:stream", "colon after the drive letter"),
    ("D:\\C:\\x.exe", "colon after the drive letter"),
    ("D:\\app\\\\x.exe", "empty segment"),
    ("D:\\\\x.exe", "empty segment"),
    ("D:\\app\\.\\x.exe", "'.' or '..' segment"),
    ("D:\\app\\..\\x.exe", "'.' or '..' segment"),
    ("D:\\app \\x.exe", "ends in a space or a dot"),
    ("D:\\app.\\x.exe", "ends in a space or a dot"),
    ("D:\\app\\x.exe.", "ends in a space or a dot"),
    ("D:\\app\\program", "file name with an extension"),
    ("D:\\app\\bin\\", "file name with an extension"),
    ("D:\\", "file name with an extension"),
    ("D:\\app\\.exe", "file name with an extension"),
])
def test_invalid_paths(path, reason):
    reasons = _exclusions.validate_exclusion(path)
    assert any(reason in r for r in reasons), reasons
    assert not _exclusions.is_valid_exclusion(path)


# "Maximum Path Length Limitation" (Microsoft docs): 32,767 characters. Drill 1b of the reliability drills wrote a
# 40,004-character entry on 6 hosts: the validator checked the form of a path, not its length.
def test_a_path_longer_than_windows_allows_is_invalid_and_shown_cut():
    longest = "C:\\" + "a" * (32767 - 7) + ".exe"
    assert len(longest) == 32767 and _exclusions.validate_exclusion(longest) == []
    assert _exclusions.validate_exclusion(longest[:3] + "b" + longest[3:]) == [
        "is 32,768 characters long: a Windows path has at most 32,767"]
    drill = "C:\\" + "a" * 40000 + ".exe"
    _unused, result = plan(multi(B), [drill], "present")
    assert result["operations"] == []
    (error,) = result["errors"]
    assert error == f"'{drill[:120]}...{drill[-40:]}' (40,007 characters): is 40,007 characters long: " \
                    "a Windows path has at most 32,767"


def test_each_reason_is_a_short_sentence():
    reasons = _exclusions.validate_exclusion("'%windir%\\a/..\\\\b*'")
    assert len(reasons) >= 5
    assert all(r and r[0].islower() and not r.endswith(".") and len(r) < 100 for r in reasons)


def test_not_a_string_is_refused():
    with pytest.raises(TypeError, match="must be a string"):
        _exclusions.validate_exclusion(["D:\\x.exe"])


_SEGMENT = st.text(alphabet=st.characters(whitelist_categories=("Lu", "Ll", "Nd"), whitelist_characters=" -_()'"),
                   min_size=1, max_size=12).filter(lambda s: s.strip() == s)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from("CDEZ"), st.lists(_SEGMENT, max_size=4), _SEGMENT, st.sampled_from(["exe", "sys", "dll"]))
def test_generated_well_formed_paths_are_valid(drive, folders, stem, extension):
    assume(not stem.startswith("'"))
    assume(not (folders and folders[0].startswith("'")))
    path = f"{drive}:\\" + "".join(f"{f}\\" for f in folders) + f"{stem}.{extension}"
    assume(not path.endswith("'"))
    assert _exclusions.validate_exclusion(path) == []


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_validator_never_crashes(text):
    assert isinstance(_exclusions.validate_exclusion(text), list)


# ---------------------------------------------------------------------------------------------------
# The check
# ---------------------------------------------------------------------------------------------------

def state_with(value, key_exists=True):
    doc = make_state(system_writer={"key_exists": key_exists, "excluded_binary_paths": value,
                                    "report_win32_services_non_system_state": {"kind": "missing", "data": None}})
    return _state.validate_state(doc, "test")


def multi(*entries):
    return {"kind": "REG_MULTI_SZ", "data": list(entries)}


MISSING = {"kind": "missing", "data": None}


def found(state):
    return [(f.code, f.subject) for f in _exclusions.exclusion_findings(state)]


def test_the_check_is_registered():
    assert _findings._CHECKS["exclusions"].codes == ("exclusion_invalid",)


@pytest.mark.parametrize("value", [MISSING, multi(), multi(KB_EXAMPLE, "E:\\svc\\x.sys")])
def test_nothing_to_report(value):
    assert found(state_with(value, key_exists=value != MISSING)) == []


def test_each_invalid_entry_is_reported_with_its_reasons():
    state = state_with(multi(KB_EXAMPLE, "%windir%\\x.exe", "E:\\bin\\"))
    findings = list(_exclusions.exclusion_findings(state))
    assert [f.subject for f in findings] == ["exclusion:%windir%\\x.exe", "exclusion:E:\\bin\\"]
    assert findings[0].evidence == {"index": 1, "reasons": ["is not an absolute drive path (X:\\...)",
                                                            "contains an environment variable (%...%)"]}
    assert findings[1].evidence["reasons"] == ["does not end in a file name with an extension"]
    assert all(f.severity == "warning" and f.source == "KB 980794" for f in findings)


def test_duplicates_are_reported_from_the_second_one():
    state = state_with(multi(KB_EXAMPLE, "d:\\programfolder\\BIN\\program.exe", "E:\\x.sys", KB_EXAMPLE))
    findings = list(_exclusions.exclusion_findings(state))
    assert [(f.subject, f.evidence["index"], f.evidence["duplicate_of"]) for f in findings] == [
        ("exclusion:d:\\programfolder\\BIN\\program.exe", 1, 0), (f"exclusion:{KB_EXAMPLE}", 3, 0)]


def test_empty_strings_are_reported():
    (finding,) = _exclusions.exclusion_findings(state_with(multi(KB_EXAMPLE, "", "E:\\x.sys")))
    assert finding.subject == "exclusion:(empty string at index 1)"
    assert finding.evidence == {"index": 1, "entries_after": ["E:\\x.sys"]}


@pytest.mark.parametrize("value", [
    {"kind": "REG_SZ", "data": KB_EXAMPLE},
    {"kind": "REG_EXPAND_SZ", "data": "%SystemDrive%\\x.exe"},
    {"kind": "REG_DWORD", "data": 1},
])
def test_wrong_kind_is_one_finding(value):
    (finding,) = _exclusions.exclusion_findings(state_with(value))
    assert (finding.code, finding.subject) == ("exclusion_invalid", "value:ExcludedBinaryPaths")
    assert finding.evidence["kind"] == value["kind"]


# ---------------------------------------------------------------------------------------------------
# The planner
# ---------------------------------------------------------------------------------------------------

def plan(value, paths, mode="present", key_exists=True, **kwargs):
    state = state_with(value, key_exists=key_exists)
    return state, _exclusions.plan_exclusions(state, paths, mode, **kwargs)


def applied(state, result):
    """Apply the plan's operations like the snapshot backend; the value must become ``after``."""
    after, outcome = _twin.apply_to_state(state, result["operations"])
    assert not outcome.refused, outcome.msg
    assert outcome.changed is bool(result["operations"])
    value = after["system_writer"]["excluded_binary_paths"]
    if result["operations"]:
        assert value == {"kind": "REG_MULTI_SZ", "data": result["after"]}
    return after


def replan(state, result, paths, mode, **kwargs):
    """Planning again on the applied result gives no operation (idempotence)."""
    after = applied(state, result)
    again = _exclusions.plan_exclusions(after, paths, mode, **kwargs)
    assert again["operations"] == []
    value = after["system_writer"]["excluded_binary_paths"]
    assert again["after"] == again["before"] == (value["data"] if value["kind"] == "REG_MULTI_SZ" else [])
    return again


A, B, C = "D:\\App\\a.exe", "E:\\Svc\\b.sys", "F:\\Tool\\c.dll"


@pytest.mark.parametrize("existing, paths, mode, after, added, removed", [
    # present: existing first, new appended in the given order, case-insensitive
    ([A], [B, C], "present", [A, B, C], [B, C], []),
    ([A], [A.upper()], "present", [A], [], []),
    ([B, A], [C, A], "present", [B, A, C], [C], []),
    ([A], [C, B, C.lower()], "present", [A, C, B], [C, B], []),
    # absent: removes case-insensitively, keeps the rest in place
    ([A, B, C], [B.lower()], "absent", [A, C], [], [B]),
    ([A, B], ["Z:\\none.exe"], "absent", [A, B], [], []),
    # exact: the list replaces all; entries already there keep their place and spelling
    ([A, B], [C, A.lower()], "exact", [A, C], [C], [B]),
    ([A, B], [B, A], "exact", [A, B], [], []),
    ([A, B], [], "exact", [], [], [A, B]),
])
def test_modes(existing, paths, mode, after, added, removed):
    state, result = plan(multi(*existing), paths, mode)
    assert result["errors"] == []
    assert result["before"] == existing
    assert result["after"] == after
    assert (result["added"], result["removed"]) == (added, removed)
    changes = after != existing
    assert len(result["operations"]) == (1 if changes else 0)
    if changes:
        (op,) = result["operations"]
        assert op == {"op": "registry_value", "key": "HKLM\\SYSTEM\\CurrentControlSet\\Control\\SystemWriter",
                      "name": "ExcludedBinaryPaths", "expect": multi(*existing),
                      "set": {"kind": "REG_MULTI_SZ", "data": after}}
    replan(state, result, paths, mode)


def test_missing_value_is_created_with_the_key():
    state, result = plan(MISSING, [A, B], key_exists=False)
    (op,) = result["operations"]
    assert op["expect"] == {"kind": "missing", "data": None}
    assert op["set"] == multi(A, B)
    assert any("created" in n for n in result["notes"])
    after = applied(state, result)
    assert after["system_writer"]["key_exists"] is True
    replan(state, result, [A, B], "present")


@pytest.mark.parametrize("mode, paths", [("absent", [A]), ("exact", []), ("present", [])])
def test_missing_value_stays_missing_when_nothing_is_wanted(mode, paths):
    _unused, result = plan(MISSING, paths, mode, key_exists=False)
    assert result["operations"] == [] and result["after"] == []


@pytest.mark.parametrize("paths, errors", [
    (["%windir%\\x.exe"], ["'%windir%\\x.exe': is not an absolute drive path (X:\\...)",
                           "'%windir%\\x.exe': contains an environment variable (%...%)"]),
    ([A, '"E:\\q.exe"'], ["'\"E:\\q.exe\"': is not an absolute drive path (X:\\...)",
                          "'\"E:\\q.exe\"': contains a double quotation mark"]),
    ([A, "E:\\dir\\"], ["'E:\\dir\\': does not end in a file name with an extension"]),
])
def test_invalid_given_paths_give_errors_and_no_operation(paths, errors):
    for mode in ("present", "absent", "exact"):
        _unused, result = plan(multi(B), paths, mode)
        assert result["errors"] == errors
        assert result["operations"] == []
        assert result["after"] == result["before"] == [B]


def test_invalid_existing_entries_are_kept_and_reported():
    bad = "%windir%\\old.exe"
    state, result = plan(multi(bad, A), [B])
    assert result["invalid_existing"] == [bad]
    assert result["after"] == [bad, A, B]
    assert any("kept" in n and bad in n for n in result["notes"])
    replan(state, result, [B], "present")


@pytest.mark.parametrize("mode, paths", [("present", []), ("present", [B]), ("absent", [B])])
def test_remove_invalid_drops_invalid_entries_duplicates_and_empty_strings(mode, paths):
    bad = "'D:\\quoted.exe'"
    state, result = plan(multi(bad, A, "", A.lower(), B), paths, mode, remove_invalid=True)
    assert result["invalid_existing"] == [bad, ""]
    expected = [A, B] if mode == "present" else [A]
    assert result["after"] == expected
    assert result["removed"] == [bad, "", A.lower()] + ([B] if mode == "absent" else [])
    replan(state, result, paths, mode, remove_invalid=True)


def test_exact_drops_invalid_existing_entries():
    state, result = plan(multi("%windir%\\x.exe", A), [A], "exact")
    assert result["after"] == [A]
    assert result["removed"] == ["%windir%\\x.exe"]
    replan(state, result, [A], "exact")


def test_a_write_never_keeps_empty_strings_or_duplicates():
    state, result = plan(multi(A, "", A.upper()), [B])
    assert result["after"] == [A, B]
    assert any("not written back" in n for n in result["notes"])
    replan(state, result, [B], "present")


def test_no_change_leaves_empty_strings_alone():
    # Nothing asked: the value is not rewritten (the check reports the empty string).
    _unused, result = plan(multi(A, "", B), [B])
    assert result["operations"] == []


@pytest.mark.parametrize("value, kept", [
    ({"kind": "REG_SZ", "data": A}, [A]),
    ({"kind": "REG_EXPAND_SZ", "data": "%SystemDrive%\\x.exe"}, []),
    ({"kind": "REG_DWORD", "data": 0}, []),
])
def test_wrong_kind(value, kept):
    state, result = plan(value, [B])
    assert result["operations"] == [] and result["wrong_kind"] == value["kind"]
    assert any("replace_wrong_kind" in n for n in result["notes"])
    state, result = plan(value, [B], replace_wrong_kind=True)
    (op,) = result["operations"]
    assert op["expect"] == value
    assert op["set"] == multi(*kept, B)
    replan(state, result, [B], "present", replace_wrong_kind=True)


def test_wrong_kind_is_replaced_even_by_an_empty_list():
    state, result = plan({"kind": "REG_SZ", "data": A}, [A], "absent", replace_wrong_kind=True)
    assert result["operations"][0]["set"] == multi()
    assert result["removed"] == [A]
    replan(state, result, [A], "absent", replace_wrong_kind=True)


UNREACHABLE = ["G:\\ClusterApp\\svc.exe", {"path": "H:\\Gone\\drv.sys", "code": "missing_volume"},
               {"path": "C:\\Program Files\\Old\\old.exe", "code": "missing_file"},
               {"path": "G:\\bad\\\\x.exe", "code": "missing_volume"}]


@pytest.mark.parametrize("include_missing_file, expected", [
    (False, [A, "G:\\ClusterApp\\svc.exe", "H:\\Gone\\drv.sys"]),
    (True, [A, "G:\\ClusterApp\\svc.exe", "H:\\Gone\\drv.sys", "C:\\Program Files\\Old\\old.exe"]),
])
def test_unreachable_paths_are_added_when_asked(include_missing_file, expected):
    state, result = plan(MISSING, [A], exclude_unreachable=True, include_missing_file=include_missing_file,
                         unreachable_paths=UNREACHABLE)
    assert result["after"] == expected
    assert any("G:\\bad\\\\x.exe" in n and "not excluded" in n for n in result["notes"])
    replan(state, result, [A], "present", exclude_unreachable=True, include_missing_file=include_missing_file,
           unreachable_paths=UNREACHABLE)
    _unused, ignored = plan(MISSING, [A], unreachable_paths=UNREACHABLE)
    assert ignored["after"] == [A]


@pytest.mark.parametrize("paths, mode, kwargs, message", [
    (A, "present", {}, "paths: expected a list"),
    ([A, 3], "present", {}, "paths\\[1\\]"),
    ([A], "presnt", {}, "state: expected one of"),
    ([A], "absent", {"exclude_unreachable": True}, "cannot be combined"),
    ([A], "present", {"exclude_unreachable": True, "unreachable_paths": [42]}, "unreachable_paths"),
])
def test_arguments_are_checked(paths, mode, kwargs, message):
    with pytest.raises(ValueError, match=message):
        _exclusions.plan_exclusions(state_with(MISSING), paths, mode, **kwargs)


_ENTRY = st.sampled_from([A, A.lower(), B, C, "Z:\\z.exe", "%windir%\\x.exe", "", "D:\\dir\\"])
_GIVEN = st.lists(st.sampled_from([A, A.upper(), B, C, "Y:\\y.sys"]), max_size=4)


@settings(max_examples=200, deadline=None)
@given(st.lists(_ENTRY, max_size=6), _GIVEN, st.sampled_from(["present", "absent", "exact"]), st.booleans())
def test_every_plan_applies_and_settles(existing, paths, mode, remove_invalid):
    state = state_with(multi(*existing))
    result = _exclusions.plan_exclusions(state, paths, mode, remove_invalid=remove_invalid)
    after = applied(state, result)
    again = _exclusions.plan_exclusions(after, paths, mode, remove_invalid=remove_invalid)
    assert again["operations"] == []
    keys = [e.lower() for e in result["after"]]
    if mode != "absent":
        assert {p.lower() for p in paths} <= set(keys)
    else:
        assert not {p.lower() for p in paths} & set(keys)
    if result["operations"]:
        assert "" not in result["after"] and len(keys) == len(set(keys))
    if mode == "present" and not remove_invalid and result["operations"]:
        kept = list(dict.fromkeys(e.lower() for e in existing if e))
        assert keys[:len(kept)] == kept
