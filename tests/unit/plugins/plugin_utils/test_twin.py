"""The twin models what Windows does with a write, and every change on the demo fleet rolls back byte for byte.

- Windows semantics: explicit ACEs kept in order, inherited ones recomputed from the parent, a folder's DACL
  propagated to its files (docs/write-path.md §1), a service descriptor written DACL only.
- Property over every demo host and every plan the roles make: apply (journaled), then roll back until nothing is
  left: the snapshot is identical to the original except what the rollback lists as not undoable (a CryptSvc
  start or restart, and what the restart made vssadmin and the event log show).
- Fault injection at every operation index of every plan: a failure at k leaves a backup that restores 1..k-1;
  a crash after the pending record or after a write is resolved by the next apply (never an orphan).
"""

from __future__ import annotations

import copy
import glob
import json
import os

import pytest

from ansible_collections.backupready.windows.plugins.plugin_utils import _checks  # noqa: F401  # pylint: disable=unused-import
from ansible_collections.backupready.windows.plugins.plugin_utils import _journal
from ansible_collections.backupready.windows.plugins.plugin_utils._acl import (
    plan_filemaps, plan_service_security, plan_vss_access_control)
from ansible_collections.backupready.windows.plugins.plugin_utils._exclusions import plan_exclusions
from ansible_collections.backupready.windows.plugins.plugin_utils._findings import assess
from ansible_collections.backupready.windows.plugins.plugin_utils._imagepath import plan_imagepath_fixes
from ansible_collections.backupready.windows.plugins.plugin_utils._rollback import plan_rollback
from ansible_collections.backupready.windows.plugins.plugin_utils._sddl import same_descriptor
from ansible_collections.backupready.windows.plugins.plugin_utils._state import dump_state, find_service
from ansible_collections.backupready.windows.plugins.plugin_utils._twin import (
    TwinError, apply_to_state, inherited_aces, propagate_to_files, written_descriptor)
from ansible_collections.backupready.windows.plugins.plugin_utils._sddl import parse_sddl
from ansible_collections.backupready.windows.plugins.plugin_utils._vss import plan_cryptsvc

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
SNAPSHOTS = sorted(glob.glob(os.path.join(ROOT, "examples", "fleet", "snapshots", "*.json")))
TI = "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464"


def load(path):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


# ---------------------------------------------------------------------------------------------------
# What Windows stores
# ---------------------------------------------------------------------------------------------------

WRITTEN = [
    # (current, new, parent, container, stored): "Automatic Propagation of Inheritable ACEs" (Microsoft docs)
    pytest.param("O:BAG:SYD:AI(A;;FA;;;BA)(A;ID;FA;;;SY)S:(AU;SA;FA;;;WD)", "O:SYD:(A;;FR;;;BU)(A;;FA;;;BA)", None, False,
                 "O:SYG:SYD:AI(A;;FR;;;BU)(A;;FA;;;BA)(A;ID;FA;;;SY)S:(AU;SA;FA;;;WD)",
                 id="explicit-in-given-order-inherited-kept-group-and-sacl-kept"),
    pytest.param("O:BAD:AI(A;ID;FA;;;SY)", "O:BAD:(A;ID;FA;;;WD)(A;;FR;;;BU)", None, False,
                 "O:BAD:AI(A;;FR;;;BU)(A;ID;FA;;;SY)", id="inherited-aces-given-are-dropped"),
    pytest.param("O:BAD:AI(A;ID;FA;;;SY)", "O:BAD:P(A;;FR;;;BU)", None, False, "O:BAD:PAI(A;;FR;;;BU)",
                 id="protecting-drops-inherited"),
    pytest.param("O:BAD:AI(A;;FR;;;BU)", "O:BAD:(A;;FR;;;BU)", "O:BAD:PAI(A;OICI;FA;;;SY)(A;CI;FR;;;BU)(D;OI;FR;;;WD)",
                 False, "O:BAD:AI(A;;FR;;;BU)(A;ID;FA;;;SY)(D;ID;FR;;;WD)", id="file-inherits-OI-aces-of-its-folder"),
    pytest.param("O:BAD:AI(A;;FR;;;BU)", "O:BAD:(A;;FR;;;BU)",
                 "O:BAD:PAI(A;OICI;FA;;;SY)(A;CI;FR;;;BU)(A;OI;FR;;;WD)(A;CINP;FA;;;BA)", True,
                 "O:BAD:AI(A;;FR;;;BU)(A;OICIID;FA;;;SY)(A;CIID;FR;;;BU)(A;OIIOID;FR;;;WD)(A;ID;FA;;;BA)",
                 id="folder-inherits-CI-and-OI-only-as-inherit-only"),
    pytest.param("O:BAD:AI(A;;FR;;;BU)", "O:BAD:(A;;FR;;;BU)", "O:BAD:P(A;OI;FA;;;CO)", False,
                 "O:BAD:AI(A;;FR;;;BU)(A;ID;FA;;;BA)", id="creator-owner-becomes-the-owner"),
    pytest.param("O:BAD:AI(A;;FR;;;BU)", "O:BAD:(A;;FR;;;BU)", "O:BAD:P(A;OICI;GA;;;SY)", False,
                 "O:BAD:AI(A;;FR;;;BU)(A;ID;FA;;;SY)", id="a-file-gets-generic-rights-mapped"),
    pytest.param("O:BAD:AI(A;;FR;;;BU)", "O:BAD:(A;;FR;;;BU)", "O:BAD:P(A;OICI;GA;;;SY)(A;OICI;FA;;;CO)", True,
                 "O:BAD:AI(A;;FR;;;BU)(A;ID;FA;;;SY)(A;OICIIOID;GA;;;SY)(A;ID;FA;;;BA)(A;OICIIOID;FA;;;CO)",
                 id="a-folder-splits-generic-and-creator-owner-aces"),
]


@pytest.mark.parametrize("current, new, parent, container, stored", WRITTEN)
def test_what_windows_stores(current, new, parent, container, stored):
    assert written_descriptor(current, new, parent, container) == stored


def test_unprotecting_without_the_parent_cannot_be_predicted():
    with pytest.raises(TwinError, match="unprotecting a DACL whose parent is not captured"):
        written_descriptor("O:BAD:PAI(A;;FA;;;SY)", "O:BAD:(A;;FA;;;SY)", None, True)


def test_folder_write_propagates_to_unprotected_files_only():
    section = {"path": "C:\\Windows\\winsxs\\filemaps", "exists": True,
               "sddl": "O:BAD:PAI(A;OICI;FA;;;SY)(A;OICI;0x1200a9;;;BU)",
               "files": {"count": 5, "descriptors": [
                   {"sddl": "O:BAD:AI(D;ID;FR;;;BU)", "count": 3, "samples": ["a"], "names": ["a", "b", "c"]},
                   {"sddl": "O:BAD:PAI(A;;FA;;;BA)", "count": 1, "samples": ["d"], "names": ["d"]},
                   {"sddl": "O:BAD:AI(A;;FR;;;WD)", "count": 1, "samples": ["e"]}]}}
    propagate_to_files(section)
    got = [(d["sddl"], d["count"], d.get("names")) for d in section["files"]["descriptors"]]
    assert got == [("O:BAD:AI(A;ID;FA;;;SY)(A;ID;0x1200a9;;;BU)", 3, ["a", "b", "c"]),
                   ("O:BAD:PAI(A;;FA;;;BA)", 1, ["d"]),
                   ("O:BAD:AI(A;;FR;;;WD)(A;ID;FA;;;SY)(A;ID;0x1200a9;;;BU)", 1, None)]


def test_a_folder_fix_reaches_the_files_before_their_own_operation_runs():
    """Review item 5: on Windows the folder write re-propagates; the file operation is planned on that result and
    its compare looks at the writable part only, so it still finds its files."""
    state = load(os.path.join(ROOT, "examples", "fleet", "snapshots", "acl-broken.json"))
    ops, _rows = plan_filemaps(state)
    assert [op["target"] for op in ops] == ["folder", "files"]
    after, outcome = apply_to_state(state, ops)
    assert [r["status"] for r in outcome.results] == ["applied", "applied"]
    assert outcome.results[1]["files_changed"] == 3205 and outcome.results[1]["files_skipped"] == 0
    assert assess(after, ["filemaps_acl"]) == []
    assert outcome.undo[1]["names"][:2] == ["$$.cdf-ms", "$$_appcompat_appraiser_33781004733ffeee.cdf-ms"]


def test_service_descriptor_is_written_dacl_only():
    state = load(os.path.join(ROOT, "examples", "fleet", "snapshots", "lldp.json"))
    ops, _rows = plan_service_security(state)
    assert len(ops) == 1
    current = find_service(state, ops[0]["service"])["security"]["sddl"]
    forged = dict(ops[0], set="O:WD" + ops[0]["set"])  # an owner in the new value is outside the allow-list
    _after, refused = apply_to_state(state, [forged])
    assert refused.refused and "the owner would change" in refused.msg
    after, outcome = apply_to_state(state, ops)
    written = find_service(after, ops[0]["service"])["security"]["sddl"]
    assert same_descriptor(written, ops[0]["set"]) and not same_descriptor(written, current)


def test_inherited_aces_of_a_file():
    folder = parse_sddl(f"O:BAD:PAI(A;OICI;FA;;;{TI})(A;CI;FR;;;BU)(A;OIIO;FR;;;WD)")
    assert [a.format() for a in inherited_aces(folder, False, "BA")] == [f"(A;ID;FA;;;{TI})", "(A;ID;FR;;;WD)"]


# ---------------------------------------------------------------------------------------------------
# Apply then roll back: every demo host, every plan the roles make
# ---------------------------------------------------------------------------------------------------

def plans(state: dict) -> list[tuple[str, list[dict]]]:
    """The operations each role's module would apply, in the readiness role's order (one apply each)."""
    unreachable = [{"path": f.evidence["exclusion_path"], "code": f.code}
                   for f in assess(state, ["missing_volume"]) if f.evidence.get("exclusion_path")]
    out = [("imagepath", plan_imagepath_fixes(state)[0]),
           ("exclusions", plan_exclusions(state, [], "present", exclude_unreachable=True,
                                          unreachable_paths=unreachable)["operations"]),
           ("filemaps", plan_filemaps(state)[0]),
           ("writer_access", plan_vss_access_control(state)[0] + plan_service_security(state)[0])]
    return out


def without_not_undoable(state: dict) -> str:
    """The document minus what a rollback cannot restore: the CryptSvc state a start left, and what the
    restart made vssadmin and the event log show (_rollback.why_not_undoable)."""
    doc = copy.deepcopy(state)
    doc["vssadmin"] = doc["events"] = None
    # A value written into a SystemWriter or VssAccessControl key that did not exist creates the key; the rollback
    # deletes the value and leaves the (empty) key: docs/write-path.md §3.
    doc["system_writer"]["key_exists"] = doc["vss_access_control"]["key_exists"] = None
    service = find_service(doc, "CryptSvc")
    if service is not None:
        service["state"] = None
    return dump_state(doc)


def remediate(store: _journal.MemoryStore) -> tuple[int, int]:
    """Apply every plan on the host as it is after the previous one (as the roles do): (applies, of which only
    a CryptSvc start or restart, which a rollback passes over)."""
    applies = 0
    for _name, _ops in plans(store.state):
        ops = dict(plans(store.state))[_name]
        if ops:
            outcome = _journal.journaled_apply(store, ops)
            assert outcome.changed and not outcome.refused and not outcome.failed, outcome.msg
            applies += 1
    cryptsvc = plan_cryptsvc(store.state)["operations"]
    if cryptsvc:
        assert _journal.journaled_apply(store, cryptsvc).changed
        applies += 1
    return applies, int(bool(cryptsvc) and all(op["op"] == "service_state" for op in cryptsvc))


def roll_back_everything(store: _journal.MemoryStore) -> int:
    rolled = 0
    for _attempt in range(20):
        plan = plan_rollback(store.list_backups(), state=store.state)
        if not plan.operations:
            return rolled
        outcome = _journal.journaled_apply(store, plan.operations, label=plan.label, rollback_of=plan.backup_id)
        assert outcome.changed and not outcome.refused and not outcome.failed, outcome.msg
        rolled += 1
    raise AssertionError("rollback did not end")


@pytest.mark.parametrize("path", SNAPSHOTS, ids=lambda p: os.path.basename(p)[:-5])
def test_apply_then_rollback_restores_every_byte_but_what_is_not_undoable(path):
    original = load(path)
    store = _journal.MemoryStore(copy.deepcopy(original))
    applies, restart_only = remediate(store)
    assert store.state != original or applies == 0
    restarted = any(u["op"] == "service_state" for r in store.records.values() for u in r["undo"])
    assert roll_back_everything(store) == applies - restart_only
    assert without_not_undoable(store.state) == without_not_undoable(original)
    if not restarted:  # nothing not undoable happened: every byte is back, but a key the change created
        doc = copy.deepcopy(store.state)
        for section in ("system_writer", "vss_access_control"):
            if not original[section]["key_exists"]:
                doc[section]["key_exists"] = False
        assert dump_state(doc) == dump_state(original)


def test_the_fleet_has_something_to_roll_back_on_most_hosts():
    """The property above is not vacuous: most demo hosts get at least one change."""
    changed = sum(1 for path in SNAPSHOTS if remediate(_journal.MemoryStore(load(path)))[0] > 0)
    assert changed >= 10, changed


# ---------------------------------------------------------------------------------------------------
# Fault injection at every operation index (review items 4, 5, 6; drills 1a, 3, 4)
# ---------------------------------------------------------------------------------------------------

def all_operations() -> list[tuple[str, str, list[dict]]]:
    cases = []
    for path in SNAPSHOTS:
        state = load(path)
        for name, ops in plans(state):
            if ops:
                cases.append((os.path.basename(path)[:-5], name, ops))
    return cases


CASES = all_operations()


def _case_ids():
    return [f"{host}-{name}" for host, name, _ops in CASES]


@pytest.mark.parametrize("host, name, ops", CASES, ids=_case_ids())
@pytest.mark.parametrize("fault", ["before_write", "after_write", "readback_differs"])
def test_a_failure_at_any_operation_leaves_a_backup_that_restores_what_was_written(host, name, ops, fault):
    original = load(os.path.join(ROOT, "examples", "fleet", "snapshots", f"{host}.json"))
    for index, op in enumerate(ops):
        store = _journal.MemoryStore(copy.deepcopy(original))
        outcome = _journal.journaled_apply(store, ops, faults={index: fault})
        # The twin can make a host keep something else than written for string values, start modes and folders.
        garbled = fault == "readback_differs" and (
            op["op"] == "service_start_mode"
            or op["op"] == "path_security" and op["target"] == "folder"
            or op["op"] == "registry_value" and op["set"]["kind"] in ("REG_SZ", "REG_EXPAND_SZ"))
        fails = fault in ("before_write", "after_write") or garbled
        written = index if fault == "before_write" else (index + 1 if fails else len(ops))
        assert outcome.failed == fails and outcome.changed == (written > 0), outcome.msg
        assert len(outcome.undo) == written
        if fails:
            status = outcome.results[index]["status"]
            assert status == ("written_unverified" if fault == "readback_differs" else "failed")
            assert all(r["status"] == "not_run" for r in outcome.results[index + 1:] if r["status"] != "unchanged")
        records = list(store.records.values())
        assert [r["status"] for r in records] == (["committed"] if written else [])
        if written:
            assert records[0]["undo"] == outcome.undo
            plan = plan_rollback(store.list_backups(), state=store.state)
            rolled = _journal.journaled_apply(store, plan.operations, label=plan.label, rollback_of=plan.backup_id)
            assert not rolled.refused and not rolled.failed, rolled.msg
        assert without_not_undoable(store.state) == without_not_undoable(original), (index, fault)


@pytest.mark.parametrize("host, name, ops", CASES, ids=_case_ids())
def test_a_crash_after_the_pending_record_leaves_no_orphan(host, name, ops):
    original = load(os.path.join(ROOT, "examples", "fleet", "snapshots", f"{host}.json"))
    store = _journal.MemoryStore(copy.deepcopy(original))
    with pytest.raises(_journal.SimulatedCrash):
        _journal.journaled_apply(store, ops, faults={0: "crash_after_pending"})
    assert [r["status"] for r in store.records.values()] == ["pending"]
    # A rollback right away passes it over: its change never reached the host.
    plan = plan_rollback(store.list_backups(), state=store.state)
    assert plan.operations == [] and "before its change reached the host" in " ".join(plan.notes)
    # The next apply discards it, and says so.
    again = _journal.journaled_apply(store, ops)
    assert [j["action"] for j in again.journal] == ["discarded"]
    assert [r["status"] for r in store.records.values()] == ["committed"]


@pytest.mark.parametrize("host, name, ops", CASES, ids=_case_ids())
def test_a_crash_after_a_write_is_committed_by_the_next_run_and_rolls_back(host, name, ops):
    original = load(os.path.join(ROOT, "examples", "fleet", "snapshots", f"{host}.json"))
    for index in range(len(ops)):
        store = _journal.MemoryStore(copy.deepcopy(original))
        with pytest.raises(_journal.SimulatedCrash):
            _journal.journaled_apply(store, ops, faults={index: "crash_after_write"})
        # A rollback before any other run: the pending record is judged on the host, 1..index are undone.
        plan = plan_rollback(store.list_backups(), state=store.state)
        assert len(plan.operations) == index + 1, plan.msg
        rolled = _journal.journaled_apply(store, plan.operations, label=plan.label, rollback_of=plan.backup_id)
        assert [j["action"] for j in rolled.journal] == (["committed"] if index + 1 < len(ops) else ["committed"])
        assert not rolled.refused and not rolled.failed, rolled.msg
        assert without_not_undoable(store.state) == without_not_undoable(original)


def test_a_pending_record_whose_value_changed_since_is_left_and_refused():
    original = load(os.path.join(ROOT, "examples", "fleet", "snapshots", "hv-doubled.json"))
    ops = plan_imagepath_fixes(original)[0]
    store = _journal.MemoryStore(copy.deepcopy(original))
    with pytest.raises(_journal.SimulatedCrash):
        _journal.journaled_apply(store, ops, faults={0: "crash_after_write"})
    service = ops[0]["key"].rsplit("\\", 1)[-1]
    find_service(store.state, service)["image_path"]["data"] = "\\SystemRoot\\System32\\drivers\\by-hand.sys"
    with pytest.raises(Exception, match="changed since .or cannot be read.: it is left pending"):
        plan_rollback(store.list_backups(), state=store.state)
    outcome = _journal.journaled_apply(store, [])
    assert [j["action"] for j in outcome.journal] == ["left_pending"]


# ---------------------------------------------------------------------------------------------------
# Forged backups and the allow-list (drill 6C)
# ---------------------------------------------------------------------------------------------------

SERVICES = "HKLM\\SYSTEM\\CurrentControlSet\\Services"


def forged(undo, backup_id="20990101T000000000Z-00000000", label=None):
    return {"format": "backupready.backup/2", "writer": "backupready.windows", "id": backup_id, "host": "hv-doubled",
            "created": "2099-01-01T00:00:00Z", "status": "committed", "operations": [], "undo": undo, "results": [],
            "label": label or {}}


FORGERIES = [
    pytest.param({"op": "registry_value", "key": f"{SERVICES}\\ALG", "name": "ImagePath",
                  "expect": {"kind": "REG_EXPAND_SZ", "data": "%SystemRoot%\\System32\\alg.exe"},
                  "set": {"kind": "REG_EXPAND_SZ", "data": "C:\\Users\\Public\\evil.exe"}}, "same command", id="C7-imagepath"),
    pytest.param({"op": "service_security", "service": "ALG", "expect": "default", "set": "D:(A;;GA;;;WD)"},
                 "SCM default", id="C8-service-descriptor"),
    pytest.param({"op": "registry_value", "key": "HKLM\\SYSTEM\\CurrentControlSet\\Control\\SystemWriter",
                  "name": "AnyName", "expect": {"kind": "missing", "data": None}, "set": {"kind": "REG_SZ", "data": "x"}},
                 "only ExcludedBinaryPaths", id="C9-systemwriter-value"),
    pytest.param({"op": "registry_value", "key": f"{SERVICES}\\VSS\\VssAccessControl", "name": "Everyone",
                  "expect": {"kind": "missing", "data": None}, "set": {"kind": "REG_DWORD", "data": 1}},
                 "only the NETWORK SERVICE value", id="C10-vss-everyone"),
]


@pytest.mark.parametrize("undo, why", FORGERIES)
def test_a_forged_backup_is_refused_as_outside_what_may_change(undo, why):
    original = load(os.path.join(ROOT, "examples", "fleet", "snapshots", "hv-doubled.json"))
    record = forged([undo])
    store = _journal.MemoryStore(copy.deepcopy(original), {record["id"]: record})
    plan = plan_rollback(store.list_backups(), state=store.state)
    outcome = _journal.journaled_apply(store, plan.operations, label=plan.label, rollback_of=plan.backup_id)
    assert outcome.refused and "outside what this collection may change" in outcome.msg and why in outcome.msg
    assert "host changed" not in outcome.msg
    assert store.state == original


def test_an_operation_that_is_not_in_the_backup_is_refused_as_a_rollback_of_it():
    original = load(os.path.join(ROOT, "examples", "fleet", "snapshots", "hv-doubled.json"))
    store = _journal.MemoryStore(copy.deepcopy(original))
    ops = plan_imagepath_fixes(original)[0]
    first = _journal.journaled_apply(store, ops)
    stranger = dict(first.undo[0], set={"kind": "REG_EXPAND_SZ", "data": "\\SystemRoot\\System32\\drivers\\x.sys"})
    outcome = _journal.journaled_apply(store, [stranger], rollback_of=first.backup_id)
    assert outcome.refused and "is not an undo operation of backup" in outcome.msg


def test_an_untrusted_backup_is_never_applied():
    original = load(os.path.join(ROOT, "examples", "fleet", "snapshots", "hv-doubled.json"))
    store = _journal.MemoryStore(copy.deepcopy(original))
    first = _journal.journaled_apply(store, plan_imagepath_fixes(original)[0])
    store.untrusted[first.backup_id] = "owned by S-1-5-21-1-2-3-1001, not SYSTEM or Administrators"
    plan = plan_rollback(store.list_backups(), state=store.state)
    assert plan.operations == [] and "cannot be trusted" in " ".join(plan.notes)
    outcome = _journal.journaled_apply(store, first.undo, rollback_of=first.backup_id)
    assert outcome.refused and "not one this collection can trust" in outcome.msg


def test_a_forged_rollback_label_does_not_hide_the_real_change():
    """Drill 6C12: a record labelled rollback_of <real id> whose operations are not that backup's undo."""
    original = load(os.path.join(ROOT, "examples", "fleet", "snapshots", "hv-doubled.json"))
    store = _journal.MemoryStore(copy.deepcopy(original))
    real = _journal.journaled_apply(store, plan_imagepath_fixes(original)[0])
    record = forged([], label={"rollback_of": real.backup_id})
    store.records[record["id"]] = record
    assert plan_rollback(store.list_backups(), state=store.state).backup_id == real.backup_id


def test_a_record_whose_rollback_label_is_not_borne_out_is_neither_trusted_nor_rolled_back():
    """A record saying it rolled back a backup must hold that backup's undo operations (the engine's ClaimProblem): else
    it is listed untrusted, and a rollback of it is refused, naming the claim."""
    original = load(os.path.join(ROOT, "examples", "fleet", "snapshots", "hv-doubled.json"))
    store = _journal.MemoryStore(copy.deepcopy(original))
    real = _journal.journaled_apply(store, plan_imagepath_fixes(original)[0])
    record = forged(real.undo, label={"rollback_of": real.backup_id})  # its operations are not the real undo
    record["operations"] = [{"op": "service_start_mode", "service": "CryptSvc", "expect": "auto", "set": "disabled"}]
    store.records[record["id"]] = record
    listed = {b["id"]: b for b in _journal.with_claims_judged(store.list_backups())}  # as a user's listing shows it
    assert not listed[record["id"]]["trusted"]
    assert listed[record["id"]]["error"].startswith(f"its label says it rolled back {real.backup_id}, but operation 0")
    assert listed[real.backup_id]["trusted"]
    outcome = _journal.journaled_apply(store, real.undo, rollback_of=record["id"])
    assert outcome.refused and f"its label says it rolled back {real.backup_id}" in outcome.msg
    # A record whose label is borne out stays trusted: a real rollback of the real backup.
    back = _journal.journaled_apply(store, real.undo, rollback_of=real.backup_id)
    assert {b["id"]: b for b in _journal.with_claims_judged(store.list_backups())}[back.backup_id]["trusted"]


def test_retention_keeps_the_newest_backups():
    original = load(os.path.join(ROOT, "examples", "fleet", "snapshots", "hv-doubled.json"))
    store = _journal.MemoryStore(copy.deepcopy(original))
    ops = plan_imagepath_fixes(original)[0]
    pruned = []
    for _round in range(4):
        done = _journal.journaled_apply(store, ops, keep=3)
        pruned += done.pruned
        back = _journal.journaled_apply(store, done.undo, rollback_of=done.backup_id, keep=3)
        pruned += back.pruned
    assert len(store.records) == 3 and len(pruned) == 5
    assert sorted(store.records)[-1] == max(store.records)


# ---------------------------------------------------------------------------------------------------
# The live store's owner and DACL, as data (safe hands §1)
# ---------------------------------------------------------------------------------------------------

TRUST = [
    pytest.param("S-1-5-32-544", _journal.STORE_SDDL, None, id="created-by-the-engine"),
    pytest.param("SY", "D:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;BU)", None, id="users-may-read"),
    pytest.param("S-1-5-21-1-2-3-1001", _journal.STORE_SDDL, "owned by S-1-5-21-1-2-3-1001", id="planted-by-a-user"),
    # What %ProgramData% hands down: "BUILTIN\\Users:(CI)(WD,AD,WEA,WA)" (icacls of a default ProgramData).
    pytest.param("BA", "D:AI(A;OICIID;FA;;;SY)(A;OICIID;FA;;;BA)(A;OICIIOID;GA;;;CO)(A;OICIID;0x1200a9;;;BU)"
                 "(A;CIID;0x116;;;BU)", "change it", id="inherited-programdata-users-create"),
    # Inherit-only ACEs count: they reach what is created in the folder (the engine refuses them too).
    pytest.param("BA", "D:PAI(A;OICI;FA;;;SY)(A;OICIIO;FA;;;CO)", "lets CO change it", id="creator-owner-inherit-only"),
    pytest.param("BA", "D:PAI(A;OICI;FA;;;SY)(A;;0x2000000;;;BU)", "lets BU change it", id="maximum-allowed"),
    pytest.param("BA", "D:NO_ACCESS_CONTROL", "no DACL", id="null-dacl"),
    pytest.param("BA", None, "could not be read", id="unreadable"),
]


@pytest.mark.parametrize("owner, sddl, problem", TRUST)
def test_the_store_rule_on_owner_and_dacl(owner, sddl, problem):
    got = _journal.dacl_trust_problem(owner, sddl, "the backup")
    assert (got is None) if problem is None else (problem in got), got


def test_a_backup_planted_in_a_weak_store_is_refused_by_the_twin_as_by_the_engine():
    original = load(os.path.join(ROOT, "examples", "fleet", "snapshots", "hv-doubled.json"))
    ops = plan_imagepath_fixes(original)[0]
    store = _journal.MemoryStore(copy.deepcopy(original))
    real = _journal.journaled_apply(store, ops)
    # A user planted a newer "backup" in a store that inherited ProgramData's "Users may create" ACE.
    planted = forged(copy.deepcopy(real.undo), backup_id="20990101T000000000Z-00000000")
    security = {"20990101T000000000Z-00000000": ("S-1-5-21-1-2-3-1001", "D:AI(A;ID;FA;;;S-1-5-21-1-2-3-1001)")}
    weak = _journal.MemoryStore(copy.deepcopy(store.state), dict(store.records, **{planted["id"]: planted}),
                                security=security)
    plan = plan_rollback(weak.list_backups(), state=weak.state)
    assert plan.backup_id == real.backup_id and "cannot be trusted" in " ".join(plan.notes)
    refused = _journal.journaled_apply(weak, planted["undo"], rollback_of=planted["id"])
    assert refused.refused and "not one this collection can trust" in refused.msg


def test_a_pending_files_undo_is_left_to_the_engine_when_the_probe_lists_no_names():
    """A live probe lists filemaps files by descriptor with samples: the rollback planner cannot judge each file, so
    it keeps the undo as recorded and lets the engine judge it (before, the rollback was refused as 'changed')."""
    original = load(os.path.join(ROOT, "examples", "fleet", "snapshots", "acl-broken.json"))
    ops = plan_filemaps(original)[0]
    store = _journal.MemoryStore(copy.deepcopy(original))
    with pytest.raises(_journal.SimulatedCrash):
        _journal.journaled_apply(store, ops, faults={1: "crash_after_write"})
    live = copy.deepcopy(store.state)
    for group in live["filemaps"]["files"]["descriptors"]:
        del group["names"]
    plan = plan_rollback(store.list_backups(), state=live)
    files = [op for op in plan.operations if op.get("target") == "files"]
    assert len(plan.operations) == 2 and len(files[0]["names"]) == 3205


def test_an_operation_the_twin_cannot_predict_fails_after_what_was_written_is_kept():
    """Review W5: an ImagePath fix then a folder write the twin cannot model (unprotecting a DACL whose parent is not
    captured) ended in 'nothing was changed' although the fix had been written."""
    original = load(os.path.join(ROOT, "examples", "fleet", "snapshots", "hv-doubled.json"))
    fix = plan_imagepath_fixes(original)[0]
    folder = original["filemaps"]["sddl"]
    unprotect = {"op": "path_security", "path": original["filemaps"]["path"], "target": "folder",
                 "expect": folder.split("G:")[0] + "D:" + folder.split("D:")[1],
                 "set": folder.split("G:")[0] + "D:AI" + folder.split("D:PAI")[1]}
    store = _journal.MemoryStore(copy.deepcopy(original))
    outcome = _journal.journaled_apply(store, fix + [unprotect])
    assert outcome.failed and outcome.changed and len(outcome.undo) == 1
    assert [r["status"] for r in outcome.results] == ["applied", "failed"]
    assert "cannot be known" in outcome.results[1]["reason"]
    assert [r["status"] for r in store.records.values()] == ["committed"]


def test_a_record_that_cannot_be_completed_says_so_and_stays_pending():
    original = load(os.path.join(ROOT, "examples", "fleet", "snapshots", "hv-doubled.json"))
    store = _journal.MemoryStore(copy.deepcopy(original))
    writes = []

    def write_record(backup_id, record):
        writes.append(record["status"])
        if record["status"] == "committed":
            raise OSError("disk full")
        store.records[backup_id] = copy.deepcopy(record)
        return backup_id
    store.write_record = write_record
    outcome = _journal.journaled_apply(store, plan_imagepath_fixes(original)[0])
    assert outcome.changed and outcome.failed and "could not be completed (disk full)" in outcome.msg
    assert writes == ["pending", "committed"] and [r["status"] for r in store.records.values()] == ["pending"]
