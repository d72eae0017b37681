"""What validate-modules cannot see in this collection: the action plugins' argument specs against their
documentation, the action group against the options its members share, and the internal modules marked so.

validate-modules reads a Python module's argument spec by running it; the user-facing modules here are action
plugins with a docs-only ``plugins/modules/<name>.py``, so their ``ARGUMENT_SPEC`` is compared here instead.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
MODULES = ROOT / "plugins" / "modules"
ACTIONS = sorted(p.stem for p in (ROOT / "plugins" / "action").glob("*.py"))
POWERSHELL = sorted(p.stem for p in MODULES.glob("*.ps1"))
COMPARED = ("type", "elements", "default", "choices", "required")


FRAGMENTS = ROOT / "plugins" / "doc_fragments"


def fragment_options(name: str) -> dict:
    """The options of one of the collection's doc fragments (``backupready.windows.<file>[.<variable>]``), as
    ansible-doc merges them into a module's documentation; another collection's fragment gives none here."""
    if not name.startswith("backupready.windows."):
        return {}
    file, _sep, variable = name[len("backupready.windows."):].partition(".")
    namespace: dict = {}
    source = FRAGMENTS / f"{file}.py"
    exec(compile(source.read_text(encoding="utf-8"), str(source), "exec"), namespace)  # pylint: disable=exec-used
    text = getattr(namespace["ModuleDocFragment"], (variable or "documentation").upper())
    return (yaml.safe_load(text) or {}).get("options") or {}


def documentation(module: str) -> dict:
    sidecar = MODULES / f"{module}.yml"
    if sidecar.exists():
        doc = yaml.safe_load(sidecar.read_text(encoding="utf-8"))["DOCUMENTATION"]
    else:
        namespace: dict = {}
        source = MODULES / f"{module}.py"
        exec(compile(source.read_text(encoding="utf-8"), str(source), "exec"), namespace)  # pylint: disable=exec-used
        doc = yaml.safe_load(namespace["DOCUMENTATION"])
    for name in doc.get("extends_documentation_fragment") or []:
        doc["options"] = dict(fragment_options(name), **(doc.get("options") or {}))
    return doc


def spec_differences(spec: dict, documented: dict, context: str = "") -> list[str]:
    """Where an argument spec and documented options disagree, as 'option: what' lines (empty when they agree).

    Both sides use Ansible's defaults: no ``type`` is ``str``, no ``required`` is false, no ``default`` is None."""
    problems = [f"{context}{name}: in the spec, not documented" for name in sorted(set(spec) - set(documented))]
    problems += [f"{context}{name}: documented, not in the spec" for name in sorted(set(documented) - set(spec))]
    for name in sorted(set(spec) & set(documented)):
        ours, theirs = spec[name] or {}, documented[name] or {}
        for key in COMPARED:
            default = {"type": "str", "required": False}.get(key)
            mine, doc = ours.get(key, default), theirs.get(key, default)
            if key == "choices" and mine is not None and doc is not None:
                mine, doc = sorted(mine), sorted(doc)
            if mine != doc:
                problems.append(f"{context}{name}: {key} is {mine!r} in the spec, {doc!r} in the documentation")
        problems += spec_differences(ours.get("options") or {}, theirs.get("suboptions") or {}, f"{context}{name}.")
    return problems


@pytest.mark.parametrize("module", ACTIONS)
def test_action_argument_spec_matches_documentation(module):
    action = importlib.import_module(f"ansible_collections.backupready.windows.plugins.action.{module}")
    documented = documentation(module).get("options") or {}
    assert spec_differences(action.ActionModule.ARGUMENT_SPEC, documented) == []


def test_spec_comparison_sees_each_kind_of_difference():
    spec = {"a": {"type": "int", "default": 1}, "b": {"choices": ["x", "y"]}, "c": {},
            "d": {"type": "dict", "options": {"e": {"required": True}}}}
    documented = {"a": {"type": "int", "default": 2}, "b": {"type": "str", "choices": ["y", "x"]}, "f": {},
                  "d": {"type": "dict", "suboptions": {"e": {}}}}
    assert spec_differences(spec, documented) == [
        "c: in the spec, not documented", "f: documented, not in the spec",
        "a: default is 1 in the spec, 2 in the documentation",
        "d.e: required is True in the spec, False in the documentation"]


def group_problems(runtime: dict) -> list[str]:
    """Why ``module_defaults: {group/<name>: {...}}`` would not work for each action group of ``runtime``.

    A group default is given to every member, and a member fails on an option it does not have: a group is only
    useful when its members share an option, with the same type and choices; internal modules never belong."""
    problems = []
    for group, members in (runtime.get("action_groups") or {}).items():
        names = [m for m in members if isinstance(m, str)]
        for internal in sorted(set(names) & set(POWERSHELL)):
            problems.append(f"{group}: {internal} is internal")
        options = [documentation(m.rsplit(".", 1)[-1]).get("options") or {} for m in names]
        shared = set.intersection(*(set(o) for o in options)) if options else set()
        same = {name for name in shared
                if len({yaml.safe_dump({k: o[name].get(k) for k in ("type", "choices")}) for o in options}) == 1}
        if not same:
            problems.append(f"{group}: its modules share no option a group default could set")
    return problems


def test_action_groups_only_group_modules_sharing_options():
    runtime = yaml.safe_load((ROOT / "meta" / "runtime.yml").read_text(encoding="utf-8"))
    assert group_problems(runtime) == []


def test_group_check_rejects_a_group_of_every_module():
    every = {"action_groups": {"backupready": ACTIONS + POWERSHELL}}
    assert group_problems(every) == [f"backupready: {m} is internal" for m in POWERSHELL] + [
        "backupready: its modules share no option a group default could set"]
    # win_cryptsvc and win_systemwriter_exclusions both have 'state', with other choices: still not shareable
    assert group_problems({"action_groups": {"g": ["win_cryptsvc", "win_systemwriter_exclusions"]}}) == [
        "g: its modules share no option a group default could set"]


@pytest.mark.parametrize("module", POWERSHELL)
def test_internal_modules_say_so(module):
    doc = documentation(module)
    assert doc["description"][0].startswith("B(Internal module)"), doc["description"][0]
    assert doc["attributes"]["action"]["support"] == "none"
