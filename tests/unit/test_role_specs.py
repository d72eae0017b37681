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


def test_the_role_task_passes_every_concern_variable():
    with open(os.path.join(ROOT, "roles", "readiness", "tasks", "main.yml"), encoding="utf-8") as handle:
        text = handle.read()
    for role in CONCERN_ROLES:
        for name in options_of(role):
            if name != "backupready_plan_dir":
                assert "{{ " + name + " | default(omit" in text, name
