"""win_service_imagepath end to end with ansible-playbook on demo-fleet snapshots: exact --check / --diff,
fixes that keep kind and arguments, a second run that changes nothing, findings in the readiness module."""

import json
import os

import pytest

from runner import copy_fleet, playbook, run_json

pytestmark = pytest.mark.playbook

MODULE = "backupready.windows.win_service_imagepath"
INFO = "backupready.windows.win_backup_readiness_info"
BROKEN = ["mars-winmad", "av-trend", "hv-doubled", "dev-kph", "app-unquoted"]


def load(directory, host):
    with open(os.path.join(directory, f"{host}.json"), encoding="utf-8") as handle:
        return json.load(handle)


def raw(directory, host):
    with open(os.path.join(directory, f"{host}.json"), "rb") as handle:
        return handle.read()


def image_path(doc, name):
    return next(s["image_path"] for s in doc["services"] if s["name"].lower() == name.lower())


def module_playbook(directory, args="{}"):
    return playbook(directory, "pb.yml", f"- hosts: all\n  gather_facts: false\n  tasks:\n    - {MODULE}: {args}\n")


EXPECTED = {
    # host: (service, defect, fixed value, kind): the real-world cases of the demo fleet (sources: examples/fleet/README.md)
    "mars-winmad": ("WinMad", "invalid_syntax", "\\SystemRoot\\System32\\drivers\\winmad.sys", "REG_EXPAND_SZ"),
    "av-trend": ("TMBMServer", "invalid_syntax",
                 '"C:\\Program Files (x86)\\Trend Micro\\BM\\TMBMSRV.exe" /service', None),
    "hv-doubled": ("vdrvroot", "invalid_syntax", "\\SystemRoot\\System32\\drivers\\vdrvroot.sys", "REG_EXPAND_SZ"),
    "dev-kph": ("KProcessHacker3", "embedded_nul", "\\??\\C:\\Program Files\\Process Hacker 2\\kprocesshacker.sys",
                "REG_EXPAND_SZ"),
}


def test_check_mode_diff_is_exact_and_the_real_run_matches_it(tmp_path):
    inventory = copy_fleet(tmp_path, BROKEN + ["fs01"])
    pb = module_playbook(tmp_path)
    before = {h: raw(tmp_path, h) for h in BROKEN + ["fs01"]}
    checked = run_json(inventory, pb, "--check", "--diff")
    assert all(raw(tmp_path, h) == before[h] for h in before), "check mode wrote a snapshot"
    assert [checked.changed(h) for h in BROKEN] == [1] * len(BROKEN) and checked.changed("fs01") == 0
    real = run_json(inventory, pb, "--diff")
    for host in BROKEN:
        assert real.results(MODULE)[host]["diff"] == checked.results(MODULE)[host]["diff"], host
        assert real.results(MODULE)[host]["operations"] == checked.results(MODULE)[host]["operations"], host
    for host, (service, defect, fixed, kind) in EXPECTED.items():
        result = checked.results(MODULE)[host]
        row = next(r for r in result["services"] if r["service"] == service)
        assert defect in row["defects"] and row["new"] == fixed, (host, row)
        after = image_path(load(tmp_path, host), service)
        original = image_path(json.loads(before[host]), service)
        assert after == {"kind": kind or original["kind"], "data": fixed}, host
    # The NUL shows as <NUL> in the diff rather than being printed; backslashes stay single.
    assert "kprocesshacker.sys<NUL>1251;LC_MONETARY" in checked.results(MODULE)["dev-kph"]["diff"][0]["before"]

    again = run_json(inventory, pb)
    assert [again.changed(h) for h in BROKEN + ["fs01"]] == [0] * (len(BROKEN) + 1)


def test_unquoted_paths_are_quoted_keeping_arguments_and_kind(tmp_path):
    inventory = copy_fleet(tmp_path, ["app-unquoted"])
    original = load(tmp_path, "app-unquoted")
    run = run_json(inventory, module_playbook(tmp_path, "{fix: [unquoted_spaces]}"))
    assert run.changed("app-unquoted") == 1
    after = load(tmp_path, "app-unquoted")
    for row in run.results(MODULE)["app-unquoted"]["services"]:
        old, new = image_path(original, row["service"]), image_path(after, row["service"])
        assert new["kind"] == old["kind"] == "REG_SZ"
        executable, _unused, arguments = old["data"].partition(".exe")
        assert new["data"] == f'"{executable}.exe"{arguments}'


def test_report_only_and_unselected_defects_change_nothing(tmp_path):
    inventory = copy_fleet(tmp_path, ["av-trend", "app-unquoted"])
    before = {h: raw(tmp_path, h) for h in ("av-trend", "app-unquoted")}
    report = run_json(inventory, module_playbook(tmp_path, "{report_only: true}"))
    assert report.changed("av-trend") == 0 and raw(tmp_path, "av-trend") == before["av-trend"]
    assert report.results(MODULE)["av-trend"]["services"][0]["new"] is not None  # the fix it would make
    narrow = run_json(inventory, module_playbook(tmp_path, "{fix: [quoted_driver], exclude: ['TM*']}"))
    assert narrow.changed("av-trend") == 0 and narrow.changed("app-unquoted") == 0
    assert raw(tmp_path, "app-unquoted") == before["app-unquoted"]


def test_unreachable_binaries_are_reported_with_the_exclusion_path_and_never_changed(tmp_path):
    inventory = copy_fleet(tmp_path, ["sql-node2", "missing-driver"])
    before = {h: raw(tmp_path, h) for h in ("sql-node2", "missing-driver")}
    run = run_json(inventory, module_playbook(tmp_path))
    assert run.changed("sql-node2") == 0 and run.changed("missing-driver") == 0
    assert all(raw(tmp_path, h) == before[h] for h in before)
    (volume,) = run.results(MODULE)["sql-node2"]["findings"]
    assert volume["code"] == "missing_volume" and volume["severity"] == "error"
    assert volume["evidence"]["exclusion_path"] == "S:\\Program Files\\ClusSvcApp\\bin\\app.exe"
    (missing,) = run.results(MODULE)["missing-driver"]["findings"]
    assert missing["code"] == "missing_file" and missing["evidence"]["exclusion_path"].lower().endswith("ksqcraes.sys")


def test_findings_flow_into_the_readiness_module_and_an_exclusion_turns_the_error_into_a_warning(tmp_path):
    inventory = copy_fleet(tmp_path, ["sql-node2"])
    pb = playbook(tmp_path, "pb.yml", f"""
- hosts: all
  gather_facts: false
  tasks:
    - {INFO}: {{include_state: false}}
      register: before
    - backupready.windows.win_systemwriter_exclusions: {{exclude_unreachable: true}}
    - {INFO}: {{include_state: false}}
      register: after
""")
    run = run_json(inventory, pb)
    results = [task["hosts"]["sql-node2"] for task in run.data["plays"][0]["tasks"]]
    before, _unused, after = results
    assert before["ready"] is False and before["module_calls"] == 2
    assert [f["code"] for f in before["findings"]] == ["missing_volume"]
    assert after["ready"] is True
    assert [(f["code"], f["severity"], f["evidence"]["excluded"]) for f in after["findings"]] == [
        ("missing_volume", "warning", True)]
    excluded = load(tmp_path, "sql-node2")["system_writer"]["excluded_binary_paths"]["data"]
    assert excluded == ["S:\\Program Files\\ClusSvcApp\\bin\\app.exe"]
