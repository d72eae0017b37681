"""The fleet report tells what the gate decides, as a user runs the playbooks on copies of the demo fleet: a rollback
leaves the assessment's report alone, fail_on and waivers given any documented way reach both the gate and the
report, a dry run is marked with its pending changes (and can gate CI on drift), a baseline splits findings into
new, resolved and unchanged (and can gate on new ones only), and the fleet summary is right under any strategy."""

import json
import os
import shutil

import pytest

from runner import ROOT, ansible_env, copy_fleet, run

pytestmark = pytest.mark.playbook

PLAYBOOKS = os.path.join(ROOT, "playbooks")
WAIVER = ("- host: sql-node2\n  code: missing_volume\n  subject: 'service:ClusSvcApp'\n"
          "  reason: 'passive cluster node (KB 980794)'\n  expires: '2099-12-31'\n")


def play(directory, name, *args, **env):
    env.setdefault("BACKUPREADY_REPORT_DIR", os.path.join(str(directory), "backupready-report"))
    return run("ansible-playbook", "-i", os.path.join(str(directory), "inventory.json"),
               os.path.join(PLAYBOOKS, f"{name}.yml"), *args, env=ansible_env(**env), cwd=str(directory))


def report(directory):
    return json.loads((directory / "backupready-report" / "report.json").read_text())


def hosts_of(doc):
    return {h["name"]: h for h in doc["hosts"]}


def test_a_rollback_does_not_overwrite_the_report_of_the_assessment(tmp_path):
    copy_fleet(tmp_path, ["av-trend", "crypt-off", "fs01"])
    fixed = play(tmp_path, "remediate")
    assert fixed.returncode == 0, fixed.stdout
    after_remediate = (tmp_path / "backupready-report" / "report.json").read_bytes()
    ready = {n: h["ready"] for n, h in hosts_of(report(tmp_path)).items()}
    assert ready == {"av-trend": True, "crypt-off": True, "fs01": True}
    rolled = play(tmp_path, "rollback")
    assert rolled.returncode == 0, rolled.stdout
    assert "no assessment ran in this playbook" in rolled.stdout and "left as it was" in rolled.stdout
    assert (tmp_path / "backupready-report" / "report.json").read_bytes() == after_remediate
    # and the next assessment tells the truth: the rollback put the defect back
    assessed = play(tmp_path, "assess", "-e", "backupready_gate=false")
    assert hosts_of(report(tmp_path))["av-trend"]["ready"] is False, assessed.stdout


def test_fail_on_from_an_extra_var_reaches_the_gate_and_the_report(tmp_path):
    copy_fleet(tmp_path, ["dev-kph"])  # a warning only: ready at error, not ready at warning
    result = play(tmp_path, "assess", "-e", "backupready_fail_on=warning")
    assert result.returncode == 2, result.stdout
    doc = report(tmp_path)
    (host,) = doc["hosts"]
    assert (host["ready"], host["gate_passed"], host["fail_on"]) == (False, False, "warning")
    assert doc["settings"]["fail_on"] == "warning" and doc["settings"]["fail_on_origin"] == "variable backupready_fail_on"
    assert doc["summary"]["not_ready"] == 1
    assert 'failures="1"' in (tmp_path / "backupready-report" / "junit.xml").read_text()


def test_fail_on_from_the_environment_reaches_the_gate_and_the_report(tmp_path):
    copy_fleet(tmp_path, ["dev-kph"])
    result = play(tmp_path, "assess", BACKUPREADY_FAIL_ON="warning")
    assert result.returncode == 2, result.stdout
    doc = report(tmp_path)
    assert doc["hosts"][0]["ready"] is False
    assert (doc["settings"]["fail_on"], doc["settings"]["fail_on_origin"]) == ("warning", "env: BACKUPREADY_FAIL_ON")


def test_remediate_reads_fail_on_from_the_environment_as_the_report_does(tmp_path):
    # The readiness role passes no fail_on of its own when none is given: its gate and the report read the same one.
    copy_fleet(tmp_path, ["dev-kph"])  # a warning only, left in place: the ImagePath fixes are switched off
    result = play(tmp_path, "remediate", "-e", "readiness_fix_imagepath=false", BACKUPREADY_FAIL_ON="warning")
    assert result.returncode == 2, result.stdout
    doc = report(tmp_path)
    assert doc["hosts"][0]["ready"] is False
    assert (doc["settings"]["fail_on"], doc["settings"]["fail_on_origin"]) == ("warning", "env: BACKUPREADY_FAIL_ON")


def ini_config(directory, extra):
    """The project's ansible.cfg with more [backupready] settings, in ``directory``."""
    text = open(os.path.join(ROOT, "ansible.cfg"), encoding="utf-8").read()
    text = text.replace("collections_path = .venv/collections", f"collections_path = {ROOT}/.venv/collections")
    text = text.replace("inventory = examples/fleet/inventory.yml", "")
    path = directory / "ansible.cfg"
    path.write_text(text + extra)
    return str(path)


@pytest.mark.parametrize("way", ["extra var", "environment", "ansible.cfg"])
def test_waivers_given_each_documented_way_reach_the_gate_and_the_report(tmp_path, way):
    copy_fleet(tmp_path, ["sql-node2", "fs01"])
    waivers = tmp_path / "waivers.yml"
    waivers.write_text(WAIVER)
    args, env = [], {}
    if way == "extra var":
        args = ["-e", "backupready_waivers_file=waivers.yml"]
    elif way == "environment":
        env = {"BACKUPREADY_WAIVERS_FILE": str(waivers)}
    else:
        env = {"ANSIBLE_CONFIG": ini_config(tmp_path, "waivers_file = ./waivers.yml\n")}
    result = play(tmp_path, "assess", *args, **env)
    assert result.returncode == 0, result.stdout  # the gate saw the waiver
    doc = report(tmp_path)
    sql = hosts_of(doc)["sql-node2"]
    assert sql["ready"] is True and sql["findings"][0]["waived"] is True
    assert sql["waived"] == [{"code": "missing_volume", "subject": "service:ClusSvcApp",
                              "reason": "passive cluster node (KB 980794)", "expires": "2099-12-31",
                              "waiver_source": str(waivers)}]
    assert doc["settings"]["waivers_files"] == [str(waivers)]
    assert doc["run"]["waivers"]["file"] == str(waivers) and doc["run"]["waivers"]["count"] == 1
    markdown = (tmp_path / "backupready-report" / "report.md").read_text()
    assert "## Waived findings (1)" in markdown and "passive cluster node (KB 980794)" in markdown


def test_a_dry_run_is_marked_and_lists_the_pending_changes(tmp_path):
    copy_fleet(tmp_path, ["av-trend", "fs01"])
    result = play(tmp_path, "remediate", "--check")
    assert result.returncode == 0, result.stdout
    doc = report(tmp_path)
    assert doc["dry_run"] is True
    hosts = hosts_of(doc)
    (change,) = hosts["av-trend"]["pending_changes"]
    assert change["module"] == "win_service_imagepath" and "TMBMServer" in change["summary"]
    assert hosts["fs01"]["pending_changes"] == []
    assert hosts["av-trend"]["ready"] is False  # the findings are the host's as it is, not as it would be
    assert "Dry run (check mode)" in (tmp_path / "backupready-report" / "report.md").read_text()
    assert "pending changes: 1 on 1 host(s): av-trend" in result.stdout


def test_the_drift_gate_fails_a_dry_run_with_pending_changes_and_passes_a_converged_fleet(tmp_path):
    copy_fleet(tmp_path, ["av-trend", "fs01"])
    drift = play(tmp_path, "remediate", "--check", "-e", "backupready_fail_on_drift=true")
    assert drift.returncode == 2, drift.stdout
    assert "change(s) pending on av-trend" in drift.stdout
    assert report(tmp_path)["settings"]["fail_on_drift"] is True
    assert play(tmp_path, "remediate").returncode == 0
    converged = play(tmp_path, "remediate", "--check", "-e", "backupready_fail_on_drift=true")
    assert converged.returncode == 0, converged.stdout
    assert all(h["pending_changes"] == [] for h in report(tmp_path)["hosts"])


def test_a_baseline_gives_new_resolved_and_unchanged_findings_and_can_gate_on_new_ones_only(tmp_path):
    copy_fleet(tmp_path, ["av-trend", "crypt-off"])
    first = play(tmp_path, "assess", "-e", "backupready_gate=false")
    assert first.returncode == 0, first.stdout
    baseline = report(tmp_path)
    before = hosts_of(baseline)
    known = before["crypt-off"]["findings"]
    assert known and before["av-trend"]["findings"]
    before["av-trend"]["findings"] = []  # av-trend's finding was not there before: it is new
    gone = dict(known[0], code="missing_file", subject="service:OldAgent")
    before["crypt-off"]["findings"] = known + [gone]  # one fixed since: resolved
    old = tmp_path / "old"
    old.mkdir()
    (old / "report.json").write_text(json.dumps(baseline))

    compared = play(tmp_path, "assess", "-e", "backupready_baseline=old/report.json", "-e", "backupready_gate=false")
    assert compared.returncode == 0, compared.stdout
    doc = report(tmp_path)
    assert doc["baseline"]["path"] == str(old / "report.json")
    assert doc["baseline"]["generated"] == baseline["run"]["finished"]
    hosts = hosts_of(doc)
    trend = hosts["av-trend"]["baseline"]
    assert [k["code"] for k in trend["new"]] == [f["code"] for f in hosts["av-trend"]["findings"]]
    assert trend["resolved"] == [] and trend["unchanged"] == []
    crypt = hosts["crypt-off"]["baseline"]
    assert crypt["new"] == [] and crypt["resolved"] == [{"code": "missing_file", "subject": "service:OldAgent"}]
    assert sorted(k["subject"] for k in crypt["unchanged"]) == sorted(f["subject"] for f in known)
    assert "Resolved since the baseline" in (tmp_path / "backupready-report" / "report.md").read_text()

    everything = play(tmp_path, "assess", "-e", "backupready_baseline=old/report.json")
    assert everything.returncode == 2 and "fatal: [crypt-off]" in everything.stdout  # known findings block too
    new_only = play(tmp_path, "assess", "-e", "backupready_baseline=old/report.json",
                    "-e", "backupready_fail_on_new_only=true")
    assert new_only.returncode == 2, new_only.stdout
    assert "fatal: [av-trend]" in new_only.stdout and "fatal: [crypt-off]" not in new_only.stdout
    doc = report(tmp_path)
    hosts = hosts_of(doc)
    assert (hosts["crypt-off"]["ready"], hosts["crypt-off"]["gate_passed"]) == (False, True)
    assert (hosts["av-trend"]["ready"], hosts["av-trend"]["gate_passed"]) == (False, False)
    assert doc["settings"]["fail_on_new_only"] is True
    junit = (tmp_path / "backupready-report" / "junit.xml").read_text()
    crypt_suite = junit.split('<testsuite name="crypt-off"')[1].split("</testsuite>")[0]
    assert 'failures="0"' in crypt_suite and "known since the baseline" in crypt_suite


@pytest.mark.parametrize("keyword", ["strategy: free", "serial: 3"])
def test_the_fleet_summary_is_printed_once_from_every_host(tmp_path, keyword):
    names = ["acl-broken", "av-trend", "crypt-off", "dc01", "dev-kph", "fs01", "web2025"]
    copy_fleet(tmp_path, names)
    text = open(os.path.join(PLAYBOOKS, "assess.yml"), encoding="utf-8").read()
    text = text.replace("  gather_facts: false\n", f"  gather_facts: false\n  {keyword}\n", 1)
    (tmp_path / "assess.yml").write_text(text)
    result = run("ansible-playbook", "-i", str(tmp_path / "inventory.json"), str(tmp_path / "assess.yml"),
                 "-e", "backupready_gate=false",
                 env=ansible_env(BACKUPREADY_REPORT_DIR=str(tmp_path / "backupready-report")), cwd=str(tmp_path))
    assert result.returncode == 0, result.stdout
    assert result.stdout.count("backupready fleet") == 1, result.stdout
    assert "hosts_checked" not in result.stdout  # no per-play summary task any more
    assert "backupready fleet: 7 hosts, 4 ready, 3 not ready, 0 not assessed" in result.stdout
    assert "  not ready: acl-broken, av-trend, crypt-off\n" in result.stdout
    assert report(tmp_path)["summary"]["hosts"] == 7


def test_report_md_lists_warnings_of_ready_hosts(tmp_path):
    copy_fleet(tmp_path, ["dev-kph", "fs01"])
    assert play(tmp_path, "assess").returncode == 0
    markdown = (tmp_path / "backupready-report" / "report.md").read_text()
    section = markdown.split("## Ready hosts with open findings below fail_on (1)")[1]
    assert "### dev-kph" in section and "**warning**" in section
    shutil.rmtree(tmp_path / "backupready-report")


def test_remediate_takes_the_baseline_and_the_new_only_gate_from_extra_vars(tmp_path):
    copy_fleet(tmp_path, ["sql-node2"])  # missing_volume: an error remediate does not fix
    assert play(tmp_path, "assess", "-e", "backupready_gate=false").returncode == 0
    old = tmp_path / "old"
    old.mkdir()
    shutil.copy(tmp_path / "backupready-report" / "report.json", old / "report.json")
    known = play(tmp_path, "remediate", "-e", "backupready_baseline=old/report.json",
                 "-e", "backupready_fail_on_new_only=true")
    assert known.returncode == 0, known.stdout
    doc = report(tmp_path)
    assert doc["settings"]["fail_on_new_only"] is True and doc["baseline"]["path"] == str(old / "report.json")
    assert hosts_of(doc)["sql-node2"]["baseline"]["unchanged"] and not hosts_of(doc)["sql-node2"]["baseline"]["new"]
    everything = play(tmp_path, "remediate", "-e", "backupready_baseline=old/report.json")
    assert everything.returncode == 2, everything.stdout


def test_the_drift_gate_runs_whatever_tags_are_chosen(tmp_path):
    copy_fleet(tmp_path, ["av-trend"])
    drift = play(tmp_path, "remediate", "--check", "--tags", "assess,remediate", "-e", "backupready_fail_on_drift=true")
    assert drift.returncode == 2, drift.stdout
    assert "change(s) pending on av-trend" in drift.stdout


def test_a_capture_ignores_the_fleet_baseline_settings(tmp_path):
    copy_fleet(tmp_path, ["fs01"])
    out = tmp_path / "captured"
    result = play(tmp_path, "capture", "-e", f"backupready_capture_dir={out}", BACKUPREADY_FAIL_ON_NEW_ONLY="true",
                  BACKUPREADY_BASELINE=str(tmp_path / "absent.json"))
    assert result.returncode == 0, result.stdout
    assert (out / "fs01.json").exists()


def test_findings_with_one_code_and_subject_are_counted_apart_against_a_baseline(tmp_path):
    # acl-broken has two filemaps_acl findings on the same files subject (bad owner, bad entries)
    copy_fleet(tmp_path, ["acl-broken"])
    assert play(tmp_path, "assess", "-e", "backupready_gate=false").returncode == 0
    old = tmp_path / "old"
    old.mkdir()
    shutil.copy(tmp_path / "backupready-report" / "report.json", old / "report.json")
    findings = hosts_of(report(tmp_path))["acl-broken"]["findings"]
    keys = [(f["code"], f["subject"].lower()) for f in findings]
    assert len(keys) > len(set(keys)), findings  # the case this test is about
    again = play(tmp_path, "assess", "-e", "backupready_baseline=old/report.json", "-e", "backupready_gate=false")
    assert again.returncode == 0, again.stdout
    compared = hosts_of(report(tmp_path))["acl-broken"]["baseline"]
    assert compared["new"] == [] and compared["resolved"] == [] and len(compared["unchanged"]) == len(findings)


def test_hosts_of_a_serial_batch_that_never_ran_are_not_assessed(tmp_path):
    # serial: 1 and the readiness role's per-host gate (the assess playbook fails hosts in a play of its own, after
    # all the batches of the first): the first batch (mars-winmad, not ready) fails, and the play stops there.
    copy_fleet(tmp_path, ["mars-winmad", "dev-kph", "fs01"])
    (tmp_path / "assess.yml").write_text(
        "- hosts: all\n  gather_facts: false\n  serial: 1\n  roles:\n"
        "    - {role: backupready.windows.readiness, readiness_remediate: false}\n")
    result = run("ansible-playbook", "-i", str(tmp_path / "inventory.json"), str(tmp_path / "assess.yml"),
                 "-l", "mars-winmad,dev-kph,fs01",
                 env=ansible_env(BACKUPREADY_REPORT_DIR=str(tmp_path / "backupready-report")), cwd=str(tmp_path))
    assert result.returncode == 2, result.stdout
    doc = report(tmp_path)
    assert doc["summary"]["hosts"] == 3, doc["summary"]
    assert doc["summary"]["not_assessed"] == 2, doc["summary"]
    assert {h["name"]: h["assessed"] for h in doc["hosts"]} == {"mars-winmad": True, "dev-kph": False, "fs01": False}
