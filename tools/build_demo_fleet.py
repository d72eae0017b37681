# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Build the demo fleet: one host state document (snapshot) per host, from real-world cases.

    python tools/build_demo_fleet.py                 # writes examples/fleet/{inventory.yml,snapshots/*.json}
    python tools/build_demo_fleet.py --out /tmp/x    # somewhere else (the unit test does this)
    python tools/build_demo_fleet.py --check         # exit 1 when the committed files differ

Deterministic: no clock, no randomness. Instance ids, file counts and the like come from a SHA-256 of
the host name. The service list is read, at generation time only, from
``tests/data/imagepaths-default-windows.jsonl`` (real default-Windows ImagePath values) and
``tests/data/imagepaths-more-real.jsonl`` (sources in ``tests/data/README.md``).

Every case cites its public source (a KB article, a Microsoft docs page, an issue) in one comment line.
What is invented (start modes, instance ids, counts, the broken owner SID) is said where it is made.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import re
import sys
import uuid
from dataclasses import dataclass, field
from typing import Callable

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_DATA = os.path.join(REPO, "tests", "data")
DEFAULT_OUT = os.path.join(REPO, "examples", "fleet")

COLLECTED_AT = "2026-11-02T08:00:00Z"
COLLECTOR = "backupready.windows demo fleet (tools/build_demo_fleet.py)"
SYSTEM_ROOT = "C:\\Windows"


def _load_state_module():
    """plugins/plugin_utils/_state.py has no package-relative imports: load it by path."""
    path = os.path.join(REPO, "plugins", "plugin_utils", "_state.py")
    spec = importlib.util.spec_from_file_location("backupready_state", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_state = _load_state_module()

# ---------------------------------------------------------------------------------------------------
# Well-known SIDs and descriptors
# ---------------------------------------------------------------------------------------------------

TRUSTED_INSTALLER = "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464"
# Invented: an unknown domain user that took ownership of filemaps (acl-broken host).
UNKNOWN_DOMAIN_USER = "S-1-5-21-1004336348-1177238915-682003330-4711"

# Inferred default (no public source gives the default; TrustedInstaller F + SYSTEM/Admins/Users RX).
FILEMAPS_FOLDER_SDDL = (f"O:{TRUSTED_INSTALLER}G:{TRUSTED_INSTALLER}D:PAI(A;OICI;FA;;;{TRUSTED_INSTALLER})"
                        "(A;OICI;0x1200a9;;;SY)(A;OICI;0x1200a9;;;BA)(A;OICI;0x1200a9;;;BU)")
# TiWorker sets this SACL on the *.cdf-ms files (Security 4670-style event samples).
TIWORKER_SACL = "S:ARAI(AU;SAFA;0x1f0116;;;WD)"
_INHERITED_DACL = (f"D:AI(A;ID;FA;;;{TRUSTED_INSTALLER})(A;ID;0x1200a9;;;SY)(A;ID;0x1200a9;;;BA)"
                   "(A;ID;0x1200a9;;;BU)")
HEALTHY_FILE_SDDLS = (
    f"O:{TRUSTED_INSTALLER}G:{TRUSTED_INSTALLER}{_INHERITED_DACL}{TIWORKER_SACL}",
    f"O:SYG:SY{_INHERITED_DACL}{TIWORKER_SACL}",
    f"O:BAG:SY{_INHERITED_DACL}{TIWORKER_SACL}",
)
# acl-broken (KB 2009272 cause; the write-up "System writer is not found in the backup Error (Windows Server
# Backup)"): owner an unknown user, SYSTEM and Users grants gone, Users denied read.
BROKEN_FOLDER_SDDL = (f"O:{UNKNOWN_DOMAIN_USER}G:DUD:PAI(D;OICI;FR;;;BU)(A;OICI;FA;;;{TRUSTED_INSTALLER})"
                      "(A;OICI;0x1200a9;;;BA)")
# The files inherit from the folder (Windows propagates a folder's inheritable ACEs to its files: "Automatic
# Propagation of Inheritable ACEs", Microsoft docs); the user took ownership of most of them too.
_BROKEN_INHERITED_DACL = f"D:AI(D;ID;FR;;;BU)(A;ID;FA;;;{TRUSTED_INSTALLER})(A;ID;0x1200a9;;;BA)"
BROKEN_FILE_SDDL = f"O:{UNKNOWN_DOMAIN_USER}G:DU{_BROKEN_INHERITED_DACL}{TIWORKER_SACL}"
BROKEN_TI_FILE_SDDL = f"O:{TRUSTED_INSTALLER}G:{TRUSTED_INSTALLER}{_BROKEN_INHERITED_DACL}{TIWORKER_SACL}"

# Real FileMaps file names from public sources (WinSxS\FileMaps listings in public scripts).
FILEMAP_NAMES = (
    "_0000000000000000.cdf-ms",
    "$$.cdf-ms",
    "programdata_microsoft_windows_wer_temp_783673b09e921b6b.cdf-ms",
    "$$_waas_regkeys_dbffc348a6fab71c.cdf-ms",
    "$$_waas_services_ddfc4ae175ff1678.cdf-ms",
    "$$_waas_tasks_0504086c7768f632.cdf-ms",
    "$$_microsoft.net_framework64_v4.0.30319_46321ba736a30085.cdf-ms",
    "$$_globalization_sorting_04883de290c6ef1b.cdf-ms",
    "$$_appcompat_appraiser_33781004733ffeee.cdf-ms",
)

# KB 3209092: MSLLDP descriptors, verbatim.
MSLLDP_SDDL_DEFAULT_NO_SU = (  # reported default (`sc sdshow MSLLDP`, netwrix KB): no SU grant
    "D:(D;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;BG)(A;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;SY)(A;;CCDCLCSWRPDTLOCRSDRCWDWO;;;BA)"
    "(A;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;SO)(A;;LCRPWP;;;S-1-5-80-3141615172-2057878085-1754447212-2405740020-3916490453)"
    "S:(AU;FA;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;WD)")
MSLLDP_SDDL_FIXED = (  # widely published fix (justworks, netwrix): adds (A;;CCLCSWLOCRRC;;;SU)
    "D:(D;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;BG)(A;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;SY)(A;;CCDCLCSWRPDTLOCRSDRCWDWO;;;BA)"
    "(A;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;SO)(A;;LCRPWP;;;S-1-5-80-3141615172-2057878085-1754447212-2405740020-3916490453)"
    "(A;;CCLCSWLOCRRC;;;SU)S:(AU;FA;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;WD)")

# ---------------------------------------------------------------------------------------------------
# vssadmin list writers
# ---------------------------------------------------------------------------------------------------

SYSTEM_WRITER = "System Writer"
# Writer ids, each confirmed in public material: in-box VSS writers doc (System, Registry, ASR, COM+ REGDB,
# NTDS); list-writers doc sample (Shadow Copy Optimization); real vssadmin output in riedyw/PoshFunctions
# Docs/Markdown/Get-VssadminListWriters.md (WMI, Task Scheduler, VSS Metadata Store, Performance Counters);
# "DFSR Replicated Folders" Win32 doc, "Details on the DFSR VSS Writer" (DFS Replication service writer).
WRITER_IDS = {
    "Task Scheduler Writer": "d61d61c8-d73a-4eee-8cdd-f6f9786b7124",
    "VSS Metadata Store Writer": "75dfb225-e2e4-4d39-9ac9-ffaff65ddf06",
    "Performance Counters Writer": "0bada1de-01a9-4625-8278-69e735f39dd2",
    SYSTEM_WRITER: "e8132975-6f93-4464-a53e-1050253ae220",
    "ASR Writer": "be000cbe-11fe-4426-9c58-531aa6355fc4",
    "Shadow Copy Optimization Writer": "4dc3bdd4-ab48-4d07-adb0-3bee2926fd7f",
    "Registry Writer": "afbab4a2-367d-4d15-a586-71dbb18f8485",
    "COM+ REGDB Writer": "542da469-d3e1-473c-9f4f-7847f01fc64f",
    "WMI Writer": "a6ad56c2-b509-4e6c-bb19-49d8f43532f0",
    "NTDS": "b2014c9e-8711-4c5c-a5a9-3cf384484757",
    "DFS Replication service writer": "2707761b-2324-473d-88eb-eb007a359533",
}
DC_WRITERS = ("NTDS", "DFS Replication service writer")

# vssadmin list writers, real-output shape (KB 2952783: header, quoted name, 3-space indent).
VSSADMIN_HEADER_EN = ("vssadmin 1.1 - Volume Shadow Copy Service administrative command-line tool\n"
                      "(C) Copyright 2001-2013 Microsoft Corp.\n\n")
# Assumed French localisation (not verified verbatim against a French Windows; the shape the parser expects).
VSSADMIN_HEADER_FR = ("vssadmin 1.1 - Outil ligne de commande d'administration du service de cliché instantané "
                      "des volumes\n"
                      "(C) Copyright 2001-2013 Microsoft Corp.\n\n")
_WRITER_BLOCK = {
    "en": ("Writer name: '{name}'\n   Writer Id: {{{id}}}\n   Writer Instance Id: {{{instance}}}\n"
           "   State: [1] Stable\n   Last error: No error\n\n"),
    "fr": ("Nom de l'enregistreur : '{name}'\n   ID de l'enregistreur : {{{id}}}\n"
           "   ID de l'instance de l'enregistreur : {{{instance}}}\n   État : [1] Stable\n"
           "   Dernière erreur : Aucune erreur\n\n"),
}


def stable_uuid(*parts: str) -> str:
    """A made-up but stable GUID (version 4 layout) from a hash of the parts."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def stable_int(low: int, high: int, *parts: str) -> int:
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).digest()
    return low + int.from_bytes(digest[:8], "big") % (high - low + 1)


def vssadmin_stdout(host: str, language: str, dc: bool, with_system_writer: bool, generation: str = "") -> str:
    names = [n for n in WRITER_IDS if n not in DC_WRITERS or dc]
    if not with_system_writer:
        names.remove(SYSTEM_WRITER)
    header = VSSADMIN_HEADER_FR if language == "fr" else VSSADMIN_HEADER_EN
    blocks = [_WRITER_BLOCK[language].format(name=n, id=WRITER_IDS[n], instance=stable_uuid(host, n, generation))
              for n in names]
    return header + "".join(blocks)


def vssadmin_section(stdout: str) -> dict:
    return {"collected": True, "exit_code": 0, "stdout": stdout, "stderr": ""}


# ---------------------------------------------------------------------------------------------------
# Events (verbatim texts; Windows event messages use CRLF line ends)
# ---------------------------------------------------------------------------------------------------

CAPI2_513_OLD = "Cryptographic Services failed while processing the OnIdentity() call in the System Writer Object."
CAPI2_513_NEW = ("An error occurred in Cryptographic Services while processing the OnIdentity() call in "
                 "System Writer Object.")


def capi2_513(time: str, details: str, system_error: str, wording: str = "new") -> dict:
    """CAPI2 513 description = heading, Details, System Error (KB 2009272, KB 3209092)."""
    heading = CAPI2_513_NEW if wording == "new" else CAPI2_513_OLD
    message = f"{heading}\r\n\r\nDetails:\r\n{details}\r\n\r\nSystem Error:\r\n{system_error}"
    return {"log": "Application", "provider": "Microsoft-Windows-CAPI2", "id": 513, "time_created": time,
            "level": "Error", "message": message, "properties": [details, system_error]}


def backup_517(time: str, started: str, code: str, text: str) -> dict:
    """Microsoft-Windows-Backup 517 (KB 2009272, KB 968247)."""
    message = (f"Backup started at '{started}' failed with following error code '{code}' ({text}). "
               "Please rerun backup once issue is resolved.")
    return {"log": "Application", "provider": "Microsoft-Windows-Backup", "id": 517, "time_created": time,
            "level": "Error", "message": message, "properties": [started, code, text]}


def vss_8213(time: str) -> dict:
    """KB 2009272: VSS 8213, the System Writer's host lacks access rights."""
    message = ("Volume Shadow Copy Service error: The process that hosts the writer with name System Writer and "
               "ID {e8132975-6f93-4464-a53e-1050253ae220} does not run under a user with sufficient access rights. "
               "Consider running this process under a local account which is either Local System, Administrator, "
               "Network Service, or Local Service. Operation: Initializing Writer")
    return {"log": "Application", "provider": "VSS", "id": 8213, "time_created": time, "level": "Error",
            "message": message, "properties": ["System Writer", "{e8132975-6f93-4464-a53e-1050253ae220}"]}


# ---------------------------------------------------------------------------------------------------
# Services
# ---------------------------------------------------------------------------------------------------

# Service Type from the source's observed_via (winnt.h values).
_TYPE_BY_OBSERVED = (
    ("SERVICE_KERNEL_DRIVER", 0x1),
    ("SERVICE_FILE_SYSTEM_DRIVER", 0x2),
    ("SERVICE_WIN32_OWN_PROCESS", 0x10),
    ("SERVICE_WIN32_SHARE_PROCESS", 0x20),
    ("Type 0x60", 0x60),
)
# The 2 default rows on drive X: come from an offline setup image: not on an installed server.
_OFFLINE_IMAGE_DRIVE = re.compile(r'^"?X:\\', re.IGNORECASE)

# Plausible driver start modes (invented from general Windows knowledge, not measured): boot and system
# drivers run, the rest are demand-start and stopped.
BOOT_DRIVERS = {n.lower() for n in (
    "ACPI", "CNG", "disk", "EhStorClass", "FltMgr", "fvevol", "iorate", "KSecDD", "KSecPkg", "mountmgr",
    "msisadrv", "pcw", "pdc", "spaceport", "vdrvroot", "volmgr", "volmgrx", "volsnap", "volume", "Wdf01000",
    "WindowsTrustedRT", "storflt", "hwpolicy", "intelide", "pciide", "atapi", "vmgid", "vpci")}
SYSTEM_DRIVERS = {n.lower() for n in (
    "ahcache", "bam", "cdrom", "CSC", "dam", "mssmbios", "nsiproxy", "rdbss", "tdx", "WFPLWFS", "CAD",
    "NdisVirtualBus", "Telemetry", "WindowsTrustedRTProxy", "mrxsmb", "mrxsmb20", "srvnet", "srv2")}
RUNNING_MANUAL_DRIVERS = {n.lower() for n in (
    "condrv", "DXGKrnl", "CompositeBus", "umbus", "mouclass", "monitor", "kbldfltr", "HyperVideo", "hyperkbd",
    "vmbushid", "Processor", "intelppm", "AmdPPM", "WmiAcpi", "acpiex", "AcpiDev", "hvservice", "ksthunk",
    "swenum", "rdpbus", "tcpipreg", "mslldp", "lltdio", "rspndr", "ndproxy", "NdisTapi", "kdnic", "bowser")}

# Display names known for in-box services (general Windows knowledge); everything else keeps its name.
DISPLAY_NAMES = {
    "alg": "Application Layer Gateway Service",
    "comsysapp": "COM+ System Application",
    "rpclocator": "Remote Procedure Call (RPC) Locator",
    "snmptrap": "SNMP Trap",
    "perfhost": "Performance Counter DLL Host",
    "wmiapsrv": "WMI Performance Adapter",
    "wbengine": "Block Level Backup Engine Service",
    "eaphost": "Extensible Authentication Protocol",
    "stisvc": "Windows Image Acquisition (WIA)",
    "tieringengineservice": "Storage Tiers Management",
    "winmad": "WinMad Service",  # KB 4053355: Mellanox/OpenFabrics "WinMad Service"
}


def make_service(name: str, image_path: str | None, type_: int, start_mode: str, state: str | None,
                 display_name: str | None = None, account: str | None = None, kind: str = "REG_EXPAND_SZ",
                 sddl: str | None = None) -> dict:
    scm_path = image_path.split("\x00", 1)[0] if image_path is not None else None
    return {
        "name": name,
        "display_name": display_name or DISPLAY_NAMES.get(name.lower(), name),
        "type": type_,
        "start_mode": start_mode,
        "state": state,
        "account": account,
        "image_path": ({"kind": kind, "data": image_path} if image_path is not None
                       else {"kind": "missing", "data": None}),
        # Assumed: QueryServiceConfig returns the stored string up to the first NUL (the SCM may normalise
        # driver paths: basil00/WinDivert#270, winsiderss/systeminformer#1371; not verified).
        "scm_path": scm_path,
        "security": {"sddl": sddl, "source": "registry" if sddl else "default"},
    }


def read_jsonl(path: str) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def service_type(row: dict) -> int:
    for marker, value in _TYPE_BY_OBSERVED:
        if marker in row["observed_via"]:
            return value
    raise ValueError(f"{row['id']}: cannot tell the service type from observed_via {row['observed_via']!r}")


def default_services(rows: list[dict]) -> list[dict]:
    """Every default-Windows row except the offline-image X: rows, as services with plausible modes."""
    services = []
    for row in rows:
        if _OFFLINE_IMAGE_DRIVE.match(row["value"]):
            continue
        type_ = service_type(row)
        # Value kind: every default row says "unknown"; Windows stores ImagePath as REG_EXPAND_SZ.
        kind = row["value_type"] if row["value_type"] in ("REG_SZ", "REG_EXPAND_SZ") else "REG_EXPAND_SZ"
        lowered = row["service"].lower()
        if type_ & _state.SERVICE_DRIVER_MASK:
            if lowered in BOOT_DRIVERS:
                mode, state = "boot", "running"
            elif lowered in SYSTEM_DRIVERS:
                mode, state = "system", "running"
            else:
                mode, state = "manual", "running" if lowered in RUNNING_MANUAL_DRIVERS else "stopped"
            account = None
        else:
            mode, state = "manual", "stopped"
            account = "NT AUTHORITY\\LocalService" if "-k localservice" in row["value"].lower() else "LocalSystem"
        services.append(make_service(row["service"], row["value"], type_, mode, state, account=account, kind=kind))
    return services


def scenario_services(build: int) -> list[dict]:
    """Services the scenario needs that the data lacks, with values as Windows has them (svchost forms, inferred)."""
    p = " -p" if build >= 17763 else ""  # svchost -p exists from Windows 10 1703 on; not on Server 2016 (inferred from Windows 10 1703+ service listings)
    return [
        # CryptSvc, NETWORK SERVICE, Automatic, hosts the System Writer (KB 2009272; in-box VSS writers doc).
        make_service("CryptSvc", f"%SystemRoot%\\system32\\svchost.exe -k NetworkService{p}", 0x20, "auto", "running",
                     display_name="Cryptographic Services", account="NT Authority\\NetworkService"),
        # MARS prerequisites (Azure Backup system state troubleshooting doc): VSS manual; EventSystem, SENS, RpcSs automatic.
        make_service("VSS", "%systemroot%\\system32\\vssvc.exe", 0x10, "manual", "stopped",
                     display_name="Volume Shadow Copy", account="LocalSystem"),
        make_service("EventSystem", f"%SystemRoot%\\system32\\svchost.exe -k LocalService{p}", 0x20, "auto", "running",
                     display_name="COM+ Event System", account="NT AUTHORITY\\LocalService"),
        make_service("SENS", f"%SystemRoot%\\system32\\svchost.exe -k netsvcs{p}", 0x20, "auto", "running",
                     display_name="System Event Notification Service", account="LocalSystem"),
        make_service("RpcSs", f"%SystemRoot%\\system32\\svchost.exe -k rpcss{p}", 0x20, "auto", "running",
                     display_name="Remote Procedure Call (RPC)", account="NT AUTHORITY\\NetworkService"),
        # KB 3209092: MSLLDP driver; healthy hosts carry the published fix (SU grant).
        make_service("MSLLDP", "\\SystemRoot\\system32\\drivers\\mslldp.sys", 0x1, "manual", "running",
                     display_name="Microsoft Link-Layer Discovery Protocol", sddl=MSLLDP_SDDL_FIXED),
    ]


def find(services: list[dict], name: str) -> dict:
    for service in services:
        if service["name"].lower() == name.lower():
            return service
    raise KeyError(name)


# ---------------------------------------------------------------------------------------------------
# The path the System Writer derives (cryptcatsvc.dll, decompiled: clear cases only)
# ---------------------------------------------------------------------------------------------------

_SYSTEMROOT_VAR = re.compile(r"%(systemroot|windir)%", re.IGNORECASE)


def writer_path(service: dict) -> str | None:
    """The binary path the System Writer would back up, or None when it would skip the service."""
    data = service["image_path"]["data"]
    if data is None:
        return None
    value = data.split("\x00", 1)[0]
    if service["type"] & _state.SERVICE_DRIVER_MASK:
        if value == "":
            return f"{SYSTEM_ROOT}\\System32\\Drivers\\{service['name']}.SYS"
        if value.startswith("\\"):
            value = value.lower()  # the writer lowercases a path that starts with a backslash (CharLowerW)
            if value.startswith("\\??\\"):
                return value[4:]
            if value.startswith("\\systemroot\\"):
                return SYSTEM_ROOT + value[len("\\systemroot"):]
            return value  # any other leading backslash is used raw
        return _SYSTEMROOT_VAR.sub(lambda _m: SYSTEM_ROOT, f"{SYSTEM_ROOT}\\{value}")
    value = value.lower()  # AddWin32ServiceFiles: _wcslwr, then cut right after the first ".exe"
    match = re.search(r"\.exe", value)
    if not match:
        return None  # the writer skips a Win32 service without ".exe"
    path = value[:match.end()]
    if path.startswith('"'):
        path = path[1:]
    return _SYSTEMROOT_VAR.sub(lambda _m: SYSTEM_ROOT, path)


def existence(services: list[dict], overrides: dict[str, bool | None]) -> dict[str, bool]:
    """Every derived path exists, except the host's broken cases (False), or unknown (None: left out)."""
    paths: dict[str, bool] = {}
    lowered = {path.lower(): value for path, value in overrides.items()}  # Windows paths: case-insensitive
    for service in services:
        path = writer_path(service)
        if path is None:
            continue
        value = lowered.get(path.lower(), True)
        if value is not None:
            paths[path] = value
    return dict(sorted(paths.items(), key=lambda item: item[0].lower()))


# ---------------------------------------------------------------------------------------------------
# Hosts
# ---------------------------------------------------------------------------------------------------

OS_VERSIONS = {
    "2016": ("10.0.14393", 14393, "Microsoft Windows Server 2016 Standard"),
    "2019": ("10.0.17763", 17763, "Microsoft Windows Server 2019 Standard"),
    "2022": ("10.0.20348", 20348, "Microsoft Windows Server 2022 Standard"),
    "2022dc": ("10.0.20348", 20348, "Microsoft Windows Server 2022 Datacenter"),
    "2025": ("10.0.26100", 26100, "Microsoft Windows Server 2025 Standard"),
}


@dataclass
class Host:
    """One demo host: what is wrong on it, where the case comes from, what the checks should find."""

    name: str
    os: str
    case: str
    source: str
    codes: tuple[str, ...]
    product_type: str = "server"
    drives: tuple[str, ...] = ("C:",)
    language: str = "en"
    groups: tuple[str, ...] = ()
    apply: Callable[["Builder"], None] | None = None


@dataclass
class Builder:
    """The document being built for one host, plus the existence overrides for its broken paths."""

    host: Host
    doc: dict
    path_overrides: dict[str, bool | None] = field(default_factory=dict)

    @property
    def services(self) -> list[dict]:
        return self.doc["services"]

    def add(self, service: dict) -> None:
        self.services.append(service)

    def vssadmin(self, with_system_writer: bool, generation: str = "") -> dict:
        return vssadmin_section(vssadmin_stdout(self.host.name, self.host.language,
                                                self.host.product_type == "domain_controller",
                                                with_system_writer, generation))


def filemaps_section(host: str, path: str) -> dict:
    """Healthy filemaps: inferred folder default; thousands of files in 1-3 descriptors (invented counts)."""
    total = stable_int(3000, 4200, host, "filemaps")  # a Windows 11 image carries 3764 *.cdf-ms (public note)
    groups = stable_int(1, 3, host, "descriptors")
    counts = [total]
    if groups >= 2:
        counts = [total - 40, 40]
    if groups == 3:
        counts = [total - 52, 40, 12]
    descriptors = []
    for index, count in enumerate(counts):
        start = (index * 3) % len(FILEMAP_NAMES)
        samples = [FILEMAP_NAMES[(start + k) % len(FILEMAP_NAMES)] for k in range(3)]
        descriptors.append({"sddl": HEALTHY_FILE_SDDLS[index], "count": count, "samples": samples})
    return {"path": path, "exists": True, "sddl": FILEMAPS_FOLDER_SDDL,
            "files": {"count": total, "descriptors": descriptors}}


def pending_renames_section() -> dict:
    return {"path": f"{SYSTEM_ROOT}\\winsxs\\temp\\PendingRenames", "exists": True, "sddl": FILEMAPS_FOLDER_SDDL,
            "files": {"count": 0, "descriptors": []}}


def base_document(host: Host, rows: list[dict]) -> Builder:
    version, build, caption = OS_VERSIONS[host.os]
    services = default_services(rows) + scenario_services(build)
    doc = {
        "schema_version": _state.SCHEMA_VERSION,
        "collected_at": COLLECTED_AT,
        "collector": COLLECTOR,
        "host": {
            "name": host.name,
            "os_version": version,
            "os_build": build,
            "os_caption": caption,
            "product_type": host.product_type,
            "system_root": SYSTEM_ROOT,
            "system_drive": "C:",
            "powershell_version": "5.1",
        },
        "volumes": [{"drive_letter": d, "mount_point": d + "\\", "file_system": "NTFS"} for d in host.drives],
        "services": services,
        "system_writer": {
            "key_exists": False,
            "excluded_binary_paths": {"kind": "missing", "data": None},
            "report_win32_services_non_system_state": {"kind": "missing", "data": None},
        },
        "vssadmin": None,
        "filemaps": filemaps_section(host.name, f"{SYSTEM_ROOT}\\winsxs\\filemaps"),
        "pending_renames": pending_renames_section(),
        # KB 2009272: NETWORK SERVICE allowed = 1 on a healthy host.
        "vss_access_control": {"key_exists": True,
                               "values": {"NT Authority\\NetworkService": {"kind": "REG_DWORD", "data": 1}}},
        "events": [],
        "wsb_log_lines": [],
        "paths": {},
    }
    builder = Builder(host, doc)
    doc["vssadmin"] = builder.vssadmin(with_system_writer=True)
    return builder


def build_document(host: Host, rows: list[dict]) -> dict:
    builder = base_document(host, rows)
    if host.apply is not None:
        host.apply(builder)
    doc = builder.doc
    doc["services"].sort(key=lambda s: s["name"].lower())
    doc["paths"] = existence(doc["services"], builder.path_overrides)
    return _state.validate_state(doc, f"demo host {host.name}")


# --- the broken cases, one function per host --------------------------------------------------------

def _winmad_doubled_backslash(b: Builder) -> None:
    # KB 4053355: writer path C:\windows\\systemroot\...; the bad value is unpublished,
    # a doubled leading backslash is a hypothesis (KB 4053355: "remove a leading backslash").
    service = find(b.services, "WinMad")
    service["image_path"]["data"] = service["scm_path"] = "\\\\SystemRoot\\System32\\drivers\\winmad.sys"
    service.update(start_mode="boot", state="running")
    b.path_overrides[writer_path(service)] = None  # a raw UNC-like path: existence unknown
    log = f"{SYSTEM_ROOT}\\Logs\\WindowsServerBackup\\SystemStateBackup_Error-01-11-2026_23-00-12.log"
    b.doc["wsb_log_lines"].append({"file": log, "line": (
        "Error in backup of c:\\windows\\\\systemroot\\  during enumerate: Error [0x8007007b] "
        "The filename, directory name, or volume label syntax is incorrect.")})
    b.doc["events"].append(backup_517("2026-11-01T23:04:51Z", "2026-11-01T23:00:03.000000000Z",
                                      "2155348237", "Enumeration of the files failed."))


def _trend_dotdot(b: Builder) -> None:
    # mikefrobbins.com 2009: TMBMServer with a "..\" segment (reconstructed original value).
    value = '"C:\\Program Files (x86)\\Trend Micro\\Client Server Security Agent\\..\\BM\\TMBMSRV.exe" /service'
    b.add(make_service("TMBMServer", value, 0x10, "auto", "running", account="LocalSystem"))
    b.path_overrides["C:\\Program Files (x86)\\Trend Micro\\Client Server Security Agent\\..\\BM\\TMBMSRV.exe"] = None


def _doubled_systemroot(b: Builder) -> None:
    # winsiderss/systeminformer#1371: ChangeServiceConfig stacked \Systemroot\ twice on vdrvroot.
    service = find(b.services, "vdrvroot")
    service["image_path"]["data"] = service["scm_path"] = "\\Systemroot\\Systemroot\\System32\\drivers\\vdrvroot.sys"
    b.path_overrides[writer_path(service)] = False


def _embedded_nul(b: Builder) -> None:
    # winsiderss/systeminformer#111: REG_EXPAND_SZ with a NUL and a locale-string tail.
    value = ("\\??\\C:\\Program Files\\Process Hacker 2\\kprocesshacker.sys\x00"
             "1251;LC_MONETARY=Russian_Russia.1251;LC_NUMERIC=Russian_Russia.1251;LC_TIME=Russian_Russia.1")
    b.add(make_service("KProcessHacker3", value, 0x1, "manual", "stopped"))


CLUSTER_BINARY = '"S:\\Program Files\\ClusSvcApp\\bin\\app.exe"'


def _passive_cluster_node(b: Builder) -> None:
    # KB 980794: a clustered service's binary on S:, a disk owned by the other node (passive node).
    b.add(make_service("ClusSvcApp", CLUSTER_BINARY, 0x10, "manual", "stopped", account="LocalSystem"))
    b.path_overrides["S:\\Program Files\\ClusSvcApp\\bin\\app.exe"] = None  # not asked: the volume is not here
    b.doc["events"].append(backup_517("2026-11-01T23:02:17Z", "2026-11-01T23:00:05.000000000Z",
                                      "2155348237", "Enumeration of the files failed."))


UNQUOTED_IDS = ("IP0103", "IP0104", "IP0106")


def _unquoted(more_rows: list[dict]) -> Callable[[Builder], None]:
    # VectorBCO/windows-path-enumerate fixtures labelled unquoted_spaces (REG_SZ as labelled; CWE-428).
    def apply(b: Builder) -> None:
        for row in more_rows:
            if row["id"] in UNQUOTED_IDS:
                assert row["expected"] == "unquoted_spaces", row["id"]
                b.add(make_service(row["service"], row["value"], 0x10, "auto", "running",
                                   account="LocalSystem", kind=row["value_type"]))
    return apply


EXCLUDED_BINARY_PATHS = [
    "D:\\ProgramFolder\\bin\\program.exe",   # KB 980794 example: valid
    "%ProgramFiles%\\Vendor\\agent.exe",     # a variable (KB 980794: no environment variables)
    '"E:\\Apps\\svc.exe"',                   # quoted (KB 980794: no quotes)
    "E:\\Apps\\",                            # a folder, no file name (KB 980794: include the file name)
    "d:\\programfolder\\BIN\\Program.exe",   # case-insensitive duplicate of the first
]


def _bad_exclusions(b: Builder) -> None:
    b.doc["system_writer"]["key_exists"] = True
    b.doc["system_writer"]["excluded_binary_paths"] = {"kind": "REG_MULTI_SZ", "data": list(EXCLUDED_BINARY_PATHS)}


def _cryptsvc_disabled(b: Builder) -> None:
    # In-box VSS writers doc; the write-up "System writer is not found in the backup Error (Windows Server
    # Backup)": the System Writer runs in CryptSvc; stopped + disabled = no writer.
    find(b.services, "CryptSvc").update(start_mode="disabled", state="stopped")
    b.doc["vssadmin"] = b.vssadmin(with_system_writer=False)
    b.doc["simulation"] = {"on_cryptsvc_restart": {"vssadmin": b.vssadmin(True, "after-restart")}}


def _writer_missing(b: Builder) -> None:
    # techexplorer.co.uk "Reset VSS writers": a missing System Writer comes back after a CryptSvc restart.
    b.doc["vssadmin"] = b.vssadmin(with_system_writer=False)
    b.doc["simulation"] = {"on_cryptsvc_restart": {"vssadmin": b.vssadmin(True, "after-restart")}}


ACL_513_DETAILS = "AddCoreCsiFiles : BeginFileEnumeration() failed."


def _filemaps_acl(b: Builder) -> None:
    # KB 2009272: filemaps ACL broken -> CAPI2 513 AddCoreCsiFiles -> writer missing.
    filemaps = b.doc["filemaps"]
    filemaps["sddl"] = BROKEN_FOLDER_SDDL
    total = filemaps["files"]["count"]
    # Every file is named here (a live probe reports samples only): a rollback then restores each file the fix
    # changed, as the live engine does with the names it records. Invented names in the *.cdf-ms pattern.
    names = list(FILEMAP_NAMES) + [f"$$_component_{stable_int(0, 16 ** 16 - 1, b.host.name, 'file', str(i)):016x}.cdf-ms"
                                   for i in range(total - len(FILEMAP_NAMES))]
    taken, kept = sorted(names[:total - 23]), sorted(names[total - 23:])  # sorted: the twin keeps names in order
    filemaps["files"]["descriptors"] = [
        {"sddl": BROKEN_FILE_SDDL, "count": len(taken), "samples": taken[:5], "names": taken},
        {"sddl": BROKEN_TI_FILE_SDDL, "count": len(kept), "samples": kept[:5], "names": kept},
    ]
    b.doc["vssadmin"] = b.vssadmin(with_system_writer=False)
    b.doc["events"] += [
        capi2_513("2026-11-01T23:00:09Z", ACL_513_DETAILS, "Access is denied.", wording="old"),
        backup_517("2026-11-01T23:00:41Z", "2026-11-01T23:00:02.000000000Z",
                   "2155348226", "System writer is not found in the backup."),
    ]
    # KB 2009272: fix the ACL, then restart CryptSvc, and the writer is back. A restart alone does not help:
    # while filemaps_acl remains, the writer stays missing and OnIdentify fails again.
    b.doc["simulation"] = {"on_cryptsvc_restart": {
        "vssadmin": b.vssadmin(True, "after-restart"),
        "if_findings_remain": {
            "codes": ["filemaps_acl"],
            "vssadmin": b.vssadmin(with_system_writer=False, generation="after-restart"),
            "events": [capi2_513("2026-11-02T08:05:00Z", ACL_513_DETAILS, "Access is denied.", wording="old")],
        },
    }}


def _mslldp(b: Builder) -> None:
    # KB 3209092: MSLLDP SD without the SU grant -> non-fatal CAPI2 513, writer stays.
    find(b.services, "MSLLDP")["security"] = {"sddl": MSLLDP_SDDL_DEFAULT_NO_SU, "source": "registry"}
    details = "AddLegacyDriverFiles: Unable to back up image of binary Microsoft Link-Layer Discovery Protocol."
    b.doc["events"] += [capi2_513("2026-11-01T23:00:08Z", details, "Access is denied."),
                        capi2_513("2026-11-02T07:59:40Z", details, "Access is denied.")]


def _vss_access_control(b: Builder) -> None:
    # KB 2009272: NETWORK SERVICE not allowed in VssAccessControl -> VSS 8213, no writer.
    b.doc["vss_access_control"]["values"] = {
        "NT Authority\\NetworkService": {"kind": "REG_DWORD", "data": 0},
        "CONTOSO\\svc-backup": {"kind": "REG_DWORD", "data": 1},  # invented backup account
    }
    b.doc["vssadmin"] = b.vssadmin(with_system_writer=False)
    b.doc["events"].append(vss_8213("2026-11-02T07:58:12Z"))
    # KB 2009272: once NETWORK SERVICE is allowed, a restart registers the writer; until then it stays missing.
    b.doc["simulation"] = {"on_cryptsvc_restart": {
        "vssadmin": b.vssadmin(True, "after-restart"),
        "if_findings_remain": {"codes": ["vss_access_control"],
                               "vssadmin": b.vssadmin(with_system_writer=False, generation="after-restart")},
    }}


def _missing_driver(b: Builder) -> None:
    # A forum copy of a CAPI2 513: ksqcraes driver file gone -> non-fatal CAPI2 513.
    b.add(make_service("ksqcraes", "System32\\drivers\\ksqcraes.sys", 0x1, "manual", "stopped"))
    b.path_overrides[f"{SYSTEM_ROOT}\\System32\\drivers\\ksqcraes.sys"] = False
    b.doc["events"].append(capi2_513("2026-11-01T23:00:07Z",
                                     "AddLegacyDriverFiles: Unable to back up image of binary ksqcraes.",
                                     "The system cannot find the file specified."))


def hosts(more_rows: list[dict]) -> list[Host]:
    return [
        Host("dc01", "2022", "clean domain controller", "-", (), product_type="domain_controller",
             groups=("domain_controllers",)),
        Host("fs01", "2019", "clean file server", "-", (), drives=("C:", "D:")),
        Host("web2025", "2025", "clean", "-", ()),
        Host("mars-winmad", "2016",
             "driver WinMad ImagePath `\\\\SystemRoot\\System32\\drivers\\winmad.sys` (doubled leading backslash: "
             "a hypothesis from KB 4053355 for the unpublished bad value); WSB enumerate 0x8007007b log line, Backup 517",
             "KB 4053355", ("invalid_syntax",), apply=_winmad_doubled_backslash),
        Host("av-trend", "2016",
             "TMBMServer `\"C:\\Program Files (x86)\\Trend Micro\\Client Server Security Agent\\..\\BM\\TMBMSRV.exe\" "
             "/service` (a `..\\` segment; reconstructed original)",
             "mikefrobbins.com 2009", ("invalid_syntax",), apply=_trend_dotdot),
        Host("hv-doubled", "2022dc",
             "vdrvroot `\\Systemroot\\Systemroot\\System32\\drivers\\vdrvroot.sys` (doubled prefix); the derived "
             "file does not exist (paths: false)",
             "winsiderss/systeminformer#1371", ("invalid_syntax",), apply=_doubled_systemroot),
        Host("dev-kph", "2019",
             "KProcessHacker3 REG_EXPAND_SZ with an embedded NUL and a locale-string tail",
             "winsiderss/systeminformer#111", ("embedded_nul",), apply=_embedded_nul),
        Host("sql-node2", "2019",
             "passive cluster node: ClusSvcApp on `S:\\Program Files\\ClusSvcApp\\bin\\app.exe`, only C: is local; "
             "no ExcludedBinaryPaths; Backup 517 (Enumeration of the files failed.)",
             "KB 980794", ("missing_volume",), groups=("cluster_nodes",), apply=_passive_cluster_node),
        Host("app-unquoted", "2022",
             "three unquoted Win32 paths with spaces (REG_SZ), one with arguments",
             "VectorBCO/windows-path-enumerate test fixtures (CWE-428)", ("unquoted_spaces",),
             apply=_unquoted(more_rows)),
        Host("excl-bad", "2019",
             "ExcludedBinaryPaths with a variable, a quoted entry, a folder and a case-insensitive duplicate "
             "beside the valid KB example",
             "KB 980794", ("exclusion_invalid",), drives=("C:", "D:"), apply=_bad_exclusions),
        Host("crypt-off", "2022",
             "CryptSvc stopped and disabled; System Writer absent; a restart brings it back (simulation)",
             "KB 2009272, in-box VSS writers doc", ("cryptsvc_state", "system_writer_missing"),
             apply=_cryptsvc_disabled),
        Host("writer-missing", "2025",
             "CryptSvc running, System Writer absent; a restart brings it back (simulation)",
             "KB 2009272; the write-up \"System writer is not found in the backup Error (Windows Server Backup)\"",
             ("system_writer_missing",), apply=_writer_missing),
        Host("acl-broken", "2016",
             "filemaps owner an unknown user, SYSTEM/Users grants gone, Users denied; CAPI2 513 AddCoreCsiFiles; "
             "System Writer absent; a restart brings it back only once the ACL is fixed (simulation); Backup 517 2155348226",
             "KB 2009272", ("filemaps_acl", "system_writer_missing"), apply=_filemaps_acl),
        Host("lldp", "2016",
             "MSLLDP service SD without `(A;;CCLCSWLOCRRC;;;SU)`; CAPI2 513 AddLegacyDriverFiles (non-fatal)",
             "KB 3209092", ("service_sd_blocks_writer",), apply=_mslldp),
        Host("vss-acl", "2019",
             "VssAccessControl: NETWORK SERVICE = 0 (another account = 1); VSS 8213; System Writer absent",
             "KB 2009272", ("vss_access_control", "system_writer_missing"),
             product_type="domain_controller", groups=("domain_controllers",), apply=_vss_access_control),
        Host("fr-fs02", "2022", "clean, French-localised vssadmin output", "-", (), drives=("C:", "D:"),
             language="fr"),
        Host("missing-driver", "2022",
             "driver ksqcraes `System32\\drivers\\ksqcraes.sys` whose file is gone; CAPI2 513 (non-fatal)",
             "forum repost of a CAPI2 513", ("missing_file",), apply=_missing_driver),
    ]


# ---------------------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------------------

INVENTORY_HEAD = """\
# The bundled demo fleet: generated by tools/build_demo_fleet.py;
# README.md describes the case on each host.
# Snapshot hosts never open a connection: each host reads (and, outside
# check mode, writes back) the state document named by backupready_snapshot,
# relative to this inventory's directory.
"""


def render_inventory(all_hosts: list[Host]) -> str:
    lines = [INVENTORY_HEAD.rstrip("\n"), "all:", "  children:", "    backupready_demo:", "      vars:",
             "        ansible_connection: local",
             '        ansible_python_interpreter: "{{ ansible_playbook_python }}"', "      hosts:"]
    for host in all_hosts:
        lines += [f"        {host.name}:", f"          backupready_snapshot: snapshots/{host.name}.json"]
    groups = sorted({g for h in all_hosts for g in h.groups})
    if groups:
        lines.append("      children:")
        for group in groups:
            lines += [f"        {group}:", "          hosts:"]
            lines += [f"            {h.name}:" for h in all_hosts if group in h.groups]
    return "\n".join(lines) + "\n"


def render_all(data_dir: str) -> dict[str, str]:
    """Relative path -> file text, for every generated file."""
    default_rows = read_jsonl(os.path.join(data_dir, "imagepaths-default-windows.jsonl"))
    more_rows = read_jsonl(os.path.join(data_dir, "imagepaths-more-real.jsonl"))
    all_hosts = hosts(more_rows)
    files = {"inventory.yml": render_inventory(all_hosts)}
    for host in all_hosts:
        files[f"snapshots/{host.name}.json"] = _state.dump_state(build_document(host, default_rows))
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--data", default=DEFAULT_DATA, help="folder with the imagepaths-*.jsonl files")
    parser.add_argument("--out", default=DEFAULT_OUT, help="fleet folder to write (inventory.yml, snapshots/)")
    parser.add_argument("--check", action="store_true", help="compare with --out instead of writing")
    args = parser.parse_args(argv)
    if not os.path.isdir(args.data):
        parser.error(f"--data {args.data}: not a folder (expected the imagepaths-*.jsonl data sets of tests/data)")
    files = render_all(args.data)
    stale = []
    for relative, text in files.items():
        target = os.path.join(args.out, relative)
        if args.check:
            try:
                with open(target, encoding="utf-8", newline="") as handle:
                    if handle.read() != text:
                        stale.append(relative)
            except FileNotFoundError:
                stale.append(relative)
            continue
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
    if args.check:
        snapshots = os.path.join(args.out, "snapshots")
        extra = sorted(f"snapshots/{n}" for n in (os.listdir(snapshots) if os.path.isdir(snapshots) else [])
                       if n.endswith(".json") and f"snapshots/{n}" not in files)
        stale += [f"{relative} (not generated any more)" for relative in extra]
        for relative in stale:
            print(f"stale: {os.path.join(args.out, relative)}")
        return 1 if stale else 0
    print(f"wrote {len(files)} files under {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
