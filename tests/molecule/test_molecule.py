"""The molecule scenarios of extensions/molecule that need no Windows host: default and check_mode.

Each runs `molecule test -s <scenario>` from the repository root, with the venv's bin on PATH and the collection
resolved from the checkout (ANSIBLE_COLLECTIONS_PATH); the scenarios set `prerun: false`, so nothing is built
and installed into ~/.ansible/collections, which the test checks. Molecule runs with a temporary HOME: the user's
own ~/.ansible (an installed copy of the collection, for one) is neither used nor touched.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
COLLECTIONS = os.path.join(ROOT, ".venv", "collections")
USER_COPY = os.path.join(".ansible", "collections", "ansible_collections", "backupready")  # under HOME
SNAPSHOTS = os.path.join(ROOT, "examples", "fleet", "snapshots")


def snapshot_bytes() -> dict[str, bytes]:
    return {name: open(os.path.join(SNAPSHOTS, name), "rb").read() for name in sorted(os.listdir(SNAPSHOTS))}


@pytest.mark.molecule
@pytest.mark.parametrize("scenario", ["default", "check_mode"])
def test_molecule_scenario(scenario, tmp_path):
    if not os.path.exists(os.path.join(BIN, "molecule")):
        pytest.fail(f"molecule is not installed in {BIN} (requirements-dev.txt)")
    # A temporary HOME: no copy an earlier run (or the user) installed in ~/.ansible can shadow the checkout, and
    # the user's own is left alone.
    home = tmp_path / "home"
    home.mkdir()
    user_copy = os.path.join(str(home), USER_COPY)
    committed = snapshot_bytes()
    env = dict(os.environ)
    env.update({
        "HOME": str(home),
        "PATH": BIN + os.pathsep + env.get("PATH", ""),
        "ANSIBLE_COLLECTIONS_PATH": COLLECTIONS,
        "ANSIBLE_NOCOLOR": "1",
        "NO_COLOR": "1",
    })
    for name in ("ANSIBLE_CONFIG", "MOLECULE_EPHEMERAL_DIRECTORY", "BACKUPREADY_REPORT_DIR", "ANSIBLE_HOME",
                 "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME"):
        env.pop(name, None)
    completed = subprocess.run([os.path.join(BIN, "molecule"), "test", "-s", scenario], cwd=ROOT, env=env,
                               capture_output=True, text=True, timeout=1200, check=False)
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, f"molecule test -s {scenario} failed:\n{output}"
    assert "Molecule executed 1 scenario (1 successful)" in output, output
    assert not os.path.exists(user_copy), f"molecule installed a copy of the collection into {user_copy}"
    assert snapshot_bytes() == committed, "the scenario changed examples/fleet/snapshots"
