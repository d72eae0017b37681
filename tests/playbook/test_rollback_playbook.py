"""The rollback playbook end to end with ansible-playbook on copies of demo-fleet snapshots: a change rolled back
exactly, a second rollback with nothing left to do, a rollback after a change by hand refused with the snapshot
left byte for byte, check mode touching nothing, and a whole remediation undone one rollback at a time."""

import json
import os

import pytest

from runner import FLEET, ROOT, copy_fleet, playbook, run_json

pytestmark = pytest.mark.playbook

ROLLBACK = os.path.join(ROOT, "playbooks", "rollback.yml")
REMEDIATE = os.path.join(ROOT, "playbooks", "remediate.yml")
MODULE = "backupready.windows.win_backup_rollback"
TREND = "TMBMServer"  # av-trend: '..' in its ImagePath (invalid_syntax, KB 4053355)


def load(directory, host):
    with open(os.path.join(directory, f"{host}.json"), encoding="utf-8") as handle:
        return json.load(handle)


def original(host):
    with open(os.path.join(FLEET, f"{host}.json"), encoding="utf-8") as handle:
        return json.load(handle)


def raw(directory, host):
    with open(os.path.join(directory, f"{host}.json"), "rb") as handle:
        return handle.read()


def service(doc, name):
    return next(s for s in doc["services"] if s["name"].lower() == name.lower())


def backups(directory, host):
    folder = os.path.join(directory, "backups", host)
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


def undoable_sections(doc):
    """What an apply can write and a rollback can put back (a service's run state cannot be undone)."""
    return {
        "services": {s["name"]: (s["image_path"], s["start_mode"], s["security"]) for s in doc["services"]},
        "system_writer": doc["system_writer"],
        "vss_access_control": doc["vss_access_control"],
        "filemaps": doc["filemaps"]["sddl"],
        "pending_renames": doc["pending_renames"]["sddl"],
    }


@pytest.fixture
def changed_fleet(tmp_path):
    """crypt-off with CryptSvc set to auto and started, av-trend with its ImagePath fixed, by the modules."""
    inventory = copy_fleet(tmp_path, ["crypt-off", "av-trend"])
    fix = playbook(tmp_path, "fix.yml", """- hosts: all
  gather_facts: false
  tasks:
    - backupready.windows.win_cryptsvc: {}
      when: inventory_hostname == 'crypt-off'
    - backupready.windows.win_service_imagepath: {}
      when: inventory_hostname == 'av-trend'
""")
    run = run_json(inventory, fix)
    assert run.changed("crypt-off") == 1 and run.changed("av-trend") == 1
    assert service(load(tmp_path, "crypt-off"), "CryptSvc")["start_mode"] == "auto"
    assert service(load(tmp_path, "av-trend"), TREND)["image_path"] != service(original("av-trend"), TREND)["image_path"]
    return tmp_path, inventory


def test_rollback_restores_the_changed_values_exactly(changed_fleet):
    directory, inventory = changed_fleet
    made = {host: backups(directory, host) for host in ("crypt-off", "av-trend")}
    changed = {host: raw(directory, host) for host in made}

    checked = run_json(inventory, ROLLBACK, "--check", "--diff")
    assert checked.returncode == 0, checked.stderr
    assert all(checked.changed(h) == 1 and raw(directory, h) == changed[h] for h in made), "check mode wrote"
    assert {h: backups(directory, h) for h in made} == made
    trend_diff = checked.results(MODULE)["av-trend"]["diff"]
    assert trend_diff[0]["after"] == f"[REG_EXPAND_SZ] {service(original('av-trend'), TREND)['image_path']['data']}\n"

    real = run_json(inventory, ROLLBACK, "--diff")
    assert real.returncode == 0, real.stderr
    results = real.results(MODULE)
    assert results["av-trend"]["diff"] == trend_diff  # check mode showed exactly this
    for host in made:
        assert real.changed(host) == 1
        assert results[host]["backup_id"] == made[host][0][:-len(".json")]
        after, before = load(directory, host), original(host)
        assert undoable_sections(after) == undoable_sections(before), host
        # The rollback saved its own backup, labelled with the backup it undid.
        record_path = results[host]["backup_path"]
        assert os.path.dirname(record_path) == os.path.join(str(directory), "backups", host)
        with open(record_path, encoding="utf-8") as handle:
            record = json.load(handle)
        assert record["label"] == {"rollback_of": results[host]["backup_id"]}
    assert service(load(directory, "crypt-off"), "CryptSvc")["start_mode"] == "disabled"
    assert service(load(directory, "av-trend"), TREND)["image_path"] == service(original("av-trend"), TREND)["image_path"]
    # CryptSvc was started: that cannot be undone, and the result says so.
    assert [e["op"]["op"] for e in results["crypt-off"]["not_undoable"]] == ["service_state"]
    assert service(load(directory, "crypt-off"), "CryptSvc")["state"] == "running"
    assert results["av-trend"]["not_undoable"] == []

    after_first = {host: raw(directory, host) for host in made}
    again = run_json(inventory, ROLLBACK)
    assert again.returncode == 0, again.stderr
    for host in made:
        assert again.changed(host) == 0 and raw(directory, host) == after_first[host]
        assert "no backup to roll back" in again.results(MODULE)[host]["msg"]
        assert len(backups(directory, host)) == 2


def test_rollback_after_a_change_by_hand_is_refused_and_writes_nothing(changed_fleet):
    directory, inventory = changed_fleet
    doc = load(directory, "av-trend")
    service(doc, TREND)["image_path"]["data"] = "C:\\Trend\\by-hand.exe /service"
    with open(os.path.join(directory, "av-trend.json"), "w", encoding="utf-8") as handle:
        json.dump(doc, handle)
    before = raw(directory, "av-trend")
    made = backups(directory, "av-trend")

    run = run_json(inventory, ROLLBACK, "--limit", "av-trend")
    result = run.results(MODULE)["av-trend"]
    assert run.returncode != 0 and run.failed("av-trend") == 1
    assert raw(directory, "av-trend") == before and backups(directory, "av-trend") == made
    assert result["changed"] is False and result["rolled_back"] == [] and result["backup_path"] is None
    assert f"{TREND}\\ImagePath" in result["msg"] and "by-hand.exe" in result["msg"]
    assert "was not rolled back: the host changed since" in result["msg"]
    assert [r["status"] for r in result["apply_results"]] == ["refused"]


def test_a_given_backup_id_and_an_unknown_one(changed_fleet):
    directory, inventory = changed_fleet
    made = backups(directory, "av-trend")[0][:-len(".json")]
    unknown = run_json(inventory, ROLLBACK, "--limit", "av-trend", "-e", "backupready_backup=20240501T100000Z-1a2b3c4d")
    assert unknown.failed("av-trend") == 1
    assert "no backup '20240501T100000Z-1a2b3c4d'" in unknown.results(MODULE)["av-trend"]["msg"]
    given = run_json(inventory, ROLLBACK, "--limit", "av-trend", "-e", f"backupready_backup={made}")
    assert given.changed("av-trend") == 1 and given.results(MODULE)["av-trend"]["backup_id"] == made
    twice = run_json(inventory, ROLLBACK, "--limit", "av-trend", "-e", f"backupready_backup={made}")
    assert twice.changed("av-trend") == 0
    assert "already rolled back" in twice.results(MODULE)["av-trend"]["msg"]


REMEDIATED = ["av-trend", "lldp", "vss-acl", "crypt-off"]


def test_a_whole_remediation_is_undone_one_rollback_at_a_time(tmp_path):
    inventory = copy_fleet(tmp_path, REMEDIATED)
    remediated = run_json(inventory, REMEDIATE)
    assert all(remediated.changed(h) >= 1 for h in REMEDIATED), remediated.data["stats"]
    assert any(undoable_sections(load(tmp_path, h)) != undoable_sections(original(h)) for h in REMEDIATED)
    for _attempt in range(5):
        run = run_json(inventory, ROLLBACK)
        assert run.returncode == 0, run.stderr
        if not any(run.changed(h) for h in REMEDIATED):
            break
    else:
        pytest.fail("rollbacks kept changing something")
    for host in REMEDIATED:
        assert undoable_sections(load(tmp_path, host)) == undoable_sections(original(host)), host
        result = run.results(MODULE)[host]
        assert "no backup to roll back" in result["msg"]
