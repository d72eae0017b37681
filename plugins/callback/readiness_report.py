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
  - Collects, per host, the last complete assessment, that is a C(backupready.windows.win_backup_readiness_info) result
    that ran every check (no C(codes)) and is not a state capture (C(include_state)). Only the findings and how
    they were judged are kept (the host state document is dropped as soon as a result arrives).
  - The report judges each host from what its assessment says, that is the C(fail_on) it used, the waivers it applied
    (with their reasons, end dates and source file), the baseline it compared with. It has no separate
    configuration for these, so the report and the gate of the playbook always agree. The options O(fail_on),
    O(waivers_file), O(baseline) and O(fail_on_new_only) below are read by the assessment module when its task
    does not set them.
  - Results of other modules (fixes, C(win_backup_rollback)) never make a host ready. In check mode, what they
    would change is listed per host as pending changes, and the report says it is a dry run.
  - A run in which no assessment ran (a rollback, a capture) writes nothing, so the report of the last assessment
    stays as it was.
  - At the end of the playbook prints the fleet summary (once, from every host, whatever the strategy or
    C(serial)), writes C(report.json), C(junit.xml), C(report.md) and C(report.html) to O(report_dir), and
    prints one line saying where.
  - It never changes the playbook's result; the C(backupready.windows.assess) playbook fails its last task
    when a host is not ready (or, with O(fail_on_new_only), has a new finding at or above C(fail_on)).
  - The schema of C(report.json) and the JUnit mapping are in C(docs/report.md) of the collection.
requirements:
  - Enable it in C(ansible.cfg) (C(callbacks_enabled = backupready.windows.readiness_report)) or with
    E(ANSIBLE_CALLBACKS_ENABLED).
options:
  report_dir:
    description:
      - Directory to write the report files to (created if missing). A relative path is taken from the
        working directory, or from the folder of C(ansible.cfg) when set there.
    type: path
    default: ./backupready-report
    env:
      - name: BACKUPREADY_REPORT_DIR
    ini:
      - section: backupready
        key: report_dir
  fail_on:
    description:
      - Severity at or above which an open finding makes a host not ready, for an assessment task that does not
        set its own C(fail_on) (the C(backupready.windows.assess) playbook sets it only when C(backupready_fail_on)
        is defined).
      - The report uses the C(fail_on) each assessment used, and records where it came from.
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
      - Applied by an assessment task that does not set its own C(waivers_file); a file that cannot be read or
        validated fails the assessment of every host (not assessed), and the report says why.
    type: path
    env:
      - name: BACKUPREADY_WAIVERS_FILE
    ini:
      - section: backupready
        key: waivers_file
  baseline:
    description:
      - The C(report.json) of an earlier run. Each assessment task that does not set its own C(baseline) compares
        its findings with it (key host, code, subject), and the report shows the new, resolved and unchanged findings.
    type: path
    env:
      - name: BACKUPREADY_BASELINE
    ini:
      - section: backupready
        key: baseline
  fail_on_new_only:
    description:
      - With a baseline, the gate (C(gate_passed) of the assessment) and the JUnit failures count only the findings
        the baseline did not have. Readiness itself is not changed by it.
    type: bool
    default: false
    env:
      - name: BACKUPREADY_FAIL_ON_NEW_ONLY
    ini:
      - section: backupready
        key: fail_on_new_only
  result_format:
    description:
      - The result format of the stdout callback (the same setting, C(callback_result_format)). With C(json), the
        default, a C(debug) task shows each backslash of a path doubled (JSON escaping), so the lines of the
        C(backupready.windows.readiness_lines) filter are printed a second time after it, plainly, with single
        backslashes, as Windows shows the values. With C(yaml) they are readable as printed, and not repeated.
    type: str
    default: json
    choices: [json, yaml]
    env:
      - name: ANSIBLE_CALLBACK_RESULT_FORMAT
    ini:
      - section: defaults
        key: callback_result_format
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
import json
import os
import re
import tempfile

from ansible import context, release
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.callback import CallbackBase

from ansible_collections.backupready.windows.plugins.plugin_utils._findings import SEVERITIES
from ansible_collections.backupready.windows.plugins.plugin_utils._report import (
    ASSESSMENT_ACTIONS, FORMATS, FULL_ASSESSMENT_ACTION, WRITERS, FleetCollector, build_hosts, run_baseline, run_settings, summarize)
from ansible_collections.backupready.windows.plugins.plugin_utils._display import shown
from ansible_collections.backupready.windows.plugins.plugin_utils._settings import describe_origin

COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DRIFT_VAR = "backupready_fail_on_drift"


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
RESULT_KEYS = ("findings", "summary", "msg", "ready", "gate_passed", "complete", "fail_on", "settings", "waived",
               "baseline", "waivers_error", "changed", "failed", "operations", "concerns", "phases", "lines",
               "not_ready_group", "add_group")


def _small(raw) -> dict:
    return {key: raw[key] for key in RESULT_KEYS if key in raw}


def _result_of(result) -> dict:
    """The part of a TaskResult's data that the report needs, as plain Python data.

    ansible-core 2.19 converts the whole result to native types on first access to ``result.result``: with a
    host state document in it that is ~10 ms per host. Read only the keys needed, and convert only those.
    Before 2.19, ``_result`` is a plain dict already.
    """
    raw = getattr(result, "_return_data", None)
    if not isinstance(raw, dict):
        data = getattr(result, "result", None)
        data = data if isinstance(data, dict) else getattr(result, "_result", None) or {}
        small = _small(data)
        if isinstance(data.get("results"), list):
            small["results"] = [_small(item) if isinstance(item, dict) else item for item in data["results"]]
        return small
    small = _small(raw)
    if isinstance(raw.get("results"), list):  # a loop: the same keys of each item
        small["results"] = [_small(item) if isinstance(item, dict) else item for item in raw["results"]]
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


def _task_name(task) -> str:
    try:
        name = task.get_name()
    except Exception:  # pylint: disable=broad-except  # a name is only a label
        name = None
    return str(name or _action_of(task))


def _is_capture(task) -> bool:
    """A state capture (include_state: true, the capture playbook): it reads the host, it does not assess it."""
    args = getattr(task, "args", None)
    state = args.get("include_state") if isinstance(args, dict) else None
    return state is True or (isinstance(state, str) and state.strip().lower() in ("true", "yes", "on", "1"))


def _may_assess(task) -> bool:
    """Whether a task may be a complete assessment (its result decides; a templated argument may be anything).

    Not the remediation: whether it assesses depends on the run's tags (``--tags imagepath`` fixes only), so its
    results say it (:func:`_assessed_by`)."""
    if _action_of(task) != FULL_ASSESSMENT_ACTION or _is_capture(task):
        return False
    args = getattr(task, "args", None)
    codes = args.get("codes") if isinstance(args, dict) else None
    return not (isinstance(codes, list) and codes)


def _assessed_by(action: str, result: dict, failed: bool) -> bool:
    """Whether a remediation's result is (or failed as) an assessment: complete, or failed in a run whose phases
    include one (or before it could say which)."""
    if action not in ASSESSMENT_ACTIONS or action == FULL_ASSESSMENT_ACTION:
        return False
    phases = result.get("phases")
    return result.get("complete") is True or (failed and (not isinstance(phases, list)
                                                          or bool({"assess", "verify"} & set(phases))))


def _machine_readable_stdout() -> bool:
    """Whether the run's stdout callback writes a document (``ansible.builtin.json`` and the like), which a line of
    ours before it would break (``| jq``): the lines are then left to the reports."""
    try:
        from ansible import constants as C  # pylint: disable=import-outside-toplevel

        name = str(C.config.get_config_value("DEFAULT_STDOUT_CALLBACK") or "")
    except Exception:  # pylint: disable=broad-except  # no configuration (a unit test): a console
        return False
    return name.rsplit(".", 1)[-1].endswith("json")


def _is_assessment(task, result: dict) -> bool:
    """A result that counts toward readiness: every check ran (the module says so), and it is not a capture."""
    items = result.get("results") if isinstance(result.get("results"), list) else [result]
    return not _is_capture(task) and any(isinstance(i, dict) and i.get("complete") is True for i in items)


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
        self.dry_run = False
        self.fail_on_drift = False
        self.assessment_attempted = False
        self._play_runs_assessment = False
        self._play_hosts: set[str] = set()
        self._document_stdout = _machine_readable_stdout()  # once: the stdout callback is chosen before this one

    # -- options -------------------------------------------------------------------------------------------

    def _fail_on(self) -> tuple[str, str]:
        """The shared fail_on setting, for a run in which no host was assessed (nothing else to go by)."""
        fail_on = str(self.get_option("fail_on") or "error").lower()
        try:
            _value, origin = self.get_option_and_origin("fail_on")
        except (AttributeError, KeyError):
            origin = "default"
        if fail_on not in SEVERITIES:
            self._display.warning(f"backupready report: fail_on {shown(fail_on)} is not one of {', '.join(SEVERITIES)}; "
                                  f"using 'error'")
            return "error", "default"
        return fail_on, describe_origin(origin, "fail_on")

    def _formats(self) -> list[str]:
        wanted = [str(f).strip().lower() for f in (self.get_option("formats") or [])]
        unknown = [f for f in wanted if f not in FORMATS]
        if unknown:
            self._display.warning(f"backupready report: unknown format(s) {', '.join(unknown)} ignored "
                                  f"(known: {', '.join(FORMATS)})")
        return [f for f in FORMATS if f in wanted]

    # -- events --------------------------------------------------------------------------------------------

    def v2_playbook_on_start(self, playbook):
        self.started = _now()
        self.playbook = getattr(playbook, "_file_name", None)
        self.dry_run = bool((context.CLIARGS or {}).get("check"))

    # A host counts as "not assessed" only when it took part in a play that ran an assessment task (a host of a
    # set-up play on localhost, or of a rollback play, is not part of what was assessed).
    def _close_play(self) -> None:
        if self._play_runs_assessment:
            for host in sorted(self._play_hosts):
                self.collector.add_seen_host(host)
        self._play_runs_assessment = False
        self._play_hosts = set()

    def v2_playbook_on_play_start(self, play):
        self._close_play()
        # Every host of the play, --limit applied: under serial, the hosts of a batch that never ran (an earlier
        # batch failed) are then "not assessed", not left out of the counts.
        try:
            inventory = play.get_variable_manager()._inventory  # pylint: disable=protected-access
            # ignore_restrictions: serial restricts the inventory to the running batch; --limit still applies
            self._play_hosts.update(host.name for host in inventory.get_hosts(play.hosts, ignore_restrictions=True))
        except Exception:  # pylint: disable=broad-except  # the report must not break a run; seen hosts still count
            pass
        # The drift gate of the remediate playbook (-e backupready_fail_on_drift=true): recorded in the report.
        value = None
        try:
            manager = play.get_variable_manager()
            value = (manager.extra_vars if manager is not None else {}).get(DRIFT_VAR)
        except AttributeError:
            pass
        if value is None:
            value = (getattr(play, "vars", None) or {}).get(DRIFT_VAR)
        if value is not None and not (isinstance(value, str) and "{" in value):
            try:
                self.fail_on_drift = self.fail_on_drift or boolean(value, strict=False)
            except TypeError:
                pass

    def v2_playbook_on_task_start(self, task, is_conditional):
        if _may_assess(task):
            self._play_runs_assessment = True
            self.assessment_attempted = True

    def v2_playbook_on_handler_task_start(self, task):
        self.v2_playbook_on_task_start(task, False)

    def _seen(self, result) -> None:
        self._play_hosts.add(_host_of(result))

    def v2_runner_on_skipped(self, result):
        self._seen(result)

    def _collect(self, result, failed: bool) -> dict | None:
        """Hand a result of the collection's to the report; the part of it the report reads (None for another
        module's)."""
        task = _task_of(result)
        action = _action_of(task)
        if not action.startswith("backupready.windows."):
            return None
        data = _result_of(result)
        if _assessed_by(action, data, failed):
            self._play_runs_assessment = True
            self.assessment_attempted = True
        full = action in ASSESSMENT_ACTIONS and _is_assessment(task, data)
        check_mode = self.dry_run or getattr(task, "check_mode", None) is True
        self.collector.add_result(_host_of(result), action, data, failed=failed, full_assessment=full,
                                  check_mode=check_mode, task_name=_task_name(task))
        return data

    def v2_runner_on_ok(self, result):
        self._seen(result)
        data = self._collect(result, failed=False)
        self._show_lines(result, data)
        self._show_plainly(result)

    def _show_lines(self, result, data: dict | None) -> None:
        """The lines of an assessment made for a playbook without a task per host that shows them (its result names
        the ``not_ready_group``, as the assess and remediate playbooks' do), as it arrives; not those of a host added
        to that group: the play that fails it shows them in its message."""
        if data is None or _action_of(_task_of(result)) not in ASSESSMENT_ACTIONS or self._document_stdout:
            return
        if not data.get("not_ready_group") or data.get("add_group"):
            return
        lines = data.get("lines")
        if not isinstance(lines, list) or not lines or not all(isinstance(line, str) for line in lines):
            return
        self._display.display(f"backupready [{_host_of(result)}] {lines[0]}")
        for line in lines[1:]:
            self._display.display("    " + line)

    def _show_plainly(self, result) -> None:
        """After a ``debug`` (or the playbooks' ``assert``) of ``readiness_lines``, the lines again as plain text when the stdout callback's JSON
        escaping changed them (a path's backslashes doubled): what the operator copies must be the value."""
        if _action_of(_task_of(result)) not in DEBUG_ACTIONS or self._document_stdout:
            return
        lines = plain_lines(_result_of(result).get("msg"))
        if not lines or str(self.get_option("result_format") or "json").lower() == "yaml":
            return
        self._display.display(f"backupready [{_host_of(result)}], the lines above as Windows shows the values:")
        for line in lines:
            self._display.display("    " + line)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._seen(result)
        self._collect(result, failed=True)
        self._show_plainly(result)

    def v2_runner_on_unreachable(self, result):
        self._seen(result)
        self.collector.add_unreachable(_host_of(result), str(_result_of(result).get("msg") or ""))

    def v2_playbook_on_stats(self, stats):
        self._close_play()
        directory = os.path.abspath(os.path.expanduser(str(self.get_option("report_dir") or "./backupready-report")))
        records = list(self.collector.hosts.values())
        if not self.assessment_attempted and not any(r.assessed for r in records):
            self._display.display(f"backupready report: no assessment ran in this playbook (only a complete "
                                  f"{FULL_ASSESSMENT_ACTION} or {ASSESSMENT_ACTIONS[1]} says whether a host is "
                                  f"ready); the report in "
                                  f"{directory} was left as it was")
            return
        fallback_fail_on, fallback_origin = self._fail_on()
        hosts = build_hosts(records, fallback_fail_on)
        summary = summarize(hosts)
        settings = run_settings(hosts, records, fallback_fail_on, fallback_origin, self.fail_on_drift)
        errors = [r.waivers_error for r in records if r.waivers_error]
        counts = [int((r.settings or {}).get("waivers_count") or 0) for r in records if r.assessed]
        run = {
            "started": self.started, "finished": _now(), "playbook": self.playbook,
            "ansible_version": release.__version__, "collection_version": collection_version(),
            "fail_on": settings["fail_on"],
            "waivers": {"file": (settings["waivers_files"] or [None])[0], "count": max(counts, default=0),
                        "error": errors[0] if errors else None},
            # report.json gives these three at its top level
            "dry_run": self.dry_run, "baseline": run_baseline(records), "settings": settings,
        }
        for line in fleet_lines(run, hosts, summary):
            self._display.display(line)
        try:
            written = write_report(directory, self._formats(), run, hosts, summary)
        except OSError as exc:
            self._display.error(f"backupready report: could not write the report to {directory}: {exc}")
            return
        self._display.display(
            f"backupready report: {summary['hosts']} hosts, {summary['ready']} ready, {summary['not_ready']} not ready, "
            f"{summary['not_assessed']} not assessed; written to {directory} ({', '.join(written)})")


# The tasks that show a host's lines: a debug, or the playbooks' assert that shows them and is the gate.
DEBUG_ACTIONS = ("debug", "ansible.builtin.debug", "ansible.legacy.debug", "assert", "ansible.builtin.assert",
                 "ansible.legacy.assert", "fail", "ansible.builtin.fail", "ansible.legacy.fail")
_HEADLINE = re.compile(r"(?:READY|NOT READY|NOT ASSESSED): ")  # the first line of readiness_lines


def plain_lines(msg) -> list[str]:
    """The lines of a ``readiness_lines`` message whose JSON form differs from the text (a backslash, a double quote),
    all of them; ``[]`` when the message is not such lines or JSON shows them as they are."""
    multiline = isinstance(msg, str) and "\n" in msg
    if isinstance(msg, str):
        msg = msg.split("\n")  # a failed gate: its reason, then the lines, in one message
    if not isinstance(msg, list) or not msg or not all(isinstance(line, str) for line in msg):
        return []
    if not any(_HEADLINE.match(line) for line in msg[:2]):  # a failed gate puts its reason first
        return []
    if not multiline and all(json.dumps(line, ensure_ascii=False)[1:-1] == line for line in msg):
        return []  # (a message of several lines in one string always differs: JSON shows its line breaks as \n)
    return list(msg)


def fleet_lines(run, hosts, summary) -> list[str]:
    """The fleet summary printed once at the end of the run, from every host."""
    lines = [("backupready fleet (dry run, check mode): " if run.get("dry_run") else "backupready fleet: ")
             + f"{summary['hosts']} hosts, {summary['ready']} ready, {summary['not_ready']} not ready, "
             f"{summary['not_assessed']} not assessed (fail on {run['fail_on']} and above)"]
    not_ready = [h.name for h in hosts if h.assessed and not h.ready]
    if not_ready:
        lines.append("  not ready: " + ", ".join(not_ready))
    not_assessed = [h.name for h in hosts if not h.assessed]
    if not_assessed:
        lines.append("  not assessed: " + ", ".join(not_assessed))
    by_code = {code: row["open"] for code, row in summary["findings_by_code"].items() if row["open"]}
    if by_code:
        lines.append("  open findings by code: " + ", ".join(f"{code} {n}" for code, n in by_code.items()))
    if summary["waived"]:
        lines.append(f"  waived findings: {summary['waived']}")
    if run.get("baseline"):
        base = summary["baseline"]
        lines.append(f"  compared with {run['baseline']['path']}: {base['new']} new, {base['resolved']} resolved, "
                     f"{base['unchanged']} unchanged" + ("; the gate fails only on new findings"
                                                         if run["settings"].get("fail_on_new_only") else ""))
    if run.get("dry_run"):
        pending = [h for h in hosts if h.pending_changes]
        lines.append(f"  pending changes: {summary['pending_changes']} on {len(pending)} host(s)"
                     + (": " + ", ".join(h.name for h in pending) if pending else ""))
    return lines


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
