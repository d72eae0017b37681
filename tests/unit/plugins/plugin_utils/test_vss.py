"""vssadmin list writers parser, the System Writer checks, and the win_cryptsvc plan.

Fixtures (tests/unit/fixtures/vssadmin/), each named after its source (vssadmin's real output, KB 2952783):
- nagios_embedded_data_healthy.txt: a Nagios plugin's __DATA__ block, real output shape;
- nagios_embedded_data_truncated.txt: the same, cut inside the second block;
- kb2952783_failed_reindented.txt: KB 2952783's failed sample with header, re-indented (the Markdown lost it);
- kb2009272_unquoted_healthy_markdown.txt: KB 2009272's healthy sample as its Markdown shows it (unquoted name,
  no indent, the instance id elided by the KB);
- assumed_french_localisation_unverified_healthy.txt: ASSUMED French labels, not seen on a real French box.
"""

from __future__ import annotations

import copy
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.backupready.windows.plugins.plugin_utils import _findings, _state, _twin, _vss
from ansible_collections.backupready.windows.plugins.plugin_utils._vss import Writer
from statedoc import HEALTHY_VSSADMIN, make_service, make_state

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "vssadmin")
SW_ID = "{e8132975-6f93-4464-a53e-1050253ae220}"
REG_ID = "{afbab4a2-367d-4d15-a586-71dbb18f8485}"


def fixture(name: str) -> str:
    with open(os.path.join(FIXTURES, name), encoding="utf-8") as handle:
        return handle.read()


def block(state_line: str = "[1] Stable", last_error: str = "No error", name: str = "'System Writer'",
          writer_id: str = SW_ID, instance: str = "{eb6b4c30-aa48-486a-9618-0d1934d180ca}") -> str:
    """One writer block in the real output shape (vssadmin's real output, KB 2952783), with the state and last error to test."""
    return (f"Writer name: {name}\n   Writer Id: {writer_id}\n   Writer Instance Id: {instance}\n"
            f"   State: {state_line}\n   Last error: {last_error}\n\n")


REGISTRY_BLOCK = block(name="'Registry Writer'", writer_id=REG_ID, instance="{d3faa119-61c1-4ec4-b163-68b43efad58b}")


def state_with(stdout: str, exit_code: int | None = 0, collected: bool = True, stderr: str = "", events=()) -> dict:
    doc = make_state(vssadmin={"collected": collected, "exit_code": exit_code, "stdout": stdout, "stderr": stderr},
                     events=list(events))
    return _state.validate_state(doc, "test")


def capi2_513(detail: str, in_message: bool = False, provider: str = "Microsoft-Windows-CAPI2", event_id: int = 513):
    message = ("Cryptographic Services failed while processing the OnIdentity() call in the System Writer Object.\n\n"
               f"Details:\n{detail}\n\nSystem Error:\nAccess is denied.")
    return {"log": "Application", "provider": provider, "id": event_id, "time_created": "2026-11-01T09:00:00Z",
            "level": "Error", "message": message if in_message else None,
            "properties": [] if in_message else [detail, "Access is denied."]}


# ---------------------------------------------------------------------------------------------------
# The parser
# ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, expected", [
    ("nagios_embedded_data_healthy.txt", [
        Writer("System Writer", SW_ID, "{eb6b4c30-aa48-486a-9618-0d1934d180ca}", 1, "Stable", "No error"),
        Writer("Registry Writer", REG_ID, "{d3faa119-61c1-4ec4-b163-68b43efad58b}", 1, "Stable", "No error"),
    ]),
    ("kb2952783_failed_reindented.txt", [
        Writer("System Writer", SW_ID, "{0df8b3f5-59ee-4185-983c-f35f16488e17}", 9, "Failed", "No error"),
    ]),
    ("kb2009272_unquoted_healthy_markdown.txt", [
        Writer("System Writer", SW_ID, None, 1, "Stable", "No error"),
    ]),
    ("assumed_french_localisation_unverified_healthy.txt", [
        Writer("System Writer", SW_ID, "{7e631031-c695-4229-9da1-a7de057e64cb}", 1, "Stable", "Aucune erreur"),
    ]),
    ("nagios_embedded_data_truncated.txt", [
        Writer("System Writer", SW_ID, "{eb6b4c30-aa48-486a-9618-0d1934d180ca}", 1, "Stable", "No error"),
        Writer("Registry Writer", REG_ID, None, None, None, None),
    ]),
])
def test_fixtures_parse(name, expected):
    text = fixture(name)
    assert _vss.parse_vssadmin_writers(text) == expected
    assert _vss.parse_vssadmin_writers(text.replace("\n", "\r\n")) == expected
    unindented = "\n".join(line.strip() for line in text.splitlines())
    assert _vss.parse_vssadmin_writers(unindented) == expected


@pytest.mark.parametrize("state_line, number, text", [
    ("[1] Stable", 1, "Stable"),
    ("[5] Waiting for completion", 5, "Waiting for completion"),
    ("[7] Failed", 7, "Failed"),
    ("[8] Failed", 8, "Failed"),
    ("[9] Failed", 9, "Failed"),
    ("[10] Failed", 10, "Failed"),
    ("[15] Failed", 15, "Failed"),
    ("Stable", None, "Stable"),
])
def test_state_number_is_read(state_line, number, text):
    (writer,) = _vss.parse_vssadmin_writers(block(state_line))
    assert (writer.state_number, writer.state_text) == (number, text)


@pytest.mark.parametrize("last_error, no_error", [
    ("No error", True), ("Aucune erreur", True), ("aucune erreur.", True),
    ("Timed out", False), ("Retryable error", False), ("Non-retryable error", False),
])
def test_last_error(last_error, no_error):
    (writer,) = _vss.parse_vssadmin_writers(block(last_error=last_error))
    assert writer.last_error == last_error
    assert writer.last_error_is_none is no_error


def test_header_and_waiting_lines_are_skipped():
    text = ("vssadmin 1.1 - Volume Shadow Copy Service administrative command-line tool\n"
            "(C) Copyright 2001-2013 Microsoft Corp.\n\nWaiting for responses.\n"
            "These may be delayed if a shadow copy is being prepared.\n\n" + block() + REGISTRY_BLOCK)
    assert [w.name for w in _vss.parse_vssadmin_writers(text)] == ["System Writer", "Registry Writer"]


def test_unknown_labels_fall_back_on_the_shape_of_the_lines():
    # A French capture read with the wrong code page: "État" and "Dernière" are mangled.
    text = ("Nom de l'enregistreur : 'System Writer'\n   ID de l'enregistreur : " + SW_ID + "\n"
            "   ID de l'instance de l'enregistreur : {7e631031-c695-4229-9da1-a7de057e64cb}\n"
            "   \ufffdtat : [8] \ufffdchec\n   Derni\ufffdre erreur : D\ufffdlai d\ufffdpass\ufffd\n")
    (writer,) = _vss.parse_vssadmin_writers(text)
    assert writer == Writer("System Writer", SW_ID, "{7e631031-c695-4229-9da1-a7de057e64cb}", 8, "\ufffdchec",
                            "D\ufffdlai d\ufffdpass\ufffd")
    # Entirely unknown labels: a quoted name starts a block, GUIDs fill writer id then instance id.
    other = "Name: 'System Writer'\n  Id: " + SW_ID + "\n  Inst: {7e631031-c695-4229-9da1-a7de057e64cb}\n  S: [1] x\n"
    (writer,) = _vss.parse_vssadmin_writers(other)
    assert (writer.writer_id, writer.instance_id, writer.state_number) == (SW_ID, "{7e631031-c695-4229-9da1-a7de057e64cb}", 1)


def test_labels_are_matched_whatever_the_apostrophe_and_spacing():
    text = "Nom de l\u2019enregistreur  :  'System Writer'\nID   de l\u2019enregistreur : " + SW_ID + "\n"
    (writer,) = _vss.parse_vssadmin_writers(text)
    assert writer.writer_id == SW_ID


def test_not_text_is_refused():
    with pytest.raises(TypeError, match="vssadmin output must be text"):
        _vss.parse_vssadmin_writers(b"Writer name: 'System Writer'")


@pytest.mark.parametrize("writers, found", [
    ([Writer("System Writer", SW_ID)], "System Writer"),
    ([Writer("Registry Writer", REG_ID)], None),
    ([Writer("Renamed", SW_ID.upper())], "Renamed"),                         # the id wins over the name
    ([Writer("System Writer", "{00000000-0000-0000-0000-000000000000}")], None),  # a lookalike name with another id
    ([Writer("System Writer")], "System Writer"),                            # no id shown: by name
    ([Writer("System Writer", "{e8132975-6f93")], "System Writer"),          # truncated id: by name
])
def test_find_system_writer(writers, found):
    writer = _vss.find_system_writer(writers)
    assert (writer.name if writer else None) == found


# The parser drops byte order marks anywhere (console output may carry one): a name is never made of one.
_NAMES = st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"), blacklist_characters="'\r\n\ufeff"),
                 min_size=1, max_size=30).map(str.strip).filter(bool)
_GUIDS = st.uuids().map(lambda u: "{" + str(u) + "}")
_LABELS = {
    "en": ("Writer name: ", "Writer Id: ", "Writer Instance Id: ", "State: ", "Last error: "),
    "fr": ("Nom de l'enregistreur : ", "ID de l'enregistreur : ", "ID de l'instance de l'enregistreur : ",
           "État : ", "Dernière erreur : "),
}


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(_NAMES, _GUIDS, _GUIDS, st.integers(0, 20), st.sampled_from(["Stable", "Failed", "Échec"]),
                          st.sampled_from(["No error", "Timed out", "Aucune erreur"])), min_size=1, max_size=5),
       st.sampled_from(["en", "fr"]), st.sampled_from(["\n", "\r\n"]), st.sampled_from(["", "   ", "\t"]))
def test_rendered_output_parses_back(rows, language, newline, indent):
    name, wid, iid, state, error = _LABELS[language]
    lines = ["vssadmin 1.1 - Volume Shadow Copy Service administrative command-line tool", ""]
    for w_name, w_id, i_id, number, text, last in rows:
        lines += [f"{name}'{w_name}'", f"{indent}{wid}{w_id}", f"{indent}{iid}{i_id}",
                  f"{indent}{state}[{number}] {text}", f"{indent}{error}{last}", ""]
    parsed = _vss.parse_vssadmin_writers(newline.join(lines))
    assert parsed == [Writer(*row) for row in rows]


@settings(max_examples=60, deadline=None)
@given(st.integers(0, len(HEALTHY_VSSADMIN)))
def test_any_truncation_keeps_the_complete_blocks(cut):
    full = _vss.parse_vssadmin_writers(HEALTHY_VSSADMIN)
    part = _vss.parse_vssadmin_writers(HEALTHY_VSSADMIN[:cut])
    assert len(part) <= len(full)
    assert part[:-1] == full[:max(len(part) - 1, 0)]
    if part:  # the last block keeps its name, and each field it has is a prefix of the full one
        last, whole = part[-1], full[len(part) - 1]
        assert whole.name.startswith(last.name)
        for field in ("writer_id", "instance_id", "last_error"):
            assert getattr(last, field) is None or getattr(whole, field).startswith(getattr(last, field))
        if last.state_number is None and last.state_text is not None:  # "[" or "[1": kept raw, number unknown
            assert f"[{whole.state_number}] {whole.state_text}".startswith(last.state_text)
        elif last.state_text is not None:
            assert last.state_number == whole.state_number and whole.state_text.startswith(last.state_text)


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_parser_never_crashes(text):
    for writer in _vss.parse_vssadmin_writers(text):
        assert isinstance(writer.name, str)


# ---------------------------------------------------------------------------------------------------
# The checks
# ---------------------------------------------------------------------------------------------------

def findings(state):
    return list(_vss.system_writer_findings(state))


def test_the_check_is_registered():
    check = _findings._CHECKS["system_writer"]
    assert set(check.codes) == {"system_writer_missing", "system_writer_failed"}


@pytest.mark.parametrize("stdout", [
    HEALTHY_VSSADMIN,
    fixture("nagios_embedded_data_healthy.txt"),
    fixture("kb2009272_unquoted_healthy_markdown.txt"),
    fixture("assumed_french_localisation_unverified_healthy.txt"),
    fixture("nagios_embedded_data_truncated.txt"),
])
def test_healthy_writer_gives_nothing(stdout):
    assert findings(state_with(stdout)) == []


def test_missing_writer():
    (finding,) = findings(state_with(REGISTRY_BLOCK))
    assert finding.code == "system_writer_missing"
    assert finding.severity == _findings.CODES["system_writer_missing"].severity == "critical"
    assert finding.evidence == {"writers": ["Registry Writer"], "exit_code": 0}
    assert finding.fix == "restart CryptSvc once, re-check, report events"
    assert finding.fixable


@pytest.mark.parametrize("event, expected", [
    (capi2_513("AddCoreCsiFiles: BeginFileEnumeration() failed."), ["AddCoreCsiFiles: BeginFileEnumeration() failed."]),
    (capi2_513("AddCoreCsiFiles : BeginFileEnumeration() failed.", in_message=True),
     ["AddCoreCsiFiles : BeginFileEnumeration() failed."]),
    (capi2_513("AddCoreCsiFiles : RtlConvertNtFilePathToWin32Path() failed."),
     ["AddCoreCsiFiles : RtlConvertNtFilePathToWin32Path() failed."]),
    # Non-fatal per-driver 513 (KB 3209092): not an explanation of a missing writer.
    (capi2_513("AddLegacyDriverFiles: Unable to back up image of binary Microsoft Link-Layer Discovery Protocol."), None),
    (capi2_513("AddCoreCsiFiles: BeginFileEnumeration() failed.", provider="Microsoft-Windows-Backup"), None),
    (capi2_513("AddCoreCsiFiles: BeginFileEnumeration() failed.", event_id=512), None),
])
def test_missing_writer_explained_by_capi2_513(event, expected):
    (finding,) = findings(state_with(REGISTRY_BLOCK, events=[event, copy.deepcopy(event)]))
    assert finding.evidence.get("capi2_513") == expected
    assert ("KB 2009272" in finding.message) is (expected is not None)


@pytest.mark.parametrize("kwargs, reason", [
    ({"collected": False, "exit_code": None, "stdout": ""}, "not collected"),
    ({"exit_code": 2, "stdout": ""}, "exited with code 2"),
    ({"exit_code": None}, "exit code"),
    ({"exit_code": 0, "stderr": "Access is denied."}, "denied access"),
    ({"exit_code": 2, "stdout": "Error: You don't have the correct permissions to run this command.  Please run "
                                "this utility from a command window that has elevated administrator privileges."},
     "denied access"),
    ({"exit_code": 0, "stdout": "vssadmin 1.1 - Volume Shadow Copy Service administrative command-line tool\n"},
     "no writer"),
])
def test_no_verdict_without_usable_output(kwargs, reason):
    args = {"stdout": REGISTRY_BLOCK, **kwargs}
    state = state_with(**args)
    assert findings(state) == []
    assert reason in _vss.vssadmin_unusable(state["vssadmin"])


def test_usable_output_has_no_blocker():
    assert _vss.vssadmin_unusable(state_with(REGISTRY_BLOCK)["vssadmin"]) is None


@pytest.mark.parametrize("state_line, last_error, severity, fixable", [
    ("[9] Failed", "No error", "error", True),          # KB 2952783
    ("[7] Failed", "No error", "error", True),
    ("[8] Failed", "No error", "error", True),
    ("[10] Failed", "Timed out", "error", True),
    ("[6] Failed", "Non-retryable error", "error", True),
    ("[15] Failed", "No error", "error", True),
    ("[5] Waiting for completion", "No error", "warning", False),
    ("[2] Waiting for freeze", "No error", "warning", False),
    ("[1] Stable", "Retryable error", "warning", True),
    ("[1] Stable", "Timed out", "warning", True),
    ("[0] Unknown", "No error", "warning", False),
    ("[16] Whatever", "No error", "warning", False),
    ("Stable", "No error", "warning", False),             # no number: cannot be read with confidence
])
def test_failed_writer(state_line, last_error, severity, fixable):
    (finding,) = findings(state_with(block(state_line, last_error) + REGISTRY_BLOCK))
    assert finding.code == "system_writer_failed"
    assert finding.severity == severity
    assert finding.fixable is fixable
    expected_number = int(state_line[1:state_line.index("]")]) if state_line.startswith("[") else None
    assert finding.evidence["state_number"] == expected_number
    assert finding.evidence["last_error"] == last_error
    assert ("restart CryptSvc once, re-check, report events" in finding.fix) is (
        severity == "error" or fixable or "Waiting" in state_line)


def test_french_failed_writer_keys_on_the_number():
    text = fixture("assumed_french_localisation_unverified_healthy.txt").replace("[1] Stable", "[8] Échec")
    (finding,) = findings(state_with(text))
    assert (finding.code, finding.severity, finding.evidence["state_text"]) == ("system_writer_failed", "error", "Échec")


def test_kb2952783_failed_sample():
    (finding,) = findings(state_with(fixture("kb2952783_failed_reindented.txt")))
    assert finding.evidence == {"state_number": 9, "state_text": "Failed", "last_error": "No error", "writer_id": SW_ID}


# ---------------------------------------------------------------------------------------------------
# cryptsvc_state (the lead's check, in this module)
# ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("start_mode, run_state, problems", [
    ("auto", "running", None),
    ("manual", "running", ["start mode is manual, not auto"]),
    ("auto", "stopped", ["state is stopped, not running"]),
    ("disabled", "stopped", ["state is stopped, not running", "start mode is disabled, not auto"]),
])
def test_cryptsvc_state(start_mode, run_state, problems):
    state = make_state()
    cryptsvc = _state.find_service(state, "CryptSvc")
    cryptsvc.update(start_mode=start_mode, state=run_state)
    found = list(_vss.cryptsvc_findings(state))
    if problems is None:
        assert found == []
    else:
        (finding,) = found
        assert finding.message == "Cryptographic Services: " + "; ".join(problems)


# ---------------------------------------------------------------------------------------------------
# The win_cryptsvc plan, applied with the snapshot semantics
# ---------------------------------------------------------------------------------------------------

def cryptsvc_state(start_mode="auto", run_state="running", stdout=HEALTHY_VSSADMIN, after_restart=None, **vss):
    state = state_with(stdout, **vss)
    _state.find_service(state, "CryptSvc").update(start_mode=start_mode, state=run_state)
    if after_restart is not None:
        state["simulation"] = {"on_cryptsvc_restart": after_restart}
    return _state.validate_state(state, "test")


def ops(plan):
    return [(op["op"], op["expect"], op["set"]) for op in plan["operations"]]


@pytest.mark.parametrize("kwargs, args, expected, for_writer", [
    ({}, {}, [], False),
    ({"start_mode": "manual"}, {}, [("service_start_mode", "manual", "auto")], False),
    ({"start_mode": "disabled", "run_state": "stopped"}, {},
     [("service_start_mode", "disabled", "auto"), ("service_state", "stopped", "started")], False),
    ({"run_state": "stopped"}, {}, [("service_state", "stopped", "started")], False),
    ({}, {"desired_state": "restarted"}, [("service_state", "running", "restarted")], False),
    ({"run_state": "stopped"}, {"desired_state": "restarted"}, [("service_state", "stopped", "restarted")], False),
    ({}, {"start_mode": "manual"}, [("service_start_mode", "auto", "manual")], False),
    ({"stdout": REGISTRY_BLOCK}, {}, [("service_state", "running", "restarted")], True),
    ({"stdout": block("[9] Failed")}, {}, [("service_state", "running", "restarted")], True),
    ({"stdout": block("[1] Stable", "Retryable error")}, {}, [("service_state", "running", "restarted")], True),
    ({"stdout": REGISTRY_BLOCK, "run_state": "stopped"}, {}, [("service_state", "stopped", "started")], True),
    ({"stdout": block("[5] Waiting for completion")}, {}, [], False),
    ({"stdout": REGISTRY_BLOCK}, {"ensure_system_writer": False}, [], False),
    ({"stdout": REGISTRY_BLOCK, "exit_code": 2}, {}, [], False),
])
def test_plan_cryptsvc(kwargs, args, expected, for_writer):
    state = cryptsvc_state(**kwargs)
    plan = _vss.plan_cryptsvc(state, **args)
    assert plan["errors"] == []
    assert ops(plan) == expected
    assert plan["restart_for_writer"] is for_writer
    assert all(op["service"] == "CryptSvc" for op in plan["operations"])
    after, outcome = _twin.apply_to_state(state, plan["operations"])
    assert not outcome.refused, outcome.msg
    assert _state.find_service(after, "CryptSvc")["start_mode"] == args.get("start_mode", "auto")
    assert _state.find_service(after, "CryptSvc")["state"] == "running"


def test_plan_reasons_say_why():
    plan = _vss.plan_cryptsvc(cryptsvc_state(stdout=block("[5] Waiting for completion")))
    assert any("a backup may be running" in r for r in plan["reasons"])
    plan = _vss.plan_cryptsvc(cryptsvc_state(stdout="", exit_code=5))
    assert any(r.startswith("System Writer not checked: vssadmin list writers exited with code 5") for r in plan["reasons"])
    plan = _vss.plan_cryptsvc(cryptsvc_state(stdout=REGISTRY_BLOCK))
    assert any("restarted once" in r for r in plan["reasons"])


def test_restart_brings_the_writer_back_and_the_plan_settles():
    events = [capi2_513("AddCoreCsiFiles: BeginFileEnumeration() failed.")]
    healthy = {"collected": True, "exit_code": 0, "stdout": HEALTHY_VSSADMIN, "stderr": ""}
    vss_event = {"log": "Application", "provider": "VSS", "id": 8224, "time_created": "2026-11-01T10:05:00Z",
                 "message": "The VSS service is shutting down due to idle timeout.", "properties": []}
    state = cryptsvc_state(stdout=REGISTRY_BLOCK, events=events,
                           after_restart={"vssadmin": healthy, "events": [vss_event]})
    before = _vss.writer_status_after(state)
    assert (before["present"], before["verdict"]) == (False, "missing")
    assert before["capi2_513"] == ["AddCoreCsiFiles: BeginFileEnumeration() failed."]
    plan = _vss.plan_cryptsvc(state)
    after, outcome = _twin.apply_to_state(state, plan["operations"])
    assert outcome.changed and not outcome.refused
    status = _vss.writer_status_after(after)
    assert (status["present"], status["verdict"], status["state"], status["last_error"]) == (True, "stable", 1, "No error")
    assert [e["id"] for e in status["events"]] == [513, 8224]
    assert [e["id"] for e in _vss.writer_status_after(after, since="2026-11-01T10:00:00Z")["events"]] == [8224]
    assert _vss.plan_cryptsvc(after)["operations"] == []


def test_a_writer_that_stays_missing_is_restarted_again_on_the_next_run():
    # "Once" is per run: the module restarts, re-checks and reports; it does not loop.
    state = cryptsvc_state(stdout=REGISTRY_BLOCK)
    after, _unused = _twin.apply_to_state(state, _vss.plan_cryptsvc(state)["operations"])
    assert _vss.writer_status_after(after)["verdict"] == "missing"
    assert ops(_vss.plan_cryptsvc(after)) == [("service_state", "running", "restarted")]


def test_status_without_usable_output():
    status = _vss.writer_status_after(cryptsvc_state(collected=False, exit_code=None, stdout=""))
    assert (status["present"], status["verdict"]) == (None, "no_verdict")
    assert "not collected" in status["reason"]


def test_status_since_must_be_a_time():
    with pytest.raises(ValueError, match="since"):
        _vss.writer_status_after(cryptsvc_state(), since="yesterday")


def test_plan_cannot_be_made_without_cryptsvc_or_its_state():
    state = make_state(services=[make_service("1394ohci", "\\SystemRoot\\System32\\drivers\\1394ohci.sys", type_=1)])
    assert _vss.plan_cryptsvc(state)["errors"] == ["CryptSvc is not installed on this host: nothing can be planned"]
    state = cryptsvc_state(run_state=None)
    plan = _vss.plan_cryptsvc(state)
    assert plan["operations"] == [] and "unknown" in plan["errors"][0]


@pytest.mark.parametrize("args, message", [
    ({"start_mode": "automatic"}, "start_mode"),
    ({"desired_state": "stopped"}, "desired_state"),
    ({"start_mode": "disabled"}, "disabled"),
])
def test_plan_arguments_are_checked(args, message):
    with pytest.raises(ValueError, match=message):
        _vss.plan_cryptsvc(cryptsvc_state(), **args)


# ---------------------------------------------------------------------------------------------------
# A restart only when it can help (KB 2009272: fix the permissions first)
# ---------------------------------------------------------------------------------------------------

def _missing_writer_state(**overrides):
    state = make_state(**overrides)
    state["vssadmin"]["stdout"] = state["vssadmin"]["stdout"].split("Writer name: 'System Writer'")[0] + \
        "Writer name: 'Registry Writer'\n   Writer Id: {afbab4a2-367d-4d15-a586-71dbb18f8485}\n" \
        "   Writer Instance Id: {d3faa119-61c1-4ec4-b163-68b43efad58b}\n   State: [1] Stable\n   Last error: No error\n"
    _state.find_service(state, "CryptSvc")["state"] = "running"
    return state


def _denied(time_created):
    return {"log": "Application", "provider": "Microsoft-Windows-CAPI2", "id": 513, "time_created": time_created,
            "level": "error", "message": "Cryptographic Services failed while processing the OnIdentify() call in the "
            "System Writer Object.\n\nDetails:\nAddCoreCsiFiles : BeginFileEnumeration() failed.\n\nSystem Error:\n"
            "Access is denied.", "properties": []}


def test_a_missing_writer_is_restarted_when_nothing_blocks_it():
    plan = _vss.plan_cryptsvc(_missing_writer_state())
    assert plan["blocked_by"] == [] and [op["set"] for op in plan["operations"]] == ["restarted"]


def test_an_old_access_denied_event_does_not_block_the_first_restart():
    state = _missing_writer_state(events=[_denied("2026-10-01T10:00:00Z")])
    assert _vss.plan_cryptsvc(state)["blocked_by"] == []
    assert _vss.plan_cryptsvc(state, last_restart="2026-09-01T10:00:00Z")["blocked_by"] == [_vss.CAPI2_ACCESS_DENIED]


def test_an_access_denied_event_after_our_last_restart_blocks_another():
    state = _missing_writer_state(events=[_denied("2026-10-01T10:00:05Z")])
    plan = _vss.plan_cryptsvc(state, last_restart="2026-10-01T10:00:00Z")
    assert plan["operations"] == [] and plan["blocked_by"] == [_vss.CAPI2_ACCESS_DENIED]
    assert "not restarted" in " ".join(plan["reasons"])
    assert _vss.plan_cryptsvc(state, last_restart="2026-10-01T10:00:06Z")["blocked_by"] == []


def test_a_stopped_cryptsvc_is_started_even_when_the_writer_cannot_come_back():
    state = _missing_writer_state(vss_access_control={"key_exists": True, "values": {}})
    _state.find_service(state, "CryptSvc")["state"] = "stopped"
    plan = _vss.plan_cryptsvc(state)
    assert [op["set"] for op in plan["operations"] if op["op"] == "service_state"] == ["started"]


def test_a_restart_that_was_the_last_change_and_did_not_help_is_not_made_again():
    """Review: with a cause no check names (neither filemaps nor VssAccessControl), the writer stayed missing and
    CryptSvc was restarted on every run."""
    state = _missing_writer_state()
    plan = _vss.plan_cryptsvc(state, last_restart="2026-10-01T10:00:00Z", nothing_changed_since=True)
    assert plan["operations"] == [] and plan["blocked_by"] == [_vss.RESTART_WITHOUT_EFFECT]
    again = _vss.plan_cryptsvc(state, last_restart="2026-10-01T10:00:00Z", nothing_changed_since=False)
    assert [op["set"] for op in again["operations"]] == ["restarted"]
    forced = _vss.plan_cryptsvc(state, desired_state="restarted", last_restart="2026-10-01T10:00:00Z",
                                nothing_changed_since=True)
    assert [op["set"] for op in forced["operations"]] == ["restarted"]
