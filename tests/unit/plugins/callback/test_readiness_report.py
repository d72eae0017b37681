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
    return {"changed": False, "ready": not findings, "fail_on": "error", "findings": list(findings),
            "summary": {"host": "x", "os": os_name, "findings": len(findings)}, **extra}


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


def test_the_last_result_wins_and_a_full_assessment_resets(make_callback, tmp_path):
    callback, _unused = make_callback(formats=["json"])
    callback.v2_runner_on_ok(result("h", info("WS", finding("cryptsvc_state", "service:CryptSvc", "first"))))
    callback.v2_runner_on_ok(result("h", {"findings": [finding("cryptsvc_state", "service:cryptsvc", "second"),
                                                       finding("embedded_nul", "service:x")]},
                                    action="backupready.windows.win_cryptsvc"))
    callback.v2_runner_on_ok(result("h", info("WS", finding("quoted_driver", "service:y")), args={"codes": ["quoted_driver"]}))
    callback.v2_playbook_on_stats(stats("h"))
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert sorted((f["code"], f["message"]) for f in report["hosts"][0]["findings"]) == [
        ("cryptsvc_state", "second"), ("embedded_nul", "m"), ("quoted_driver", "m")]
    assert sorted(os.listdir(tmp_path / "report")) == ["report.json"]

    callback, _unused = make_callback(formats=["json"])
    callback.v2_runner_on_ok(result("h", {"findings": [finding("embedded_nul", "service:x")]},
                                    action="backupready.windows.win_service_imagepath"))
    callback.v2_runner_on_ok(result("h", info("WS")))  # a full re-assessment: nothing left
    callback.v2_playbook_on_stats(stats("h"))
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["hosts"][0]["findings"] == [] and report["hosts"][0]["ready"] is True


def test_loop_items_and_failed_results_with_findings_are_collected(make_callback, tmp_path):
    callback, _unused = make_callback(formats=["json"])
    loop = {"changed": False, "results": [
        {"findings": [finding("filemaps_acl", "path:a")], "state": {"huge": "x"}, "item": "a"},
        {"findings": [finding("filemaps_acl", "path:b")], "item": "b"}]}
    callback.v2_runner_on_ok(result("h", loop, action="backupready.windows.win_filemaps_acl", args={}))
    refused = {"failed": True, "msg": "nothing was changed: CryptSvc changed since the probe",
               "findings": [finding("cryptsvc_state", "service:CryptSvc")]}
    callback.v2_runner_on_failed(result("h", refused, action="backupready.windows.win_cryptsvc", args={}))
    callback.v2_playbook_on_stats(stats("h"))
    (host,) = json.loads((tmp_path / "report" / "report.json").read_text())["hosts"]
    assert sorted(f["subject"] for f in host["findings"]) == ["path:a", "path:b", "service:CryptSvc"]
    assert host["assessed"] is True
    assert host["error"] == "win_cryptsvc: nothing was changed: CryptSvc changed since the probe"


def test_waivers_from_the_file_are_applied(make_callback, tmp_path):
    waivers = tmp_path / "waivers.yml"
    waivers.write_text("- host: FS*\n  code: cryptsvc_state\n  reason: CryptSvc is restarted by the backup job\n"
                       "- {host: fs01, code: embedded_nul, reason: vendor, expires: 2001-01-31}\n")
    callback, _unused = make_callback(waivers_file=str(waivers))
    callback.v2_runner_on_ok(result("fs01", info("WS", finding("cryptsvc_state", "service:CryptSvc"),
                                                 finding("embedded_nul", "service:x"))))
    callback.v2_playbook_on_stats(stats("fs01"))
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    findings = {f["code"]: f for f in report["hosts"][0]["findings"]}
    assert findings["cryptsvc_state"]["waived"] is True
    assert findings["cryptsvc_state"]["waiver_reason"] == "CryptSvc is restarted by the backup job"
    assert (findings["embedded_nul"]["waived"], findings["embedded_nul"]["waiver_expired"]) == (False, "2001-01-31")
    assert report["hosts"][0]["ready"] is True  # embedded_nul is a warning, below fail_on
    assert report["run"]["waivers"] == {"file": str(waivers), "count": 2, "error": None}


def test_a_bad_waivers_file_is_reported_and_nothing_is_waived(make_callback, tmp_path):
    waivers = tmp_path / "waivers.yml"
    waivers.write_text("- {host: fs01, code: cryptsvc_state, reason: ''}\n")
    callback, display = make_callback(waivers_file=str(waivers))
    callback.v2_runner_on_ok(result("fs01", info("WS", finding("cryptsvc_state", "service:CryptSvc"))))
    callback.v2_playbook_on_stats(stats("fs01"))
    (message,), _unused = display.error.call_args
    assert "waiver #0: field 'reason' is empty" in message
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert "field 'reason' is empty" in report["run"]["waivers"]["error"]
    assert report["hosts"][0]["findings"][0]["waived"] is False and report["hosts"][0]["ready"] is False


def test_fail_on_decides_readiness(make_callback, tmp_path):
    callback, _unused = make_callback(fail_on="critical", formats=["json"])
    callback.v2_runner_on_ok(result("fs01", info("WS", finding("cryptsvc_state", "service:CryptSvc"))))
    callback.v2_playbook_on_stats(stats("fs01"))
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["hosts"][0]["ready"] is True and report["run"]["fail_on"] == "critical"


def test_a_run_without_any_backupready_task_writes_nothing(make_callback, tmp_path):
    callback, display = make_callback()
    callback.v2_runner_on_ok(result("h", {"msg": "x"}, action="ansible.builtin.debug"))
    callback.v2_playbook_on_stats(stats("h"))
    assert not (tmp_path / "report").exists()
    (line,), _unused = display.display.call_args
    assert "no report written" in line


def test_an_unwritable_report_dir_is_an_error_not_a_crash(make_callback, tmp_path):
    (tmp_path / "file").write_text("")
    callback, display = make_callback(report_dir=str(tmp_path / "file" / "sub"))
    callback.v2_runner_on_ok(result("h", info("WS")))
    callback.v2_playbook_on_stats(stats("h"))
    (message,), _unused = display.error.call_args
    assert message.startswith(f"backupready report: could not write the report to {tmp_path / 'file' / 'sub'}")
