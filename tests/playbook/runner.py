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
    env = dict(env or ansible_env())
    if cwd != ROOT:
        env.setdefault("BACKUPREADY_REPORT_DIR", os.path.join(cwd, "backupready-report"))
    return subprocess.run([os.path.join(BIN, tool), *args], cwd=cwd, env=env, capture_output=True,
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


FLEET = os.path.join(ROOT, "examples", "fleet", "snapshots")


def copy_fleet(directory, hosts) -> str:
    """Copy demo-fleet snapshots into ``directory`` and write an inventory for them; returns its path."""
    import shutil

    os.makedirs(directory, exist_ok=True)
    for host in hosts:
        shutil.copy(os.path.join(FLEET, f"{host}.json"), os.path.join(directory, f"{host}.json"))
    return write_inventory(os.path.join(directory, "inventory.json"), {h: f"{h}.json" for h in hosts})


def playbook(directory, name, text) -> str:
    path = os.path.join(directory, name)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path


def run_playbook(inventory, path, *args, **extra_env) -> subprocess.CompletedProcess:
    return run("ansible-playbook", "-i", inventory, path, *args, env=ansible_env(**extra_env),
               cwd=os.path.dirname(path))


def task_result(stdout: str, marker: str) -> dict:
    """The JSON a `debug: var=...` task printed after a line containing ``marker`` (stdout callback default)."""
    start = stdout.index(marker)
    brace = stdout.index("{", start)
    decoder = json.JSONDecoder()
    value, _unused = decoder.raw_decode(stdout[brace:])
    return value


class PlaybookRun:
    """A finished ansible-playbook run with the json stdout callback: results per task and host, stats."""

    def __init__(self, completed: subprocess.CompletedProcess):
        self.returncode = completed.returncode
        self.stderr = completed.stderr
        self.raw = completed.stdout
        try:
            self.data, _unused = json.JSONDecoder().raw_decode(completed.stdout[completed.stdout.index("{"):])
        except ValueError as exc:
            raise AssertionError(f"no JSON from ansible-playbook: {completed.stdout}\n{completed.stderr}") from exc

    def results(self, task_name_part: str) -> dict:
        """{host: result} of the first task whose name contains ``task_name_part`` (or whose action does)."""
        for play in self.data["plays"]:
            for task in play["tasks"]:
                name = task["task"]["name"]
                action = next(iter(task["hosts"].values()), {}).get("action", "")
                if task_name_part in name or task_name_part == action:
                    return task["hosts"]
        raise KeyError(task_name_part)

    def changed(self, host: str) -> int:
        return self.data["stats"][host]["changed"]

    def failed(self, host: str) -> int:
        return self.data["stats"][host]["failures"]


def run_json(inventory, path, *args, **extra_env) -> PlaybookRun:
    env = ansible_env(ANSIBLE_STDOUT_CALLBACK="results_json",
                      ANSIBLE_CALLBACK_PLUGINS=os.path.join(ROOT, "tests", "playbook", "callback_plugins"), **extra_env)
    return PlaybookRun(run("ansible-playbook", "-i", inventory, path, *args, env=env, cwd=os.path.dirname(path)))
