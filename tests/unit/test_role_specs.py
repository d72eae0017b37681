"""The readiness role reads the concern roles' variables (one module plans every concern): its argument spec holds
theirs, option for option, so that Ansible validates them with its own before anything runs; and the defaults the
concern roles give are the defaults of the options the remediation module takes (the role passes what is set)."""

import os

import pytest
import yaml

from ansible_collections.backupready.windows.plugins.action.win_backup_remediate import ActionModule as Remediate

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONCERN_ROLES = {"imagepath": ["imagepath"], "systemwriter": ["systemwriter"], "filemaps": ["filemaps", "writer_access"],
                 "cryptsvc": ["cryptsvc"]}
# role variable -> the option of the remediation module it is passed to (the role's task)
RENAMED = {"filemaps_vss_access_control": ("writer_access", "vss_access_control"),
           "filemaps_service_descriptors": ("writer_access", "service_descriptors"),
           "filemaps_services": ("writer_access", "services")}


def options_of(role):
    with open(os.path.join(ROOT, "roles", role, "meta", "argument_specs.yml"), encoding="utf-8") as handle:
        return yaml.safe_load(handle)["argument_specs"]["main"]["options"]


def defaults_of(role):
    with open(os.path.join(ROOT, "roles", role, "defaults", "main.yml"), encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}


@pytest.mark.parametrize("role", sorted(CONCERN_ROLES))
def test_the_readiness_spec_holds_each_concern_role_spec_unchanged(role):
    readiness = options_of("readiness")
    for name, spec in options_of(role).items():
        if name == "backupready_plan_dir":
            continue
        assert readiness.get(name) == spec, name


@pytest.mark.parametrize("role", sorted(CONCERN_ROLES))
def test_each_concern_role_default_is_the_remediation_option_default(role):
    for name, value in defaults_of(role).items():
        concern, option = RENAMED.get(name, (role, name[len(role) + 1:]))
        spec = Remediate.ARGUMENT_SPEC[concern]["options"][option]
        expected = spec.get("default")
        # an empty string is how a role says "unset" for an option without a default (filemaps_domain_sid)
        assert value == expected or (value == "" and expected is None), (name, value, expected)


EXPECTED = {  # role variable -> (option, sub-option) of win_backup_remediate
    "readiness_fail_on": ("fail_on", None), "readiness_waivers": ("waivers", None),
    "readiness_waivers_file": ("waivers_file", None), "readiness_baseline": ("baseline", None),
    "readiness_fail_on_new_only": ("fail_on_new_only", None), "readiness_remediate": ("remediate", None),
    "readiness_fix_imagepath": ("imagepath", "enabled"), "readiness_fix_exclusions": ("systemwriter", "enabled"),
    "readiness_fix_filemaps": ("filemaps", "enabled"), "readiness_fix_cryptsvc": ("cryptsvc", "enabled"),
    "imagepath_fix": ("imagepath", "fix"), "imagepath_include": ("imagepath", "include"),
    "imagepath_exclude": ("imagepath", "exclude"), "imagepath_report_only": ("imagepath", "report_only"),
    "systemwriter_paths": ("systemwriter", "paths"), "systemwriter_state": ("systemwriter", "state"),
    "systemwriter_exclude_unreachable": ("systemwriter", "exclude_unreachable"),
    "systemwriter_include_missing_file": ("systemwriter", "include_missing_file"),
    "systemwriter_remove_invalid": ("systemwriter", "remove_invalid"),
    "systemwriter_replace_wrong_kind": ("systemwriter", "replace_wrong_kind"),
    "filemaps_scope": ("filemaps", "scope"), "filemaps_users_read": ("filemaps", "users_read"),
    "filemaps_dc_owner": ("filemaps", "dc_owner"), "filemaps_domain_sid": ("filemaps", "domain_sid"),
    "filemaps_strict_owner": ("filemaps", "strict_owner"),
    "filemaps_vss_access_control": ("writer_access", "vss_access_control"),
    "filemaps_service_descriptors": ("writer_access", "service_descriptors"),
    "filemaps_services": ("writer_access", "services"),
    "cryptsvc_start_mode": ("cryptsvc", "start_mode"), "cryptsvc_ensure_system_writer": ("cryptsvc", "ensure_system_writer"),
    "readiness_not_ready_group": ("not_ready_group", None),
}


def test_every_role_variable_reaches_the_option_it_names():
    """role_variables: each variable of the readiness role's spec, given a value of its own, arrives in the option of
    the remediation module it stands for (readiness_gate, _strict_vars and _fail_on_drift are the role's tasks')."""
    from ansible_collections.backupready.windows.plugins.action.win_backup_remediate import (
        ROLE_ONLY, ROLE_SPEC, options_from_role_variables)

    assert set(ROLE_SPEC) == set(EXPECTED) | set(ROLE_ONLY)
    for name, (option, sub) in EXPECTED.items():
        value = {"readiness_fail_on_new_only": "yes", "readiness_fail_on": "warning"}.get(name, object())
        options = options_from_role_variables({name: value})
        got = options[option] if sub is None else options[option][sub]
        assert got == (True if name == "readiness_fail_on_new_only" else value), name
    # empty: the fleet report's setting (environment, ansible.cfg) decides, as the role documents
    for name in ("readiness_fail_on", "readiness_waivers_file", "readiness_baseline", "readiness_fail_on_new_only"):
        assert EXPECTED[name][0] not in options_from_role_variables({name: ""}), name
    # writer_access runs with filemaps, unless both of its parts are off
    off = options_from_role_variables({"filemaps_vss_access_control": False, "filemaps_service_descriptors": False})
    assert off["writer_access"]["enabled"] is False
    assert options_from_role_variables({"readiness_fix_filemaps": False})["writer_access"]["enabled"] is False
    assert options_from_role_variables({})["writer_access"]["enabled"] is True


def test_the_role_runs_the_module_on_its_variables():
    """fleet.yml holds the one task; run.yml (main) imports it and adds the gate task."""
    with open(os.path.join(ROOT, "roles", "readiness", "tasks", "fleet.yml"), encoding="utf-8") as handle:
        fleet = yaml.safe_load(handle)
    (task,) = [t for t in fleet if "backupready.windows.win_backup_remediate" in t]
    assert task["backupready.windows.win_backup_remediate"] == {"role_variables": True, "select_by_tags": True}
    assert "host_changed" in task["changed_when"]
    with open(os.path.join(ROOT, "roles", "readiness", "tasks", "run.yml"), encoding="utf-8") as handle:
        run = yaml.safe_load(handle)
    assert run[0] == {"name": "Assess, remediate and verify", "ansible.builtin.import_tasks": "fleet.yml"}
    assert "ansible.builtin.assert" in run[1]
