"""Every operation kind through the snapshot backend: applied, refused on mismatch, refused outside the
allow-list, check mode writes nothing, a crash mid-write leaves the old file intact, the backup undoes it."""

import json
import os

import pytest

from ansible_collections.backupready.windows.plugins.plugin_utils import _backend
from ansible_collections.backupready.windows.plugins.plugin_utils._backend import (
    BackendError, SnapshotBackend, select_backend)
from ansible_collections.backupready.windows.plugins.plugin_utils._operations import OperationError, check_shape
from ansible_collections.backupready.windows.plugins.plugin_utils._twin import apply_to_state
from ansible_collections.backupready.windows.plugins.plugin_utils._state import find_service, load_state_file

from statedoc import TRUSTED_INSTALLER, make_service, make_state

SERVICES = "HKLM\\SYSTEM\\CurrentControlSet\\Services"
WRITER_KEY = "HKLM\\SYSTEM\\CurrentControlSet\\Control\\SystemWriter"
VSS_KEY = "HKLM\\SYSTEM\\CurrentControlSet\\Services\\VSS\\VssAccessControl"
FILEMAPS = "C:\\Windows\\winsxs\\filemaps"
PENDING = "C:\\Windows\\winsxs\\temp\\PendingRenames"
MSLLDP_DEFAULT = ("D:(D;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;BG)(A;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;SY)"
                  "(A;;CCDCLCSWRPDTLOCRSDRCWDWO;;;BA)(A;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;SO)"
                  "(A;;LCRPWP;;;S-1-5-80-3141615172-2057878085-1754447212-2405740020-3916490453)"
                  "S:(AU;FA;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;WD)")
MSLLDP_FIXED = MSLLDP_DEFAULT.replace("S:(AU", "(A;;CCLCSWLOCRRC;;;SU)S:(AU")
# Protected DACLs: what the folder's inheritable ACEs would add does not reach them (see test_twin for that).
BROKEN_FILES = f"O:S-1-5-21-1-2-3-1104D:PAI(A;;FA;;;{TRUSTED_INSTALLER})(D;;FR;;;BU)"
GOOD_FILES = f"O:BAD:PAI(A;;FA;;;{TRUSTED_INSTALLER})(A;;0x1200a9;;;SY)(A;;0x1200a9;;;BA)(A;;0x1200a9;;;BU)"
SACL = "S:ARAI(AU;SAFA;0x1f0116;;;WD)"


def base_state():
    doc = make_state()
    doc["services"].append(make_service("winmad", "\\\\SystemRoot\\System32\\drivers\\winmad.sys", type_=1))
    doc["services"].append(make_service("MSLLDP", "\\SystemRoot\\system32\\drivers\\mslldp.sys", type_=1,
                                        sddl=MSLLDP_DEFAULT))
    doc["filemaps"]["files"] = {"count": 7, "descriptors": [
        {"sddl": f"{BROKEN_FILES}{SACL}", "count": 4, "samples": ["a.cdf-ms"], "names": ["a.cdf-ms", "b.cdf-ms", "c.cdf-ms", "d.cdf-ms"]},
        {"sddl": f"{GOOD_FILES}{SACL}", "count": 3, "samples": ["e.cdf-ms"], "names": ["e.cdf-ms", "f.cdf-ms", "g.cdf-ms"]},
    ]}
    return doc


@pytest.fixture
def snapshot(tmp_path):
    path = tmp_path / "host.json"
    path.write_text(json.dumps(base_state()), encoding="utf-8")
    return str(path)


def imagepath_op(expect="\\\\SystemRoot\\System32\\drivers\\winmad.sys", new="\\SystemRoot\\System32\\drivers\\winmad.sys",
                 key=f"{SERVICES}\\winmad", name="ImagePath"):
    return {"op": "registry_value", "key": key, "name": name,
            "expect": {"kind": "REG_EXPAND_SZ", "data": expect}, "set": {"kind": "REG_EXPAND_SZ", "data": new}}


# One row per operation kind: (operation, how to read the written value, the value expected after).
APPLIED = [
    pytest.param(imagepath_op(), lambda d: find_service(d, "winmad")["image_path"],
                 {"kind": "REG_EXPAND_SZ", "data": "\\SystemRoot\\System32\\drivers\\winmad.sys"}, id="imagepath"),
    pytest.param({"op": "registry_value", "key": WRITER_KEY, "name": "ExcludedBinaryPaths",
                  "expect": {"kind": "missing", "data": None},
                  "set": {"kind": "REG_MULTI_SZ", "data": ["S:\\Apps\\app.exe"]}},
                 lambda d: d["system_writer"]["excluded_binary_paths"],
                 {"kind": "REG_MULTI_SZ", "data": ["S:\\Apps\\app.exe"]}, id="excluded-binary-paths"),
    pytest.param({"op": "registry_value", "key": "HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\VSS\\VssAccessControl",
                  "name": "NT AUTHORITY\\NETWORK SERVICE",
                  "expect": {"kind": "missing", "data": None}, "set": {"kind": "REG_DWORD", "data": 1}},
                 lambda d: d["vss_access_control"]["values"],
                 {"NT Authority\\NetworkService": {"kind": "REG_DWORD", "data": 1},
                  "NT AUTHORITY\\NETWORK SERVICE": {"kind": "REG_DWORD", "data": 1}},
                 id="vss-access-control"),
    pytest.param({"op": "service_start_mode", "service": "cryptsvc", "expect": "auto", "set": "manual"},
                 lambda d: find_service(d, "CryptSvc")["start_mode"], "manual", id="start-mode"),
    pytest.param({"op": "service_state", "service": "CryptSvc", "expect": "running", "set": "restarted"},
                 lambda d: find_service(d, "CryptSvc")["state"], "running", id="restart"),
    pytest.param({"op": "service_security", "service": "MSLLDP", "expect": MSLLDP_DEFAULT, "set": MSLLDP_FIXED},
                 lambda d: find_service(d, "MSLLDP")["security"], {"sddl": MSLLDP_FIXED, "source": "registry"},
                 id="service-sd"),
    pytest.param({"op": "path_security", "path": FILEMAPS, "target": "folder",
                  "expect": f"O:BAD:PAI(A;OICI;FA;;;{TRUSTED_INSTALLER})(A;OICI;0x1200a9;;;SY)(A;OICI;0x1200a9;;;BA)(A;OICI;0x1200a9;;;BU)",
                  "set": f"O:BAD:PAI(A;OICI;FA;;;{TRUSTED_INSTALLER})(A;OICI;0x1200a9;;;SY)(A;OICI;0x1200a9;;;BA)(A;OICI;0x1200a9;;;BU)"
                         "(A;OICI;0x1200a9;;;AU)"},
                 lambda d: d["filemaps"]["sddl"],
                 f"O:BAG:SYD:PAI(A;OICI;FA;;;{TRUSTED_INSTALLER})(A;OICI;0x1200a9;;;SY)(A;OICI;0x1200a9;;;BA)(A;OICI;0x1200a9;;;BU)"
                 "(A;OICI;0x1200a9;;;AU)",
                 id="folder-security-keeps-group"),
    pytest.param({"op": "path_security", "path": FILEMAPS.upper(), "target": "files", "expect": BROKEN_FILES, "set": GOOD_FILES},
                 lambda d: d["filemaps"]["files"]["descriptors"],
                 [{"sddl": f"{GOOD_FILES}{SACL}", "count": 7,
                   "samples": ["a.cdf-ms", "b.cdf-ms", "c.cdf-ms", "d.cdf-ms", "e.cdf-ms"],
                   "names": ["a.cdf-ms", "b.cdf-ms", "c.cdf-ms", "d.cdf-ms", "e.cdf-ms", "f.cdf-ms", "g.cdf-ms"]}],
                 id="files-security-keeps-sacl"),
]


@pytest.mark.parametrize("op, read, expected", APPLIED)
def test_operation_is_applied_saved_and_undoable(snapshot, op, read, expected):
    backend = SnapshotBackend(snapshot, "host")
    outcome = backend.apply([op], check_mode=False)
    assert outcome.changed and not outcome.refused
    assert [r["status"] for r in outcome.results] == ["applied"]
    after = load_state_file(snapshot)
    got = read(after)
    if isinstance(expected, list):  # files: descriptor groups, order-insensitive on names
        got = [dict(g, names=sorted(g["names"]), samples=sorted(g["samples"])) for g in got]
        expected = [dict(g, names=sorted(g["names"]), samples=sorted(g["samples"])) for g in expected]
    assert got == expected
    # The backup holds the undo operations; applying them restores the original document.
    record = json.loads(open(outcome.backup_path, encoding="utf-8").read())
    assert record["operations"] == [op] and record["undo"] == outcome.undo
    if op["op"] != "service_state":
        restored, undo_outcome = apply_to_state(after, record["undo"], rollback=True)
        assert not undo_outcome.refused
        assert read(restored) == read(base_state()) or op.get("target") == "files"


def test_files_undo_restores_exactly_the_files_changed(snapshot):
    op = APPLIED[-1].values[0]
    outcome = SnapshotBackend(snapshot, "host").apply([op], check_mode=False)
    assert outcome.undo[0]["names"] == ["a.cdf-ms", "b.cdf-ms", "c.cdf-ms", "d.cdf-ms"]
    # Giving the files back to a user is outside what a change may do, but is what a rollback of a verified
    # backup does (docs/write-path.md §2).
    refused, undo_outcome = apply_to_state(load_state_file(snapshot), outcome.undo)
    assert undo_outcome.refused and "owner may only become" in undo_outcome.msg
    restored, undo_outcome = apply_to_state(load_state_file(snapshot), outcome.undo, rollback=True)
    assert not undo_outcome.refused
    groups = {g["sddl"]: sorted(g["names"]) for g in restored["filemaps"]["files"]["descriptors"]}
    assert groups == {f"{BROKEN_FILES}{SACL}": ["a.cdf-ms", "b.cdf-ms", "c.cdf-ms", "d.cdf-ms"],
                      f"{GOOD_FILES}{SACL}": ["e.cdf-ms", "f.cdf-ms", "g.cdf-ms"]}


REFUSED_MISMATCH = [
    pytest.param(imagepath_op(expect="\\SystemRoot\\System32\\drivers\\winmad.sys"), "expected", id="imagepath-data"),
    pytest.param(dict(imagepath_op(), expect={"kind": "REG_SZ", "data": "\\\\SystemRoot\\System32\\drivers\\winmad.sys"},
                      set={"kind": "REG_SZ", "data": "\\SystemRoot\\System32\\drivers\\winmad.sys"}),
                 "expected", id="imagepath-kind"),
    pytest.param({"op": "registry_value", "key": WRITER_KEY, "name": "ExcludedBinaryPaths",
                  "expect": {"kind": "REG_MULTI_SZ", "data": []}, "set": {"kind": "REG_MULTI_SZ", "data": ["D:\\a.exe"]}},
                 "expected", id="exclusions-absent"),
    pytest.param({"op": "service_start_mode", "service": "CryptSvc", "expect": "disabled", "set": "auto"}, "found 'auto'",
                 id="start-mode"),
    pytest.param({"op": "service_state", "service": "CryptSvc", "expect": "stopped", "set": "started"},
                 "expected state 'stopped', found 'running'", id="state"),
    pytest.param({"op": "service_security", "service": "MSLLDP", "expect": MSLLDP_FIXED, "set": MSLLDP_DEFAULT}, "expected",
                 id="service-sd"),
    pytest.param({"op": "path_security", "path": FILEMAPS, "target": "folder", "expect": "O:SYD:", "set": "O:BAD:"},
                 "expected", id="folder"),
    pytest.param({"op": "path_security", "path": FILEMAPS, "target": "files", "expect": "O:SYD:", "set": "O:BAD:"},
                 "no file has the expected descriptor", id="files"),
    pytest.param(imagepath_op(key=f"{SERVICES}\\nosuchservice"), "not found on the host", id="unknown-service"),
]


@pytest.mark.parametrize("op, reason", REFUSED_MISMATCH)
def test_mismatch_is_refused_and_nothing_is_written(snapshot, op, reason):
    before = open(snapshot, "rb").read()
    good = imagepath_op()
    outcome = SnapshotBackend(snapshot, "host").apply([good, op], check_mode=False)
    assert outcome.refused and not outcome.changed
    assert [r["status"] for r in outcome.results] == ["not_run", "refused"]
    assert reason in outcome.results[1]["reason"] and reason in outcome.msg
    assert open(snapshot, "rb").read() == before
    assert outcome.backup_path is None and not os.path.exists(os.path.join(os.path.dirname(snapshot), "backups"))


OUTSIDE = [
    pytest.param({"op": "registry_value", "key": f"{SERVICES}\\winmad", "name": "Start",
                  "expect": {"kind": "REG_DWORD", "data": 3}, "set": {"kind": "REG_DWORD", "data": 4}},
                 "only ImagePath may be written", id="other-service-value"),
    pytest.param({"op": "registry_value", "key": "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run", "name": "x",
                  "expect": {"kind": "missing", "data": None}, "set": {"kind": "REG_SZ", "data": "evil.exe"}},
                 "outside the allow-list", id="run-key"),
    pytest.param({"op": "registry_value", "key": f"{SERVICES}\\winmad\\Parameters", "name": "ImagePath",
                  "expect": {"kind": "missing", "data": None}, "set": {"kind": "REG_SZ", "data": "x"}},
                 "is not a service key", id="service-subkey"),
    pytest.param({"op": "registry_value", "key": "HKCU\\SYSTEM\\CurrentControlSet\\Control\\SystemWriter",
                  "name": "ExcludedBinaryPaths", "expect": {"kind": "missing", "data": None},
                  "set": {"kind": "REG_MULTI_SZ", "data": []}}, "outside the allow-list", id="other-hive"),
    pytest.param({"op": "service_start_mode", "service": "VSS", "expect": "manual", "set": "disabled"},
                 "only CryptSvc", id="other-service-start-mode"),
    pytest.param({"op": "service_state", "service": "WinRM", "expect": "running", "set": "restarted"},
                 "only CryptSvc", id="other-service-restart"),
    pytest.param({"op": "path_security", "path": "C:\\Windows\\System32", "target": "folder", "expect": "O:SY", "set": "O:BA"},
                 "outside the allow-list", id="system32"),
    pytest.param({"op": "path_security", "path": "C:\\Windows\\winsxs\\filemaps\\..\\..\\System32", "target": "folder",
                  "expect": "O:SY", "set": "O:BA"}, "outside the allow-list", id="dotdot"),
]


@pytest.mark.parametrize("op, reason", OUTSIDE)
def test_outside_the_allow_list_is_refused(snapshot, op, reason):
    before = open(snapshot, "rb").read()
    outcome = SnapshotBackend(snapshot, "host").apply([op], check_mode=False)
    assert outcome.refused and reason in outcome.results[0]["reason"]
    assert open(snapshot, "rb").read() == before


@pytest.mark.parametrize("op", [p.values[0] for p in APPLIED])
def test_check_mode_writes_nothing_but_reports_the_change(snapshot, op):
    before = open(snapshot, "rb").read()
    mtime = os.stat(snapshot).st_mtime_ns
    outcome = SnapshotBackend(snapshot, "host").apply([op], check_mode=True)
    assert outcome.changed and [r["status"] for r in outcome.results] == ["would_apply"]
    assert open(snapshot, "rb").read() == before and os.stat(snapshot).st_mtime_ns == mtime
    assert outcome.backup_path is None
    assert sorted(os.listdir(os.path.dirname(snapshot))) == ["host.json"]


def test_second_apply_is_refused_because_the_value_changed(snapshot):
    backend = SnapshotBackend(snapshot, "host")
    assert backend.apply([imagepath_op()], check_mode=False).changed
    again = backend.apply([imagepath_op()], check_mode=False)
    assert again.refused


def test_setting_the_current_value_is_unchanged(snapshot):
    current = "\\\\SystemRoot\\System32\\drivers\\winmad.sys"
    before = open(snapshot, "rb").read()
    outcome = SnapshotBackend(snapshot, "host").apply([imagepath_op(new=current)], check_mode=False)
    assert not outcome.changed and outcome.results[0]["status"] == "unchanged"
    assert open(snapshot, "rb").read() == before


@pytest.mark.parametrize("stage", ["write", "fsync", "replace"])
def test_a_crash_mid_write_leaves_the_old_file_intact(snapshot, monkeypatch, stage):
    before = open(snapshot, "rb").read()

    class Crash(RuntimeError):
        pass

    def boom(*args, **kwargs):
        raise Crash(stage)

    if stage == "replace":
        monkeypatch.setattr(_backend.os, "replace", boom)
    elif stage == "fsync":
        monkeypatch.setattr(_backend.os, "fsync", boom)
    else:
        real_fdopen = os.fdopen

        def half_writer(fd, *args, **kwargs):
            stream = real_fdopen(fd, *args, **kwargs)
            real_write = stream.write

            def write(text):
                real_write(text[: len(text) // 2])
                raise Crash("disk full")
            stream.write = write
            return stream
        monkeypatch.setattr(_backend.os, "fdopen", half_writer)
    with pytest.raises(Crash):
        SnapshotBackend(snapshot, "host").apply([imagepath_op()], check_mode=False)
    assert open(snapshot, "rb").read() == before
    leftovers = [n for n in os.listdir(os.path.dirname(snapshot)) if ".tmp-" in n]
    assert leftovers == []


@pytest.mark.parametrize("op, message", [
    ({"op": "delete_everything"}, "unknown op 'delete_everything'"),
    ({"op": "registry_value", "key": WRITER_KEY, "name": "ExcludedBinaryPaths", "expect": {"kind": "missing", "data": None},
      "set": {"kind": "REG_MULTI_SZ", "data": "not-a-list"}}, "'set'"),
    ({"op": "service_start_mode", "service": "CryptSvc", "expect": "auto", "set": "boot"}, "'set' must be one of"),
    ({"op": "path_security", "path": FILEMAPS, "target": "everything", "expect": "", "set": ""}, "'target' must be one of"),
    ("registry_value", "expected an object"),
])
def test_malformed_operations_are_errors(op, message):
    with pytest.raises(OperationError, match=message):
        check_shape(op, 3)


def test_malformed_operation_through_backend_names_the_host(snapshot):
    with pytest.raises(BackendError, match="host: invalid operation list: operation 0"):
        SnapshotBackend(snapshot, "host").apply([{"op": "nope"}], check_mode=False)


def test_select_backend_resolves_relative_paths_against_the_inventory(tmp_path, snapshot):
    backend = select_backend({"inventory_hostname": "h", "inventory_dir": str(tmp_path),
                              "backupready_snapshot": "host.json"}, call_module=None)
    assert isinstance(backend, SnapshotBackend) and backend.path == snapshot
    with pytest.raises(BackendError, match="h: backupready_snapshot .*absent.json' does not exist"):
        select_backend({"inventory_hostname": "h", "inventory_dir": str(tmp_path), "backupready_snapshot": "absent.json"}, None)
    with pytest.raises(BackendError, match="must be a path"):
        select_backend({"inventory_hostname": "h", "backupready_snapshot": ["a"]}, None)
    assert select_backend({"inventory_hostname": "h"}, call_module=lambda m, a: {}).name == "live"


def test_path_exists_is_case_insensitive_and_unknown_is_none(tmp_path):
    doc = base_state()
    doc["paths"] = {"C:\\Windows\\System32\\drivers\\winmad.sys": True, "S:\\app.exe": False}
    path = tmp_path / "p.json"
    path.write_text(json.dumps(doc))
    answer = SnapshotBackend(str(path), "h").path_exists(["c:\\windows\\system32\\DRIVERS\\winmad.sys", "s:\\APP.exe", "D:\\x"])
    assert answer == {"c:\\windows\\system32\\DRIVERS\\winmad.sys": True, "s:\\APP.exe": False, "D:\\x": None}


def test_restart_uses_the_snapshot_simulation(tmp_path):
    doc = base_state()
    doc["vssadmin"]["stdout"] = "no writers\n"
    doc["simulation"] = {"on_cryptsvc_restart": {"vssadmin": {"collected": True, "exit_code": 0, "stdout": "after\n", "stderr": ""}}}
    path = tmp_path / "s.json"
    path.write_text(json.dumps(doc))
    SnapshotBackend(str(path), "h").apply([{"op": "service_state", "service": "CryptSvc", "expect": "running",
                                            "set": "restarted"}], check_mode=False)
    assert load_state_file(str(path))["vssadmin"]["stdout"] == "after\n"
