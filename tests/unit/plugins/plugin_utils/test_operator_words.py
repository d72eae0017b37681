"""Words an operator can act on: paths as Windows shows them, public sources, what fixes a finding, what to run next.

Over the bundled demo fleet (examples/fleet/snapshots): the findings the collection shows, and the console lines of
the ``readiness_lines`` filter.
"""

from __future__ import annotations

import os
import re

import pytest
import yaml

from ansible_collections.backupready.windows.plugins.filter.readiness import readiness_lines
from ansible_collections.backupready.windows.plugins.plugin_utils import _remedies, _state
from ansible_collections.backupready.windows.plugins.plugin_utils._findings import CODES, assess, severity_rank

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
SNAPSHOTS = os.path.join(ROOT, "examples", "fleet", "snapshots")
HOSTS = sorted(name[:-5] for name in os.listdir(SNAPSHOTS) if name.endswith(".json"))
WINMAD_VALUE = "\\\\SystemRoot\\System32\\drivers\\winmad.sys"  # the defect: a doubled leading backslash


def state_of(host: str) -> dict:
    return _state.load_state_file(os.path.join(SNAPSHOTS, f"{host}.json"))


def findings_of(host: str) -> list[dict]:
    return [finding.as_dict() for finding in assess(state_of(host))]


def result_of(host: str, waived: tuple[str, ...] = ()) -> dict:
    """A win_backup_readiness_info-like result (what readiness_lines reads)."""
    findings = [dict(f, waived=f["code"] in waived, waiver_reason="test" if f["code"] in waived else None)
                for f in findings_of(host)]
    ready = not any(severity_rank(f["severity"]) >= severity_rank("error") and not f["waived"] for f in findings)
    return {"findings": findings, "ready": ready, "summary": {"services": 1, "os": "test"}}


def strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from strings(item)


def doubled(text: str) -> set[tuple[int, str]]:
    """Each run of two or more backslashes: (its length, the 8 characters after it, lower-cased)."""
    return {(len(m.group(1)), text[m.end():m.end() + 8].lower()) for m in re.finditer(r"(\\{2,})", text)}


# --- paths as Windows shows them ---------------------------------------------------------------------------

def test_mars_winmad_fix_and_message_show_single_backslashes_and_still_show_the_defect():
    state = state_of("mars-winmad")
    winmad = _state.find_service(state, "WinMad")
    assert winmad["image_path"]["data"] == WINMAD_VALUE
    (finding,) = [f for f in findings_of("mars-winmad") if f["subject"] == "service:WinMad"]
    # The fix is the value to type in regedit: one backslash each, not the defect again.
    assert finding["fix"] == "set ImagePath to '\\SystemRoot\\System32\\drivers\\winmad.sys' (REG_EXPAND_SZ)"
    assert finding["evidence"]["fixed_value"] == "\\SystemRoot\\System32\\drivers\\winmad.sys"
    # The message shows the defect, the doubled leading backslash, exactly once and nothing else doubled.
    assert "derives '\\\\systemroot\\system32\\drivers\\winmad.sys'" in finding["message"]
    assert doubled(finding["message"]) == {(2, "systemro")}
    assert finding["evidence"]["image_path"] == WINMAD_VALUE


@pytest.mark.parametrize("host", HOSTS)
def test_no_doubled_backslash_is_shown_unless_the_value_has_one(host):
    allowed = set()
    for text in strings(state_of(host)):
        allowed |= doubled(text)
    shown = []
    for finding in findings_of(host):
        shown += [finding["message"], finding["fix"] or "", finding["subject"], *strings(finding["evidence"])]
    for line in readiness_lines(result_of(host)):
        shown.append(line)
    for text in shown:
        assert doubled(text) <= allowed, f"{host}: {text!r} doubles a backslash the host does not have"


def test_an_embedded_nul_is_named_not_printed():
    (finding,) = [f for f in findings_of("dev-kph") if f["code"] == "embedded_nul"]
    assert "\x00" not in finding["evidence"]["image_path"]
    assert "kprocesshacker.sys<NUL>1251;" in finding["evidence"]["image_path"]


# --- [fixable] says by what --------------------------------------------------------------------------------

def _defaults() -> dict:
    values = {}
    for role in os.listdir(os.path.join(ROOT, "roles")):
        path = os.path.join(ROOT, "roles", role, "defaults", "main.yml")
        if os.path.exists(path):
            with open(path, encoding="utf-8") as handle:
                values.update(yaml.safe_load(handle) or {})
    return values


def test_every_code_a_module_fixes_has_a_remedy():
    assert set(_remedies.REMEDIES) == set(CODES) - {"state_unreadable"}


@pytest.mark.parametrize("code", sorted(_remedies.REMEDIES))
def test_the_variables_named_exist_with_the_default_claimed(code):
    defaults = _defaults()
    remedy = _remedies.REMEDIES[code]
    for remedy in (remedy, _remedies.WRONG_KIND) if code == "exclusion_invalid" else (remedy,):
        assert os.path.isdir(os.path.join(ROOT, "roles", remedy.role))
        assert os.path.exists(os.path.join(ROOT, "plugins", "modules", f"{remedy.module}.py"))
        with open(os.path.join(ROOT, "roles", remedy.role, "tasks", "main.yml"), encoding="utf-8") as handle:
            assert f"backupready.windows.{remedy.module}" in handle.read()
        for name in remedy.controls:  # on by default: each control is on
            assert name in defaults, name
            value = defaults[name]
            assert value and (code in value if name == "imagepath_fix" else True), (name, value)
        for name, wanted in remedy.opt_in:  # off by default: the default is not the value to set
            assert name in defaults and defaults[name] != wanted, name


@pytest.mark.parametrize("host", HOSTS)
def test_every_fixable_line_names_the_playbook_role_and_an_option(host):
    result = result_of(host)
    lines = readiness_lines(result)
    names = set(_defaults())
    fixable = [f for f in result["findings"] if f["fixable"]]
    tagged = [line for line in lines if "[fixable" in line]
    assert len(tagged) == len(fixable)
    for line in tagged:
        assert "[fixable]" not in line
        tag = line[line.index("[fixable"):]
        assert "backupready.windows.remediate, role " in tag
        assert "on by default" in tag or "off by default: set " in tag
        assert names & set(re.findall(r"\b[a-z]+_[a-z_]+\b", tag)), line


def test_an_off_by_default_fix_names_the_switches_to_set():
    lines = readiness_lines(result_of("excl-bad"))
    tags = [line for line in lines if "exclusion_invalid" in line]
    assert len(tags) == 4
    for line in tags:
        assert ("[fixable: backupready.windows.remediate, role systemwriter (win_systemwriter_exclusions); "
                "off by default: set readiness_fix_exclusions=true and systemwriter_remove_invalid=true]") in line


def test_a_wrong_kind_exclusion_value_names_replace_wrong_kind():
    finding = {"code": "exclusion_invalid", "subject": "value:ExcludedBinaryPaths", "fixable": True}
    assert _remedies.fixable_tag(finding).endswith(
        "off by default: set readiness_fix_exclusions=true and systemwriter_replace_wrong_kind=true]")


def test_a_missing_volume_not_marked_fixable_says_how_to_exclude_it():
    finding = next(f for f in findings_of("sql-node2") if f["code"] == "missing_volume")
    assert not finding["fixable"]
    line = next(line for line in readiness_lines(result_of("sql-node2")) if "missing_volume" in line)
    assert "[opt-in: backupready.windows.remediate, role systemwriter (win_systemwriter_exclusions); set " \
           "readiness_fix_exclusions=true and systemwriter_exclude_unreachable=true]" in line


# --- what to run next --------------------------------------------------------------------------------------

PREVIEW = "ansible-playbook -i <inventory> backupready.windows.remediate --check --diff"


def test_next_step_for_default_fixes_is_the_preview_command():
    lines = readiness_lines(result_of("hv-doubled"))
    assert lines[-1] == f"NEXT: preview the fixes with `{PREVIEW}`, then run it without --check"


def test_next_step_carries_the_switches_an_opt_in_fix_needs():
    lines = readiness_lines(result_of("excl-bad"))
    assert lines[-1] == (f"NEXT: preview the fixes with `{PREVIEW} -e readiness_fix_exclusions=true "
                         "-e systemwriter_remove_invalid=true`, then run it without --check")


def test_next_step_names_the_host_when_given():
    assert f"`{PREVIEW} --limit hv-doubled`" in readiness_lines(result_of("hv-doubled"), "hv-doubled")[-1]


UNREADABLE = {"code": "state_unreadable", "severity": "error", "subject": "state:events",
              "message": "events: access denied; nothing about it is judged or changed", "fixable": False,
              "source": CODES["state_unreadable"].source, "evidence": {}, "waived": False}


def test_next_step_when_nothing_here_fixes_it_says_what_to_read():
    lines = readiness_lines({"findings": [UNREADABLE], "ready": False, "summary": {}})
    assert lines[-1].startswith("NEXT: nothing here is fixed by backupready.windows.remediate: read each finding's fix")
    assert "Finding codes" in lines[-1]


def test_next_step_mentions_the_other_findings_when_only_some_are_fixable():
    result = result_of("hv-doubled")
    result["findings"].append(dict(UNREADABLE))
    assert "; for the 1 other finding(s), read each finding's fix" in readiness_lines(result)[-1]


@pytest.mark.parametrize("host, waived", [("dc01", ()), ("sql-node2", ("missing_volume",))])
def test_no_next_step_without_open_findings(host, waived):
    assert not any(line.startswith("NEXT:") for line in readiness_lines(result_of(host, waived)))


def test_a_host_that_was_not_assessed_gets_no_next_step():
    assert readiness_lines({"failed": True, "msg": "unreachable"}) == ["NOT ASSESSED: unreachable"]


# --- public sources ----------------------------------------------------------------------------------------

_PUBLIC = (r"KB \d{6,7}|[\w.-]+/[\w.-]+#\d+|CWE-\d+|https?://\S+|\w+ docs \(learn\.microsoft\.com\)"
           r"|docs/[\w-]+\.md \([^)]*\)")


@pytest.mark.parametrize("code", sorted(CODES))
def test_every_code_cites_a_public_source(code):
    assert re.fullmatch(rf"(?:{_PUBLIC})(?:, (?:{_PUBLIC}))*", CODES[code].source), CODES[code].source
    if CODES[code].source.startswith("docs/"):
        assert os.path.exists(os.path.join(ROOT, CODES[code].source.split()[0]))


def _readme_codes() -> dict[str, list[str]]:
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as handle:
        text = handle.read()
    section = text[text.index("## Finding codes\n"):]
    section = section[:section.index("\n## ", 5)]
    rows = {}
    for line in section.splitlines():
        match = re.match(r"\| `(\w+)` \|", line)
        if match:
            rows[match.group(1)] = [cell.strip() for cell in line.strip("|").split(" | ")]
    return rows


def test_the_readme_table_says_what_the_code_table_and_the_remedies_say():
    rows = _readme_codes()
    assert set(rows) == set(CODES)
    for code, (_name, severity, _what, source, fixed_by) in rows.items():
        assert severity == CODES[code].severity and source == CODES[code].source, code
        remedy = _remedies.REMEDIES.get(code)
        if remedy is None:
            assert fixed_by.startswith("not fixed"), code
            continue
        assert f"role `{remedy.role}` (`{remedy.module}`)" in fixed_by, code
        for name in remedy.controls:
            assert f"`{name}`" in fixed_by, (code, name)
        for name, value in remedy.opt_in:
            assert f"`{name}={str(value).lower()}`" in fixed_by and fixed_by.startswith("opt-in"), (code, name)


# --- nothing invisible, nothing reordered -------------------------------------------------------------------

def _tampered_winmad(name: str, value: str) -> dict:
    state = state_of("mars-winmad")
    service = _state.find_service(state, "WinMad")
    service["name"], service["image_path"]["data"] = name, value
    return state


def test_evidence_names_the_invisible_characters_of_every_path():
    zwsp = "\u200b"
    state = _tampered_winmad("WinMad", f"\\\\SystemRoot\\System32\\drivers\\win{zwsp}mad.sys")
    (finding,) = [f.as_dict() for f in assess(state) if f.subject == "service:WinMad"]
    for key in ("image_path", "writer_path", "fixed_value"):
        assert finding["evidence"][key] is not None and zwsp not in finding["evidence"][key], key
        assert "win<U+200B>mad.sys" in finding["evidence"][key], key
    state = _tampered_winmad("WinMad", f"\\SystemRoot\\Gone{zwsp}\\winmad.sys")
    state["paths"] = {f"C:\\Windows\\Gone{zwsp}\\winmad.sys": False}
    excl = [f.as_dict() for f in assess(state) if f.subject == "service:WinMad" and f.code == "missing_file"]
    assert excl
    for finding in excl:
        # the path the exclusions module writes: as it is (the report names the invisible character when it shows it)
        assert finding["evidence"]["exclusion_path"] == f"C:\\Windows\\Gone{zwsp}\\winmad.sys"


def test_a_right_to_left_override_in_a_service_name_is_named_on_the_console():
    name = "Win\u202edaM"
    state = _tampered_winmad(name, WINMAD_VALUE)
    findings = [dict(f.as_dict(), waived=False) for f in assess(state)]
    (finding,) = [f for f in findings if f["subject"] == f"service:{name}"]
    assert finding["subject"] == f"service:{name}"  # the key waivers match stays the name as it is
    assert finding["message"].startswith("Win<U+202E>daM: ")
    lines = readiness_lines({"findings": findings, "ready": False, "summary": {}})
    assert not any("\u202e" in line for line in lines)
    (line,) = [line for line in lines if "service:Win<U+202E>daM: Win<U+202E>daM: " in line]
    assert "[fixable: backupready.windows.remediate, role imagepath" in line


# --- missing_file: the opt-in exclusion ---------------------------------------------------------------------

def test_missing_file_names_the_opt_in_exclusion_and_its_switches():
    (finding,) = [f for f in findings_of("missing-driver") if f["code"] == "missing_file"]
    path = finding["evidence"]["exclusion_path"]
    assert finding["fix"] == (
        f"repair or remove the service (its owner's call), or exclude '{path}' from System State "
        "(ExcludedBinaryPaths, KB 980794) with backupready.windows.remediate, opt-in: set readiness_fix_exclusions=true, "
        "systemwriter_exclude_unreachable=true and systemwriter_include_missing_file=true")
    lines = readiness_lines(result_of("missing-driver"))
    line = next(line for line in lines if "missing_file" in line)
    assert ("[opt-in: backupready.windows.remediate, role systemwriter (win_systemwriter_exclusions); set "
            "readiness_fix_exclusions=true and systemwriter_exclude_unreachable=true and "
            "systemwriter_include_missing_file=true]") in line
    assert lines[-1] == (f"NEXT: preview the fixes with `{PREVIEW} -e readiness_fix_exclusions=true "
                         "-e systemwriter_exclude_unreachable=true -e systemwriter_include_missing_file=true`, "
                         "then run it without --check")


# --- NEXT: for this host, and after a dry run ---------------------------------------------------------------

def test_next_step_quotes_the_host_for_the_shell():
    assert f"`{PREVIEW} --limit 'web 01;rm'`" in readiness_lines(result_of("hv-doubled"), "web 01;rm")[-1]


def test_after_a_check_mode_run_the_next_step_is_to_run_it_without_check():
    line = readiness_lines(result_of("excl-bad"), "excl-bad", True)[-1]
    assert line == ("NEXT: this was a dry run (--check): to make the fixes it showed, run it without --check "
                    "(`ansible-playbook -i <inventory> backupready.windows.remediate --diff --limit excl-bad "
                    "-e readiness_fix_exclusions=true -e systemwriter_remove_invalid=true`)")
    assert "--check --diff" not in line
    assert readiness_lines(dict(result_of("excl-bad"), check_mode=True))[-1].startswith("NEXT: this was a dry run")
