"""Operator paths that used to bite, end to end: where capture writes, the tags of the readiness role, a misspelt
role variable, a host that is neither a snapshot nor reachable over a Windows connection, a read-only snapshot,
the README's remediate-on-a-copy steps run twice, and what `make demo` / `make test` install and touch."""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from runner import BIN, FLEET, ROOT, ansible_env, copy_fleet, run

pytestmark = pytest.mark.playbook

README = os.path.join(ROOT, "README.md")
CONCERN_TAGS = ("imagepath", "systemwriter", "filemaps", "cryptsvc")
VDRVROOT_DOUBLED = "\\Systemroot\\Systemroot\\System32\\drivers\\vdrvroot.sys"
WARNING = "variable imagepath_exlude is not one the backupready.windows roles or playbooks read"


def flat(text: str) -> str:
    """Output with the line wrapping of the stdout callback undone."""
    return re.sub(r"\s+", " ", text)


def tree(directory) -> dict[str, str]:
    found = {}
    for folder, dirs, files in os.walk(directory):
        dirs[:] = [d for d in dirs if d != "backupready-report"]
        for name in files:
            if name.endswith(".lock"):
                continue
            with open(os.path.join(folder, name), "rb") as handle:
                found[os.path.relpath(os.path.join(folder, name), directory)] = hashlib.sha256(handle.read()).hexdigest()
    return found


def image_path(snapshot: str, service: str) -> str:
    with open(snapshot, encoding="utf-8") as handle:
        doc = json.load(handle)
    return next(s for s in doc["services"] if s["name"].lower() == service.lower())["image_path"]["data"]


def service_state(snapshot: str, service: str) -> str:
    with open(snapshot, encoding="utf-8") as handle:
        doc = json.load(handle)
    return next(s for s in doc["services"] if s["name"].lower() == service.lower())["state"]


def playbook_run(tmp_path, inventory, name, *args):
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    return run("ansible-playbook", "-i", str(inventory), name, *args, cwd=str(work),
               env=ansible_env(BACKUPREADY_REPORT_DIR=str(tmp_path / "report")))


@pytest.fixture
def two_hosts(tmp_path):
    """hv-doubled (an ImagePath defect) and crypt-off (CryptSvc disabled and stopped)."""
    return copy_fleet(tmp_path / "fleet", ["hv-doubled", "crypt-off"])


# ---------------------------------------------------------------------------------------------------
# capture: under the current directory, never inside the installed collection
# ---------------------------------------------------------------------------------------------------

def test_capture_writes_under_the_current_directory_and_says_where(tmp_path, two_hosts):
    inside = os.path.join(ROOT, "playbooks", "snapshots")
    existed = os.path.exists(inside)
    try:
        result = playbook_run(tmp_path, two_hosts, "backupready.windows.capture")
        assert result.returncode == 0, result.stdout + result.stderr
        folder = tmp_path / "work" / "backupready-snapshots"
        assert sorted(os.listdir(folder)) == ["crypt-off.json", "hv-doubled.json"]
        assert image_path(str(folder / "hv-doubled.json"), "vdrvroot") == VDRVROOT_DOUBLED
        assert f"2 snapshot(s) written to {folder} (one <host>.json per host)" in flat(result.stdout)
        assert os.path.exists(inside) == existed, "capture wrote into the collection's playbooks folder"
    finally:
        if not existed and os.path.exists(inside):
            shutil.rmtree(inside)
    with open(os.path.join(ROOT, "playbooks", "capture.yml"), encoding="utf-8") as handle:
        assert "./backupready-snapshots" in handle.read()
    with open(README, encoding="utf-8") as handle:
        snapshots = handle.read().split("## Snapshots", 1)[1].split("\n## ", 1)[0]
    assert "`./backupready-snapshots`" in snapshots


# ---------------------------------------------------------------------------------------------------
# Tags through the readiness role
# ---------------------------------------------------------------------------------------------------

def test_list_tags_of_remediate_shows_every_documented_tag(tmp_path, two_hosts):
    result = playbook_run(tmp_path, two_hosts, "backupready.windows.remediate", "--list-tags")
    assert result.returncode == 0, result.stdout + result.stderr
    listed = set(re.search(r"TASK TAGS: \[([^\]]*)\]", result.stdout).group(1).replace(" ", "").split(","))
    assert {"readiness", "assess", "remediate", "verify", *CONCERN_TAGS} <= listed
    with open(README, encoding="utf-8") as handle:
        roles = handle.read().split("## Roles", 1)[1].split("\n## ", 1)[0]
    for tag in ("readiness", "assess", "remediate", "verify", *CONCERN_TAGS):
        assert f"`{tag}`" in roles, f"tag {tag} is not documented in the README's Roles section"


def test_a_concern_tag_runs_that_concern_through_the_umbrella_role(tmp_path, two_hosts):
    fleet = os.path.dirname(two_hosts)
    result = playbook_run(tmp_path, two_hosts, "backupready.windows.remediate", "--tags", "imagepath")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "TASK [backupready.windows.readiness : Assess, remediate what can be fixed safely" in result.stdout
    # the fix only: no assessment is shown or judged (the assess and verify phases are not selected)
    assert result.stdout.count("no assessment in this run") == 2 and "READY:" not in result.stdout
    assert image_path(os.path.join(fleet, "hv-doubled.json"), "vdrvroot") == "\\SystemRoot\\System32\\drivers\\vdrvroot.sys"
    assert service_state(os.path.join(fleet, "crypt-off.json"), "CryptSvc") == "stopped"  # cryptsvc did not run


def test_the_remediate_tag_runs_the_fixes(tmp_path, two_hosts):
    fleet = os.path.dirname(two_hosts)
    result = playbook_run(tmp_path, two_hosts, "backupready.windows.remediate", "--tags", "remediate")
    assert result.returncode == 0, result.stdout + result.stderr
    assert image_path(os.path.join(fleet, "hv-doubled.json"), "vdrvroot") == "\\SystemRoot\\System32\\drivers\\vdrvroot.sys"
    assert service_state(os.path.join(fleet, "crypt-off.json"), "CryptSvc") == "running"


def test_verify_alone_in_check_mode_assesses_and_shows(tmp_path, two_hosts):
    before = tree(os.path.dirname(two_hosts))
    result = playbook_run(tmp_path, two_hosts, "backupready.windows.remediate", "--tags", "verify", "--check")
    output = flat(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is undefined" not in output
    assert "NOT READY: 1 finding(s)" in output and "invalid_syntax" in output
    assert tree(os.path.dirname(two_hosts)) == before


def test_assess_alone_shows_what_it_found_and_changes_nothing(tmp_path, two_hosts):
    before = tree(os.path.dirname(two_hosts))
    result = playbook_run(tmp_path, two_hosts, "backupready.windows.remediate", "--tags", "assess",
                          "-e", "readiness_gate=false")
    output = flat(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    # the readiness_report callback shows each host's lines (no gate task per host in the remediate playbook)
    assert output.count("] NOT READY:") == 2 and "invalid_syntax" in output
    assert tree(os.path.dirname(two_hosts)) == before


# ---------------------------------------------------------------------------------------------------
# A misspelt role variable
# ---------------------------------------------------------------------------------------------------

def test_a_misspelt_role_variable_is_named_with_the_one_meant(tmp_path, two_hosts):
    result = playbook_run(tmp_path, two_hosts, "backupready.windows.remediate", "--check", "-l", "hv-doubled",
                          "-e", '{"imagepath_exlude": ["vdrvroot"]}')
    output = flat(result.stdout + result.stderr)
    assert result.returncode == 0, output
    assert f"{WARNING}, so it has no effect: did you mean imagepath_exclude? " \
           "(set readiness_strict_vars: true to make this an error)" in output
    assert output.count(WARNING) == 1  # once per run, not once per task and host


def test_strict_vars_makes_a_misspelt_variable_an_error_before_any_change(tmp_path, two_hosts):
    before = tree(os.path.dirname(two_hosts))
    result = playbook_run(tmp_path, two_hosts, "backupready.windows.remediate", "-l", "hv-doubled",
                          "-e", '{"imagepath_exlude": ["vdrvroot"], "readiness_strict_vars": true}')
    output = flat(result.stdout + result.stderr)
    assert result.returncode != 0
    assert f"{WARNING}, so it has no effect: did you mean imagepath_exclude?" in output
    assert "nothing was read or changed (readiness_strict_vars is true)" in output
    assert tree(os.path.dirname(two_hosts)) == before


def test_the_collection_own_variables_raise_no_warning(tmp_path):
    """A real remediation that restarts CryptSvc, then the concern roles on their own, whose fixes notify their
    CryptSvc restart handler (its registered result included)."""
    inventory = copy_fleet(tmp_path / "fleet", ["acl-broken", "hv-doubled"])
    result = playbook_run(tmp_path, inventory, "backupready.windows.remediate", "-e", "readiness_fix_exclusions=true",
                          "-e", "backupready_fail_on=critical")
    output = flat(result.stdout + result.stderr)
    assert result.returncode == 0, output
    assert "is not one the backupready.windows roles or playbooks read" not in output
    fresh = copy_fleet(tmp_path / "fresh", ["acl-broken", "hv-doubled"])
    roles = tmp_path / "roles.yml"
    roles.write_text("- hosts: all\n  gather_facts: false\n  roles:\n    - backupready.windows.imagepath\n"
                     "    - backupready.windows.systemwriter\n    - backupready.windows.filemaps\n"
                     "    - backupready.windows.cryptsvc\n", encoding="utf-8")
    result = playbook_run(tmp_path, fresh, str(roles))
    output = flat(result.stdout + result.stderr)
    assert result.returncode == 0, output
    assert "RUNNING HANDLER" in output
    assert "is not one the backupready.windows roles or playbooks read" not in output


# ---------------------------------------------------------------------------------------------------
# A host without a snapshot and without a Windows connection; a read-only snapshot
# ---------------------------------------------------------------------------------------------------

def test_a_host_without_snapshot_or_windows_connection_is_told_what_it_needs(tmp_path):
    inventory = tmp_path / "inventory.json"
    inventory.write_text(json.dumps({"all": {"hosts": {"srv-nosnap-local": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}}), encoding="utf-8")
    result = playbook_run(tmp_path, inventory, "backupready.windows.assess")
    output = flat(result.stdout + result.stderr)
    assert result.returncode != 0
    assert "srv-nosnap-local: no backupready_snapshot is set, and the connection (local, shell sh) cannot run" in output
    assert "WinRM or PSRP" in output and "interpreter 'powershell' was not found" not in output


def test_a_read_only_snapshot_is_refused_and_no_backup_is_left(tmp_path, two_hosts):
    fleet = os.path.dirname(two_hosts)
    snapshot = os.path.join(fleet, "hv-doubled.json")
    os.chmod(snapshot, 0o444)
    before = tree(fleet)
    try:
        result = playbook_run(tmp_path, two_hosts, "backupready.windows.remediate", "-l", "hv-doubled")
    finally:
        os.chmod(snapshot, 0o644)
    output = flat(result.stdout + result.stderr)
    assert result.returncode != 0
    assert f"{snapshot} is read-only: nothing was changed" in output
    assert tree(fleet) == before and not os.path.exists(os.path.join(fleet, "backups"))


# ---------------------------------------------------------------------------------------------------
# The README's remediate-on-a-copy steps, run twice as documented
# ---------------------------------------------------------------------------------------------------

def readme_copy_steps() -> str:
    with open(README, encoding="utf-8") as handle:
        text = handle.read()
    section = text.split("To see the fixes on a copy of the fleet", 1)[1]
    return re.search(r"```sh\n(.*?)```", section, re.S).group(1)


def test_the_readme_copy_steps_start_from_a_fresh_copy_each_time(tmp_path):
    steps = readme_copy_steps()
    copy = str(tmp_path / "fleet")
    assert "/tmp/fleet" in steps and "cp -r examples/fleet" in steps
    # The same commands, on a copy under tmp_path, with the venv of this test run, on one host (to stay quick).
    script = (steps.replace("/tmp/fleet", copy).replace(".venv/bin/", BIN + "/")
              .replace("backupready.windows.remediate", "backupready.windows.remediate --limit hv-doubled"))
    env = ansible_env(BACKUPREADY_REPORT_DIR=str(tmp_path / "report"))
    for attempt in (1, 2):
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=600, check=False)
        assert done.returncode == 0, f"attempt {attempt}:\n{done.stdout}\n{done.stderr}"
        assert not os.path.exists(os.path.join(copy, "fleet")), f"attempt {attempt}: cp nested the copy"
        recaps = re.findall(r"hv-doubled\s*:\s*ok=\d+\s+changed=(\d+)", done.stdout)
        assert len(recaps) == 2 and all(int(c) >= 1 for c in recaps), \
            f"attempt {attempt}: the steps did not start from the unfixed fleet:\n{done.stdout}"
        assert image_path(os.path.join(copy, "snapshots", "hv-doubled.json"), "vdrvroot") == \
            "\\SystemRoot\\System32\\drivers\\vdrvroot.sys"
    assert image_path(os.path.join(FLEET, "hv-doubled.json"), "vdrvroot") == VDRVROOT_DOUBLED


# ---------------------------------------------------------------------------------------------------
# make demo / make test
# ---------------------------------------------------------------------------------------------------

def make_dry_run(target: str) -> str:
    done = subprocess.run(["make", "-n", "-B", target], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          check=False, env=dict(os.environ, PYTHON_NEWEST=sys.executable))
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_make_demo_installs_the_runtime_requirements_only():
    demo = make_dry_run("demo")
    assert "pip install --quiet -r requirements.txt" in demo and "requirements-dev.txt" not in demo
    assert "backupready.windows.assess" in demo
    with open(os.path.join(ROOT, "requirements.txt"), encoding="utf-8") as handle:
        runtime = [line.split("#")[0].strip() for line in handle if line.split("#")[0].strip()]
    assert any(re.match(r"ansible-core\s*>=\s*2\.16", line) for line in runtime), runtime
    # What the collection's plugins import beyond the standard library comes with ansible-core.
    imported = set()
    for folder, _dirs, files in os.walk(os.path.join(ROOT, "plugins")):
        for name in files:
            if name.endswith(".py"):
                with open(os.path.join(folder, name), encoding="utf-8") as handle:
                    for node in ast.walk(ast.parse(handle.read())):
                        if isinstance(node, ast.Import):
                            imported.update(alias.name.split(".")[0] for alias in node.names)
                        elif isinstance(node, ast.ImportFrom) and not node.level:
                            imported.add(node.module.split(".")[0])
    third_party = {m for m in imported if m not in sys.stdlib_module_names and m != "__future__"}
    assert third_party <= {"ansible", "ansible_collections", "yaml", "jinja2"}, third_party


def test_make_test_installs_the_dev_tools_and_runs_molecule_last_with_progress():
    recipe = make_dry_run("test")
    assert "pip install --quiet -r requirements-dev.txt" in recipe
    pytest_lines = [line for line in recipe.splitlines() if " -m pytest" in line and "matrix" not in line]
    assert pytest_lines[0].endswith("-m pytest --ignore=tests/molecule")
    assert pytest_lines[1].endswith("-m pytest -v tests/molecule")
    assert not any(" -q" in line for line in pytest_lines)


def test_the_molecule_test_leaves_the_user_installed_collection_alone(tmp_path, monkeypatch):
    """The molecule test removed ~/.ansible/collections/ansible_collections/backupready before each scenario:
    run it with a stand-in molecule and a home holding an installed copy, and the copy must still be there."""
    home = tmp_path / "home"
    installed = home / ".ansible" / "collections" / "ansible_collections" / "backupready" / "windows"
    installed.mkdir(parents=True)
    (installed / "MANIFEST.json").write_text("{}", encoding="utf-8")
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    seen_home = tmp_path / "seen-home"
    (fake_bin / "molecule").write_text(f'#!/bin/sh\necho "$HOME" > {seen_home}\n'
                                       'echo "INFO Molecule executed 1 scenario (1 successful)"\n', encoding="utf-8")
    os.chmod(fake_bin / "molecule", 0o755)
    monkeypatch.setenv("HOME", str(home))
    spec = importlib.util.spec_from_file_location("molecule_test_under_test",
                                                  os.path.join(ROOT, "tests", "molecule", "test_molecule.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "BIN", str(fake_bin))
    scenario = module.test_molecule_scenario
    kwargs = {"tmp_path": tmp_path / "molecule-tmp"} if "tmp_path" in scenario.__code__.co_varnames else {}
    if kwargs:
        kwargs["tmp_path"].mkdir()
    scenario("default", **kwargs)
    assert (installed / "MANIFEST.json").exists(), "the molecule test removed the user's installed collection"
    assert seen_home.read_text(encoding="utf-8").strip() != str(home), "molecule ran with the user's HOME"
