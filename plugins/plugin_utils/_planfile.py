# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The reviewed plan: apply exactly what a change board approved, or refuse and say what changed.

A ``--check --diff`` run reviewed in a change window is not, by itself, what the real run applies: a real run
plans again from the host as it is then. With the variable ``backupready_plan_dir`` (a folder on the
controller) the two runs are tied together:

* in check mode, every writing task records, in ``<plan_dir>/<host>.json``, the operations it would apply
  (none is recorded too: "nothing may change here");
* in a real run, every writing task compares the operations it plans now with the recorded ones and refuses,
  writing nothing, when they differ (the message names the task, the operation and the value then and now),
  when the host or the task has no recorded plan, or when the plan was made for another host.

The operations applied are always the ones planned now from the host; the file only says whether they may
be. A task is found again by its name (with its role) and its module, so the same playbook run again with
the same variables finds the same entries; give two tasks of one playbook two names.

Plan file, format ``backupready.plan/1`` (JSON, UTF-8, one per host)::

    {"format": "backupready.plan/1", "host": "fs01", "host_name": "FS01",
     "tasks": {"<role> : <task name> (<module>)": {"recorded": "2026-11-30T10:15:00+00:00",
                                                   "operations": [...]}}}

``host`` is the inventory host name, ``host_name`` the name the host (or its snapshot) reports. The top of
this file is pure (build, check, compare, explain); :func:`follow_reviewed_plan` at the bottom reads and
writes the file.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime, timezone
from typing import Any, Callable
from urllib.parse import quote

from ._backend import write_atomically
from ._display import shown

PLAN_DIR_VAR = "backupready_plan_dir"
PLAN_FORMAT = "backupready.plan/1"
SHOWN_CHARACTERS = 160  # longer values are cut in messages (an ImagePath, an SDDL, a list of file names)

RECORDED = "recorded"
MATCHED = "matched"


class PlanFileError(ValueError):
    """The reviewed plan refuses this task, or cannot be read or written; the message says which and why."""


# ---------------------------------------------------------------------------------------------------
# Naming: which file, which entry
# ---------------------------------------------------------------------------------------------------

def plan_path(plan_dir: str, host: str) -> str:
    """The plan file of ``host`` in ``plan_dir``: the host name percent-encoded, so no name leaves the folder."""
    return os.path.join(plan_dir, quote(host, safe="") + ".json")


def task_key(task: Any, task_vars: dict) -> str:
    """How a task is found again: ``<role> : <name> (<module>)``, plus the loop item when the task loops.

    ``task`` is the Ansible task (``get_name()``, ``resolved_action`` or ``action``).
    """
    module = getattr(task, "resolved_action", None) or task.action
    key = f"{task.get_name()} ({module})"
    loop_var = task_vars.get("ansible_loop_var")
    if loop_var and loop_var in task_vars:
        item = json.dumps(task_vars[loop_var], sort_keys=True, default=str, ensure_ascii=True)
        if len(item) > 60:
            item = "sha256:" + hashlib.sha256(item.encode("utf-8")).hexdigest()[:16]
        key += f" [{loop_var}={item}]"
    return key


# ---------------------------------------------------------------------------------------------------
# The document
# ---------------------------------------------------------------------------------------------------

def as_json_data(operations: list[dict]) -> list[dict]:
    """Operations as they read back from the file (tuples become lists), for an exact comparison."""
    return json.loads(json.dumps(operations, ensure_ascii=False))


def new_plan(host: str, host_name: str | None) -> dict:
    return {"format": PLAN_FORMAT, "host": host, "host_name": host_name, "tasks": {}}


def check_plan(doc: Any, source: str) -> dict:
    """``doc`` when it is a plan document, else a PlanFileError naming ``source`` and the field."""
    def wrong(field: str, problem: str) -> PlanFileError:
        return PlanFileError(f"{source}: field '{field}': {problem}" if field else f"{source}: {problem}")

    if not isinstance(doc, dict):
        raise wrong("", f"expected a JSON object (a {PLAN_FORMAT} document), got {type(doc).__name__}")
    if doc.get("format") != PLAN_FORMAT:
        raise wrong("format", f"expected {PLAN_FORMAT!r}: this is not a backupready plan file")
    if not isinstance(doc.get("host"), str):
        raise wrong("host", "expected the inventory host name (a string)")
    if doc.get("host_name") is not None and not isinstance(doc["host_name"], str):
        raise wrong("host_name", "expected a string or null")
    if not isinstance(doc.get("tasks"), dict):
        raise wrong("tasks", "expected an object (task -> recorded operations)")
    for key, entry in doc["tasks"].items():
        field = f"tasks[{json.dumps(key)}]"
        if not isinstance(entry, dict):
            raise wrong(field, "expected an object")
        operations = entry.get("operations")
        if not isinstance(operations, list) or not all(isinstance(op, dict) for op in operations):
            raise wrong(f"{field}.operations", "expected a list of operations (objects)")
    return doc


def record_task(doc: dict | None, host: str, host_name: str | None, key: str, operations: list[dict],
                recorded: str, source: str) -> dict:
    """The plan ``doc`` (or a new one) with the entry of task ``key`` set to ``operations`` (a copy)."""
    plan = new_plan(host, host_name) if doc is None else json.loads(json.dumps(doc))
    if plan["host"] != host:
        raise PlanFileError(f"{source} is the plan of host {show(plan['host'])}, not of {show(host)}: nothing recorded")
    plan["host_name"] = host_name
    plan["tasks"][key] = {"recorded": recorded, "operations": as_json_data(operations)}
    return plan


# ---------------------------------------------------------------------------------------------------
# Comparing, and saying what differs
# ---------------------------------------------------------------------------------------------------

def show(value: Any) -> str:
    """A value on one line as ``_display`` shows it (single backslashes, a NUL as ``<NUL>``), long strings cut."""
    if isinstance(value, dict) and set(value) == {"kind", "data"}:
        return f"{value['kind']} {show(value['data'])}"
    if isinstance(value, dict):
        value = dict(sorted(value.items()))
    text = shown(value, limit=SHOWN_CHARACTERS)
    if isinstance(value, str) and len(value) > SHOWN_CHARACTERS:
        text += f" ({len(value)} characters)"
    return text


def subject(op: dict) -> str:
    """What an operation changes, in the words of the diff (a registry value, a service, a folder)."""
    kind = op.get("op")
    if kind == "registry_value":
        return f"{op.get('key')}\\{op.get('name')}"
    if kind in ("service_start_mode", "service_state", "service_security"):
        return f"service {op.get('service')} ({str(kind).replace('service_', '').replace('_', ' ')})"
    if kind == "path_security":
        return f"{op.get('path')} ({op.get('target')} security)"
    return f"operation {show(kind)}"


_FIELD_WORDS = {"expect": "the value it replaces", "set": "the value it writes", "names": "the files it rewrites"}


def compare_operations(reviewed: list[dict], now: list[dict]) -> list[str]:
    """What differs between the reviewed operations and those planned now (empty: the same, in order).

    Operations are paired by what they change; each difference names the operation (its place in the list
    planned now, or in the reviewed one) and the value in the reviewed plan and now.
    """
    now = as_json_data(now)
    if reviewed == now:
        return []
    problems: list[str] = []
    left = list(enumerate(reviewed, 1))
    for number, op in enumerate(now, 1):
        pair = next((item for item in left if subject(item[1]) == subject(op)), None)
        if pair is None:
            problems.append(f"operation {number} ({subject(op)}) is not in the reviewed plan: it would write "
                            f"{show(op.get('set'))} where {show(op.get('expect'))} is")
            continue
        left.remove(pair)
        for field in sorted(set(pair[1]) | set(op), key=lambda f: (f not in _FIELD_WORDS, f)):
            if pair[1].get(field) != op.get(field):
                words = _FIELD_WORDS.get(field, f"its field '{field}'")
                problems.append(f"operation {number} ({subject(op)}): {words} was {show(pair[1].get(field))} "
                                f"in the reviewed plan, is {show(op.get(field))} now")
    for number, op in left:
        problems.append(f"operation {number} of the reviewed plan ({subject(op)}) is not planned now")
    return problems or ["the same operations are planned in another order"]


def refusal(doc: dict | None, source: str, host: str, host_name: str | None, key: str,
            operations: list[dict]) -> str | None:
    """Why the real run of task ``key`` on ``host`` must not apply ``operations`` under this plan (None: it may)."""
    if doc is None:
        return (f"{key}: no reviewed plan for {host}: {source} does not exist (make it with --check and "
                f"{PLAN_DIR_VAR}); nothing was changed")
    if doc["host"] != host:
        return f"{key}: {source} is the reviewed plan of host {show(doc['host'])}, not of {show(host)}; nothing was changed"
    if doc.get("host_name") != host_name:
        return (f"{key}: {source} was made for a host named {show(doc.get('host_name'))}, this host reports "
                f"{show(host_name)}; nothing was changed")
    entry = doc["tasks"].get(key)
    if entry is None:
        return (f"{key}: this task is not in the reviewed plan {source} ({len(doc['tasks'])} task(s) recorded; "
                "a task is found by its name, role and module); nothing was changed")
    problems = compare_operations(entry["operations"], operations)
    if not problems:
        return None
    if not entry["operations"]:
        problems.insert(0, "the reviewed plan changes nothing here")
    return f"{key}: not the reviewed plan ({source}, recorded {entry.get('recorded')}); nothing was changed: " + \
        "; ".join(problems)


# ---------------------------------------------------------------------------------------------------
# The file (the only part that reads or writes)
# ---------------------------------------------------------------------------------------------------

def read_plan(path: str) -> dict | None:
    """The plan document at ``path``; None when there is no file."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise PlanFileError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    try:
        doc = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise PlanFileError(f"{path}: not UTF-8 text (byte {exc.start}): not a plan file") from None
    except json.JSONDecodeError as exc:
        raise PlanFileError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    except (ValueError, RecursionError) as exc:
        raise PlanFileError(f"{path}: not a plan file ({type(exc).__name__})") from None
    return check_plan(doc, path)


def write_plan(path: str, doc: dict) -> None:
    """Write ``doc`` beside ``path`` and rename it over: a reader sees the old plan or the new one."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    write_atomically(path, json.dumps(doc, indent=1, ensure_ascii=False) + "\n")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def follow_reviewed_plan(task_vars: dict, key: str, state: dict, operations: list[dict], check_mode: bool,
                         template: Callable[[Any], Any] | None = None,
                         clock: Callable[[], str] = _now) -> dict | None:
    """Record (check mode) or enforce (real run) the reviewed plan of this task; None without a plan folder.

    ``template`` resolves the variable's value (the action's templar: task variables reach an action
    plugin untemplated). Returns ``{"file", "task", "status"}``
    (status ``recorded`` or ``matched``); raises PlanFileError when the real run must not apply
    ``operations``, naming the task and what differs.
    """
    plan_dir = task_vars.get(PLAN_DIR_VAR)
    if template is not None:
        plan_dir = template(plan_dir)
    if plan_dir is None:
        return None
    if not isinstance(plan_dir, str) or not plan_dir.strip():
        raise PlanFileError(f"{PLAN_DIR_VAR} must be the path of a folder (a non-empty string), got "
                            f"{show(plan_dir) if isinstance(plan_dir, str) else type(plan_dir).__name__}; "
                            "nothing was changed")
    host = str(task_vars.get("inventory_hostname", state["host"]["name"]))
    path = plan_path(os.path.abspath(plan_dir), host)
    host_name = state["host"]["name"]
    doc = read_plan(path)
    if check_mode:
        write_plan(path, record_task(doc, host, host_name, key, operations, clock(), path))
        return {"file": path, "task": key, "status": RECORDED}
    why = refusal(doc, path, host, host_name, key, operations)
    if why:
        raise PlanFileError(why)
    return {"file": path, "task": key, "status": MATCHED}
