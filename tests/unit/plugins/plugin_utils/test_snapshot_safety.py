"""The snapshot backend's guarantees whatever its input, as the reliability drills tried them.

- one writer at a time (drill 2c): a run waits for the lock another holds; an edit by something that does not take
  the lock, landing after the re-read, stops the write instead of being overwritten;
- crashes (drill 4): temporary files a crash left are removed by the next writer; no orphan backup blocks a
  rollback (the pending record is resolved);
- confined paths (drills 1a, 6A): a snapshot outside the inventory's folder, a host name with ``../``, a symbolic
  link as backup folder or snapshot, a read-only snapshot, an empty variable: a clear error, nothing written;
- trusted backups only (drill 6C, safe hands §1): a backup file others could have written is never applied.
"""

from __future__ import annotations

import copy
import json
import os
import threading
import time

import pytest

from ansible_collections.backupready.windows.plugins.plugin_utils import _backend, _journal
from ansible_collections.backupready.windows.plugins.plugin_utils._backend import (
    BackendError, select_backend)
from ansible_collections.backupready.windows.plugins.plugin_utils._rollback import plan_rollback
from ansible_collections.backupready.windows.plugins.plugin_utils._state import find_service, load_state_file

from statedoc import make_service, make_state

SERVICES = "HKLM\\SYSTEM\\CurrentControlSet\\Services"
DOUBLED = "\\Systemroot\\Systemroot\\System32\\drivers\\vdrvroot.sys"
FIXED = "\\SystemRoot\\System32\\drivers\\vdrvroot.sys"
FIX = {"op": "registry_value", "key": f"{SERVICES}\\vdrvroot", "name": "ImagePath",
       "expect": {"kind": "REG_EXPAND_SZ", "data": DOUBLED}, "set": {"kind": "REG_EXPAND_SZ", "data": FIXED}}


def host_doc():
    doc = make_state()
    doc["services"].append(make_service("vdrvroot", DOUBLED, type_=1))
    doc["services"].append(make_service("ALG", "%SystemRoot%\\System32\\alg.exe"))
    return doc


@pytest.fixture
def fleet(tmp_path):
    folder = tmp_path / "fleet"
    (folder / "snapshots").mkdir(parents=True)
    path = folder / "snapshots" / "hv.json"
    path.write_text(json.dumps(host_doc()), encoding="utf-8")
    return folder


def select(fleet, snapshot="snapshots/hv.json", host="hv", **extra):
    return select_backend(dict({"inventory_hostname": host, "inventory_dir": str(fleet),
                                "backupready_snapshot": snapshot}, **extra), call_module=None)


def files_of(folder) -> dict[str, bytes]:
    out = {}
    for root, _dirs, names in os.walk(folder):
        for name in names:
            path = os.path.join(root, name)
            if not name.endswith(".lock"):
                with open(path, "rb") as handle:
                    out[os.path.relpath(path, folder)] = handle.read()
    return out


# ---------------------------------------------------------------------------------------------------
# One writer at a time (drill 2c)
# ---------------------------------------------------------------------------------------------------

def test_an_edit_after_the_reread_stops_the_write_instead_of_being_lost(fleet, monkeypatch):
    """Drill 2c: before, an edit landing between the apply's re-read and its rename was silently overwritten."""
    backend = select(fleet)
    path = backend.path
    real_write = _backend.SnapshotStore.write_record

    def edit_then_continue(store, backup_id, record):
        where = real_write(store, backup_id, record)
        if record["status"] == "pending":  # the re-read is done: an operator edits another value now
            doc = json.loads(open(path, encoding="utf-8").read())
            find_service(doc, "ALG")["display_name"] = "edited by an operator"
            with open(path + ".new", "w", encoding="utf-8") as handle:
                json.dump(doc, handle)
            os.replace(path + ".new", path)
        return where
    monkeypatch.setattr(_backend.SnapshotStore, "write_record", edit_then_continue)
    outcome = backend.apply([FIX], check_mode=False)
    assert outcome.failed and not outcome.changed and "was changed by something else" in outcome.msg
    after = load_state_file(path)
    assert find_service(after, "ALG")["display_name"] == "edited by an operator"  # the edit survives
    assert find_service(after, "vdrvroot")["image_path"]["data"] == DOUBLED  # and nothing was written over it
    assert backend.list_backups(20) == []  # nothing written: no backup left


def test_a_second_run_waits_for_the_lock_and_then_sees_the_first_ones_change(fleet):
    first, second = select(fleet), select(fleet)
    order = []
    with first.store.lock():
        thread = threading.Thread(target=lambda: order.append(("second", second.apply([FIX], check_mode=False))))
        thread.start()
        time.sleep(0.3)
        assert thread.is_alive(), "the second run did not wait for the lock"
        order.append(("first", first.store.read_state()))
    thread.join(10)
    assert [name for name, _value in order] == ["first", "second"] and order[1][1].changed


def test_a_lock_held_too_long_is_a_clear_failure(fleet):
    backend = select(fleet)
    backend.store._lock_timeout = 0.2
    holder = select(fleet)
    with holder.store.lock():
        with pytest.raises(BackendError, match="is being changed by another run .* nothing was changed"):
            backend.apply([FIX], check_mode=False)


def test_check_mode_takes_no_lock_and_writes_no_file(fleet):
    before = files_of(fleet)
    assert select(fleet).apply([FIX], check_mode=True).changed
    assert files_of(fleet) == before and not any(n.endswith(".lock") for n in os.listdir(fleet / "snapshots"))


# ---------------------------------------------------------------------------------------------------
# Crashes (drill 4)
# ---------------------------------------------------------------------------------------------------

def test_temporary_files_a_crash_left_are_removed_by_the_next_writer(fleet):
    backend = select(fleet)
    own = fleet / "snapshots" / ".hv.json.tmp-abc123.json"
    other = fleet / "snapshots" / ".other.json.tmp-abc123.json"  # another host's write in progress: not ours
    own.write_text("{half", encoding="utf-8")
    other.write_text("{half", encoding="utf-8")
    os.makedirs(backend.backup_dir)
    stale = os.path.join(backend.backup_dir, ".20261130T000000000000Z.json.tmp-x.json")
    with open(stale, "w", encoding="utf-8") as handle:
        handle.write("")
    outcome = backend.apply([FIX], check_mode=False)
    assert outcome.changed and not own.exists() and other.exists() and not os.path.exists(stale)
    assert [j["action"] for j in outcome.journal] == ["cleaned"]


def test_a_crash_between_backup_and_write_leaves_nothing_that_blocks_a_rollback(fleet):
    """Drills 3e / 4b: the orphan backup made every later rollback fail with 'the host changed'."""
    backend = select(fleet)
    backend.faults = {0: "crash_after_pending"}
    with pytest.raises(_journal.SimulatedCrash):
        backend.apply([FIX], check_mode=False)
    backend.faults = {}
    assert [b["status"] for b in backend.list_backups(20)] == ["pending"]
    fixed = backend.apply([FIX], check_mode=False)  # a later run: the interrupted one is discarded
    assert fixed.changed and [j["action"] for j in fixed.journal] == ["discarded"]
    plan = plan_rollback(backend.list_backups(20), state=backend.probe())
    rolled = backend.apply(plan.operations, check_mode=False, label=plan.label, rollback_of=plan.backup_id)
    assert rolled.changed and find_service(load_state_file(backend.path), "vdrvroot")["image_path"]["data"] == DOUBLED


def test_a_value_that_cannot_be_written_leaves_no_orphan_backup(fleet, monkeypatch):
    """Drill 1a lone surrogate: the new document could not be encoded; before, a backup of a change that never
    happened stayed behind (the loader now refuses such a document: here the encoding fails at the write)."""
    backend = select(fleet)
    monkeypatch.setattr(_backend, "dump_state", lambda doc: '{"display_name": "bad \ud800"}')
    outcome = backend.apply([FIX], check_mode=False)
    assert outcome.failed and not outcome.changed and "cannot be written as UTF-8" in outcome.msg
    assert backend.list_backups(20) == []
    assert find_service(load_state_file(backend.path), "vdrvroot")["image_path"]["data"] == DOUBLED


# ---------------------------------------------------------------------------------------------------
# Confined paths (drills 1a, 6A)
# ---------------------------------------------------------------------------------------------------

def test_a_snapshot_outside_the_inventory_folder_is_refused(fleet, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim.json").write_text(json.dumps(host_doc()), encoding="utf-8")
    for snapshot in ("../outside/victim.json", str(outside / "victim.json")):
        with pytest.raises(BackendError, match="outside the inventory's folder .* set backupready_snapshot_root"):
            select(fleet, snapshot)
    allowed = select(fleet, "../outside/victim.json", backupready_snapshot_root="../outside")
    assert allowed.path == str(outside / "victim.json")


def test_a_symbolic_link_cannot_lead_outside(fleet, tmp_path):
    outside = tmp_path / "elsewhere.json"
    outside.write_text(json.dumps(host_doc()), encoding="utf-8")
    os.symlink(outside, fleet / "snapshots" / "link.json")
    with pytest.raises(BackendError, match="outside the inventory's folder"):
        select(fleet, "snapshots/link.json")


def test_a_symbolic_link_inside_is_read_but_not_written_through(fleet):
    os.symlink(fleet / "snapshots" / "hv.json", fleet / "snapshots" / "alias.json")
    backend = select(fleet, "snapshots/alias.json")
    assert backend.probe()["host"]["name"]
    with pytest.raises(BackendError, match="is a symbolic link: the snapshot is not written through it"):
        backend.apply([FIX], check_mode=False)
    assert os.path.islink(fleet / "snapshots" / "alias.json")


def test_a_host_name_cannot_steer_the_backup_folder(fleet):
    """Drill 6A A5: an inventory host named ../../../escape-target/pwn wrote its backup outside the fleet."""
    backend = select(fleet, host="../../../escape-target/pwn")
    assert os.path.dirname(backend.backup_dir) == str(fleet / "snapshots" / "backups")
    assert backend.apply([FIX], check_mode=False).changed
    assert not (fleet.parent / "escape-target").exists() and not (fleet / "escape-target").exists()
    assert os.listdir(fleet / "snapshots" / "backups") == [os.path.basename(backend.backup_dir)]


def test_a_symlinked_backup_folder_is_refused(fleet, tmp_path):
    """Drill 6A A4: a symlinked snapshots/backups sent the backups through the link."""
    elsewhere = tmp_path / "bk"
    elsewhere.mkdir()
    os.symlink(elsewhere, fleet / "snapshots" / "backups")
    before = files_of(fleet)
    with pytest.raises(BackendError, match="is a symbolic link: backups are not written through it"):
        select(fleet).apply([FIX], check_mode=False)
    assert files_of(fleet) == before and os.listdir(elsewhere) == []


def test_a_read_only_snapshot_is_refused_not_replaced(fleet):
    backend = select(fleet)
    os.chmod(backend.path, 0o444)
    before = files_of(fleet)
    try:
        if os.access(backend.path, os.W_OK) and os.geteuid() == 0:
            pass  # root may write anyway: the mode bit is still honoured below
        with pytest.raises(BackendError, match="is read-only: nothing was changed"):
            backend.apply([FIX], check_mode=False)
    finally:
        os.chmod(backend.path, 0o644)
    assert files_of(fleet) == before


@pytest.mark.parametrize("value", ["", "   "])
def test_an_empty_snapshot_variable_is_an_error_not_the_live_backend(fleet, value):
    """Drill 1a var_empty: backupready_snapshot: '' silently switched to the live backend."""
    with pytest.raises(BackendError, match="backupready_snapshot is empty"):
        select(fleet, value)


@pytest.mark.parametrize("keep", [0, -1, "5", True, 2.5])
def test_keep_backups_must_be_a_whole_number(fleet, keep):
    with pytest.raises(BackendError, match="backupready_keep_backups must be a whole number"):
        select(fleet, backupready_keep_backups=keep)


# ---------------------------------------------------------------------------------------------------
# Trusted backups only (safe hands §1, drill 6C)
# ---------------------------------------------------------------------------------------------------

def test_a_backup_others_could_write_is_never_applied(fleet):
    backend = select(fleet)
    fixed = backend.apply([FIX], check_mode=False)
    os.chmod(fixed.backup_path, 0o666)
    listed = backend.list_backups(20)
    assert listed[0]["trusted"] is False and "can be written by others (mode 666)" in listed[0]["error"]
    plan = plan_rollback(listed, state=backend.probe())
    assert plan.operations == [] and "cannot be trusted" in " ".join(plan.notes)
    refused = backend.apply(fixed.undo, check_mode=False, rollback_of=fixed.backup_id)
    assert refused.refused and "not one this collection can trust" in refused.msg


def test_a_planted_backup_with_evil_operations_is_refused_as_outside_what_may_change(fleet):
    """Drill 6C C7: a forged backup (written with the user's own permissions) set ALG's ImagePath to evil.exe."""
    backend = select(fleet)
    os.makedirs(backend.backup_dir)
    forged = {"format": "backupready.backup/2", "writer": "backupready.windows", "id": "20990101T000000000000Z",
              "host": "hv", "created": "2099-01-01T00:00:00Z", "status": "committed", "operations": [], "results": [],
              "label": {}, "undo": [{
                  "op": "registry_value", "key": f"{SERVICES}\\ALG", "name": "ImagePath",
                  "expect": {"kind": "REG_EXPAND_SZ", "data": "%SystemRoot%\\System32\\alg.exe"},
                  "set": {"kind": "REG_EXPAND_SZ", "data": "C:\\Users\\Public\\evil.exe"}}]}
    with open(os.path.join(backend.backup_dir, "20990101T000000000000Z.json"), "w", encoding="utf-8") as handle:
        json.dump(forged, handle)
    before = load_state_file(backend.path)
    plan = plan_rollback(backend.list_backups(20), state=before)
    outcome = backend.apply(plan.operations, check_mode=False, label=plan.label, rollback_of=plan.backup_id)
    assert outcome.refused and "outside what this collection may change" in outcome.msg
    assert load_state_file(backend.path) == before


def test_retention_keeps_the_newest_backups_of_the_host(fleet):
    backend = select(fleet, backupready_keep_backups=2)
    undo = None
    for _round in range(3):
        done = backend.apply([FIX], check_mode=False)
        undo = backend.apply(done.undo, check_mode=False, rollback_of=done.backup_id)
    assert len(backend.list_backups(20)) == 2 and undo.pruned
    assert copy.deepcopy(backend.list_backups(20))[0]["label"] == {"rollback_of": done.backup_id}


def test_backups_are_trusted_whatever_the_umask(fleet):
    """With umask 002 the backup folder was created group-writable, and the backend then distrusted its own
    backups (no rollback, no pruning)."""
    old = os.umask(0o002)
    try:
        backend = select(fleet)
        done = backend.apply([FIX], check_mode=False)
    finally:
        os.umask(old)
    listed = backend.list_backups(20)
    assert listed[0]["trusted"] and listed[0]["id"] == done.backup_id
    assert os.stat(backend.backup_dir).st_mode & 0o777 == 0o700


def test_two_host_names_never_share_a_backup_folder(fleet):
    assert select(fleet, host="a/b").backup_dir != select(fleet, host="a_b").backup_dir


def test_a_record_of_another_host_is_not_trusted(fleet):
    backend = select(fleet)
    done = backend.apply([FIX], check_mode=False)
    with open(done.backup_path, encoding="utf-8") as handle:
        record = json.load(handle)
    record["host"] = "other"
    with open(done.backup_path, "w", encoding="utf-8") as handle:
        json.dump(record, handle)
    listed = backend.list_backups(20)
    assert not listed[0]["trusted"] and "a backup of host 'other'" in listed[0]["error"]
