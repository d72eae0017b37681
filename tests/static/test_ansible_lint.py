"""ansible-lint with the production profile passes on the whole collection (roles, playbooks, metadata)."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HOME_COPY = os.path.expanduser("~/.ansible/collections/ansible_collections/backupready")


def test_ansible_lint_production_profile_passes():
    existed = os.path.exists(HOME_COPY)
    env = dict(os.environ)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    env["ANSIBLE_COLLECTIONS_PATH"] = os.path.join(ROOT, ".venv", "collections")
    env["NO_COLOR"] = "1"
    result = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-lint"), "--profile", "production"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Profile 'production' was required, and it passed" in output, output
    # .ansible-lint sets offline: true, so no copy of the collection may land in ~/.ansible (it would shadow
    # the working tree in later runs).
    assert existed or not os.path.exists(HOME_COPY)
