"""The remediation reads each host once, applies once, and reads it again only after a restart: the module calls of
every host of the demo fleet counted, end to end, for assess, remediate (dry run, first run, converged run); and the
one plan gives exactly what the concern roles, each probing and applying on its own, gave (the same bytes on disk, the
same findings after)."""

import glob
import json
import os

import pytest

from runner import FLEET, copy_fleet, playbook, run_json, run_playbook, write_inventory

pytestmark = pytest.mark.playbook

DEMO = sorted(os.path.basename(p)[:-5] for p in glob.glob(os.path.join(FLEET, "*.json")))
ASSESS = "- ansible.builtin.import_playbook: backupready.windows.assess\n"
REMEDIATE = "- ansible.builtin.import_playbook: backupready.windows.remediate\n"
WAIVERS = ("-e", "backupready_waivers_file=" + os.path.join(os.path.dirname(FLEET), "waivers.yml"))


def calls_per_host(result):
    """{host: module calls} summed over every task of the collection in the run."""
    calls = dict.fromkeys(DEMO, 0)
    for play in result.data["plays"]:
        for task in play["tasks"]:
            for host, outcome in task["hosts"].items():
                if str(outcome.get("action", "")).startswith("backupready.windows."):
                    calls[host] += int(outcome.get("module_calls") or 0)
    return calls


def snapshots(directory):
    return {host: (directory / f"{host}.json").read_bytes() for host in DEMO}


def test_the_demo_fleet_is_the_whole_demo_fleet():
    assert len(DEMO) == 17


def test_module_calls_per_host_for_assess_and_remediate_on_the_whole_demo_fleet(tmp_path):
    inventory = copy_fleet(tmp_path, DEMO)
    assess = playbook(tmp_path, "assess.yml", ASSESS)
    remediate = playbook(tmp_path, "remediate.yml", REMEDIATE)

    assessed = run_json(inventory, assess, "-e", "backupready_gate=false")
    assert assessed.returncode == 0, assessed.stderr
    assert calls_per_host(assessed) == dict.fromkeys(DEMO, 2)

    dry = run_json(inventory, remediate, "--check", *WAIVERS)
    assert dry.returncode == 0, dry.stderr
    dry_calls = calls_per_host(dry)
    pending = {h for h in DEMO if dry.changed(h)}
    # probe, paths, and the apply's check-mode validation where something is pending
    assert dry_calls == {h: 3 if h in pending else 2 for h in DEMO}
    assert len(pending) == 10

    first = run_json(inventory, remediate, *WAIVERS)
    assert first.returncode == 0, first.stderr
    first_calls = calls_per_host(first)
    changed = {h for h in DEMO if first.changed(h)}
    assert changed == pending
    results = first.results("backupready.windows.win_backup_remediate")
    restarted = {h for h in DEMO if any(op["op"] == "service_state" for op in results[h]["operations"])}
    assert restarted and restarted < changed
    # probe, paths, one apply, and one more read only after a CryptSvc (re)start
    assert first_calls == {h: 4 if h in restarted else 3 if h in changed else 2 for h in DEMO}
    assert max(first_calls.values()) <= 4

    converged = run_json(inventory, remediate, *WAIVERS)
    assert converged.returncode == 0, converged.stderr
    assert calls_per_host(converged) == dict.fromkeys(DEMO, 2)
    assert not any(converged.changed(h) for h in DEMO)
    assert all(r["ready"] for r in converged.results("backupready.windows.win_backup_remediate").values())


def test_the_gate_fails_in_a_play_of_its_own_and_a_converged_host_is_not_counted_changed(tmp_path):
    """One task per host: the hosts that do not pass are failed by the playbooks' second play, with the verdict;
    Ansible's adding a host to the group does not make a converged host count as changed (host_changed)."""
    inventory = copy_fleet(tmp_path, ["sql-node2", "av-trend", "dc01"])  # missing_volume: not fixable
    assess = playbook(tmp_path, "assess.yml", ASSESS)
    remediate = playbook(tmp_path, "remediate.yml", REMEDIATE)
    assessed = run_json(inventory, assess)
    assert assessed.returncode == 2, assessed.stderr
    assert {h: (assessed.failed(h), assessed.changed(h)) for h in ("sql-node2", "av-trend", "dc01")} == {
        "sql-node2": (1, 0), "av-trend": (1, 0), "dc01": (0, 0)}
    failed = assessed.results("Fail the host (what blocks its System State backup)")
    assert sorted(failed) == ["av-trend", "sql-node2"]
    assert failed["sql-node2"]["msg"].startswith("sql-node2 is not ready for a System State backup at fail_on error")
    # the drift gate: a host with a change pending is failed by the second play, with how many
    pending = run_json(inventory, remediate, "--check", "-e", "backupready_fail_on_drift=true")
    assert pending.returncode == 2, pending.stderr
    drifted = pending.results("Fail the host (what remains")
    assert sorted(drifted) == ["av-trend"] and drifted["av-trend"]["msg"].startswith("1 change(s) pending on av-trend")
    for run_number in (1, 2):
        remediated = run_json(inventory, remediate)
        assert remediated.returncode == 2, remediated.stderr
        assert sorted(remediated.results("Fail the host (what remains")) == ["sql-node2"]
        assert remediated.failed("sql-node2") == 1 and remediated.changed("sql-node2") == 0, run_number
        assert remediated.changed("av-trend") == (1 if run_number == 1 else 0) and remediated.failed("av-trend") == 0
    drift = run_json(inventory, remediate, "--check", "-e", "backupready_fail_on_drift=true")
    assert drift.returncode == 0, drift.stderr  # converged: nothing pending, the drift gate passes
    # the phases the tags select: an assessment gates (the second play's task runs whatever the tags), a fix alone not
    assessed_only = run_json(inventory, remediate, "--tags", "assess")
    assert assessed_only.returncode == 2 and assessed_only.failed("sql-node2") == 1, assessed_only.stderr
    fix_only = run_json(inventory, remediate, "--tags", "imagepath")
    assert fix_only.returncode == 0, fix_only.stderr
    # the playbook's variable stands for the role's; an extra variable of the role's own wins, as it always did
    assert run_json(inventory, remediate, "-e", "backupready_fail_on=critical").returncode == 0
    both = run_json(inventory, remediate, "-e", "backupready_fail_on=critical", "-e", "readiness_fail_on=error")
    assert both.returncode == 2 and both.failed("sql-node2") == 1, both.stderr


OLD_ROLE_ORDER = """- hosts: all
  gather_facts: false
  tasks:
    - ansible.builtin.include_role: {name: backupready.windows.imagepath}
    - ansible.builtin.include_role: {name: backupready.windows.filemaps}
    - ansible.builtin.meta: flush_handlers
    - ansible.builtin.include_role: {name: backupready.windows.cryptsvc}
      vars:
        cryptsvc_ensure_system_writer: "{{ [filemaps_cryptsvc_restart | default({})] | select('changed') | list | length == 0 }}"
"""


def test_one_plan_writes_what_the_concern_roles_wrote_one_after_the_other(tmp_path):
    """The concern roles in the order the readiness role used to run them (imagepath, filemaps with its handler's
    CryptSvc restart, cryptsvc), each with its own probe and apply, against the readiness role's one plan: every
    snapshot of the demo fleet ends byte for byte the same."""
    old, new = tmp_path / "old", tmp_path / "new"
    old_inventory, new_inventory = copy_fleet(old, DEMO), copy_fleet(new, DEMO)
    roles = playbook(old, "roles.yml", OLD_ROLE_ORDER)
    remediate = playbook(new, "remediate.yml", REMEDIATE)

    assert run_playbook(old_inventory, roles).returncode == 0
    one = run_json(new_inventory, remediate, *WAIVERS)
    assert one.returncode == 0, one.stderr

    written = snapshots(new)
    assert snapshots(old) == written
    with_changes = {h for h in DEMO if written[h] != open(os.path.join(FLEET, f"{h}.json"), "rb").read()}
    assert len(with_changes) == 10  # the comparison is of fixed hosts, not of untouched copies


def test_the_verification_is_what_a_fresh_assessment_finds_on_every_host(tmp_path):
    """The remediation verifies on the twin's prediction of what it wrote (or on the host read again after a
    restart): a fresh assessment of the written snapshots finds exactly the same, host by host."""
    inventory = copy_fleet(tmp_path, DEMO)
    remediate = playbook(tmp_path, "remediate.yml", REMEDIATE)
    assess = playbook(tmp_path, "assess.yml", ASSESS)
    fixed = run_json(inventory, remediate, *WAIVERS)
    assert fixed.returncode == 0, fixed.stderr
    again = run_json(inventory, assess, *WAIVERS)
    verified = fixed.results("backupready.windows.win_backup_remediate")
    fresh = again.results("backupready.windows.win_backup_readiness_info")
    keys = ("code", "subject", "severity", "message", "waived")
    for host in DEMO:
        assert [{k: f[k] for k in keys} for f in verified[host]["findings"]] == \
            [{k: f[k] for k in keys} for f in fresh[host]["findings"]], host
        assert (verified[host]["ready"], verified[host]["summary"]) == (fresh[host]["ready"], fresh[host]["summary"]), host
    assert sum(1 for h in DEMO if verified[h]["verified"]) == 10
    assert json.dumps(verified, sort_keys=True).count('"failed": true') == 0


def test_a_restart_that_did_not_bring_the_writer_back_is_not_made_again(tmp_path):
    """acl-broken: its filemaps fix and the CryptSvc restart go in one backup; here the restart leaves the System
    Writer missing (the snapshot's simulated restart reads the same writers). The next run finds that restart was the
    last change and does not restart again (restarted_without_effect), in two module calls."""
    inventory = write_inventory(str(tmp_path / "inventory.json"), {"acl-broken": "acl-broken.json"})
    with open(os.path.join(FLEET, "acl-broken.json"), encoding="utf-8") as handle:
        doc = json.load(handle)
    doc["simulation"]["on_cryptsvc_restart"]["vssadmin"] = doc["vssadmin"]  # the writer stays missing
    (tmp_path / "acl-broken.json").write_text(json.dumps(doc), encoding="utf-8")
    remediate = playbook(tmp_path, "remediate.yml", REMEDIATE)

    first = run_json(inventory, remediate, "-e", "readiness_gate=false")
    again = run_json(inventory, remediate, "-e", "readiness_gate=false")

    done = first.results("backupready.windows.win_backup_remediate")["acl-broken"]
    assert [op["op"] for op in done["operations"]][-1] == "service_state" and done["changed"]
    assert not done["ready"] and "system_writer_missing" in done["summary"]["by_code"]
    second = again.results("backupready.windows.win_backup_remediate")["acl-broken"]
    assert second["changed"] is False and second["operations"] == [] and second["module_calls"] == 2
    assert second["concerns"]["cryptsvc"]["blocked_by"] == ["restarted_without_effect"]


def test_a_fix_only_run_leaves_the_fleet_report_as_it_was(tmp_path):
    inventory = copy_fleet(tmp_path, DEMO)
    assess = playbook(tmp_path, "assess.yml", ASSESS)
    remediate = playbook(tmp_path, "remediate.yml", REMEDIATE)
    assert run_json(inventory, assess, *WAIVERS).returncode != 0  # not every host is ready: the gate fails
    report = (tmp_path / "backupready-report" / "report.json").read_bytes()
    for tags in (["--tags", "imagepath"], ["--tags", "remediate", "--check"]):
        fixed = run_json(inventory, remediate, *tags)
        assert fixed.returncode == 0, fixed.stderr
        assert "left as it was" in fixed.raw + fixed.stderr
        assert (tmp_path / "backupready-report" / "report.json").read_bytes() == report


def test_a_remediation_that_fails_after_the_read_keeps_the_host_assessment_in_the_report(tmp_path):
    inventory = copy_fleet(tmp_path, DEMO)
    remediate = playbook(tmp_path, "remediate.yml", REMEDIATE)
    # the systemwriter planner refuses a relative path after the read: nothing written, the host failed
    failed = run_json(inventory, remediate, "-l", "hv-doubled,fs01", "-e",
                      '{"readiness_fix_exclusions": true, "systemwriter_paths": ["relative\\\\agent.exe"]}')
    assert failed.returncode != 0
    with open(tmp_path / "backupready-report" / "report.json", encoding="utf-8") as handle:
        hosts = {h["name"]: h for h in json.load(handle)["hosts"]}
    assert set(hosts) == {"hv-doubled", "fs01"}
    for name in hosts:
        assert hosts[name]["assessed"] is True and "is not an absolute drive path" in (hosts[name]["error"] or ""), hosts[name]
    assert [f["code"] for f in hosts["hv-doubled"]["findings"]] == ["invalid_syntax"]
    assert snapshots(tmp_path)["hv-doubled"] == open(os.path.join(FLEET, "hv-doubled.json"), "rb").read()
