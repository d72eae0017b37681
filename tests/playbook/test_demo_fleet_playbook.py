"""win_backup_readiness_info with ansible-playbook on the whole demo fleet: each host gets exactly the codes
its README row documents; module_defaults through the collection's action group; capture writes snapshots."""

import json
import os
import re

import pytest

from runner import ROOT, copy_fleet, playbook, run_json

pytestmark = pytest.mark.playbook

INFO = "backupready.windows.win_backup_readiness_info"
README = os.path.join(ROOT, "examples", "fleet", "README.md")


def documented_codes():
    """{host: set(codes)} from the table of examples/fleet/README.md."""
    rows = {}
    for line in open(README, encoding="utf-8"):
        match = re.match(r"^\| `([^`]+)` \|.*\| ([^|]+) \|\s*$", line)
        if match:
            codes = set(re.findall(r"`([a-z_]+)`", match.group(2)))
            rows[match.group(1)] = codes
    return rows


def test_every_host_gets_exactly_its_documented_codes_in_two_calls_at_most(tmp_path):
    expected = documented_codes()
    assert len(expected) == 17
    inventory = copy_fleet(tmp_path, sorted(expected))
    pb = playbook(tmp_path, "pb.yml", f"""
- hosts: all
  gather_facts: false
  module_defaults:
    {INFO}:
      fail_on: critical
  tasks:
    - {INFO}:
""")
    run = run_json(inventory, pb)
    results = run.results(INFO)
    for host, codes in expected.items():
        result = results[host]
        assert "state" not in result and result["fail_on"] == "critical", "module_defaults did not apply"
        assert {f["code"] for f in result["findings"]} == codes, host
        assert result["module_calls"] <= 2 and result["backend"] == "snapshot"
        assert result["ready"] == (not any(f["severity"] == "critical" for f in result["findings"])), host


def test_capture_writes_one_loadable_snapshot_per_host(tmp_path):
    from ansible_collections.backupready.windows.plugins.plugin_utils._state import load_state_file

    hosts = ["fs01", "dev-kph", "sql-node2"]
    inventory = copy_fleet(tmp_path, hosts)
    out = tmp_path / "captured"
    run = run_json(inventory, os.path.join(ROOT, "playbooks", "capture.yml"), "-e", f"backupready_capture_dir={out}")
    assert run.returncode == 0, run.raw
    for host in hosts:
        captured = load_state_file(str(out / f"{host}.json"))
        original = json.loads((tmp_path / f"{host}.json").read_text())
        assert captured["services"] == original["services"]  # the NUL of dev-kph included
        assert captured["host"] == original["host"]
        assert captured["paths"] and all(captured["paths"][p] == v for p, v in original["paths"].items())
