"""``antsibull-docs lint-collection-docs --plugin-docs``: the check the Ansible docsite applies to a collection.

It renders every plugin's and role's documentation (modules, filters, the callback, role argument specs), checks
it against the docsite schema and resolves every ``M()``/``O()``/``RV()`` reference. It runs on a copy of the files
git knows (the same copy ``ansible-test sanity`` gets), so nothing local leaks in.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "sanity"))
import run_sanity  # noqa: E402  pylint: disable=wrong-import-position

BIN = Path(sys.executable).parent


def lint(collection: str) -> subprocess.CompletedProcess:
    antsibull_docs = BIN / "antsibull-docs"
    if not antsibull_docs.exists():
        pytest.fail(f"antsibull-docs is not installed next to {sys.executable} (requirements-dev.txt has it)")
    env = {key: value for key, value in os.environ.items() if key not in ("ANSIBLE_CONFIG", "ANSIBLE_COLLECTIONS_PATH")}
    env["PATH"] = str(BIN) + os.pathsep + env.get("PATH", "")
    env["ANSIBLE_COLLECTIONS_PATH"] = str(Path(collection).parents[2])  # the copy's ansible_collections/.. only
    return subprocess.run([str(antsibull_docs), "lint-collection-docs", "--plugin-docs", collection], env=env,
                          capture_output=True, text=True, timeout=600, check=False)


def test_collection_docs_lint_clean(tmp_path):
    result = lint(run_sanity.copy_collection(str(tmp_path)))
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def test_lint_rejects_a_module_document_it_cannot_render(tmp_path):
    collection = run_sanity.copy_collection(str(tmp_path))
    module = Path(collection, "plugins", "modules", "win_cryptsvc.py")
    text = module.read_text(encoding="utf-8")
    # without the fragment that describes check_mode, diff_mode and platform, the attributes are incomplete
    module.write_text(text.replace("  - ansible.builtin.action_common_attributes\n", "", 1), encoding="utf-8")
    result = lint(collection)
    assert result.returncode != 0
    assert "plugins/modules/win_cryptsvc.py" in result.stdout
    # the M() references to the rejected module, elsewhere in the collection, break too
    assert "there is no module backupready.windows.win_cryptsvc" in result.stdout
