# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The settings the assessment and the fleet report share (fail_on, waivers_file, baseline, fail_on_new_only).

They are options of the ``backupready.windows.readiness_report`` callback (``BACKUPREADY_*`` environment
variables, ``[backupready]`` in ansible.cfg). ``win_backup_readiness_info`` reads them through Ansible's own
configuration manager when its task does not set the option, so the gate and the report use one value whatever
way it is given; the result records the value and where it came from, and the report judges from the result.
"""

from __future__ import annotations

from typing import Any

CALLBACK = "backupready.windows.readiness_report"


def describe_origin(origin: Any, key: str) -> str:
    """Ansible's origin of a setting, as a person reads it: ``env: NAME``, ``ini: <file> [backupready] key``."""
    origin = str(origin or "default")
    if origin == "default" or origin.startswith(("env:", "var:", "keyword:", "cli:")):
        return origin
    return f"ini: {origin} [backupready] {key}"


def load_definitions() -> None:
    """Make the callback's option definitions known to Ansible's configuration under ``CALLBACK`` (once a process).

    The plugin loader registers an enabled callback's definitions under its Python module name, so they are looked
    up under that name first; otherwise (the callback is not enabled) they are parsed from its documentation. Called
    at load time, in the controller, so that the workers Ansible forks inherit them instead of parsing the YAML for
    every host.
    """
    from ansible import constants as C  # pylint: disable=import-outside-toplevel

    if C.config.get_configuration_definitions("callback", CALLBACK):
        return
    from ansible_collections.backupready.windows.plugins.callback import readiness_report  # pylint: disable=import-outside-toplevel

    options = C.config.get_configuration_definitions("callback", readiness_report.__name__)
    if not options:
        import yaml  # pylint: disable=import-outside-toplevel

        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when PyYAML has it: ten times faster
        options = yaml.load(readiness_report.DOCUMENTATION, Loader=loader)["options"]  # nosec: a safe loader
    C.config.initialize_plugin_configuration_definitions("callback", CALLBACK, options)


def report_setting(key: str) -> tuple[Any, str]:
    """The value of the report callback's option ``key`` from the environment or ansible.cfg, and its origin.

    The callback need not be enabled: its option definitions are loaded from the collection when missing.
    """
    from ansible import constants as C  # pylint: disable=import-outside-toplevel

    if key not in (C.config.get_configuration_definitions("callback", CALLBACK) or {}):
        load_definitions()
    value, origin = C.config.get_config_value_and_origin(key, plugin_type="callback", plugin_name=CALLBACK)
    if isinstance(value, str):
        value = str(value)  # ansible-core 2.19 tags values from the environment
    return value, describe_origin(origin, key)
