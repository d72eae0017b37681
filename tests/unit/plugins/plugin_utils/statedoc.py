"""A minimal valid host state document for tests: ``make_state(**overrides)``.

Overrides replace top-level sections; ``services`` entries can be made with ``make_service``.
"""

from __future__ import annotations

import copy

TRUSTED_INSTALLER = "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464"

HEALTHY_VSSADMIN = """vssadmin 1.1 - Volume Shadow Copy Service administrative command-line tool
(C) Copyright 2001-2013 Microsoft Corp.

Writer name: 'System Writer'
   Writer Id: {e8132975-6f93-4464-a53e-1050253ae220}
   Writer Instance Id: {eb6b4c30-aa48-486a-9618-0d1934d180ca}
   State: [1] Stable
   Last error: No error

Writer name: 'Registry Writer'
   Writer Id: {afbab4a2-367d-4d15-a586-71dbb18f8485}
   Writer Instance Id: {d3faa119-61c1-4ec4-b163-68b43efad58b}
   State: [1] Stable
   Last error: No error

"""


def make_service(name, image_path, kind="REG_EXPAND_SZ", type_=0x10, start_mode="manual", state="stopped",
                 display_name=None, account=None, sddl=None, scm_path=None):
    return {
        "name": name,
        "display_name": display_name if display_name is not None else name,
        "type": type_,
        "start_mode": start_mode,
        "state": state,
        "account": account,
        "image_path": {"kind": kind, "data": image_path} if kind != "missing" else {"kind": "missing", "data": None},
        "scm_path": scm_path,
        "security": {"sddl": sddl, "source": "registry" if sddl else "default"},
    }


_BASE = {
    "schema_version": 1,
    "collected_at": "2026-11-01T10:00:00Z",
    "collector": "tests",
    "host": {
        "name": "testhost",
        "os_version": "10.0.20348",
        "os_build": 20348,
        "os_caption": "Microsoft Windows Server 2022 Standard",
        "product_type": "server",
        "system_root": "C:\\Windows",
        "system_drive": "C:",
    },
    "volumes": [{"drive_letter": "C:", "mount_point": "C:\\", "file_system": "NTFS"}],
    "services": [
        make_service("CryptSvc", "%SystemRoot%\\system32\\svchost.exe -k NetworkService -p", type_=0x20,
                     start_mode="auto", state="running", display_name="Cryptographic Services",
                     account="NT Authority\\NetworkService"),
        make_service("1394ohci", "\\SystemRoot\\System32\\drivers\\1394ohci.sys", type_=0x1),
    ],
    "system_writer": {
        "key_exists": False,
        "excluded_binary_paths": {"kind": "missing", "data": None},
        "report_win32_services_non_system_state": {"kind": "missing", "data": None},
    },
    "vssadmin": {"collected": True, "exit_code": 0, "stdout": HEALTHY_VSSADMIN, "stderr": ""},
    "filemaps": {
        "path": "C:\\Windows\\winsxs\\filemaps",
        "exists": True,
        "sddl": f"O:BAG:SYD:PAI(A;OICI;FA;;;{TRUSTED_INSTALLER})(A;OICI;0x1200a9;;;SY)(A;OICI;0x1200a9;;;BA)(A;OICI;0x1200a9;;;BU)",
        "files": {"count": 3, "descriptors": [{
            "sddl": f"O:BAG:SYD:(A;;FA;;;{TRUSTED_INSTALLER})(A;;0x1200a9;;;SY)(A;;0x1200a9;;;BA)(A;;0x1200a9;;;BU)S:ARAI(AU;SAFA;0x1f0116;;;WD)",
            "count": 3,
            "samples": ["_0000000000000000.cdf-ms", "$$.cdf-ms", "$$_system32_21f9a9c4a2f8b514.cdf-ms"],
        }]},
    },
    "pending_renames": {
        "path": "C:\\Windows\\winsxs\\temp\\PendingRenames",
        "exists": True,
        "sddl": f"O:BAG:SYD:PAI(A;OICI;FA;;;{TRUSTED_INSTALLER})(A;OICI;0x1200a9;;;SY)(A;OICI;0x1200a9;;;BA)(A;OICI;0x1200a9;;;BU)",
    },
    "vss_access_control": {
        "key_exists": True,
        "values": {"NT Authority\\NetworkService": {"kind": "REG_DWORD", "data": 1}},
    },
    "events": [],
    "wsb_log_lines": [],
    "paths": {},
}


def make_state(**overrides) -> dict:
    doc = copy.deepcopy(_BASE)
    for key, value in overrides.items():
        doc[key] = copy.deepcopy(value)
    return doc
