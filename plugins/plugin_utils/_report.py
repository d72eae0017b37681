# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet report: what the callback collects per host, the report model, and its four writers.

1. :class:`FleetCollector` keeps, per host, the last complete assessment (its findings and how it judged them:
   fail_on, waivers, baseline), the changes pending in check mode, and why a host could not be assessed;
   everything else in a task result (the host state document above all) is dropped as soon as it arrives.
2. :func:`build_hosts` builds each host as its assessment judged it (ready, gate_passed, waived);
   :func:`summarize` counts the fleet, :func:`run_settings` and :func:`run_baseline` say how.
3. The writers (:func:`write_json`, :func:`write_junit`, :func:`write_markdown`, :func:`write_html`) write to an
   open text handle host by host: no writer builds the whole document in memory.

The schema of ``report.json`` and the JUnit mapping are documented in ``docs/report.md``.
"""

from __future__ import annotations

import datetime
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, TextIO
from xml.sax.saxutils import escape as _xml_escape

from ._display import visible as _marked
from ._findings import CODES, SEVERITIES, finding_key
from ._operations import describe
from ._waivers import EXPIRED, OPEN, WAIVED, Waiver, apply_waivers

REPORT_FORMAT = "backupready.report/1"
FINDING_KEYS = ("code", "severity", "subject", "message", "evidence", "fix", "fixable", "source")
FORMATS = {"json": "report.json", "junit": "junit.xml", "markdown": "report.md", "html": "report.html"}
COLLECTION_PREFIX = "backupready.windows."
FULL_ASSESSMENT_ACTION = "backupready.windows.win_backup_readiness_info"
# The modules whose result can be a complete assessment (``complete: true``): the assessment itself, and the
# remediation that assesses, fixes and verifies in one task (its result is the assessment of the host as it is after).
ASSESSMENT_ACTIONS = (FULL_ASSESSMENT_ACTION, "backupready.windows.win_backup_remediate")
NO_RESULT = "no backupready.windows task returned findings for this host"
MARKDOWN_HOST_LIMIT = 100  # a ticket stays readable; report.json / report.html hold every host


def severity_rank(severity: str) -> int:
    """Rank of a severity; an unknown one ranks above critical, so that it always blocks (fail safe)."""
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)


# ---------------------------------------------------------------------------------------------------------
# 1. Collecting


def slim_finding(finding: Any) -> dict[str, Any] | None:
    """The finding's reportable fields only (a new dict), or None for something that is not a finding.

    How the assessment's waivers decided it (``waived``, ``waiver_*``) is kept as the module returned it.
    """
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
    if finding.get("waived") is True:
        slim["module_waiver"] = {"reason": str(finding.get("waiver_reason") or ""),
                                 "expires": finding.get("waiver_expires"), "source": finding.get("waiver_source")}
    elif finding.get("waiver_expired"):
        slim["module_waiver_expired"] = str(finding["waiver_expired"])
    return slim


def pending_change(task_name: str, action: str, item: Mapping[str, Any]) -> dict[str, str]:
    """What a task would have changed (check mode): the operations it planned, else its message."""
    operations = item.get("operations")
    summary = ""
    if isinstance(operations, list) and operations:
        described = []
        for op in operations:
            try:
                described.append(describe(op))
            except (KeyError, TypeError, ValueError, AttributeError):
                described.append(str(op.get("op", "operation")) if isinstance(op, Mapping) else "operation")
        summary = "; ".join(described)
    if not summary:
        summary = str(item.get("msg") or "would change")
    return {"task": task_name, "module": action, "summary": summary}


@dataclass
class HostRecord:
    """What the collector keeps for one host: the last complete assessment (findings by code and subject, and
    how it was judged), the changes pending in check mode, and any failure."""

    name: str
    os: str | None = None
    assessed: bool = False
    error: str | None = None
    # as the assessment gave them: one complete assessment replaces them all, and two findings may share a code and
    # a subject (filemaps files with a bad owner, and files with bad entries), so they are not keyed
    findings: list[dict[str, Any]] = field(default_factory=list)
    ready: bool | None = None  # as the assessment decided it; None: judge from the findings
    gate_passed: bool | None = None
    fail_on: str | None = None
    settings: dict[str, Any] | None = None
    waived: list[dict[str, Any]] = field(default_factory=list)
    baseline: dict[str, Any] | None = None
    waivers_error: str | None = None
    pending_changes: list[dict[str, str]] = field(default_factory=list)


class FleetCollector:
    """Per-host assessments from task results. Holds nothing but the slimmed findings and the verdicts."""

    def __init__(self) -> None:
        self.hosts: dict[str, HostRecord] = {}
        self.results_seen = 0

    def _record(self, host: str) -> HostRecord:
        record = self.hosts.get(host)
        if record is None:
            record = self.hosts[host] = HostRecord(name=host)
        return record

    def add_result(self, host: str, action: str, result: Mapping[str, Any], failed: bool = False,
                   full_assessment: bool = False, check_mode: bool = False, task_name: str = "") -> bool:
        """Take one task result; True when it was a result of this collection.

        Only a complete assessment (``full_assessment``: win_backup_readiness_info that ran every check) says
        anything about readiness: it replaces everything known about the host. The findings of any other module
        (a fix, a rollback, an assessment of some codes only) are not a picture of the host and are not kept;
        in check mode, what such a task would change is kept as a pending change.
        A failed result leaves the host not assessed (or, after an assessment, keeps it), with the message.
        """
        if not action.startswith(COLLECTION_PREFIX):
            return False
        items = result.get("results") if isinstance(result.get("results"), list) else [result]
        taken = False
        for item in items:
            if not isinstance(item, Mapping):
                continue
            # A remediation that failed after reading the host carries the assessment of the host as it was.
            if full_assessment and isinstance(item.get("findings"), list) and (
                    not item.get("failed") or item.get("complete") is True):
                self._take(host, item)
                taken = True
            if check_mode and item.get("changed"):
                # A remediation of several concerns: one pending change per concern, named after its module.
                concerns = item.get("concerns") if isinstance(item.get("concerns"), Mapping) else None
                parts = [(f"{task_name or action} ({name})", str(part.get("module") or name), part)
                         for name, part in (concerns or {}).items() if isinstance(part, Mapping) and part.get("changed")]
                for name, module, part in parts or [(task_name or action, action.removeprefix(COLLECTION_PREFIX), item)]:
                    self._record(host).pending_changes.append(pending_change(name, module, part))
                taken = True
            if item.get("waivers_error"):
                self._record(host).waivers_error = str(item["waivers_error"])
        if failed:
            message = str(result.get("msg") or "the task failed")
            self._record(host).error = f"{action.removeprefix(COLLECTION_PREFIX)}: {message}"
            taken = True
        if taken:
            self.results_seen += 1
        return taken

    def _take(self, host: str, result: Mapping[str, Any]) -> None:
        record = self._record(host)
        record.findings = [slim for slim in (slim_finding(finding) for finding in result["findings"]) if slim is not None]
        record.assessed = True
        record.error = None  # an earlier failure of the host is superseded by this assessment
        record.ready = result["ready"] if isinstance(result.get("ready"), bool) else None
        record.gate_passed = result["gate_passed"] if isinstance(result.get("gate_passed"), bool) else None
        record.fail_on = str(result["fail_on"]) if result.get("fail_on") in SEVERITIES else None
        record.settings = dict(result["settings"]) if isinstance(result.get("settings"), Mapping) else None
        record.waived = [dict(w) for w in result.get("waived") or [] if isinstance(w, Mapping)]
        record.baseline = dict(result["baseline"]) if isinstance(result.get("baseline"), Mapping) else None
        summary = result.get("summary")
        if isinstance(summary, Mapping) and summary.get("os"):
            record.os = str(summary["os"])

    def add_unreachable(self, host: str, message: str) -> None:
        self._record(host).error = f"unreachable: {message or 'no message'}"

    def add_seen_host(self, host: str) -> None:
        """A host of a play that ran an assessment, on which no assessment reported."""
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
    fail_on: str = "error"
    gate_passed: bool | None = None  # None when not assessed
    waived: tuple[dict[str, Any], ...] = ()
    baseline: dict[str, Any] | None = None
    pending_changes: tuple[dict[str, str], ...] = ()
    # the keys of the baseline's new findings, once per host (is_new is asked for every finding)
    _new: frozenset = field(init=False, repr=False, compare=False, default=frozenset())

    def __post_init__(self) -> None:
        if self.baseline is not None:
            object.__setattr__(self, "_new", frozenset(finding_key(k) for k in self.baseline.get("new") or []))

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "assessed": self.assessed, "ready": self.ready, "os": self.os,
                "error": self.error, "fail_on": self.fail_on if self.assessed else None,
                "gate_passed": self.gate_passed, "findings": list(self.findings), "waived": list(self.waived),
                "baseline": self.baseline, "pending_changes": list(self.pending_changes)}

    @property
    def status(self) -> str:
        if not self.assessed:
            return "not assessed"
        return "ready" if self.ready else "not ready"

    def is_new(self, finding: Mapping[str, Any]) -> bool | None:
        """Whether the baseline lacks ``finding`` (None without a baseline)."""
        if self.baseline is None:
            return None
        return finding_key(finding) in self._new


def reported_finding(finding: Mapping[str, Any], waiver: Waiver | None, status: str) -> dict[str, Any]:
    module_waiver = finding.get("module_waiver")
    expired = finding.get("module_waiver_expired")
    if status == OPEN and module_waiver:
        # The assessment's own waiver decides it (the usual case: the report applies no waiver of its own).
        waiver = Waiver(host="*", code=str(finding.get("code")), subject="*", reason=module_waiver["reason"],
                        expires=datetime.date.fromisoformat(module_waiver["expires"]) if module_waiver.get("expires") else None,
                        source=str(module_waiver.get("source") or ""))
        status = WAIVED
    reported = {key: finding.get(key) for key in FINDING_KEYS}
    reported["waived"] = status == WAIVED
    reported["waiver_reason"] = waiver.reason if waiver is not None and status == WAIVED else None
    reported["waiver_expires"] = waiver.expires.isoformat() if status == WAIVED and waiver and waiver.expires else None
    reported["waiver_expired"] = (waiver.expires.isoformat() if status == EXPIRED and waiver and waiver.expires
                                  else expired if status == OPEN and expired else None)
    return reported


def is_blocking(finding: Mapping[str, Any], fail_on: str) -> bool:
    return not finding.get("waived") and severity_rank(str(finding.get("severity"))) >= severity_rank(fail_on)


def waived_entries(findings: Iterable[Mapping[str, Any]], given: Iterable[Mapping[str, Any]],
                   waivers: Iterable[Waiver] = ()) -> tuple[dict[str, Any], ...]:
    """``waived``: code, subject, reason, expires and the waiver's source of each waived finding."""
    sources = {finding_key(w): w.get("waiver_source") for w in given}
    rows = []
    for finding in findings:
        if not finding["waived"]:
            continue
        source = sources.get(finding_key(finding))
        if source is None:
            matching = next((w for w in waivers if w.reason == finding["waiver_reason"]), None)
            source = matching.source if matching is not None and matching.source else None
        rows.append({"code": finding["code"], "subject": finding["subject"], "reason": finding["waiver_reason"],
                     "expires": finding["waiver_expires"], "waiver_source": source})
    return tuple(rows)


def build_host(record: HostRecord, fail_on: str, waivers: Iterable[Waiver], today: datetime.date) -> HostReport:
    """The host as the report shows it. Readiness is what the assessment decided (its fail_on, its waivers);
    ``fail_on`` and ``waivers`` here only serve results that do not say (a caller of this library)."""
    waivers = list(waivers)
    fail_on = record.fail_on or fail_on
    decided = apply_waivers(record.name, record.findings, waivers, today)
    findings = sorted((reported_finding(*row) for row in decided),
                      key=lambda f: (f["waived"], -severity_rank(f["severity"]), f["code"], f["subject"].lower()))
    blocking = sum(1 for f in findings if is_blocking(f, fail_on))
    ready = None
    if record.assessed:
        ready = record.ready if record.ready is not None and not waivers else blocking == 0
    gate_passed = None
    if record.assessed:
        gate_passed = record.gate_passed if record.gate_passed is not None and not waivers else ready
    # A host that ran an assessment and then failed in a later task keeps its findings, with the error shown.
    return HostReport(name=record.name, assessed=record.assessed, ready=ready, os=record.os, error=record.error,
                      findings=tuple(findings), blocking=blocking, fail_on=fail_on, gate_passed=gate_passed,
                      waived=waived_entries(findings, record.waived, waivers), baseline=record.baseline,
                      pending_changes=tuple(record.pending_changes))


def build_hosts(records: Iterable[HostRecord], fail_on: str, waivers: Iterable[Waiver] = (),
                today: datetime.date | None = None) -> list[HostReport]:
    waivers = list(waivers)
    today = today or datetime.date.today()
    return sorted((build_host(r, fail_on, waivers, today) for r in records), key=lambda h: h.name.lower())


def summarize(hosts: Iterable[HostReport]) -> dict[str, Any]:
    """Fleet counts: hosts by status, findings by code (with the code's source) and by severity."""
    counts: Counter = Counter()
    by_code: dict[str, dict[str, Any]] = {}
    by_severity = {s: {"total": 0, "open": 0, "waived": 0} for s in SEVERITIES}
    for host in hosts:
        counts["hosts"] += 1
        counts[host.status] += 1
        if host.assessed and not host.gate_passed:
            counts["gate_failed"] += 1
        counts["pending_changes"] += len(host.pending_changes)
        if host.baseline is not None:
            for state in ("new", "resolved", "unchanged"):
                counts[f"baseline_{state}"] += len(host.baseline.get(state) or [])
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
        "open": counts["open"], "waived": counts["waived"], "gate_failed": counts["gate_failed"],
        "pending_changes": counts["pending_changes"],
        "baseline": {"new": counts["baseline_new"], "resolved": counts["baseline_resolved"],
                     "unchanged": counts["baseline_unchanged"]},
        "findings_by_code": dict(sorted(by_code.items(), key=lambda kv: (-kv[1]["open"], -kv[1]["total"], kv[0]))),
        "findings_by_severity": by_severity,
    }


def run_settings(hosts: Iterable[HostReport], records: Iterable[HostRecord], fallback_fail_on: str,
                 fallback_origin: str, fail_on_drift: bool) -> dict[str, Any]:
    """``settings`` of the report, from what the assessments say they used (the most common fail_on when hosts
    differ), or the shared setting when no host was assessed."""
    used = [r.settings for r in records if r.assessed and r.settings]
    fail_ons = Counter(h.fail_on for h in hosts if h.assessed)
    fail_on = fail_ons.most_common(1)[0][0] if fail_ons else fallback_fail_on
    origins = [s.get("fail_on_origin") for s in used if s.get("fail_on") == fail_on and s.get("fail_on_origin")]
    files: list[str] = []
    for settings in used:
        for path in settings.get("waivers_files") or []:
            if path not in files:
                files.append(path)
    return {
        "fail_on": fail_on,
        "fail_on_origin": Counter(origins).most_common(1)[0][0] if origins else (fallback_origin if not fail_ons else None),
        "fail_on_by_host": ({h.name: h.fail_on for h in hosts if h.assessed} if len(fail_ons) > 1 else None),
        "waivers_files": files,
        "fail_on_drift": bool(fail_on_drift),
        "fail_on_new_only": any(bool(s.get("fail_on_new_only")) for s in used),
    }


def run_baseline(records: Iterable[HostRecord]) -> dict[str, Any] | None:
    """``baseline``: the earlier report the assessments compared with (the first one named), or None."""
    for record in records:
        if record.assessed and record.baseline and record.baseline.get("path"):
            return {"path": record.baseline["path"], "generated": record.baseline.get("generated")}
    return None


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


TOP_LEVEL = ("dry_run", "baseline", "settings")  # run keys that report.json gives at its top level


def report_settings(run: Mapping[str, Any]) -> dict[str, Any]:
    """``settings`` of a run; a run built without them (a caller of this library) gets what its keys say."""
    if isinstance(run.get("settings"), Mapping):
        return dict(run["settings"])
    waivers = run.get("waivers") or {}
    return {"fail_on": run.get("fail_on", "error"), "fail_on_origin": None, "fail_on_by_host": None,
            "waivers_files": [waivers["file"]] if waivers.get("file") else [], "fail_on_drift": False,
            "fail_on_new_only": False}


def write_json(out: TextIO, run: Mapping[str, Any], hosts: Iterable[HostReport], summary: Mapping[str, Any]) -> None:
    """``report.json``: format, dry_run, baseline, settings, run, hosts (one per line, written one at a time),
    summary."""
    rest = {key: value for key, value in run.items() if key not in TOP_LEVEL}
    out.write('{"format": %s,\n"dry_run": %s,\n"baseline": %s,\n"settings": %s,\n"run": %s,\n"hosts": [' % (
        json.dumps(REPORT_FORMAT), json.dumps(bool(run.get("dry_run"))), json.dumps(run.get("baseline"), default=str),
        json.dumps(report_settings(run), default=str), json.dumps(rest, default=str)))
    for index, host in enumerate(hosts):
        out.write(",\n" if index else "\n")
        out.write(json.dumps(host.as_dict(), default=str))
    out.write('\n],\n"summary": %s}\n' % json.dumps(summary))


def _xml_text(text: Any) -> str:
    return _xml_escape(visible(text))


def _xml_attr(text: Any) -> str:
    return '"' + _xml_escape(visible(text), {'"': "&quot;", "'": "&apos;", "\n": "&#10;", "\r": "&#13;",
                                             "\t": "&#9;"}) + '"'


def _new_only(run: Mapping[str, Any]) -> bool:
    return bool(report_settings(run).get("fail_on_new_only"))


def _junit_cases(host: HostReport, fail_on: str, new_only: bool = False) -> list[tuple[str, list, list, list]]:
    """Per check code: (code, failing, other open, waived). Every known code is a test case of the host.

    ``failing`` are the open findings at or above the host's fail_on: what its gate fails on (with
    fail_on_new_only, only those the baseline did not have; the known ones are noted)."""
    cases: dict[str, tuple[list, list, list]] = {code: ([], [], []) for code in CODES}
    for finding in host.findings:
        failing, other, waived = cases.setdefault(finding["code"], ([], [], []))
        if finding["waived"]:
            waived.append(finding)
        elif is_blocking(finding, host.fail_on or fail_on) and not (new_only and host.is_new(finding) is False):
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


def _failure(failing: list[dict]) -> tuple[str, str, str]:
    """type, message and text of the one <failure> of a test case: each finding of the case in the text."""
    worst = max(failing, key=lambda f: severity_rank(f["severity"]))
    if len(failing) == 1:
        return worst["severity"], worst["message"], _finding_body(worst)
    message = f"{len(failing)} findings: " + "; ".join(f"{f['subject']}: {f['message']}" for f in failing)
    text = "\n\n".join(f"[{n}/{len(failing)}] {f['message']}\n{_finding_body(f)}" for n, f in enumerate(failing, 1))
    return worst["severity"], message, text


def _junit_counts(host: HostReport, fail_on: str, new_only: bool = False) -> tuple[int, int, int, int]:
    """tests, failures, errors, skipped of one host's test suite."""
    if not host.assessed:
        return 1, 0, 1, 0
    cases = _junit_cases(host, fail_on, new_only)
    return (len(cases), sum(1 for c in cases if c[1]), 0, sum(1 for c in cases if not c[1] and c[3]))


def write_junit(out: TextIO, run: Mapping[str, Any], hosts: list[HostReport], summary: Mapping[str, Any]) -> None:
    """``junit.xml``: a test suite per host, a test case per host and check code, one failure per test case
    holding every open finding at or above fail_on of that code (with fail_on_new_only, the new ones); waived-only
    cases are skipped, with the reasons in system-out (docs/report.md)."""
    del summary
    fail_on = run["fail_on"]
    new_only = _new_only(run)
    totals = [0, 0, 0, 0]
    for host in hosts:
        for i, n in enumerate(_junit_counts(host, fail_on, new_only)):
            totals[i] += n
    timestamp = str(run.get("finished") or "")[:19]
    out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    out.write(f'<testsuites name="backupready.windows readiness" tests="{totals[0]}" failures="{totals[1]}" '
              f'errors="{totals[2]}" skipped="{totals[3]}" time="0">\n')
    for index, host in enumerate(hosts):
        tests, failures, errors, skipped = _junit_counts(host, fail_on, new_only)
        host_fail_on = host.fail_on or fail_on
        classname = _xml_attr(f"backupready.{host.name}")
        out.write(f'  <testsuite name={_xml_attr(host.name)} id="{index}" package={classname} '
                  f'hostname={_xml_attr(host.name)} tests="{tests}" failures="{failures}" errors="{errors}" '
                  f'skipped="{skipped}" time="0" timestamp={_xml_attr(timestamp)}>\n')
        out.write(f'    <properties>\n      <property name="os" value={_xml_attr(host.os or "")}/>\n'
                  f'      <property name="fail_on" value={_xml_attr(host_fail_on)}/>\n    </properties>\n')
        if not host.assessed:
            out.write(f'    <testcase classname={classname} name="assessment" time="0">\n'
                      f'      <error type="not_assessed" message={_xml_attr("not assessed: " + (host.error or ""))}>'
                      f'{_xml_text(host.error)}</error>\n    </testcase>\n')
        else:
            for code, failing, other, waived in _junit_cases(host, fail_on, new_only):
                out.write(f'    <testcase classname={classname} name={_xml_attr(code)} time="0">')
                if not failing and not other and not waived:
                    out.write('</testcase>\n')
                    continue
                out.write("\n")
                if waived and not failing:
                    reasons = "; ".join(sorted({f["waiver_reason"] for f in waived}))
                    out.write(f'      <skipped message={_xml_attr(f"{len(waived)} finding(s) waived: {reasons}")}/>\n')
                if failing:
                    kind, message, text = _failure(failing)
                    out.write(f'      <failure type={_xml_attr(kind)} message={_xml_attr(message)}>'
                              f'{_xml_text(text)}</failure>\n')
                notes = [(f"known since the baseline ({f['severity']}): " if is_blocking(f, host_fail_on)
                          else f"below fail_on ({f['severity']}): ") + f"{f['subject']}: {f['message']}" for f in other]
                notes += [f"waived: {f['subject']}: {f['message']} -- reason: {f['waiver_reason']}"
                          + (f" (until {f['waiver_expires']})" if f.get("waiver_expires") else "") for f in waived]
                if notes:
                    out.write(f'      <system-out>{_xml_text(chr(10).join(notes))}</system-out>\n')
                out.write('    </testcase>\n')
        if host.error and host.assessed:
            out.write(f'    <system-err>{_xml_text(host.error)}</system-err>\n')
        out.write('  </testsuite>\n')
    out.write('</testsuites>\n')


_MD_SPECIAL = re.compile(r"([`*_\[\]|~<])")  # the rest is inert mid-line ('<' is escaped: '<TAB>' is tag-like)
_MD_ENTITY = re.compile(r"&(?=#?[A-Za-z0-9]+;)")  # only an '&' that would start an entity needs escaping
# A backslash escapes only ASCII punctuation (CommonMark): one before anything else is shown as it is, so a path
# in prose keeps its single backslashes when the file is read as plain text (one at the end is escaped: what
# follows, a code span, could start with punctuation).
_MD_BACKSLASH = re.compile(r"\\(?=[!-/:-@\[-`{-~]|$)")


def _md(text: Any) -> str:
    """Markdown-inert text for a table cell or a list item: no markup, no HTML, no line breaks."""
    text = _marked("" if text is None else text)  # as the console: <TAB>, <LF>, <U+202E>...
    text = _MD_BACKSLASH.sub(r"\\\\", text)
    text = _MD_ENTITY.sub("&amp;", text)
    text = _MD_SPECIAL.sub(r"\\\1", text)
    return "\\>" + text[1:] if text.startswith(">") else text  # not a block quote at the start of a list item


def _md_code(text: Any, cell: bool = False) -> str:
    """``text`` as a Markdown code span: read raw or rendered, it shows the same characters (single backslashes,
    ``<TAB>`` for a tab). The fence is one backtick longer than the longest run inside; ``cell``: inside a table,
    where ``|`` must be escaped (GFM)."""
    body = _marked("" if text is None else text, edges=True)
    if cell:
        body = body.replace("|", "\\|")
    longest = max((len(run) for run in re.findall("`+", body)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if body.startswith("`") or body.endswith("`") else ""
    return f"{fence}{pad}{body}{pad}{fence}"


# A value quoted in a sentence (``_display.quoted``): a quote that no letter precedes, up to the same quote that no
# letter follows, so an apostrophe (the host's) is not taken for one.
_QUOTED_VALUE = re.compile(r"""(?<![\w'"])('[^'\n]*'|"[^"\n]*")(?![\w])""")


def _md_text(text: Any) -> str:
    """A sentence (a message, a fix) with each quoted value in a code span and the rest Markdown-inert."""
    text = _marked("" if text is None else text)
    out, at = [], 0
    for match in _QUOTED_VALUE.finditer(text):
        out.append(_md(text[at:match.start()]) + _md_code(match.group(1)))
        at = match.end()
    out.append(_md(text[at:]))
    return "".join(out)


def _when(value: Any) -> str:
    return str(value or "?").replace("T", " ")[:19]


def _md_finding(host: HostReport, f: Mapping[str, Any]) -> str:
    expired = f" (waiver expired {_md(f['waiver_expired'])})" if f.get("waiver_expired") else ""
    new = {True: " **new**", False: " (known)", None: ""}[host.is_new(f)]
    return (f"- **{_md(f['severity'])}** {_md_code(f['code'])} {_md_code(f['subject'])}: {_md_text(f['message'])}"
            f"{expired}{new}. Fix: {_md_text(f.get('fix') or '-')}\n")


def _md_hosts(out: TextIO, title: str, hosts: list[HostReport], body) -> None:
    if not hosts:
        return
    out.write(f"## {title} ({len(hosts)})\n\n")
    for host in hosts[:MARKDOWN_HOST_LIMIT]:
        out.write(f"### {_md(host.name)}" + (f" ({_md(host.os)})" if host.os else "") + "\n\n")
        body(host)
        out.write("\n")
    if len(hosts) > MARKDOWN_HOST_LIMIT:
        rest = hosts[MARKDOWN_HOST_LIMIT:]
        out.write(f"And {len(rest)} more hosts (every host is in report.json and report.html): "
                  + ", ".join(_md(h.name) for h in rest[:50]) + (", ..." if len(rest) > 50 else "") + "\n\n")


def write_markdown(out: TextIO, run: Mapping[str, Any], hosts: list[HostReport], summary: Mapping[str, Any]) -> None:
    """``report.md``: the fleet table, the findings per code, the hosts not ready with their findings, the
    warnings of ready hosts, the waived findings with their reasons, pending changes (dry run), the baseline."""
    fail_on = run["fail_on"]
    settings = report_settings(run)
    out.write("# System State backup readiness\n\n")
    if run.get("dry_run"):
        out.write(f"**Dry run (check mode)**: nothing was changed; {summary.get('pending_changes', 0)} change(s) "
                  "pending, listed below. The findings are those of the hosts as they are now.\n\n")
    origin = f" (from {_md(settings['fail_on_origin'])})" if settings.get("fail_on_origin") else ""
    out.write(f"Run {_md(_when(run.get('finished')))} UTC, playbook {_md(run.get('playbook') or '?')}, "
              f"fail on **{_md(fail_on)}** and above{origin}, backupready.windows "
              f"{_md(run.get('collection_version') or '?')}.\n")
    if settings.get("waivers_files"):
        out.write("Waivers from " + ", ".join(_md(p) for p in settings["waivers_files"]) + ".\n")
    baseline = run.get("baseline")
    if baseline:
        gate = " The gate fails only on new findings." if settings.get("fail_on_new_only") else ""
        counts = summary.get("baseline") or {}
        out.write(f"Compared with {_md(baseline.get('path'))} (run {_md(_when(baseline.get('generated')))} UTC): "
                  f"{counts.get('new', 0)} new, {counts.get('resolved', 0)} resolved, "
                  f"{counts.get('unchanged', 0)} unchanged finding(s).{gate}\n")
    out.write("\n| Hosts | Ready | Not ready | Not assessed | Open findings | Waived |\n"
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

    def not_ready_body(host: HostReport) -> None:
        for f in host.findings:
            if not f["waived"]:
                out.write(_md_finding(host, f))
        waived = sum(1 for f in host.findings if f["waived"])
        if waived:
            out.write(f"- {waived} waived finding(s): see \"Waived findings\"\n")
        if host.error:
            out.write(f"- error: {_md(host.error)}\n")

    def open_body(host: HostReport) -> None:
        for f in host.findings:
            if not f["waived"]:
                out.write(_md_finding(host, f))

    _md_hosts(out, "Hosts not ready", [h for h in hosts if h.assessed and not h.ready], not_ready_body)
    _md_hosts(out, "Ready hosts with open findings below fail_on",
              [h for h in hosts if h.assessed and h.ready and any(not f["waived"] for f in h.findings)], open_body)
    waived_rows = [(h, f) for h in hosts for f in h.findings if f["waived"]]
    if waived_rows:
        out.write(f"## Waived findings ({len(waived_rows)})\n\n| Host | Code | Subject | Reason | Until | Waiver from |\n"
                  "|---|---|---|---|---|---|\n")
        sources = {(h.name, finding_key(w)): w.get("waiver_source") for h in hosts for w in h.waived}
        for host, f in waived_rows[:MARKDOWN_HOST_LIMIT * 10]:
            out.write(f"| {_md(host.name)} | {_md_code(f['code'])} | {_md_code(f['subject'], cell=True)} | {_md(f['waiver_reason'])} "
                      f"| {_md(f.get('waiver_expires') or '-')} | {_md(sources.get((host.name, finding_key(f))) or '-')} |\n")
        if len(waived_rows) > MARKDOWN_HOST_LIMIT * 10:
            out.write(f"\nAnd {len(waived_rows) - MARKDOWN_HOST_LIMIT * 10} more (see report.json).\n")
        out.write("\n")
    if baseline:
        def resolved_body(host: HostReport) -> None:
            for key in host.baseline.get("resolved") or []:
                out.write(f"- {_md_code(key.get('code'))} {_md_code(key.get('subject'))}\n")
        _md_hosts(out, "Resolved since the baseline",
                  [h for h in hosts if h.baseline and h.baseline.get("resolved")], resolved_body)
    if run.get("dry_run"):
        def pending_body(host: HostReport) -> None:
            for change in host.pending_changes:
                out.write(f"- {_md(change['module'])} ({_md(change['task'])}): {_md(change['summary'])}\n")
        _md_hosts(out, "Pending changes", [h for h in hosts if h.pending_changes], pending_body)
    not_assessed = [h for h in hosts if not h.assessed]
    if not_assessed:
        out.write(f"## Hosts not assessed ({len(not_assessed)})\n\n")
        for host in not_assessed[:MARKDOWN_HOST_LIMIT]:
            out.write(f"- {_md(host.name)}: {_md(host.error)}\n")
        if len(not_assessed) > MARKDOWN_HOST_LIMIT:
            out.write(f"- and {len(not_assessed) - MARKDOWN_HOST_LIMIT} more (see report.json)\n")
        out.write("\n")


from ._report_html import write_html  # noqa: E402  (report.html has its own module)

WRITERS = {"json": write_json, "junit": write_junit, "markdown": write_markdown, "html": write_html}
