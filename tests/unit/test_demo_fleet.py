"""The bundled demo fleet (examples/fleet): valid, reproducible, and each host really carries its case."""

from __future__ import annotations

import importlib.util
import os
import re
import sys

import pytest
import yaml

from ansible_collections.backupready.windows.plugins.plugin_utils import _state, _twin

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FLEET = os.path.join(ROOT, "examples", "fleet")
SNAPSHOTS = os.path.join(FLEET, "snapshots")
GENERATOR = os.path.join(ROOT, "tools", "build_demo_fleet.py")
DATA = os.path.join(ROOT, "tests", "data")  # the real ImagePath data sets the generator reads

SYSTEM_WRITER_ID = "e8132975-6f93-4464-a53e-1050253ae220"
TRUSTED_INSTALLER = "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464"
# Every writer id used must be one confirmed in public material (see the generator's WRITER_IDS comment).
CONFIRMED_WRITER_IDS = {
    "e8132975-6f93-4464-a53e-1050253ae220", "afbab4a2-367d-4d15-a586-71dbb18f8485",
    "be000cbe-11fe-4426-9c58-531aa6355fc4", "542da469-d3e1-473c-9f4f-7847f01fc64f",
    "4dc3bdd4-ab48-4d07-adb0-3bee2926fd7f", "a6ad56c2-b509-4e6c-bb19-49d8f43532f0",
    "d61d61c8-d73a-4eee-8cdd-f6f9786b7124", "75dfb225-e2e4-4d39-9ac9-ffaff65ddf06",
    "0bada1de-01a9-4625-8278-69e735f39dd2", "b2014c9e-8711-4c5c-a5a9-3cf384484757",
    "2707761b-2324-473d-88eb-eb007a359533",
}
CLEAN_HOSTS = ("dc01", "fs01", "web2025", "fr-fs02")
MSLLDP_SU_ACE = "(A;;CCLCSWLOCRRC;;;SU)"


def _load_generator():
    spec = importlib.util.spec_from_file_location("build_demo_fleet", GENERATOR)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


generator = _load_generator()
HOSTS = generator.hosts([])  # metadata only: the data rows are needed only to build documents
HOST_NAMES = [h.name for h in HOSTS]


def snapshot(name: str) -> dict:
    return _state.load_state_file(os.path.join(SNAPSHOTS, f"{name}.json"))


def service(doc: dict, name: str) -> dict:
    found = _state.find_service(doc, name)
    assert found is not None, f"{doc['host']['name']}: no service {name}"
    return found


def writer_names(stdout: str) -> list[str]:
    """Writer names from English or French vssadmin output."""
    return re.findall(r"^(?:Writer name|Nom de l'enregistreur)\s*:\s*'([^']*)'", stdout, re.MULTILINE)


def has_system_writer(vssadmin: dict) -> bool:
    return "System Writer" in writer_names(vssadmin["stdout"])


def events(doc: dict, provider: str, event_id: int) -> list[dict]:
    return [e for e in doc["events"] if e["provider"] == provider and e["id"] == event_id]


# ---------------------------------------------------------------------------------------------------
# The folder as a whole
# ---------------------------------------------------------------------------------------------------

def test_fleet_has_at_least_twelve_hosts_and_one_snapshot_each():
    files = sorted(n[:-5] for n in os.listdir(SNAPSHOTS) if n.endswith(".json"))
    assert len(HOST_NAMES) >= 12
    assert files == sorted(HOST_NAMES)


@pytest.mark.parametrize("name", HOST_NAMES)
def test_every_snapshot_validates_and_is_fixed_in_time(name):
    doc = snapshot(name)
    assert doc["host"]["name"] == name
    assert doc["collected_at"] == "2026-11-02T08:00:00Z"
    assert doc["collector"] == "backupready.windows demo fleet (tools/build_demo_fleet.py)"
    assert doc["host"]["system_root"] == "C:\\Windows" and doc["host"]["system_drive"] == "C:"


@pytest.mark.parametrize("name", HOST_NAMES)
def test_every_host_has_hundreds_of_services_with_cryptsvc_and_mslldp(name):
    doc = snapshot(name)
    assert len(doc["services"]) >= 250
    assert sum(1 for s in doc["services"] if _state.is_driver(s)) >= 200
    assert sum(1 for s in doc["services"] if _state.is_win32(s)) >= 20
    for needed in ("CryptSvc", "VSS", "EventSystem", "SENS", "RpcSs", "MSLLDP"):
        service(doc, needed)


@pytest.mark.parametrize("name", HOST_NAMES)
def test_no_service_lives_on_the_offline_setup_drive(name):
    # The 2 default rows on X: come from an offline setup image: left out of installed servers.
    for entry in snapshot(name)["services"]:
        data = entry["image_path"]["data"] or ""
        assert not re.match(r'^"?X:\\', data, re.IGNORECASE), entry["name"]
        assert entry["name"].lower() not in ("edgeupdate", "edgeupdatem")


@pytest.mark.parametrize("name", HOST_NAMES)
def test_writer_ids_are_only_confirmed_ones_and_instances_are_unique(name):
    doc = snapshot(name)
    texts = [doc["vssadmin"]["stdout"]]
    after = doc.get("simulation", {}).get("on_cryptsvc_restart", {}).get("vssadmin")
    if after:
        texts.append(after["stdout"])
    for text in texts:
        ids = re.findall(r"^   (?:Writer Id|ID de l'enregistreur) : ?\{([0-9a-f-]+)\}", text, re.MULTILINE)
        ids += re.findall(r"^   Writer Id: \{([0-9a-f-]+)\}", text, re.MULTILINE)
        assert ids and set(ids) <= CONFIRMED_WRITER_IDS
        instances = re.findall(r"Instance Id: \{([0-9a-f-]+)\}|l'instance de l'enregistreur : \{([0-9a-f-]+)\}", text)
        flat = [a or b for a, b in instances]
        assert len(flat) == len(writer_names(text)) == len(set(flat))


def test_snapshots_keep_an_embedded_nul_as_an_escape_in_the_file():
    with open(os.path.join(SNAPSHOTS, "dev-kph.json"), encoding="utf-8") as handle:
        text = handle.read()
    assert "kprocesshacker.sys\\u00001251;LC_MONETARY" in text


def test_total_size_stays_small():
    total = sum(os.path.getsize(os.path.join(SNAPSHOTS, n)) for n in os.listdir(SNAPSHOTS))
    assert total < 6 * 1024 * 1024


def test_regenerating_gives_byte_identical_files(tmp_path):
    assert generator.main(["--data", DATA, "--out", str(tmp_path)]) == 0
    generated = sorted(os.path.relpath(os.path.join(d, f), tmp_path) for d, _unused, fs in os.walk(tmp_path) for f in fs)
    assert "inventory.yml" in generated and len(generated) == len(HOST_NAMES) + 1
    for relative in generated:
        with open(tmp_path / relative, "rb") as new, open(os.path.join(FLEET, relative), "rb") as committed:
            assert new.read() == committed.read(), f"{relative} differs: run tools/build_demo_fleet.py"
    assert generator.main(["--data", DATA, "--out", FLEET, "--check"]) == 0


# ---------------------------------------------------------------------------------------------------
# Inventory and README
# ---------------------------------------------------------------------------------------------------

def test_inventory_points_every_host_at_its_snapshot_and_never_connects():
    with open(os.path.join(FLEET, "inventory.yml"), encoding="utf-8") as handle:
        inventory = yaml.safe_load(handle)
    group = inventory["all"]["children"]["backupready_demo"]
    assert group["vars"]["ansible_connection"] == "local"
    assert group["vars"]["ansible_python_interpreter"] == "{{ ansible_playbook_python }}"
    assert sorted(group["hosts"]) == sorted(HOST_NAMES)
    for name, host_vars in group["hosts"].items():
        assert host_vars["backupready_snapshot"] == f"snapshots/{name}.json"
        assert os.path.isfile(os.path.join(FLEET, host_vars["backupready_snapshot"]))
    assert sorted(group["children"]["domain_controllers"]["hosts"]) == sorted(
        n for n in HOST_NAMES if snapshot(n)["host"]["product_type"] == "domain_controller")


def test_readme_table_has_one_row_per_host_with_its_expected_codes():
    with open(os.path.join(FLEET, "README.md"), encoding="utf-8") as handle:
        rows = {}
        for line in handle:
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) == 5 and cells[0].startswith("`"):
                rows[cells[0].strip("`")] = cells
    assert sorted(rows) == sorted(HOST_NAMES)
    for host in HOSTS:
        listed = set(re.findall(r"`([a-z_]+)`", rows[host.name][4]))
        assert listed == set(host.codes), host.name
        assert rows[host.name][1].startswith("Windows Server " + host.os[:4])


# ---------------------------------------------------------------------------------------------------
# Each host's case is really in its data
# ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", CLEAN_HOSTS)
def test_clean_hosts_are_clean(name):
    doc = snapshot(name)
    assert doc["events"] == [] and doc["wsb_log_lines"] == []
    assert has_system_writer(doc["vssadmin"])
    assert all(doc["paths"].values())
    assert MSLLDP_SU_ACE in service(doc, "MSLLDP")["security"]["sddl"]
    assert doc["vss_access_control"]["values"]["NT Authority\\NetworkService"] == {"kind": "REG_DWORD", "data": 1}
    assert doc["system_writer"]["key_exists"] is False
    assert service(doc, "CryptSvc")["state"] == "running" and service(doc, "CryptSvc")["start_mode"] == "auto"
    assert "(D;" not in doc["filemaps"]["sddl"]
    assert doc["filemaps"]["files"]["count"] >= 3000
    assert 1 <= len(doc["filemaps"]["files"]["descriptors"]) <= 3
    for descriptor in doc["filemaps"]["files"]["descriptors"]:
        assert descriptor["sddl"].endswith("S:ARAI(AU;SAFA;0x1f0116;;;WD)")


def test_clean_domain_controller_lists_ntds_and_dfsr_writers():
    doc = snapshot("dc01")
    assert doc["host"]["product_type"] == "domain_controller"
    names = writer_names(doc["vssadmin"]["stdout"])
    assert {"NTDS", "DFS Replication service writer", "System Writer", "Registry Writer"} <= set(names)
    assert "NTDS" not in writer_names(snapshot("fs01")["vssadmin"]["stdout"])


def test_os_versions_vary_across_the_fleet():
    builds = {snapshot(n)["host"]["os_build"] for n in HOST_NAMES}
    assert builds == {14393, 17763, 20348, 26100}


def test_mars_winmad_doubled_leading_backslash_and_wsb_evidence():
    doc = snapshot("mars-winmad")
    winmad = service(doc, "winmad")
    assert winmad["display_name"] == "WinMad Service" and _state.is_driver(winmad)
    assert winmad["image_path"] == {"kind": "REG_EXPAND_SZ", "data": "\\\\SystemRoot\\System32\\drivers\\winmad.sys"}
    # KB 4053355: two spaces before "during", verbatim.
    assert doc["wsb_log_lines"][0]["line"] == (
        "Error in backup of c:\\windows\\\\systemroot\\  during enumerate: Error [0x8007007b] "
        "The filename, directory name, or volume label syntax is incorrect.")
    backup = events(doc, "Microsoft-Windows-Backup", 517)[0]["message"]
    assert "'2155348237' (Enumeration of the files failed.)" in backup
    assert not any("winmad" in p.lower() for p in doc["paths"])  # existence of a raw \\ path: unknown


def test_av_trend_dot_dot_segment():
    value = service(snapshot("av-trend"), "TMBMServer")["image_path"]["data"]
    assert value == '"C:\\Program Files (x86)\\Trend Micro\\Client Server Security Agent\\..\\BM\\TMBMSRV.exe" /service'
    assert "\\..\\" in value


def test_hv_doubled_systemroot_and_its_derived_file_is_absent():
    doc = snapshot("hv-doubled")
    assert service(doc, "vdrvroot")["image_path"]["data"] == "\\Systemroot\\Systemroot\\System32\\drivers\\vdrvroot.sys"
    assert doc["paths"]["C:\\Windows\\systemroot\\system32\\drivers\\vdrvroot.sys"] is False
    assert service(snapshot("dc01"), "vdrvroot")["image_path"]["data"] == "System32\\drivers\\vdrvroot.sys"


def test_dev_kph_embedded_nul_with_the_decoded_tail():
    kph = service(snapshot("dev-kph"), "KProcessHacker3")
    data = kph["image_path"]["data"]
    assert kph["image_path"]["kind"] == "REG_EXPAND_SZ" and _state.is_driver(kph)
    assert "\u0000" in data
    head, tail = data.split("\u0000", 1)
    assert head == "\\??\\C:\\Program Files\\Process Hacker 2\\kprocesshacker.sys"
    assert tail == "1251;LC_MONETARY=Russian_Russia.1251;LC_NUMERIC=Russian_Russia.1251;LC_TIME=Russian_Russia.1"


def test_sql_node2_service_binary_is_on_a_volume_this_node_lacks():
    doc = snapshot("sql-node2")
    data = service(doc, "ClusSvcApp")["image_path"]["data"]
    drive = re.match(r'^"?([A-Za-z]:)', data).group(1).upper()
    assert drive == "S:" and drive not in _state.local_drive_letters(doc)
    assert _state.local_drive_letters(doc) == {"C:"}
    assert doc["system_writer"]["excluded_binary_paths"]["kind"] == "missing"


def test_app_unquoted_uses_the_labelled_real_values_as_reg_sz():
    doc = snapshot("app-unquoted")
    expected = {
        "Test_SrvWS": "C:\\Path with spaces\\SrvWS.exe",
        "Test_SrvWSWithParameters":
            "C:\\Path with spaces\\SrvWSWithParameters.exe -parameter1 value1 -parameter2 value2",
        "Test_SrvMultiExe": "C:\\Path with spaces\\SrvMulti.exe -parameter c:\\Some Path\\Some file.exe",
    }
    for name, value in expected.items():
        entry = service(doc, name)
        assert entry["image_path"] == {"kind": "REG_SZ", "data": value}
        assert not value.startswith('"') and " " in value.split(".exe", maxsplit=1)[0]


def test_excl_bad_has_each_kind_of_bad_exclusion_beside_the_valid_one():
    section = snapshot("excl-bad")["system_writer"]
    assert section["key_exists"] is True and section["excluded_binary_paths"]["kind"] == "REG_MULTI_SZ"
    entries = section["excluded_binary_paths"]["data"]
    assert "D:\\ProgramFolder\\bin\\program.exe" in entries
    assert any("%" in e for e in entries)
    assert any(e.startswith('"') for e in entries)
    assert any(e.endswith("\\") for e in entries)
    lowered = [e.lower() for e in entries]
    assert len(lowered) != len(set(lowered)) and len(entries) == len(set(entries))


def _restart_cryptsvc(doc: dict) -> dict:
    op = {"op": "service_state", "service": "CryptSvc", "expect": service(doc, "CryptSvc")["state"], "set": "restarted"}
    after, outcome = _twin.apply_to_state(doc, [op])
    assert not outcome.refused, outcome.as_dict()
    return after


@pytest.mark.parametrize("name", ("crypt-off", "writer-missing"))
def test_missing_writer_comes_back_after_a_restart(name):
    doc = snapshot(name)
    assert not has_system_writer(doc["vssadmin"])
    assert SYSTEM_WRITER_ID not in doc["vssadmin"]["stdout"]
    assert has_system_writer(_restart_cryptsvc(doc)["vssadmin"])


def test_crypt_off_cryptsvc_stopped_and_disabled():
    cryptsvc = service(snapshot("crypt-off"), "CryptSvc")
    assert (cryptsvc["state"], cryptsvc["start_mode"]) == ("stopped", "disabled")
    assert service(snapshot("writer-missing"), "CryptSvc")["state"] == "running"


def test_acl_broken_filemaps_and_a_restart_does_not_help():
    doc = snapshot("acl-broken")
    folder = doc["filemaps"]["sddl"]
    assert "(D;OICI;FR;;;BU)" in folder
    assert ";;;SY)" not in folder and "(A;OICI;0x1200a9;;;BU)" not in folder
    assert not folder.startswith(f"O:{TRUSTED_INSTALLER}") and folder.startswith("O:S-1-5-21-")
    files = doc["filemaps"]["files"]
    broken = [d for d in files["descriptors"] if "(D;ID;FR;;;BU)" in d["sddl"]]
    assert broken and broken[0]["count"] > files["count"] / 2
    assert sum(d["count"] for d in files["descriptors"]) == files["count"]
    capi = events(doc, "Microsoft-Windows-CAPI2", 513)
    assert "AddCoreCsiFiles : BeginFileEnumeration() failed." in capi[0]["message"]
    assert "Access is denied." in capi[0]["message"]
    backup = events(doc, "Microsoft-Windows-Backup", 517)[0]["message"]
    assert "'2155348226' (System writer is not found in the backup.)" in backup
    assert not has_system_writer(doc["vssadmin"])
    after = _restart_cryptsvc(doc)
    assert not has_system_writer(after["vssadmin"])
    assert len(events(after, "Microsoft-Windows-CAPI2", 513)) == len(capi) + 1


def test_lldp_descriptor_lacks_the_su_grant_and_the_513_names_the_display_name():
    doc = snapshot("lldp")
    mslldp = service(doc, "MSLLDP")
    assert mslldp["display_name"] == "Microsoft Link-Layer Discovery Protocol"
    assert ";;;SU)" not in mslldp["security"]["sddl"]
    assert mslldp["security"]["sddl"] == (
        "D:(D;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;BG)(A;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;SY)(A;;CCDCLCSWRPDTLOCRSDRCWDWO;;;BA)"
        "(A;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;SO)"
        "(A;;LCRPWP;;;S-1-5-80-3141615172-2057878085-1754447212-2405740020-3916490453)"
        "S:(AU;FA;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;WD)")
    message = events(doc, "Microsoft-Windows-CAPI2", 513)[0]["message"]
    assert "AddLegacyDriverFiles: Unable to back up image of binary Microsoft Link-Layer Discovery Protocol." in message
    assert has_system_writer(doc["vssadmin"])  # the 513 from AddLegacyDriverFiles is non-fatal


def test_vss_acl_network_service_not_allowed_and_8213_logged():
    doc = snapshot("vss-acl")
    values = doc["vss_access_control"]["values"]
    assert doc["vss_access_control"]["key_exists"] is True
    assert values.get("NT Authority\\NetworkService", {}).get("data") != 1
    assert any(v["data"] == 1 for k, v in values.items() if k != "NT Authority\\NetworkService")
    message = events(doc, "VSS", 8213)[0]["message"]
    assert "System Writer and ID {e8132975-6f93-4464-a53e-1050253ae220} does not run under a user" in message


def test_fr_fs02_vssadmin_is_french():
    stdout = snapshot("fr-fs02")["vssadmin"]["stdout"]
    assert ("Nom de l'enregistreur : 'System Writer'\n"
            "   ID de l'enregistreur : {e8132975-6f93-4464-a53e-1050253ae220}") in stdout
    assert "   État : [1] Stable\n   Dernière erreur : Aucune erreur" in stdout
    assert "Writer name:" not in stdout


def test_missing_driver_file_is_gone_and_logged():
    doc = snapshot("missing-driver")
    assert service(doc, "ksqcraes")["image_path"]["data"] == "System32\\drivers\\ksqcraes.sys"
    assert doc["paths"]["C:\\Windows\\System32\\drivers\\ksqcraes.sys"] is False
    assert [p for p, exists in doc["paths"].items() if not exists] == ["C:\\Windows\\System32\\drivers\\ksqcraes.sys"]
    message = events(doc, "Microsoft-Windows-CAPI2", 513)[0]["message"]
    assert "AddLegacyDriverFiles: Unable to back up image of binary ksqcraes." in message
    assert "The system cannot find the file specified." in message


@pytest.mark.parametrize("name", [n for n in HOST_NAMES if n != "lldp"])
def test_mslldp_carries_the_published_fix_everywhere_else(name):
    assert MSLLDP_SU_ACE in service(snapshot(name), "MSLLDP")["security"]["sddl"]


# ---------------------------------------------------------------------------------------------------
# The generator's own path derivation (cryptcatsvc.dll, decompiled: clear cases only)
# ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, type_, value, expected", [
    ("x", 0x1, "", "C:\\Windows\\System32\\Drivers\\x.SYS"),
    ("x", 0x1, "\\??\\C:\\dir\\x.sys", "c:\\dir\\x.sys"),  # a leading backslash: lowercased
    ("x", 0x1, "\\SystemRoot\\System32\\drivers\\1394ohci.sys", "C:\\Windows\\system32\\drivers\\1394ohci.sys"),
    ("x", 0x1, "\\\\SystemRoot\\System32\\drivers\\winmad.sys", "\\\\systemroot\\system32\\drivers\\winmad.sys"),
    ("x", 0x2, "System32\\drivers\\ACPI.sys", "C:\\Windows\\System32\\drivers\\ACPI.sys"),
    ("x", 0x20, "%SystemRoot%\\system32\\svchost.exe -k netsvcs -p", "C:\\Windows\\system32\\svchost.exe"),
    ("x", 0x10, '"%systemroot%\\system32\\wbengine.exe"', "C:\\Windows\\system32\\wbengine.exe"),
    ("x", 0x10, "C:\\Path with spaces\\SrvMulti.exe -parameter c:\\Some Path\\Some file.exe",
     "c:\\path with spaces\\srvmulti.exe"),
    ("x", 0x10, "C:\\Windows\\system32\\ibtsiva", None),
])
def test_writer_path(name, type_, value, expected):
    entry = generator.make_service(name, value, type_, "manual", "stopped")
    assert generator.writer_path(entry) == expected


@pytest.mark.parametrize("name, planner", [("acl-broken", "plan_filemaps"), ("vss-acl", "plan_vss_access_control")])
def test_writer_comes_back_only_when_the_cause_is_fixed_before_the_restart(name, planner):
    from ansible_collections.backupready.windows.plugins.plugin_utils import _acl

    doc = snapshot(name)
    assert not has_system_writer(_restart_cryptsvc(doc)["vssadmin"])  # a restart alone does not help
    operations, _unused = getattr(_acl, planner)(doc)
    fixed, outcome = _twin.apply_to_state(doc, operations)
    assert operations and not outcome.refused
    assert has_system_writer(_restart_cryptsvc(fixed)["vssadmin"])
