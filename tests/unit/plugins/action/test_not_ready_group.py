"""not_ready_group and the playbooks' variables: a host that does not pass the gate is added to a group (as
group_by adds it) for a later play to fail, exactly when the gate task of the readiness role would fail it; the
options come from the playbook's variables without a template per option, and a bad one is refused naming it."""

import pytest
from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.plugins.action import ActionBase

from ansible_collections.backupready.windows.plugins.action.win_backup_readiness_info import (
    ActionModule as ReadinessInfo)
from ansible_collections.backupready.windows.plugins.action.win_backup_remediate import ActionModule as Remediate

from fakehost import ROLE_DEFAULTS, make_action, remediation_host as host_with

VARS = {"inventory_hostname": "ws01"}

INFO = "backupready.windows.win_backup_readiness_info"


def assess(host, args, **variables):
    action = make_action(ReadinessInfo, dict({"include_state": False}, **args), host, action=INFO)
    return action.run(task_vars={**VARS, **variables})


def test_a_host_that_does_not_pass_is_added_to_the_group_as_group_by_adds_it():
    action = make_action(ReadinessInfo, {"include_state": False, "not_ready_group": "nr"}, host_with(quoted_driver=True),
                         action=INFO)
    result = action.run(task_vars=dict(VARS))  # quoted_driver: an error
    assert result["gate_passed"] is False
    # before ansible-core 2.21 the strategy reads the result's add_group; from 2.21 the action adds the host itself
    assert (result["add_group"], result["parent_groups"], result["not_ready_group"]) == ("nr", ["all"], "nr")
    assert action.groups_added == ([("nr", ["all"])] if hasattr(ActionBase, "add_group") else [])
    assert result["host_changed"] is False and result["changed"] is False
    ready = make_action(ReadinessInfo, {"include_state": False, "not_ready_group": "nr"}, host_with(), action=INFO)
    result = ready.run(task_vars=dict(VARS))
    assert result["gate_passed"] is True and "add_group" not in result and result["not_ready_group"] == "nr"
    assert ready.groups_added == [] and result["host_changed"] is False
    plain = assess(host_with(quoted_driver=True), {})
    assert "add_group" not in plain and "not_ready_group" not in plain


def test_playbook_variables_are_the_options_and_say_where_they_came_from():
    result = assess(host_with(quoted_driver=True), {"playbook_variables": True, "not_ready_group": "nr"},
                    backupready_fail_on="critical", backupready_waivers_file="", backupready_baseline="")
    assert result["fail_on"] == "critical" and result["gate_passed"] is True and "add_group" not in result
    assert result["settings"]["fail_on_origin"] == "variable backupready_fail_on"
    waived = assess(host_with(quoted_driver=True), {"playbook_variables": True},
                    backupready_waivers=[{"code": "quoted_driver", "reason": "known", "expires": "2999-01-01"}])
    assert waived["gate_passed"] is True
    assert waived["waived"][0]["waiver_source"] == "variable backupready_waivers"


def test_the_gate_variable_off_adds_no_host():
    result = assess(host_with(quoted_driver=True), {"playbook_variables": True, "not_ready_group": "nr"},
                    backupready_gate=False)
    assert result["gate_passed"] is False and "add_group" not in result
    # as the playbook's "| bool" read it: not a true word is false
    lenient = assess(host_with(quoted_driver=True), {"playbook_variables": True, "not_ready_group": "nr"},
                     backupready_gate="maybe")
    assert "add_group" not in lenient
    unset = assess(host_with(quoted_driver=True), {"playbook_variables": True, "not_ready_group": "nr"},
                   backupready_gate=None, backupready_fail_on=None, backupready_waivers=None)
    assert unset["add_group"] == "nr" and unset["fail_on"] == "error"


@pytest.mark.parametrize("variables, message", [
    ({"backupready_fail_on": "fatal"}, "value of backupready_fail_on must be one of"),
    ({"backupready_fail_on": "baseline"}, "got: baseline"),  # the value as given, not renamed
    ({"backupready_fail_on_new_only": "maybe"}, "backupready_fail_on_new_only"),
    ({"backupready_waivers": "all"}, "backupready_waivers"),
])
def test_a_bad_playbook_variable_is_named_and_nothing_is_read(variables, message):
    host = host_with()
    with pytest.raises(AnsibleActionFail) as caught:
        assess(host, {"playbook_variables": True}, **variables)
    assert message in str(caught.value) and "nothing was read" in str(caught.value)
    assert host.calls == []


def test_playbook_variables_take_no_option_they_stand_for():
    host = host_with()
    with pytest.raises(AnsibleActionFail, match="do not give fail_on as well"):
        assess(host, {"playbook_variables": True, "fail_on": "error"})
    assert host.calls == []


# -- the remediation: what the readiness role's gate task decides ---------------------------------------------------

ADDS_ITSELF = hasattr(ActionBase, "add_group")  # ansible-core 2.21+: the action adds the host, not the strategy


def remediate(host, check_mode=False, **variables):
    action = make_action(Remediate, {"role_variables": True}, host, check_mode=check_mode)
    result = action.run(task_vars={**VARS, **ROLE_DEFAULTS, "readiness_not_ready_group": "nr", **variables})
    assert action.groups_added == ([("nr", ["all"])] if ADDS_ITSELF and "add_group" in result else [])
    return result


def test_a_host_left_not_ready_is_added_and_keeps_whether_it_changed():
    # the quoted driver is not fixed (imagepath off): not ready after the run
    result = remediate(host_with(crypt_state="stopped", quoted_driver=True), readiness_fix_imagepath=False)
    assert result["changed"] is True and result["gate_passed"] is False
    assert result["add_group"] == "nr" and result["host_changed"] is True and result["fails_gate"] is True
    fixed = remediate(host_with(quoted_driver=True))
    assert fixed["fails_gate"] is False
    assert fixed["gate_passed"] is True and "add_group" not in fixed and fixed["not_ready_group"] == "nr"
    gate_off = remediate(host_with(quoted_driver=True), readiness_fix_imagepath=False, readiness_gate=False)
    assert gate_off["gate_passed"] is False and "add_group" not in gate_off and gate_off["fails_gate"] is False


def test_in_check_mode_only_the_drift_gate_adds_a_host():
    pending = remediate(host_with(quoted_driver=True), check_mode=True)
    assert pending["changed"] is True and "add_group" not in pending  # the gate is off in check mode
    assert pending["fails_gate"] is False
    drift = remediate(host_with(quoted_driver=True), check_mode=True, readiness_fail_on_drift=True)
    assert drift["add_group"] == "nr" and drift["host_changed"] is True and drift["fails_gate"] is True
    assert drift["verdict"].startswith("1 change(s) pending on ws01 (drift)")
    converged = remediate(host_with(), check_mode=True, readiness_fail_on_drift=True)
    assert converged["changed"] is False and "add_group" not in converged


def test_the_remediate_playbook_s_variables_stand_for_the_role_s():
    # readiness_playbook_variables: backupready_* wins over readiness_*; unset, the role variable's default
    host = host_with(quoted_driver=True)
    result = remediate(host, check_mode=True, readiness_playbook_variables=True, readiness_fail_on="info",
                       backupready_fail_on="critical", backupready_fail_on_drift=True)
    assert result["fail_on"] == "critical" and result["add_group"] == "nr"
    unset = remediate(host_with(quoted_driver=True), check_mode=True, readiness_playbook_variables=True,
                      readiness_fail_on="info", readiness_fail_on_drift=True)
    assert unset["fail_on"] == "error" and "add_group" not in unset
    with pytest.raises(AnsibleActionFail, match="value of readiness_fail_on must be one of"):
        remediate(host_with(), readiness_playbook_variables=True, backupready_fail_on="fatal")
    nulls = remediate(host_with(quoted_driver=True), check_mode=True, readiness_playbook_variables=True,
                      backupready_fail_on=None, backupready_fail_on_drift=None)
    assert nulls["fail_on"] == "error" and "add_group" not in nulls


def test_an_extra_variable_of_the_role_wins_over_the_playbook_s(monkeypatch):
    import ansible_collections.backupready.windows.plugins.action.win_backup_remediate as module

    monkeypatch.setattr(module, "extra_variable_names", lambda: frozenset({"readiness_fail_on"}))
    result = remediate(host_with(quoted_driver=True), check_mode=True, readiness_playbook_variables=True,
                       readiness_fail_on="critical", backupready_fail_on="info")
    assert result["fail_on"] == "critical"


def test_a_failed_remediation_adds_no_host():
    # a failure after the read keeps the assessment (not ready), but the task failed: the play fails it already
    host = host_with(crypt_state="stopped", quoted_driver=True)
    action = make_action(Remediate, {"role_variables": True}, host)
    with pytest.raises(AnsibleActionFail) as caught:
        action.run(task_vars={**VARS, **ROLE_DEFAULTS, "readiness_not_ready_group": "nr",
                              "systemwriter_paths": ["relative\\agent.exe"], "readiness_fix_exclusions": True})
    result = caught.value.result
    assert result["failed"] is True and result["ready"] is False
    assert "add_group" not in result and action.groups_added == []


class Templar:
    """Templates like Ansible's: a value with a template in it is resolved from ``values``, one that names an
    undefined variable fails."""

    def __init__(self, values):
        self.values = values

    def template(self, data):
        if isinstance(data, dict):
            return {key: self.template(value) for key, value in data.items()}
        if isinstance(data, str) and data.startswith("{{"):
            name = data.strip("{} ")
            if name not in self.values:
                raise AnsibleError(f"'{name}' is undefined")
            return self.values[name]
        return data


def test_a_variable_that_cannot_be_templated_is_named_and_omit_leaves_an_option_unset():
    host = host_with(quoted_driver=True)
    action = make_action(ReadinessInfo, {"include_state": False, "playbook_variables": True}, host, action=INFO)
    action._templar = Templar({"level": "critical"})
    with pytest.raises(AnsibleActionFail) as caught:
        action.run(task_vars={**VARS, "backupready_fail_on": "{{ level }}", "backupready_baseline": "{{ nowhere }}"})
    assert str(caught.value).startswith("backupready_baseline: 'nowhere' is undefined; nothing was read")
    assert host.calls == []
    omit = "__omit_place_holder__1234"  # ansible-core before 2.19 leaves it where omit was used
    result = action.run(task_vars={**VARS, "omit": omit, "backupready_fail_on": omit + "x",
                                   "backupready_waivers": "{{ level }}" and []})
    assert result["fail_on"] == "error" and result["settings"]["fail_on_origin"] != "variable backupready_fail_on"
    templated = action.run(task_vars={**VARS, "backupready_fail_on": "{{ level }}"})
    assert templated["fail_on"] == "critical" and templated["gate_passed"] is True
