# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet report: findings of every backupready.windows task, written as JSON, JUnit, Markdown and HTML."""

from __future__ import annotations

DOCUMENTATION = r"""
name: readiness_report
type: aggregate
author: backupready.windows developers (@backupready)
version_added: 0.2.0
short_description: Write the fleet's System State backup readiness report (JSON, JUnit XML, Markdown, HTML)
description:
  - Collects, per host, the C(findings) of every task result of a C(backupready.windows) module, keeping only
    the findings (the host state document is dropped as soon as a result arrives).
  - A finding is identified per host by its code and subject; the last task that reported it wins.
    A C(backupready.windows.win_backup_readiness_info) result without a C(codes) argument is a full assessment
    and replaces everything known about the host so far, so a finding fixed by an earlier task disappears.
  - Applies the waivers of O(waivers_file). A waived finding stays in the report, marked waived with its
    reason; an expired waiver no longer counts and the report gives the day it expired.
  - At the end of the playbook writes C(report.json), C(junit.xml), C(report.md) and C(report.html) to
    O(report_dir), and prints one line saying where.
  - It never changes the playbook's result; the C(backupready.windows.assess) playbook fails its last task
    when a host has an open finding at or above its C(fail_on).
  - The schema of C(report.json) and the JUnit mapping are in C(docs/report.md) of the collection.
requirements:
  - Enable it in C(ansible.cfg) (C(callbacks_enabled = backupready.windows.readiness_report)) or with
    E(ANSIBLE_CALLBACKS_ENABLED).
options:
  report_dir:
    description: Directory to write the report files to (created if missing), relative to the working directory.
    type: path
    default: ./backupready-report
    env:
      - name: BACKUPREADY_REPORT_DIR
    ini:
      - section: backupready
        key: report_dir
  fail_on:
    description: Severity at or above which an open finding makes a host not ready (and a JUnit failure).
    type: str
    default: error
    choices: [info, warning, error, critical]
    env:
      - name: BACKUPREADY_FAIL_ON
    ini:
      - section: backupready
        key: fail_on
  waivers_file:
    description:
      - YAML or JSON file holding a list of waivers, each with C(host) and C(code) (fnmatch patterns),
        optional C(subject) (default C(*)), a non-empty C(reason) and an optional C(expires) (YYYY-MM-DD).
      - A file that cannot be read or validated is reported, and no waiver is applied.
    type: path
    env:
      - name: BACKUPREADY_WAIVERS_FILE
    ini:
      - section: backupready
        key: waivers_file
  formats:
    description: The report files to write.
    type: list
    elements: str
    default: [json, junit, markdown, html]
    env:
      - name: BACKUPREADY_REPORT_FORMATS
    ini:
      - section: backupready
        key: formats
"""

import datetime
import os
import tempfile

from ansible import release
from ansible.plugins.callback import CallbackBase

from ansible_collections.backupready.windows.plugins.plugin_utils._findings import SEVERITIES
from ansible_collections.backupready.windows.plugins.plugin_utils._report import (
    FORMATS, FULL_ASSESSMENT_ACTION, WRITERS, FleetCollector, build_hosts, summarize)
from ansible_collections.backupready.windows.plugins.plugin_utils._waivers import WaiverError, read_waivers_file

COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def collection_version() -> str | None:
    """The version from MANIFEST.json (installed collection) or galaxy.yml (a checkout)."""
    import json  # pylint: disable=import-outside-toplevel
    import yaml  # pylint: disable=import-outside-toplevel

    try:
        with open(os.path.join(COLLECTION_ROOT, "MANIFEST.json"), encoding="utf-8") as handle:
            return str(json.load(handle)["collection_info"]["version"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    try:
        with open(os.path.join(COLLECTION_ROOT, "galaxy.yml"), encoding="utf-8") as handle:
            return str(yaml.safe_load(handle)["version"])
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        return None


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# What the report reads from a task result; the rest (the host state document above all) is never touched.
RESULT_KEYS = ("findings", "summary", "msg")


def _result_of(result) -> dict:
    """The part of a TaskResult's data that the report needs, as plain Python data.

    ansible-core 2.19 converts the whole result to native types on first access to ``result.result``: with a
    host state document in it that is ~10 ms per host. Read only the keys needed, and convert only those.
    Before 2.19, ``_result`` is a plain dict already.
    """
    raw = getattr(result, "_return_data", None)
    if not isinstance(raw, dict):
        data = getattr(result, "result", None)
        return data if isinstance(data, dict) else getattr(result, "_result", None) or {}
    small = {key: raw[key] for key in RESULT_KEYS if key in raw}
    if isinstance(raw.get("results"), list):  # a loop: the same keys of each item
        small["results"] = [{key: item[key] for key in RESULT_KEYS if key in item} if isinstance(item, dict) else item
                            for item in raw["results"]]
    try:
        from ansible.utils.vars import transform_to_native_types  # pylint: disable=import-outside-toplevel
    except ImportError:  # pragma: no cover - only 2.19+ has both _return_data and this
        return small
    return transform_to_native_types(small)


def _host_of(result) -> str:
    host = getattr(result, "host", None) or result._host  # pylint: disable=protected-access
    return host.get_name()


def _task_of(result):
    return getattr(result, "task", None) or result._task  # pylint: disable=protected-access


def _action_of(task) -> str:
    for name in ("resolved_action", "action"):
        value = getattr(task, name, None)
        if isinstance(value, str) and value:
            return value
    return ""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "backupready.windows.readiness_report"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, display=None, options=None):
        super().__init__(display=display, options=options)
        self.collector = FleetCollector()
        self.started = _now()
        self.playbook = None
        self.waivers = []
        self.waivers_error = None
        self.waivers_loaded = False

    # -- options -------------------------------------------------------------------------------------------

    def _fail_on(self) -> str:
        fail_on = str(self.get_option("fail_on") or "error").lower()
        if fail_on not in SEVERITIES:
            self._display.warning(f"backupready report: fail_on {fail_on!r} is not one of {', '.join(SEVERITIES)}; "
                                  f"using 'error'")
            return "error"
        return fail_on

    def _formats(self) -> list[str]:
        wanted = [str(f).strip().lower() for f in (self.get_option("formats") or [])]
        unknown = [f for f in wanted if f not in FORMATS]
        if unknown:
            self._display.warning(f"backupready report: unknown format(s) {', '.join(unknown)} ignored "
                                  f"(known: {', '.join(FORMATS)})")
        return [f for f in FORMATS if f in wanted]

    def _load_waivers(self) -> None:
        if self.waivers_loaded:
            return
        self.waivers_loaded = True
        path = self.get_option("waivers_file")
        if not path:
            return
        try:
            self.waivers = read_waivers_file(path, "readiness_report waivers_file")
        except WaiverError as exc:
            self.waivers_error = str(exc)
        if self.waivers_error:
            self._display.error(f"backupready report: no waiver applied: {self.waivers_error}")

    # -- events --------------------------------------------------------------------------------------------

    def v2_playbook_on_start(self, playbook):
        self.started = _now()
        self.playbook = getattr(playbook, "_file_name", None)
        self._load_waivers()

    # A host counts as "not assessed" only when it took part in a play that ran a task of this collection
    # (a host of a set-up play on localhost is not part of the fleet).
    def _close_play(self) -> None:
        if getattr(self, "_play_runs_collection", False):
            for host in sorted(self._play_hosts):
                self.collector.add_seen_host(host)
        self._play_runs_collection = False
        self._play_hosts = set()

    def v2_playbook_on_play_start(self, play):
        self._close_play()

    def v2_playbook_on_task_start(self, task, is_conditional):
        if _action_of(task).startswith("backupready.windows."):
            self._play_runs_collection = True

    def v2_playbook_on_handler_task_start(self, task):
        self.v2_playbook_on_task_start(task, False)

    def _seen(self, result) -> None:
        if not hasattr(self, "_play_hosts"):
            self._play_hosts = set()
        self._play_hosts.add(_host_of(result))

    def v2_runner_on_skipped(self, result):
        self._seen(result)

    def _collect(self, result, failed: bool) -> None:
        task = _task_of(result)
        action = _action_of(task)
        if not action.startswith("backupready.windows."):
            return
        args = getattr(task, "args", None)
        full = action == FULL_ASSESSMENT_ACTION and isinstance(args, dict) and "codes" not in args
        self.collector.add_result(_host_of(result), action, _result_of(result), failed=failed, full_assessment=full)

    def v2_runner_on_ok(self, result):
        self._seen(result)
        self._collect(result, failed=False)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._seen(result)
        self._collect(result, failed=True)

    def v2_runner_on_unreachable(self, result):
        self._seen(result)
        self.collector.add_unreachable(_host_of(result), str(_result_of(result).get("msg") or ""))

    def v2_playbook_on_stats(self, stats):
        if not self.collector.results_seen:
            self._display.display("backupready report: no backupready.windows task ran; no report written")
            return
        self._close_play()
        self._load_waivers()
        fail_on = self._fail_on()
        run = {
            "started": self.started, "finished": _now(), "playbook": self.playbook,
            "ansible_version": release.__version__, "collection_version": collection_version(), "fail_on": fail_on,
            "waivers": {"file": self.get_option("waivers_file"), "count": len(self.waivers),
                        "error": self.waivers_error},
        }
        hosts = build_hosts(self.collector.hosts.values(), fail_on, self.waivers, datetime.date.today())
        summary = summarize(hosts)
        directory = os.path.abspath(os.path.expanduser(str(self.get_option("report_dir") or "./backupready-report")))
        try:
            written = write_report(directory, self._formats(), run, hosts, summary)
        except OSError as exc:
            self._display.error(f"backupready report: could not write the report to {directory}: {exc}")
            return
        self._display.display(
            f"backupready report: {summary['hosts']} hosts, {summary['ready']} ready, {summary['not_ready']} not ready, "
            f"{summary['not_assessed']} not assessed; written to {directory} ({', '.join(written)})")


def write_report(directory: str, formats, run, hosts, summary) -> list[str]:
    """Write each format to a temporary file in ``directory``, then rename it: a reader never sees half a file."""
    os.makedirs(directory, exist_ok=True)
    written = []
    for name in formats:
        target = os.path.join(directory, FORMATS[name])
        fd, temporary = tempfile.mkstemp(prefix="." + FORMATS[name] + ".", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace", newline="\n") as handle:
                WRITERS[name](handle, run, hosts, summary)
            umask = os.umask(0o022)
            os.umask(umask)
            os.chmod(temporary, 0o666 & ~umask)  # as open() would have made it (mkstemp makes 0600)
            os.replace(temporary, target)
        except BaseException:
            if os.path.exists(temporary):
                os.unlink(temporary)
            raise
        written.append(FORMATS[name])
    return written
