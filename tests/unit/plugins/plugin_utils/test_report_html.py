"""report.html as written: evidence for people, the host order, the data block and its script, the run's keys.

What the page does in a browser (no overflow at 1280 px, search and filters, paging) is in
tests/playbook/test_report_browser.py, in headless Chromium.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import re
from html.parser import HTMLParser

from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.backupready.windows.plugins.plugin_utils._findings import CODES
from ansible_collections.backupready.windows.plugins.plugin_utils._report_html import (
    PAGE, write_html, write_html_from_report)

TRUSTED_INSTALLER = "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464"
# The acl-broken host of the demo fleet (KB 2009272): a foreign owner, a deny for Users, no grant for SYSTEM.
BROKEN_SDDL = f"O:S-1-5-21-1004336348-1177238915-682003330-4711G:DUD:PAI(D;OICI;FR;;;BU)(A;OICI;FA;;;{TRUSTED_INSTALLER})" \
              "(A;OICI;0x1200a9;;;BA)"
EVENTS = [{"time_created": "2026-11-01T23:00:08Z", "detail": "AddLegacyDriverFiles: Unable to back up image of binary x.",
           "system_error": "Access is denied."},
          {"time_created": "2026-11-02T07:59:40Z", "detail": "AddLegacyDriverFiles: Unable to back up image of binary y.",
           "system_error": "Access is denied."}]
RUN = {"started": "2026-11-01T10:00:00Z", "finished": "2026-11-01T10:02:00Z", "playbook": "assess.yml",
       "ansible_version": "2.19.0", "collection_version": "0.2.0", "fail_on": "error",
       "waivers": {"file": None, "count": 0, "error": None}}


def finding(code, subject, message="m", waived=False, **evidence):
    row = CODES[code]
    return {"code": code, "severity": row.severity, "subject": subject, "message": message, "evidence": evidence,
            "fix": row.fix, "fixable": True, "source": row.source, "waived": waived,
            "waiver_reason": "accepted" if waived else None, "waiver_expires": None, "waiver_expired": None}


def host(name, *findings, assessed=True, error=None, **extra):
    ready = None if not assessed else not any(
        not f["waived"] and f["severity"] in ("error", "critical") for f in findings)
    return {"name": name, "assessed": assessed, "ready": ready, "os": "Windows Server 2022", "error": error,
            "findings": list(findings), **extra}


def summary_of(hosts):
    codes = {}
    for h in hosts:
        for f in h["findings"]:
            row = codes.setdefault(f["code"], {"severity": f["severity"], "summary": "", "source": "", "hosts": 0,
                                               "total": 0, "open": 0, "waived": 0})
            row["total"] += 1
            row["waived" if f["waived"] else "open"] += 1
    return {"hosts": len(hosts), "ready": sum(1 for h in hosts if h["ready"]),
            "not_ready": sum(1 for h in hosts if h["assessed"] and not h["ready"]),
            "not_assessed": sum(1 for h in hosts if not h["assessed"]),
            "open": sum(1 for h in hosts for f in h["findings"] if not f["waived"]),
            "waived": sum(1 for h in hosts for f in h["findings"] if f["waived"]), "findings_by_code": codes}


def page_of(hosts, run=None, summary=None):
    out = io.StringIO()
    write_html(out, run or RUN, hosts, summary or summary_of(hosts))
    return out.getvalue()


class Dom(HTMLParser):
    """A small DOM: each element as (tag, attrs, text inside it), in document order; script content kept apart."""

    def __init__(self, page):
        super().__init__(convert_charrefs=True)
        self.elements, self.open, self.scripts = [], [], []
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        element = {"tag": tag, "attrs": dict(attrs), "text": [], "children": []}
        if self.open:
            self.open[-1]["children"].append(element)
        self.elements.append(element)
        if tag not in ("meta", "input", "br", "wbr", "link", "img"):
            self.open.append(element)

    def handle_endtag(self, tag):
        while self.open:
            element = self.open.pop()
            if element["tag"] == tag:
                break

    def handle_data(self, data):
        if self.open and self.open[-1]["tag"] == "script":
            self.scripts.append((self.open[-1]["attrs"], data))
        for element in self.open:
            element["text"].append(data)

    def find(self, tag, cls=None, **attrs):
        return [e for e in self.elements if e["tag"] == tag
                and (cls is None or cls in (e["attrs"].get("class") or "").split())
                and all(e["attrs"].get(k) == v for k, v in attrs.items())]


def text(element):
    return "".join(element["text"])


def data_block(page):
    """The hosts of the page's data block (gzip-compressed JSON in base64), and the block's attributes."""
    ((attrs, raw),) = [(attrs, data) for attrs, data in Dom(page).scripts if attrs.get("id") == "report-data"]
    assert attrs["type"] == "application/octet-stream" and attrs["data-encoding"] == "gzip+base64"
    return {"page": int(attrs["data-page"]), "hosts": json.loads(gzip.decompress(base64.b64decode(raw)))}


# ---- evidence, for people ----------------------------------------------------------------------------------

def test_a_security_descriptor_is_shown_one_ace_per_row_with_names():
    page = page_of([host("acl-broken", finding("filemaps_acl", "path:C:\\Windows\\winsxs\\filemaps", sddl=BROKEN_SDDL))])
    dom = Dom(page)
    rows = dom.find("tr", "ace")
    assert len(rows) == 3  # one per ACE of the DACL
    cells = [[text(td) for td in row["children"]] for row in rows]
    assert cells[0][:3] == ["deny", "Users (S-1-5-32-545)", "FR = read (0x120089)"]
    assert cells[1][1] == f"TrustedInstaller ({TRUSTED_INSTALLER})" and "full control" in cells[1][2]
    assert cells[2][1] == "Administrators (S-1-5-32-544)" and cells[2][2] == "0x1200a9 = read & execute (0x1200a9)"
    assert all(row[3] == "object inherit, container inherit" for row in cells)
    assert [row[4] for row in cells] == ["(D;OICI;FR;;;BU)", f"(A;OICI;FA;;;{TRUSTED_INSTALLER})", "(A;OICI;0x1200a9;;;BA)"]
    descriptor = text(dom.find("div", "sd")[0])
    assert "Owner S-1-5-21-1004336348-1177238915-682003330-4711" in descriptor
    assert "Group Domain Users (DU)" in descriptor and "protected (inherits nothing)" in descriptor
    assert '"sddl"' not in page and "{&quot;sddl" not in page  # no raw JSON dump of the evidence


def test_text_that_is_not_sddl_is_shown_as_written():
    page = page_of([host("h", finding("service_sd_blocks_writer", "service:x", sddl="D:(A;;CC;;;SY"))])
    dom = Dom(page)
    assert not dom.find("tr", "ace")
    assert "D:(A;;CC;;;SY" in text(dom.find("details", "ev")[0]) and "not parsed: invalid SDDL" in page


def test_event_lists_are_small_tables_and_values_wrap():
    lldp = finding("service_sd_blocks_writer", "service:lldpsvc", capi2_513=EVENTS, writers=["Registry Writer", "WMI Writer"])
    page = page_of([host("lldp", lldp)])
    dom = Dom(page)
    (table,) = dom.find("table", "rows")
    head, body = table["children"]
    assert [text(th) for th in head["children"][0]["children"]] == ["time_created", "detail", "system_error"]
    assert [[text(td) for td in tr["children"]] for tr in body["children"]] == [
        [e["time_created"], e["detail"], e["system_error"]] for e in EVENTS]
    assert [text(li) for li in dom.find("ul", "vl")[0]["children"]] == ["Registry Writer", "WMI Writer"]
    assert "overflow-wrap:anywhere" in page


def test_evidence_is_collapsed_and_under_its_finding():
    hosts = [host("h", finding("cryptsvc_state", "service:CryptSvc", state="stopped"),
                  finding("unquoted_spaces", "service:App", image_path="C:\\Program Files\\A\\a.exe"))]
    dom = Dom(page_of(hosts))
    evidence = dom.find("details", "ev")
    assert len(evidence) == 2 and all("open" not in e["attrs"] for e in evidence)
    assert [text(e["children"][0]) for e in evidence] == ["Evidence", "Evidence"]
    assert "stopped" in text(evidence[0]) and "C:\\Program Files\\A\\a.exe" in text(evidence[1])


# ---- hosts: order, paging, data -----------------------------------------------------------------------------

def mixed_fleet():
    return [host("a-ready"), host("b-down", assessed=False, error="unreachable: timed out"),
            host("c-broken", finding("cryptsvc_state", "service:CryptSvc")), host("d-ready"),
            host("e-broken", finding("filemaps_acl", "path:x")), host("f-waived", finding("cryptsvc_state", "s", waived=True))]


def test_hosts_not_ready_come_first_then_not_assessed_then_ready():
    page = page_of(mixed_fleet())
    static = [(e["attrs"]["id"], e["attrs"]["data-status"]) for e in Dom(page).find("details", "host")]
    assert static == [("host-c-broken", "not-ready"), ("host-e-broken", "not-ready"), ("host-b-down", "not-assessed"),
                      ("host-a-ready", "ready"), ("host-d-ready", "ready"), ("host-f-waived", "ready")]
    assert [h["s"] for h in data_block(page)["hosts"]] == [status for _id, status in static]


def test_a_large_fleet_writes_one_page_of_hosts_and_every_host_once_in_the_data():
    hosts = [host(f"h{i:04d}", *([finding("cryptsvc_state", "service:CryptSvc")] if i % 3 == 0 else [])) for i in range(300)]
    page = page_of(hosts)
    dom = Dom(page)
    assert len(dom.find("details", "host")) == PAGE
    assert dom.find("details", "host")[0]["attrs"]["id"] == "host-h0000"  # not ready first
    data = data_block(page)
    assert data["page"] == PAGE and len(data["hosts"]) == 300
    assert sorted(re.search(r'id="host-([^"]+)"', h["h"]).group(1) for h in data["hosts"]) == [h["name"] for h in hosts]
    assert "The first 50 of 300 hosts" in text(dom.find("p", id="static-note")[0])
    assert all("open" not in e["attrs"] for e in dom.find("details", "host"))  # a large fleet starts collapsed


def test_a_small_fleet_opens_its_hosts_that_are_not_ready():
    opened = {e["attrs"]["id"]: "open" in e["attrs"] for e in Dom(page_of(mixed_fleet())).find("details", "host")}
    assert opened == {"host-c-broken": True, "host-e-broken": True, "host-b-down": True, "host-a-ready": False,
                      "host-d-ready": False, "host-f-waived": False}


def test_the_filters_read_each_finding_code_severity_and_waiver():
    (entry,) = [h for h in data_block(page_of(mixed_fleet()))["hosts"] if "f-waived" in h["t"]]
    assert entry["f"] == [["cryptsvc_state", "error", 1]] and entry["s"] == "ready"
    (entry,) = [h for h in data_block(page_of(mixed_fleet()))["hosts"] if "e-broken" in h["t"]]
    assert entry["f"] == [["filemaps_acl", "critical", 0]] and "path:x" in entry["t"]


NASTY = '</script><script>alert(1)</script><!--'


def test_no_value_can_end_the_data_block_or_add_a_script():
    page = page_of([host(NASTY, finding("cryptsvc_state", NASTY, NASTY, note=NASTY))])
    assert page.count("<script") == 2 and page.count("</script>") == 2
    dom = Dom(page)
    assert len(dom.find("script")) == 2
    (entry,) = data_block(page)["hosts"]
    assert NASTY.lower() in entry["t"]
    assert "alert(1)" in text(dom.find("details", "host")[0]) and not dom.find("details", "host")[0]["children"][0][
        "children"][0]["tag"] == "script"


def test_the_only_script_that_may_run_is_the_pages_own_by_its_hash():
    page = page_of(mixed_fleet())
    dom = Dom(page)
    (policy,) = [m["attrs"]["content"] for m in dom.find("meta") if m["attrs"].get("http-equiv") == "Content-Security-Policy"]
    assert "default-src 'none'" in policy and "'unsafe-inline'" not in policy.split("script-src")[1]
    code = [data for attrs, data in dom.scripts if "type" not in attrs]
    assert len(code) == 1 and all("src" not in s["attrs"] for s in dom.find("script"))
    digest = base64.b64encode(hashlib.sha256(code[0].encode("utf-8")).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in policy


def test_without_script_the_summary_and_the_first_hosts_are_there():
    dom = Dom(page_of(mixed_fleet()))
    assert "hidden" in dom.find("form", id="filters")[0]["attrs"]  # the script shows the filters
    assert {e["attrs"]["id"] for e in dom.find("div", "card")} >= {"card-hosts", "card-not-ready"}
    assert len(dom.find("details", "host")) == 6


# ---- the run's keys -----------------------------------------------------------------------------------------

def test_a_dry_run_settings_baseline_pending_changes_and_waiver_sources_are_shown():
    run = dict(RUN, dry_run=True, baseline={"path": "old/report.json", "generated": "2026-10-01T08:00:00Z"},
               settings={"fail_on": "warning", "fail_on_origin": "extra var backupready_fail_on",
                         "waivers_files": ["examples/fleet/waivers.yml"], "fail_on_drift": True, "fail_on_new_only": True})
    hosts = [host("crypt-off", finding("cryptsvc_state", "service:CryptSvc"),
                  finding("missing_volume", "service:ClusDisk", waived=True),
                  pending_changes=[{"task": "Fix CryptSvc", "module": "win_service_state", "summary": "start CryptSvc"}],
                  waived=[{"code": "missing_volume", "subject": "service:clusdisk", "reason": "accepted", "expires": None,
                           "waiver_source": "examples/fleet/waivers.yml"}],
                  baseline={"new": [{"code": "cryptsvc_state", "subject": "service:CryptSvc"}],
                            "resolved": [{"code": "filemaps_acl", "subject": "path:C:\\Windows\\winsxs\\filemaps"}],
                            "unchanged": [{"code": "missing_volume", "subject": "service:ClusDisk"}]})]
    page = page_of(hosts, run)
    dom = Dom(page)
    assert "Dry run (check mode)" in text(dom.find("p", id="dry-run")[0])
    assert "dry run" in text(dom.find("h1")[0])
    settings_line = text(dom.find("p", id="settings")[0])
    for wanted in ("fail on warning and above (set by extra var backupready_fail_on)", "examples/fleet/waivers.yml",
                   "fails on pending changes", "fails only on findings new since the baseline",
                   "baseline old/report.json of 2026-10-01 08:00:00"):
        assert wanted in settings_line, wanted
    block = text(dom.find("details", "host")[0])
    assert "1 pending change(s)" in block and "start CryptSvc" in block and "win_service_state" in block
    assert "1 new, 1 resolved, 1 unchanged" in block and "resolved: filemaps_acl path:C:\\Windows\\winsxs\\filemaps" in block
    (new_tag,) = [t for t in dom.find("span", "new") if text(t) == "new"]
    assert new_tag in dom.find("div", "open")[0]["children"][0]["children"]  # on the new finding, not the waived one
    assert "waived: accepted examples/fleet/waivers.yml" in text(dom.find("div", "waived")[0])
    assert [o["attrs"]["value"] for o in dom.find("option") if o["attrs"]["value"] in ("pending", "new")] == ["pending", "new"]


def test_a_report_without_the_new_keys_shows_none_of_them():
    page = page_of(mixed_fleet())
    dom = Dom(page)
    assert not dom.find("p", id="dry-run") and not dom.find("p", id="settings") and "Pending changes" not in page
    assert "Since the baseline" not in page and "compared with the baseline" not in page
    assert not dom.find("select", name="extra") and "dry run" not in text(dom.find("h1")[0])


def test_report_json_renders_the_page_the_callback_writes():
    run = dict(RUN, dry_run=True, settings={"fail_on": "error", "fail_on_origin": "default", "waivers_files": [],
                                            "fail_on_drift": False, "fail_on_new_only": False}, baseline=None)
    hosts = mixed_fleet()
    summary = summary_of(hosts)
    report = {"format": "backupready.report/1", "dry_run": True, "baseline": None, "settings": run["settings"],
              "run": RUN, "hosts": hosts, "summary": summary}
    out = io.StringIO()
    write_html_from_report(out, json.loads(json.dumps(report)))
    assert out.getvalue() == page_of(hosts, run, summary)


# ---- any text ----------------------------------------------------------------------------------------------

texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)


@settings(max_examples=80, deadline=None)
@given(name=texts.filter(str.strip), subject=texts, message=texts, value=texts)
def test_any_text_stays_text(name, subject, message, value):
    hosts = [host(name, finding("filemaps_acl", subject, message, sddl=value, events=[{"detail": value}], note=value))]
    page = page_of(hosts)
    dom = Dom(page)
    assert len(dom.find("script")) == 2 and not dom.find("img") and "\x00" not in page
    (entry,) = data_block(page)["hosts"]
    assert entry["f"][0][0] == "filemaps_acl"
    assert Dom(entry["h"]).find("details", "host")[0]["attrs"]["data-status"] == "not-ready"


def test_the_policy_forbids_a_base_url_and_form_submission():
    (policy,) = [m["attrs"]["content"] for m in Dom(page_of(mixed_fleet())).find("meta")
                 if m["attrs"].get("http-equiv") == "Content-Security-Policy"]
    parts = [part.strip() for part in policy.split(";")]
    assert "base-uri 'none'" in parts and "form-action 'none'" in parts


def test_invisible_and_reordering_characters_are_named_as_on_the_console():
    name = "Win\u202eMad"
    message = f"{name}: x\ty\nz\rw\u00a0\u200b\ufeff\x00"
    page = page_of([host("h1", finding("invalid_syntax", f"service:{name}", message,
                                       writer_path="C:\\a\u200b.sys"))])
    for char in "\u202e\t\u00a0\u200b\ufeff\x00":
        assert char not in page, repr(char)
    assert "service:Win&lt;U+202E&gt;Mad" in page
    assert "x&lt;TAB&gt;y&lt;LF&gt;z&lt;CR&gt;w&lt;U+00A0&gt;&lt;U+200B&gt;&lt;U+FEFF&gt;&lt;NUL&gt;" in page
    assert "C:\\a&lt;U+200B&gt;.sys" in page
