"""The two implementations of the write path agree: the C# engine (live hosts, run here under mono against FakeOs)
and the Python journal over the twin (snapshot hosts), on the same inputs (docs/write-path.md).

For every demo host and every plan the roles make there, both run the same scenarios (``_journal.run_scenario``
and the harness's ``scenario`` command): apply then roll back; a failure before and after the write of every
operation; a crash after every write, then the next apply. What each returns is compared field by field where it
is structured (changed, refused, failed, each status, the undo operations, what happened to pending records, the
records in the store) and the host after each step by meaning (descriptors compared as Windows compares them).
Messages are the implementations' own words and are not compared.
"""

from __future__ import annotations

import copy
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


def _key(sddl):
    try:
        return descriptor_key(sddl) if isinstance(sddl, str) and sddl != "default" else sddl
    except (SddlError, ValueError):
        return ("unparsed", sddl)


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
        "changed": result["changed"], "refused": result["refused"], "failed": bool(result.get("failed")),
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


def _ids_in_order(answer: dict) -> dict:
    """Each backup id of a run -> its rank: the two fakes number their records each their own way."""
    order: dict[str, str] = {}
    for found in _ID.findall(json.dumps(answer, sort_keys=True)):
        order.setdefault(found, f"backup-{len(order) + 1}")
    return order


def _renumbered(answer: dict) -> dict:
    text = json.dumps(answer)
    for backup_id, rank in _ids_in_order(answer).items():
        text = text.replace(backup_id, rank)
    return json.loads(text)


def _compare(harness_call, scenario: dict) -> dict:  # pylint: disable=redefined-outer-name
    python = _journal.run_scenario(copy.deepcopy(scenario))
    csharp = _renumbered(harness_call([dict(scenario, cmd="scenario")])[0])
    python, raw = _renumbered(python), python
    assert len(python["steps"]) == len(csharp["steps"])
    for number, (ours, theirs) in enumerate(zip(python["steps"], csharp["steps"])):
        assert _result_view(ours["result"]) == _result_view(theirs["result"]), f"step {number}: the results differ"
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
    for index in range(len(ops)):
        for fault in ("before_write", "after_write"):
            scenario = {"world": world, "store": [],
                        "steps": [{"operations": ops, "faults": [{"index": index, "when": fault}]}]}
            python = _compare(harness, scenario)
            if python["steps"][0]["result"]["undo"]:
                scenario["steps"].append(_rollback_step(python, world))
                _compare(harness, scenario)
        scenario = {"world": world, "store": [],
                    "steps": [{"operations": ops, "faults": [{"index": index, "when": "crash_after_write"}]},
                              {"operations": []}]}
        python = _compare(harness, scenario)
        scenario["steps"].append(_rollback_step(python, world))
        _compare(harness, scenario)


def test_the_cross_check_covers_every_kind_of_operation():
    kinds = {(op["op"], op.get("target")) for _host, _name, _world, ops in CASES for op in ops}
    assert {("registry_value", None), ("path_security", "folder"), ("path_security", "files"),
            ("service_security", None), ("service_start_mode", None)} <= kinds
