"""`ansible-galaxy collection build` gives an installable tarball, and the collection works installed from it."""

import json
import os
import tarfile

import pytest

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


def test_tarball_holds_the_collection_and_no_dev_files(tarball):
    with tarfile.open(tarball) as archive:
        names = set(archive.getnames())
    for wanted in ("MANIFEST.json", "plugins/action/win_backup_readiness_info.py", "plugins/plugin_utils/_state.py",
                   "playbooks/assess.yml", "meta/runtime.yml"):
        assert wanted in names, wanted
    assert not [n for n in names if n.startswith((".venv", ".git/", "tests/output", "build/"))]


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
