"""The ansible-core version matrix runs what it says: ``make matrix`` sets BACKUPREADY_EXPECT_ANSIBLE_CORE to the
version pinned in tests/matrix/<entry>.txt, and this fails if another ansible-core was imported."""

import os

import pytest
from ansible.release import __version__


@pytest.mark.skipif("BACKUPREADY_EXPECT_ANSIBLE_CORE" not in os.environ, reason="not a run of the version matrix")
def test_the_matrix_entry_runs_its_ansible_core():
    assert __version__ == os.environ["BACKUPREADY_EXPECT_ANSIBLE_CORE"]
