"""The molecule `windows` scenario stays consistent with what it runs (it cannot run here: it needs Windows hosts).

converge imports backupready.windows.selftest, verify runs every integration target as a role from the roles path
molecule.yml sets, and both pass ansible-playbook's syntax check with that roles path and the checkout's collection.
"""

from __future__ import annotations

import os
import sys

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "playbook"))

from runner import ROOT, ansible_env, run  # noqa: E402  pylint: disable=wrong-import-position

SCENARIO = os.path.join(ROOT, "extensions", "molecule", "windows")
TARGETS = os.path.join(ROOT, "tests", "integration", "targets")


def _yaml(name: str):
    with open(os.path.join(SCENARIO, name), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def test_the_scenario_names_playbooks_that_exist_and_the_targets_roles_path():
    config = _yaml("molecule.yml")
    for step, name in config["ansible"]["playbooks"].items():
        assert os.path.isfile(os.path.join(SCENARIO, name)), step
    assert config["ansible"]["env"]["ANSIBLE_ROLES_PATH"] == "${MOLECULE_PROJECT_DIRECTORY}/tests/integration/targets"
    sequence = config["scenario"]["test_sequence"]
    assert sequence.index("create") < sequence.index("converge") < sequence.index("verify")
    assert "idempotence" not in sequence  # each self-test run makes and removes its own sandbox


def test_converge_is_the_selftest_and_verify_runs_every_target():
    converge = _yaml("converge.yml")
    assert [play.get("ansible.builtin.import_playbook") for play in converge] == ["backupready.windows.selftest"]
    assert os.path.isfile(os.path.join(ROOT, "playbooks", "selftest.yml"))
    assert "BACKUPREADY_SELFTEST_CONFIRM" in converge[0]["vars"]["backupready_selftest_confirm"]
    targets = sorted(name for name in os.listdir(TARGETS) if not name.startswith("setup_"))
    verify = _yaml("verify.yml")
    assert sorted(verify[0]["tasks"][0]["loop"]) == targets


def test_both_playbooks_pass_the_syntax_check():
    env = ansible_env(ANSIBLE_ROLES_PATH=TARGETS)
    for name in ("converge.yml", "verify.yml", "create.yml", "destroy.yml"):
        completed = run("ansible-playbook", "--syntax-check", "-i", "localhost,", os.path.join(SCENARIO, name), env=env)
        assert completed.returncode == 0, name + completed.stdout + completed.stderr


def test_the_readme_documents_the_inventory_and_the_confirm():
    with open(os.path.join(ROOT, "extensions", "molecule", "README.md"), encoding="utf-8") as handle:
        text = handle.read()
    section = text.split("## `windows`", 1)[1]
    for needed in ("BACKUPREADY_MOLECULE_INVENTORY", "BACKUPREADY_SELFTEST_CONFIRM", "backupready.windows.selftest",
                   "tests/integration/targets", "ansible_connection"):
        assert needed in section, needed
