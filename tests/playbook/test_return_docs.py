"""Every key a user-facing module returns is documented in its RETURN, checked on what the modules really return.

One playbook runs each action module on a copy of the whole demo fleet (17 snapshot hosts, each with a real-world
defect), in check mode where that plans changes, for real where only a real change gives a result to look at
(a rollback needs a backup), and with the options that make each module return everything it can. The keys of
every result, at every nesting level RETURN describes with ``contains``, must be documented.
"""

from __future__ import annotations

import os

import pytest
import yaml

from runner import FLEET, ROOT, copy_fleet, playbook, run_json

pytestmark = pytest.mark.playbook

NS = "backupready.windows."
# Keys Ansible itself defines for every task result (ansible.builtin.return_common) or adds around a module's.
STANDARD_KEYS = {"changed", "failed", "msg", "skipped", "results", "exception", "diff", "warnings", "deprecations",
                 "invocation", "action", "_ansible_no_log", "_ansible_verbose_always", "_ansible_verbose_override"}

# (task name, module, arguments, check mode). Options chosen so that every conditional key shows up somewhere.
TASKS = [
    ("readiness", "win_backup_readiness_info", {"include_state": True}, False),
    ("imagepath", "win_service_imagepath", {}, True),
    ("imagepath report", "win_service_imagepath", {"report_only": True}, False),
    ("exclusions", "win_systemwriter_exclusions", {"exclude_unreachable": True, "remove_invalid": True}, True),
    ("cryptsvc", "win_cryptsvc", {}, True),
    ("filemaps", "win_filemaps_acl", {}, True),
    ("writer access", "win_writer_access", {}, True),
    ("imagepath change", "win_service_imagepath", {}, False),
    ("rollback check", "win_backup_rollback", {}, True),
    ("rollback", "win_backup_rollback", {}, False),
    ("selftest sandbox", "win_backup_selftest_sandbox", {"run_id": "returndocs01", "state": "query"}, False),
    # not named plain "remediate": results() takes the first task whose name contains the string
    ("remediate dry run", "win_backup_remediate",
     {"systemwriter": {"enabled": True, "exclude_unreachable": True, "remove_invalid": True}}, True),
    ("remediate change", "win_backup_remediate",
     {"systemwriter": {"enabled": True, "exclude_unreachable": True, "remove_invalid": True}}, False),
]


def documented_returns(module: str) -> dict:
    path = os.path.join(ROOT, "plugins", "modules", module + ".py")
    namespace: dict = {}
    with open(path, encoding="utf-8") as handle:
        exec(compile(handle.read(), path, "exec"), namespace)  # pylint: disable=exec-used  # docs-only file
    return yaml.safe_load(namespace["RETURN"]) or {}


def undocumented(result: dict, documented: dict, prefix: str = "") -> set[str]:
    """Keys of ``result`` missing from ``documented`` (RETURN), descending into ``contains`` where RETURN has it."""
    missing = set()
    for key, value in result.items():
        if not prefix and (key in STANDARD_KEYS or key.startswith("_ansible")):
            continue
        if key not in documented:
            missing.add(prefix + key)
            continue
        contains = documented[key].get("contains")
        if not contains:
            continue
        items = value if isinstance(value, list) else [value]
        for item in items:
            if isinstance(item, dict):
                missing |= undocumented(item, contains, f"{prefix}{key}.")
    return missing


@pytest.fixture(scope="module")
def fleet_results(tmp_path_factory):
    directory = tmp_path_factory.mktemp("fleet")
    hosts = sorted(name[:-len(".json")] for name in os.listdir(FLEET) if name.endswith(".json"))
    inventory = copy_fleet(str(directory), hosts)
    tasks = "".join(
        f"    - name: {name}\n      {NS}{module}: {args}\n      check_mode: {str(check).lower()}\n"
        "      ignore_errors: true\n" for name, module, args, check in TASKS)
    run = run_json(inventory, playbook(str(directory), "all.yml", "- hosts: all\n  gather_facts: false\n  tasks:\n"
                                       + tasks))
    return {name: run.results(name) for name, *_unused in TASKS}


def test_every_module_is_exercised():
    modules = {os.path.splitext(n)[0] for n in os.listdir(os.path.join(ROOT, "plugins", "action")) if n.endswith(".py")}
    assert modules == {module for _unused, module, *_rest in TASKS}


@pytest.mark.parametrize("name, module", [task[:2] for task in TASKS])
def test_returned_keys_are_documented(fleet_results, name, module):
    documented = documented_returns(module)
    results = fleet_results[name]
    assert results, "the task ran on no host"
    missing = {}
    for host, result in results.items():
        for key in undocumented(result, documented):
            missing.setdefault(key, host)
    assert not missing, f"{module}: returned but not in RETURN: " + ", ".join(
        f"{key} (e.g. {host})" for key, host in sorted(missing.items()))


def test_the_gate_sees_an_undocumented_key():
    documented = {"findings": {"contains": {"code": {}}}, "ready": {}}
    result = {"changed": False, "ready": True, "findings": [{"code": "x", "severity": "error"}], "extra": 1}
    assert undocumented(result, documented) == {"extra", "findings.severity"}
