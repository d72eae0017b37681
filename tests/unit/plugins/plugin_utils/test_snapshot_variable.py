"""The host variable backupready_snapshot: an empty value is a mistake to report, not a live host.

Drill 1a of the reliability drills (`var_empty`): `backupready_snapshot: ''` made the host a live host without a
word, and the run failed later with "win_backup_state failed: The module interpreter 'powershell' was not found",
naming neither the variable nor the mistake. A host without the variable is a live host; a host with an empty
one is refused, naming the variable.
"""

import pytest

from ansible_collections.backupready.windows.plugins.plugin_utils._backend import (
    BackendError, LiveBackend, select_backend)


def test_a_host_without_the_variable_is_a_live_host():
    assert isinstance(select_backend({"inventory_hostname": "fs01"}, call_module=None), LiveBackend)
    assert isinstance(select_backend({"inventory_hostname": "fs01", "backupready_snapshot": None}, None), LiveBackend)


@pytest.mark.parametrize("value", ["", "   "])
def test_an_empty_snapshot_variable_is_refused_naming_it(value):
    try:
        backend = select_backend({"inventory_hostname": "bad", "backupready_snapshot": value}, call_module=None)
    except BackendError as exc:
        assert str(exc).startswith("bad: host variable backupready_snapshot is empty")
    else:
        raise AssertionError(f"an empty backupready_snapshot gave a {type(backend).__name__}")
