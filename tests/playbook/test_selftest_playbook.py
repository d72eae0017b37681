"""backupready.windows.selftest against snapshot hosts, the sandbox modelled in the snapshot (docs/selftest.md).

What a snapshot cannot give (the Windows and PowerShell versions of a real host, vssadmin's bytes) must be reported
as coming from the snapshot, and the run must leave every snapshot as it was, with no sandbox left.
"""

from __future__ import annotations

import glob
import json
import os
import shutil

from runner import FLEET, run, ansible_env, write_inventory

REPORT_CHECKS = {
    "probe (every section of the state document)": "pass",
    "registry_value ImagePath (win_service_imagepath)": "pass",
    "service_security (win_writer_access)": "pass",
    "path_security folder and files (win_filemaps_acl)": "pass",
    "service_start_mode and service_state on CryptSvc (check mode only)": "not_exercised",  # fs01's CryptSvc is healthy
    "registry_value VssAccessControl (check mode only)": "not_exercised",  # nothing planned: nothing checked
    "rollback restores the exact values": "pass",
    "backup store permissions": "pass",
}
EXCLUSIONS = "registry_value ExcludedBinaryPaths (win_systemwriter_exclusions)"


def _fleet(directory: str) -> tuple[str, dict]:
    """fs01 as it is (no SystemWriter key) and a copy whose SystemWriter value holds one clean entry."""
    shutil.copy(os.path.join(FLEET, "fs01.json"), os.path.join(directory, "fs01.json"))
    with open(os.path.join(FLEET, "fs01.json"), encoding="utf-8") as handle:
        state = json.load(handle)
    state["host"]["name"] = "fs01-with-exclusion"
    state["system_writer"]["key_exists"] = True
    state["system_writer"]["excluded_binary_paths"] = {"kind": "REG_MULTI_SZ", "data": ["D:\\Apps\\Agent\\agent.exe"]}
    with open(os.path.join(directory, "fs01-with-exclusion.json"), "w", encoding="utf-8") as handle:
        json.dump(state, handle)
    hosts = {"fs01": "fs01.json", "fs01-with-exclusion": "fs01-with-exclusion.json"}
    inventory = write_inventory(os.path.join(directory, "inventory.json"), hosts)
    return inventory, {h: _load(os.path.join(directory, f)) for h, f in hosts.items()}


def _load(path: str) -> dict:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def _selftest(directory: str, inventory: str, *extra: str):
    return run("ansible-playbook", "-i", inventory, "backupready.windows.selftest",
               "-e", f"backupready_selftest_report_dir={directory}/report", "-e", "backupready_selftest_hosts=all", *extra,
               env=ansible_env(BACKUPREADY_REPORT_DIR=os.path.join(directory, "fleet-report")), cwd=directory)


def test_selftest_refuses_without_the_confirm_and_touches_nothing(tmp_path):
    directory = str(tmp_path)
    inventory, before = _fleet(directory)
    for extra in ((), ("-e", "backupready_selftest_confirm=false")):
        completed = _selftest(directory, inventory, *extra)
        assert completed.returncode != 0
        text = " ".join(completed.stdout.split())  # the YAML callback wraps long messages
        assert "-e backupready_selftest_confirm=true" in text
        assert "Nothing was read or changed" in text
        assert "Make the sandbox" not in text
    assert not os.path.exists(os.path.join(directory, "report"))
    assert not os.path.exists(os.path.join(directory, "backups"))
    for host, state in before.items():
        assert _load(os.path.join(directory, f"{host}.json")) == state


def test_selftest_refuses_without_the_hosts_named(tmp_path):
    directory = str(tmp_path)
    inventory, before = _fleet(directory)
    completed = run("ansible-playbook", "-i", inventory, "backupready.windows.selftest", "-e", "backupready_selftest_confirm=true",
                    env=ansible_env(), cwd=directory)
    assert completed.returncode != 0
    assert "-e backupready_selftest_hosts=" in " ".join(completed.stdout.split())
    assert "Make the sandbox" not in completed.stdout
    for host, state in before.items():
        assert _load(os.path.join(directory, f"{host}.json")) == state


def test_the_role_enforces_the_confirm_however_it_is_reached(tmp_path):
    directory = str(tmp_path)
    inventory, before = _fleet(directory)
    play = os.path.join(directory, "direct.yml")
    with open(play, "w", encoding="utf-8") as handle:
        handle.write("- hosts: all\n  gather_facts: false\n  tasks:\n    - name: Run the self-test\n"
                     "      ansible.builtin.include_role:\n        name: backupready.windows.selftest\n")
    for extra in ((), ("-e", "selftest_confirm=false")):
        completed = run("ansible-playbook", "-i", inventory, play, *extra, env=ansible_env(), cwd=directory)
        assert completed.returncode != 0
        assert "Make the sandbox" not in completed.stdout and "Probe the host" not in completed.stdout
    completed = run("ansible-playbook", "-i", inventory, "backupready.windows.selftest", "-e", "backupready_selftest_hosts=all",
                    "--start-at-task", "Run the self-test", env=ansible_env(), cwd=directory)
    assert completed.returncode != 0 and "Make the sandbox" not in completed.stdout
    for host, state in before.items():
        assert _load(os.path.join(directory, f"{host}.json")) == state


def _plant_backup(directory: str, host: str) -> str:
    """A committed backup of a real change (as a remediate leaves one) in the host's store."""
    from ansible_collections.backupready.windows.plugins.plugin_utils import _journal
    from ansible_collections.backupready.windows.plugins.plugin_utils._backend import SnapshotBackend
    backend = SnapshotBackend(os.path.join(directory, f"{host}.json"), host)
    op = {"op": "service_start_mode", "service": "CryptSvc", "expect": "manual", "set": "auto"}
    backup_id = "20200101T000000000000Z"
    with backend.store.lock():
        backend.store.write_record(backup_id, _journal._record(backend.store, backup_id, "committed", [op], [dict(op, expect="auto", set="manual")], {}, []))
    assert [b["id"] for b in backend.store.list_backups() if b["trusted"]] == [backup_id]
    return backup_id


def test_selftest_runs_every_check_leaves_nothing_behind_and_reports(tmp_path):
    directory = str(tmp_path)
    inventory, before = _fleet(directory)
    # The store keeps 2 backups; a real change's backup is there: the self-test must neither prune it nor leave its own.
    real = _plant_backup(directory, "fs01-with-exclusion")
    with open(inventory, encoding="utf-8") as handle:
        data = json.load(handle)
    for host in data["all"]["hosts"].values():
        host["backupready_keep_backups"] = 2
    with open(inventory, "w", encoding="utf-8") as handle:
        json.dump(data, handle)
    completed = _selftest(directory, inventory, "-e", "backupready_selftest_confirm=true")
    assert completed.returncode == 0, completed.stdout[-6000:] + completed.stderr[-3000:]
    left = {host: sorted(os.listdir(folder)) for host, folder in
            ((h, os.path.join(directory, "backups", h)) for h in before) if os.path.isdir(folder)}
    assert left.get("fs01", []) == [], left
    assert [name for name in left["fs01-with-exclusion"] if name.endswith(".json")] == [f"{real}.json"], left
    for host, state in before.items():
        after = _load(os.path.join(directory, f"{host}.json"))
        assert "selftest_sandbox" not in after
        assert not [s for s in after["services"] if s["name"].startswith("backupready-selftest-")]
        assert after == state, f"the self-test left {host} changed"

    reports = {}
    for path in glob.glob(os.path.join(directory, "report", "selftest-*.json")):
        report = _load(path)
        reports[report["host"]] = report
        assert os.path.isfile(path[:-len(".json")] + ".md")
    assert sorted(reports) == ["fs01", "fs01-with-exclusion"]
    for host, report in reports.items():
        assert report["format"] == "backupready.selftest/1"
        assert report["backend"] == "snapshot"
        assert report["stopped"] is None and report["sandbox_left"] is False
        assert report["sandbox"].startswith("C:\\ProgramData\\backupready-selftest\\" + report["run_id"])
        assert len(report["sandbox_removed"]) == 3  # two services and the folder
        assert len(report["sandbox_removed_backups"]) >= 6 and report["system_writer_restored"] is True
        assert float(report["duration_seconds"]) > 0
        assert report["windows"]["os_version"] == before[host]["host"]["os_version"]
        assert report["windows"]["source"].startswith("snapshot")  # never passed off as read from a host
        assert report["raw"]["vssadmin"]["source"].startswith("snapshot")
        assert report["raw"]["vssadmin"]["stdout"] == before[host]["vssadmin"]["stdout"]
        assert "not collected" in report["raw"]["vssadmin"]["raw_bytes"]
        results = {c["check"]: c["result"] for c in report["checks"]}
        assert {k: results.get(k) for k in REPORT_CHECKS} == REPORT_CHECKS, results
        for check in report["checks"]:
            if check["check"] in ("registry_value ImagePath (win_service_imagepath)", "service_security (win_writer_access)",
                                  "path_security folder and files (win_filemaps_acl)"):
                assert all(check["detail"]["properties"].values()), check
                assert "changed since" in check["detail"]["refusal"]
    # Where the entry is all that changes, the value is written and rolled back; where the key is missing, check mode.
    assert {c["check"]: c["result"] for c in reports["fs01-with-exclusion"]["checks"]}[EXCLUSIONS] == "pass"
    fs01 = {c["check"]: c for c in reports["fs01"]["checks"]}[EXCLUSIONS]
    assert fs01["result"] == "check_mode_only" and "does not exist" in fs01["detail"]["why_not_written"]
    with open(glob.glob(os.path.join(directory, "report", "selftest-fs01-with-exclusion-*.md"))[0], encoding="utf-8") as handle:
        markdown = handle.read()
    assert "| registry_value ExcludedBinaryPaths (win_systemwriter_exclusions) | pass |" in markdown
    assert "left behind: nothing" in markdown and "took " in markdown
