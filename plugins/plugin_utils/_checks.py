# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Imports every concern module, so that each one registers its rows in the check table."""

# pylint: disable=unused-import
from . import _vss  # noqa: F401  cryptsvc_state, system_writer_missing / system_writer_failed
from . import _exclusions  # noqa: F401  exclusion_invalid
from . import _acl  # noqa: F401  filemaps_acl, vss_access_control, service_sd_blocks_writer
from . import _imagepath  # noqa: F401  invalid_syntax, quoted_driver, embedded_nul, missing_volume, missing_file, unquoted_spaces
from . import _unreadable  # noqa: F401  state_unreadable
