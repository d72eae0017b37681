"""`ansible-galaxy collection build` gives an installable tarball, and the collection works installed from it."""

import json
import os
import subprocess
import tarfile

import pytest
import yaml

from runner import ROOT, ansible_env, run, write_inventory

from statedoc import make_state

pytestmark = pytest.mark.playbook


@pytest.fixture(scope="module")
def tarball(tmp_path_factory):
    out = tmp_path_factory.mktemp("build")
    result = run("ansible-galaxy", "collection", "build", "--force", "--output-path", str(out), ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    (path,) = list(out.glob("backupready-windows-*.tar.gz"))
    return path


# What a user of the installed collection needs, and what only its developers do.
SHIPPED = ("MANIFEST.json", "FILES.json", "README.md", "COPYING", "plugins/action/win_backup_readiness_info.py",
           "plugins/plugin_utils/_state.py", "plugins/doc_fragments/windows_target.py", "playbooks/assess.yml",
           "meta/runtime.yml", "meta/execution-environment.yml", "meta/ee-requirements.txt", "meta/ee-bindep.txt",
           "examples/fleet/inventory.yml", "examples/execution-environment/execution-environment.yml", "CHANGELOG.rst",
           "changelogs/changelog.yaml")
DEVELOPMENT = ("Makefile", "ansible.cfg", "pytest.ini", "requirements-dev.txt", ".gitignore", ".venv", ".git", ".ci",
               "tests", "tools", "build", "extensions/molecule", "backupready-report", ".pytest_cache", ".hypothesis")


def development_files(names):
    return sorted(n for n in names if any(n == d or n.startswith(d + "/") for d in DEVELOPMENT))


def test_tarball_holds_the_collection_and_no_dev_files(tarball):
    with tarfile.open(tarball) as archive:
        files = {m.name for m in archive.getmembers() if m.isfile()}
    assert [wanted for wanted in SHIPPED if wanted not in files] == []
    assert development_files(files) == []
    # nothing git ignores (reports, backups, caches) rides along from a working tree
    known = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split("\n")
    assert sorted(files - set(known) - {"MANIFEST.json", "FILES.json"}) == []


def test_dev_file_check_sees_dev_files():
    assert development_files({"Makefile", "tests/unit/conftest.py", "testsuite.md", "plugins/x.py"}) == [
        "Makefile", "tests/unit/conftest.py"]


def test_the_licence_ships_and_matches_galaxy_yml(tarball):
    galaxy = yaml.safe_load(open(os.path.join(ROOT, "galaxy.yml"), encoding="utf-8"))
    licence = open(os.path.join(ROOT, "COPYING"), encoding="utf-8").read()
    assert "GNU GENERAL PUBLIC LICENSE" in licence and "Version 3, 29 June 2007" in licence
    assert galaxy.get("license_file") == "COPYING" or galaxy["license"] in (["GPL-3.0-or-later"], ["GPL-3.0-only"])
    with tarfile.open(tarball) as archive:
        assert archive.extractfile("COPYING").read().decode("utf-8") == licence


def test_installed_collection_runs_a_module(tarball, tmp_path):
    install = tmp_path / "collections"
    result = run("ansible-galaxy", "collection", "install", "-p", str(install), str(tarball),
                 env=ansible_env(collections_path=str(install)))
    assert result.returncode == 0, result.stdout + result.stderr
    installed = install / "ansible_collections" / "backupready" / "windows"
    assert (installed / "MANIFEST.json").is_file() and not installed.is_symlink()

    state = make_state()
    state["services"][0]["state"] = "stopped"
    (tmp_path / "h.json").write_text(json.dumps(state))
    inventory = write_inventory(str(tmp_path / "inv.json"), {"h": "h.json"})
    playbook = tmp_path / "pb.yml"
    playbook.write_text(
        "- hosts: all\n  gather_facts: false\n  tasks:\n"
        "    - backupready.windows.win_backup_readiness_info: {include_state: false}\n      register: r\n"
        "    - ansible.builtin.assert:\n        that: [not r.ready, \"r.findings[0].code == 'cryptsvc_state'\"]\n")
    env = ansible_env(collections_path=str(install))
    env.pop("ANSIBLE_CONFIG")  # nothing from the checkout: only the installed copy
    result = run("ansible-playbook", "-i", inventory, str(playbook), env=env, cwd=str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok=2" in result.stdout


def _documented_modules():
    modules = os.path.join(ROOT, "plugins", "modules")
    return sorted({os.path.splitext(n)[0] for n in os.listdir(modules) if n.endswith((".py", ".yml"))
                   and not n.startswith("_")})


@pytest.mark.parametrize("module", _documented_modules())
def test_ansible_doc_renders_every_module(module):
    result = run("ansible-doc", f"backupready.windows.{module}")
    assert result.returncode == 0, result.stderr
    assert "[WARNING]" not in result.stderr, result.stderr
    for section in ("EXAMPLES:", "RETURN VALUES:"):
        assert section in result.stdout, f"{module}: no {section}"
