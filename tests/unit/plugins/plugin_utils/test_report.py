"""The fleet report: the collector, the model, the gate and each of the four writers on a small fleet."""

from __future__ import annotations

import datetime
import io
import json
import os
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from ansible_collections.backupready.windows.plugins.plugin_utils._findings import CODES
from ansible_collections.backupready.windows.plugins.plugin_utils._report import (
    FleetCollector, build_hosts, summarize, write_html, write_json, write_junit, write_markdown)
from ansible_collections.backupready.windows.plugins.plugin_utils._waivers import validate_waivers

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
TODAY = datetime.date(2026, 11, 1)
INFO = "backupready.windows.win_backup_readiness_info"
NASTY = "ImagePath <\"C:\\Program Files\\A&B\\svc.exe\"> isn't valid\x00trailing"
RUN = {"started": "2026-11-01T10:00:00Z", "finished": "2026-11-01T10:02:00Z", "playbook": "assess.yml",
       "ansible_version": "2.19.0", "collection_version": "0.1.0", "fail_on": "error",
       "waivers": {"file": "waivers.yml", "count": 2, "error": None}}

WAIVERS = validate_waivers([
    # KB 980794: on a passive cluster node the clustered volume is absent by design
    {"host": "sql-node*", "code": "missing_volume", "subject": "service:clus*", "reason": "passive node <cluster>"},
    {"host": "app01", "code": "filemaps_acl", "reason": "vendor ticket 42", "expires": "2026-10-01"},
], "waivers.yml")


def f(code, subject, message="m", severity=None, **evidence):
    return {"code": code, "subject": subject, "severity": severity or CODES[code].severity, "message": message,
            "evidence": evidence, "fix": CODES[code].fix, "fixable": True, "source": CODES[code].source}


def info_result(os_name, *findings):
    return {"changed": False, "ready": False, "findings": list(findings), "state": {"services": ["x"] * 500},
            "summary": {"host": "h", "os": os_name, "findings": len(findings)}}


def small_fleet():
    collector = FleetCollector()
    collector.add_result("fs01", INFO, info_result(
        "Windows Server 2019", f("cryptsvc_state", "service:CryptSvc", NASTY, state="stopped"),
        f("unquoted_spaces", "service:AppSvc", "unquoted path with spaces")), full_assessment=True)
    collector.add_result("sql-node2", INFO, info_result(
        "Windows Server 2022", f("missing_volume", "service:ClusDisk", "E: is not on this host"),
        f("exclusion_invalid", "exclusion:1", "duplicate")), full_assessment=True)
    collector.add_result("app01", INFO, info_result(
        "Windows Server 2016", f("filemaps_acl", "path:C:\\Windows\\winsxs\\filemaps", "TrustedInstaller lacks FA")),
        full_assessment=True)
    collector.add_result("dc01", INFO, info_result("Windows Server 2022"), full_assessment=True)
    collector.add_unreachable("down01", "Failed to connect to the host via winrm: timed out")
    return build_hosts(collector.hosts.values(), "error", WAIVERS, TODAY)


@pytest.fixture(name="fleet")
def fixture_fleet():
    hosts = small_fleet()
    return hosts, summarize(hosts)


def render(writer, hosts, summary, run=None):
    out = io.StringIO()
    writer(out, RUN if run is None else run, hosts, summary)
    return out.getvalue()


# ---- collecting --------------------------------------------------------------------------------------------

def test_the_collector_keeps_only_the_findings():
    collector = FleetCollector()
    finding = {**f("cryptsvc_state", "service:CryptSvc"), "huge": "x" * 10_000}
    collector.add_result("h", INFO, info_result("WS2022", finding), full_assessment=True)
    (kept,) = collector.hosts["h"].findings
    assert set(kept) == {"code", "severity", "subject", "message", "evidence", "fix", "fixable", "source"}
    assert not hasattr(collector.hosts["h"], "state")


def test_only_a_complete_assessment_makes_a_host_assessed():
    # A fix, a rollback (findings: []) or an assessment of some codes only is no picture of the host.
    collector = FleetCollector()
    collector.add_result("h", "backupready.windows.win_service_imagepath", {"findings": [f("quoted_driver", "service:w")]})
    collector.add_result("h", "backupready.windows.win_backup_rollback", {"changed": True, "findings": []})
    collector.add_result("h", INFO, {"ready": True, "complete": False, "findings": []})
    collector.add_seen_host("h")
    (host,) = build_hosts(collector.hosts.values(), "error", [], TODAY)
    assert (host.assessed, host.ready, host.findings) == (False, None, ())


def test_the_assessment_decides_readiness_with_its_own_fail_on_and_waivers():
    collector = FleetCollector()
    waived = {**f("missing_volume", "service:clus"), "waived": True, "waiver_reason": "passive node",
              "waiver_expires": "2027-01-31", "waiver_source": "/srv/waivers.yml"}
    collector.add_result("h", INFO, {"ready": False, "gate_passed": False, "complete": True, "fail_on": "warning",
                                     "settings": {"fail_on": "warning", "fail_on_origin": "task option fail_on"},
                                     "waived": [{"code": "missing_volume", "subject": "service:clus",
                                                 "reason": "passive node", "expires": "2027-01-31",
                                                 "waiver_source": "/srv/waivers.yml"}],
                                     "findings": [f("exclusion_invalid", "exclusion:1"), waived]}, full_assessment=True)
    (host,) = build_hosts(collector.hosts.values(), "error", [], TODAY)  # the report's own default is not used
    assert (host.ready, host.fail_on, host.blocking) == (False, "warning", 1)
    assert host.waived == ({"code": "missing_volume", "subject": "service:clus", "reason": "passive node",
                            "expires": "2027-01-31", "waiver_source": "/srv/waivers.yml"},)
    assert [x["waived"] for x in host.findings] == [False, True]


def test_check_mode_changes_are_pending_changes():
    collector = FleetCollector()
    collector.add_result("h", "backupready.windows.win_cryptsvc", {"changed": True, "operations": [
        {"op": "service_start_mode", "service": "CryptSvc", "set": "auto"}]}, check_mode=True,
        task_name="Cryptographic Services running")
    collector.add_result("h", "backupready.windows.win_service_imagepath", {"changed": False}, check_mode=True)
    (change,) = collector.hosts["h"].pending_changes
    assert change["task"] == "Cryptographic Services running" and change["module"] == "win_cryptsvc"
    assert "CryptSvc" in change["summary"]


def test_a_full_assessment_replaces_what_earlier_tasks_found():
    collector = FleetCollector()
    collector.add_result("h", INFO, info_result("WS", f("cryptsvc_state", "service:CryptSvc")), full_assessment=True)
    collector.add_result("h", "backupready.windows.win_cryptsvc", {"changed": True, "findings": []})
    assert len(collector.hosts["h"].findings) == 1  # the fix module does not change the picture
    collector.add_result("h", INFO, info_result("WS"), full_assessment=True)  # the re-assessment does
    assert collector.hosts["h"].findings == []


def test_results_of_other_collections_and_results_without_findings_are_ignored():
    collector = FleetCollector()
    assert not collector.add_result("h", "ansible.builtin.debug", {"findings": [f("cryptsvc_state", "s")]})
    assert not collector.add_result("h", "backupready.windows.other", {"msg": "no findings here"})
    assert collector.hosts == {} and collector.results_seen == 0


def test_a_failed_assessment_without_findings_leaves_the_host_not_assessed_with_the_message():
    collector = FleetCollector()
    collector.add_result("h", INFO, {"failed": True, "msg": "snapshot h.json: not a host state document"},
                         failed=True)
    (host,) = build_hosts(collector.hosts.values(), "error", [], TODAY)
    assert (host.assessed, host.ready, host.status) == (False, None, "not assessed")
    assert host.error == "win_backup_readiness_info: snapshot h.json: not a host state document"


def test_loop_results_are_collected_item_by_item():
    collector = FleetCollector()
    collector.add_result("h", "backupready.windows.win_filemaps_acl", {"results": [
        {"changed": True, "msg": "a"}, {"changed": False}, {"changed": True, "msg": "b"}, "junk"]}, check_mode=True)
    assert [c["summary"] for c in collector.hosts["h"].pending_changes] == ["a", "b"]


def test_a_host_of_the_play_with_no_result_is_not_assessed():
    collector = FleetCollector()
    collector.add_result("a", INFO, info_result("WS"), full_assessment=True)
    collector.add_seen_host("a")
    collector.add_seen_host("b")
    hosts = {h.name: h for h in build_hosts(collector.hosts.values(), "error", [], TODAY)}
    assert (hosts["a"].assessed, hosts["a"].error) == (True, None)
    assert (hosts["b"].assessed, hosts["b"].error) == (False, "no backupready.windows task returned findings for this host")


# ---- the model ---------------------------------------------------------------------------------------------

def test_ready_waived_and_expired_on_the_small_fleet(fleet):
    hosts, summary = fleet
    by_name = {h.name: h for h in hosts}
    assert {n: h.status for n, h in by_name.items()} == {
        "app01": "not ready", "dc01": "ready", "down01": "not assessed", "fs01": "not ready", "sql-node2": "ready"}
    (waived,) = [x for x in by_name["sql-node2"].findings if x["waived"]]
    assert (waived["code"], waived["waiver_reason"]) == ("missing_volume", "passive node <cluster>")
    (expired,) = by_name["app01"].findings
    assert (expired["waived"], expired["waiver_expired"]) == (False, "2026-10-01")
    assert summary["hosts"] == 5 and (summary["ready"], summary["not_ready"], summary["not_assessed"]) == (2, 2, 1)
    assert (summary["findings"], summary["open"], summary["waived"]) == (5, 4, 1)
    assert summary["findings_by_code"]["missing_volume"] == {
        "severity": "error", "summary": CODES["missing_volume"].summary, "source": "KB 980794",
        "hosts": 1, "total": 1, "open": 0, "waived": 1}
    assert summary["findings_by_severity"]["critical"] == {"total": 1, "open": 1, "waived": 0}


# ---- report.json -------------------------------------------------------------------------------------------

def documented_schema():
    with open(os.path.join(ROOT, "docs", "report.md"), encoding="utf-8") as handle:
        text = handle.read()
    match = re.search(r"<!-- report\.json schema -->\s*```json\n(.*?)```", text, re.S)
    assert match, "docs/report.md must hold the report.json schema after '<!-- report.json schema -->'"
    return json.loads(match.group(1))


def test_json_parses_back_and_follows_the_documented_schema(fleet):
    hosts, summary = fleet
    report = json.loads(render(write_json, hosts, summary))
    jsonschema.validate(report, documented_schema())
    assert report["run"] == RUN and report["summary"] == summary
    assert [h["name"] for h in report["hosts"]] == ["app01", "dc01", "down01", "fs01", "sql-node2"]
    fs01 = report["hosts"][3]
    assert fs01["findings"][0]["message"] == NASTY  # the NUL survives, JSON-escaped
    assert fs01["findings"][0]["evidence"] == {"state": "stopped"}


def test_the_documented_schema_rejects_a_broken_report(fleet):
    hosts, summary = fleet
    report = json.loads(render(write_json, hosts, summary))
    del report["hosts"][0]["findings"][0]["waived"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(report, documented_schema())


# ---- junit.xml ---------------------------------------------------------------------------------------------

# The order of a testcase's children in the common (Jenkins) JUnit XSD: skipped?, error*, failure*, system-out*, system-err*
CASE_ORDER = ["skipped", "error", "failure", "system-out", "system-err"]


def check_junit_shape(root):
    assert root.tag == "testsuites"
    for suite in root:
        assert suite.tag == "testsuite"
        for attr in ("name", "tests", "failures", "errors", "skipped", "time", "timestamp", "hostname"):
            assert attr in suite.attrib, attr
        cases = suite.findall("testcase")
        assert int(suite.get("tests")) == len(cases)
        assert int(suite.get("failures")) == sum(1 for c in cases if c.find("failure") is not None)
        assert int(suite.get("errors")) == sum(1 for c in cases if c.find("error") is not None)
        assert int(suite.get("skipped")) == sum(1 for c in cases if c.find("skipped") is not None)
        assert [c.tag for c in suite][0] == "properties"
        for case in cases:
            assert case.get("name") and case.get("classname") == f"backupready.{suite.get('name')}"
            order = [CASE_ORDER.index(child.tag) for child in case]
            assert order == sorted(order), [child.tag for child in case]
            assert [child.tag for child in case].count("skipped") <= 1
    for total in ("tests", "failures", "errors", "skipped"):
        assert int(root.get(total)) == sum(int(s.get(total)) for s in root)


def test_junit_maps_hosts_codes_and_findings(fleet):
    hosts, summary = fleet
    root = ET.fromstring(render(write_junit, hosts, summary).encode("utf-8"))
    check_junit_shape(root)
    suites = {s.get("name"): s for s in root}
    assert sorted(suites) == ["app01", "dc01", "down01", "fs01", "sql-node2"]
    assert (root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped")) == (
        str(4 * len(CODES) + 1), "2", "1", "1")
    fs01 = {c.get("name"): c for c in suites["fs01"].findall("testcase")}
    assert set(fs01) == set(CODES)
    (failure,) = fs01["cryptsvc_state"].findall("failure")
    # escaping: < > & " ' survive the round trip; the NUL, which XML cannot hold, is written as \u0000
    assert failure.get("message") == NASTY.replace("\x00", "\\u0000")
    assert failure.get("type") == "error"
    assert "subject: service:CryptSvc" in failure.text and '"state": "stopped"' in failure.text
    assert "source: KB 2009272" in failure.text
    assert fs01["unquoted_spaces"].find("failure") is None  # a warning is below fail_on: passing, noted
    assert "below fail_on (warning): service:AppSvc" in fs01["unquoted_spaces"].find("system-out").text
    waived = {c.get("name"): c for c in suites["sql-node2"].findall("testcase")}["missing_volume"]
    assert waived.find("failure") is None
    assert "passive node <cluster>" in waived.find("skipped").get("message")
    assert "reason: passive node <cluster>" in waived.find("system-out").text
    expired = {c.get("name"): c for c in suites["app01"].findall("testcase")}["filemaps_acl"]
    assert "waiver expired on 2026-10-01" in expired.find("failure").text
    (case,) = suites["down01"].findall("testcase")
    assert case.get("name") == "assessment"
    assert "Failed to connect" in case.find("error").get("message")


def test_junit_raw_text_has_no_unescaped_markup(fleet):
    hosts, summary = fleet
    text = render(write_junit, hosts, summary)
    assert "\x00" not in text
    assert '<"C:' not in text and "A&B" not in text
    assert "&lt;&quot;C:\\Program Files\\A&amp;B" in text


# ---- report.md ---------------------------------------------------------------------------------------------

def test_markdown_has_the_fleet_table_the_codes_and_the_hosts_not_ready(fleet):
    hosts, summary = fleet
    text = render(write_markdown, hosts, summary)
    tokens = MarkdownIt().enable("table").parse(text)
    tables = [i for i, t in enumerate(tokens) if t.type == "table_open"]
    assert len(tables) == 3  # the fleet, the codes, the waived findings
    fleet_row = [t.content for t in tokens[tables[0]:] if t.type == "inline"][6:12]
    assert fleet_row == ["5", "2", "2", "1", "4", "1"]
    assert "## Hosts not ready (2)" in text and "### fs01 (Windows Server 2019)" in text
    assert "- down01: unreachable: Failed to connect" in text
    assert "1 waived finding" not in text.split("### fs01")[1].split("###")[0]
    assert "\x00" not in text and "<\"C:" not in text
    rendered = MarkdownIt().enable("table").render(text)  # what a ticket system shows
    assert '<"C:' not in rendered and "&lt;" in rendered


def test_markdown_cells_cannot_break_the_table():
    collector = FleetCollector()
    collector.add_result("h|1", INFO, info_result("a | b", f("cryptsvc_state", "service:x|y", "a|b")), full_assessment=True)
    hosts = build_hosts(collector.hosts.values(), "error", [], TODAY)
    text = render(write_markdown, hosts, summarize(hosts))
    tokens = MarkdownIt().enable("table").parse(text)
    rows = [i for i, t in enumerate(tokens) if t.type == "tr_open"]
    for start in rows:
        end = next(i for i in range(start, len(tokens)) if tokens[i].type == "tr_close")
        cells = sum(1 for t in tokens[start:end] if t.type in ("td_open", "th_open"))
        assert cells == 6


# ---- report.html -------------------------------------------------------------------------------------------

class PageScan(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.text, self.loads = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        attrs = dict(attrs)
        for key in ("src", "href", "srcset", "poster", "data"):
            if attrs.get(key) and not (key == "href" and attrs[key].startswith("#")):  # a link within the page loads nothing
                self.loads.append((tag, key, attrs[key]))

    def handle_data(self, data):
        self.text.append(data)


def test_html_is_self_contained(fleet):
    hosts, summary = fleet
    page = render(write_html, hosts, summary)
    scan = PageScan()
    scan.feed(page)
    assert scan.loads == []
    assert "link" not in scan.tags and "img" not in scan.tags
    assert scan.tags.count("script") == 2  # the hosts data block and the page's own script (test_report_html.py)
    assert not re.search(r"(?i)<link|<script[^>]*\ssrc|<img|@import|url\(|https?://", page)
    assert page.count('<details class="host"') == len(hosts)


def test_html_escapes_every_text(fleet):
    hosts, summary = fleet
    page = render(write_html, hosts, summary)
    assert "<\"C:" not in page and "\x00" not in page
    scan = PageScan()
    scan.feed(page)
    text = "".join(scan.text)
    assert NASTY.replace("\x00", "<NUL>") in text  # the message, unescaped back, is intact (NUL named, as on the console)
    assert "passive node <cluster>" in text  # the waiver reason is shown, escaped
    assert "waiver expired 2026-10-01" in text


def test_html_host_names_cannot_inject_markup():
    collector = FleetCollector()
    collector.add_result("<img src=x onerror=alert(1)>", INFO, info_result("<b>os</b>"), full_assessment=True)
    hosts = build_hosts(collector.hosts.values(), "error", [], TODAY)
    page = render(write_html, hosts, summarize(hosts))
    scan = PageScan()
    scan.feed(page)
    assert "img" not in scan.tags and scan.tags.count("b") == 8  # fail_on, 6 cards, the host name; not the OS


# ---- properties --------------------------------------------------------------------------------------------

texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)


@settings(max_examples=60, deadline=None)
@given(host=texts.filter(str.strip), subject=texts, message=texts, reason=texts.filter(str.strip))
def test_every_writer_copes_with_any_text(host, subject, message, reason):
    collector = FleetCollector()
    collector.add_result(host, INFO, info_result(message, f("cryptsvc_state", subject, message, note=message),
                                                 f("embedded_nul", subject + "2", message)), full_assessment=True)
    waivers = validate_waivers([{"host": "*", "code": "embedded_nul", "reason": reason}], "w")
    hosts = build_hosts(collector.hosts.values(), "error", waivers, TODAY)
    summary = summarize(hosts)
    report = json.loads(render(write_json, hosts, summary))
    assert report["hosts"][0]["findings"][0]["message"] == message
    root = ET.fromstring(render(write_junit, hosts, summary).encode("utf-8"))
    check_junit_shape(root)
    assert root.get("failures") == "1"
    render(write_markdown, hosts, summary)
    scan = PageScan()
    scan.feed(render(write_html, hosts, summary))
    assert scan.loads == [] and scan.tags.count("script") == 2


def test_junit_gives_one_failure_per_test_case_with_every_finding_in_it():
    collector = FleetCollector()
    collector.add_result("acl", INFO, info_result("WS", f("filemaps_acl", "files:C:\\f\\*", "files lack rights"),
                                                  f("filemaps_acl", "path:C:\\f", "folder lacks rights")),
                         full_assessment=True)
    hosts = build_hosts(collector.hosts.values(), "error", [], TODAY)
    root = ET.fromstring(render(write_junit, hosts, summarize(hosts)).encode("utf-8"))
    (case,) = [c for c in root.iter("testcase") if c.get("name") == "filemaps_acl"]
    (failure,) = case.findall("failure")  # Jenkins, GitLab and GitHub show only one per test case
    assert "files lack rights" in failure.get("message") and "folder lacks rights" in failure.get("message")
    assert "files:C:\\f\\*" in failure.text and "path:C:\\f" in failure.text
    assert root.get("failures") == "1" == root.find("testsuite").get("failures")
    assert len(list(root.iter("failure"))) == 1


def test_markdown_keeps_an_ampersand_readable_but_escapes_an_entity():
    collector = FleetCollector()
    collector.add_result("h", INFO, info_result("WS", f("filemaps_acl", "path:x", "read & execute; &lt;b&gt;")),
                         full_assessment=True)
    hosts = build_hosts(collector.hosts.values(), "error", [], TODAY)
    text = render(write_markdown, hosts, summarize(hosts))
    assert "read & execute; &amp;lt;b&amp;gt;" in text
    assert MarkdownIt().render(text).count("&amp;lt;b&amp;gt;") == 1  # shown as typed, not as a tag


def test_markdown_shows_values_in_code_spans_that_read_the_same_raw_and_rendered():
    value = "\\\\systemroot\\system32\\drivers\\win\tmad.sys"
    message = f"WinMad: the System Writer derives '{value}', not a valid local path (a doubled \\SystemRoot\\ prefix)"
    finding = dict(f("invalid_syntax", "service:Win\u202eMad", message),
                   fix="set ImagePath to '\\SystemRoot\\System32\\drivers\\winmad.sys' (REG_EXPAND_SZ)")
    collector = FleetCollector()
    collector.add_result("h", INFO, info_result("WS", finding), full_assessment=True)
    hosts = build_hosts(collector.hosts.values(), "error", [], TODAY)
    text = render(write_markdown, hosts, summarize(hosts))
    shown = "'\\\\systemroot\\system32\\drivers\\win<TAB>mad.sys'"
    # raw: what the console shows, in a code span; no doubled backslash but the value's own, no &lt;TAB&gt;
    assert f"derives `{shown}`" in text and "&lt;" not in text and "\t" not in text and "\u202e" not in text
    assert "Fix: set ImagePath to `'\\SystemRoot\\System32\\drivers\\winmad.sys'`" in text
    assert "`service:Win<U+202E>Mad`" in text and "(a doubled \\SystemRoot\\ prefix)" in text
    rendered = MarkdownIt().render(text)  # what a ticket system shows: the same characters
    assert "<code>" + shown.replace("<", "&lt;").replace(">", "&gt;") + "</code>" in rendered
    assert "<code>'\\SystemRoot\\System32\\drivers\\winmad.sys'</code>" in rendered
    assert "a doubled \\SystemRoot\\ prefix" in rendered
