"""win_backup_remediate through the live backend, every module call recorded: one probe (with the backups), one
paths call, one apply of every concern, one more probe only after a CryptSvc (re)start; check mode exact and writes
nothing; bad options refused before any call; phases chosen by tags exactly as Ansible chooses tasks."""

import copy
import itertools

import pytest
from ansible.errors import AnsibleActionFail

from ansible_collections.backupready.windows.plugins.action.win_backup_remediate import (
    PHASE_TAGS, ActionModule as Remediate, tags_select)
from ansible_collections.backupready.windows.plugins.plugin_utils._plan import diff_for
from ansible_collections.backupready.windows.plugins.plugin_utils._state import find_service

from fakehost import ROLE_DEFAULTS, RemediationHost as Host, make_action, remediation_host as host_with

VARS = {"inventory_hostname": "ws01"}
STATE = "backupready.windows.win_backup_state"
APPLY = "backupready.windows.win_backup_apply"


def names(host):
    return [name.rsplit(".", 1)[1] for name, _args in host.calls]


def run(host, args=None, check_mode=False, diff=False, task_vars=None):
    return make_action(Remediate, dict(args or {}), host, check_mode=check_mode, diff=diff).run(
        task_vars=dict(VARS, **(task_vars or {})))


def test_a_converged_host_costs_two_calls_and_changes_nothing():
    host = host_with()
    result = run(host)
    assert names(host) == ["win_backup_state", "win_backup_state"]
    assert result["module_calls"] == 2 and result["changed"] is False and result["ready"] is True
    assert host.calls[0][1]["backups"] == 20  # when CryptSvc was last restarted: in the probe's own call


def test_a_restart_costs_one_more_read_with_the_paths_in_the_same_call():
    host = host_with(crypt_state="stopped", start_mode="disabled")
    result = run(host)
    assert names(host) == ["win_backup_state", "win_backup_state", "win_backup_apply", "win_backup_state"]
    assert host.calls[-1][1]["gather"] is True and host.calls[-1][1].get("paths")
    assert result["changed"] is True and result["verified"] is True and result["ready"] is True
    assert result["concerns"]["cryptsvc"]["changed"] is True
    assert result["concerns"]["cryptsvc"]["cryptsvc"] == {"state": "running", "start_mode": "auto"}
    assert result["before"]["ready"] is False
    again = run(host_state_copy(host))
    assert again["module_calls"] == 2 and again["changed"] is False


def host_state_copy(host):
    return Host(copy.deepcopy(host.state))


def test_a_fix_without_a_restart_costs_three_calls_and_is_verified_on_the_prediction():
    host = host_with(quoted_driver=True)
    result = run(host)
    assert names(host) == ["win_backup_state", "win_backup_state", "win_backup_apply"]
    assert result["changed"] is True and result["verified"] is True
    assert [f["code"] for f in result["concerns"]["imagepath"]["fixed"]] == ["quoted_driver"]
    assert result["concerns"]["imagepath"]["findings"] == []
    assert not any(f["code"] == "quoted_driver" for f in result["findings"])
    assert "quoted_driver" in result["before"]["summary"]["by_code"]
    assert find_service(host.state, "qdrv")["image_path"]["data"] == "\\SystemRoot\\System32\\drivers\\qdrv.sys"


def test_check_mode_is_exact_writes_nothing_and_judges_the_host_as_it_is():
    host = host_with(crypt_state="stopped", start_mode="disabled", quoted_driver=True)
    state = copy.deepcopy(host.state)
    result = run(host, check_mode=True, diff=True)
    assert host.state == state
    assert names(host) == ["win_backup_state", "win_backup_state", "win_backup_apply"]
    assert result["changed"] is True and result["ready"] is False and result["verified"] is False
    assert [r["status"] for r in result["apply_results"]] == ["would_apply"] * len(result["operations"])
    probed = copy.deepcopy(state)
    assert result["diff"] == diff_for(probed, result["operations"])
    # the real run applies exactly the operations the dry run showed
    real = run(host_state_copy(host), diff=True)
    assert real["operations"] == result["operations"] and real["diff"] == result["diff"]


def test_a_fix_that_needs_it_restarts_cryptsvc_once_last_even_with_the_cryptsvc_concern_off():
    host = host_with(quoted_driver=False)
    host.state["vss_access_control"]["values"] = {}  # nothing there: NETWORK SERVICE is not allowed (event 8213)
    result = run(host, {"cryptsvc": {"enabled": False}})
    kinds = [op["op"] for op in result["operations"]]
    if "registry_value" not in kinds:
        pytest.skip("this state document has no VssAccessControl finding to fix")
    assert kinds[-1] == "service_state" and kinds.count("service_state") == 1
    assert result["operations"][-1]["set"] == "restarted"
    assert names(host)[-1] == "win_backup_state"  # read again after the restart


@pytest.mark.parametrize("args, message", [
    ({"filemaps": {"scope": []}}, "filemaps: scope: give at least one of"),
    ({"imagepath": {"include": []}}, "imagepath: include: give at least one service name pattern"),
    ({"writer_access": {"vss_access_control": False, "service_descriptors": False}}, "writer_access: nothing to do"),
    ({"systemwriter": {"enabled": True, "include_missing_file": True}}, "include_missing_file"),
    ({"fail_on": "fatal"}, "fail_on"),
    ({"cryptsvc": {"start_mode": "boot"}}, "start_mode"),
])
def test_a_bad_option_fails_before_any_module_call(args, message):
    host = host_with(crypt_state="stopped", quoted_driver=True)
    with pytest.raises(AnsibleActionFail) as caught:
        run(host, args)
    assert message in str(caught.value)
    assert host.calls == []


def test_a_disabled_concern_is_neither_checked_nor_planned():
    host = host_with(quoted_driver=True)
    result = run(host, {"imagepath": {"enabled": False, "include": []}})
    assert "imagepath" not in result["concerns"] and "imagepath" not in result["phases"]
    assert result["changed"] is False and any(f["code"] == "quoted_driver" for f in result["findings"])


def test_remediate_false_is_an_assessment_only():
    host = host_with(crypt_state="stopped", quoted_driver=True)
    result = run(host, {"remediate": False})
    assert names(host) == ["win_backup_state", "win_backup_state"] and result["concerns"] == {}
    assert result["phases"] == ["assess"] and result["complete"] is True and result["ready"] is False
    assert host.calls[0][1].get("backups") is None


def ansible_task(tags):
    """A task of a play loaded by Ansible, with ``tags``."""
    from ansible.parsing.dataloader import DataLoader
    from ansible.playbook.play import Play
    from ansible.vars.manager import VariableManager

    loader = DataLoader()
    play = Play.load({"hosts": "all", "gather_facts": False, "tasks": [{"ansible.builtin.debug": {}, "tags": tags}]},
                     loader=loader, variable_manager=VariableManager(loader=loader))
    return play.tasks[0].block[0]


@pytest.mark.parametrize("only", [[], ["all"], ["imagepath"], ["assess"], ["tagged"], ["untagged"], ["never"],
                                  ["verify", "filemaps"], ["other"], ["remediate"]])
@pytest.mark.parametrize("skip", [[], ["all"], ["imagepath"], ["tagged"], ["always"], ["remediate"], ["untagged"]])
def test_tags_select_as_ansible_does(only, skip):
    for size in (0, 1, 2, 3):
        for tags in itertools.combinations(["readiness", "assess", "imagepath", "always", "never", "other"], size):
            expected = ansible_task(list(tags)).evaluate_tags(only, skip, {})  # the reference: Ansible's own
            assert tags_select(set(tags), only, skip) is expected, (tags, only, skip)


@pytest.mark.parametrize("only, skip, expected", [
    (["all"], [], {"assess", "imagepath", "systemwriter", "filemaps", "writer_access", "cryptsvc", "verify"}),
    (["imagepath"], [], {"imagepath"}),
    (["assess"], [], {"assess"}),
    (["verify"], [], {"verify"}),
    (["remediate"], [], {"imagepath", "systemwriter", "filemaps", "writer_access", "cryptsvc"}),
    (["all"], ["remediate"], {"assess"}),
    (["all"], ["imagepath", "verify"], {"assess", "systemwriter", "filemaps", "writer_access", "cryptsvc"}),
    (["site"], [], set(PHASE_TAGS)),  # a tag the role was given in the play selects everything
])
def test_select_by_tags_runs_the_phases_the_role_documents(only, skip, expected):
    host = host_with()
    action = make_action(Remediate, {"select_by_tags": True, "systemwriter": {"enabled": True}}, host)
    action._task.tags = ["site", "readiness", "assess", "remediate", "verify", "imagepath", "systemwriter", "filemaps",
                         "cryptsvc"]
    result = action.run(task_vars=dict(VARS, ansible_run_tags=only, ansible_skip_tags=skip))
    if expected == {"verify"} or expected == {"assess"}:
        assert result["phases"] in (["assess"], ["verify"]) and result["complete"] is True
    else:
        assert set(result["phases"]) == expected


def test_no_phase_selected_reads_nothing_and_is_skipped():
    host = host_with(crypt_state="stopped")
    action = make_action(Remediate, {"select_by_tags": True}, host)
    action._task.tags = ["always"]
    result = action.run(task_vars=dict(VARS, ansible_run_tags=["unrelated"], ansible_skip_tags=[]))
    assert result["skipped"] is True and result["complete"] is False and host.calls == []


def test_a_failure_after_the_read_returns_the_assessment_of_the_host_as_read():
    host = host_with(crypt_state="stopped", quoted_driver=True)
    state = copy.deepcopy(host.state)
    # a path only the host's state can refuse: relative (the planner refuses it after the read)
    with pytest.raises(AnsibleActionFail) as caught:
        run(host, {"systemwriter": {"enabled": True, "paths": ["relative\\agent.exe"]}})
    result = caught.value.result
    assert result["failed"] is True and result["complete"] is True and result["verified"] is False
    assert result["ready"] is False and {f["code"] for f in result["findings"]} >= {"quoted_driver", "cryptsvc_state"}
    assert result["operations"] == [] and host.state == state
    assert "win_backup_apply" not in names(host)


def test_a_refused_apply_returns_the_assessment_and_changes_nothing():
    class Moving(Host):
        """The host changes between the read and the apply: the compare-and-swap refuses everything."""

        def execute_module(self, module_name=None, module_args=None, task_vars=None, **kwargs):
            if module_name == APPLY:
                find_service(self.state, "qdrv")["image_path"]["data"] = "\\SystemRoot\\System32\\drivers\\other.sys"
            return super().execute_module(module_name, module_args, task_vars, **kwargs)

    host = Moving(host_with(crypt_state="stopped", quoted_driver=True).state)
    result = run(host)
    assert result["failed"] is True and result["changed"] is False and result["msg"].startswith("nothing was changed")
    assert result["complete"] is True and result["ready"] is False and result["findings"]
    assert find_service(host.state, "CryptSvc")["state"] == "stopped"


def test_the_lines_and_the_verdict_are_computed_once_in_the_module():
    from ansible_collections.backupready.windows.plugins.action.win_backup_readiness_info import (
        ActionModule as ReadinessInfo)

    host = host_with(crypt_state="stopped")
    info = make_action(ReadinessInfo, {}, host).run(task_vars=VARS)
    assert info["lines"][0].startswith("NOT READY: ") and "--limit ws01" in info["lines"][-1]
    origin = info["settings"]["fail_on_origin"]  # the checkout's ansible.cfg, or the default
    assert info["verdict"].split("\n") == [f"ws01 is not ready for a System State backup at fail_on error ({origin}):",
                                           *info["lines"]]
    dry = run(host_with(crypt_state="stopped"), check_mode=True)
    assert dry["verdict"].startswith(f"{len(dry['operations'])} change(s) pending on ws01 (drift); run "
                                     "backupready.windows.remediate --check --diff to see them:\n")
    assert "without --check" in dry["lines"][-1]  # the next step after a dry run is the real run
    fixed = run(host_with(crypt_state="stopped"))
    assert fixed["ready"] is True and fixed["verdict"] == "" and fixed["lines"][0].startswith("READY: ")
    ready = make_action(ReadinessInfo, {}, host_with()).run(task_vars=VARS)
    assert ready["verdict"] == ""


# -- role_variables: the options from the readiness role's variables ----------------------------------------------

def run_role(host, check_mode=False, **variables):
    action = make_action(Remediate, {"role_variables": True}, host, check_mode=check_mode)
    return action.run(task_vars={**VARS, **ROLE_DEFAULTS, **variables})


def test_role_variables_plan_as_the_options_do():
    by_role = run_role(host_with(crypt_state="stopped", quoted_driver=True), check_mode=True)
    by_options = run(host_with(crypt_state="stopped", quoted_driver=True), check_mode=True)
    assert by_role["operations"] == by_options["operations"] and by_role["phases"] == by_options["phases"]
    off = run_role(host_with(quoted_driver=True), check_mode=True, readiness_fix_imagepath=False)
    assert "imagepath" not in off["phases"] and off["operations"] == []


@pytest.mark.parametrize("variables, message", [
    ({"filemaps_scope": ["bogus"]}, "value of filemaps_scope must be one or more of: folder, files, pending_renames"),
    ({"readiness_fail_on": "fatal"}, "value of readiness_fail_on must be one of"),
    ({"readiness_gate": "sometimes"}, "readiness_gate"),
    ({"imagepath_exclude": [{"name": "qdrv"}]}, "imagepath_exclude[0]: expected a name pattern"),
    ({"filemaps_services": [True]}, "filemaps_services[0]: expected a name pattern"),
    ({"imagepath_include": []}, "imagepath_include: give at least one service name pattern"),
    ({"filemaps_services": []}, "filemaps_services: give at least one name or pattern"),
    ({"readiness_fail_on_new_only": "maybe"}, "readiness_fail_on_new_only 'maybe' is not a boolean"),
])
def test_a_bad_role_variable_is_named_and_nothing_is_read(variables, message):
    host = host_with(crypt_state="stopped", quoted_driver=True)
    with pytest.raises(AnsibleActionFail) as caught:
        run_role(host, **variables)
    assert message in str(caught.value) and "nothing was read or changed" in str(caught.value)
    assert host.calls == []


def test_the_argument_errors_are_returned_as_ansible_returns_them():
    with pytest.raises(AnsibleActionFail) as caught:
        run_role(host_with(), filemaps_scope=["bogus"])
    assert caught.value.result["argument_errors"] == [
        "value of filemaps_scope must be one or more of: folder, files, pending_renames. Got no match for: bogus"]


def test_role_variables_take_no_other_option():
    host = host_with()
    action = make_action(Remediate, {"role_variables": True, "fail_on": "bogus"}, host)
    with pytest.raises(AnsibleActionFail) as caught:
        action.run(task_vars=dict(VARS, **ROLE_DEFAULTS))
    assert "do not give fail_on as well; nothing was read or changed" in str(caught.value) and host.calls == []


def test_an_omitted_role_variable_takes_its_default():
    # ansible-core before 2.19 leaves its omit placeholder in a templated value
    host = host_with(quoted_driver=True)
    result = run_role(host, check_mode=True, omit="__omit_place_holder__1234",
                      imagepath_include="__omit_place_holder__1234")
    assert [op["key"].rsplit("\\", 1)[1] for op in result["operations"] if op["op"] == "registry_value"] == ["qdrv"]


def test_the_drift_message_stands_without_an_assessment():
    host = host_with(quoted_driver=True)
    action = make_action(Remediate, {"role_variables": True, "select_by_tags": True}, host, check_mode=True)
    action._task.tags = ["always"]
    result = action.run(task_vars=dict(VARS, **ROLE_DEFAULTS, ansible_run_tags=["imagepath"], ansible_skip_tags=[]))
    assert result["complete"] is False and result["lines"] == ["no assessment in this run"]
    assert result["verdict"] == ("1 change(s) pending on ws01 (drift); run backupready.windows.remediate --check --diff "
                                 "to see them:\nno assessment in this run")


def test_a_failed_run_still_says_why_the_host_is_not_ready():
    with pytest.raises(AnsibleActionFail) as caught:
        run_role(host_with(crypt_state="stopped"), readiness_fix_exclusions=True, systemwriter_paths=["relative\\a.exe"])
    result = caught.value.result
    assert result["verdict"].startswith("ws01 is not ready for a System State backup:\nNOT READY: ")
    assert result["lines"][0].startswith("NOT READY: ")
