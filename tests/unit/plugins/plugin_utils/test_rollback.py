"""Rollback: the planner (which backup, which undo operations), the backups as both backends list them and
label them, and the action through a fake live host (2 module calls, the label on the rollback's own backup,
the compare-and-swap guard refusing a rollback after a change)."""

import copy
import json
import os
from datetime import datetime, timedelta, timezone


import pytest
from ansible.errors import AnsibleActionFail
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.backupready.windows.plugins.action.win_backup_rollback import (
    BACKUP_WINDOW, ActionModule as Rollback)
from ansible_collections.backupready.windows.plugins.plugin_utils import _journal
from ansible_collections.backupready.windows.plugins.plugin_utils._backend import (
    BackendError, LiveBackend, SnapshotBackend)
from ansible_collections.backupready.windows.plugins.plugin_utils._rollback import (
    RollbackError, effective_rollbacks, plan_rollback, why_not_undoable)
from ansible_collections.backupready.windows.plugins.plugin_utils._state import find_service

from fakehost import make_action
from statedoc import make_service, make_state

SERVICES = "HKLM\\SYSTEM\\CurrentControlSet\\Services"
# The av-trend defect of the demo fleet (invalid_syntax, KB 4053355: '..' segment), and its canonical form.
TREND_RAW = '"C:\\Program Files (x86)\\Trend Micro\\Client Server Security Agent\\..\\BM\\TMBMSRV.exe" /service'
TREND_FIXED = '"C:\\Program Files (x86)\\Trend Micro\\BM\\TMBMSRV.exe" /service'
# KB 3209092: the SU ACE that lets the System Writer query MSLLDP's configuration.
MSLLDP = "D:(A;;CCLCSWRPWPDTLOCRRC;;;SY)S:(AU;FA;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;WD)"
MSLLDP_FIXED = MSLLDP.replace("S:(AU", "(A;;CCLCSWLOCRRC;;;SU)S:(AU")


def imagepath_undo(service="TMBMServer", written=TREND_FIXED, found=TREND_RAW):
    return {"op": "registry_value", "key": f"{SERVICES}\\{service}", "name": "ImagePath",
            "expect": {"kind": "REG_EXPAND_SZ", "data": written}, "set": {"kind": "REG_EXPAND_SZ", "data": found}}


START_MODE_UNDO = {"op": "service_start_mode", "service": "CryptSvc", "expect": "auto", "set": "disabled"}
START_UNDO = {"op": "service_state", "service": "CryptSvc", "expect": "stopped", "set": "none",
              "note": "not undoable: recorded only"}


def backup(backup_id, undo, label=None, operations=None, status="committed"):
    """A backup as the backends list it (``_journal.entry``); ``operations``: what it applied."""
    return {"id": backup_id, "created": None, "status": status, "undo": undo, "operations": operations or [],
            "label": label or {}, "trusted": True, "error": None}


def linked(backups):
    """A rollback applied undo operations of the backup it names: give each its target's undo as operations."""
    by_id = {b["id"]: b for b in backups}
    for item in backups:
        target = by_id.get((item["label"] or {}).get("rollback_of"))
        if target is not None and not item["operations"]:
            item["operations"] = [op for op in target["undo"] if why_not_undoable(op) is None]
    return backups


# ---------------------------------------------------------------------------------------------------
# The planner
# ---------------------------------------------------------------------------------------------------

# (backups newest first, wanted, chosen id or None, message part)
CHOICES = [
    pytest.param([], "latest", None, "this host has no backup", id="no-backup"),
    pytest.param([backup("b2", [imagepath_undo()]), backup("b1", [START_MODE_UNDO])], "latest", "b2", "b2: 1 undo",
                 id="newest"),
    pytest.param([backup("r1", [imagepath_undo(written=TREND_RAW, found=TREND_FIXED)], {"rollback_of": "b2"}),
                  backup("b2", [imagepath_undo()]), backup("b1", [START_MODE_UNDO])], "latest", "b1", "b1: 1 undo",
                 id="rolled-back-and-rollback-skipped"),
    pytest.param([backup("r2", [START_MODE_UNDO], {"rollback_of": "b1"}),
                  backup("r1", [imagepath_undo()], {"rollback_of": "b2"}),
                  backup("b2", [imagepath_undo()]), backup("b1", [START_MODE_UNDO])], "latest", None,
                 "each of the 4 newest backups is a rollback, was rolled back or cannot be trusted", id="all-rolled-back"),
    pytest.param([backup("b3", [START_UNDO]), backup("b2", [imagepath_undo()])], "latest", "b2", "b2: 1 undo",
                 id="restart-only-passed-over"),
    pytest.param([backup("b3", [START_UNDO])], "latest", None, "or holds nothing that can be undone (b3)",
                 id="only-restart"),
    pytest.param([backup("b2", [imagepath_undo()]), backup("b1", [START_MODE_UNDO])], "b1", "b1", "b1: 1 undo",
                 id="given-older"),
    pytest.param([backup("r1", [imagepath_undo()], {"rollback_of": "b1"}), backup("b1", [imagepath_undo()])], "b1",
                 "b1", "backup b1 was already rolled back by backup r1", id="given-already-rolled-back"),
    pytest.param([backup("r1", [imagepath_undo()], {"rollback_of": "b1"}), backup("b1", [imagepath_undo()])], "r1",
                 "r1", "r1: 1 undo", id="given-rollback-is-a-redo"),
    # A redo (the rollback r1 rolled back by x1) puts b1 back in force: latest rolls it back again.
    pytest.param([backup("x1", [imagepath_undo()], {"rollback_of": "r1"}),
                  backup("r1", [imagepath_undo()], {"rollback_of": "b1"}), backup("b1", [START_MODE_UNDO])],
                 "latest", "b1", "b1: 1 undo", id="after-redo"),
    # A label that names a newer backup is not a rollback of it (only newer backups roll back older ones).
    pytest.param([backup("b2", [imagepath_undo()]), backup("b1", [START_MODE_UNDO], {"rollback_of": "b2"})],
                 "latest", "b2", "b2: 1 undo", id="label-pointing-forward-ignored"),
]


@pytest.mark.parametrize("backups, wanted, chosen, message", CHOICES)
def test_which_backup_is_rolled_back(backups, wanted, chosen, message):
    plan = plan_rollback(linked(copy.deepcopy(backups)), wanted)
    assert message in plan.msg
    if chosen is None:
        assert plan.backup_id is None and plan.operations == [] and plan.label == {}
    else:
        assert plan.backup_id == chosen
        source = next(b for b in backups if b["id"] == chosen)
        expected = [op for op in reversed(source["undo"]) if why_not_undoable(op) is None]
        if "already rolled back" in message:
            expected = []
        assert plan.operations == expected
        assert plan.label == ({"rollback_of": chosen} if expected else {})


def test_restart_entries_are_recorded_not_applied():
    plan = plan_rollback([backup("b1", [START_MODE_UNDO, START_UNDO])])
    assert plan.operations == [START_MODE_UNDO]
    assert [entry["op"] for entry in plan.not_undoable] == [START_UNDO]
    assert "cannot be undone" in plan.not_undoable[0]["reason"] and "'stopped'" in plan.not_undoable[0]["reason"]
    assert "1 not undoable" in plan.msg


def test_passed_over_backups_are_named():
    plan = plan_rollback([backup("b3", [START_UNDO]), backup("b2", [START_UNDO]), backup("b1", [START_MODE_UNDO])])
    assert plan.backup_id == "b1" and plan.passed_over == ["b3", "b2"]


NOT_UNDOABLE = [
    pytest.param(START_UNDO, "a start or restart cannot be undone", id="service-state"),
    pytest.param({"op": "service_security", "service": "MSLLDP", "expect": MSLLDP_FIXED, "set": "default"},
                 "SCM default", id="service-sd-was-default"),
    pytest.param({"op": "path_security", "path": "C:\\Windows\\winsxs\\filemaps", "target": "files",
                  "expect": "O:BAD:(A;;FA;;;SY)", "set": "O:S-1-5-21-1-2-3-4711D:(D;;FR;;;BU)"},
                 "does not name the files", id="files-without-names"),
    pytest.param({"op": "path_security", "path": "C:\\Windows\\winsxs\\filemaps", "target": "files",
                  "expect": "O:BAD:(A;;FA;;;SY)", "set": "O:SYD:", "names": []}, "no file was changed",
                 id="files-none-changed"),
]


@pytest.mark.parametrize("op, reason", NOT_UNDOABLE)
def test_entries_that_cannot_be_undone(op, reason):
    assert reason in why_not_undoable(op)
    plan = plan_rollback([backup("b1", [imagepath_undo(), op])])
    assert plan.operations == [imagepath_undo()] and plan.not_undoable == [{"op": op, "reason": why_not_undoable(op)}]


@pytest.mark.parametrize("op", [
    imagepath_undo(),
    START_MODE_UNDO,
    {"op": "service_security", "service": "MSLLDP", "expect": MSLLDP_FIXED, "set": MSLLDP},
    {"op": "path_security", "path": "C:\\Windows\\winsxs\\filemaps", "target": "folder", "expect": "O:BAD:", "set": "O:SYD:"},
    {"op": "path_security", "path": "C:\\Windows\\winsxs\\filemaps", "target": "files", "expect": "O:BAD:",
     "set": "O:SYD:", "names": ["a.cdf-ms"]},
], ids=["imagepath", "start-mode", "service-sd", "folder", "files-named"])
def test_undoable_entries(op):
    assert why_not_undoable(op) is None
    assert plan_rollback([backup("b1", [op])]).operations == [op]


def test_undo_runs_in_reverse_order():
    """The last change is undone first: the owner of the files before the folder's DACL (whose propagation gives
    the files their old inherited ACEs back)."""
    folder = {"op": "path_security", "path": "C:\\Windows\\winsxs\\filemaps", "target": "folder",
              "expect": "O:BAD:PAI(A;OICI;FA;;;SY)", "set": "O:SYD:PAI(A;OICI;FA;;;SY)"}
    files = {"op": "path_security", "path": "C:\\Windows\\winsxs\\filemaps", "target": "files",
             "expect": "O:BAD:AI(A;ID;FA;;;SY)", "set": "O:SYD:AI(A;ID;FA;;;SY)", "names": ["a.cdf-ms"]}
    plan = plan_rollback([backup("b1", [folder, files])])
    assert plan.operations == [files, folder]


@pytest.mark.parametrize("backups, wanted, error", [
    ([backup("b1", [imagepath_undo()])], "20240501T100000Z-1a2b3c4d",
     "backup: no backup '20240501T100000Z-1a2b3c4d' among the 1 newest of this host (newest first: b1)"),
    ([dict(backup("b2", None), error="backup.json is not valid JSON"),
      backup("b1", [imagepath_undo()])], "latest", "backup b2 cannot be read: backup.json is not valid JSON"),
    ([dict(backup("b2", None), trusted=False, error="C:\\x is owned by S-1-5-21-1-2-3-1001"),
      backup("b1", [imagepath_undo()])], "b2", "backup b2 is not one this collection can trust"),
    ([backup("b1", [{"op": "service_start_mode", "service": "CryptSvc", "expect": "auto", "set": "unknown"}])],
     "latest", "backup b1: undo operation 0 (service_start_mode): 'set' must be one of"),
    ([backup("b1", [{"op": "registry_value", "key": "x"}])], "b1", "backup b1: undo operation 0 (registry_value)"),
])
def test_what_cannot_be_planned_is_an_error_naming_the_backup(backups, wanted, error):
    with pytest.raises(RollbackError) as caught:
        plan_rollback(backups, wanted)
    assert error in str(caught.value)


def test_an_unreadable_backup_older_than_the_one_chosen_does_not_matter():
    unreadable = dict(backup("b1", None), error="access denied")
    assert plan_rollback([backup("b2", [imagepath_undo()]), unreadable]).backup_id == "b2"


# Property: with applies, rollbacks (latest) and redos (a rollback rolled back by id) in any order, latest always
# rolls back the newest change still in force, and a change is never rolled back twice without a redo between.

EVENTS = st.lists(st.sampled_from(["apply", "rollback", "redo"]), max_size=25)


@settings(max_examples=200, deadline=None)
@given(EVENTS)
def test_latest_rolls_back_the_newest_change_in_force(events):
    backups: list[dict] = []  # newest first, as the backends list them
    in_force: list[str] = []  # the model: ids of applies in force, in creation order
    standing_rollbacks: list[tuple[str, str]] = []  # (rollback id, apply id) of rollbacks in force
    redone: set[str] = set()  # rollbacks rolled back by id
    for number, event in enumerate(events):
        new_id = f"{number:04d}"
        if event == "apply":
            backups.insert(0, backup(new_id, [imagepath_undo(service=f"s{number}")]))
            in_force.append(new_id)
        elif event == "rollback":
            plan = plan_rollback(backups)
            if not in_force:
                assert plan.operations == [] and plan.backup_id is None
                continue
            assert plan.backup_id == in_force[-1] and plan.label == {"rollback_of": in_force[-1]}
            backups.insert(0, backup(new_id, plan.operations, plan.label, operations=plan.operations))
            standing_rollbacks.append((new_id, in_force.pop()))
        elif standing_rollbacks:
            rollback_id, apply_id = standing_rollbacks.pop()
            redone.add(rollback_id)
            plan = plan_rollback(backups, rollback_id)
            assert plan.backup_id == rollback_id and plan.operations
            backups.insert(0, backup(new_id, plan.operations, plan.label, operations=plan.operations))
            in_force.append(apply_id)
            in_force.sort()
        applies = {b["id"] for b in backups if not b["label"]}
        assert set(effective_rollbacks(backups)) == (applies - set(in_force)) | redone


# ---------------------------------------------------------------------------------------------------
# Backups as the snapshot backend saves and lists them
# ---------------------------------------------------------------------------------------------------

def trend_state():
    doc = make_state()
    doc["services"].append(make_service("TMBMServer", TREND_RAW))
    return doc


@pytest.fixture
def snapshot(tmp_path):
    path = tmp_path / "host.json"
    path.write_text(json.dumps(trend_state()), encoding="utf-8")
    return str(path)


def ticking_clock(start=datetime(2026, 11, 2, 8, 0, 0, 123456, tzinfo=timezone.utc)):
    now = [start]

    def clock():
        now[0] += timedelta(seconds=1)
        return now[0]
    return clock


FIX = imagepath_undo(written=TREND_RAW, found=TREND_FIXED)  # the forward fix: raw -> fixed (its undo is imagepath_undo())


def test_snapshot_apply_stores_the_label_and_lists_newest_first(snapshot):
    backend = SnapshotBackend(snapshot, "host", clock=ticking_clock())
    first = backend.apply([FIX], check_mode=False)  # an existing caller: no label
    second = backend.apply([imagepath_undo()], check_mode=False, rollback_of=first.backup_id)
    assert json.load(open(first.backup_path, encoding="utf-8"))["label"] == {}
    assert json.load(open(second.backup_path, encoding="utf-8"))["label"] == {"rollback_of": first.backup_id}
    listed = backend.list_backups(20)
    assert [b["id"] for b in listed] == [os.path.basename(p)[:-5] for p in (second.backup_path, first.backup_path)]
    assert listed[0]["created"].startswith("2026-11-02T08:00:") and listed[0]["created"].endswith(".123456Z")
    assert listed[0] == {"id": second.backup_id, "created": listed[0]["created"], "status": "committed",
                         "undo": second.undo, "operations": [imagepath_undo()], "label": {"rollback_of": first.backup_id},
                         "trusted": True, "error": None}
    assert listed[1]["undo"] == first.undo == [imagepath_undo()] and listed[1]["label"] == {}
    assert [b["id"] for b in backend.list_backups(1)] == [listed[0]["id"]]
    assert backend.calls == ["apply", "apply"]  # listing files is not a module call


def test_snapshot_listing_skips_other_files_and_reports_unreadable_ones(snapshot):
    backend = SnapshotBackend(snapshot, "host", clock=ticking_clock())
    assert backend.list_backups(20) == []  # no backup folder yet
    good = backend.apply([FIX], check_mode=False)
    folder = os.path.dirname(good.backup_path)
    for name, text in {".tmp-abc.json": "{", "notes.txt": "x", "20991231T235959000000Z.json": "{not json",
                       "20991231T235958000000Z.json": json.dumps({"format": "other"}),
                       "20991231T235957000000Z.json": json.dumps({"format": "backupready.backup/2", "writer":
                                                                  "backupready.windows", "status": "committed",
                                                                  "undo": "x", "operations": [], "label": {}})}.items():
        with open(os.path.join(folder, name), "w", encoding="utf-8") as stream:
            stream.write(text)
    listed = backend.list_backups(20)
    assert [b["id"] for b in listed] == ["20991231T235959000000Z", "20991231T235958000000Z", "20991231T235957000000Z",
                                         good.backup_id]
    assert [b["undo"] is None for b in listed] == [True, True, True, False]
    assert "cannot be read" in listed[0]["error"] and "not 'backupready.backup/2'" in listed[1]["error"]
    assert "its undo is not a list" in listed[2]["error"]


def test_check_mode_saves_no_backup(snapshot):
    backend = SnapshotBackend(snapshot, "host")
    backend.apply([FIX], check_mode=True, label={"rollback_of": "x"})
    assert backend.list_backups(20) == []


# ---------------------------------------------------------------------------------------------------
# Backups as the live backend asks win_backup_state for them (the module returns the JSON files as text)
# ---------------------------------------------------------------------------------------------------

class FakeWindows:
    """Plays win_backup_state / win_backup_apply (docs/write-path.md §5) on a state document: the store and the
    journal are ``_journal``'s, as the C# engine implements them (the two are cross-checked in tests/csharp)."""

    def __init__(self, state):
        self.store = _journal.MemoryStore(state, host="ws01")
        self.calls: list[tuple[str, dict]] = []
        self.check_mode = False

    @property
    def state(self):
        return self.store.state

    @property
    def records(self):
        return [self.store.records[i] for i in sorted(self.store.records, reverse=True)]

    def execute_module(self, module_name=None, module_args=None, task_vars=None, **kwargs):
        self.calls.append((module_name, copy.deepcopy(module_args)))
        if module_name.endswith("win_backup_state"):
            result = {"changed": False}
            if module_args.get("gather", True):
                result["state"] = copy.deepcopy(self.state)
            if module_args.get("backups", 0) > 0:
                result["backups"] = [{"id": r["id"], "created": r["created"], "record": json.dumps(r), "trusted": True,
                                      "error": None} for r in self.records[:module_args["backups"]]]
            return result
        if module_name.endswith("win_backup_apply"):
            outcome = _journal.journaled_apply(self.store, module_args["operations"], check_mode=self.check_mode,
                                               label=module_args.get("label"), rollback_of=module_args.get("rollback_of"),
                                               keep=module_args.get("keep_backups", 20))
            result = outcome.as_dict()
            if outcome.backup_id:
                result["backup_path"] = f"C:\\ProgramData\\backupready\\backups\\{outcome.backup_id}"
            result["failed"] = outcome.refused or outcome.failed
            return result
        raise AssertionError(f"unexpected module {module_name}")


def test_live_probe_lists_backups_in_the_same_call_and_parses_them():
    host = FakeWindows(trend_state())
    record = {"format": "backupready.backup/2", "writer": "backupready.windows", "id": "20261102T080001000Z-00000002",
              "created": "2026-11-02T08:00:01.000Z", "status": "committed", "operations": [], "undo": [imagepath_undo()],
              "results": [], "label": {"rollback_of": "20261102T080000000Z-00000001"}}
    answer = {"state": trend_state(), "store": {"path": "D:\\backups", "secure": True}, "backups": [
        {"id": record["id"], "created": record["created"], "record": json.dumps(record), "trusted": True, "error": None},
        {"id": "20261102T080000000Z-00000001", "created": None, "record": "[{\"op\": ", "trusted": True, "error": None},
        {"id": "20261102T075900000Z-00000000", "created": None, "record": None, "trusted": False,
         "error": "owned by S-1-5-21-1-2-3-1001, not SYSTEM or Administrators"}]}
    calls = []
    backend = LiveBackend(lambda m, a: calls.append((m, a)) or copy.deepcopy(answer), "ws01", backup_dir="D:\\backups")
    backend.probe(backups=5)
    listed = backend.list_backups(5)
    assert calls == [("backupready.windows.win_backup_state", {"gather": True, "backups": 5, "backup_dir": "D:\\backups"})]
    assert listed[0] == {"id": record["id"], "created": record["created"], "status": "committed", "operations": [],
                         "undo": [imagepath_undo()], "label": {"rollback_of": "20261102T080000000Z-00000001"},
                         "trusted": True, "error": None}
    assert listed[1]["undo"] is None and "not valid JSON" in listed[1]["error"]
    assert listed[2]["trusted"] is False and "S-1-5-21-1-2-3-1001" in listed[2]["error"]
    assert backend.store == {"path": "D:\\backups", "secure": True}
    # More than the probe listed: one more call, without gathering the state.
    backend.list_backups(10)
    assert calls[-1] == ("backupready.windows.win_backup_state", {"gather": False, "backups": 10, "backup_dir": "D:\\backups"})
    assert backend.calls == ["state", "backups"]


def test_live_probe_without_backups_asks_as_before():
    host = FakeWindows(trend_state())
    LiveBackend(host.execute_module, "ws01").probe()
    assert host.calls == [("backupready.windows.win_backup_state", {"gather": True})]


def test_live_listing_without_backups_key_is_an_error():
    backend = LiveBackend(lambda m, a: {"state": trend_state()}, "ws01")
    with pytest.raises(BackendError, match="ws01: win_backup_state returned no 'backups' list"):
        backend.list_backups(3)


def test_live_apply_passes_the_label_only_when_there_is_one():
    host = FakeWindows(trend_state())
    backend = LiveBackend(host.execute_module, "ws01")
    first = backend.apply([FIX], check_mode=False)
    assert "label" not in host.calls[-1][1] and "rollback_of" not in host.calls[-1][1]
    assert host.calls[-1][1]["keep_backups"] == 20
    backend.apply([imagepath_undo()], check_mode=False, label={"rollback_of": first.backup_id},
                  rollback_of=first.backup_id)
    assert host.calls[-1][1]["label"] == {"rollback_of": first.backup_id}
    assert host.calls[-1][1]["rollback_of"] == first.backup_id


def test_live_check_mode_apply_in_a_real_task_is_refused_before_any_call():
    host = FakeWindows(trend_state())
    with pytest.raises(BackendError, match="a check-mode apply was asked for in a task that is not in check mode"):
        LiveBackend(host.execute_module, "ws01").apply([FIX], check_mode=True)
    assert host.calls == []


# ---------------------------------------------------------------------------------------------------
# The action through the live backend
# ---------------------------------------------------------------------------------------------------

def run_rollback(host, args=None, check_mode=False, diff=False):
    """As tests/unit/plugins/action/test_action_base.py drives an action: a mocked task and connection."""
    action = make_action(Rollback, args or {}, host, check_mode=check_mode, diff=diff,
                         action="backupready.windows.win_backup_rollback")
    host.calls.clear()
    return action.run(task_vars={"inventory_hostname": "ws01"})


@pytest.fixture
def fixed_host():
    """A host where an apply fixed the av-trend ImagePath and saved its backup."""
    host = FakeWindows(trend_state())
    LiveBackend(host.execute_module, "ws01").apply([FIX], check_mode=False)
    return host


def test_rollback_makes_two_module_calls_and_labels_its_backup(fixed_host):
    fixed_id = fixed_host.records[0]["id"]
    checked = run_rollback(fixed_host, check_mode=True, diff=True)
    assert checked["changed"] is True and find_service(fixed_host.state, "TMBMServer")["image_path"]["data"] == TREND_FIXED
    assert checked["diff"][0]["before"] == f"[REG_EXPAND_SZ] {TREND_FIXED}\n"
    result = run_rollback(fixed_host, diff=True)
    assert result["changed"] is True and result["diff"] == checked["diff"]
    assert [name.rsplit(".", 1)[1] for name, _args in fixed_host.calls] == ["win_backup_state", "win_backup_apply"]
    assert fixed_host.calls[0][1] == {"gather": True, "backups": BACKUP_WINDOW}
    assert fixed_host.calls[1][1]["label"] == {"rollback_of": fixed_id}
    assert result["rolled_back"] == [imagepath_undo()] and fixed_host.records[0]["label"] == {"rollback_of": fixed_id}
    assert result["module_calls"] == 2 and result["backup_path"].endswith(fixed_host.records[0]["id"])
    assert fixed_host.calls[1][1]["rollback_of"] == fixed_id
    assert find_service(fixed_host.state, "TMBMServer")["image_path"] == {"kind": "REG_EXPAND_SZ", "data": TREND_RAW}
    again = run_rollback(fixed_host)
    assert again["changed"] is False and "no backup to roll back" in again["msg"]
    assert "win_backup_apply" not in " ".join(name for name, _args in fixed_host.calls)


def test_rollback_after_a_change_is_refused_and_writes_nothing(fixed_host):
    find_service(fixed_host.state, "TMBMServer")["image_path"]["data"] = "C:\\by hand.exe"
    before = copy.deepcopy(fixed_host.state)
    result = run_rollback(fixed_host)
    assert result["failed"] is True and result["changed"] is False and result["rolled_back"] == []
    assert "was not rolled back: " in result["msg"] and "the host changed since it was read" in result["msg"]
    assert "TMBMServer\\ImagePath" in result["msg"] and "by hand.exe" in result["msg"]
    assert fixed_host.state == before and len(fixed_host.records) == 1


def test_a_value_put_back_by_hand_is_a_change_too(fixed_host):
    """The guard compares with what the backup's apply wrote: a hand-made restoration is refused, not redone."""
    find_service(fixed_host.state, "TMBMServer")["image_path"]["data"] = TREND_RAW
    result = run_rollback(fixed_host)
    assert result["failed"] is True and result["apply_results"][0]["status"] == "refused"
    assert result["apply_results"][0]["found"] == {"kind": "REG_EXPAND_SZ", "data": TREND_RAW}


@pytest.mark.parametrize("args, message", [
    ({"backup": "  "}, "backup: give a backup id or 'latest'"),
    ({"backup": "nope"}, "backup: no backup 'nope'"),
])
def test_bad_backup_argument_fails_naming_it(fixed_host, args, message):
    with pytest.raises(AnsibleActionFail, match=message):
        run_rollback(fixed_host, args)
