# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``diagnose_imagepath``: how the VSS System Writer reads a service's ImagePath, and what is wrong with it.

Documentation: ``diagnose_imagepath.yml`` beside this file. The logic is in ``plugin_utils/_imagepath.py``.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.backupready.windows.plugins.plugin_utils._imagepath import ImagePathError, diagnose


def diagnose_imagepath(value, kind=None, service_type=None, volumes=None, service_name=None,
                       system_root="C:\\Windows"):
    """Return ``{defects, writer_path, fixed_value, notes, executable, arguments, exclusion_path, ...}``."""
    if isinstance(service_type, str):
        service_type = service_type.lower()
    try:
        return diagnose(str(value) if isinstance(value, str) else value, kind=kind, service_type=service_type,
                        volumes=volumes, service_name=service_name, system_root=system_root).as_dict()
    except ImagePathError as exc:
        raise AnsibleFilterError(f"diagnose_imagepath: {exc}") from None


class FilterModule:
    def filters(self):
        return {"diagnose_imagepath": diagnose_imagepath}
