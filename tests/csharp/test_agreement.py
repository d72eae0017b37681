"""The two implementations of the write path agree: the C# engine (live hosts, run here under mono against FakeOs)
and the Python journal over the twin (snapshot hosts), on the same inputs (docs/write-path.md).

For every demo host and every plan the roles make there, both run the same scenarios (``_journal.run_scenario``
and the harness's ``scenario`` command): apply then roll back; a failure before and after the write of every
operation; a crash after every write, then the next apply. Hand-made scenarios add what those do not reach: a
read-back that differs, a crash right after the pending record, store entries with their owner and DACL (trusted
and not), more records than ``keep_backups``, a check-mode rollback of a pending record, several pending records
with every verdict, a start kept or dropped by a pending resolution, a rollback that needs the relaxed filemaps
rules, labelled rollbacks. What each returns is compared field by field where it is structured (changed, refused,
failed as the controller reads it, each status, the undo operations, what happened to pending records, the
records in the store) and the host after each step by meaning (descriptors compared as Windows compares them).
Messages are the implementations' own words and are not compared.
"""

from __future__ import annotations

import copy
import functools
import json
import re

import pytest

from ansible_collections.backupready.windows.plugins.plugin_utils import _checks  # noqa: F401  # pylint: disable=unused-import
from ansible_collections.backupready.windows.plugins.plugin_utils import _journal
from ansible_collections.backupready.windows.plugins.plugin_utils._acl import (
    plan_filemaps, plan_service_security, plan_vss_access_control)
from ansible_collections.backupready.windows.plugins.plugin_utils._exclusions import plan_exclusions
from ansible_collections.backupready.windows.plugins.plugin_utils._findings import assess
from ansible_collections.backupready.windows.plugins.plugin_utils._imagepath import plan_imagepath_fixes
from ansible_collections.backupready.windows.plugins.plugin_utils._rollback import plan_rollback
from ansible_collections.backupready.windows.plugins.plugin_utils._sddl import SddlError, descriptor_key, writable_key
from ansible_collections.backupready.windows.plugins.plugin_utils._vss import plan_cryptsvc

from test_engine import SNAPSHOTS, harness  # noqa: F401  # pylint: disable=unused-import


def _plans(state: dict) -> list[tuple[str, list[dict]]]:
    unreachable = [{"path": f.evidence["exclusion_path"], "code": f.code}
                   for f in assess(state, ["missing_volume"]) if f.evidence.get("exclusion_path")]
    start_mode = [op for op in plan_cryptsvc(state)["operations"] if op["op"] == "service_start_mode"]
    return [("imagepath", plan_imagepath_fixes(state)[0]),
            ("exclusions", plan_exclusions(state, [], "present", exclude_unreachable=True,
                                           unreachable_paths=unreachable)["operations"]),
            ("filemaps", plan_filemaps(state)[0]),
            ("writer_access", plan_vss_access_control(state)[0] + plan_service_security(state)[0]),
            ("cryptsvc_start_mode", start_mode)]  # the fake does not simulate what a restart shows


def _named(world: dict) -> dict:
    """Every filemaps file named (the fake needs names; a live probe lists samples only): the names the demo
    snapshot has, else samples and then made-up ones, as ``test_engine.acl_broken_with_names`` does."""
    for index, group in enumerate((world["filemaps"].get("files") or {}).get("descriptors", [])):
        if "names" not in group:
            names = list(group["samples"])
            while len(names) < group["count"]:
                names.append(f"file-{index}-{len(names)}.cdf-ms")
            group["names"] = names
    return world


def _cases() -> list[tuple[str, str, dict, list[dict]]]:
    cases = []
    for path in sorted(SNAPSHOTS.glob("*.json")):
        world = _named(json.loads(path.read_text(encoding="utf-8")))
        for name, ops in _plans(world):
            if ops:
                cases.append((path.stem, name, world, ops))
    return cases


CASES = _cases()


@functools.lru_cache(maxsize=None)  # a world holds thousands of files sharing a few descriptors
def _key(sddl):
    try:
        return descriptor_key(sddl) if isinstance(sddl, str) and sddl != "default" else sddl
    except (SddlError, ValueError):
        return ("unparsed", sddl)


@functools.lru_cache(maxsize=None)
def _writable(sddl):
    try:
        return writable_key(sddl)
    except (SddlError, ValueError):
        return ("unparsed", sddl)


def _op_view(op: dict) -> dict:
    """An operation as the write path reads it: a file or folder descriptor by its writable part (the inherited
    ACEs it shows are information: docs/write-path.md §1), a service descriptor by meaning."""
    view = dict(op)
    for field in ("expect", "set"):
        if op.get("op") == "path_security" and isinstance(op.get(field), str):
            view[field] = _writable(op[field])
        elif op.get("op") == "service_security" and isinstance(op.get(field), str):
            view[field] = _key(op[field])
    if "names" in view:
        view["names"] = sorted(n.lower() for n in view["names"])
    return view


def _world_view(world: dict) -> dict:
    files = {}
    for group in (world["filemaps"].get("files") or {}).get("descriptors", []):
        for name in group.get("names", []):
            files[name.lower()] = _key(group["sddl"])
    return {
        "services": {s["name"].lower(): (s["image_path"], s["start_mode"], s["security"]["source"],
                                         _key(s["security"]["sddl"])) for s in world["services"]},
        "system_writer": (world["system_writer"]["excluded_binary_paths"],),
        "vss": {k.lower(): v for k, v in world["vss_access_control"]["values"].items()},
        "filemaps": _key(world["filemaps"]["sddl"]),
        "pending_renames": _key(world["pending_renames"]["sddl"]),
        "files": files,
    }


def _result_view(result: dict) -> dict:
    if "crashed" in result:
        return {"crashed": True}
    return {
        # As the controller reads it (_backend.LiveBackend.apply): a refusal is not a failure.
        "changed": result["changed"], "refused": result["refused"],
        "failed": bool(result.get("failed")) and not result["refused"],
        "statuses": [(r["index"], r["status"], r.get("files_changed")) for r in result["results"]],
        "undo": [_op_view(op) for op in result["undo"]],
        "journal": [j["action"] for j in result.get("journal") or [] if j.get("action") != "cleaned"],
        "backup_id": result.get("backup_id"),
        "pruned": result.get("pruned") or [],
    }


def _store_view(records: list[dict]) -> list:
    return [(r["id"], r["status"], [_op_view(op) for op in r["undo"]], r.get("label") or {},
             [_op_view(op) for op in r["operations"]]) for r in records]


_ID = re.compile(r"\d{8}T\d{9}Z-[0-9a-f]{8}")


def _ids_in_order(answer: dict, given: set) -> dict:
    """Each backup id a run made -> its rank: the two fakes number their records each their own way (the ids of
    records the scenario gives are the same on both sides and stay)."""
    order: dict[str, str] = {}
    for found in _ID.findall(json.dumps(answer, sort_keys=True)):
        if found not in given:
            order.setdefault(found, f"backup-{len(order) + 1}")
    return order


def _renumbered(answer: dict, given: set = frozenset()) -> dict:
    text = json.dumps(answer)
    for backup_id, rank in _ids_in_order(answer, given).items():
        text = text.replace(backup_id, rank)
    return json.loads(text)


def _whole_refusal(python: dict, csharp: dict) -> bool:
    """A rollback refused as a whole (not its backup's, a label naming another): Python lists no per-operation result
    there, the engine lists each operation as refused with the reason (docs/write-path.md section 5 asks for them)."""
    return python.get("refused") and csharp.get("refused") and not python.get("results") and all(
        r["status"] in ("refused", "not_run", "unchanged") for r in csharp.get("results", []))


def _compare(harness_call, scenario: dict) -> dict:  # pylint: disable=redefined-outer-name
    return _compare_many(harness_call, [scenario])[0]


def _compare_many(harness_call, scenarios: list[dict]) -> list[dict]:  # pylint: disable=redefined-outer-name
    """Each scenario run by the Python journal and by the engine (one mono process for them all), compared step by step."""
    answers = harness_call([dict(scenario, cmd="scenario") for scenario in scenarios])
    assert len(answers) == len(scenarios)
    return [_agree(scenario, answer) for scenario, answer in zip(scenarios, answers)]


def _agree(scenario: dict, answer: dict) -> dict:
    given = {r["id"] for r in scenario.get("store", [])}
    python = _journal.run_scenario(copy.deepcopy(scenario))
    csharp = _renumbered(answer, given)
    python, raw = _renumbered(python, given), python
    assert len(python["steps"]) == len(csharp["steps"])
    for number, (ours, theirs) in enumerate(zip(python["steps"], csharp["steps"])):
        mine, engine = _result_view(ours["result"]), _result_view(theirs["result"])
        if _whole_refusal(ours["result"], theirs["result"]):
            mine.pop("statuses")
            engine.pop("statuses")
        assert mine == engine, f"step {number}: the results differ"
        assert _store_view(ours["store"]) == _store_view(theirs["store"]), f"step {number}: the stores differ"
        assert _world_view(ours["world"]) == _world_view(theirs["world"]), f"step {number}: the hosts differ"
    return raw


def _rollback_step(python: dict, world: dict) -> dict:
    """The rollback a user would run after the last step, planned from the Python side's store."""
    last = python["steps"][-1]
    backups = [_journal.entry(r["id"], r) for r in sorted(last["store"], key=lambda r: r["id"], reverse=True)]
    plan = plan_rollback(backups, state=last["world"])
    return {"operations": plan.operations, "label": plan.label, "rollback_of": plan.backup_id}


@pytest.mark.parametrize("host, name, world, ops", CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_apply_then_rollback_agree(harness, host, name, world, ops):  # pylint: disable=redefined-outer-name
    scenario = {"world": world, "store": [], "steps": [{"operations": ops, "check_mode": True}, {"operations": ops}]}
    python = _compare(harness, scenario)
    scenario["steps"].append(_rollback_step(python, world))
    python = _compare(harness, scenario)
    assert python["steps"][-1]["result"]["changed"], "the rollback did nothing"


@pytest.mark.parametrize("host, name, world, ops", CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_failures_and_crashes_agree(harness, host, name, world, ops):  # pylint: disable=redefined-outer-name
    """A failure before or after each write, and a crash after it, then the rollback a user would run: every scenario is
    planned from the Python side alone, then all of them go to the engine in one mono process."""
    scenarios = []
    for index in range(len(ops)):
        for fault in ("before_write", "after_write"):
            scenario = {"world": world, "store": [],
                        "steps": [{"operations": ops, "faults": [{"index": index, "when": fault}]}]}
            python = _journal.run_scenario(copy.deepcopy(scenario))
            if python["steps"][0]["result"]["undo"]:
                scenario["steps"].append(_rollback_step(python, world))
            scenarios.append(scenario)
        scenario = {"world": world, "store": [],
                    "steps": [{"operations": ops, "faults": [{"index": index, "when": "crash_after_write"}]},
                              {"operations": []}]}
        python = _journal.run_scenario(copy.deepcopy(scenario))
        scenario["steps"].append(_rollback_step(python, world))
        scenarios.append(scenario)
    _compare_many(harness, scenarios)


def test_the_cross_check_covers_every_kind_of_operation():
    kinds = {(op["op"], op.get("target")) for _host, _name, _world, ops in CASES for op in ops}
    assert {("registry_value", None), ("path_security", "folder"), ("path_security", "files"),
            ("service_security", None), ("service_start_mode", None)} <= kinds


# ---------------------------------------------------------------------------------------------------
# Hand-made scenarios: what the plans of the demo hosts do not reach
# ---------------------------------------------------------------------------------------------------

_USER = "S-1-5-21-1004336348-1177238915-682003330-1001"
_STORE_SDDL = "O:BAD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)"
_EXCLUDE = {"op": "registry_value", "key": "HKLM\\SYSTEM\\CurrentControlSet\\Control\\SystemWriter",
            "name": "ExcludedBinaryPaths", "expect": {"kind": "missing", "data": None},
            "set": {"kind": "REG_MULTI_SZ", "data": ["C:\\Tools\\agent.exe"]}}


def _host(name: str) -> dict:
    return _named(json.loads((SNAPSHOTS / f"{name}.json").read_text(encoding="utf-8")))


def _plan(world: dict, name: str) -> list[dict]:
    return dict(_plans(world))[name]


def _undo(op: dict) -> dict:
    return dict(op, expect=op["set"], set=op["expect"])


def _start_mode(expect: str, new: str) -> dict:
    return {"op": "service_start_mode", "service": "CryptSvc", "expect": expect, "set": new}


def _stored(number: int, status: str, undo: list[dict], **extra) -> dict:
    """A record an earlier apply left (ids of 2025, older than any the run makes)."""
    backup_id = f"20250101T00000{number:04d}Z-{number:08x}"
    return dict({"format": "backupready.backup/2", "writer": "backupready.windows", "id": backup_id, "host": "h",
                 "created": "2025-01-01T00:00:00.000Z", "status": status, "operations": [_undo(u) for u in undo],
                 "undo": undo, "results": [], "label": {}}, **extra)


def _then_rollback(harness_call, scenario: dict, check_mode_first: bool = False) -> dict:  # pylint: disable=redefined-outer-name
    """The scenario, then the rollback a user would run after it (planned from the Python side), in check mode first."""
    python = _compare(harness_call, scenario)
    rollback = _rollback_step(python, scenario["world"])
    assert rollback["operations"], "nothing to roll back"
    scenario["steps"].extend(([dict(rollback, check_mode=True)] if check_mode_first else []) + [rollback])
    return _compare(harness_call, scenario)


def _readback_differs(world: dict, operations: list[dict]):
    """The host keeps something else than the first operation writes; then the rollback a user would run."""
    return {"world": world, "store": [], "steps": [
        {"operations": operations, "faults": [{"index": 0, "when": "readback_differs"}]}]}, "rollback"


def _readback_differs_imagepath():
    world = _host("app-unquoted")
    return _readback_differs(world, _plan(world, "imagepath"))


def _readback_differs_start_mode():
    return _readback_differs(_host("crypt-off"), [_start_mode("disabled", "auto"), _EXCLUDE])


def _readback_differs_folder():
    world = _host("acl-broken")
    return _readback_differs(world, _plan(world, "filemaps"))


def _crash_after_pending_then_next_apply():
    world = _host("app-unquoted")
    ops = _plan(world, "imagepath")
    return {"world": world, "store": [], "steps": [
        {"operations": ops, "faults": [{"index": 0, "when": "crash_after_pending"}]}, {"operations": ops}]}, None


def _store_entries_trusted_and_untrusted():
    world = _host("crypt-off")
    undo = [_start_mode("disabled", "auto")]
    trusted = _stored(1, "committed", undo, owner="SY", sddl="O:SYD:PAI(A;;FA;;;SY)(A;;FA;;;BA)(A;;0x1200a9;;;BU)")
    planted = _stored(2, "committed", undo, owner=_USER, sddl=f"O:{_USER}D:PAI(A;;FA;;;{_USER})(A;;FA;;;SY)(A;;FA;;;BA)")
    writable = _stored(3, "committed", undo, owner="BA", sddl="O:BAD:PAI(A;;FA;;;SY)(A;;FA;;;BA)(A;OICIIO;0x116;;;BU)")
    return {"world": world, "store": [trusted, planted, writable], "steps": [
        {"operations": undo, "rollback_of": planted["id"]},
        {"operations": undo, "rollback_of": writable["id"]},
        {"operations": undo, "rollback_of": trusted["id"], "check_mode": True},
        {"operations": undo, "rollback_of": trusted["id"]}]}, None


def _more_records_than_keep_backups():
    world = _host("crypt-off")
    store = [_stored(n, "committed", [_start_mode("manual", "disabled")]) for n in range(1, 5)]
    # Unknown at each step (neither boot nor manual is found): left pending, never pruned.
    store.append(_stored(5, "pending", [_start_mode("boot", "manual")], operations=[_start_mode("manual", "auto")]))
    return {"world": world, "store": store, "steps": [
        {"operations": [_start_mode("disabled", "auto")], "keep_backups": 2},
        {"operations": [_start_mode("auto", "manual")], "keep_backups": 1}]}, None


def _check_mode_rollback_of_a_pending_record():
    world = _host("app-unquoted")
    return {"world": world, "store": [], "steps": [
        {"operations": _plan(world, "imagepath"), "faults": [{"index": 1, "when": "crash_after_write"}]}]}, "check_then_rollback"


def _pending_records_with_every_verdict():
    world = _host("crypt-off")  # CryptSvc disabled
    on_host = _stored(1, "pending", [_start_mode("disabled", "manual")])      # its change is there: committed
    absent = _stored(2, "pending", [_start_mode("auto", "disabled")])         # never reached the host: discarded
    unknown = _stored(3, "pending", [_start_mode("auto", "manual")])          # neither: left pending
    return {"world": world, "store": [on_host, absent, unknown], "steps": [
        {"operations": [_start_mode("disabled", "manual")], "rollback_of": on_host["id"], "check_mode": True},
        {"operations": [_start_mode("auto", "manual")], "rollback_of": unknown["id"], "check_mode": True},
        {"operations": []},
        {"operations": [_start_mode("auto", "manual")], "rollback_of": unknown["id"]},
        {"operations": [_start_mode("disabled", "manual")], "rollback_of": on_host["id"]}]}, None


def _start_dropped_when_it_is_the_last_change():
    world = _host("crypt-off")
    start = {"op": "service_state", "service": "CryptSvc", "expect": "stopped", "set": "started"}
    return {"world": world, "store": [], "steps": [
        {"operations": [_start_mode("disabled", "auto"), start], "faults": [{"index": 1, "when": "crash_after_write"}]},
        {"operations": []}]}, None


def _start_kept_when_a_later_change_is_on_the_host():
    world = _host("crypt-off")
    start = {"op": "service_state", "service": "CryptSvc", "expect": "stopped", "set": "started"}
    return {"world": world, "store": [], "steps": [
        {"operations": [_start_mode("disabled", "auto"), start, _EXCLUDE], "faults": [{"index": 2, "when": "crash_after_write"}]},
        {"operations": []}]}, "rollback"


def _rollback_needs_the_relaxed_filemaps_rules():
    world = _host("acl-broken")
    return {"world": world, "store": [], "steps": [{"operations": _plan(world, "filemaps")}]}, "plain_then_verified"


def _pending_files_record_naming_a_deleted_file():
    world = _host("acl-broken")
    files = next(op for op in _plan(world, "filemaps") if op.get("target") == "files")
    first = world["filemaps"]["files"]["descriptors"][0]["names"][0]  # still has the owner the fix would replace
    undo = _undo(dict(files, names=[first, "deleted-since.cdf-ms"]))
    return {"world": world, "store": [_stored(1, "pending", [undo])], "steps": [{"operations": []}]}, None


def _claims_do_not_steer_the_journal():
    """A record whose rollback label is not borne out is untrusted in a user's listing and as a rollback target, but
    the journal's own steps take the store as it is (pending resolution, retention), on both sides."""
    world = _host("crypt-off")
    real = _stored(1, "committed", [_start_mode("disabled", "auto")])
    claim = _stored(2, "committed", [_start_mode("disabled", "manual")], label={"rollback_of": real["id"]})
    pending = _stored(3, "pending", [_start_mode("disabled", "manual")], label={"rollback_of": real["id"]})
    return {"world": world, "store": [real, claim, pending], "steps": [
        {"operations": [_start_mode("disabled", "manual")], "keep_backups": 1}]}, None


def _a_rollback_label_not_borne_out():
    world = _host("crypt-off")
    real = _stored(1, "committed", [_start_mode("disabled", "auto")])
    claim = _stored(2, "committed", [_start_mode("disabled", "manual")], label={"rollback_of": real["id"]})
    return {"world": world, "store": [real, claim], "steps": [
        {"operations": [_start_mode("disabled", "manual")], "rollback_of": claim["id"]},
        {"operations": [_start_mode("disabled", "auto")], "rollback_of": real["id"], "check_mode": True}]}, None


def _labelled_rollback():
    world = _host("app-unquoted")
    return {"world": world, "store": [], "steps": [{"operations": _plan(world, "imagepath")}]}, "labels"


SCENARIOS = {f.__name__.lstrip("_"): f for f in (
    _readback_differs_imagepath, _readback_differs_start_mode, _readback_differs_folder, _crash_after_pending_then_next_apply,
    _store_entries_trusted_and_untrusted, _more_records_than_keep_backups, _check_mode_rollback_of_a_pending_record,
    _pending_records_with_every_verdict, _start_dropped_when_it_is_the_last_change,
    _start_kept_when_a_later_change_is_on_the_host, _rollback_needs_the_relaxed_filemaps_rules, _labelled_rollback,
    _pending_files_record_naming_a_deleted_file, _a_rollback_label_not_borne_out, _claims_do_not_steer_the_journal)}


def _results(python: dict) -> list[dict]:
    return [step["result"] for step in python["steps"]]


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenarios_agree(harness, name):  # pylint: disable=redefined-outer-name,too-many-branches
    scenario, then = SCENARIOS[name]()
    if then in ("rollback", "check_then_rollback"):
        python = _then_rollback(harness, scenario, check_mode_first=then == "check_then_rollback")
    elif then == "plain_then_verified":
        python = _compare(harness, scenario)
        rollback = _rollback_step(python, scenario["world"])
        scenario["steps"] += [{"operations": rollback["operations"]}, rollback]
        python = _compare(harness, scenario)
    elif then == "labels":
        python = _compare(harness, scenario)
        rollback = _rollback_step(python, scenario["world"])
        other = "20250101T000000000Z-0000abcd"
        scenario["steps"] += [dict(rollback, label={"rollback_of": other}),
                              {"operations": rollback["operations"], "label": {"rollback_of": rollback["rollback_of"]}}]
        python = _compare(harness, scenario)
    else:
        python = _compare(harness, scenario)
    results = _results(python)
    # What each scenario is there to show, on the Python side (the engine was just found to agree with it).
    if name in ("readback_differs_imagepath", "readback_differs_start_mode", "readback_differs_folder"):
        assert results[0]["results"][0]["status"] == "written_unverified" and results[-1]["changed"]
        assert not results[-1]["refused"], "the undo expects what was read back, so its rollback is not refused"
    elif name == "crash_after_pending_then_next_apply":
        assert "crashed" in results[0] and results[1]["journal"][0]["action"] == "discarded"
    elif name == "store_entries_trusted_and_untrusted":
        assert [r["refused"] for r in results] == [True, True, False, False] and results[3]["changed"]
    elif name == "more_records_than_keep_backups":
        assert len(results[0]["pruned"]) == 3 and len(results[1]["pruned"]) == 2
        assert any(r["status"] == "pending" for r in python["steps"][1]["store"])
    elif name == "check_mode_rollback_of_a_pending_record":
        assert results[1]["results"] and all(r["status"] == "would_apply" for r in results[1]["results"])
        assert results[2]["journal"][0]["action"] == "committed" and results[2]["changed"]
    elif name == "pending_records_with_every_verdict":
        assert not results[0]["refused"] and results[1]["refused"]
        assert [j["action"] for j in results[2]["journal"]] == ["committed", "discarded", "left_pending"]
        assert results[3]["refused"] and results[4]["changed"]
    elif name == "start_dropped_when_it_is_the_last_change":
        assert [u["op"] for u in python["steps"][1]["store"][0]["undo"]] == ["service_start_mode"]
    elif name == "start_kept_when_a_later_change_is_on_the_host":
        kept = ["service_start_mode", "service_state", "registry_value"]
        assert [u["op"] for u in python["steps"][1]["store"][0]["undo"]] == kept
    elif name == "rollback_needs_the_relaxed_filemaps_rules":
        assert results[1]["refused"] and results[2]["changed"]
    elif name == "pending_files_record_naming_a_deleted_file":
        # a file that is gone has nothing to restore: the record is judged, not left pending for ever
        assert [j["action"] for j in results[0]["journal"]] == ["discarded"] and not python["steps"][0]["store"]
    elif name == "claims_do_not_steer_the_journal":
        assert [j["action"] for j in results[0]["journal"]] == ["committed"] and len(results[0]["pruned"]) == 3
    elif name == "a_rollback_label_not_borne_out":
        assert results[0]["refused"] and "its label says it rolled back" in results[0]["msg"] and not results[1]["refused"]
    elif name == "labelled_rollback":
        assert results[1]["refused"] and results[2]["changed"]
        assert python["steps"][2]["store"][-1]["label"] == {"rollback_of": python["steps"][0]["result"]["backup_id"]}
