# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The assessment's logic is linear in the host's size, and gives the same results as the earlier algorithm.

The earlier algorithm is kept here, frozen (``_frozen_*``): it rebuilt the path-existence lookup for every
service and diagnosed every service with the module-level :func:`diagnose`. Every demo host and a generated
3,000-service host (``tools/bench_brain.py``) must give exactly the same result through the action's logic.
No timing here: ``tools/bench_brain.py`` measures; these tests compare results and count operations.
"""

from __future__ import annotations

import datetime
import glob
import json
import os
import re
import subprocess
import sys
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.backupready.windows.plugins.action.win_backup_readiness_info import waived_findings
from ansible_collections.backupready.windows.plugins.plugin_utils import _findings, _imagepath
from ansible_collections.backupready.windows.plugins.plugin_utils._action import merge_paths
from ansible_collections.backupready.windows.plugins.plugin_utils._events import service_events
from ansible_collections.backupready.windows.plugins.plugin_utils._state import load_state_file, local_drive_letters

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
sys.path.insert(0, os.path.join(ROOT, "tools"))

import bench_brain  # noqa: E402  # pylint: disable=wrong-import-position

SNAPSHOTS = sorted(glob.glob(os.path.join(ROOT, "examples", "fleet", "snapshots", "*.json")))


# ---------------------------------------------------------------------------------------------------
# The earlier algorithm, frozen
# ---------------------------------------------------------------------------------------------------

def _frozen_paths_lookup(state):
    known = {path.lower(): exists for path, exists in (state.get("paths") or {}).items()}
    return lambda path: known.get(path.lower())


def _frozen_diagnose_service(service, state, with_existence=True, lookup=None):  # pylint: disable=unused-argument
    """The earlier diagnosis of one service: a new path lookup every time, whatever the caller built."""
    service_type = _imagepath._service_type_of(service)  # pylint: disable=protected-access
    image_path = service["image_path"]
    if service_type is None:
        return None
    if image_path["kind"] in _imagepath.STRING_KINDS:
        value, kind = image_path["data"], image_path["kind"]
    elif image_path["kind"] == "missing" and service_type == _imagepath.DRIVER:
        value, kind = "", None
    else:
        return None
    return _imagepath.diagnose(value, kind=kind, service_type=service_type, volumes=local_drive_letters(state),
                               service_name=service["name"], system_root=state["host"]["system_root"],
                               exists=_frozen_paths_lookup(state) if with_existence else None)


def _frozen_imagepath_findings(state):
    # The rest of the loop (evidence, messages, fixes) is the module's own: only how each service is diagnosed
    # changed, so the module's loop runs with the earlier per-service diagnosis.
    with mock.patch.object(_imagepath, "diagnose_service", _frozen_diagnose_service):
        return list(_imagepath.imagepath_findings(state))


def _frozen_imagepath_wanted_paths(state):
    for service in state["services"]:
        diagnosis = _frozen_diagnose_service(service, state, with_existence=False)
        if diagnosis is None or diagnosis.writer_path is None:
            continue
        if {"invalid_syntax", "quoted_driver", "missing_volume"}.intersection(diagnosis.defects):
            continue
        if any(note.startswith("unknown variable") for note in diagnosis.notes):
            continue
        yield diagnosis.writer_path


def _frozen_checks():
    for check in _findings.registered_checks():
        if check.name == "imagepath":
            yield check.name, _frozen_imagepath_findings, _frozen_imagepath_wanted_paths
        else:
            yield check.name, check.detect, check.wanted_paths


def _frozen_wanted_paths(state):
    seen = {}
    for _name, _detect, wanted in _frozen_checks():
        for path in (wanted(state) if wanted else ()):
            seen.setdefault(path.lower(), path)
    return list(seen.values())


def _frozen_assess(state):
    findings = [finding for _name, detect, _wanted in _frozen_checks() for finding in detect(state)]
    by_service = service_events(state)
    result = []
    for finding in findings:
        kind, _sep, name = finding.subject.partition(":")
        events = by_service.get(name.lower()) if kind == "service" else None
        if events and "capi2_513" not in finding.evidence:
            finding = _findings.dataclasses.replace(finding, evidence=dict(finding.evidence, capi2_513=events))
        result.append(finding)
    result.sort(key=lambda f: (-_findings.severity_rank(f.severity), f.code, f.subject.lower()))
    return result


def _frozen_logic(path, host):
    state = load_state_file(path)
    known = {key.lower(): value for key, value in state["paths"].items()}
    paths = _frozen_wanted_paths(state)
    if paths:
        state = merge_paths(state, {p: known.get(p.lower()) for p in paths})
    findings = _frozen_assess(state)
    return {"wanted_paths": paths, "findings": waived_findings(host, findings, [], datetime.date.today())}


def _new_logic(path, host):
    return bench_brain.action_logic(path, host)


# ---------------------------------------------------------------------------------------------------
# Same results
# ---------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def big_host(tmp_path_factory):
    return bench_brain.write_state(bench_brain.scaled_state(SNAPSHOTS, 3000), str(tmp_path_factory.mktemp("big")))


def test_the_demo_fleet_is_there():
    assert len(SNAPSHOTS) == 17


@pytest.mark.parametrize("path", SNAPSHOTS, ids=[os.path.basename(p)[:-5] for p in SNAPSHOTS])
def test_demo_host_results_are_those_of_the_earlier_algorithm(path):
    host = os.path.basename(path)[:-5]
    new, old = _new_logic(path, host), _frozen_logic(path, host)
    assert new == old
    assert json.dumps(new, sort_keys=True) == json.dumps(old, sort_keys=True)


def test_generated_host_results_are_those_of_the_earlier_algorithm(big_host):
    new, old = _new_logic(big_host, "big"), _frozen_logic(big_host, "big")
    assert len(load_state_file(big_host)["services"]) == 3000
    # the generated host has findings of every kind its snapshots have, on the copies too
    codes = {f["code"] for f in old["findings"]}
    assert {"invalid_syntax", "embedded_nul", "missing_file", "missing_volume", "unquoted_spaces"} <= codes
    assert any(f["subject"].endswith("-10") for f in old["findings"])
    assert any("capi2_513" in f["evidence"] for f in old["findings"] if f["subject"].endswith("-3"))
    assert new == old


def test_imagepath_planner_and_findings_agree_with_the_earlier_diagnosis(big_host):
    """The planner and the wanted paths diagnose each service as before (the lookup is built once per state)."""
    state = load_state_file(big_host)
    for service in state["services"][::7]:
        for with_existence in (True, False):
            new = _imagepath.diagnose_service(service, state, with_existence=with_existence)
            assert new == _frozen_diagnose_service(service, state, with_existence=with_existence), service["name"]


# ---------------------------------------------------------------------------------------------------
# Linear: the work per service does not grow with the host
# ---------------------------------------------------------------------------------------------------

class _CountingPaths(dict):
    """A ``paths`` map that counts how often the whole map is walked."""

    walks = 0

    def items(self):
        type(self).walks += 1
        return super().items()

    def __iter__(self):
        type(self).walks += 1
        return super().__iter__()


def _walks_of_the_paths_map(state):
    _CountingPaths.walks = 0
    state = dict(state, paths=_CountingPaths(state["paths"]))
    _findings.wanted_paths(state)
    _findings.assess(state)
    return _CountingPaths.walks


def test_the_paths_map_is_read_once_per_assessment_not_once_per_service(big_host):
    small = load_state_file(SNAPSHOTS[0])
    big = load_state_file(big_host)
    walks_small, walks_big = _walks_of_the_paths_map(small), _walks_of_the_paths_map(big)
    assert walks_small == walks_big
    assert walks_big <= 2


# ---------------------------------------------------------------------------------------------------
# Imported once, in the controller
# ---------------------------------------------------------------------------------------------------

def test_loading_an_action_plugin_registers_every_check_and_loads_the_filters():
    """Ansible loads each task's action class in the controller before it forks the workers: what that import pulls
    in is inherited by every worker instead of being compiled again in each one."""
    code = (
        "import sys; sys.path.insert(0, {tests!r}); import conftest\n"
        "import ansible_collections.backupready.windows.plugins.action.win_backup_readiness_info\n"
        "from ansible_collections.backupready.windows.plugins.plugin_utils import _findings\n"
        "print(sorted(_findings._CHECKS))\n"
        "print(sorted(m.rsplit('.', 1)[-1] for m in sys.modules if '.plugins.filter.' in m))\n"
    ).format(tests=os.path.join(ROOT, "tests"))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    checks, filters = out.splitlines()
    assert checks == str(sorted(check.name for check in _findings.registered_checks()))
    expected = sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(ROOT, "plugins", "filter", "*.py")))
    assert filters == str(expected)


# ---------------------------------------------------------------------------------------------------
# The ImagePath benchmark reads the repository's data set, or fails
# ---------------------------------------------------------------------------------------------------

def test_imagepath_benchmark_fails_clearly_without_its_data(tmp_path):
    missing = tmp_path / "absent.jsonl"
    run = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "bench_imagepath.py"), "--count", "10",
                          "--data", str(missing)], capture_output=True, text=True, cwd=ROOT, check=False)
    assert run.returncode != 0
    assert str(missing) in run.stderr
    assert "values/second" not in run.stdout


# ---------------------------------------------------------------------------------------------------
# The faster diagnosis: each shortcut answers exactly as the earlier code (hypothesis)
# ---------------------------------------------------------------------------------------------------

PATH_TOKENS = ["\\", "\\", "\\", "C:", "c:", "X:", "x", "Dir", "a b", ".", "..", "...", ".sys", "/", ":", '"', "<", "|",
               "?", "*", "%", "%SystemRoot%", "%systemroot%", "%windir%", "%VendorHome%", "%%", "\\SystemRoot\\", "\x00",
               "\x01", "\n", "\t", " ", "\x7f", "é", "İ"]
paths = st.one_of(st.text(max_size=30), st.lists(st.sampled_from(PATH_TOKENS), max_size=12).map("".join))
PROFILE = settings(max_examples=int(os.environ.get("HYPOTHESIS_EXAMPLES", "300")), deadline=None,
                   derandomize=bool(os.environ.get("CI")), suppress_health_check=[HealthCheck.too_slow])
ENV = _imagepath.writer_environment("C:\\Windows")


def _frozen_problems(path):
    """Which of local_path_problems's rules a path breaks (the earlier code's conditions, without the messages)."""
    if path.startswith("\\\\"):
        return ["unc"]
    return [rule for rule, broken in (
        ("drive", not re.match(r"^[A-Za-z]:\\", path)),
        ("slash", "/" in path),
        ("double", "\\\\" in path[2:]),
        ("colon", ":" in path[2:]),
        ("chars", bool({c for c in path if c in _imagepath._INVALID_CHARS})),  # pylint: disable=protected-access
        ("dots", any(segment in (".", "..") for segment in path.split("\\"))),
    ) if broken]


def _frozen_expand(text, env):
    if "%" not in text:
        return text, []
    out, unknown, index = [], [], 0
    for start, close in _imagepath._percent_pairs(text):  # pylint: disable=protected-access
        out.append(text[index:start])
        name = text[start + 1:close]
        value = env.get(name.lower())
        if value is None:
            out.append(text[start:close + 1])
            if _imagepath._looks_like_variable(name):  # pylint: disable=protected-access
                unknown.append(name)
        else:
            out.append(value)
        index = close + 1
    out.append(text[index:])
    return "".join(out), unknown


@PROFILE
@given(paths)
def test_local_path_problems_breaks_the_same_rules_as_before(path):
    problems = _imagepath.local_path_problems(path)
    assert len(problems) == len(_frozen_problems(path))
    assert bool(_imagepath._DOT_SEGMENT.search(path)) == any(s in (".", "..") for s in path.split("\\"))  # noqa  pylint: disable=protected-access


@PROFILE
@given(paths, st.sampled_from([ENV, {}, {"systemroot": "D:\\W"}]))
def test_expand_environment_expands_as_before(text, env):
    assert _imagepath.expand_environment(text, env) == _frozen_expand(text, env)


def _frozen_same_variables(before, after, env):
    # pylint: disable=protected-access
    if before.startswith('"') and not after.startswith('"'):
        before = before[1:]
    prefix = _imagepath._SYSTEMROOT_VARIABLE.match(before)
    if prefix and not after.startswith("%") and _imagepath._lower(after).startswith("\\systemroot\\"):
        before, after = before[prefix.end():], after[len("\\SystemRoot\\"):]
    old, new = _imagepath._defined_names(before, env), _imagepath._defined_names(after, env)
    if old is not None and new is not None:
        return old == new
    return _imagepath._percent_span(before) == _imagepath._percent_span(after)


@PROFILE
@given(paths, paths, st.sampled_from([ENV, {}]))
def test_a_repair_keeps_its_variables_as_before(before, after, env):
    assert _imagepath._same_variables(before, after, env) == _frozen_same_variables(before, after, env)  # noqa  pylint: disable=protected-access


def test_the_shared_environment_and_volumes_are_those_of_a_fresh_call():
    assert _imagepath._environment("D:\\WINNT") == _imagepath.writer_environment("D:\\WINNT")  # noqa  pylint: disable=protected-access
    assert _imagepath.writer_environment("D:\\WINNT") is not _imagepath.writer_environment("D:\\WINNT")
    assert _imagepath._volumes_of(["c", "D:\\"]) == {"C:", "D:"}  # pylint: disable=protected-access
    with pytest.raises(_imagepath.ImagePathError, match="volumes: .*not a drive letter"):
        _imagepath.diagnose("x.exe", volumes=["C:", "CC"])
    with pytest.raises(_imagepath.ImagePathError, match="volumes: .*not a drive letter"):
        _imagepath.diagnose("x.exe", volumes=[["C:"]])
