"""The integration targets of tests/integration/targets, run here against snapshot hosts.

``ansible-test windows-integration`` runs them against a Windows host (tests/integration/inventory.winrm); here
each target's tasks run as a role through ansible-playbook against copies of demo-fleet snapshots, with the sandbox
modelled in the snapshot (plugins/plugin_utils/_selftest.py), so that they cannot rot. Each run must pass its own
assertions (check mode changes nothing, --diff is what the real run did, a second run changes nothing, a rollback
restores the exact values, a value changed between plan and apply is refused) and leave every snapshot as it was.
"""

from __future__ import annotations

import json
import os
import shutil

import pytest

from runner import FLEET, ROOT, playbook, run_playbook, write_inventory

TARGETS = os.path.join(ROOT, "tests", "integration", "targets")
MODULES = sorted(name[:-3] for name in os.listdir(os.path.join(ROOT, "plugins", "action"))
                 if name.endswith(".py") and name != "win_backup_selftest_sandbox.py")
# Which demo hosts each target runs on: fs01 (healthy), plus crypt-off (CryptSvc disabled: check mode only), for
# the remediation hv-doubled too (an ImagePath fix: check mode only) and,
# for the exclusions, excl-bad (duplicates: check mode only) and a copy of fs01 whose SystemWriter value is clean.
HOSTS = {name: ["fs01"] for name in MODULES}
HOSTS["win_cryptsvc"] = ["fs01", "crypt-off"]
HOSTS["win_backup_remediate"] = ["fs01", "crypt-off", "hv-doubled"]
HOSTS["win_systemwriter_exclusions"] = ["fs01", "excl-bad", "fs01-with-exclusion"]


def _snapshot(directory: str, host: str) -> str:
    path = os.path.join(directory, f"{host}.json")
    if host == "fs01-with-exclusion":
        with open(os.path.join(FLEET, "fs01.json"), encoding="utf-8") as handle:
            state = json.load(handle)
        state["host"]["name"] = host
        state["system_writer"]["key_exists"] = True
        state["system_writer"]["excluded_binary_paths"] = {"kind": "REG_MULTI_SZ", "data": ["D:\\Apps\\Agent\\agent.exe"]}
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(state, handle)
    else:
        shutil.copy(os.path.join(FLEET, f"{host}.json"), path)
    return path


def _load(path: str) -> dict:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def run_target(tmp_path, target: str, hosts: list[str]):
    directory = str(tmp_path)
    before = {host: _load(_snapshot(directory, host)) for host in hosts}
    inventory = write_inventory(os.path.join(directory, "inventory.json"), {h: f"{h}.json" for h in hosts})
    with open(inventory, encoding="utf-8") as handle:
        data = json.load(handle)
    data["windows"] = {"hosts": {h: {} for h in hosts}}  # ansible-test's group for Windows hosts
    with open(inventory, "w", encoding="utf-8") as handle:
        json.dump(data, handle)
    play = playbook(directory, "target.yml", f"- hosts: windows\n  gather_facts: false\n  roles:\n    - {target}\n")
    completed = run_playbook(inventory, play, ANSIBLE_ROLES_PATH=TARGETS)
    after = {host: _load(os.path.join(directory, f"{host}.json")) for host in hosts}
    return completed, before, after


def test_every_module_has_a_target_in_the_ansible_windows_layout():
    for module in MODULES:
        folder = os.path.join(TARGETS, module)
        with open(os.path.join(folder, "aliases"), encoding="utf-8") as handle:
            aliases = handle.read().split()
        assert "windows" in aliases and "shippable/windows/group1" in aliases, module
        assert os.path.isfile(os.path.join(folder, "tasks", "main.yml")), module
    assert os.path.isfile(os.path.join(ROOT, "tests", "integration", "inventory.winrm.template"))


@pytest.mark.parametrize("target", MODULES)
def test_target_passes_on_snapshot_hosts_and_leaves_them_as_they_were(tmp_path, target):
    completed, before, after = run_target(tmp_path, target, HOSTS[target])
    assert completed.returncode == 0, completed.stdout[-6000:] + completed.stderr[-3000:]
    assert "failed=0" in completed.stdout
    for host in before:
        assert "selftest_sandbox" not in after[host], host
        assert not [s["name"] for s in after[host]["services"] if s["name"].startswith("backupready-selftest-")], host
        assert after[host] == before[host], f"{target} left {host} changed"


def test_exclusions_target_writes_only_where_the_entry_is_all_that_changes(tmp_path):
    completed, _before, _after = run_target(tmp_path, "win_systemwriter_exclusions", HOSTS["win_systemwriter_exclusions"])
    out = completed.stdout
    assert completed.returncode == 0, out[-6000:]
    assert "check mode only: the SystemWriter key does not exist" in out
    assert "check mode only: writing would also drop" in out  # excl-bad's duplicate spelling
    # Only the clean copy gets its value written and rolled back.
    written = [line for line in out.splitlines() if line.startswith("changed: [") and "Add the entry for real" in line]
    assert written == [] or all("fs01-with-exclusion" in line for line in written)
    assert "TASK [win_systemwriter_exclusions : Add the entry for real, with the diff]" in out
    section = out.split("TASK [win_systemwriter_exclusions : Add the entry for real, with the diff]")[1].split("TASK [")[0]
    assert "changed: [fs01-with-exclusion]" in section
    assert "skipping: [fs01]" in section and "skipping: [excl-bad]" in section
