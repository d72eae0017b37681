"""The reviewed plan (backupready_plan_dir): what check mode records, what a real run compares, and the
messages that name the task, the operation and the value then and now. The stale-plan case is drill 2a of
the reliability drills (`same_value_other_defect`): the value a reviewed fix replaces changed before the
real run, which then planned another operation and applied it without a word."""

import json
import os
from types import SimpleNamespace

import pytest

from ansible_collections.backupready.windows.plugins.plugin_utils._planfile import (
    MATCHED, PLAN_DIR_VAR, RECORDED, PlanFileError, check_plan, compare_operations, follow_reviewed_plan,
    plan_path, read_plan, record_task, refusal, show, task_key)

SERVICES = "HKLM\\SYSTEM\\CurrentControlSet\\Services"
DOUBLED = "\\Systemroot\\Systemroot\\System32\\drivers\\vdrvroot.sys"
TRIPLED = "\\Systemroot\\Systemroot\\Systemroot\\System32\\drivers\\vdrvroot.sys"
FIXED = "\\SystemRoot\\System32\\drivers\\vdrvroot.sys"
KEY = "backupready.windows.imagepath : Fix service ImagePath values (backupready.windows.win_service_imagepath)"


def imagepath_op(found=DOUBLED, written=FIXED, service="vdrvroot"):
    return {"op": "registry_value", "key": f"{SERVICES}\\{service}", "name": "ImagePath",
            "expect": {"kind": "REG_EXPAND_SZ", "data": found}, "set": {"kind": "REG_EXPAND_SZ", "data": written}}


def start_op(found="disabled"):
    return {"op": "service_start_mode", "service": "CryptSvc", "expect": found, "set": "auto"}


def state(name="hv-doubled"):
    return {"host": {"name": name}}


def plan_doc(operations, host="hv-doubled", host_name="hv-doubled", key=KEY):
    return record_task(None, host, host_name, key, operations, "2026-11-30T10:00:00+00:00", "p.json")


# --- comparing ---------------------------------------------------------------------------------------

def test_the_same_operations_pass():
    assert compare_operations([imagepath_op(), start_op()], [imagepath_op(), start_op()]) == []
    assert compare_operations([], []) == []


def test_drill_2a_same_value_other_defect_names_the_operation_and_the_value_then_and_now():
    (problem,) = compare_operations([imagepath_op(DOUBLED)], [imagepath_op(TRIPLED)])
    assert problem == (f"operation 1 ({SERVICES}\\vdrvroot\\ImagePath): the value it replaces was "
                       f"REG_EXPAND_SZ '{DOUBLED}' in the reviewed plan, is REG_EXPAND_SZ '{TRIPLED}' now")


def test_another_value_written_is_named():
    (problem,) = compare_operations([imagepath_op()], [imagepath_op(written=FIXED.lower())])
    assert "the value it writes was REG_EXPAND_SZ" in problem and FIXED.lower() in problem


def test_an_operation_added_or_dropped_is_named():
    added = compare_operations([imagepath_op()], [imagepath_op(), start_op()])
    assert added == ["operation 2 (service CryptSvc (start mode)) is not in the reviewed plan: "
                     "it would write 'auto' where 'disabled' is"]
    dropped = compare_operations([imagepath_op(), start_op()], [imagepath_op()])
    assert dropped == ["operation 2 of the reviewed plan (service CryptSvc (start mode)) is not planned now"]


def test_another_order_is_a_difference():
    assert compare_operations([imagepath_op(), start_op()], [start_op(), imagepath_op()]) == [
        "the same operations are planned in another order"]


def test_long_and_control_characters_are_cut_and_escaped():
    shown = show("C:\\" + "a" * 1000 + "\x00\x1b[2J")
    assert len(shown) < 220 and "(1008 characters)" in shown
    assert show("a\x00b\x1b[2J") == "'a<NUL>b<U+001B>[2J'"
    assert show({"kind": "REG_MULTI_SZ", "data": ["C:\\x.exe"]}) == "REG_MULTI_SZ ['C:\\x.exe']"  # one backslash


# --- refusing ----------------------------------------------------------------------------------------

def test_a_matching_plan_is_not_refused():
    assert refusal(plan_doc([imagepath_op()]), "p.json", "hv-doubled", "hv-doubled", KEY, [imagepath_op()]) is None


def test_an_empty_entry_means_nothing_may_change():
    doc = plan_doc([])
    assert refusal(doc, "p.json", "hv-doubled", "hv-doubled", KEY, []) is None
    why = refusal(doc, "p.json", "hv-doubled", "hv-doubled", KEY, [imagepath_op()])
    assert why.startswith(f"{KEY}: not the reviewed plan (p.json, recorded 2026-11-30T10:00:00+00:00); "
                          "nothing was changed: the reviewed plan changes nothing here; operation 1")


@pytest.mark.parametrize("doc, host, host_name, key, expected", [
    (None, "hv-doubled", "hv-doubled", KEY, "no reviewed plan for hv-doubled: p.json does not exist"),
    (plan_doc([]), "hv-doubled", "hv-doubled", "other task (m)", "this task is not in the reviewed plan p.json"),
    (plan_doc([], host="dc01"), "hv-doubled", "hv-doubled", KEY, "p.json is the reviewed plan of host 'dc01'"),
    (plan_doc([], host_name="HV-OLD"), "hv-doubled", "hv-doubled", KEY,
     "p.json was made for a host named 'HV-OLD', this host reports 'hv-doubled'"),
])
def test_no_plan_another_task_or_another_host_is_refused(doc, host, host_name, key, expected):
    why = refusal(doc, "p.json", host, host_name, key, [])
    assert expected in why and why.startswith(key) and "nothing was changed" in why


# --- the document --------------------------------------------------------------------------------------

def test_recording_replaces_the_task_entry_and_keeps_the_others():
    first = plan_doc([imagepath_op()])
    second = record_task(first, "hv-doubled", "hv-doubled", "other (m)", [start_op()], "t2", "p.json")
    third = record_task(second, "hv-doubled", "hv-doubled", KEY, [], "t3", "p.json")
    assert first["tasks"][KEY]["operations"] == [imagepath_op()]  # not modified in place
    assert third["tasks"] == {KEY: {"recorded": "t3", "operations": []},
                              "other (m)": {"recorded": "t2", "operations": [start_op()]}}
    with pytest.raises(PlanFileError, match="is the plan of host 'dc01', not of 'hv-doubled'"):
        record_task(plan_doc([], host="dc01"), "hv-doubled", "hv-doubled", KEY, [], "t", "p.json")


@pytest.mark.parametrize("doc, field", [
    ([], "expected a JSON object"),
    ({"format": "other"}, "field 'format'"),
    ({"format": "backupready.plan/1", "host": 5, "tasks": {}}, "field 'host'"),
    ({"format": "backupready.plan/1", "host": "h", "tasks": []}, "field 'tasks'"),
    ({"format": "backupready.plan/1", "host": "h", "tasks": {"t": {"operations": [1]}}},
     "field 'tasks[\"t\"].operations'"),
])
def test_a_malformed_plan_file_is_named(doc, field):
    with pytest.raises(PlanFileError, match="^p.json: " + field.replace("[", "\\[")):
        check_plan(doc, "p.json")


def test_unreadable_plan_files(tmp_path):
    assert read_plan(str(tmp_path / "absent.json")) is None
    bad = tmp_path / "bad.json"
    bad.write_bytes(b'{"format": "backupready.plan/1", "host": "smtp_password: S3cret"')
    with pytest.raises(PlanFileError, match="bad.json: not valid JSON \\(line 1, column") as caught:
        read_plan(str(bad))
    assert "S3cret" not in str(caught.value)
    bad.write_bytes(b"\xe9")
    with pytest.raises(PlanFileError, match="not UTF-8"):
        read_plan(str(bad))


def test_a_host_name_cannot_leave_the_plan_folder():
    assert plan_path("/plans", "../../etc/passwd") == os.path.join("/plans", "..%2F..%2Fetc%2Fpasswd.json")
    assert os.path.dirname(plan_path("/plans", "a\\b/c")) == "/plans"


def test_the_task_key_is_role_task_and_module_and_the_loop_item():
    task = SimpleNamespace(get_name=lambda: "backupready.windows.imagepath : Fix", action="win_service_imagepath",
                           resolved_action="backupready.windows.win_service_imagepath")
    assert task_key(task, {}) == "backupready.windows.imagepath : Fix (backupready.windows.win_service_imagepath)"
    assert task_key(task, {"ansible_loop_var": "item", "item": "vdrvroot"}).endswith(' [item="vdrvroot"]')
    long_item = task_key(task, {"ansible_loop_var": "item", "item": {"a": "x" * 100}})
    assert "[item=sha256:" in long_item and long_item == task_key(task, {"ansible_loop_var": "item",
                                                                         "item": {"a": "x" * 100}})


# --- record, then enforce -----------------------------------------------------------------------------

def test_check_mode_records_and_the_real_run_applies_only_that(tmp_path):
    task_vars = {PLAN_DIR_VAR: str(tmp_path / "chg-1"), "inventory_hostname": "hv-doubled"}
    recorded = follow_reviewed_plan(task_vars, KEY, state(), [imagepath_op()], True, clock=lambda: "t1")
    path = str(tmp_path / "chg-1" / "hv-doubled.json")
    assert recorded == {"file": path, "task": KEY, "status": RECORDED}
    with open(path, encoding="utf-8") as handle:
        assert json.load(handle) == {"format": "backupready.plan/1", "host": "hv-doubled", "host_name": "hv-doubled",
                                     "tasks": {KEY: {"recorded": "t1", "operations": [imagepath_op()]}}}
    assert follow_reviewed_plan(task_vars, KEY, state(), [imagepath_op()], False)["status"] == MATCHED
    with pytest.raises(PlanFileError, match="the value it replaces was REG_EXPAND_SZ"):
        follow_reviewed_plan(task_vars, KEY, state(), [imagepath_op(TRIPLED)], False)
    with pytest.raises(PlanFileError, match="this host reports 'other-host'"):
        follow_reviewed_plan(task_vars, KEY, state("other-host"), [imagepath_op()], False)


def test_without_the_variable_nothing_happens_and_a_bad_value_is_refused(tmp_path):
    assert follow_reviewed_plan({"inventory_hostname": "h"}, KEY, state(), [imagepath_op()], False) is None
    for value, shown in (("", "''"), ("  ", "'  '"), (["a"], "list"), (5, "int")):
        with pytest.raises(PlanFileError, match=f"backupready_plan_dir must be the path of a folder .*got {shown}"):
            follow_reviewed_plan({PLAN_DIR_VAR: value}, KEY, state(), [], True)


def test_the_variable_is_templated(tmp_path):
    task_vars = {PLAN_DIR_VAR: "{{ somewhere }}", "inventory_hostname": "h"}
    done = follow_reviewed_plan(task_vars, KEY, state(), [], True, template=lambda v: str(tmp_path), clock=lambda: "t")
    assert done["file"] == str(tmp_path / "h.json")
