"""The report end to end: ansible-playbook with the callback enabled, then report.html in real headless Chromium.

Needs Debian's ``chromium`` (``apt-get install chromium``). Without it the test is skipped, except in CI
(env ``CI`` set), where it fails. Set ``BACKUPREADY_SAVE_SCREENSHOT=docs/report-screenshot.png`` to keep the
screenshot (that is how the one in docs/ was made).
"""

from __future__ import annotations

import datetime
import json
import os
import re
import shutil
import struct
import subprocess
import tempfile
import zlib
from html.parser import HTMLParser

import pytest
from runner import ansible_env, run, write_inventory
from statedoc import make_state

from ansible_collections.backupready.windows.plugins.plugin_utils._findings import CODES
from ansible_collections.backupready.windows.plugins.plugin_utils._report import (
    FleetCollector, build_hosts, summarize, write_html)
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
        self.cards, self.current, self.in_number, self.text = {}, None, False, []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "div" and (attrs.get("id") or "").startswith("card-"):
            self.current = attrs["id"][5:]
        elif tag == "b" and self.current:
            self.in_number = True

    def handle_endtag(self, tag):
        if tag == "b" and self.in_number:
            self.in_number, self.current = False, None

    def handle_data(self, data):
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
    assert len(re.findall(r"<details", result.stdout)) == 7


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
    keep = os.environ.get("BACKUPREADY_SAVE_SCREENSHOT")
    if keep:
        small = run_chromium(chromium(), f"--screenshot={os.path.abspath(keep)}", "--window-size=1280,1400",
                             f"file://{path}")
        assert small.returncode == 0, small.stderr[-2000:]


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
