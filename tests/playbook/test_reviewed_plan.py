"""Apply exactly the reviewed plan, end to end with ansible-playbook on a copy of demo-fleet snapshots.

The change-board workflow: `remediate --check -e backupready_plan_dir=...` records per host what each writing
task would change; the plan is reviewed; the real run given that plan applies exactly it. Drill 2a of the
reliability drills (`same_value_other_defect`): the ImagePath the reviewed fix replaces is changed between
the two runs; without the plan the real run silently applied another operation than the reviewed one."""

import hashlib
import json
import os

import pytest

from runner import copy_fleet, playbook, run_json

pytestmark = pytest.mark.playbook

DOUBLED = "\\Systemroot\\Systemroot\\System32\\drivers\\vdrvroot.sys"
TRIPLED = "\\Systemroot\\Systemroot\\Systemroot\\System32\\drivers\\vdrvroot.sys"
TASK_NAME = "Assess, remediate what can be fixed safely and verify (a dry run in check mode)"
REMEDIATE_TASK = f"backupready.windows.readiness : {TASK_NAME} (backupready.windows.win_backup_remediate)"


def digest(path):
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def tree(directory):
    """sha256 of every file under ``directory`` except the plans and the report."""
    found = {}
    for folder, dirs, files in os.walk(directory):
        dirs[:] = [d for d in dirs if d not in ("plans", "backupready-report")]
        for name in files:
            path = os.path.join(folder, name)
            found[os.path.relpath(path, directory)] = digest(path)
    return found


def set_vdrvroot(path, data):
    with open(path, encoding="utf-8") as handle:
        doc = json.load(handle)
    next(s for s in doc["services"] if s["name"] == "vdrvroot")["image_path"]["data"] = data
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(doc, handle, indent=1, ensure_ascii=False)


def applied_operations(run, host):
    """{task name: operations applied} of the writing tasks of ``host`` in a run."""
    applied = {}
    for play in run.data["plays"]:
        for task in play["tasks"]:
            result = task["hosts"].get(host)
            if result and "reviewed_plan" in result:
                applied[result["reviewed_plan"]["task"]] = result.get("operations", [])
    return applied


@pytest.fixture
def planned(tmp_path):
    """hv-doubled and acl-broken planned with --check into plans/; lldp is in the inventory but not planned."""
    inventory = copy_fleet(tmp_path, ["hv-doubled", "acl-broken", "lldp"])
    remediate = playbook(tmp_path, "remediate.yml", "- ansible.builtin.import_playbook: backupready.windows.remediate\n")
    before = tree(tmp_path)
    check = run_json(inventory, remediate, "--check", "--diff", "-l", "hv-doubled,acl-broken",
                     "-e", "backupready_plan_dir=plans")
    assert check.returncode == 0, check.raw[-3000:]
    assert tree(tmp_path) == before  # check mode wrote the plans, nothing else
    assert sorted(os.listdir(tmp_path / "plans")) == ["acl-broken.json", "hv-doubled.json"]
    return tmp_path, inventory, remediate


def test_real_run_applies_the_reviewed_plan_or_refuses_naming_what_changed(planned):
    directory, inventory, remediate = planned
    with open(directory / "plans" / "hv-doubled.json", encoding="utf-8") as handle:
        reviewed = json.load(handle)
    (operation,) = reviewed["tasks"][REMEDIATE_TASK]["operations"]
    assert operation["expect"]["data"] == DOUBLED

    set_vdrvroot(directory / "hv-doubled.json", TRIPLED)  # the host changed after the review
    edited = digest(directory / "hv-doubled.json")

    run = run_json(inventory, remediate, "-e", "backupready_plan_dir=plans")
    assert run.returncode != 0

    refused = run.results(TASK_NAME)["hv-doubled"]
    assert refused["failed"]
    assert refused["msg"].startswith(f"{REMEDIATE_TASK}: not the reviewed plan (")
    assert ("nothing was changed: operation 1 (HKLM\\SYSTEM\\CurrentControlSet\\Services\\vdrvroot\\ImagePath): "
            f"the value it replaces was REG_EXPAND_SZ '{DOUBLED}' in the reviewed plan, "
            f"is REG_EXPAND_SZ '{TRIPLED}' now") in refused["msg"]
    assert digest(directory / "hv-doubled.json") == edited
    assert not os.path.exists(directory / "backups" / "hv-doubled")

    # The unchanged host applies exactly the reviewed plan.
    assert run.failed("acl-broken") == 0 and run.changed("acl-broken") >= 1
    with open(directory / "plans" / "acl-broken.json", encoding="utf-8") as handle:
        acl_plan = json.load(handle)["tasks"]
    applied = applied_operations(run, "acl-broken")
    assert applied == {task: entry["operations"] for task, entry in acl_plan.items()}
    assert any(applied.values())

    # A host that was not planned is refused, nothing written.
    missing = run.results(TASK_NAME)["lldp"]
    assert "no reviewed plan for lldp" in missing["msg"] and "plans/lldp.json does not exist" in missing["msg"]
    assert not os.path.exists(directory / "backups" / "lldp")


def test_a_change_the_plan_did_not_review_is_refused_with_the_reviewed_ones(planned):
    directory, inventory, remediate = planned
    # The reviewed plan of hv-doubled fixes its ImagePath only: a filemaps defect appearing later is not fixed, and
    # as the remediation applies a host's operations together, all or none, the reviewed fix waits too.
    with open(directory / "acl-broken.json", encoding="utf-8") as handle:
        filemaps = json.load(handle)["filemaps"]
    with open(directory / "hv-doubled.json", encoding="utf-8") as handle:
        doc = json.load(handle)
    doc["filemaps"] = filemaps
    with open(directory / "hv-doubled.json", "w", encoding="utf-8") as handle:
        json.dump(doc, handle, indent=1)
    edited = digest(directory / "hv-doubled.json")

    run = run_json(inventory, remediate, "-l", "hv-doubled", "-e", '{"backupready_plan_dir": "{{ inventory_dir }}/plans"}')
    refused = run.results(TASK_NAME)["hv-doubled"]
    assert refused["failed"] and refused["msg"].startswith(f"{REMEDIATE_TASK}: not the reviewed plan ("), refused["msg"]
    assert "filemaps" in refused["msg"], refused["msg"]
    assert digest(directory / "hv-doubled.json") == edited
    assert not os.path.exists(directory / "backups" / "hv-doubled")
