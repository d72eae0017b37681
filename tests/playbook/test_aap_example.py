"""The AWX / Automation Platform job template playbook of examples/aap runs as the README says: the fleet summary
reaches the job's stats (set_stats), the report lands in BACKUPREADY_REPORT_DIR, and the job fails when a host is
not ready. Run on a copy of the demo fleet, with the callback enabled as the job template's environment would."""

import json
import os
import re

import pytest

from runner import ROOT, copy_fleet, run, ansible_env

pytestmark = pytest.mark.playbook

PLAYBOOK = os.path.join(ROOT, "examples", "aap", "assess.yml")


def custom_stats(stdout: str) -> dict:
    """The CUSTOM STATS section the default callback prints with ANSIBLE_SHOW_CUSTOM_STATS."""
    match = re.search(r"CUSTOM STATS: \*+\s*\n\s*RUN: (\{.*\})\s*$", stdout, re.MULTILINE)
    assert match, stdout[-2000:]
    return json.loads(match.group(1))


@pytest.mark.parametrize("hosts, ready", [(["fs01", "web2025"], True), (["fs01", "crypt-off", "av-trend"], False)])
def test_job_keeps_the_summary_and_the_report_and_fails_when_not_ready(tmp_path, hosts, ready):
    inventory = copy_fleet(tmp_path / "fleet", hosts)
    mounted = tmp_path / "mounted" / "reports"
    env = ansible_env(ANSIBLE_SHOW_CUSTOM_STATS="true", ANSIBLE_STDOUT_CALLBACK="default",
                      ANSIBLE_CALLBACK_RESULT_FORMAT="json", BACKUPREADY_REPORT_DIR=str(mounted))
    result = run("ansible-playbook", "-i", inventory, PLAYBOOK, env=env, cwd=str(tmp_path))
    assert (result.returncode == 0) == ready, result.stdout + result.stderr
    summary = custom_stats(result.stdout)["backupready_summary"]
    assert summary["hosts_checked"] == len(hosts)
    assert (summary["hosts_ready"] == len(hosts)) == ready
    report = json.loads((mounted / "report.json").read_text(encoding="utf-8"))
    assert sorted(h["name"] for h in report["hosts"]) == sorted(hosts)
