"""Run ansible-playbook / ansible-doc / ansible-galaxy from the test venv, with this checkout as the collection."""

from __future__ import annotations

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
COLLECTIONS = os.path.join(ROOT, ".venv", "collections")


def ansible_env(collections_path: str = COLLECTIONS, **extra: str) -> dict:
    env = dict(os.environ)
    env.update({
        "ANSIBLE_CONFIG": os.path.join(ROOT, "ansible.cfg"),
        "ANSIBLE_COLLECTIONS_PATH": collections_path,
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_DEPRECATION_WARNINGS": "0",
        "ANSIBLE_LOCAL_TEMP": os.path.join(os.environ.get("TMPDIR", "/tmp"), "backupready-ansible-tmp"),
        "PATH": BIN + os.pathsep + env.get("PATH", ""),
    })
    env.update(extra)
    return env


def run(tool: str, *args: str, env: dict | None = None, cwd: str = ROOT, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([os.path.join(BIN, tool), *args], cwd=cwd, env=env or ansible_env(), capture_output=True,
                          text=True, timeout=timeout, check=False)


def write_inventory(path: str, hosts: dict[str, str]) -> str:
    """A YAML-compatible JSON inventory of snapshot hosts (host -> snapshot path)."""
    inventory = {"all": {
        "vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable},
        "hosts": {name: {"backupready_snapshot": snap} for name, snap in hosts.items()},
    }}
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(inventory, handle)
    return path
