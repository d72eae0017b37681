"""The action base: probe -> plan -> apply through the live backend, counted with a recording fake of the
module calls (at most 2 per assessment, 3 per remediation, whatever the number of services), exact check
mode and diff, argument validation before any contact with the host."""

import copy

import pytest
from ansible.errors import AnsibleActionFail

from ansible_collections.backupready.windows.plugins.action.win_service_imagepath import (
    ActionModule as ServiceImagePath)
from ansible_collections.backupready.windows.plugins.action.win_writer_access import ActionModule as WriterAccess
from ansible_collections.backupready.windows.plugins.action.win_backup_readiness_info import (
    ActionModule as ReadinessInfo)
from ansible_collections.backupready.windows.plugins.plugin_utils._action import BackupReadyAction
from ansible_collections.backupready.windows.plugins.plugin_utils._plan import Plan
from ansible_collections.backupready.windows.plugins.plugin_utils._state import find_service

from fakehost import FakeHost, make_action
from statedoc import make_service, make_state


def big_state(services=1000, cryptsvc_state="running", start_mode="auto"):
    doc = make_state()
    crypt = find_service(doc, "CryptSvc")
    crypt["state"], crypt["start_mode"] = cryptsvc_state, start_mode
    for index in range(services):
        doc["services"].append(make_service(f"drv{index:04}", f"System32\\drivers\\drv{index:04}.sys", type_=1))
    return doc


class FixCryptSvc(BackupReadyAction):
    """A remediation used to exercise the base: set CryptSvc to auto and start it."""

    ARGUMENT_SPEC = {"start_mode": {"type": "str", "default": "auto", "choices": ["auto", "manual"]}}

    def plan(self, state, args):
        crypt = find_service(state, "CryptSvc")
        ops = []
        if crypt["start_mode"] != args["start_mode"]:
            ops.append({"op": "service_start_mode", "service": "CryptSvc", "expect": crypt["start_mode"],
                        "set": args["start_mode"]})
        if crypt["state"] != "running":
            ops.append({"op": "service_state", "service": "CryptSvc", "expect": crypt["state"], "set": "started"})
        return Plan(operations=ops, result={"planned": len(ops)})


VARS = {"inventory_hostname": "ws01"}


@pytest.mark.parametrize("services", [0, 10, 1000, 3000])
def test_assessment_makes_at_most_two_module_calls(services):
    host = FakeHost(big_state(services))
    result = make_action(ReadinessInfo, {"include_state": False}, host).run(task_vars=VARS)
    assert len(host.calls) <= 2
    assert [name for name, _unused in host.calls] == ["backupready.windows.win_backup_state"] * len(host.calls)
    assert result["module_calls"] == len(host.calls)
    assert result["changed"] is False and result["backend"] == "live"


@pytest.mark.parametrize("services", [0, 1000, 3000])
def test_remediation_makes_at_most_three_module_calls(services):
    host = FakeHost(big_state(services, cryptsvc_state="stopped", start_mode="disabled"))
    result = make_action(FixCryptSvc, {}, host).run(task_vars=VARS)
    assert result["changed"] is True
    names = [name.rsplit(".", 1)[1] for name, _unused in host.calls]
    assert len(names) <= 3 and names[-1] == "win_backup_apply" and names.count("win_backup_apply") == 1
    crypt = find_service(host.state, "CryptSvc")
    assert (crypt["state"], crypt["start_mode"]) == ("running", "auto")
    # A second run finds nothing to do and applies nothing.
    host.calls.clear()
    again = make_action(FixCryptSvc, {}, host).run(task_vars=VARS)
    assert again["changed"] is False
    assert "win_backup_apply" not in " ".join(name for name, _unused in host.calls)


def test_check_mode_reports_the_change_writes_nothing_and_diffs_exactly():
    state = big_state(5, cryptsvc_state="stopped", start_mode="disabled")
    host = FakeHost(state)
    result = make_action(FixCryptSvc, {}, host, check_mode=True, diff=True).run(task_vars=VARS)
    assert result["changed"] is True
    assert host.state == state  # nothing written
    assert [r["status"] for r in result["apply_results"]] == ["would_apply", "would_apply"]
    assert result["diff"] == [
        {"before_header": "service CryptSvc (start mode) (before)", "after_header": "service CryptSvc (start mode) (after)",
         "before": "disabled\n", "after": "auto\n"},
        {"before_header": "service CryptSvc (state) (before)", "after_header": "service CryptSvc (state) (after)",
         "before": "stopped\n", "after": "running\n"},
    ]
    # The real run reports the same change and the same diff.
    real = make_action(FixCryptSvc, {}, host, diff=True).run(task_vars=VARS)
    assert real["changed"] is True and real["diff"] == result["diff"]


def test_no_diff_key_without_diff_mode():
    host = FakeHost(big_state(1, cryptsvc_state="stopped"))
    result = make_action(FixCryptSvc, {}, host).run(task_vars=VARS)
    assert "diff" not in result


def test_refused_apply_fails_and_says_why():
    host = FakeHost(big_state(1, cryptsvc_state="stopped"))

    class Racing(FixCryptSvc):
        def plan(self, state, args):
            plan = super().plan(state, args)
            host.state = copy.deepcopy(host.state)
            find_service(host.state, "CryptSvc")["state"] = "paused"  # changed between probe and apply
            return plan

    result = make_action(Racing, {}, host).run(task_vars=VARS)
    assert result["failed"] is True and result["changed"] is False
    assert "nothing was changed" in result["msg"] and "found 'paused'" in result["msg"]


def test_bad_argument_fails_before_any_module_call():
    host = FakeHost(big_state(1))
    with pytest.raises(AnsibleActionFail) as info:
        make_action(FixCryptSvc, {"start_mode": "sometimes"}, host).run(task_vars=VARS)
    assert "start_mode" in str(info.value) and "sometimes" in str(info.value)
    assert host.calls == []


def test_unknown_argument_fails_naming_it():
    host = FakeHost(big_state(1))
    with pytest.raises(AnsibleActionFail, match="bogus"):
        make_action(ReadinessInfo, {"bogus": 1}, host).run(task_vars=VARS)
    assert host.calls == []


def test_invalid_state_from_the_host_fails_with_the_field():
    broken = big_state(1)
    broken["services"][1]["type"] = "driver"
    host = FakeHost(broken)
    with pytest.raises(AnsibleActionFail, match=r"ws01: win_backup_state result: field 'services\[1\].type'"):
        make_action(ReadinessInfo, {}, host).run(task_vars=VARS)


def test_module_failure_is_reported_with_the_host():
    host = FakeHost(big_state(1))
    host.execute_module = lambda **kw: {"failed": True, "msg": "Access is denied"}
    action = make_action(ReadinessInfo, {}, host)
    action._execute_module = host.execute_module
    with pytest.raises(AnsibleActionFail, match="ws01: win_backup_state failed: Access is denied"):
        action.run(task_vars=VARS)


def test_readiness_info_reports_cryptsvc_and_ready():
    host = FakeHost(big_state(3, cryptsvc_state="stopped"))
    result = make_action(ReadinessInfo, {"include_state": True}, host).run(task_vars=VARS)
    assert result["ready"] is False
    assert [f["code"] for f in result["findings"]] == ["cryptsvc_state"]
    assert result["summary"]["by_code"] == {"cryptsvc_state": 1}
    assert result["state"]["host"]["name"] == "testhost"
    relaxed = make_action(ReadinessInfo, {"fail_on": "critical", "include_state": False}, FakeHost(big_state(3, cryptsvc_state="stopped")))
    assert relaxed.run(task_vars=VARS)["ready"] is True


def test_waivers_mark_findings_and_make_the_host_ready():
    host = FakeHost(big_state(3, cryptsvc_state="stopped"))
    waivers = [{"host": "ws0*", "code": "cryptsvc_state", "reason": "maintenance window", "expires": "2999-01-01"}]
    result = make_action(ReadinessInfo, {"include_state": False, "waivers": waivers}, host).run(task_vars=VARS)
    assert result["ready"] is True and result["summary"]["waived"] == 1 and result["summary"]["blocking"] == 0
    (finding,) = result["findings"]
    assert finding["waived"] is True and finding["waiver_reason"] == "maintenance window"
    assert finding["waiver_expires"] == "2999-01-01" and finding["waiver_expired"] is None


def test_an_expired_waiver_stops_counting_and_says_when():
    host = FakeHost(big_state(3, cryptsvc_state="stopped"))
    waivers = [{"host": "*", "code": "cryptsvc_*", "reason": "old", "expires": "2020-01-31"}]
    result = make_action(ReadinessInfo, {"include_state": False, "waivers": waivers}, host).run(task_vars=VARS)
    assert result["ready"] is False
    assert result["findings"][0]["waived"] is False and result["findings"][0]["waiver_expired"] == "2020-01-31"


def test_a_waiver_for_another_host_does_not_apply():
    host = FakeHost(big_state(3, cryptsvc_state="stopped"))
    waivers = [{"host": "sql-*", "code": "cryptsvc_state", "reason": "not this host"}]
    result = make_action(ReadinessInfo, {"include_state": False, "waivers": waivers}, host).run(task_vars=VARS)
    assert result["ready"] is False and result["findings"][0]["waived"] is False


@pytest.mark.parametrize("waiver, message", [
    ({"code": "cryptsvc_state"}, "reason"),
    ({"code": "no_such_code", "reason": "x"}, "no_such_code"),
    ({"code": "cryptsvc_state", "reason": "x", "expires": "next week"}, "expires"),
    ({"code": "cryptsvc_state", "reason": "x", "colour": "red"}, "colour"),
])
def test_a_bad_waiver_fails_before_any_module_call(waiver, message):
    host = FakeHost(big_state(1))
    with pytest.raises(AnsibleActionFail, match=message):
        make_action(ReadinessInfo, {"waivers": [waiver]}, host).run(task_vars=VARS)
    assert host.calls == []


def test_waivers_file_is_read_on_the_controller_and_a_bad_one_is_named(tmp_path):
    good = tmp_path / "waivers.yml"
    good.write_text("- host: 'ws0*'\n  code: cryptsvc_state\n  reason: 'planned: CryptSvc work this week'\n")
    host = FakeHost(big_state(1, cryptsvc_state="stopped"))
    result = make_action(ReadinessInfo, {"include_state": False, "waivers_file": str(good)}, host).run(task_vars=VARS)
    assert result["ready"] is True and result["findings"][0]["waiver_reason"] == "planned: CryptSvc work this week"

    missing_host = tmp_path / "bad.yml"
    missing_host.write_text("- code: cryptsvc_state\n  reason: x\n")
    for path, message in ((tmp_path / "absent.yml", "waivers_file: cannot read"), (missing_host, "bad.yml")):
        host = FakeHost(big_state(1))
        with pytest.raises(AnsibleActionFail, match=message):
            make_action(ReadinessInfo, {"waivers_file": str(path)}, host).run(task_vars=VARS)
        assert host.calls == []


# Drill 1b of the reliability drills: arguments Ansible turned into strings that match nothing ({a: 1} became
# "{'a': 1}", null became "None") and patterns that cannot match a name ran silently, matching no service.
@pytest.mark.parametrize("action, args, message", [
    (ServiceImagePath, {"include": [{"a": 1}]}, "include[0]: expected a name pattern (a string), got a mapping"),
    (ServiceImagePath, {"exclude": ["x", ["y"]]}, "exclude[1]: expected a name pattern (a string), got a list"),
    (ServiceImagePath, {"include": ["vdrv*", True]}, "include[1]: expected a name pattern (a string), got a boolean"),
    (ServiceImagePath, {"include": ["["]}, "include[0]: '[': the '[' at character 1 opens a set that is never closed"),
    (ServiceImagePath, {"include": ["vdrv*", ""]}, "include[1]: the pattern is empty: it matches no name"),
    (ServiceImagePath, {"exclude": ["  "]}, "exclude[0]: the pattern is empty"),
    (ServiceImagePath, {"include": ["[!]x"]}, "include[0]: '[!]x': the '[' at character 1 opens a set"),
    (WriterAccess, {"services": [None]}, "services[0]: expected a name pattern (a string), got null"),
    (WriterAccess, {"services": ["MSLLDP", "a[b-"]}, "services[1]: 'a[b-': the '[' at character 2"),
])
def test_drill_1b_a_name_pattern_that_matches_nothing_fails_before_any_module_call(action, args, message):
    host = FakeHost(big_state(1))
    with pytest.raises(AnsibleActionFail) as caught:
        make_action(action, args, host).run(task_vars=VARS)
    if args.get("services") == [None] and "conversion is not allowed" in str(caught.value):
        # ansible-core 2.16's argument validation refuses a null element itself, naming the option, first.
        assert "option 'services'" in str(caught.value)
    else:
        assert str(caught.value).startswith(message)
    assert host.calls == []


@pytest.mark.parametrize("patterns", [["*"], ["[[]x]"], ["[]]*", "[!]]*", "v?rv[a-z]oot", 1394]])
def test_name_patterns_that_can_match_are_accepted(patterns):
    host = FakeHost(big_state(1))
    make_action(ServiceImagePath, {"include": patterns, "report_only": True}, host).run(task_vars=VARS)
    assert [name for name, _args in host.calls] == ["backupready.windows.win_backup_state"] * 2


def test_last_restart_reads_the_newest_backup_that_restarted_cryptsvc():
    from ansible_collections.backupready.windows.plugins.action.win_cryptsvc import last_restart

    restart = {"op": "service_state", "service": "CryptSvc", "expect": "running", "set": "none"}
    fix = {"op": "registry_value", "key": "k", "name": "n", "expect": {}, "set": {}}

    def backup(created, *undo, **extra):
        return dict({"created": created, "status": "committed", "trusted": True, "undo": list(undo), "label": {}}, **extra)
    assert last_restart([]) == (None, False)
    assert last_restart([backup("t2", restart), backup("t1", fix)]) == ("t2", True)
    assert last_restart([backup("t3", fix), backup("t2", restart)]) == ("t2", False)
    # the fixes, then the restart, in one backup (a remediation): nothing changed after that restart
    assert last_restart([backup("t2", fix, restart)]) == ("t2", True)
    assert last_restart([backup("t2", restart, fix)]) == ("t2", False)
    assert last_restart([backup("t2", restart, trusted=False)]) == (None, False)
