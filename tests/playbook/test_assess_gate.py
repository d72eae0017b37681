"""The assess playbook as CI uses it: exit code, waivers from a file, and the report's agreement with the gate."""

import json
import os

import pytest

from runner import ROOT, copy_fleet, run

pytestmark = pytest.mark.playbook

ASSESS = os.path.join(ROOT, "playbooks", "assess.yml")


def assess(inventory, directory, *args, **env):
    from runner import ansible_env

    return run("ansible-playbook", "-i", inventory, ASSESS, *args, env=ansible_env(**env), cwd=str(directory))


def test_exit_code_follows_readiness_and_the_report_agrees(tmp_path):
    inventory = copy_fleet(tmp_path, ["fs01", "sql-node2"])
    failing = assess(inventory, tmp_path)
    assert failing.returncode == 2, failing.stdout
    report = json.loads((tmp_path / "backupready-report" / "report.json").read_text())
    assert {h["name"]: h["ready"] for h in report["hosts"]} == {"fs01": True, "sql-node2": False}

    waivers = tmp_path / "waivers.yml"
    waivers.write_text("- host: sql-node2\n  code: missing_volume\n  reason: 'passive node (KB 980794)'\n")
    passing = assess(inventory, tmp_path, BACKUPREADY_WAIVERS_FILE=str(waivers))
    assert passing.returncode == 0, passing.stdout
    report = json.loads((tmp_path / "backupready-report" / "report.json").read_text())
    (finding,) = next(h for h in report["hosts"] if h["name"] == "sql-node2")["findings"]
    assert finding["waived"] is True and finding["waiver_reason"] == "passive node (KB 980794)"
    junit = (tmp_path / "backupready-report" / "junit.xml").read_text()
    assert 'failures="0"' in junit


def test_gate_off_and_fail_on_critical(tmp_path):
    inventory = copy_fleet(tmp_path, ["sql-node2"])
    assert assess(inventory, tmp_path, "-e", "backupready_gate=false").returncode == 0
    assert assess(inventory, tmp_path, "-e", "backupready_fail_on=critical").returncode == 0
    assert assess(inventory, tmp_path, "-e", "backupready_fail_on=warning").returncode == 2


def test_check_mode_assessment_is_the_same(tmp_path):
    inventory = copy_fleet(tmp_path, ["sql-node2"])
    result = assess(inventory, tmp_path, "--check")
    assert result.returncode == 2 and "missing_volume" in result.stdout
