"""``ansible-test units`` imports and passes every unit test file, as a reviewer or a CI using ansible-test runs them.

ansible-test imports test files through the collection loader (``ansible_collections.backupready.windows.tests...``)
with its own pytest configuration, not this checkout's ``pytest.ini``; ``tests/unit/conftest.py`` and
``tests/unit/requirements.txt`` are what make that work.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

import run_sanity

UNIT = Path(run_sanity.ROOT) / "tests" / "unit"


@pytest.mark.sanity
def test_ansible_test_units_imports_and_passes_every_test_file():
    try:
        completed = run_sanity.run_units()
    except run_sanity.SanityUnavailable as missing:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run ansible-test units, but: {missing}")
        pytest.skip(str(missing))
    output = run_sanity.condensed(completed.stdout)
    assert completed.returncode == 0, output
    files = sorted(str(p.relative_to(run_sanity.ROOT)) for p in UNIT.rglob("test_*.py"))
    assert files and all(name in output for name in files), "ansible-test did not run every test file"
    summary = re.search(r"=+ (\d+) passed(.*) in [0-9.]+s", output)
    assert summary and "error" not in summary.group(2), output[-3000:]
