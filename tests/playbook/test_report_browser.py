"""The report end to end: ansible-playbook with the callback enabled, then report.html in real headless Chromium.

Needs Debian's ``chromium`` (``apt-get install chromium``). Without it the test is skipped, except in CI
(env ``CI`` set), where it fails. The page is driven through the DevTools protocol over a pipe
(``--remote-debugging-pipe``: no port, no extra package): measured at 1280 px, searched and filtered as a person
would, by typing and choosing. Set ``BACKUPREADY_SAVE_SCREENSHOT=docs/report-screenshot.png`` to keep a
screenshot of the demo fleet's report (that is how the one in docs/ was made).
"""

from __future__ import annotations

import datetime
import io
import json
import os
import re
import shutil
import struct
import subprocess
import tempfile
import time
import zlib
from html.parser import HTMLParser

import pytest
from devtools import Browser
from runner import ansible_env, run, write_inventory
from statedoc import make_state

from ansible_collections.backupready.windows.plugins.plugin_utils._findings import CODES
from ansible_collections.backupready.windows.plugins.plugin_utils._report import (
    FleetCollector, build_hosts, summarize, write_html)
from ansible_collections.backupready.windows.plugins.plugin_utils._report_html import PAGE, write_html_from_report
from ansible_collections.backupready.windows.plugins.plugin_utils._waivers import validate_waivers

pytestmark = pytest.mark.playbook

WIDTH, HEIGHT = 1280, 2000
INFO = "backupready.windows.win_backup_readiness_info"


def chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name) or (f"/usr/bin/{name}" if os.path.exists(f"/usr/bin/{name}") else None)
        if path:
            return path
    reason = "headless Chromium is not installed (apt-get install chromium)"
    if os.environ.get("CI"):
        pytest.fail(reason + ": CI must install it")
    pytest.skip(reason)


def run_chromium(binary: str, *args: str) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="backupready-chromium-") as profile:
        command = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                   "--disable-background-networking", "--disable-component-update", "--disable-sync",
                   "--hide-scrollbars", f"--user-data-dir={profile}", *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(name="browser")
def fixture_browser():
    browser = Browser(chromium())
    yield browser
    browser.close()


# ---- a tiny PNG reader: enough to check size and that the page is not blank --------------------------------

def read_png(path: str, rows: int) -> tuple[int, int, list[bytes]]:
    """Width, height and the first ``rows`` unfiltered pixel rows (8-bit RGB or RGBA, not interlaced)."""
    with open(path, "rb") as handle:
        data = handle.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, [], None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        assert zlib.crc32(kind + body) == struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])[0], kind
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + length
    assert header is not None, "no IHDR"
    width, height, depth, colour, _unused1, _unused2, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, header
    channels = 4 if colour == 6 else 3
    stride = width * channels
    inflate = zlib.decompressobj()
    raw = inflate.decompress(b"".join(idat), (stride + 1) * rows)
    previous, out = bytearray(stride), []
    for row in range(min(rows, height)):
        line = raw[row * (stride + 1):(row + 1) * (stride + 1)]
        kind, cur = line[0], bytearray(line[1:])
        for i in range(stride):
            left = cur[i - channels] if i >= channels else 0
            up = previous[i]
            if kind == 1:
                cur[i] = (cur[i] + left) & 0xFF
            elif kind == 2:
                cur[i] = (cur[i] + up) & 0xFF
            elif kind == 3:
                cur[i] = (cur[i] + ((left + up) >> 1)) & 0xFF
            elif kind == 4:
                corner = previous[i - channels] if i >= channels else 0
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                cur[i] = (cur[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 0xFF
        out.append(bytes(cur[j] for j in range(stride) if channels == 3 or j % 4 != 3))  # drop alpha
        previous = cur
    return width, height, out


# ---- the page ----------------------------------------------------------------------------------------------

def finding(code, subject, message, **evidence):
    row = CODES[code]
    return {"code": code, "severity": row.severity, "subject": subject, "message": message, "evidence": evidence,
            "fix": row.fix, "fixable": code != "missing_file", "source": row.source}


def demo_fleet():
    """A small fleet with each thing the page shows: ready, not ready, waived, expired waiver, not assessed."""
    collector = FleetCollector()
    results = {
        "fs01": ("Microsoft Windows Server 2019 Standard", [
            finding("cryptsvc_state", "service:CryptSvc", "Cryptographic Services: state is stopped, not running",
                    state="stopped", start_mode="disabled"),
            finding("unquoted_spaces", "service:AppSvc", "unquoted path with spaces: C:\\Program Files\\App\\svc.exe",
                    image_path="C:\\Program Files\\App\\svc.exe -k")]),
        "mars-winmad": ("Microsoft Windows Server 2016 Standard", [
            finding("quoted_driver", "service:winmad", 'driver path in quotes: "\\SystemRoot\\System32\\drivers\\winmad.sys"',
                    image_path='"\\SystemRoot\\System32\\drivers\\winmad.sys"'),
            finding("invalid_syntax", "service:winmad", "the System Writer derives a path with a quote in it <\"&'>",
                    writer_path='C:\\Windows\\"System32\\drivers\\winmad.sys')]),
        "sql-node2": ("Microsoft Windows Server 2022 Standard", [
            finding("missing_volume", "service:ClusSvcDisk", "E:\\ is not a volume of this host (passive cluster node)",
                    drive="E:")]),
        "acl-broken": ("Microsoft Windows Server 2016 Standard", [
            finding("filemaps_acl", "path:C:\\Windows\\winsxs\\filemaps", "TrustedInstaller lacks Full Control",
                    owner="S-1-5-32-544")]),
        "dc01": ("Microsoft Windows Server 2022 Standard", []),
        "web2025": ("Microsoft Windows Server 2025 Standard", []),
    }
    for host, (os_name, findings) in results.items():
        collector.add_result(host, INFO, {"findings": findings, "summary": {"os": os_name}}, full_assessment=True)
    collector.add_unreachable("down01", "Failed to connect to the host via winrm: timed out")
    waivers = validate_waivers([
        {"host": "sql-node*", "code": "missing_volume", "reason": "passive cluster node (KB 980794)"},
        {"host": "acl-broken", "code": "filemaps_acl", "reason": "rebuild planned", "expires": "2026-10-01"},
    ], "waivers.yml")
    hosts = build_hosts(collector.hosts.values(), "error", waivers, datetime.date(2026, 11, 1))
    return hosts, summarize(hosts)


@pytest.fixture(name="page", scope="module")
def fixture_page(tmp_path_factory):
    hosts, summary = demo_fleet()
    run = {"started": "2026-11-01T10:00:00Z", "finished": "2026-11-01T10:02:11Z", "playbook": "assess.yml",
           "ansible_version": "2.19.4", "collection_version": "0.1.0", "fail_on": "error",
           "waivers": {"file": "waivers.yml", "count": 2, "error": None}}
    path = tmp_path_factory.mktemp("report") / "report.html"
    with open(path, "w", encoding="utf-8") as handle:
        write_html(handle, run, hosts, summary)
    return str(path), summary


class Cards(HTMLParser):
    """The numbers of the summary cards, by card id, from the DOM Chromium rendered."""

    def __init__(self):
        super().__init__()
        self.cards, self.current, self.in_number, self.text, self.in_script = {}, None, False, [], False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.in_script = tag == "script"
        if tag == "div" and (attrs.get("id") or "").startswith("card-"):
            self.current = attrs["id"][5:]
        elif tag == "b" and self.current:
            self.in_number = True

    def handle_endtag(self, tag):
        self.in_script = False
        if tag == "b" and self.in_number:
            self.in_number, self.current = False, None

    def handle_data(self, data):
        if not self.in_script:  # the text on the page, not the data block or the script
            self.text.append(data)
        if self.in_number:
            self.cards[self.current] = int(data)


def test_chromium_renders_the_summary_numbers_and_the_hosts(page):
    path, summary = page
    result = run_chromium(chromium(), "--dump-dom", f"file://{path}")
    assert result.returncode == 0, result.stderr[-2000:]
    cards = Cards()
    cards.feed(result.stdout)
    assert cards.cards == {"hosts": 7, "ready": 3, "not-ready": 3, "not-assessed": 1, "open": 5, "waived": 1}
    assert cards.cards["hosts"] == summary["hosts"] and cards.cards["open"] == summary["open"]
    text = "".join(cards.text)
    for wanted in ("mars-winmad", "down01", "Failed to connect", "passive cluster node (KB 980794)",
                   "waiver expired 2026-10-01", "KB 980794", "mullvad/windows-service-rs#57",
                   "the System Writer derives a path with a quote in it <\"&'>"):
        assert wanted in text, wanted
    assert len(re.findall(r'<details class="host"', result.stdout)) == 7


def test_chromium_screenshot_is_a_full_page_not_a_blank_one(page, tmp_path):
    path, _unused = page
    shot = tmp_path / "report.png"
    result = run_chromium(chromium(), f"--screenshot={shot}", f"--window-size={WIDTH},{HEIGHT}", f"file://{path}")
    assert result.returncode == 0 and shot.exists(), result.stderr[-2000:]
    width, height, rows = read_png(str(shot), rows=420)  # the title, the cards and the per-code table
    assert (width, height) == (WIDTH, HEIGHT)
    colours = {row[i:i + 3] for row in rows for i in range(0, len(row), 3)}
    non_background = sum(1 for row in rows for i in range(0, len(row), 3) if row[i:i + 3] not in (
        b"\xf6\xf7\xf9", b"\xff\xff\xff"))
    assert len(colours) > 50, f"only {len(colours)} colours: a blank page?"
    assert non_background > 0.02 * WIDTH * len(rows), non_background
    # the cards' numbers are coloured: the ready green (#1f7a3d) and the not-ready red (#b42318) are on screen
    assert b"\x1f\x7a\x3d" in colours and b"\xb4\x23\x18" in colours


# ---- ansible-playbook with the callback enabled ------------------------------------------------------------

@pytest.fixture(name="playbook_report", scope="module")
def fixture_playbook_report(tmp_path_factory):
    work = tmp_path_factory.mktemp("assess")
    healthy = make_state()
    healthy["host"]["name"] = "healthy01"
    stopped = make_state()
    stopped["host"]["name"] = "crypt-off"
    stopped["services"][0]["state"] = "stopped"  # the "System writer is not found in the backup" write-up: CryptSvc must be running -> cryptsvc_state
    (work / "healthy01.json").write_text(json.dumps(healthy))
    (work / "crypt-off.json").write_text(json.dumps(stopped))
    (work / "corrupt.json").write_text("{not json")
    inventory = write_inventory(str(work / "inventory.json"), {
        "healthy01": "healthy01.json", "crypt-off": "crypt-off.json", "corrupt": "corrupt.json"})
    report_dir = work / "report"
    env = ansible_env(ANSIBLE_CALLBACKS_ENABLED="backupready.windows.readiness_report",
                      BACKUPREADY_REPORT_DIR=str(report_dir))
    result = run("ansible-playbook", "-i", inventory, "playbooks/assess.yml", env=env)
    return result, report_dir


def test_assess_with_the_callback_writes_the_report(playbook_report):
    result, report_dir = playbook_report
    output = result.stdout + result.stderr
    assert f"backupready report: 3 hosts, 1 ready, 1 not ready, 1 not assessed; written to {report_dir} " \
           "(report.json, junit.xml, report.md, report.html)" in result.stdout, output
    report = json.loads((report_dir / "report.json").read_text())
    hosts = {h["name"]: h for h in report["hosts"]}
    assert (hosts["healthy01"]["ready"], hosts["crypt-off"]["ready"], hosts["corrupt"]["ready"]) == (True, False, None)
    assert [f["code"] for f in hosts["crypt-off"]["findings"]] == ["cryptsvc_state"]
    assert hosts["corrupt"]["error"].startswith("win_backup_readiness_info: ")
    assert report["run"]["playbook"].endswith("assess.yml") and report["run"]["collection_version"]
    assert report["summary"]["findings_by_code"]["cryptsvc_state"]["open"] == 1
    assert "### crypt-off" in (report_dir / "report.md").read_text()
    junit = (report_dir / "junit.xml").read_text()
    assert junit.count("<failure ") == 1 and junit.count("<error ") == 1


def test_chromium_renders_the_report_of_the_playbook(playbook_report):
    _unused, report_dir = playbook_report
    result = run_chromium(chromium(), "--dump-dom", f"file://{report_dir / 'report.html'}")
    assert result.returncode == 0, result.stderr[-2000:]
    cards = Cards()
    cards.feed(result.stdout)
    assert cards.cards == {"hosts": 3, "ready": 1, "not-ready": 1, "not-assessed": 1, "open": 1, "waived": 0}
    assert "crypt-off" in "".join(cards.text)


# ---- the demo fleet's report, as a person reads it at 1280 px ----------------------------------------------

@pytest.fixture(name="demo_report", scope="module")
def fixture_demo_report(tmp_path_factory):
    """``make demo``'s report: the demo fleet assessed by ansible-playbook with the callback and the waivers."""
    work = tmp_path_factory.mktemp("demo")
    env = ansible_env(ANSIBLE_CALLBACKS_ENABLED="backupready.windows.readiness_report",
                      BACKUPREADY_REPORT_DIR=str(work / "report"))
    result = run("ansible-playbook", "-i", "examples/fleet/inventory.yml", "backupready.windows.assess", "-e",
                 "backupready_gate=false", "-e", "backupready_waivers_file=examples/fleet/waivers.yml", env=env)
    page = work / "report" / "report.html"
    assert page.exists(), result.stdout[-3000:] + result.stderr[-3000:]
    return page, json.loads((work / "report" / "report.json").read_text())


# Every host and every evidence block open, then: does anything stick out of the page, or out of its box?
OVERFLOW = """(function () {
  document.querySelectorAll("details").forEach(function (d) { d.open = true; });
  var bad = [];
  document.querySelectorAll("main, #summary, #codes, #filters, details.host").forEach(function (box) {
    var edge = box.getBoundingClientRect().right + 0.5;
    box.querySelectorAll("*").forEach(function (e) {
      var r = e.getBoundingClientRect();
      if (r.width && r.right > edge) {
        bad.push((box.id || box.className) + " > " + e.tagName.toLowerCase() + "." + e.className + ": " +
          Math.ceil(r.right - edge) + " px");
      }
    });
  });
  return {inner: innerWidth, scroll: document.documentElement.scrollWidth, bad: bad.slice(0, 20),
          evidence: document.querySelectorAll("details.ev[open]").length};
})()"""


def test_nothing_overflows_at_1280_px_even_with_every_block_open(demo_report, browser):
    page, report = demo_report
    browser.open(f"file://{page}")
    measured = browser.js(OVERFLOW)
    assert measured["inner"] == WIDTH
    assert measured["scroll"] <= measured["inner"] and measured["bad"] == [], measured
    assert measured["evidence"] == sum(1 for h in report["hosts"] for f in h["findings"] if f["evidence"])


def test_evidence_is_collapsed_and_a_security_descriptor_reads_one_ace_per_line(demo_report, browser):
    page, report = demo_report
    browser.open(f"file://{page}")
    collapsed = browser.js("""(function () {
      var blocks = [].slice.call(document.querySelectorAll("details.ev"));
      return {count: blocks.length, open: blocks.filter(function (d) { return d.open; }).length,
              shown: blocks.filter(function (d) { return d.lastElementChild.checkVisibility(); }).length};
    })()""")
    assert collapsed["count"] >= 10 and collapsed["open"] == 0 and collapsed["shown"] == 0, collapsed
    (broken,) = [h for h in report["hosts"] if h["name"] == "acl-broken"]
    (folder,) = [f for f in broken["findings"] if f["subject"] == "path:C:\\Windows\\winsxs\\filemaps"]
    aces = re.findall(r"\([^()]*\)", folder["evidence"]["sddl"])
    rows = browser.js("""(function () {
      var host = document.getElementById("host-acl-broken"), rows = [];
      host.open = true;
      var finding = [].slice.call(host.querySelectorAll(".f")).filter(function (f) {
        return f.querySelector(".subj").textContent === "path:C:\\\\Windows\\\\winsxs\\\\filemaps"; })[0];
      var evidence = finding.querySelector("details.ev");
      evidence.open = true;
      evidence.querySelectorAll("tr.ace").forEach(function (tr) {
        rows.push({cells: [].slice.call(tr.cells).map(function (td) { return td.innerText; }),
                   top: tr.getBoundingClientRect().top, bottom: tr.getBoundingClientRect().bottom});
      });
      return rows;
    })()""")
    assert [row["cells"][4] for row in rows] == aces  # one row per ACE, in order
    assert all(a["bottom"] <= b["top"] + 0.5 for a, b in zip(rows, rows[1:]))  # each on its own line
    assert ["deny", "Users (S-1-5-32-545)"] == rows[0]["cells"][:2]  # the deny of KB 2009272, by name
    assert all(re.fullmatch(r"[A-Za-z][\w ]+ \(S-1-[\d-]+\)", row["cells"][1]) for row in rows), rows


def test_hosts_not_ready_come_first(demo_report, browser):
    page, report = demo_report
    browser.open(f"file://{page}")
    shown = browser.js("[].slice.call(document.querySelectorAll('#hosts details.host')).map(function (d) {"
                       " return [d.querySelector('summary b').textContent, d.dataset.status]; })")
    not_ready = sorted((h["name"] for h in report["hosts"] if h["assessed"] and not h["ready"]), key=str.lower)
    assert not_ready and [name for name, _status in shown[:len(not_ready)]] == not_ready
    assert {status for _name, status in shown[len(not_ready):]} <= {"not-assessed", "ready"}
    assert len(shown) == len(report["hosts"])
    keep = os.environ.get("BACKUPREADY_SAVE_SCREENSHOT")
    if keep:
        browser.screenshot(os.path.abspath(keep), 1400)
        assert read_png(os.path.abspath(keep), rows=1)[:2] == (WIDTH, 1400)


# ---- search, filters and pages on a larger fleet ------------------------------------------------------------

def fleet_finding(code, subject, waived=False):
    row = CODES[code]
    return {"code": code, "severity": row.severity, "subject": subject, "message": f"{row.summary} ({subject})",
            "evidence": {"image_path": "C:\\Program Files\\App\\app.exe"}, "fix": row.fix, "fixable": True,
            "source": row.source, "waived": waived, "waiver_reason": "passive node" if waived else None,
            "waiver_expires": None, "waiver_expired": None}


def generated_report(count: int) -> dict:
    """``count`` hosts: CryptSvc stopped on every 4th, a (sometimes waived) missing volume on every 6th, an
    unquoted path (a warning) on every 5th, every 10th a SQL node, host 7 not assessed."""
    hosts = []
    for i in range(count):
        findings = []
        if i % 4 == 0:
            findings.append(fleet_finding("cryptsvc_state", "service:CryptSvc"))
        if i % 6 == 0:
            findings.append(fleet_finding("missing_volume", "service:ClusSvcApp", waived=i % 12 == 0))
        if i % 5 == 0:
            findings.append(fleet_finding("unquoted_spaces", f"service:App{i}"))
        assessed = i != 7
        ready = None if not assessed else not any(
            not f["waived"] and f["severity"] in ("error", "critical") for f in findings)
        hosts.append({"name": f"srv{i:04d}" + ("-sql" if i % 10 == 0 else ""), "assessed": assessed, "ready": ready,
                      "os": "Microsoft Windows Server 2022 Standard", "error": None if assessed else "unreachable: timed out",
                      "findings": findings if assessed else []})
    summary = {"hosts": count, "ready": sum(1 for h in hosts if h["ready"]),
               "not_ready": sum(1 for h in hosts if h["assessed"] and not h["ready"]),
               "not_assessed": sum(1 for h in hosts if not h["assessed"]),
               "open": sum(1 for h in hosts for f in h["findings"] if not f["waived"]),
               "waived": sum(1 for h in hosts for f in h["findings"] if f["waived"]),
               "findings_by_code": {code: {"severity": CODES[code].severity, "summary": CODES[code].summary,
                                           "source": CODES[code].source, "hosts": 0, "total": 0, "open": 0, "waived": 0}
                                    for code in ("cryptsvc_state", "missing_volume", "unquoted_spaces")}}
    run_info = {"finished": "2026-11-30T10:00:00Z", "playbook": "assess.yml", "fail_on": "error",
                "collection_version": "0.2.0", "ansible_version": "2.19.4"}
    return {"run": run_info, "hosts": hosts, "summary": summary}


def expected(report, q="", status="", code="", severity="", waived=""):
    """The hosts a person should see, in the page's order, by the documented meaning of each filter."""
    order = {"not ready": 0, "not assessed": 1, "ready": 2}

    def state(h):
        return "not assessed" if not h["assessed"] else "ready" if h["ready"] else "not ready"

    def keep(h):
        if status and state(h).replace(" ", "-") != status:
            return False
        text = " ".join([h["name"], h["os"], h["error"] or ""] + [
            f"{f['code']} {f['subject']} {f['message']}" for f in h["findings"]]).lower()
        if any(word not in text for word in q.lower().split()):
            return False
        return not (code or severity or waived) or any(
            (not code or f["code"] == code) and (not severity or f["severity"] == severity)
            and (not waived or f["waived"] == (waived == "waived")) for f in h["findings"])

    return [h["name"] for h in sorted(report["hosts"], key=lambda h: (order[state(h)], h["name"].lower())) if keep(h)]


@pytest.fixture(name="large_page", scope="module")
def fixture_large_page(tmp_path_factory):
    report = generated_report(240)
    path = tmp_path_factory.mktemp("large") / "report.html"
    with open(path, "w", encoding="utf-8") as handle:
        write_html_from_report(handle, report)
    return str(path), report


SHOWN = "[].slice.call(document.querySelectorAll('#hosts details.host summary b')).map(function (b) { return b.textContent; })"


def test_search_and_filters_by_host_code_severity_waived_and_status(large_page, browser):
    path, report = large_page
    browser.open(f"file://{path}")
    everyone = expected(report)
    assert browser.js(SHOWN) == everyone[:PAGE]
    assert browser.js("document.getElementById('count').textContent") == f"Hosts 1\u2013{PAGE} of 240"
    cases = [
        ({"q": "SQL"}, "#filters input[name=q]"),
        ({"q": "clussvcapp srv01"}, None),
        ({"code": "missing_volume", "waived": "waived"}, None),
        ({"code": "missing_volume", "waived": "open"}, None),
        ({"severity": "warning"}, None),
        ({"status": "not-assessed"}, None),
        ({"status": "ready", "code": "cryptsvc_state"}, None),
        ({"status": "ready", "waived": "waived"}, None),
    ]
    for filters, _unused in cases:
        for name in ("q", "status", "code", "severity", "waived"):
            selector = f"#filters [name={name}]"
            if browser.js(f"document.querySelector('{selector}').value") != filters.get(name, ""):
                browser.type_into(selector, filters.get(name, ""))
        want = expected(report, **filters)
        assert browser.js(SHOWN) == want[:PAGE], filters
        count = browser.js("document.getElementById('count').textContent")
        assert count == (f"Hosts 1\u2013{min(PAGE, len(want))} of {len(want)} (filtered from 240)" if want
                         else "No host matches (of 240)."), (filters, count)
        for name, value in filters.items():  # the view can be linked
            assert f"{name}={value.replace(' ', '%20')}" in browser.js("location.hash"), filters
    assert len(expected(report, q="sql")) == 24 and len(expected(report, code="missing_volume", waived="waived")) == 20
    assert expected(report, status="ready", code="cryptsvc_state") == []


def test_pages_of_hosts_and_a_linked_view(large_page, browser):
    path, report = large_page
    everyone = expected(report)
    browser.open(f"file://{path}")
    browser.click("#next")
    assert browser.js(SHOWN) == everyone[PAGE:2 * PAGE]
    assert browser.js("document.getElementById('count').textContent") == f"Hosts {PAGE + 1}\u2013{2 * PAGE} of 240"
    for _unused in range(10):
        browser.click("#next")  # beyond the last page: stays on it
    assert browser.js(SHOWN) == everyone[4 * PAGE:] and browser.js("document.getElementById('next').disabled")
    browser.call("Page.navigate", {"url": "about:blank"})
    browser.open(f"file://{path}#status=not-ready&q=sql")
    assert browser.js(SHOWN) == expected(report, status="not-ready", q="sql")
    assert browser.js("document.querySelector('#filters [name=status]').value") == "not-ready"
    browser.js("location.hash = 'code=unquoted_spaces'")  # a link of the per-code table
    time.sleep(0.2)
    assert browser.js(SHOWN) == expected(report, code="unquoted_spaces")[:PAGE]


def test_without_script_the_summary_and_the_first_hosts_are_shown(large_page):
    path, report = large_page
    browser = Browser(chromium(), scripts=False)
    try:
        browser.open(f"file://{path}", drawn=False)
        seen = browser.js("""({cards: [].slice.call(document.querySelectorAll('#summary .card b')).map(function (b) {
                                 return b.textContent; }),
                               filters: getComputedStyle(document.getElementById('filters')).display,
                               note: document.getElementById('static-note').innerText,
                               drawn: document.documentElement.hasAttribute('data-drawn-ms')})""")
        assert browser.js(SHOWN) == expected(report)[:PAGE]
    finally:
        browser.close()
    assert seen["cards"] == [str(report["summary"][k]) for k in ("hosts", "ready", "not_ready", "not_assessed", "open", "waived")]
    assert seen["filters"] == "none" and not seen["drawn"]
    assert seen["note"] == f"The first {PAGE} of 240 hosts, not ready first. The other 190 are shown with JavaScript on " \
                           "and are all in report.json."


def test_two_thousand_hosts_open_with_one_page_drawn(tmp_path, browser):
    """Not a timed test (tools/bench_report.py measures): 2,000 hosts are all searchable, 50 are laid out."""
    report = generated_report(2000)
    page = io.StringIO()
    write_html_from_report(page, report)
    (tmp_path / "report.html").write_text(page.getvalue(), encoding="utf-8")
    browser.open(f"file://{tmp_path / 'report.html'}")
    assert browser.js("document.querySelectorAll('details.host').length") == PAGE
    browser.type_into("#filters [name=q]", "srv1999")
    assert browser.js(SHOWN) == ["srv1999"]


def test_the_settings_the_callback_recorded_are_shown(demo_report, browser):
    page, report = demo_report
    browser.open(f"file://{page}")
    shown = browser.js("document.getElementById('settings').innerText")
    assert f"fail on {report['settings']['fail_on']} and above" in shown
    assert all(os.path.basename(path) in shown for path in report["settings"]["waivers_files"]) and "waivers.yml" in shown
    assert browser.js("document.getElementById('dry-run')") is None and not report["dry_run"]
