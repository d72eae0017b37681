"""A section the probe could not read is "could not be read", never "absent" or "empty" (review item 7).

Before, a failed VssAccessControl read came back as an absent key: the check said NETWORK SERVICE was not allowed
and planned a write; a failed filemaps pass said the folder did not exist. Now the probe reports the reason, and:
one ``state_unreadable`` finding per section, no finding of the concern that needs it, no plan, and the apply step
refuses an operation on it.
"""

from __future__ import annotations

import copy

import pytest

from ansible_collections.backupready.windows.plugins.plugin_utils import _checks  # noqa: F401  # pylint: disable=unused-import
from ansible_collections.backupready.windows.plugins.plugin_utils._acl import plan_filemaps, plan_vss_access_control
from ansible_collections.backupready.windows.plugins.plugin_utils._exclusions import plan_exclusions
from ansible_collections.backupready.windows.plugins.plugin_utils._findings import assess
from ansible_collections.backupready.windows.plugins.plugin_utils._operations import VSS_ACCESS_CONTROL_KEY
from ansible_collections.backupready.windows.plugins.plugin_utils._state import validate_state
from ansible_collections.backupready.windows.plugins.plugin_utils._twin import apply_to_state
from ansible_collections.backupready.windows.plugins.plugin_utils._vss import plan_cryptsvc

from statedoc import make_state

WHY = "vss_access_control could not be read: Requested registry access is not allowed."


def unreadable_vss():
    state = make_state()
    state["vss_access_control"] = {"key_exists": None, "values": {}, "error": WHY}
    return validate_state(state, "test")


def codes(state):
    return sorted(f.code for f in assess(state))


def test_an_unreadable_key_is_said_once_and_never_taken_for_absent():
    state = unreadable_vss()
    found = [f for f in assess(state) if f.code in ("state_unreadable", "vss_access_control")]
    assert [(f.code, f.subject) for f in found] == [("state_unreadable", "state:vss_access_control")]
    assert WHY in found[0].message and found[0].fixable is False
    assert plan_vss_access_control(state) == ([], [{"target": "vss_access_control", "key": VSS_ACCESS_CONTROL_KEY,
                                                    "skipped": WHY}])


def test_the_same_key_read_as_absent_is_a_finding_and_a_fix():
    """The contrast that makes the test above able to fail: absent is something to fix."""
    state = make_state()
    state["vss_access_control"] = {"key_exists": False, "values": {}}
    assert "vss_access_control" in codes(state) and plan_vss_access_control(state)[0]


def test_the_apply_step_refuses_to_write_a_value_it_could_not_read():
    state = unreadable_vss()
    op = {"op": "registry_value", "key": VSS_ACCESS_CONTROL_KEY, "name": "NT AUTHORITY\\NETWORK SERVICE",
          "expect": {"kind": "missing", "data": None}, "set": {"kind": "REG_DWORD", "data": 1}}
    _after, outcome = apply_to_state(state, [op])
    assert outcome.refused and "could not be read on the host" in outcome.msg


def test_an_unreadable_systemwriter_key_plans_no_exclusion():
    state = make_state()
    state["system_writer"] = dict(state["system_writer"], key_exists=None, error="system_writer could not be read: x")
    validate_state(state, "test")
    assert "exclusion_invalid" not in codes(state) and "state_unreadable" in codes(state)
    plan = plan_exclusions(state, ["D:\\a\\b.exe"], "present")
    assert plan["operations"] == [] and "could not be read" in plan["errors"][0]


@pytest.mark.parametrize("section", ["filemaps", "pending_renames"])
def test_a_folder_that_could_not_be_told_is_not_called_missing(section):
    state = make_state()
    state[section] = dict(state[section], exists=None, sddl=None, error=f"{section} could not be read: denied")
    validate_state(state, "test")
    messages = " ".join(f.message for f in assess(state))
    assert "does not exist" not in messages and f"{section} could not be read: denied" in messages
    assert plan_filemaps(state)[0] == []


def test_unreadable_services_are_not_no_services():
    state = make_state()
    state["services"] = []
    state["unreadable"] = {"services": "services could not be read: access denied"}
    validate_state(state, "test")
    assert "could not be read" in plan_cryptsvc(state)["errors"][0]
    assert [f.subject for f in assess(state) if f.code == "state_unreadable"] == ["state:services"]


def test_a_failed_event_query_is_said_and_a_missing_provider_is_not():
    state = make_state()
    state["event_queries"] = [
        {"log": "Application", "provider": "VSS", "ids": [8193], "status": "failed", "count": 0, "error": "bad query"},
        {"log": "Microsoft-Windows-Backup", "provider": None, "ids": [5], "status": "no_log", "count": 0, "error": None}]
    validate_state(state, "test")
    unreadable = [f for f in assess(state) if f.code == "state_unreadable"]
    assert [f.subject for f in unreadable] == ["state:events:Application/VSS"]


def test_a_state_that_was_read_whole_has_no_such_finding():
    assert "state_unreadable" not in codes(copy.deepcopy(make_state()))
