"""CHANGELOG.rst is what antsibull-changelog generates from changelogs/changelog.yaml, and the release lists every
module, plugin and role of the collection (roles appear only when their argument spec has ``version_added``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "sanity"))
import run_sanity  # noqa: E402  pylint: disable=wrong-import-position

BIN = Path(sys.executable).parent


def changelog(*args: str, cwd: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=str(BIN) + os.pathsep + os.environ.get("PATH", ""))
    return subprocess.run([str(BIN / "antsibull-changelog"), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def copy(tmp_path_factory):
    return run_sanity.copy_collection(str(tmp_path_factory.mktemp("changelog")))


def test_changelog_fragments_and_config_lint_clean(copy):
    result = changelog("lint", cwd=copy)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def test_changelog_rst_is_generated(copy):
    result = changelog("generate", cwd=copy)
    assert result.returncode == 0, result.stdout + result.stderr
    assert Path(copy, "CHANGELOG.rst").read_text(encoding="utf-8") == (ROOT / "CHANGELOG.rst").read_text(encoding="utf-8"), (
        "CHANGELOG.rst differs from what antsibull-changelog generates: run antsibull-changelog generate")


def version_added(path: Path) -> str | None:
    """``version_added`` of a plugin's documentation (.py DOCUMENTATION string or .yml sidecar) or a role's spec."""
    if path.suffix == ".py":
        namespace: dict = {}
        exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), namespace)  # pylint: disable=exec-used
        doc = yaml.safe_load(namespace["DOCUMENTATION"])
    else:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        doc = doc["argument_specs"]["main"] if "argument_specs" in doc else doc["DOCUMENTATION"]
    return str(doc.get("version_added")) if doc.get("version_added") else None


def test_releases_list_every_module_plugin_and_role():
    """Each one is in a release, or its version_added says it comes in a later one (a roles without
    version_added would never be listed)."""
    from packaging.version import Version  # pylint: disable=import-outside-toplevel  # ansible-core needs packaging

    changes = yaml.safe_load((ROOT / "changelogs" / "changelog.yaml").read_text(encoding="utf-8"))
    galaxy = yaml.safe_load((ROOT / "galaxy.yml").read_text(encoding="utf-8"))
    releases = changes["releases"]
    assert releases, "no release recorded"
    latest = max(map(Version, releases))
    assert latest <= Version(galaxy["version"])
    listed: dict[str, set] = {"module": set(), "role": set(), "callback": set(), "filter": set()}
    for release in releases.values():
        listed["module"] |= {m["name"] for m in release.get("modules", [])}
        listed["role"] |= {r["name"] for r in release.get("objects", {}).get("role", [])}
        for kind in ("callback", "filter"):
            listed[kind] |= {p["name"] for p in release.get("plugins", {}).get(kind, [])}
    modules = ROOT / "plugins" / "modules"
    present = {
        "module": {p.stem: p for p in sorted(modules.iterdir()) if p.suffix == ".py" or (p.suffix == ".yml")},
        "role": {p.name: p / "meta" / "argument_specs.yml" for p in (ROOT / "roles").iterdir()},
        "callback": {p.stem: p for p in (ROOT / "plugins" / "callback").glob("*.py")},
        "filter": {p.stem: p for p in (ROOT / "plugins" / "filter").glob("*.yml")},
    }
    for kind, items in present.items():
        for name, path in items.items():
            if name in listed[kind]:
                continue
            added = version_added(path)
            assert added and Version(added) > latest, (
                f"{kind} {name} is in no release, and its version_added ({added}) is not a later one")
