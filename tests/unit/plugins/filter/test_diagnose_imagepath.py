"""The ``backupready.windows.diagnose_imagepath`` filter: from Python, through the filter loader, and in a template."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest
from ansible.errors import AnsibleFilterError
from ansible.plugins.loader import filter_loader

from ansible_collections.backupready.windows.plugins.filter.diagnose_imagepath import FilterModule

DOUBLED = "\\Systemroot\\Systemroot\\System32\\drivers\\vdrvroot.sys"  # systeminformer#1371
KPH = "\\??\\C:\\Program Files\\Process Hacker 2\\kprocesshacker.sys"  # systeminformer#111
FIELDS = {"defects", "writer_path", "fixed_value", "notes", "executable", "arguments", "exclusion_path",
          "service_type", "reasons"}


def diagnose_imagepath(*args, **kwargs):
    return FilterModule().filters()["diagnose_imagepath"](*args, **kwargs)


def test_filter_returns_the_documented_fields():
    result = diagnose_imagepath(DOUBLED, service_type="driver")
    assert set(result) == FIELDS
    assert result["defects"] == ["invalid_syntax"]
    assert result["fixed_value"] == "\\SystemRoot\\System32\\drivers\\vdrvroot.sys"
    assert result["writer_path"] == "C:\\Windows\\systemroot\\system32\\drivers\\vdrvroot.sys"
    json.dumps(result)


def test_a_fine_value_has_no_defect_and_no_fix():
    result = diagnose_imagepath("%SystemRoot%\\System32\\svchost.exe -k netsvcs -p", kind="REG_EXPAND_SZ")
    assert (result["defects"], result["fixed_value"], result["service_type"]) == ([], None, "win32")
    assert result["arguments"] == " -k netsvcs -p"


def test_volumes_null_means_no_missing_volume_verdict():
    value = '"X:\\Program Files (x86)\\Microsoft\\EdgeUpdate\\MicrosoftEdgeUpdate.exe" /svc'
    assert diagnose_imagepath(value)["defects"] == []
    result = diagnose_imagepath(value, volumes=["C:", "D:"], service_type="win32")
    assert result["defects"] == ["missing_volume"]
    assert result["exclusion_path"] == "X:\\Program Files (x86)\\Microsoft\\EdgeUpdate\\MicrosoftEdgeUpdate.exe"


def test_service_type_is_inferred_and_case_insensitive():
    assert diagnose_imagepath('"C:\\dir\\x.sys"')["defects"] == ["quoted_driver"]
    assert diagnose_imagepath('"C:\\dir\\x.sys"', service_type="Driver")["service_type"] == "driver"


def test_empty_driver_uses_the_service_name():
    result = diagnose_imagepath("", service_type="driver", service_name="ksqcraes")
    assert result["writer_path"] == "C:\\Windows\\System32\\Drivers\\ksqcraes.SYS"


@pytest.mark.parametrize("args, kwargs, argument", [
    (("x",), {"service_type": "foo"}, "service_type"),
    ((42,), {}, "value"),
    ((None,), {}, "value"),
    (("x",), {"kind": "REG_DWORD"}, "kind"),
    (("x",), {"volumes": "C:"}, "volumes"),
    (("x",), {"volumes": ["C:", 3]}, "volumes"),
])
def test_bad_arguments_raise_a_filter_error_naming_them(args, kwargs, argument):
    with pytest.raises(AnsibleFilterError, match=f"diagnose_imagepath: {argument}:"):
        diagnose_imagepath(*args, **kwargs)


def test_through_ansibles_filter_loader():
    plugin = filter_loader.get("backupready.windows.diagnose_imagepath")
    assert plugin is not None
    function = getattr(plugin, "j2_function", plugin)  # ansible-core 2.19 wraps the function
    result = function(KPH + "\x00" + "1251;LC_MONETARY=Russian_Russia.1251", service_type="driver")
    assert result["defects"] == ["embedded_nul"] and result["fixed_value"] == KPH


def run_adhoc(repo_root, tmp_path, value, expression):
    ansible = os.path.join(repo_root, ".venv", "bin", "ansible")
    if not os.path.exists(ansible):
        ansible = shutil.which("ansible")
    if ansible is None:
        pytest.fail("the ansible command is not installed in .venv")
    extra = tmp_path / "vars.json"
    extra.write_text(json.dumps({"value": value}), encoding="utf-8")
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(repo_root, ".venv", "collections"),
               ANSIBLE_CALLBACK_RESULT_FORMAT="json", ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="0",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="0")
    return subprocess.run(
        [ansible, "localhost", "-i", "localhost,", "-c", "local", "-m", "ansible.builtin.debug",
         "-a", f'msg="{{{{ {expression} }}}}"', "-e", f"@{extra}"],
        capture_output=True, text=True, env=env, timeout=120, check=False, cwd=str(tmp_path))


def test_renders_in_a_template_run_by_ansible(repo_root, tmp_path):
    completed = run_adhoc(repo_root, tmp_path, DOUBLED,
                          "value | backupready.windows.diagnose_imagepath(service_type='driver')")
    assert completed.returncode == 0, completed.stdout + completed.stderr
    payload = json.loads(completed.stdout.split("=>", 1)[1])
    assert payload["msg"]["defects"] == ["invalid_syntax"]
    assert payload["msg"]["fixed_value"] == "\\SystemRoot\\System32\\drivers\\vdrvroot.sys"


def test_a_bad_argument_fails_the_task_with_its_name(repo_root, tmp_path):
    completed = run_adhoc(repo_root, tmp_path, DOUBLED,
                          "value | backupready.windows.diagnose_imagepath(service_type='foo')")
    assert completed.returncode != 0
    assert "service_type: expected 'driver', 'win32' or null" in completed.stdout + completed.stderr
