"""What an operator runs into before anything is assessed or written, on the controller side.

- a snapshot that cannot be written (its folder read-only or immutable, the file protected): a message that says
  so, the snapshot unchanged, and no backup left behind for a change that never happened (such a backup would be
  "the newest not rolled back" and block every later rollback);
- a host with neither a snapshot nor a connection that can run PowerShell: say what is needed;
- a variable named like one of the collection's that none of its roles or playbooks reads (a typo): a warning
  naming the closest known name, or an error with readiness_strict_vars.
"""

from __future__ import annotations

import json
import os
import tempfile

import pytest

from ansible_collections.backupready.windows.plugins.plugin_utils import _action, _backend
from ansible_collections.backupready.windows.plugins.plugin_utils._backend import (
    BackendError, LiveBackend, select_backend)
from ansible_collections.backupready.windows.plugins.plugin_utils._state import find_service, load_state_file

from statedoc import make_service, make_state

SERVICES = "HKLM\\SYSTEM\\CurrentControlSet\\Services"
DOUBLED = "\\Systemroot\\Systemroot\\System32\\drivers\\vdrvroot.sys"
FIXED = "\\SystemRoot\\System32\\drivers\\vdrvroot.sys"
FIX = {"op": "registry_value", "key": f"{SERVICES}\\vdrvroot", "name": "ImagePath",
       "expect": {"kind": "REG_EXPAND_SZ", "data": DOUBLED}, "set": {"kind": "REG_EXPAND_SZ", "data": FIXED}}


@pytest.fixture
def backend(tmp_path):
    doc = make_state()
    doc["services"].append(make_service("vdrvroot", DOUBLED, type_=1))
    (tmp_path / "snapshots").mkdir()
    (tmp_path / "snapshots" / "hv.json").write_text(json.dumps(doc), encoding="utf-8")
    return select_backend({"inventory_hostname": "hv", "inventory_dir": str(tmp_path),
                           "backupready_snapshot": "snapshots/hv.json"}, call_module=None)


def tree(folder) -> dict[str, bytes]:
    out = {}
    for root, _dirs, names in os.walk(folder):
        for name in names:
            if not name.endswith(".lock"):
                with open(os.path.join(root, name), "rb") as handle:
                    out[os.path.relpath(os.path.join(root, name), folder)] = handle.read()
    return out


def refuse_writes_in(monkeypatch, folder: str, errno_: int = 30, text: str = "Read-only file system"):
    """Make ``folder`` behave as a read-only (or immutable) folder even for root: nothing can be created in it."""
    real = tempfile.mkstemp

    def mkstemp(*args, **kwargs):
        if os.path.realpath(kwargs.get("dir") or "") == os.path.realpath(folder):
            raise OSError(errno_, text)
        return real(*args, **kwargs)
    monkeypatch.setattr(_backend.tempfile, "mkstemp", mkstemp)


def test_a_snapshot_in_a_read_only_folder_is_refused_before_any_backup(backend, monkeypatch, tmp_path):
    before = tree(tmp_path)
    refuse_writes_in(monkeypatch, os.path.dirname(backend.path))
    with pytest.raises(BackendError) as caught:
        backend.apply([FIX], check_mode=False)
    message = str(caught.value)
    assert message.startswith("hv: the folder ") and "is read-only or cannot be written" in message
    assert "was not changed and no backup was made" in message
    assert tree(tmp_path) == before and not os.path.exists(backend.backup_dir)


def test_a_snapshot_folder_where_the_lock_cannot_be_made_says_read_only(backend, monkeypatch, tmp_path):
    """An immutable snapshot folder refuses the lock file first: the message says read-only, nothing is written."""
    before = tree(tmp_path)
    real = open

    def refusing_open(path, *args, **kwargs):
        if str(path).endswith(".lock"):
            raise PermissionError(1, "Operation not permitted", path)
        return real(path, *args, **kwargs)
    monkeypatch.setattr("builtins.open", refusing_open)
    with pytest.raises(BackendError) as caught:
        backend.apply([FIX], check_mode=False)
    message = str(caught.value)
    assert message.startswith("hv: the snapshot's folder ") and "is read-only or cannot be written" in message
    assert "nothing was changed and no backup was made" in message
    monkeypatch.setattr("builtins.open", real)
    assert tree(tmp_path) == before and not os.path.exists(backend.backup_dir)


def test_a_backup_folder_that_cannot_be_written_is_refused_before_the_snapshot_changes(backend, monkeypatch, tmp_path):
    os.makedirs(backend.backup_dir, mode=0o700)
    before = tree(tmp_path)
    refuse_writes_in(monkeypatch, backend.backup_dir, 1, "Operation not permitted")
    with pytest.raises(BackendError, match=r"^hv: the backup folder .* is read-only or cannot be written "
                                           r"\(Operation not permitted\)"):
        backend.apply([FIX], check_mode=False)
    assert tree(tmp_path) == before


def test_a_snapshot_that_cannot_be_replaced_says_so_and_leaves_no_backup(backend, monkeypatch):
    """The rename over an immutable file fails (EPERM) after the backup was written: the message says the file is
    protected, not a bare errno, and the backup of the change that did not happen is removed."""
    real = os.replace

    def replace(src, dst, *args, **kwargs):
        if os.path.realpath(dst) == os.path.realpath(backend.path):
            raise PermissionError(1, "Operation not permitted", src, None, dst)
        return real(src, dst, *args, **kwargs)
    monkeypatch.setattr(_backend.os, "replace", replace)
    outcome = backend.apply([FIX], check_mode=False)
    assert outcome.failed and not outcome.changed
    assert f"{backend.path} cannot be written (Operation not permitted): the file or its folder is read-only" in outcome.msg
    assert "nothing was written, no backup kept" in outcome.msg
    assert backend.list_backups(20) == [] and outcome.backup_id is None
    assert find_service(load_state_file(backend.path), "vdrvroot")["image_path"]["data"] == DOUBLED
    assert [n for n in os.listdir(os.path.dirname(backend.path)) if ".tmp-" in n] == []


# ---------------------------------------------------------------------------------------------------
# No snapshot, and a connection that cannot run the PowerShell modules
# ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("connection, shell", [("local", "sh"), (None, "sh"), ("ssh", "sh")])
def test_no_snapshot_and_no_windows_connection_says_what_is_needed(connection, shell):
    task_vars = {"inventory_hostname": "srv-nosnap"}
    if connection:
        task_vars["ansible_connection"] = connection
    calls = []
    with pytest.raises(BackendError) as caught:
        select_backend(task_vars, call_module=lambda *a: calls.append(a), shell_family=shell)
    message = str(caught.value)
    assert message.startswith("srv-nosnap: no backupready_snapshot is set")
    assert f"({connection or 'the default'}, shell {shell})" in message
    assert "backupready_snapshot" in message and "WinRM or PSRP" in message and "ansible_connection: winrm or psrp" in message
    assert calls == []


@pytest.mark.parametrize("shell", ["powershell", "cmd", None])
def test_a_windows_shell_or_an_unknown_one_is_a_live_host(shell):
    backend = select_backend({"inventory_hostname": "fs01", "ansible_connection": "winrm"}, call_module=None,
                             shell_family=shell)
    assert isinstance(backend, LiveBackend)


def test_a_snapshot_host_does_not_need_a_windows_connection(backend, tmp_path):
    chosen = select_backend({"inventory_hostname": "hv", "inventory_dir": str(tmp_path), "ansible_connection": "local",
                             "backupready_snapshot": "snapshots/hv.json"}, call_module=None, shell_family="sh")
    assert chosen.name == "snapshot"


# ---------------------------------------------------------------------------------------------------
# Variables named like the collection's that nothing reads
# ---------------------------------------------------------------------------------------------------

def test_every_documented_role_variable_and_registered_result_is_known():
    import yaml

    known = _action.known_variable_names()
    roles = os.path.join(_action.COLLECTION_ROOT, "roles")
    for role in ("imagepath", "systemwriter", "filemaps", "cryptsvc", "readiness"):
        with open(os.path.join(roles, role, "meta", "argument_specs.yml"), encoding="utf-8") as handle:
            options = yaml.safe_load(handle)["argument_specs"]["main"]["options"]
        assert set(options) <= known, role
    registered = {"imagepath_result", "systemwriter_result", "filemaps_result", "filemaps_writer_access_result",
                  "cryptsvc_result", "readiness_result", "systemwriter_cryptsvc_restart",
                  "filemaps_cryptsvc_restart", "cryptsvc_cryptsvc_restart", "readiness_cryptsvc_restart",
                  "backupready_assessment", "backupready_capture", "backupready_rollback"}
    assert registered <= known
    # what the plugins read from the host's variables
    assert {"backupready_snapshot", "backupready_snapshot_root", "backupready_backup_dir", "backupready_keep_backups",
            "backupready_plan_dir", "readiness_strict_vars"} <= known


@pytest.mark.parametrize("typo, meant", [
    ("imagepath_exlude", "imagepath_exclude"),
    ("readiness_fix_exclusion", "readiness_fix_exclusions"),
    ("systemwriter_exclude_unreachble", "systemwriter_exclude_unreachable"),
    ("filemaps_user_read", "filemaps_users_read"),
    ("cryptsvc_startmode", "cryptsvc_start_mode"),
    ("backupready_waiver_file", "backupready_waivers_file"),
])
def test_a_typo_is_named_with_the_closest_known_name(typo, meant):
    names = {typo: 1, "imagepath_exclude": [], "ansible_connection": "local", "exlude": 1, "my_imagepath_x": 1}
    assert _action.unknown_variables(names) == [(typo, meant)]
    message = _action.unknown_variable_message(typo, meant)
    assert message.startswith(f"variable {typo} is not one the backupready.windows roles or playbooks read")
    assert f"did you mean {meant}?" in message and "readiness_strict_vars: true" in message


def test_a_name_far_from_every_known_one_is_still_reported():
    assert _action.unknown_variables(["filemaps_zzzzzzzzzzzzzzzzzzzzzz"]) == [("filemaps_zzzzzzzzzzzzzzzzzzzzzz", None)]
    assert "did you mean" not in _action.unknown_variable_message("filemaps_zzzzzzzzzzzzzzzzzzzzzz", None)


def test_known_names_come_from_the_collection_files(tmp_path):
    (tmp_path / "roles" / "x" / "tasks").mkdir(parents=True)
    (tmp_path / "roles" / "x" / "tasks" / "main.yml").write_text("- debug: {var: imagepath_newly_added}\n")
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "p.py").write_text("NAME = 'backupready_read_by_a_plugin'\n")
    known = _action.known_variable_names(str(tmp_path))
    assert known == frozenset({"imagepath_newly_added", "backupready_read_by_a_plugin"})
    assert _action.unknown_variables(["imagepath_newly_added", "imagepath_other"], known) == [("imagepath_other", None)]
