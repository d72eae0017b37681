"""The rollout recipe of examples/rollout runs as the README says, on copies of demo-fleet snapshots: the canary
first, the other hosts in batches, the second node of a cluster last; a canary that stays not ready stops the
whole run before any other host is touched."""

import json
import os

import pytest

from runner import ROOT, copy_fleet, run_json

pytestmark = pytest.mark.playbook

PLAYBOOK = os.path.join(ROOT, "examples", "rollout", "remediate.yml")


def with_groups(inventory: str, canary: list[str], second: list[str]) -> str:
    with open(inventory, encoding="utf-8") as handle:
        data = json.load(handle)
    data["all"]["children"] = {"backupready_canary": {"hosts": {h: {} for h in canary}},
                               "backupready_second_nodes": {"hosts": {h: {} for h in second}}}
    with open(inventory, "w", encoding="utf-8") as handle:
        json.dump(data, handle)
    return inventory


def raw(directory, host):
    return (directory / f"{host}.json").read_bytes()


def hosts_by_play(run) -> list[set]:
    return [set().union(*(task["hosts"] for task in play["tasks"])) for play in run.data["plays"]]


def test_canary_then_batches_then_second_cluster_nodes(tmp_path):
    hosts = ["crypt-off", "av-trend", "fs01", "web2025"]
    inventory = with_groups(copy_fleet(tmp_path, hosts), canary=["crypt-off"], second=["web2025"])
    run = run_json(inventory, PLAYBOOK)
    assert run.returncode == 0, run.raw + run.stderr
    plays = hosts_by_play(run)
    # play 2 runs once per batch (serial: 1, then 25% (1), then the rest): one play record per batch
    assert plays[0] == {"crypt-off"} and plays[-1] == {"web2025"}
    assert set().union(*plays[1:-1]) == {"av-trend", "fs01"} and all(len(p) == 1 for p in plays[1:-1])
    assert run.changed("crypt-off") > 0 and run.changed("av-trend") > 0


def test_a_canary_left_not_ready_stops_the_run(tmp_path):
    hosts = ["sql-node2", "av-trend", "fs01"]  # sql-node2: a binary on a volume of the other node (not fixed)
    inventory = with_groups(copy_fleet(tmp_path, hosts), canary=["sql-node2"], second=[])
    before = {h: raw(tmp_path, h) for h in ("av-trend", "fs01")}
    run = run_json(inventory, PLAYBOOK)
    assert run.returncode != 0
    assert len(run.data["plays"]) == 1 and run.failed("sql-node2") == 1
    assert {h: raw(tmp_path, h) for h in before} == before
