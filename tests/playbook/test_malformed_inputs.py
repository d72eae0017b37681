"""Malformed inputs end in a message naming the file and the field, never a Python exception, and change no byte:
end to end with ansible-playbook on copies of demo-fleet snapshots (drills 1a, 1b and 6D of the reliability
drills: a case there is held when the run names the problem and every file of the fleet copy is unchanged)."""

import hashlib
import json
import os
import re

import pytest

from runner import FLEET, copy_fleet, playbook, run, ansible_env, run_json

pytestmark = pytest.mark.playbook

SECRET = "S3cret-LEAK-991"


def tree(directory):
    """sha256 of every file under ``directory`` (snapshots, backups, anything written), the report aside."""
    found = {}
    for folder, dirs, files in os.walk(directory):
        dirs[:] = [d for d in dirs if d != "backupready-report"]
        for name in files:
            path = os.path.join(folder, name)
            with open(path, "rb") as handle:
                found[os.path.relpath(path, directory)] = hashlib.sha256(handle.read()).hexdigest()
    return found


def hv_doubled_text():
    with open(os.path.join(FLEET, "hv-doubled.json"), encoding="utf-8") as handle:
        return handle.read()


def with_extra(text, raw_value):
    return text.replace('"schema_version": 1,', f'"schema_version": 1,\n "x_extra": {raw_value},', 1)


# Each built from hv-doubled, which has a fixable defect: a wrongly accepted document would be written.
MALFORMED = {
    "lone-surrogate": (lambda t: t.replace('"display_name": "vdrvroot"', '"display_name": "vdrvroot\\ud800"', 1),
                       r"field 'services\[\d+\]\.display_name': holds a lone UTF-16 surrogate"),
    "deep-600-extra": (lambda t: with_extra(t, "[" * 600 + "]" * 600),
                       r"field 'x_extra\[0\]\[0\]\[0\]\[0\]\[0\]\.\.\.': nested more than 64 levels deep"),
    "bigint-extra": (lambda t: with_extra(t, "7" * 5000), r"field 'x_extra': an integer of 5000 digits"),
    "bigint-os-build": (lambda t: re.sub(r'"os_build": \d+', '"os_build": ' + "1" * 5000, t, count=1),
                        r"field 'host\.os_build': an integer of 5000 digits"),
}


def test_drill_1a_documents_no_later_step_could_carry_are_refused_naming_file_and_field(tmp_path):
    inventory = copy_fleet(tmp_path, ["dc01"])
    hosts = {"dc01": "dc01.json"}
    for host, (edit, _unused) in MALFORMED.items():
        (tmp_path / f"{host}.json").write_text(edit(hv_doubled_text()), encoding="utf-8")
        hosts[host] = f"{host}.json"
    with open(inventory, encoding="utf-8") as handle:
        data = json.load(handle)
    data["all"]["hosts"] = {name: {"backupready_snapshot": path} for name, path in hosts.items()}
    with open(inventory, "w", encoding="utf-8") as handle:
        json.dump(data, handle)
    remediate = playbook(tmp_path, "remediate.yml", "- ansible.builtin.import_playbook: backupready.windows.remediate\n")
    before = tree(tmp_path)

    result = run_json(inventory, remediate)

    assert tree(tmp_path) == before  # no snapshot rewritten, no (orphan) backup
    assert result.failed("dc01") == 0
    assessed = result.results("Assess, remediate what can be fixed safely and verify")
    for host, (_unused, expected) in MALFORMED.items():
        message = assessed[host]["msg"]
        assert message.startswith(str(tmp_path / f"{host}.json") + ": "), message
        assert re.search(expected, message), message
        assert "Task failed" not in message  # how ansible-core shows an exception a plugin did not handle


def test_drill_6d_a_waivers_file_with_a_yaml_error_is_not_echoed_to_console_or_reports(tmp_path):
    inventory = copy_fleet(tmp_path, ["hv-doubled"])
    notwaivers = tmp_path / "notwaivers.yml"
    notwaivers.write_text(f'smtp_user: ops\nsmtp_password: "{SECRET}": oops\n', encoding="utf-8")
    assess = playbook(tmp_path, "assess.yml", "- ansible.builtin.import_playbook: backupready.windows.assess\n")

    done = run("ansible-playbook", "-i", inventory, assess, "-e", f"backupready_waivers_file={notwaivers}",
               env=ansible_env(ANSIBLE_CALLBACKS_ENABLED="backupready.windows.readiness_report"), cwd=str(tmp_path))

    assert done.returncode != 0
    assert f"{notwaivers}: not valid YAML/JSON (line 2, column 33: mapping values are not allowed here)" in done.stdout
    reports = sorted(os.listdir(tmp_path / "backupready-report"))
    assert reports == ["junit.xml", "report.html", "report.json", "report.md"]
    for name in reports:
        assert SECRET not in (tmp_path / "backupready-report" / name).read_text(encoding="utf-8"), name
    assert SECRET not in done.stdout + done.stderr


def test_drill_1b_a_latin1_waivers_file_names_the_option_and_the_file(tmp_path):
    inventory = copy_fleet(tmp_path, ["hv-doubled"])
    latin1 = tmp_path / "latin1.yml"
    latin1.write_bytes("- {host: '*', code: missing_volume, reason: 'r\u00e9serv\u00e9'}\n".encode("latin-1"))
    info = playbook(tmp_path, "info.yml", f"""- hosts: all
  gather_facts: false
  tasks:
    - backupready.windows.win_backup_readiness_info:
        waivers_file: {latin1}
""")
    result = run_json(inventory, info)
    (message,) = [r["msg"] for r in result.results("backupready.windows.win_backup_readiness_info").values()]
    assert message == f"waivers_file: {latin1} is not UTF-8 text (byte 46 is not UTF-8): save the waivers file as UTF-8"


def test_drill_1b_an_exclusion_path_longer_than_windows_allows_is_refused_and_nothing_written(tmp_path):
    inventory = copy_fleet(tmp_path, ["excl-bad", "fs01"])
    exclusions = playbook(tmp_path, "exclusions.yml", """- hosts: all
  gather_facts: false
  tasks:
    - backupready.windows.win_systemwriter_exclusions:
        paths: "{{ long_paths }}"
""")
    (tmp_path / "long.json").write_text(json.dumps({"long_paths": ["C:\\" + "a" * 40000 + ".exe"]}))
    before = tree(tmp_path)

    result = run_json(inventory, exclusions, "-e", f"@{tmp_path / 'long.json'}")

    assert tree(tmp_path) == before
    for host, outcome in result.results("backupready.windows.win_systemwriter_exclusions").items():
        assert outcome["msg"].startswith("invalid ExcludedBinaryPaths entries, nothing written: 'C:\\aaaa"), host
        assert outcome["msg"].endswith("(40,007 characters): is 40,007 characters long: a Windows path has at most "
                                       "32,767"), host
        assert len(outcome["msg"]) < 400


@pytest.mark.parametrize("tags", [[], ["--tags", "imagepath"]])
def test_drill_1b_a_bad_concern_role_variable_fails_every_host_before_the_first_change(tmp_path, tags):
    # Before, the filemaps role's own validation failed after the imagepath role had fixed hv-doubled.
    hosts = ["hv-doubled", "acl-broken", "excl-bad", "crypt-off", "lldp", "vss-acl"]
    inventory = copy_fleet(tmp_path, hosts)
    remediate = playbook(tmp_path, "remediate.yml", "- ansible.builtin.import_playbook: backupready.windows.remediate\n")
    before = tree(tmp_path)

    result = run_json(inventory, remediate, "-e", '{"filemaps_scope": ["bogus"]}', *tags)

    assert tree(tmp_path) == before
    assert result.returncode != 0
    # The concern roles' variables are part of the readiness role's argument spec; the remediation module validates
    # them with it (whatever the tags) before it reads anything, with Ansible's own messages, naming the variable.
    validation = result.results("Assess, remediate what can be fixed safely and verify")
    for host in hosts:
        assert result.failed(host) == 1 and result.changed(host) == 0
        assert validation[host]["argument_errors"] == ["value of filemaps_scope must be one or more of: folder, files, "
                                                       "pending_renames. Got no match for: bogus"], host
