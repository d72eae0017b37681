"""``ansible-test sanity`` on this checkout (see run_sanity.py), and the get-pip stand-in it relies on."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import get_pip_standin
import run_sanity

ROOT = Path(run_sanity.ROOT)


@pytest.mark.sanity
def test_ansible_test_sanity_passes():
    try:
        result = run_sanity.run()
    except run_sanity.SanityUnavailable as missing:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run ansible-test sanity, but: {missing}")
        pytest.skip(str(missing))
    skipped = "; ".join(f"{test} ({reason})" for test, reason in result.skipped.items())
    assert result.returncode == 0, (
        f"ansible-test sanity failed (exit code {result.returncode}); ran: {' '.join(result.tests)}; "
        f"skipped: {skipped}\n{run_sanity.condensed(result.output)}")
    for test in ("pylint", "yamllint", "validate-modules"):
        assert f"Running sanity test \"{test}\"" in result.output, test
    if shutil.which("pwsh") is None:  # only the PowerShell modules' spec check is left out, and it is said so
        files, unchecked = result.left_out["validate-modules"]
        assert files == sorted(str(p.relative_to(ROOT)) for p in (ROOT / "plugins" / "modules").glob("*.ps1"))
        assert "argument spec" in unchecked and "test_powershell.py" in unchecked


def _break_author(collection):
    path = os.path.join(collection, "plugins", "modules", "win_cryptsvc.py")
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text.replace("  - backupready.windows developers (@backupready)\n", "  - backupready.windows developers\n"))


@pytest.mark.sanity
def test_validate_modules_fails_on_a_broken_document():
    try:
        result = run_sanity.run(["validate-modules"], change_copy=_break_author)
    except run_sanity.SanityUnavailable as missing:
        pytest.skip(str(missing))
    assert result.returncode != 0
    assert "plugins/modules/win_cryptsvc.py:0:0: invalid-documentation: DOCUMENTATION.author" in result.output


def test_standin_installs_what_ansible_test_asks_for_with_the_bundled_pip(monkeypatch):
    calls = []
    monkeypatch.setattr(subprocess, "call", lambda command: calls.append(command) or 0)

    # the arguments ansible-test's bootstrap passes (requirements.py: packages, common options, get-pip options)
    status = get_pip_standin.main(["pip==24.2", "--disable-pip-version-check", "--no-setuptools", "--no-wheel"])

    assert status == 0
    ((python, pip, *arguments),) = calls
    assert python == sys.executable
    assert os.path.basename(os.path.dirname(pip)).startswith("pip-") and pip.endswith(".whl" + os.sep + "pip")
    assert arguments == ["install", "--upgrade", "pip==24.2", "--disable-pip-version-check"]


def test_standin_goes_where_this_ansible_test_looks_for_its_get_pip_script():
    path = run_sanity.get_pip_cache_path()

    assert os.path.dirname(path) == os.path.expanduser(os.path.join("~", ".ansible", "test", "cache"))
    assert os.path.basename(path).startswith("get_pip_") and "." not in os.path.basename(path)[:-3]
