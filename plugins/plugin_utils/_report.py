# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet report: what the callback collects per host, the report model, and its four writers.

1. :class:`FleetCollector` keeps, per host, only the findings (de-duplicated per code and subject, the last
   result winning) and why a host could not be assessed; everything else in a task result (the host state
   document above all) is dropped as soon as the result arrives.
2. :func:`build_hosts` applies the waivers and decides, per host, whether it is ready at ``fail_on``;
   :func:`summarize` counts the fleet.
3. The writers (:func:`write_json`, :func:`write_junit`, :func:`write_markdown`, :func:`write_html`) write to an
   open text handle host by host: no writer builds the whole document in memory.

The schema of ``report.json`` and the JUnit mapping are documented in ``docs/report.md``.
"""

from __future__ import annotations

import datetime
import html
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, TextIO
from xml.sax.saxutils import escape as _xml_escape

from ._findings import CODES, SEVERITIES
from ._waivers import EXPIRED, OPEN, WAIVED, Waiver, apply_waivers

REPORT_FORMAT = "backupready.report/1"
FINDING_KEYS = ("code", "severity", "subject", "message", "evidence", "fix", "fixable", "source")
FORMATS = {"json": "report.json", "junit": "junit.xml", "markdown": "report.md", "html": "report.html"}
COLLECTION_PREFIX = "backupready.windows."
FULL_ASSESSMENT_ACTION = "backupready.windows.win_backup_readiness_info"
NO_RESULT = "no backupready.windows task returned findings for this host"
MARKDOWN_HOST_LIMIT = 100  # a ticket stays readable; report.json / report.html hold every host


def severity_rank(severity: str) -> int:
    """Rank of a severity; an unknown one ranks above critical, so that it always blocks (fail safe)."""
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)


def finding_key(finding: Mapping[str, Any]) -> tuple[str, str]:
    # Subjects name Windows objects (services, paths), whose names are case-insensitive.
    return str(finding.get("code", "")), str(finding.get("subject", "")).lower()


# ---------------------------------------------------------------------------------------------------------
# 1. Collecting


def slim_finding(finding: Any) -> dict[str, Any] | None:
    """The finding's reportable fields only (a new dict), or None for something that is not a finding."""
    if not isinstance(finding, Mapping) or not isinstance(finding.get("code"), str) \
            or not isinstance(finding.get("subject"), str):
        return None
    slim = {key: finding.get(key) for key in FINDING_KEYS}
    row = CODES.get(slim["code"])
    slim["severity"] = str(slim["severity"] or (row.severity if row else "error"))
    slim["message"] = str(slim["message"] if slim["message"] is not None else "")
    slim["evidence"] = slim["evidence"] if isinstance(slim["evidence"], Mapping) else {}
    slim["fix"] = None if slim["fix"] is None else str(slim["fix"])
    slim["fixable"] = bool(slim["fixable"])
    slim["source"] = str(slim["source"] or (row.source if row else ""))
    if finding.get("waived") is True and finding.get("waiver_reason"):
        # Waived by the module itself (its ``waivers`` option): keep the decision and the reason.
        slim["module_waiver"] = {"reason": str(finding["waiver_reason"]),
                                 "expires": finding.get("waiver_expires")}
    return slim


@dataclass
class HostRecord:
    """What the collector keeps for one host: findings by (code, subject), the OS, and any failure."""

    name: str
    os: str | None = None
    assessed: bool = False
    error: str | None = None
    findings: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)


class FleetCollector:
    """Per-host findings from task results, in arrival order. Holds nothing but the slimmed findings."""

    def __init__(self) -> None:
        self.hosts: dict[str, HostRecord] = {}
        self.results_seen = 0

    def _record(self, host: str) -> HostRecord:
        record = self.hosts.get(host)
        if record is None:
            record = self.hosts[host] = HostRecord(name=host)
        return record

    def add_result(self, host: str, action: str, result: Mapping[str, Any], failed: bool = False,
                   full_assessment: bool = False) -> bool:
        """Take the findings of one task result; True when it was a result of this collection.

        ``full_assessment``: the result covers every check (win_backup_readiness_info without ``codes``), so
        it replaces every earlier finding of the host, and a finding fixed since an earlier task is gone.
        A failed result without findings leaves the host not assessed, with the failure message.
        """
        if not action.startswith(COLLECTION_PREFIX):
            return False
        items = result.get("results") if isinstance(result.get("results"), list) else [result]
        taken = False
        for item in items:
            if not isinstance(item, Mapping):
                continue
            findings = item.get("findings")
            if isinstance(findings, list):
                self._take(host, findings, item, full_assessment)
                taken = True
        if failed:
            message = str(result.get("msg") or "the task failed")
            self._record(host).error = f"{action.removeprefix(COLLECTION_PREFIX)}: {message}"
            taken = True
        if taken:
            self.results_seen += 1
        return taken

    def _take(self, host: str, findings: list, result: Mapping[str, Any], full_assessment: bool) -> None:
        record = self._record(host)
        if full_assessment:
            record.findings = {}
        for finding in findings:
            slim = slim_finding(finding)
            if slim is not None:
                record.findings.pop(finding_key(slim), None)  # re-insert: the last result is also last in order
                record.findings[finding_key(slim)] = slim
        record.assessed = True
        summary = result.get("summary")
        if isinstance(summary, Mapping) and summary.get("os"):
            record.os = str(summary["os"])

    def add_unreachable(self, host: str, message: str) -> None:
        self._record(host).error = f"unreachable: {message or 'no message'}"

    def add_seen_host(self, host: str) -> None:
        """A host of the play (from the stats) that no task of this collection reported on."""
        record = self._record(host)
        if not record.assessed and record.error is None:
            record.error = NO_RESULT


# ---------------------------------------------------------------------------------------------------------
# 2. The report model


@dataclass(frozen=True)
class HostReport:
    name: str
    assessed: bool
    ready: bool | None  # None when the host could not be assessed
    os: str | None
    error: str | None
    findings: tuple[dict[str, Any], ...]  # reported findings: the finding's fields plus waived, waiver_*
    blocking: int  # open findings at or above fail_on

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "assessed": self.assessed, "ready": self.ready, "os": self.os,
                "error": self.error, "findings": list(self.findings)}

    @property
    def status(self) -> str:
        if not self.assessed:
            return "not assessed"
        return "ready" if self.ready else "not ready"


def reported_finding(finding: Mapping[str, Any], waiver: Waiver | None, status: str) -> dict[str, Any]:
    module_waiver = finding.get("module_waiver")
    if status == OPEN and module_waiver:
        # No waiver of the report's own file decides it: the module's waiver stands.
        waiver = Waiver(host="*", code=str(finding.get("code")), subject="*", reason=module_waiver["reason"],
                        expires=datetime.date.fromisoformat(module_waiver["expires"]) if module_waiver.get("expires") else None)
        status = WAIVED
    reported = {key: finding.get(key) for key in FINDING_KEYS}
    reported["waived"] = status == WAIVED
    reported["waiver_reason"] = waiver.reason if waiver is not None and status == WAIVED else None
    reported["waiver_expires"] = waiver.expires.isoformat() if status == WAIVED and waiver and waiver.expires else None
    reported["waiver_expired"] = waiver.expires.isoformat() if status == EXPIRED and waiver and waiver.expires else None
    return reported


def is_blocking(finding: Mapping[str, Any], fail_on: str) -> bool:
    return not finding.get("waived") and severity_rank(str(finding.get("severity"))) >= severity_rank(fail_on)


def build_host(record: HostRecord, fail_on: str, waivers: Iterable[Waiver], today: datetime.date) -> HostReport:
    decided = apply_waivers(record.name, record.findings.values(), waivers, today)
    findings = sorted((reported_finding(*row) for row in decided),
                      key=lambda f: (f["waived"], -severity_rank(f["severity"]), f["code"], f["subject"].lower()))
    blocking = sum(1 for f in findings if is_blocking(f, fail_on))
    # A host that ran an assessment and then failed in a later task keeps its findings, with the error shown.
    return HostReport(name=record.name, assessed=record.assessed, ready=(blocking == 0) if record.assessed else None,
                      os=record.os, error=record.error, findings=tuple(findings), blocking=blocking)


def build_hosts(records: Iterable[HostRecord], fail_on: str, waivers: Iterable[Waiver],
                today: datetime.date) -> list[HostReport]:
    waivers = list(waivers)
    return sorted((build_host(r, fail_on, waivers, today) for r in records), key=lambda h: h.name.lower())


def summarize(hosts: Iterable[HostReport]) -> dict[str, Any]:
    """Fleet counts: hosts by status, findings by code (with the code's source) and by severity."""
    counts: Counter = Counter()
    by_code: dict[str, dict[str, Any]] = {}
    by_severity = {s: {"total": 0, "open": 0, "waived": 0} for s in SEVERITIES}
    for host in hosts:
        counts["hosts"] += 1
        counts[host.status] += 1
        for code in {f["code"] for f in host.findings}:
            _code_row(by_code, code)["hosts"] += 1
        for finding in host.findings:
            state = "waived" if finding["waived"] else "open"
            counts[state] += 1
            row = _code_row(by_code, finding["code"], finding)
            row["total"] += 1
            row[state] += 1
            severity = by_severity.setdefault(finding["severity"], {"total": 0, "open": 0, "waived": 0})
            severity["total"] += 1
            severity[state] += 1
    return {
        "hosts": counts["hosts"], "ready": counts["ready"], "not_ready": counts["not ready"],
        "not_assessed": counts["not assessed"], "findings": counts["open"] + counts["waived"],
        "open": counts["open"], "waived": counts["waived"],
        "findings_by_code": dict(sorted(by_code.items(), key=lambda kv: (-kv[1]["open"], -kv[1]["total"], kv[0]))),
        "findings_by_severity": by_severity,
    }


def _code_row(by_code: dict, code: str, finding: Mapping[str, Any] | None = None) -> dict[str, Any]:
    row = by_code.get(code)
    if row is None:
        known = CODES.get(code)
        row = by_code[code] = {
            "severity": known.severity if known else str((finding or {}).get("severity", "")),
            "summary": known.summary if known else "",
            "source": known.source if known else str((finding or {}).get("source", "")),
            "hosts": 0, "total": 0, "open": 0, "waived": 0,
        }
    return row


# ---------------------------------------------------------------------------------------------------------
# 3. Writers. Each takes the run (a dict), the hosts (built) and the summary, and writes to ``out``.

# Characters XML 1.0 cannot hold even escaped (NUL, most C0 controls, lone surrogates, U+FFFE/F); HTML turns
# NUL into U+FFFD. They are written as visible \uXXXX text instead, so nothing is lost silently.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def visible(text: Any) -> str:
    return _UNPRINTABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", "" if text is None else str(text))


def compact_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def write_json(out: TextIO, run: Mapping[str, Any], hosts: Iterable[HostReport], summary: Mapping[str, Any]) -> None:
    """``report.json``: format, run, hosts (one per line, written one at a time), summary."""
    out.write('{"format": %s,\n"run": %s,\n"hosts": [' % (json.dumps(REPORT_FORMAT), json.dumps(run, default=str)))
    for index, host in enumerate(hosts):
        out.write(",\n" if index else "\n")
        out.write(json.dumps(host.as_dict(), default=str))
    out.write('\n],\n"summary": %s}\n' % json.dumps(summary))


def _xml_text(text: Any) -> str:
    return _xml_escape(visible(text))


def _xml_attr(text: Any) -> str:
    return '"' + _xml_escape(visible(text), {'"': "&quot;", "'": "&apos;", "\n": "&#10;", "\r": "&#13;",
                                             "\t": "&#9;"}) + '"'


def _junit_cases(host: HostReport, fail_on: str) -> list[tuple[str, list[dict], list[dict], list[dict]]]:
    """Per check code: (code, failing, other open, waived). Every known code is a test case of the host."""
    cases: dict[str, tuple[list, list, list]] = {code: ([], [], []) for code in CODES}
    for finding in host.findings:
        failing, other, waived = cases.setdefault(finding["code"], ([], [], []))
        if finding["waived"]:
            waived.append(finding)
        elif is_blocking(finding, fail_on):
            failing.append(finding)
        else:
            other.append(finding)
    return [(code, *lists) for code, lists in cases.items()]


def _finding_body(finding: Mapping[str, Any]) -> str:
    lines = [f"subject: {finding['subject']}", f"severity: {finding['severity']}",
             f"evidence: {compact_json(finding.get('evidence') or {})}", f"fix: {finding.get('fix') or '-'}"
             + (" (fixable by this collection)" if finding.get("fixable") else ""),
             f"source: {finding.get('source') or '-'}"]
    if finding.get("waiver_expired"):
        lines.append(f"waiver expired on {finding['waiver_expired']}")
    return "\n".join(lines)


def _junit_counts(host: HostReport, fail_on: str) -> tuple[int, int, int, int]:
    """tests, failures, errors, skipped of one host's test suite."""
    if not host.assessed:
        return 1, 0, 1, 0
    cases = _junit_cases(host, fail_on)
    return (len(cases), sum(1 for c in cases if c[1]), 0, sum(1 for c in cases if not c[1] and c[3]))


def write_junit(out: TextIO, run: Mapping[str, Any], hosts: list[HostReport], summary: Mapping[str, Any]) -> None:
    """``junit.xml``: a test suite per host, a test case per host and check code, a failure per open finding
    at or above fail_on; waived-only cases are skipped, with the reasons in system-out (docs/report.md)."""
    del summary
    fail_on = run["fail_on"]
    totals = [0, 0, 0, 0]
    for host in hosts:
        for i, n in enumerate(_junit_counts(host, fail_on)):
            totals[i] += n
    timestamp = str(run.get("finished") or "")[:19]
    out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    out.write(f'<testsuites name="backupready.windows readiness" tests="{totals[0]}" failures="{totals[1]}" '
              f'errors="{totals[2]}" skipped="{totals[3]}" time="0">\n')
    for index, host in enumerate(hosts):
        tests, failures, errors, skipped = _junit_counts(host, fail_on)
        classname = _xml_attr(f"backupready.{host.name}")
        out.write(f'  <testsuite name={_xml_attr(host.name)} id="{index}" package={classname} '
                  f'hostname={_xml_attr(host.name)} tests="{tests}" failures="{failures}" errors="{errors}" '
                  f'skipped="{skipped}" time="0" timestamp={_xml_attr(timestamp)}>\n')
        out.write(f'    <properties>\n      <property name="os" value={_xml_attr(host.os or "")}/>\n'
                  f'      <property name="fail_on" value={_xml_attr(fail_on)}/>\n    </properties>\n')
        if not host.assessed:
            out.write(f'    <testcase classname={classname} name="assessment" time="0">\n'
                      f'      <error type="not_assessed" message={_xml_attr("not assessed: " + (host.error or ""))}>'
                      f'{_xml_text(host.error)}</error>\n    </testcase>\n')
        else:
            for code, failing, other, waived in _junit_cases(host, fail_on):
                out.write(f'    <testcase classname={classname} name={_xml_attr(code)} time="0">')
                if not failing and not other and not waived:
                    out.write('</testcase>\n')
                    continue
                out.write("\n")
                if waived and not failing:
                    reasons = "; ".join(sorted({f["waiver_reason"] for f in waived}))
                    out.write(f'      <skipped message={_xml_attr(f"{len(waived)} finding(s) waived: {reasons}")}/>\n')
                for finding in failing:
                    out.write(f'      <failure type={_xml_attr(finding["severity"])} '
                              f'message={_xml_attr(finding["message"])}>{_xml_text(_finding_body(finding))}</failure>\n')
                notes = [f"below fail_on ({f['severity']}): {f['subject']}: {f['message']}" for f in other]
                notes += [f"waived: {f['subject']}: {f['message']} -- reason: {f['waiver_reason']}"
                          + (f" (until {f['waiver_expires']})" if f.get("waiver_expires") else "") for f in waived]
                if notes:
                    out.write(f'      <system-out>{_xml_text(chr(10).join(notes))}</system-out>\n')
                out.write('    </testcase>\n')
        if host.error and host.assessed:
            out.write(f'    <system-err>{_xml_text(host.error)}</system-err>\n')
        out.write('  </testsuite>\n')
    out.write('</testsuites>\n')


_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")  # the rest is inert mid-line


def _md(text: Any) -> str:
    """Markdown-inert text for a table cell or a list item: no markup, no HTML, no line breaks."""
    text = visible(text).replace("\r\n", " ").replace("\n", " ").replace("\r", " ")
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", text)


def _md_code(text: Any) -> str:
    return "`" + visible(text).replace("`", "'").replace("\n", " ").replace("|", "\\|") + "`"


def _when(value: Any) -> str:
    return str(value or "?").replace("T", " ")[:19]


def write_markdown(out: TextIO, run: Mapping[str, Any], hosts: list[HostReport], summary: Mapping[str, Any]) -> None:
    """``report.md``: a fleet table, the findings per code, then the hosts not ready with their findings."""
    fail_on = run["fail_on"]
    out.write("# System State backup readiness\n\n")
    out.write(f"Run {_md(_when(run.get('finished')))} UTC, playbook {_md(run.get('playbook') or '?')}, "
              f"fail on **{_md(fail_on)}** and above, backupready.windows {_md(run.get('collection_version') or '?')}"
              f".\n\n")
    out.write("| Hosts | Ready | Not ready | Not assessed | Open findings | Waived |\n"
              "|---:|---:|---:|---:|---:|---:|\n")
    out.write(f"| {summary['hosts']} | {summary['ready']} | {summary['not_ready']} | {summary['not_assessed']} "
              f"| {summary['open']} | {summary['waived']} |\n\n")
    if summary["findings_by_code"]:
        out.write("## Findings by code\n\n| Code | Severity | Hosts | Open | Waived | Source |\n"
                  "|---|---|---:|---:|---:|---|\n")
        for code, row in summary["findings_by_code"].items():
            out.write(f"| {_md_code(code)} | {_md(row['severity'])} | {row['hosts']} | {row['open']} "
                      f"| {row['waived']} | {_md(row['source'])} |\n")
        out.write("\n")
    not_ready = [h for h in hosts if h.assessed and not h.ready]
    if not_ready:
        out.write(f"## Hosts not ready ({len(not_ready)})\n\n")
        for host in not_ready[:MARKDOWN_HOST_LIMIT]:
            waived = sum(1 for f in host.findings if f["waived"])
            out.write(f"### {_md(host.name)}" + (f" ({_md(host.os)})" if host.os else "") + "\n\n")
            for f in host.findings:
                if f["waived"]:
                    continue
                expired = f" (waiver expired {_md(f['waiver_expired'])})" if f.get("waiver_expired") else ""
                out.write(f"- **{_md(f['severity'])}** {_md_code(f['code'])} {_md(f['subject'])}: {_md(f['message'])}"
                          f"{expired}. Fix: {_md(f.get('fix') or '-')}\n")
            if waived:
                out.write(f"- {waived} waived finding(s): see report.html\n")
            if host.error:
                out.write(f"- error: {_md(host.error)}\n")
            out.write("\n")
        if len(not_ready) > MARKDOWN_HOST_LIMIT:
            rest = not_ready[MARKDOWN_HOST_LIMIT:]
            out.write(f"And {len(rest)} more hosts not ready (every host is in report.json and report.html): "
                      + ", ".join(_md(h.name) for h in rest[:50]) + (", ..." if len(rest) > 50 else "") + "\n\n")
    not_assessed = [h for h in hosts if not h.assessed]
    if not_assessed:
        out.write(f"## Hosts not assessed ({len(not_assessed)})\n\n")
        for host in not_assessed[:MARKDOWN_HOST_LIMIT]:
            out.write(f"- {_md(host.name)}: {_md(host.error)}\n")
        if len(not_assessed) > MARKDOWN_HOST_LIMIT:
            out.write(f"- and {len(not_assessed) - MARKDOWN_HOST_LIMIT} more (see report.json)\n")
        out.write("\n")


def _h(text: Any) -> str:
    return html.escape(visible(text), quote=True)


_CSS = """
:root{--bg:#f6f7f9;--card:#fff;--ink:#1d2330;--mute:#5b6475;--line:#dde1e8;--ok:#1f7a3d;--bad:#b42318;
--crit:#7a0f0a;--warn:#a15c00;--info:#245fa8;--grey:#6b7280}
*{box-sizing:border-box}body{margin:0;background:var(--bg);color:var(--ink);
font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1200px;margin:0 auto;padding:24px}h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 10px}
.meta{color:var(--mute);margin:0 0 18px}.cards{display:grid;grid-template-columns:repeat(6,1fr);gap:12px}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:12px 14px}
.card b{display:block;font-size:28px;line-height:1.1}.card span{color:var(--mute);font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.card.ok b{color:var(--ok)}.card.bad b{color:var(--bad)}.card.na b{color:var(--warn)}.card.wv b{color:var(--grey)}
table{border-collapse:collapse;width:100%;background:var(--card);border:1px solid var(--line)}
th,td{text-align:left;padding:6px 9px;border-bottom:1px solid var(--line);vertical-align:top}
th{background:#eef1f5;font-size:12px;text-transform:uppercase;letter-spacing:.03em;color:var(--mute)}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
code{font:12px/1.4 ui-monospace,SFMono-Regular,Consolas,monospace;overflow-wrap:anywhere}code.id{white-space:nowrap}td.subject{min-width:12em}
.sev{display:inline-block;padding:1px 7px;border-radius:10px;font-size:11px;font-weight:600;color:#fff;text-transform:uppercase}
.sev.critical{background:var(--crit)}.sev.error{background:var(--bad)}.sev.warning{background:var(--warn)}.sev.info{background:var(--info)}
.st{font-weight:600}.st.ready{color:var(--ok)}.st.not-ready{color:var(--bad)}.st.not-assessed{color:var(--warn)}
details{background:var(--card);border:1px solid var(--line);border-radius:8px;margin:8px 0}
summary{cursor:pointer;padding:9px 12px;list-style-position:inside}summary .os{color:var(--mute)}
details>div{padding:0 12px 12px}tr.waived td{color:var(--grey)}.err{color:var(--bad)}.small{color:var(--mute);font-size:12px}
@media print{details{break-inside:avoid}}
"""


def write_html(out: TextIO, run: Mapping[str, Any], hosts: list[HostReport], summary: Mapping[str, Any]) -> None:
    """``report.html``: one self-contained page (inline CSS, no script, nothing loaded from anywhere)."""
    fail_on = run["fail_on"]
    out.write('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
              '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'">\n'
              '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
              '<title>System State backup readiness</title>\n<style>' + _CSS + '</style>\n</head>\n<body>\n<main>\n')
    out.write('<h1>System State backup readiness</h1>\n')
    out.write(f'<p class="meta">Run finished {_h(_when(run.get("finished")))} UTC &middot; playbook '
              f'{_h(run.get("playbook") or "?")} &middot; fail on <b>{_h(fail_on)}</b> and above &middot; '
              f'backupready.windows {_h(run.get("collection_version") or "?")} &middot; '
              f'ansible-core {_h(run.get("ansible_version") or "?")}</p>\n')
    cards = (("hosts", "Hosts", ""), ("ready", "Ready", "ok"), ("not_ready", "Not ready", "bad"),
             ("not_assessed", "Not assessed", "na"), ("open", "Open findings", "bad"), ("waived", "Waived", "wv"))
    out.write('<section class="cards" id="summary">\n')
    for key, label, css in cards:
        out.write(f'<div class="card {css}" id="card-{key.replace("_", "-")}"><b>{int(summary[key])}</b>'
                  f'<span>{label}</span></div>\n')
    out.write('</section>\n')
    waivers = run.get("waivers") or {}
    if waivers.get("error"):
        out.write(f'<p class="err">Waivers not applied: {_h(waivers["error"])}</p>\n')
    out.write('<h2>Findings by code</h2>\n')
    if summary["findings_by_code"]:
        out.write('<table id="codes"><thead><tr><th>Code</th><th>Severity</th><th>What</th><th>Source</th>'
                  '<th class="n">Hosts</th><th class="n">Open</th><th class="n">Waived</th></tr></thead><tbody>\n')
        for code, row in summary["findings_by_code"].items():
            out.write(f'<tr><td><code class="id">{_h(code)}</code></td><td><span class="sev {_h(row["severity"])}">'
                      f'{_h(row["severity"])}</span></td><td>{_h(row["summary"])}</td><td>{_h(row["source"])}</td>'
                      f'<td class="n">{row["hosts"]}</td><td class="n">{row["open"]}</td>'
                      f'<td class="n">{row["waived"]}</td></tr>\n')
        out.write('</tbody></table>\n')
    else:
        out.write('<p>No findings.</p>\n')
    out.write('<h2>Hosts</h2>\n')
    order = {"not assessed": 0, "not ready": 1, "ready": 2}
    expand = len(hosts) <= 25
    for host in sorted(hosts, key=lambda h: (order[h.status], h.name.lower())):
        status = host.status.replace(" ", "-")
        opened = " open" if expand and host.status != "ready" else ""
        open_count = sum(1 for f in host.findings if not f["waived"])
        counts = (f'{open_count} open ({host.blocking} blocking), {len(host.findings) - open_count} waived'
                  if host.findings else ("no findings" if host.assessed else ""))
        out.write(f'<details class="host" id="host-{_h(host.name)}"{opened}><summary><span class="st {status}">'
                  f'{_h(host.status.upper())}</span> <b>{_h(host.name)}</b> <span class="os">{_h(host.os or "")}'
                  f'</span> <span class="small">{counts}</span></summary>\n<div>\n')
        if host.error:
            out.write(f'<p class="err">{_h(host.error)}</p>\n')
        if host.findings:
            out.write('<table><thead><tr><th>Severity</th><th>Code</th><th>Subject</th><th>Message</th><th>Fix</th>'
                      '<th>Status</th></tr></thead><tbody>\n')
            for f in host.findings:
                if f["waived"]:
                    state = f'waived: {_h(f["waiver_reason"])}' + (
                        f' (until {_h(f["waiver_expires"])})' if f.get("waiver_expires") else "")
                elif f.get("waiver_expired"):
                    state = f'open (waiver expired {_h(f["waiver_expired"])})'
                else:
                    state = "open"
                out.write(f'<tr class="{"waived" if f["waived"] else "open"}"><td><span class="sev {_h(f["severity"])}">'
                          f'{_h(f["severity"])}</span></td><td><code class="id">{_h(f["code"])}</code></td>'
                          f'<td class="subject"><code>{_h(f["subject"])}</code></td><td>{_h(f["message"])}<div class="small">'
                          f'evidence: <code>{_h(compact_json(f.get("evidence") or {}))}</code></div></td>'
                          f'<td>{_h(f.get("fix") or "")}{" <i>(fixable)</i>" if f.get("fixable") else ""}'
                          f'<div class="small">{_h(f.get("source") or "")}</div></td><td>{state}</td></tr>\n')
            out.write('</tbody></table>\n')
        elif host.assessed:
            out.write('<p>No findings.</p>\n')
        out.write('</div>\n</details>\n')
    out.write('</main>\n</body>\n</html>\n')


WRITERS = {"json": write_json, "junit": write_junit, "markdown": write_markdown, "html": write_html}
