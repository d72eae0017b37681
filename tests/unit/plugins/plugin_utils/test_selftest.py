"""The backups a self-test may delete when it removes its sandbox (_selftest.backup_of_run, the C# engine's
SelftestSandbox.IsBackupOfRun: tests/csharp/EngineTests.cs TestRemovingTheSandboxDeletesItsBackupsAndNoOther has the
same cases): only committed, trusted records whose every operation and undo operation is on this run's sandbox."""

from __future__ import annotations

import pytest

from ansible_collections.backupready.windows.plugins.plugin_utils._journal import MemoryStore, _record, entry
from ansible_collections.backupready.windows.plugins.plugin_utils._selftest import backup_of_run, remove_backups

ROOT = "C:\\Windows"
SANDBOX = "C:\\ProgramData\\backupready-selftest\\run00001"
ENTRY = SANDBOX + "\\Self Test\\selftest.exe"
WRITER_KEY = "HKLM\\SYSTEM\\CurrentControlSet\\Control\\SystemWriter"
FOLDER_OP = {"op": "path_security", "path": SANDBOX, "target": "folder", "expect": "O:SYD:", "set": "O:BAD:"}
ALG_OP = {"op": "registry_value", "key": "HKLM\\SYSTEM\\CurrentControlSet\\Services\\ALG", "name": "ImagePath",
          "expect": {"kind": "REG_EXPAND_SZ", "data": "C:\\a b\\x.exe"}, "set": {"kind": "REG_EXPAND_SZ", "data": '"C:\\a b\\x.exe"'}}


def _exclusion(before, after):
    return {"op": "registry_value", "key": WRITER_KEY, "name": "ExcludedBinaryPaths",
            "expect": {"kind": "missing", "data": None} if before is None else {"kind": "REG_MULTI_SZ", "data": before},
            "set": {"kind": "REG_MULTI_SZ", "data": after}}


def _security(service):
    return {"op": "service_security", "service": service, "expect": "D:", "set": "D:"}


def _backup(operations, undo, status="committed", trusted=True):
    return {"id": "x", "status": status, "trusted": trusted, "operations": operations, "undo": undo}


CASES = [
    ("the folder", [FOLDER_OP], [FOLDER_OP], "run00001", True),
    ("a forged undo", [FOLDER_OP], [ALG_OP], "run00001", False),
    ("no operations", [], [], "run00001", False),
    ("another spelling of the folder", [dict(FOLDER_OP, path=SANDBOX.lower())], [], "run00001", False),
    ("another run's folder", [FOLDER_OP], [], "run00002", False),
    ("the entry added to a missing value", [_exclusion(None, [ENTRY])], [], "run00001", True),
    ("the entry and another", [_exclusion([], [ENTRY, "C:\\x.exe"])], [], "run00001", False),
    ("an entry replaced", [_exclusion(["C:\\y.exe"], ["C:\\x.exe", ENTRY])], [], "run00001", False),
    ("the entry removed (a rollback)", [_exclusion(["C:\\x.exe", ENTRY], ["C:\\x.exe"])], [], "run00001", True),
    ("the driver's descriptor", [_security("BACKUPREADY-SELFTEST-run00001-drv")], [], "run00001", True),
    ("a service that is not the run's", [_security("backupready-selftest-run00001-x")], [], "run00001", False),
    ("a value other than ImagePath",
     [{"op": "registry_value", "key": "HKLM\\SYSTEM\\CurrentControlSet\\Services\\backupready-selftest-run00001",
       "name": "Start", "expect": {"kind": "REG_DWORD", "data": 4}, "set": {"kind": "REG_DWORD", "data": 2}}], [],
     "run00001", False),
]


@pytest.mark.parametrize("why,operations,undo,run_id,expected", CASES, ids=[c[0] for c in CASES])
def test_only_backups_wholly_on_the_runs_sandbox_are_the_runs(why, operations, undo, run_id, expected):
    assert backup_of_run(_backup(operations, undo), run_id, ROOT) is expected, why


def test_pending_or_untrusted_records_are_never_the_runs():
    assert not backup_of_run(_backup([FOLDER_OP], [FOLDER_OP], status="pending"), "run00001", ROOT)
    assert not backup_of_run(_backup([FOLDER_OP], [FOLDER_OP], trusted=False), "run00001", ROOT)


def test_remove_backups_deletes_the_runs_only():
    store = MemoryStore({"host": {"system_root": ROOT}})
    records = {
        "20260101T000000001Z": ([ALG_OP], [ALG_OP]),
        "20260101T000000002Z": ([FOLDER_OP, ALG_OP], [FOLDER_OP]),
        "20260101T000000003Z": ([FOLDER_OP], [FOLDER_OP]),
    }
    for backup_id, (operations, undo) in records.items():
        store.write_record(backup_id, _record(store, backup_id, "committed", operations, undo, {}, []))
    assert entry("20260101T000000003Z", store.records["20260101T000000003Z"])["trusted"]
    assert remove_backups(store, "run00001", ROOT, check_mode=True) == ["20260101T000000003Z"]
    assert len(store.list_backups()) == 3
    assert remove_backups(store, "run00001", ROOT) == ["20260101T000000003Z"]
    assert sorted(b["id"] for b in store.list_backups()) == ["20260101T000000001Z", "20260101T000000002Z"]


def test_the_backups_of_a_run_whose_entry_is_still_on_the_host_are_kept():
    # the rollback of the added entry failed: its backup is the way to undo it (BackupReady.cs:
    # TestTheBackupsOfARunWhoseEntryIsStillThereAreKept)
    store = MemoryStore({"host": {"system_root": ROOT}})
    added = _exclusion(["C:\\x.exe"], ["C:\\x.exe", ENTRY])
    store.write_record("20260101T000000001Z", _record(store, "20260101T000000001Z", "committed", [added], [added], {}, []))
    state = {"host": {"system_root": ROOT},
             "system_writer": {"excluded_binary_paths": {"kind": "REG_MULTI_SZ", "data": ["C:\\x.exe", ENTRY]}}}
    assert remove_backups(store, "run00001", ROOT, state=state) == []
    assert [b["id"] for b in store.list_backups()] == ["20260101T000000001Z"]
    state["system_writer"]["excluded_binary_paths"]["data"] = ["C:\\x.exe"]
    assert remove_backups(store, "run00001", ROOT, state=state) == ["20260101T000000001Z"]
