"""ImagePath as the System Writer reads it (cryptcatsvc.dll, decompiled), its defects and its safe fixes.

Real data, in the repository (sources in ``tests/data/README.md``):
- ``tests/data/imagepaths-default-windows.jsonl``: 257 ImagePaths of a default Windows 10 21H2 SYSTEM hive
  (RegDiff dump, https://github.com/T-RN-R/RegDiff); all must come out without a defect;
- ``tests/data/imagepaths-more-real.jsonl``: 53 labelled values, incl. the VectorBCO/windows-path-enumerate
  Pester fixtures whose expected fixes are in its ``Test/Service-Path-Enumeration-TestCases.ps1``.
"""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.backupready.windows.plugins.plugin_utils import _findings, _imagepath, _operations, _state, _twin
from ansible_collections.backupready.windows.plugins.plugin_utils._imagepath import (
    ImagePathError, diagnose, expand_environment, writer_environment, writer_path_of)
from statedoc import make_service, make_state

ENV = writer_environment("C:\\Windows")


def load_rows(repo_root: str, name: str) -> list[dict]:
    path = os.path.join(repo_root, "tests", "data", name)
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def service_type_of(row: dict) -> str:
    """RegDiff rows say the service Type; 0x60 = SERVICE_USER_SERVICE | SERVICE_WIN32_SHARE_PROCESS (Win32)."""
    observed = row["observed_via"]
    return "driver" if "KERNEL_DRIVER" in observed or "FILE_SYSTEM_DRIVER" in observed else "win32"


# ---------------------------------------------------------------------------------------------------
# The real data sets
# ---------------------------------------------------------------------------------------------------

def test_every_default_windows_imagepath_is_fine(repo_root):
    rows = load_rows(repo_root, "imagepaths-default-windows.jsonl")
    assert len(rows) == 257
    wrong = []
    for row in rows:
        result = diagnose(row["value"], service_type=service_type_of(row), service_name=row["service"])
        if result.defects or result.fixed_value is not None:
            wrong.append((row["id"], row["value"], result.defects, result.fixed_value))
        if row.get("expected") is None:
            # the two EdgeUpdate values on drive X: (offline image): no verdict without volumes, but a note
            assert any("drive X:" in note for note in result.notes), row["id"]
    assert wrong == []


def test_default_windows_drivers_all_resolve_under_system_root(repo_root):
    rows = [r for r in load_rows(repo_root, "imagepaths-default-windows.jsonl") if service_type_of(r) == "driver"]
    assert len(rows) == 236
    for row in rows:
        result = diagnose(row["value"], service_type="driver")
        assert result.writer_path.lower().startswith("c:\\windows\\system32\\"), row


def test_default_windows_x_drive_values_are_missing_volumes_on_a_c_only_host(repo_root):
    rows = [r for r in load_rows(repo_root, "imagepaths-default-windows.jsonl") if r.get("expected") is None]
    assert [r["service"] for r in rows] == ["edgeupdate", "edgeupdatem"]
    for row in rows:
        result = diagnose(row["value"], service_type="win32", volumes=["C:"])
        assert result.defects == ("missing_volume",)
        assert result.exclusion_path == "X:\\Program Files (x86)\\Microsoft\\EdgeUpdate\\MicrosoftEdgeUpdate.exe"
        assert result.fixed_value is None


# VectorBCO/windows-path-enumerate Test/Service-Path-Enumeration-TestCases.ps1: the fixes its Pester tests expect.
VECTORBCO_FIXES = {
    "Test_SrvWS": '"C:\\Path with spaces\\SrvWS.exe"',
    "Test_SrvWSWithParameters": '"C:\\Path with spaces\\SrvWSWithParameters.exe" -parameter1 value1 -parameter2 value2',
    "Test_SrvEnvVar": '"%SystemDrive%\\Path with spaces\\SrvEnv_var.exe"',
    "Test_SrvMultiExe": '"C:\\Path with spaces\\SrvMulti.exe" -parameter c:\\Some Path\\Some file.exe',
}


def test_labelled_real_values_agree(repo_root):
    rows = load_rows(repo_root, "imagepaths-more-real.jsonl")
    assert len(rows) == 53
    disagreements = []
    labelled = 0
    for row in rows:
        expected = row.get("expected")
        if expected is None:
            continue
        labelled += 1
        kind = row["value_type"] if row["value_type"] in ("REG_SZ", "REG_EXPAND_SZ") else None
        result = diagnose(row["value"], kind=kind, service_type=service_type_of(row), service_name=row["service"])
        got = result.defects or ("ok",)
        if got != (expected,):
            disagreements.append((row["id"], row["value"], expected, got))
        if row["service"] in VECTORBCO_FIXES:
            assert result.fixed_value == VECTORBCO_FIXES[row["service"]], row["id"]
    print("disagreements with the labels:", disagreements)
    assert labelled == 51
    assert disagreements == []


# ---------------------------------------------------------------------------------------------------
# The writer's rewrite, form by form (cryptcatsvc.dll, decompiled: each form)
# ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value, service_type, writer", [
    ('"C:\\Program Files\\X\\x.exe" -arg', "win32", "c:\\program files\\x\\x.exe"),
    ("C:\\Program Files\\X\\x.exe -arg", "win32", "c:\\program files\\x\\x.exe"),
    ("%SystemRoot%\\System32\\svchost.exe -k grp -p", "win32", "%systemroot%\\system32\\svchost.exe"),
    ("C:\\foo.exe.d\\bar.exe", "win32", "c:\\foo.exe"),  # inferred from cryptcatsvc.dll, unverified: cut at the first .exe
    ('"C:\\x\\y.exe', "win32", '"c:\\x\\y.exe'),  # inferred from cryptcatsvc.dll, unverified: no closing quote keeps the quote
    ("\\SystemRoot\\System32\\drivers\\x.sys", "driver", "%SystemRoot%\\system32\\drivers\\x.sys"),
    ("System32\\drivers\\x.sys", "driver", "%SystemRoot%\\System32\\drivers\\x.sys"),
    ("\\??\\C:\\dir\\x.sys", "driver", "c:\\dir\\x.sys"),
    ("", "driver", "%SystemRoot%\\System32\\Drivers\\svc.SYS"),
    ("\\Systemroot\\Systemroot\\System32\\drivers\\x.sys", "driver", "%SystemRoot%\\systemroot\\system32\\drivers\\x.sys"),
    ('"C:\\dir\\x.sys"', "driver", '%SystemRoot%\\"C:\\dir\\x.sys"'),
    ("C:\\dir\\x.sys", "driver", "%SystemRoot%\\C:\\dir\\x.sys"),
    ("\\\\systemroot\\system32\\drivers\\x.sys", "driver", "\\\\systemroot\\system32\\drivers\\x.sys"),
    ("\\Windows\\System32\\drivers\\x.sys", "driver", "\\windows\\system32\\drivers\\x.sys"),
])
def test_writer_path_of_each_form(value, service_type, writer):
    assert writer_path_of(value, service_type, "svc")[0] == writer


def test_win32_without_exe_is_skipped_by_the_writer():
    assert writer_path_of("C:\\Windows\\system32\\ibtsiva", "win32") is None


def test_expansion_follows_expand_environment_strings():
    assert expand_environment("%SystemRoot%\\x", ENV) == ("C:\\Windows\\x", [])
    assert expand_environment("%systemdrive%\\%WINDIR%", ENV) == ("C:\\C:\\Windows", [])
    assert expand_environment("%Nope%\\%SystemRoot%", ENV) == ("%Nope%\\C:\\Windows", ["Nope"])
    assert expand_environment("C:\\100% sure\\x.exe", ENV) == ("C:\\100% sure\\x.exe", [])
    assert expand_environment("%%", ENV) == ("%%", [])
    assert writer_environment("D:\\WINNT")["programfiles"] == "D:\\Program Files"


# ---------------------------------------------------------------------------------------------------
# Real-world values (CreateService docs, GitHub issues, KB articles), each with its source
# ---------------------------------------------------------------------------------------------------

KPH = "\\??\\C:\\Program Files\\Process Hacker 2\\kprocesshacker.sys"
KPH_TAIL = "1251;LC_MONETARY=Russian_Russia.1251;LC_NUMERIC=Russian_Russia.1251;LC_TIME=Russian_Russia.1"
MPKSL = ("\\??\\C:\\ProgramData\\Microsoft\\Windows Defender\\Definition Updates\\"
         "{D2115BAD-24C0-4CA0-A754-F66B01950E8A}\\MpKslDrv.sys")
TREND = '"C:\\Program Files (x86)\\Trend Micro\\Client Server Security Agent\\..\\BM\\TMBMSRV.exe" /service'

CASES = [
    # (id, value, service_type, defects, fixed_value); source in the id
    ("systeminformer1371-doubled-systemroot", "\\Systemroot\\Systemroot\\System32\\drivers\\vdrvroot.sys", "driver",
     ("invalid_syntax",), "\\SystemRoot\\System32\\drivers\\vdrvroot.sys"),
    ("systeminformer1371-single-is-fine", "\\Systemroot\\System32\\drivers\\vdrvroot.sys", "driver", (), None),
    ("mikefrobbins-trend-dotdot", TREND, "win32",
     ("invalid_syntax",), '"C:\\Program Files (x86)\\Trend Micro\\BM\\TMBMSRV.exe" /service'),
    ("systeminformer111-kprocesshacker3-nul", KPH + "\x00" + KPH_TAIL, "driver", ("embedded_nul",), KPH),
    ("mullvad57-quoted-driver", '"' + MPKSL[4:] + '"', "driver", ("quoted_driver",), MPKSL),
    ("mullvad57-nt-path-with-spaces-is-fine", MPKSL, "driver", (), None),
    ("windivert270-nt-path", "\\??\\C:\\Tools\\WinDivert-2.2.0-A\\x64\\WinDivert64.sys", "driver", (), None),
    ("autoruns110-xhunter1", "\\??\\C:\\WINDOWS\\xhunter1.sys", "driver", (), None),
    ("mullvad57-systemroot-driver", "\\SystemRoot\\System32\\drivers\\1394ohci.sys", "driver", (), None),
    ("kb968247-forward-slashes", "C:/Program Files/App/app.exe /svc", "win32",
     ("invalid_syntax", "unquoted_spaces"), '"C:\\Program Files\\App\\app.exe" /svc'),
    ("kb968247-forward-slashes-no-space", "C:/App/app.exe /svc", "win32", ("invalid_syntax",), "C:\\App\\app.exe /svc"),
    ("kb968247-unc-win32-report-only", "\\\\server\\share\\app.exe -k", "win32", ("invalid_syntax",), None),
    ("kb968247-unc-driver-report-only", "\\\\server\\share\\x.sys", "driver", ("invalid_syntax",), None),
    ("kb4053355-doubled-leading-backslash", "\\\\SystemRoot\\System32\\drivers\\winmad.sys", "driver",
     ("invalid_syntax",), "\\SystemRoot\\System32\\drivers\\winmad.sys"),
    ("a3-drive-path-driver-without-nt-prefix", "C:\\Windows\\System32\\drivers\\winmad.sys", "driver",
     ("invalid_syntax",), "\\??\\C:\\Windows\\System32\\drivers\\winmad.sys"),
    ("cwe428-unquoted-exe-quoted-args-must-flag", 'C:\\Program Files\\App\\app.exe "C:\\Data Dir\\cfg.ini"', "win32",
     ("unquoted_spaces",), '"C:\\Program Files\\App\\app.exe" "C:\\Data Dir\\cfg.ini"'),
    ("cwe428-upper-case-exe", "C:\\PROGRAM FILES\\VENDOR\\AGENT.EXE -service", "win32",
     ("unquoted_spaces",), '"C:\\PROGRAM FILES\\VENDOR\\AGENT.EXE" -service'),
    ("a1-svchost-spaces-only-in-arguments", "%SystemRoot%\\system32\\svchost.exe -k netsvcs -p", "win32", (), None),
    ("a1-quoted-win32-with-arguments", '"C:\\Program Files\\X\\x.exe" -arg', "win32", (), None),
    ("autoruns53-ibtsiva-no-extension", "C:\\Windows\\system32\\ibtsiva", "win32", (), None),
    ("reactos-empty-driver", "", "driver", (), None),
    # inferred from cryptcatsvc.dll, unverified "C:\foo.exe.d\bar.exe would be cut at c:\foo.exe": the first .exe ends no token, so where
    # the executable ends is ambiguous: flagged, never guessed
    ("a3-exe-inside-a-folder-name", "C:\\Program Files\\foo.exe.d\\bar.exe", "win32", ("unquoted_spaces",), None),
    ("a3-unterminated-quote", '"C:\\App\\app.exe', "win32", ("invalid_syntax",), '"C:\\App\\app.exe"'),
]


@pytest.mark.parametrize("value, service_type, defects, fixed", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_real_world_values(value, service_type, defects, fixed):
    result = diagnose(value, service_type=service_type, service_name="svc")
    assert result.defects == defects
    assert result.fixed_value == fixed
    if fixed is not None:
        again = diagnose(fixed, service_type=service_type, service_name="svc")
        assert again.defects == () and again.fixed_value is None


def test_kprocesshacker3_is_judged_on_the_part_before_the_nul():
    result = diagnose(KPH + "\x00" + KPH_TAIL, service_type="driver", volumes=["C:"], exists=lambda p: False)
    assert result.defects == ("embedded_nul", "missing_file")
    assert result.writer_path == "c:\\program files\\process hacker 2\\kprocesshacker.sys"
    assert result.exclusion_path == "C:\\Program Files\\Process Hacker 2\\kprocesshacker.sys"


def test_trailing_nul_terminators_alone_are_not_a_defect():
    result = diagnose("\\SystemRoot\\System32\\drivers\\x.sys\x00\x00", service_type="driver")
    assert result.defects == () and result.fixed_value is None
    assert any("trailing NUL" in note for note in result.notes)


def test_quoted_driver_whose_inside_is_unc_gets_no_fix():
    result = diagnose('"\\\\server\\share\\x.sys"', service_type="driver")
    assert result.defects == ("quoted_driver",) and result.fixed_value is None


def test_quoted_relative_driver_is_only_unquoted():
    assert diagnose('"System32\\drivers\\x.sys"').fixed_value == "System32\\drivers\\x.sys"


def test_systemroot_variable_driver_is_rewritten_to_the_form_createservice_stores():
    # cryptcatsvc.dll, decompiled: "%SystemRoot%\" + "%SystemRoot%\..." is invalid for the writer; dokany#104: CreateService stores
    # \SystemRoot\ for drivers. Flagged with a note that the SCM may normalise it (unverified, compare sc qc).
    result = diagnose("%SystemRoot%\\System32\\drivers\\processr.sys", service_type="driver")
    assert result.defects == ("invalid_syntax",)
    assert result.fixed_value == "\\SystemRoot\\System32\\drivers\\processr.sys"
    assert any("sc qc" in note for note in result.notes)


def test_dotdot_climbing_above_the_drive_gets_no_fix():
    result = diagnose('"C:\\..\\..\\x.exe"', service_type="win32")
    assert result.defects == ("invalid_syntax",) and result.fixed_value is None


def test_program_files_variable_expands_to_a_path_with_spaces():
    # CWE-428 applies once the SCM expands %ProgramFiles% to "C:\Program Files"; quoting keeps it unexpanded.
    result = diagnose("%ProgramFiles%\\Vendor\\agent.exe -run", kind="REG_EXPAND_SZ", service_type="win32")
    assert result.defects == ("unquoted_spaces",)
    assert result.fixed_value == '"%ProgramFiles%\\Vendor\\agent.exe" -run'


def test_unknown_variable_means_no_verdict():
    result = diagnose("%VendorHome%\\bin\\agent.exe", service_type="win32", volumes=["C:"], exists=lambda p: False)
    assert result.defects == ()
    assert any("%VendorHome%" in note for note in result.notes)


def test_unknown_variable_with_literal_spaces_is_still_quoted():
    result = diagnose("%VendorHome%\\Path with spaces\\agent.exe", service_type="win32")
    assert result.defects == ("unquoted_spaces",)
    assert result.fixed_value == '"%VendorHome%\\Path with spaces\\agent.exe"'


def test_missing_volume_on_a_passive_cluster_node():
    # KB 980794: a clustered disk absent on this node; the exclusion path has no quote, no variable, a file name
    value = '"S:\\Program Files\\ClusSvcApp\\bin\\app.exe" -cluster'
    result = diagnose(value, service_type="win32", volumes=["C:", "D:\\"], exists=lambda p: None)
    assert result.defects == ("missing_volume",)
    assert result.exclusion_path == "S:\\Program Files\\ClusSvcApp\\bin\\app.exe"
    assert result.fixed_value is None
    assert diagnose(value, service_type="win32", volumes=["c", "S:"]).defects == ()


def test_missing_file_needs_an_existence_answer():
    value = "System32\\drivers\\ksqcraes.sys"
    seen = []
    result = diagnose(value, service_type="driver", exists=lambda p: seen.append(p) or False)
    assert seen == ["C:\\Windows\\System32\\drivers\\ksqcraes.sys"]
    assert result.defects == ("missing_file",) and result.exclusion_path == seen[0]
    assert diagnose(value, service_type="driver", exists=lambda p: None).defects == ()
    assert diagnose(value, service_type="driver", exists=lambda p: True).defects == ()


def test_fix_keeps_the_case_of_what_it_does_not_touch():
    result = diagnose("C:\\PrOgRaM FiLeS\\A/B\\Svc.ExE -Flag VALUE", service_type="win32")
    assert result.fixed_value == '"C:\\PrOgRaM FiLeS\\A\\B\\Svc.ExE" -Flag VALUE'


def test_service_type_is_inferred_from_sys():
    assert diagnose('"C:\\dir\\x.sys"').service_type == "driver"
    assert diagnose("C:\\dir\\x.exe").service_type == "win32"


@pytest.mark.parametrize("kwargs, argument", [
    ({"value": None}, "value"),
    ({"value": "x", "service_type": "foo"}, "service_type"),
    ({"value": "x", "kind": "REG_DWORD"}, "kind"),
    ({"value": "x", "volumes": "C:"}, "volumes"),
    ({"value": "x", "volumes": ["C:", "nope"]}, "volumes"),
    ({"value": "x", "service_name": 3}, "service_name"),
])
def test_bad_arguments_name_the_argument(kwargs, argument):
    with pytest.raises(ImagePathError, match=f"^{argument}:"):
        diagnose(**kwargs)


# ---------------------------------------------------------------------------------------------------
# The check over a host state document, and the planner
# ---------------------------------------------------------------------------------------------------

def fleet_state() -> dict:
    services = [
        make_service("CryptSvc", "%SystemRoot%\\system32\\svchost.exe -k NetworkService -p", type_=0x20,
                     start_mode="auto", state="running"),
        make_service("vdrvroot", "\\Systemroot\\Systemroot\\System32\\drivers\\vdrvroot.sys", type_=0x1),
        make_service("TMBMServer", TREND, type_=0x10),
        make_service("KProcessHacker3", KPH + "\x00" + KPH_TAIL, type_=0x1),
        make_service("MpKslDrv", '"' + MPKSL[4:] + '"', type_=0x1, kind="REG_SZ"),
        make_service("ClusSvcApp", '"S:\\Program Files\\ClusSvcApp\\bin\\app.exe"', type_=0x10),
        make_service("ksqcraes", "System32\\drivers\\ksqcraes.sys", type_=0x1),
        make_service("AppUnquoted", "C:\\Path with spaces\\SrvWS.exe -p 1", type_=0x10, kind="REG_SZ"),
        make_service("UncApp", "\\\\server\\share\\app.exe", type_=0x10),
        make_service("DwordPath", None, type_=0x10, kind="missing"),
        make_service("Fine", "\\SystemRoot\\System32\\drivers\\fine.sys", type_=0x2),
    ]
    services[9]["image_path"] = {"kind": "REG_DWORD", "data": 7}
    return make_state(services=services, paths={
        "c:\\windows\\system32\\drivers\\KSQCRAES.SYS": False,
        "C:\\Windows\\system32\\drivers\\fine.sys": True,
        "c:\\program files\\process hacker 2\\kprocesshacker.sys": True,
    })


def test_state_fixture_is_valid():
    _state.validate_state(fleet_state(), "test")


def test_check_is_registered_with_its_codes():
    check = _findings._CHECKS["imagepath"]  # pylint: disable=protected-access
    assert set(check.codes) == {"invalid_syntax", "quoted_driver", "embedded_nul", "missing_volume",
                                "missing_file", "unquoted_spaces"}
    assert check.wanted_paths is not None


def test_findings_over_a_state_document():
    findings = list(_imagepath.imagepath_findings(fleet_state()))
    got = sorted((f.code, f.subject, f.fixable) for f in findings)
    assert got == [
        ("embedded_nul", "service:KProcessHacker3", True),
        ("invalid_syntax", "service:TMBMServer", True),
        ("invalid_syntax", "service:UncApp", False),
        ("invalid_syntax", "service:vdrvroot", True),
        ("missing_file", "service:ksqcraes", False),
        ("missing_volume", "service:ClusSvcApp", False),
        ("quoted_driver", "service:MpKslDrv", True),
        ("unquoted_spaces", "service:AppUnquoted", True),
    ]
    by_subject = {(f.code, f.subject): f for f in findings}
    nul = by_subject[("embedded_nul", "service:KProcessHacker3")]
    assert "\x00" not in nul.evidence["image_path"] and "kprocesshacker.sys<NUL>1251" in nul.evidence["image_path"]
    json.dumps(nul.as_dict())
    assert nul.evidence["fixed_value"] == KPH and nul.evidence["kind"] == "REG_EXPAND_SZ"
    volume = by_subject[("missing_volume", "service:ClusSvcApp")]
    assert volume.evidence["exclusion_path"] == "S:\\Program Files\\ClusSvcApp\\bin\\app.exe"
    assert volume.severity == "error" and "KB 980794" in volume.source
    missing = by_subject[("missing_file", "service:ksqcraes")]
    assert missing.evidence["exclusion_path"] == "C:\\Windows\\System32\\drivers\\ksqcraes.sys"
    assert by_subject[("invalid_syntax", "service:vdrvroot")].evidence["writer_path"] == \
        "C:\\Windows\\systemroot\\system32\\drivers\\vdrvroot.sys"


def test_wanted_paths_are_the_otherwise_valid_writer_paths():
    wanted = {p.lower() for p in _imagepath.imagepath_wanted_paths(fleet_state())}
    assert wanted == {
        "c:\\windows\\system32\\svchost.exe",
        "c:\\program files\\process hacker 2\\kprocesshacker.sys",
        "c:\\path with spaces\\srvws.exe",
        "c:\\windows\\system32\\drivers\\ksqcraes.sys",
        "c:\\windows\\system32\\drivers\\fine.sys",
    }


def test_plan_fixes_apply_cleanly_and_replanning_is_empty():
    state = fleet_state()
    operations, rows = _imagepath.plan_imagepath_fixes(state)
    assert sorted(op["key"].rsplit("\\", 1)[1] for op in operations) == [
        "AppUnquoted", "KProcessHacker3", "MpKslDrv", "TMBMServer", "vdrvroot"]
    for op in operations:
        _operations.check_shape(op)
        assert op["set"]["kind"] == op["expect"]["kind"]
    mp = next(op for op in operations if op["key"].endswith("\\MpKslDrv"))
    assert mp["set"] == {"kind": "REG_SZ", "data": MPKSL}
    after, outcome = _twin.apply_to_state(state, operations)
    assert not outcome.refused and outcome.changed
    assert _imagepath.plan_imagepath_fixes(after)[0] == []
    assert {f.code for f in _imagepath.imagepath_findings(after)} == {"invalid_syntax", "missing_file", "missing_volume"}
    reported = {row["service"]: row for row in rows}
    assert reported["DwordPath"]["new"] is None and "REG_DWORD" in reported["DwordPath"]["reason"]
    assert reported["ClusSvcApp"]["new"] is None and reported["ClusSvcApp"]["defects"] == ["missing_volume"]
    assert reported["UncApp"]["new"] is None
    assert "Fine" not in reported and "CryptSvc" not in reported


def test_plan_selects_codes_and_services():
    state = fleet_state()
    ops, rows = _imagepath.plan_imagepath_fixes(state, codes=["unquoted_spaces"])
    assert [op["key"].rsplit("\\", 1)[1] for op in ops] == ["AppUnquoted"]
    assert next(r for r in rows if r["service"] == "vdrvroot")["reason"] == "not selected: invalid_syntax"
    ops, _unused = _imagepath.plan_imagepath_fixes(state, include=["k*", "v*"], exclude=["KPROCESS*"])
    assert [op["key"].rsplit("\\", 1)[1] for op in ops] == ["vdrvroot"]
    with pytest.raises(ImagePathError, match="^codes:"):
        _imagepath.plan_imagepath_fixes(state, codes=["nope"])
    with pytest.raises(ImagePathError, match="^include:"):
        _imagepath.plan_imagepath_fixes(state, include="Mp*")


def test_a_missing_volume_binary_listed_in_excluded_binary_paths_is_a_warning_not_an_error():
    from ansible_collections.backupready.windows.plugins.plugin_utils._imagepath import imagepath_findings
    from statedoc import make_service, make_state

    service = make_service("ClusApp", "S:\\Apps\\clusapp.exe -service", kind="REG_SZ")
    state = make_state(services=[service])
    (before,) = [f for f in imagepath_findings(state) if f.code == "missing_volume"]
    assert before.severity == "error" and before.evidence["exclusion_path"] == "S:\\Apps\\clusapp.exe"
    state["system_writer"]["excluded_binary_paths"] = {"kind": "REG_MULTI_SZ", "data": ["s:\\apps\\CLUSAPP.exe"]}
    (after,) = [f for f in imagepath_findings(state) if f.code == "missing_volume"]
    assert after.severity == "warning" and after.evidence["excluded"] is True and not after.fixable
    state["system_writer"]["excluded_binary_paths"] = {"kind": "REG_SZ", "data": "S:\\Apps\\clusapp.exe"}
    (wrong_kind,) = [f for f in imagepath_findings(state) if f.code == "missing_volume"]
    assert wrong_kind.severity == "error"  # only a REG_MULTI_SZ value counts


@pytest.mark.parametrize("value", [
    "C:\\Windows\\..\\0.sys",
    "\\??\\C:\\Windows\\..\\Users\\Public\\x.sys",
    "\\SystemRoot\\System32\\.\\drivers\\x.sys",
    "System32\\..\\0.sys",
    "C:/Windows/../0.sys",
])
def test_a_driver_path_with_dot_segments_is_reported_not_rewritten(value):
    # A driver is loaded from an NT path, which does not resolve '.' or '..': rewriting it would choose a file.
    diagnosis = diagnose(value, kind="REG_EXPAND_SZ", service_type="driver")
    assert "invalid_syntax" in diagnosis.defects
    assert diagnosis.fixed_value is None
