"""Make the shared test helpers of ``plugins/plugin_utils`` (``statedoc``, and the tables other tests reuse)
importable by their plain names under ``ansible-test units`` too: its pytest configuration imports test files as
``ansible_collections.backupready.windows.tests.unit...`` and does not read this checkout's ``pytest.ini``
(whose ``pythonpath`` does the same for ``make test``)."""

import os
import sys

HELPERS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "plugins", "plugin_utils")
if HELPERS not in sys.path:
    sys.path.insert(0, HELPERS)
