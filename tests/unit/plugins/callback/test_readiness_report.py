"""The readiness_report callback, driven with real TaskResult objects, as ansible-playbook would drive it."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from unittest.mock import MagicMock

import pytest
from ansible.executor.task_result import TaskResult
from ansible.inventory.host import Host
from ansible.plugins.loader import callback_loader

from ansible_collections.backupready.windows.plugins.plugin_utils._findings import CODES

INFO = "backupready.windows.win_backup_readiness_info"


def finding(code, subject, message="m"):
    row = CODES[code]
    return {"code": code, "severity": row.severity, "subject": subject, "message": message, "evidence": {"k": 1},
            "fix": row.fix, "fixable": True, "source": row.source}


def task(action=INFO, args=None):
    mock = MagicMock()
    mock.action = action
    mock.resolved_action = action
    mock.args = {"fail_on": "error", "include_state": False} if args is None else args
    mock.no_log = False
    mock.check_mode = False
    mock.get_name.return_value = action
    return mock


def result(host, data, action=INFO, args=None):
    try:  # ansible-core 2.21+: callbacks get a CallbackTaskResult over the task's unified result
        from ansible._internal._task import UnifiedTaskResult  # pylint: disable=import-outside-toplevel
    except ImportError:  # up to 2.20: TaskResult(host, task, result, task_fields)
        return TaskResult(Host(host), task(action, args), data, {})
    return TaskResult(Host(host), task(action, args), UnifiedTaskResult.from_action_result_dict(dict(data)))


def info(os_name, *findings, **extra):
    """A complete assessment's result, as win_backup_readiness_info returns it (judged at fail_on error)."""
    blocking = [f for f in findings if not f.get("waived") and f["severity"] in ("error", "critical")]
    return {"changed": False, "ready": not blocking, "gate_passed": not blocking, "complete": True, "fail_on": "error",
            "settings": {"fail_on": "error", "fail_on_origin": "default", "waivers_files": [], "waivers_count": 0},
            "findings": list(findings), "summary": {"host": "x", "os": os_name, "findings": len(findings)}, **extra}


@pytest.fixture(name="make_callback")
def fixture_make_callback(tmp_path, monkeypatch):
    for name in ("BACKUPREADY_REPORT_DIR", "BACKUPREADY_FAIL_ON", "BACKUPREADY_WAIVERS_FILE", "BACKUPREADY_REPORT_FORMATS"):
        monkeypatch.delenv(name, raising=False)

    def make(**options):
        display = quiet_display()
        callback = callback_loader.get("backupready.windows.readiness_report", display=display)
        assert callback is not None, "the callback plugin does not load"
        callback.set_options(direct={"report_dir": str(tmp_path / "report"), **options})
        return callback, display
    return make


def quiet_display():
    display = MagicMock()
    display.verbosity = 0
    return display


def stats(*hosts):
    mock = MagicMock()
    mock.processed = {h: 1 for h in hosts}
    return mock


def test_the_plugin_is_an_aggregate_callback_that_must_be_enabled(make_callback):
    callback, _unused = make_callback()
    assert (callback.CALLBACK_TYPE, callback.CALLBACK_NEEDS_ENABLED) == ("aggregate", True)
    assert callback.get_option("fail_on") == "error"
    assert callback.get_option("formats") == ["json", "junit", "markdown", "html"]


def test_options_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("BACKUPREADY_REPORT_DIR", str(tmp_path / "from-env"))
    monkeypatch.setenv("BACKUPREADY_FAIL_ON", "critical")
    callback = callback_loader.get("backupready.windows.readiness_report", display=quiet_display())
    callback.set_options()
    assert callback.get_option("report_dir") == str(tmp_path / "from-env")
    assert callback.get_option("fail_on") == "critical"


def test_a_run_writes_the_four_files_and_says_where(make_callback, tmp_path):
    callback, display = make_callback()
    playbook = MagicMock()
    playbook._file_name = "assess.yml"
    callback.v2_playbook_on_start(playbook)
    setup = MagicMock()
    setup.action = "ansible.builtin.debug"
    callback.v2_playbook_on_play_start(MagicMock())  # a set-up play on localhost: not part of the fleet
    callback.v2_playbook_on_task_start(setup, False)
    callback.v2_runner_on_ok(result("localhost", {"msg": "set up"}, action="ansible.builtin.debug"))
    callback.v2_playbook_on_play_start(MagicMock())
    assessment = MagicMock()
    assessment.action = "backupready.windows.win_backup_readiness_info"
    callback.v2_playbook_on_task_start(assessment, False)
    callback.v2_runner_on_skipped(result("skipped01", {"skipped": True}))
    big_state = {"services": [{"name": f"svc{i}", "image_path": "x" * 200} for i in range(300)]}
    callback.v2_runner_on_ok(result("fs01", info("Windows Server 2019", finding("cryptsvc_state", "service:CryptSvc"),
                                                 state=big_state)))
    callback.v2_runner_on_ok(result("dc01", info("Windows Server 2022")))
    callback.v2_runner_on_failed(result("bad01", {"failed": True, "msg": "snapshot bad01.json: not JSON"}))
    callback.v2_runner_on_unreachable(result("down01", {"unreachable": True, "msg": "winrm: connection refused"}))
    callback.v2_runner_on_ok(result("fs01", {"msg": "hello"}, action="ansible.builtin.debug"))
    callback.v2_playbook_on_stats(stats("fs01", "dc01", "bad01", "down01", "skipped01", "localhost"))

    out = tmp_path / "report"
    assert sorted(os.listdir(out)) == ["junit.xml", "report.html", "report.json", "report.md"]
    report = json.loads((out / "report.json").read_text())
    assert report["run"]["playbook"] == "assess.yml" and report["run"]["fail_on"] == "error"
    hosts = {h["name"]: h for h in report["hosts"]}
    assert {n: (h["assessed"], h["ready"]) for n, h in hosts.items()} == {
        "bad01": (False, None), "dc01": (True, True), "down01": (False, None), "fs01": (True, False),
        "skipped01": (False, None)}
    assert hosts["bad01"]["error"] == "win_backup_readiness_info: snapshot bad01.json: not JSON"
    assert hosts["down01"]["error"] == "unreachable: winrm: connection refused"
    assert hosts["fs01"]["os"] == "Windows Server 2019"
    assert "svc299" not in (out / "report.json").read_text()  # the state document is not kept
    assert report["summary"]["not_assessed"] == 3
    root = ET.parse(out / "junit.xml").getroot()
    assert (root.get("failures"), root.get("errors")) == ("1", "3")
    (line,), _unused = display.display.call_args
    assert line == (f"backupready report: 5 hosts, 1 ready, 1 not ready, 3 not assessed; written to {out} "
                    f"(report.json, junit.xml, report.md, report.html)")


def test_only_a_complete_assessment_decides_and_its_last_result_wins(make_callback, tmp_path):
    callback, _unused = make_callback(formats=["json"])
    callback.v2_runner_on_ok(result("h", info("WS", finding("cryptsvc_state", "service:CryptSvc", "first"))))
    callback.v2_runner_on_ok(result("h", {"findings": [finding("embedded_nul", "service:x")]},
                                    action="backupready.windows.win_cryptsvc"))
    callback.v2_runner_on_ok(result("h", info("WS", finding("quoted_driver", "service:y"), complete=False),
                                    args={"codes": ["quoted_driver"]}))
    callback.v2_runner_on_ok(result("h", {"changed": True, "findings": []}, action="backupready.windows.win_backup_rollback"))
    callback.v2_playbook_on_stats(stats("h"))
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert [(f["code"], f["message"]) for f in report["hosts"][0]["findings"]] == [("cryptsvc_state", "first")]
    assert report["hosts"][0]["ready"] is False

    callback, _unused = make_callback(formats=["json"])
    callback.v2_runner_on_ok(result("h", info("WS", finding("cryptsvc_state", "service:CryptSvc"))))
    callback.v2_runner_on_ok(result("h", info("WS")))  # a re-assessment after the fix: nothing left
    callback.v2_playbook_on_stats(stats("h"))
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["hosts"][0]["findings"] == [] and report["hosts"][0]["ready"] is True


def test_a_run_that_assessed_nothing_leaves_the_last_report(make_callback, tmp_path):
    callback, _unused = make_callback(formats=["json"])
    callback.v2_runner_on_ok(result("h", info("WS", finding("cryptsvc_state", "service:CryptSvc"))))
    callback.v2_playbook_on_stats(stats("h"))
    before = (tmp_path / "report" / "report.json").read_text()

    callback, display = make_callback(formats=["json"])  # a rollback run: its result has findings: []
    rollback = MagicMock()
    rollback.action = "backupready.windows.win_backup_rollback"
    callback.v2_playbook_on_play_start(MagicMock())
    callback.v2_playbook_on_task_start(rollback, False)
    callback.v2_runner_on_ok(result("h", {"changed": True, "findings": [], "msg": "rolled back"},
                                    action="backupready.windows.win_backup_rollback"))
    capture = result("h", info("WS", state={"services": []}), args={"include_state": True})  # the capture playbook
    callback.v2_runner_on_ok(capture)
    callback.v2_playbook_on_stats(stats("h"))
    assert (tmp_path / "report" / "report.json").read_text() == before
    (line,), _unused = display.display.call_args
    assert "no assessment ran" in line and "left as it was" in line


def test_check_mode_marks_a_dry_run_with_the_pending_changes(make_callback, tmp_path, monkeypatch):
    from ansible import context
    monkeypatch.setattr(context, "CLIARGS", {"check": True})
    callback, display = make_callback(formats=["json", "markdown"])
    callback.v2_playbook_on_start(MagicMock())
    callback.v2_runner_on_ok(result("h", info("WS", finding("cryptsvc_state", "service:CryptSvc"))))
    loop = {"changed": True, "results": [{"changed": True, "msg": "would fix a"}, {"changed": False}]}
    callback.v2_runner_on_ok(result("h", loop, action="backupready.windows.win_filemaps_acl", args={}))
    callback.v2_playbook_on_stats(stats("h"))
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["dry_run"] is True
    assert [c["summary"] for c in report["hosts"][0]["pending_changes"]] == ["would fix a"]
    assert "Dry run (check mode)" in (tmp_path / "report" / "report.md").read_text()
    lines = [c.args[0] for c in display.display.call_args_list]
    assert any("pending changes: 1 on 1 host(s): h" in line for line in lines)


def test_the_report_takes_the_waivers_the_assessment_applied(make_callback, tmp_path):
    waivers = tmp_path / "waivers.yml"
    waivers.write_text("- host: '*'\n  code: cryptsvc_state\n  reason: not applied by this assessment\n")
    callback, _unused = make_callback(waivers_file=str(waivers), formats=["json"])  # the report's own file is not read
    waived = {**finding("missing_volume", "service:ClusSvc"), "waived": True, "waiver_reason": "passive node",
              "waiver_expires": "2099-01-31", "waiver_source": "/srv/waivers.yml"}
    callback.v2_runner_on_ok(result("fs01", info("WS", finding("cryptsvc_state", "service:CryptSvc"), waived,
                                                 waived=[{"code": "missing_volume", "subject": "service:ClusSvc",
                                                          "reason": "passive node", "expires": "2099-01-31",
                                                          "waiver_source": "/srv/waivers.yml"}],
                                                 settings={"fail_on": "error", "fail_on_origin": "default",
                                                           "waivers_files": ["/srv/waivers.yml"], "waivers_count": 1})))
    callback.v2_playbook_on_stats(stats("fs01"))
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    findings = {f["code"]: f for f in report["hosts"][0]["findings"]}
    assert findings["cryptsvc_state"]["waived"] is False and report["hosts"][0]["ready"] is False
    assert findings["missing_volume"]["waived"] is True
    assert report["hosts"][0]["waived"][0]["waiver_source"] == "/srv/waivers.yml"
    assert report["settings"]["waivers_files"] == ["/srv/waivers.yml"]
    assert report["run"]["waivers"] == {"file": "/srv/waivers.yml", "count": 1, "error": None}


def test_a_bad_waivers_file_is_reported(make_callback, tmp_path):
    callback, _unused = make_callback(formats=["json"])
    callback.v2_playbook_on_task_start(task(), False)
    message = "/srv/waivers.yml: waiver #0: field 'reason' is empty: say why this finding is accepted"
    callback.v2_runner_on_failed(result("fs01", {"failed": True, "msg": message, "waivers_error": message}))
    callback.v2_playbook_on_stats(stats("fs01"))
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["run"]["waivers"]["error"] == message
    assert report["hosts"][0]["assessed"] is False and report["hosts"][0]["error"].endswith(message)


def test_the_fail_on_of_the_assessment_decides_not_the_reports_own(make_callback, tmp_path):
    callback, _unused = make_callback(fail_on="error", formats=["json"])
    critical = info("WS", finding("cryptsvc_state", "service:CryptSvc"), ready=True, gate_passed=True, fail_on="critical",
                    settings={"fail_on": "critical", "fail_on_origin": "env: BACKUPREADY_FAIL_ON", "waivers_files": []})
    callback.v2_runner_on_ok(result("fs01", critical))
    callback.v2_playbook_on_stats(stats("fs01"))
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["hosts"][0]["ready"] is True and report["run"]["fail_on"] == "critical"
    assert report["settings"]["fail_on_origin"] == "env: BACKUPREADY_FAIL_ON"


def test_a_run_without_any_backupready_task_writes_nothing(make_callback, tmp_path):
    callback, display = make_callback()
    callback.v2_runner_on_ok(result("h", {"msg": "x"}, action="ansible.builtin.debug"))
    callback.v2_playbook_on_stats(stats("h"))
    assert not (tmp_path / "report").exists()
    (line,), _unused = display.display.call_args
    assert "no assessment ran" in line


def test_an_unwritable_report_dir_is_an_error_not_a_crash(make_callback, tmp_path):
    (tmp_path / "file").write_text("")
    callback, display = make_callback(report_dir=str(tmp_path / "file" / "sub"))
    callback.v2_runner_on_ok(result("h", info("WS")))
    callback.v2_playbook_on_stats(stats("h"))
    (message,), _unused = display.error.call_args
    assert message.startswith(f"backupready report: could not write the report to {tmp_path / 'file' / 'sub'}")


# --- the readiness lines, printed plainly after a debug task in JSON ----------------------------------------

WINMAD_LINES = ["NOT READY: 1 finding(s) over 261 services (Windows)",
                "ERROR    invalid_syntax            service:WinMad: WinMad: the System Writer derives "
                "'\\\\systemroot\\system32\\drivers\\winmad.sys', not a valid local path",
                "NEXT: preview the fixes with `ansible-playbook -i <inventory> backupready.windows.remediate --check "
                "--diff --limit mars-winmad`, then run it without --check"]


def shown_lines(display) -> list[str]:
    return [call.args[0] for call in display.display.call_args_list]


def test_readiness_lines_of_a_debug_task_are_printed_again_plainly_when_the_console_shows_json(make_callback):
    callback, display = make_callback(result_format="json")
    callback.v2_runner_on_ok(result("mars-winmad", {"msg": WINMAD_LINES}, action="ansible.builtin.debug", args={}))
    printed = shown_lines(display)
    assert printed[0] == "backupready [mars-winmad], the lines above as Windows shows the values:"
    assert printed[1:] == ["    " + line for line in WINMAD_LINES]
    # single backslashes, but for the doubled leading one that is the defect
    assert "derives '\\\\systemroot\\system32\\drivers\\winmad.sys'" in printed[2]


def test_readiness_lines_are_not_repeated_when_the_console_shows_yaml_or_json_changes_nothing(make_callback):
    callback, display = make_callback(result_format="yaml")
    callback.v2_runner_on_ok(result("mars-winmad", {"msg": WINMAD_LINES}, action="ansible.builtin.debug", args={}))
    callback, display_json = make_callback(result_format="json")
    callback.v2_runner_on_ok(result("dc01", {"msg": ["READY: 0 finding(s) over 3 services (Windows)"]},
                                    action="ansible.builtin.debug", args={}))
    callback.v2_runner_on_ok(result("dc01", {"msg": ["some\\other debug"]}, action="ansible.builtin.debug", args={}))
    assert not shown_lines(display) and not shown_lines(display_json)


REMEDIATE = "backupready.windows.win_backup_remediate"


def test_the_lines_of_an_assessment_for_a_playbook_without_a_gate_task_are_printed_as_it_arrives(make_callback):
    """assess and remediate have no task per host that shows the lines: the callback prints them, as text, for a
    result that names its not_ready_group; a host added to the group is shown by the play that fails it."""
    callback, display = make_callback(result_format="yaml")
    callback.v2_runner_on_ok(result("mars-winmad", info("Windows", lines=WINMAD_LINES, not_ready_group="nr")))
    printed = shown_lines(display)
    assert printed == [f"backupready [mars-winmad] {WINMAD_LINES[0]}"] + ["    " + line for line in WINMAD_LINES[1:]]
    assert "derives '\\\\systemroot\\system32\\drivers\\winmad.sys'" in printed[1]
    callback, display = make_callback(result_format="yaml")
    callback.v2_runner_on_ok(result("mars-winmad", info("Windows", lines=WINMAD_LINES, not_ready_group="nr",
                                                        add_group="nr")))
    callback.v2_runner_on_ok(result("dc01", info("Windows", lines=["READY: 0 finding(s)"])))  # a gate task shows them
    callback.v2_runner_on_ok(result("dc02", info("Windows", lines=["READY: 0 finding(s)"], not_ready_group="nr"),
                                    action=REMEDIATE))
    assert shown_lines(display) == ["backupready [dc02] READY: 0 finding(s)"]


def test_the_failing_play_s_message_is_printed_again_plainly_when_the_console_shows_json(make_callback):
    callback, display = make_callback(result_format="json")
    verdict = "\n".join(["mars-winmad is not ready for a System State backup at fail_on error (default):",
                         *WINMAD_LINES])
    callback.v2_runner_on_failed(result("mars-winmad", {"msg": verdict, "failed": True}, action="ansible.builtin.fail",
                                        args={}))
    printed = shown_lines(display)
    assert printed[0] == "backupready [mars-winmad], the lines above as Windows shows the values:"
    assert "    " + WINMAD_LINES[1] in printed
