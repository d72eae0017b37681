"""The CI examples of examples/ci (shown in the README) run as written.

The GitHub Actions job's shell steps run here, with bash as Actions runs them, in a folder laid out like a user's
repository: the pinned requirements.txt installed with pip into a fresh venv (Python 3.12), the collection
installed by requirements.yml from this repository's git history (the same ``type: git`` entry, pointed at this
clone instead of the public URL), and an inventory of demo-fleet snapshot hosts whose variables need the vault
password the job takes from its secret. The GitLab job must run the same commands with the same variables.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess

import pytest
import yaml

from runner import BIN, FLEET, ROOT

pytestmark = pytest.mark.playbook

EXAMPLES = os.path.join(ROOT, "examples", "ci")
SECRET = "correct horse battery staple"
HOSTS = ["fs01", "web2025"]  # ready hosts: the job goes through every step


def load(name: str) -> dict:
    with open(os.path.join(EXAMPLES, name), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def github_steps() -> list[dict]:
    (job,) = load("github-actions.yml")["jobs"].values()
    return job["steps"]


def github_commands() -> list[str]:
    return [line for step in github_steps() if "run" in step for line in step["run"].splitlines() if line.strip()]


def github_variables() -> dict:
    variables = {}
    for step in github_steps():
        variables.update(step.get("env") or {})
    return variables


def python312() -> str:
    candidates = [os.environ.get("PYTHON_NEWEST", "")] + sorted(
        glob.glob(os.path.expanduser("~/.pyenv/versions/3.12*/bin/python3.12"))) + [shutil.which("python3.12") or ""]
    for candidate in candidates:
        if candidate and subprocess.run([candidate, "-c", ""], capture_output=True, check=False).returncode == 0:
            return candidate
    pytest.fail("Python 3.12 is needed to run the CI example as written (ansible-core 2.21 needs it)")


def test_github_job_runs_on_a_self_hosted_runner_with_pinned_actions_and_the_vault_secret():
    workflow = load("github-actions.yml")
    (job,) = workflow["jobs"].values()
    assert "self-hosted" in job["runs-on"]
    uses = [step["uses"] for step in job["steps"] if "uses" in step]
    assert uses[:2] == ["actions/checkout@v4", "actions/setup-python@v5"]
    assert all(re.search(r"@v\d+$", action) for action in uses), uses
    assert github_variables()["ANSIBLE_VAULT_PASSWORD"] == "${{ secrets.ANSIBLE_VAULT_PASSWORD }}"
    pins = open(os.path.join(EXAMPLES, "requirements.txt"), encoding="utf-8").read()
    assert re.findall(r"(?m)^[A-Za-z0-9_.\[\]-]+==[0-9.]+$", pins) and not re.findall(r"(?m)^[a-z][^=#\n]*$", pins)


def test_gitlab_job_runs_the_same_commands_with_the_same_variables():
    job = load("gitlab-ci.yml")["backup-readiness"]
    assert job["script"] == github_commands()
    expected = {k: v for k, v in github_variables().items() if k != "ANSIBLE_VAULT_PASSWORD"}
    assert job["variables"] == expected
    assert job["image"] == "python:3.12" and job["tags"]


@pytest.mark.parametrize("name", ["github-actions.yml", "gitlab-ci.yml", "requirements.yml", "requirements.txt"])
def test_readme_shows_each_example_as_it_is(name):
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as handle:
        blocks = re.findall(r"^```[a-z]*\n(.*?)^```$", handle.read(), re.MULTILINE | re.DOTALL)
    with open(os.path.join(EXAMPLES, name), encoding="utf-8") as handle:
        assert handle.read() in blocks, f"README.md does not show examples/ci/{name} as it is"


def vaulted(text: str, workspace: str) -> str:
    password = os.path.join(workspace, ".test-vault-pass")
    with open(password, "w", encoding="utf-8") as handle:
        handle.write(SECRET)
    result = subprocess.run([os.path.join(BIN, "ansible-vault"), "encrypt_string", "--vault-password-file", password, text, "--name", "x"],
                            capture_output=True, text=True, check=True)
    os.remove(password)
    return result.stdout.split("x: ", 1)[1]


def lay_out_repository(workspace: str) -> None:
    """What a user's repository holds: the example requirements, an inventory with a vaulted variable, waivers."""
    shutil.copy(os.path.join(EXAMPLES, "requirements.txt"), workspace)
    requirements = load("requirements.yml")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    entry = requirements["collections"][0]
    assert entry["type"] == "git" and entry["name"].startswith("https://")
    entry.update(name=f"file://{ROOT}", version=head.strip())  # this clone instead of the public repository
    with open(os.path.join(workspace, "requirements.yml"), "w", encoding="utf-8") as handle:
        yaml.safe_dump(requirements, handle)
    os.makedirs(os.path.join(workspace, "snapshots"))
    for host in HOSTS:
        shutil.copy(os.path.join(FLEET, f"{host}.json"), os.path.join(workspace, "snapshots"))
    hosts = "".join(f"    {h}:\n      backupready_snapshot: snapshots/{h}.json\n" for h in HOSTS)
    secret = vaulted("error", workspace).replace("\n", "\n    ")
    with open(os.path.join(workspace, "inventory.yml"), "w", encoding="utf-8") as handle:
        handle.write(f"all:\n  hosts:\n{hosts}  vars:\n    ansible_connection: local\n"
                     f"    backupready_fail_on: {secret}\n")
    with open(os.path.join(workspace, "waivers.yml"), "w", encoding="utf-8") as handle:
        handle.write("[]\n")


@pytest.fixture(scope="module")
def github_job(tmp_path_factory):
    workspace = str(tmp_path_factory.mktemp("repository"))
    lay_out_repository(workspace)
    python_dir = os.path.join(workspace, ".setup-python")  # what actions/setup-python puts first on PATH
    os.makedirs(python_dir)
    os.symlink(python312(), os.path.join(python_dir, "python"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "BACKUPREADY_", "VIRTUAL_ENV"))}
    env["PATH"] = python_dir + os.pathsep + env["PATH"]
    env["TMPDIR"] = os.path.join(workspace, ".tmp")
    os.makedirs(env["TMPDIR"])
    results = []
    for step in github_steps():
        if "run" not in step:
            continue
        step_env = dict(env)
        for key, value in (step.get("env") or {}).items():
            step_env[key] = SECRET if value == "${{ secrets.ANSIBLE_VAULT_PASSWORD }}" else str(value)
        # Actions runs each step as `bash -e {0}` in the checkout
        results.append(subprocess.run(["bash", "-e", "-c", step["run"]], cwd=workspace, env=step_env,
                                      capture_output=True, text=True, timeout=900, check=False))
        if results[-1].returncode:
            break
    return workspace, results


def test_github_job_steps_run_as_written(github_job):
    workspace, results = github_job
    for result in results:
        assert result.returncode == 0, result.args[-1] + "\n" + result.stdout[-3000:] + result.stderr[-3000:]
    assert len(results) == len([s for s in github_steps() if "run" in s])
    installed = os.path.join(workspace, "collections", "ansible_collections", "backupready", "windows", "MANIFEST.json")
    assert os.path.isfile(installed)
    for name in ("junit.xml", "report.json", "report.html"):
        assert os.path.isfile(os.path.join(workspace, "backupready-report", name)), name
    # the vault password file the step writes is gone when the step ends
    leftovers = [os.path.join(d, f) for d, _unused, files in os.walk(os.path.join(workspace, ".tmp")) for f in files]
    assert not [f for f in leftovers if SECRET in open(f, encoding="utf-8", errors="replace").read()]
