# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``report.html``: the fleet report for people, one self-contained file that stays fast at thousands of hosts.

The page is written in two parts:

1. Plain HTML, readable without script: the run (dry-run banner, settings, baseline), the fleet cards, the
   findings per code, and the first :data:`PAGE` hosts (not ready first).
2. Every host once, in a data block (``<script type="application/octet-stream">``, gzip-compressed JSON in
   base64, unpacked by the browser itself): per host the few fields the filters need and its block of HTML,
   already rendered and escaped here. A small inline script (allowed by the Content-Security-Policy through its
   SHA-256 hash only; nothing else runs and nothing is loaded) searches and filters that list and draws one
   page of hosts at a time, so the browser lays out 50 hosts, not 2,000.

Evidence is rendered for people, collapsed by default: a security descriptor one ACE per line with the
trustee's name (parsed with :mod:`._sddl`), lists of events as small tables, long values wrapped.
``report.json`` keeps every field as the modules returned it.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import html
import json
import re
import zlib
from collections.abc import Mapping
from typing import Any, Iterable, TextIO

from ._display import visible
from ._findings import SEVERITIES
from ._sddl import (
    FILE_ALL_ACCESS, FILE_GENERIC_EXECUTE, FILE_GENERIC_READ, FILE_GENERIC_WRITE, FILE_READ_AND_EXECUTE,
    SID_DOMAIN_ALIASES, Acl, SddlError, parse_sddl, resolve_sid, rights_mask, sid_name)

PAGE = 50  # hosts drawn at a time (and written as plain HTML for a reader without script)
EXPAND_LIMIT = 25  # a fleet this small opens its hosts that are not ready
STATUS_ORDER = {"not ready": 0, "not assessed": 1, "ready": 2}


# As the console and report.md: every character that cannot be seen is named (``<NUL>``, ``<TAB>``, ``<LF>``,
# ``<U+00A0>``, ``<U+200B>``, ``<U+FEFF>``...), and so is a right-to-left override (``<U+202E>``), which would
# otherwise reverse the text after it. Nothing is lost silently, and nothing reorders the page.
def _text(value: Any) -> str:
    if value is None:
        return ""
    return visible(value if isinstance(value, str) else str(value))


def _h(value: Any) -> str:
    return html.escape(_text(value), quote=True)


def _code_id(code: Any) -> str:
    """A check code that wraps only after its underscores (``service_sd_<wbr>blocks_<wbr>writer``)."""
    return _h(code).replace("_", "_<wbr>")


def _when(value: Any) -> str:
    return str(value or "?").replace("T", " ")[:19]


def _severity_rank(severity: Any) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)


# ---------------------------------------------------------------------------------------------------------
# Evidence, for people

# ACE strings doc (learn.microsoft.com/windows/win32/secauthz/ace-strings): ACE types and flags.
ACE_TYPE_NAMES = {"A": "allow", "D": "deny", "OA": "allow (object)", "OD": "deny (object)", "AU": "audit",
                  "AL": "alarm", "OU": "audit (object)", "OL": "alarm (object)", "ML": "mandatory label",
                  "XA": "allow (callback)", "XD": "deny (callback)", "XU": "audit (callback)",
                  "ZA": "allow (callback object)", "RA": "resource attribute", "SP": "scoped policy",
                  "TL": "trust label", "FL": "access filter"}
ACE_FLAG_NAMES = {"OI": "object inherit", "CI": "container inherit", "NP": "no propagate", "IO": "inherit only",
                  "ID": "inherited", "SA": "audit success", "FA": "audit failure", "TP": "trust protected",
                  "CR": "critical"}
ACL_FLAG_NAMES = {"P": "protected (inherits nothing)", "AI": "auto-inherited", "AR": "auto-inherit required",
                  "NO_ACCESS_CONTROL": "NULL ACL: everyone has every right"}
FILE_RIGHTS_NAMES = {FILE_ALL_ACCESS: "full control", FILE_READ_AND_EXECUTE: "read & execute",
                     FILE_GENERIC_READ: "read", FILE_GENERIC_WRITE: "write", FILE_GENERIC_EXECUTE: "execute"}
_DOMAIN_ALIAS_NAMES = {alias: name for alias, (_rid, name) in SID_DOMAIN_ALIASES.items()}


def trustee_name(trustee: str | None) -> str:
    """``Users (S-1-5-32-545)`` for ``BU``; ``Domain Users (DU)`` for a domain-relative alias; else as written."""
    if trustee is None:
        return "not set"
    sid = resolve_sid(trustee)
    if sid:
        return sid_name(sid)
    if trustee in _DOMAIN_ALIAS_NAMES:
        return f"{_DOMAIN_ALIAS_NAMES[trustee]} ({trustee})"
    return trustee


def rights_text(rights: str) -> str:
    """The rights as written, split in letter pairs, with the mask and a name for the usual file rights."""
    try:
        mask = rights_mask(rights)
    except ValueError:
        return rights
    shown = rights if rights.lower().startswith("0x") else " ".join(rights[i:i + 2] for i in range(0, len(rights), 2))
    name = FILE_RIGHTS_NAMES.get(mask)
    return f"{shown} = {name} ({mask:#x})" if name else (shown if shown.lower().startswith("0x") else f"{shown} ({mask:#x})")


def _acl_html(label: str, acl: Acl) -> str:
    flags = ", ".join(ACL_FLAG_NAMES.get(f, f) for f in acl.flags)
    out = [f'<div class="acl"><b>{_h(label)}</b>' + (f' <span class="small">{_h(flags)}</span>' if flags else "")
           + f' <span class="small">{len(acl.aces)} ACE(s)</span>']
    if acl.aces:
        out.append('<table class="aces"><thead><tr><th>Type</th><th>Trustee</th><th>Rights</th><th>Inheritance</th>'
                   '<th>ACE</th></tr></thead><tbody>')
        for ace in acl.aces:
            kind = ACE_TYPE_NAMES.get(ace.type, ace.type)
            css = "deny" if ace.is_deny else "allow" if ace.is_allow else "other"
            flags = ", ".join(ACE_FLAG_NAMES.get(f, f) for f in ace.flags) or "this object only"
            extra = f'<div class="small">{_h(ace.extra)}</div>' if ace.extra else ""
            object_types = " ".join(g for g in (ace.object_guid, ace.inherit_object_guid) if g)
            out.append(f'<tr class="ace {css}"><td>{_h(kind)}</td><td>{_h(trustee_name(ace.trustee))}</td>'
                       f'<td>{_h(rights_text(ace.rights))}</td><td>{_h(flags)}'
                       + (f'<div class="small">object type {_h(object_types)}</div>' if object_types else "")
                       + f'</td><td><code>{_h(ace.format())}</code>{extra}</td></tr>')
        out.append('</tbody></table>')
    out.append('</div>')
    return "".join(out)


@functools.lru_cache(maxsize=1024)  # the same descriptor is often on many hosts
def sddl_html(sddl: str) -> str:
    """A security descriptor for people: owner and group by name, then each ACL one ACE per row."""
    try:
        descriptor = parse_sddl(sddl)
    except SddlError as exc:
        return f'<code class="v">{_h(sddl)}</code><div class="small">not parsed: {_h(exc)}</div>'
    out = ['<div class="sd">']
    if descriptor.owner is not None:
        out.append(f'<div><b>Owner</b> {_h(trustee_name(descriptor.owner))}</div>')
    if descriptor.group is not None:
        out.append(f'<div><b>Group</b> {_h(trustee_name(descriptor.group))}</div>')
    if descriptor.dacl is not None:
        out.append(_acl_html("DACL", descriptor.dacl))
    if descriptor.sacl is not None:
        out.append(_acl_html("SACL", descriptor.sacl))
    out.append('</div>')
    return "".join(out)


def _is_sddl(key: str, value: Any) -> bool:
    return isinstance(value, str) and "sddl" in key.lower() and value.strip() != ""


def _scalar_html(value: Any) -> str:
    if value is None:
        return '<span class="null">none</span>'
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return _h(value)
    if value == "":
        return '<span class="null">empty</span>'
    return f'<code class="v">{_h(value)}</code>'


def value_html(key: str, value: Any, depth: int = 0) -> str:
    """One evidence value: SDDL parsed, a list of records as a table, a mapping as key/value rows, else text."""
    if isinstance(value, str):  # the common case first
        return sddl_html(value) if _is_sddl(key, value) else _scalar_html(value)
    if depth > 4:  # deeper than any evidence the checks write: shown as text
        return f'<code class="v">{_h(json.dumps(value, ensure_ascii=False, default=str))}</code>'
    if isinstance(value, (dict, Mapping)):
        if not value:
            return '<span class="null">none</span>'
        return '<table class="kv">' + "".join(
            f'<tr><th>{_h(k)}</th><td>{value_html(str(k), v, depth + 1)}</td></tr>' for k, v in value.items()) + '</table>'
    if isinstance(value, (list, tuple)):
        if not value:
            return '<span class="null">none</span>'
        if all(isinstance(item, Mapping) for item in value):
            columns: list[str] = []
            for item in value:
                columns.extend(str(k) for k in item if str(k) not in columns)
            rows = "".join('<tr>' + "".join(f'<td>{value_html(c, item.get(c), depth + 1)}</td>' for c in columns)
                           + '</tr>' for item in value)
            head = "".join(f'<th>{_h(c)}</th>' for c in columns)
            return f'<table class="rows"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'
        block = any(isinstance(item, (Mapping, list, tuple)) or len(str(item)) > 40 for item in value)
        return (f'<ul class="vl{" block" if block else ""}">'
                + "".join(f'<li>{value_html(key, item, depth + 1)}</li>' for item in value) + '</ul>')
    return _scalar_html(value)


def evidence_html(evidence: Any) -> str:
    """The evidence of a finding, collapsed (``<details>``): empty evidence gives nothing."""
    if not evidence:
        return ""
    if not isinstance(evidence, Mapping):
        evidence = {"value": evidence}
    return ('<details class="ev"><summary>Evidence</summary>'
            + value_html("evidence", evidence) + '</details>')


# ---------------------------------------------------------------------------------------------------------
# One host

def _get(host: Any, key: str, default: Any = None) -> Any:
    if isinstance(host, Mapping):
        return host.get(key, default)
    return getattr(host, key, default)


def _finding_key(item: Any) -> tuple[str, str] | None:
    if isinstance(item, Mapping):
        return str(item.get("code", "")), str(item.get("subject", "")).lower()
    if isinstance(item, (list, tuple)) and len(item) >= 2:
        return str(item[-2]), str(item[-1]).lower()
    return None


def _key_text(item: Any) -> str:
    key = _finding_key(item)
    return f"{key[0]} {item.get('subject', '') if isinstance(item, Mapping) else item[-1]}" if key else str(item)


class HostView:
    """What the page shows of one host, from a :class:`HostReport` or a host of ``report.json``."""

    def __init__(self, host: Any, fail_on: str) -> None:
        self.name = str(_get(host, "name", ""))
        self.assessed = bool(_get(host, "assessed", False))
        ready = _get(host, "ready")
        self.status = "not assessed" if not self.assessed else "ready" if ready else "not ready"
        self.os = _get(host, "os")
        self.error = _get(host, "error")
        self.findings = [f for f in (_get(host, "findings") or ()) if isinstance(f, Mapping)]
        self.fail_on = _get(host, "fail_on") or fail_on
        blocking = _get(host, "blocking")
        self.blocking = blocking if isinstance(blocking, int) else sum(
            1 for f in self.findings if not f.get("waived") and _severity_rank(f.get("severity")) >= _severity_rank(self.fail_on))
        self.waived_entries = [w for w in (_get(host, "waived") or ()) if isinstance(w, Mapping)]
        self.pending = [p for p in (_get(host, "pending_changes") or ()) if isinstance(p, Mapping)]
        baseline = _get(host, "baseline")
        self.baseline = baseline if isinstance(baseline, Mapping) else None
        self.new = {k for k in map(_finding_key, (self.baseline or {}).get("new") or ()) if k}
        self.open_count = sum(1 for f in self.findings if not f.get("waived"))

    def sort_key(self) -> tuple[int, str]:
        return STATUS_ORDER[self.status], self.name.lower()

    def is_new(self, finding: Mapping[str, Any]) -> bool:
        return (str(finding.get("code", "")), str(finding.get("subject", "")).lower()) in self.new

    def search_text(self) -> str:
        parts = [self.name, self.os or "", self.error or ""]
        for f in self.findings:
            parts.extend((str(f.get("code", "")), str(f.get("subject", "")), str(f.get("message", ""))))
        return _text(" ".join(parts)).lower()

    def meta(self) -> dict[str, Any]:
        """The fields the page's filters read: status, findings as [code, severity, waived], flags."""
        return {"s": self.status.replace(" ", "-"), "t": self.search_text(),
                "f": [[str(f.get("code", "")), str(f.get("severity", "")), 1 if f.get("waived") else 0]
                      for f in self.findings],
                "p": len(self.pending), "n": sum(1 for f in self.findings if self.is_new(f))}


def _waiver_source(view: HostView, finding: Mapping[str, Any]) -> str | None:
    key = (str(finding.get("code", "")), str(finding.get("subject", "")).lower())
    for entry in view.waived_entries:
        if _finding_key(entry) == key and entry.get("waiver_source"):
            return str(entry["waiver_source"])
    return None


def finding_html(view: HostView, f: Mapping[str, Any]) -> str:
    waived = bool(f.get("waived"))
    if waived:
        source = _waiver_source(view, f)
        state = (f'waived: {_h(f.get("waiver_reason"))}'
                 + (f' (until {_h(f["waiver_expires"])})' if f.get("waiver_expires") else "")
                 + (f' <span class="small">{_h(source)}</span>' if source else ""))
    elif f.get("waiver_expired"):
        state = f'open (waiver expired {_h(f["waiver_expired"])})'
    else:
        state = "open"
    blocking = not waived and _severity_rank(f.get("severity")) >= _severity_rank(view.fail_on)
    new = ' <span class="tag new">new</span>' if view.is_new(f) else ""
    fix = f.get("fix")
    return (f'<div class="f {"waived" if waived else "open"}{" blocking" if blocking else ""}"><div class="fh">'
            f'<span class="sev {_h(f.get("severity"))}">{_h(f.get("severity"))}</span> '
            f'<code class="id">{_code_id(f.get("code"))}</code> <code class="subj">{_h(f.get("subject"))}</code>'
            f'{new} <span class="state">{state}</span></div>'
            f'<div class="msg">{_h(f.get("message"))}</div>'
            + (f'<div class="fix"><b>Fix</b> {_h(fix)}{" <i>(fixable by this collection)</i>" if f.get("fixable") else ""}'
               f'</div>' if fix else "")
            + (f'<div class="small">Source: {_h(f.get("source"))}</div>' if f.get("source") else "")
            + evidence_html(f.get("evidence")) + '</div>')


def host_html(view: HostView, expand: bool) -> str:
    status = view.status.replace(" ", "-")
    opened = " open" if expand and view.status != "ready" else ""
    if view.findings:
        counts = (f'{view.open_count} open ({view.blocking} blocking), '
                  f'{len(view.findings) - view.open_count} waived')
    else:
        counts = "no findings" if view.assessed else ""
    badges = ""
    if view.pending:
        badges += f' <span class="tag pending">{len(view.pending)} pending change(s)</span>'
    if view.baseline is not None and view.new:
        badges += f' <span class="tag new">{sum(1 for f in view.findings if view.is_new(f))} new</span>'
    out = [f'<details class="host" id="host-{_h(view.name)}" data-status="{status}"{opened}><summary>'
           f'<span class="st {status}">{_h(view.status.upper())}</span> <b>{_h(view.name)}</b> '
           f'<span class="os">{_h(view.os or "")}</span> <span class="small">{counts}</span>{badges}</summary>'
           '<div class="hb">']
    if view.error:
        out.append(f'<p class="err">{_h(view.error)}</p>')
    out.extend(finding_html(view, f) for f in view.findings)
    if not view.findings and view.assessed:
        out.append('<p>No findings.</p>')
    if view.pending:
        out.append('<div class="sub"><b>Pending changes</b> (dry run: not made)<table class="rows"><thead><tr>'
                   '<th>Task</th><th>Module</th><th>Change</th></tr></thead><tbody>'
                   + "".join(f'<tr><td>{_h(p.get("task"))}</td><td><code>{_h(p.get("module"))}</code></td>'
                             f'<td>{_h(p.get("summary"))}</td></tr>' for p in view.pending) + '</tbody></table></div>')
    if view.baseline is not None:
        resolved = list(view.baseline.get("resolved") or ())
        unchanged = len(view.baseline.get("unchanged") or ())
        line = f'{len(view.new)} new, {len(resolved)} resolved, {unchanged} unchanged'
        out.append(f'<div class="sub"><b>Since the baseline</b> {line}'
                   + ('<ul class="vl block">' + "".join(f'<li>resolved: <code>{_h(_key_text(r))}</code></li>'
                                                        for r in resolved) + '</ul>' if resolved else "") + '</div>')
    out.append('</div></details>')
    return "".join(out)


# ---------------------------------------------------------------------------------------------------------
# The page

_CSS = """
:root{--bg:#f6f7f9;--card:#fff;--ink:#1d2330;--mute:#5b6475;--line:#dde1e8;--ok:#1f7a3d;--bad:#b42318;
--crit:#7a0f0a;--warn:#a15c00;--info:#245fa8;--grey:#6b7280}
*{box-sizing:border-box}body{margin:0;background:var(--bg);color:var(--ink);
font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1200px;margin:0 auto;padding:24px}h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 10px}
.meta{color:var(--mute);margin:0 0 12px}.cards{display:grid;grid-template-columns:repeat(6,minmax(0,1fr));gap:12px}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:12px 14px}
.card b{display:block;font-size:28px;line-height:1.1}.card span{color:var(--mute);font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.card.ok b{color:var(--ok)}.card.bad b{color:var(--bad)}.card.na b{color:var(--warn)}.card.wv b{color:var(--grey)}
.banner{border-radius:8px;padding:10px 14px;margin:0 0 14px;font-weight:600}
.banner.dry{background:#fff4e0;border:2px dashed var(--warn);color:#6b3d00}
.settings{margin:0 0 14px;color:var(--mute)}.settings b{color:var(--ink);font-weight:600}
table{border-collapse:collapse;width:100%;background:var(--card);border:1px solid var(--line)}
th,td{text-align:left;padding:6px 9px;border-bottom:1px solid var(--line);vertical-align:top;overflow-wrap:anywhere}
th{background:#eef1f5;font-size:12px;text-transform:uppercase;letter-spacing:.03em;color:var(--mute);overflow-wrap:normal}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}a{color:var(--info)}
code{font:12px/1.4 ui-monospace,SFMono-Regular,Consolas,monospace;overflow-wrap:anywhere}code.id{overflow-wrap:normal}
.sev{white-space:nowrap;display:inline-block;padding:1px 7px;border-radius:10px;font-size:11px;font-weight:600;color:#fff;text-transform:uppercase}
.sev.critical{background:var(--crit)}.sev.error{background:var(--bad)}.sev.warning{background:var(--warn)}.sev.info{background:var(--info)}
.st{font-weight:600}.st.ready{color:var(--ok)}.st.not-ready{color:var(--bad)}.st.not-assessed{color:var(--warn)}
details.host{background:var(--card);border:1px solid var(--line);border-radius:8px;margin:8px 0}
details.host>summary{cursor:pointer;padding:9px 12px;list-style-position:inside;overflow-wrap:anywhere}summary .os{color:var(--mute)}
.hb{padding:0 12px 12px}.f{border-top:1px solid var(--line);padding:8px 0}.f:first-child{border-top:0}
.fh{display:flex;flex-wrap:wrap;gap:4px 8px;align-items:baseline}.fh .state{margin-left:auto;color:var(--mute)}
.f.open.blocking .fh .state{color:var(--bad);font-weight:600}.f.waived{color:var(--grey)}
.msg{margin:3px 0;overflow-wrap:anywhere}.fix{margin:3px 0;overflow-wrap:anywhere}
.tag{display:inline-block;padding:0 6px;border-radius:4px;font-size:11px;font-weight:600;border:1px solid}
.tag.new{color:var(--info);border-color:var(--info)}.tag.pending{color:var(--warn);border-color:var(--warn)}
details.ev{margin:4px 0 0}details.ev>summary{cursor:pointer;color:var(--info);font-size:12px}
details.ev[open]>summary{margin-bottom:4px}
table.kv>tbody>tr>th,table.kv>tr>th{width:11em;text-transform:none;letter-spacing:0;font-size:12px}
table.kv,table.rows,table.aces{font-size:12px}table.kv td,table.rows td,table.aces td{padding:4px 7px}
table.rows th,table.aces th{font-size:11px;padding:4px 7px}table.aces td:first-child{white-space:nowrap}
tr.ace.deny td:first-child{color:var(--bad);font-weight:600}
.sd>div{margin:2px 0}.acl{margin:6px 0}ul.vl{margin:0;padding:0;list-style:none}ul.vl>li{display:inline}
ul.vl>li+li::before{content:", "}ul.vl.block{padding-left:1.2em;list-style:disc}ul.vl.block>li{display:list-item}ul.vl.block>li+li::before{content:none}
.null{color:var(--grey);font-style:italic}.sub{margin:10px 0 0}
.err{color:var(--bad);overflow-wrap:anywhere}.small{color:var(--mute);font-size:12px}
#filters{display:flex;flex-wrap:wrap;gap:8px 12px;align-items:center;background:var(--card);border:1px solid var(--line);
border-radius:8px;padding:10px 12px;margin:0 0 8px}#filters input[type=search]{flex:1 1 16em;min-width:10em;padding:5px 8px}
#filters label{font-size:12px;color:var(--mute)}#filters select{margin-left:4px;max-width:16em}
.pager{display:flex;flex-wrap:wrap;gap:8px;align-items:center;margin:6px 0}.pager button{padding:3px 10px}
[hidden]{display:none!important}
@media (max-width:760px){.cards{grid-template-columns:repeat(3,minmax(0,1fr))}}
@media print{details{break-inside:avoid}#filters,.pager{display:none}}
"""

# The page's only script. It reads the data block, filters, pages and draws; the filters are kept in the
# address (#q=...&status=...), so a filtered view can be linked. Written here once; its hash goes in the CSP.
_SCRIPT = """
(function () {
  "use strict";
  var block = document.getElementById("report-data"), form = document.getElementById("filters");
  var list = document.getElementById("hosts"), count = document.getElementById("count");
  var prev = document.getElementById("prev"), next = document.getElementById("next");
  var fields = ["q", "status", "code", "severity", "waived", "extra"], size = +block.dataset.page;
  var hosts = [], page = 0;
  function value(name) { return form.elements[name] ? form.elements[name].value : ""; }
  function keep(h) {
    var q = value("q").trim().toLowerCase(), status = value("status"), extra = value("extra");
    var code = value("code"), severity = value("severity"), waived = value("waived");
    if (status && h.s !== status) { return false; }
    if (extra === "pending" && !h.p) { return false; }
    if (extra === "new" && !h.n) { return false; }
    if (q && q.split(/\\s+/).some(function (word) { return h.t.indexOf(word) < 0; })) { return false; }
    if (!code && !severity && !waived) { return true; }
    return h.f.some(function (f) {
      return (!code || f[0] === code) && (!severity || f[1] === severity) &&
        (!waived || (waived === "waived") === (f[2] === 1));
    });
  }
  function draw() {
    var shown = hosts.filter(keep), pages = Math.max(1, Math.ceil(shown.length / size));
    page = Math.min(Math.max(page, 0), pages - 1);
    var start = page * size, rows = shown.slice(start, start + size);
    list.innerHTML = rows.map(function (h) { return h.h; }).join("");
    count.textContent = shown.length ? "Hosts " + (start + 1) + "\\u2013" + (start + rows.length) + " of " +
      shown.length + (shown.length < hosts.length ? " (filtered from " + hosts.length + ")" : "") :
      "No host matches (of " + hosts.length + ").";
    prev.disabled = page === 0;
    next.disabled = page >= pages - 1;
    prev.hidden = next.hidden = pages === 1;
  }
  function save() {
    var parts = [];
    fields.forEach(function (name) {
      var v = value(name);
      if (v) { parts.push(name + "=" + encodeURIComponent(v)); }
    });
    if (page) { parts.push("page=" + (page + 1)); }
    history.replaceState(null, "", parts.length ? "#" + parts.join("&") : location.pathname + location.search);
  }
  function load() {
    var params = {};
    location.hash.replace(/^#/, "").split("&").forEach(function (part) {
      var at = part.indexOf("=");
      if (at > 0) {
        try { params[part.slice(0, at)] = decodeURIComponent(part.slice(at + 1)); } catch (e) { }
      }
    });
    fields.forEach(function (name) {
      if (form.elements[name]) { form.elements[name].value = params[name] || ""; }
    });
    page = (parseInt(params.page, 10) || 1) - 1;
    return Object.keys(params).length > 0;
  }
  function start(text) {
    hosts = JSON.parse(text);
    form.addEventListener("input", function () { page = 0; draw(); save(); });
    form.addEventListener("change", function () { page = 0; draw(); save(); });
    form.addEventListener("submit", function (event) { event.preventDefault(); });
    prev.addEventListener("click", function () { page -= 1; draw(); save(); list.scrollIntoView(); });
    next.addEventListener("click", function () { page += 1; draw(); save(); list.scrollIntoView(); });
    window.addEventListener("hashchange", function () {
      if (load()) { draw(); list.scrollIntoView(); }
    });
    form.hidden = false;
    document.getElementById("pager").hidden = false;
    document.getElementById("static-note").hidden = true;
    load();
    draw();
    document.documentElement.setAttribute("data-drawn-ms", performance.now().toFixed(1));
  }
  // The hosts are gzip-compressed JSON in base64: the browser unpacks them itself (DecompressionStream).
  try {
    var bytes = Uint8Array.from(atob(block.textContent.trim()), function (c) { return c.charCodeAt(0); });
    new Response(new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"))).text().then(start)
      .catch(function (error) { document.getElementById("static-note").textContent += " (" + error + ")"; });
  } catch (error) {
    document.getElementById("static-note").textContent += " (this browser cannot unpack the other hosts: " + error + ")";
  }
})();
"""

SCRIPT_HASH = "sha256-" + base64.b64encode(hashlib.sha256(_SCRIPT.encode("utf-8")).digest()).decode("ascii")
CSP = f"default-src 'none'; style-src 'unsafe-inline'; script-src '{SCRIPT_HASH}'; base-uri 'none'; form-action 'none'"


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


class _Packed:
    """Text written gzip-compressed and base64-encoded, as it comes: the hosts never sit in memory all at once."""

    def __init__(self, out: TextIO) -> None:
        self.out, self.rest = out, b""
        self.gzip = zlib.compressobj(6, zlib.DEFLATED, 31)

    def _emit(self, data: bytes, final: bool = False) -> None:
        data = self.rest + data
        cut = len(data) if final else len(data) - len(data) % 3
        self.out.write(base64.b64encode(data[:cut]).decode("ascii"))
        self.rest = data[cut:]

    def write(self, text: str) -> None:
        self._emit(self.gzip.compress(text.encode("utf-8", "backslashreplace")))

    def close(self) -> None:
        self._emit(self.gzip.flush(), final=True)


def _run_html(run: Mapping[str, Any], summary: Mapping[str, Any]) -> str:
    """The dry-run banner, the settings line and a waivers error. ``run`` carries the top-level keys of
    report.json (``dry_run``, ``settings``, ``baseline``); a report without them shows none of these."""
    out = []
    if run.get("dry_run") is True:
        pending = summary.get("pending_changes")
        out.append('<p class="banner dry" id="dry-run">Dry run (check mode): nothing was changed. The findings are '
                   'those of the hosts as they are now'
                   + (f'; {int(pending)} change(s) would be made, listed per host.' if isinstance(pending, int) else '.')
                   + '</p>\n')
    settings = run.get("settings")
    parts = []
    if isinstance(settings, Mapping):
        origin = settings.get("fail_on_origin")
        parts.append(f'fail on <b>{_h(settings.get("fail_on") or run.get("fail_on"))}</b> and above'
                     + (f' (set by {_h(origin)})' if origin else ""))
        files = [str(f) for f in settings.get("waivers_files") or ()]
        parts.append("waivers from " + ", ".join(f'<code>{_h(f)}</code>' for f in files) if files else "no waivers file")
        if settings.get("fail_on_drift"):
            parts.append("<b>fails on pending changes</b> (drift gate)")
        if settings.get("fail_on_new_only"):
            parts.append("<b>fails only on findings new since the baseline</b>")
    baseline = run.get("baseline")
    if isinstance(baseline, Mapping):
        parts.append(f'compared with the baseline <code>{_h(baseline.get("path"))}</code>'
                     + (f' of {_h(_when(baseline.get("generated")))}' if baseline.get("generated") else ""))
    if parts:
        out.append('<p class="settings" id="settings">Settings: ' + " &middot; ".join(parts) + '</p>\n')
    waivers = run.get("waivers") or {}
    if isinstance(waivers, Mapping) and waivers.get("error"):
        out.append(f'<p class="err">Waivers not applied: {_h(waivers["error"])}</p>\n')
    return "".join(out)


def _filters_html(views: list[HostView], summary: Mapping[str, Any]) -> str:
    codes = list((summary.get("findings_by_code") or {}).keys())
    code_options = "".join(f'<option value="{_h(c)}">{_h(c)}</option>' for c in codes)
    severity_options = "".join(f'<option value="{s}">{s}</option>' for s in reversed(SEVERITIES))
    extra = []
    if any(v.pending for v in views):
        extra.append('<option value="pending">with pending changes</option>')
    if any(v.new for v in views):
        extra.append('<option value="new">with new findings</option>')
    extra_select = (f'<label>Only <select name="extra"><option value="">all</option>{"".join(extra)}</select></label>'
                    if extra else "")
    return ('<form id="filters" role="search" hidden>'
            '<input type="search" name="q" placeholder="Search hosts, codes, subjects, messages" '
            'aria-label="Search hosts, codes, subjects, messages">'
            '<label>Status <select name="status"><option value="">all</option>'
            '<option value="not-ready">not ready</option><option value="not-assessed">not assessed</option>'
            '<option value="ready">ready</option></select></label>'
            f'<label>Code <select name="code"><option value="">all</option>{code_options}</select></label>'
            f'<label>Severity <select name="severity"><option value="">all</option>{severity_options}</select></label>'
            '<label>Findings <select name="waived"><option value="">open or waived</option>'
            '<option value="open">open</option><option value="waived">waived</option></select></label>'
            f'{extra_select}</form>\n')


def write_html(out: TextIO, run: Mapping[str, Any], hosts: Iterable[Any], summary: Mapping[str, Any]) -> None:
    """``report.html``: one self-contained page (inline CSS, one inline script allowed by its hash, no network).

    ``hosts``: :class:`HostReport` objects or the host mappings of ``report.json``. Each host's block is
    rendered once, written into the data block as it is made; only the first page is also written as HTML.
    """
    fail_on = str(run.get("fail_on") or "error")
    views = sorted((HostView(h, fail_on) for h in hosts), key=HostView.sort_key)
    expand = len(views) <= EXPAND_LIMIT
    out.write('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
              f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
              '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
              '<title>System State backup readiness</title>\n<style>' + _CSS + '</style>\n</head>\n<body>\n<main>\n')
    out.write('<h1>System State backup readiness' + (' &mdash; dry run' if run.get("dry_run") is True else '')
              + '</h1>\n')
    playbook = str(run.get("playbook") or "?")
    playbook_name = re.split(r"[/\\]", playbook)[-1]  # the file name; the path is its tooltip
    gate = "" if isinstance(run.get("settings"), Mapping) else f'fail on <b>{_h(fail_on)}</b> and above &middot; '
    out.write(f'<p class="meta">Run finished {_h(_when(run.get("finished")))} UTC &middot; playbook '
              f'<span title="{_h(playbook)}">{_h(playbook_name)}</span> &middot; {gate}'
              f'backupready.windows {_h(run.get("collection_version") or "?")} &middot; '
              f'ansible-core {_h(run.get("ansible_version") or "?")}</p>\n')
    out.write(_run_html(run, summary))
    cards = (("hosts", "Hosts", ""), ("ready", "Ready", "ok"), ("not_ready", "Not ready", "bad"),
             ("not_assessed", "Not assessed", "na"), ("open", "Open findings", "bad"), ("waived", "Waived", "wv"))
    out.write('<section class="cards" id="summary">\n')
    for key, label, css in cards:
        out.write(f'<div class="card {css}" id="card-{key.replace("_", "-")}"><b>{int(summary.get(key) or 0)}</b>'
                  f'<span>{label}</span></div>\n')
    out.write('</section>\n<h2>Findings by code</h2>\n')
    by_code = summary.get("findings_by_code") or {}
    if by_code:
        out.write('<table id="codes"><thead><tr><th>Code</th><th>Severity</th><th>What</th><th>Source</th>'
                  '<th class="n">Hosts</th><th class="n">Open</th><th class="n">Waived</th></tr></thead><tbody>\n')
        for code, row in by_code.items():
            out.write(f'<tr><td><a href="#code={_h(code)}"><code class="id">{_code_id(code)}</code></a></td>'
                      f'<td><span class="sev {_h(row.get("severity"))}">{_h(row.get("severity"))}</span></td>'
                      f'<td>{_h(row.get("summary"))}</td><td>{_h(row.get("source"))}</td>'
                      f'<td class="n">{int(row.get("hosts") or 0)}</td><td class="n">{int(row.get("open") or 0)}</td>'
                      f'<td class="n">{int(row.get("waived") or 0)}</td></tr>\n')
        out.write('</tbody></table>\n')
    else:
        out.write('<p>No findings.</p>\n')
    out.write(f'<h2>Hosts ({len(views)})</h2>\n')
    out.write(_filters_html(views, summary))
    out.write('<div class="pager" id="pager" hidden><button type="button" id="prev">&larr; Previous</button>'
              '<button type="button" id="next">Next &rarr;</button><span id="count" class="small"></span></div>\n')
    out.write('<div id="hosts">\n')
    first = [host_html(view, expand) for view in views[:PAGE]]
    out.write("\n".join(first) + '\n</div>\n')
    rest = len(views) - min(len(views), PAGE)
    out.write('<p class="small" id="static-note">' + (
        f'The first {PAGE} of {len(views)} hosts, not ready first. The other {rest} are shown with JavaScript on '
        'and are all in report.json.' if rest else 'Every host is shown (not ready first).') + '</p>\n')
    out.write(f'<script type="application/octet-stream" id="report-data" data-page="{PAGE}" '
              'data-encoding="gzip+base64">\n')
    packed = _Packed(out)
    packed.write("[")
    for index, view in enumerate(views):
        entry = view.meta()
        entry["h"] = first[index] if index < PAGE else host_html(view, expand)
        packed.write(("," if index else "") + "\n" + _json(entry))
    packed.write("]")
    packed.close()
    out.write('\n</script>\n<script>' + _SCRIPT + '</script>\n</main>\n</body>\n</html>\n')


def write_html_from_report(out: TextIO, report: Mapping[str, Any]) -> None:
    """``report.html`` again from a ``report.json`` (its top-level ``dry_run``, ``baseline``, ``settings`` with
    its ``run``): the same page the callback writes."""
    run = dict(report.get("run") or {})
    for key in ("dry_run", "baseline", "settings"):
        if key in report:
            run[key] = report[key]
    write_html(out, run, report.get("hosts") or [], report.get("summary") or {})
