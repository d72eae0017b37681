"""CAPI2 512/513, VSS 8213 and Windows Server Backup 517 events (KB 2009272, KB 3209092, KB 968247; the writer's literals in cryptcatsvc.dll)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.backupready.windows.plugins.plugin_utils._events import (
    WriterEvent, backup_events, classify_detail, core_csi_events, map_display_names,
    parse_backup_event, parse_vss_event, parse_writer_event, split_details, unmapped_display_names, vss_access_events,
    writer_events)

from statedoc import make_service, make_state

# KB 2009272, as rendered by the KB (no space before the colon).
KB2009272_MESSAGE = """Cryptographic Services failed while processing the OnIdentity() call in the System Writer Object.
Details:
AddCoreCsiFiles: BeginFileEnumeration() failed.
System Error:
Access is denied."""
# 2009 blog copy (the "System writer is not found in the backup" write-up), with the space before the colon, blank lines, CRLF.
SEED002_MESSAGE = ("Cryptographic Services failed while processing the OnIdentity() call in the System Writer Object.\r\n\r\n"
                   "Details:\r\nAddCoreCsiFiles : BeginFileEnumeration() failed.\r\n\r\nSystem Error:\r\nAccess is denied.\r\n")
# KB 3209092.
KB3209092_MESSAGE = """An error occurred in Cryptographic Services while processing the OnIdentity() call in System Writer Object.

Details:
AddLegacyDriverFiles: Unable to back up image of binary Microsoft Link-Layer Discovery Protocol.

System Error:
Access is denied."""
# The <Data> of a real 513 (forum copy of the Event XML): labels and detail in the one property.
KSQCRAES_DATA = ("\nDetails:\nAddLegacyDriverFiles: Unable to back up image of binary ksqcraes.\n\nSystem Error:\n"
                 "The system cannot find the file specified.\n")
# ASSUMED French rendering (unverified: no French capture was available). The detail stays the writer's English literal.
FRENCH_MESSAGE = """Les services de chiffrement ont échoué lors du traitement de l\u2019appel OnIdentity() dans l\u2019objet System Writer.

Détails :
AddLegacyDriverFiles: Unable to back up image of binary Protocole de découverte de couche de liaison Microsoft.

Erreur système :
Accès refusé."""


def capi2(message=None, properties=(), event_id=513, provider="Microsoft-Windows-CAPI2", time="2026-11-01T09:00:00Z"):
    return {"log": "Application", "provider": provider, "id": event_id, "time_created": time, "level": "Error",
            "message": message, "properties": list(properties)}


@pytest.mark.parametrize("event, kind, fatal, name, detail, system_error", [
    (capi2(KB2009272_MESSAGE), "core_csi_files", True, None, "AddCoreCsiFiles: BeginFileEnumeration() failed.",
     "Access is denied."),
    (capi2(SEED002_MESSAGE), "core_csi_files", True, None, "AddCoreCsiFiles : BeginFileEnumeration() failed.",
     "Access is denied."),
    (capi2(KB3209092_MESSAGE), "legacy_driver", False, "Microsoft Link-Layer Discovery Protocol",
     "AddLegacyDriverFiles: Unable to back up image of binary Microsoft Link-Layer Discovery Protocol.", "Access is denied."),
    (capi2("localised text that says nothing useful", [KSQCRAES_DATA]), "legacy_driver", False, "ksqcraes",
     "AddLegacyDriverFiles: Unable to back up image of binary ksqcraes.", "The system cannot find the file specified."),
    (capi2(FRENCH_MESSAGE), "legacy_driver", False, "Protocole de découverte de couche de liaison Microsoft",
     "AddLegacyDriverFiles: Unable to back up image of binary Protocole de découverte de couche de liaison Microsoft.",
     "Accès refusé."),
    (capi2(KB2009272_MESSAGE, event_id=512), "core_csi_files", True, None,
     "AddCoreCsiFiles: BeginFileEnumeration() failed.", "Access is denied."),
])
def test_parse_writer_event(event, kind, fatal, name, detail, system_error):
    parsed = parse_writer_event(event)
    assert parsed == WriterEvent(kind, fatal, name, detail, system_error, "2026-11-01T09:00:00Z", event["id"])


def test_properties_are_preferred_to_the_message():
    event = capi2(KB2009272_MESSAGE, [KSQCRAES_DATA])
    assert parse_writer_event(event).kind == "legacy_driver"


def test_system_error_taken_from_the_message_when_properties_hold_only_the_detail():
    event = capi2(KB3209092_MESSAGE, ["AddLegacyDriverFiles: Unable to back up image of binary MSLLDP."])
    parsed = parse_writer_event(event)
    assert (parsed.display_name, parsed.system_error) == ("MSLLDP", "Access is denied.")


@pytest.mark.parametrize("detail, kind, fatal, name", [
    ("AddCoreCsiFiles : AddFilesToFileGroup failed.", "core_csi_files", True, None),
    ("AddCoreCsiFiles : LoadLibrary failed on sfc_os.dll.", "core_csi_files", True, None),
    ("AddCoreCsiFiles : GetProcAddress for GetNextFileMapContect failed.", "core_csi_files", True, None),
    ("AddCoreCsiFiles : RtlConvertNtFilePathToWin32Path() failed.", "core_csi_files", True, None),
    ("AddCoreCbsFiles : AddPathToWriterMetadata : AddFilesToFileGroup failed.", "core_cbs_files", True, None),
    ("AddCorePnPFiles : Adding driver store files failed.", "core_pnp_files", True, None),
    ("AddCoreCLRFiles : AddFilesToFileGroup failed for %systemroot%\\assembly.", "core_clr_files", True, None),
    ("TraverseDir : Unable to build file path.", "traverse_dir", None, None),
    ("AddWin32ServiceFiles: OpenSCManager API for service enumeration failed", "win32_service_enumeration", True, None),
    ("AddWin32ServiceFiles: EnumServicesStatusEx API for service enumeration failed", "win32_service_enumeration", True, None),
    ("AddWin32ServiceFiles: Unable to back up image of service ABC Agent since OpenService API failed",
     "win32_service", False, "ABC Agent"),
    ("AddWin32ServiceFiles: Unable to back up image of service foo since QueryServiceConfig API failed",
     "win32_service", False, "foo"),
    ("OnIdentity() : SetRestoreMethod() call failed.", "on_identity", True, None),
    ("OnIdentity() : AddComponent() call failed for System Files component.", "on_identity", True, None),
    ("SystemShutdown initiated during AddCoreCsiFiles", "shutdown", True, None),
    ("AddRegistryNoRecurseFiles: something", "unknown", None, None),
    ("", "unknown", None, None),
    (None, "unknown", None, None),
])
def test_classify_detail(detail, kind, fatal, name):
    assert classify_detail(detail) == (kind, fatal, name)


def test_split_details_without_labels_or_detail():
    assert split_details("") == (None, None)
    assert split_details("Details:\n\nSystem Error:\nAccess is denied.") == (None, "Access is denied.")
    assert split_details("Details: something else entirely") == ("something else entirely", None)


def test_selectors_over_a_state_events_list():
    events = [capi2(KB2009272_MESSAGE), capi2(KB3209092_MESSAGE), capi2("x", provider="Other"),
              {"log": "Application", "provider": "VSS", "id": 8213, "time_created": None, "message": "m", "properties": []}]
    assert [e.kind for e in writer_events(events)] == ["core_csi_files", "legacy_driver"]
    assert len(core_csi_events(events)) == 1
    assert [e.display_name for e in writer_events(events) if e.kind == "legacy_driver"] == [
        "Microsoft Link-Layer Discovery Protocol"]
    assert writer_events(None) == []


# KB 2009272: VSS 8213.
VSS_8213 = ("Volume Shadow Copy Service error: The process that hosts the writer with name System Writer and ID "
            "{e8132975-6f93-4464-a53e-1050253ae220} does not run under a user with sufficient access rights. Consider "
            "running this process under a local account which is either Local System, Administrator, Network Service, "
            "or Local Service. Operation: Initializing Writer")


def test_vss_8213():
    event = {"log": "Application", "provider": "VSS", "id": 8213, "time_created": "t", "message": VSS_8213, "properties": []}
    parsed = parse_vss_event(event)
    assert parsed.system_writer and parsed.time_created == "t"
    other = dict(event, message="writer with name Registry Writer and ID {afbab4a2-367d-4d15-a586-71dbb18f8485}")
    assert not parse_vss_event(other).system_writer
    assert parse_vss_event(dict(event, id=8193)) is None
    assert len(vss_access_events([event, other])) == 2


@pytest.mark.parametrize("message, properties, code, meaning", [
    ("Backup started at '2026-11-01T02:00:00.000000000Z' failed with following error code '2155348226' (System writer "
     "is not found in the backup.). Please rerun backup once issue is resolved.", [], 0x80780102,
     "System writer is not found in the backup."),
    ("Backup started at '...' failed with following error code '2155348237' (Enumeration of the files failed.).", [],
     0x8078010D, "Enumeration of the files failed."),
    ("localised", ["0", "2155348226", "x"], 0x80780102, "System writer is not found in the backup."),
    ("localised", ["0x80780102"], 0x80780102, "System writer is not found in the backup."),
    ("no code here", [], None, None),
])
def test_backup_517(message, properties, code, meaning):
    event = {"log": "Application", "provider": "Microsoft-Windows-Backup", "id": 517, "time_created": None,
             "message": message, "properties": properties}
    parsed = parse_backup_event(event)
    assert (parsed.error_code, parsed.meaning) == (code, meaning)
    assert backup_events([event]) == [parsed]


def test_backup_error_hex():
    event = {"provider": "Microsoft-Windows-Backup", "id": 5, "message": "failed with following error code '2155348237'."}
    assert parse_backup_event(event).error_hex == "0x8078010D"


def test_map_display_names():
    state = make_state(services=[
        make_service("MsLldp", "system32\\DRIVERS\\mslldp.sys", type_=1, display_name="Microsoft Link-Layer Discovery Protocol"),
        make_service("ksqcraes", "\\??\\C:\\x\\ksqcraes.sys", type_=1, display_name="@%SystemRoot%\\system32\\x.dll,-100"),
        make_service("Indirect", "\\SystemRoot\\system32\\drivers\\i.sys", type_=1, display_name="@oem.inf,%desc%;Indirect"),
    ])
    names = ["microsoft link-layer discovery protocol", "ksqcraes", "Indirect Driver"]
    assert map_display_names(state, names) == {"microsoft link-layer discovery protocol": "MsLldp", "ksqcraes": "ksqcraes"}
    reasons = unmapped_display_names(state, names)
    assert list(reasons) == ["Indirect Driver"] and "resource string" in reasons["Indirect Driver"]
    assert "Indirect" in reasons["Indirect Driver"]


_json_scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=60)


@given(message=st.none() | st.text(max_size=300), properties=st.lists(st.none() | st.text(max_size=200), max_size=4),
       event_id=st.sampled_from([5, 512, 513, 517, 8213, 0]),
       provider=st.sampled_from(["Microsoft-Windows-CAPI2", "VSS", "Microsoft-Windows-Backup", "x"]))
def test_parsers_never_raise(message, properties, event_id, provider):
    event = {"log": "Application", "provider": provider, "id": event_id, "time_created": None, "message": message,
             "properties": properties}
    for parse in (parse_writer_event, parse_vss_event, parse_backup_event):
        parse(event)


@given(st.dictionaries(st.sampled_from(["provider", "id", "message", "properties", "time_created"]), _json_scalars)
       | _json_scalars | st.lists(_json_scalars, max_size=3))
def test_parsers_never_raise_on_malformed_events(event):
    for parse in (parse_writer_event, parse_vss_event, parse_backup_event):
        parse(event)
    writer_events([event])


@given(st.text(max_size=200))
def test_detail_text_from_arbitrary_lines_never_raises(text):
    detail, _unused = split_details("Details:\n" + text + "\nSystem Error:\n" + text)
    classify_detail(detail)


def test_every_finding_about_a_service_gets_the_capi2_events_that_name_it():
    from ansible_collections.backupready.windows.plugins.plugin_utils._findings import assess
    from statedoc import make_service, make_state

    message = ("Cryptographic Services failed while processing the OnIdentity() call in the System Writer Object.\r\n\r\n"
               "Details:\r\nAddLegacyDriverFiles: Unable to back up image of binary KSQ Driver.\r\n\r\n"
               "System Error:\r\nThe system cannot find the file specified.\r\n")
    event = {"log": "Application", "provider": "Microsoft-Windows-CAPI2", "id": 513, "time_created": "2026-11-01T23:00:00Z",
             "message": message, "properties": []}
    state = make_state(events=[event])
    state["services"].append(make_service("ksqcraes", "System32\\drivers\\ksqcraes.sys", type_=1, display_name="KSQ Driver"))
    state["paths"] = {"C:\\Windows\\System32\\drivers\\ksqcraes.sys": False}
    (finding,) = [f for f in assess(state) if f.code == "missing_file"]
    assert finding.evidence["capi2_513"] == [{"time_created": "2026-11-01T23:00:00Z",
                                              "detail": "AddLegacyDriverFiles: Unable to back up image of binary KSQ Driver.",
                                              "system_error": "The system cannot find the file specified."}]
    state["events"] = []
    (quiet,) = [f for f in assess(state) if f.code == "missing_file"]
    assert "capi2_513" not in quiet.evidence
