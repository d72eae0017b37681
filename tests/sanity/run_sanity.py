"""Run ``ansible-test sanity`` on this checkout, offline except for the package index.

    .venv/bin/python tests/sanity/run_sanity.py              # every sanity test that can run here
    .venv/bin/python tests/sanity/run_sanity.py --test pep8  # only these

Three things stand between this checkout and a plain ``ansible-test sanity`` run:

* ansible-test wants the collection at ``.../ansible_collections/<namespace>/<name>/`` and takes the working
  directory from ``os.getcwd()``, which resolves symlinks: the ``.venv/collections`` link that ``make setup``
  makes is rejected ("No ansible_collections parent directory was found"). So the files git knows (tracked, and
  untracked ones that are not ignored) are copied into a temporary ``ansible_collections/<namespace>/<name>/``,
  which also keeps ``.venv``, build output and caches out of the test.
* Each sanity test with requirements gets a virtual environment created without pip, into which ansible-test
  bootstraps pip with a get-pip script downloaded from a server this project cannot reach. The script it keeps
  in its cache is used instead of the download: ``get_pip_standin.py`` is put there (see that file).
* ``pslint`` is PSScriptAnalyzer, which runs only in pwsh (PowerShell 7), not available here: it is skipped as a
  whole (there is no part of it that runs without pwsh). ``tests/static/test_powershell.py`` checks instead what it
  can: the layout settings of ansible-test's ``settings.psd1`` (``test_layout_follows_pslint_settings``), aliases
  and ``Write-Host``, the parse (tree-sitter) and Windows PowerShell 5.1 syntax. PSScriptAnalyzer's other default
  rules are not checked here.
* ``validate-modules`` needs pwsh for one thing only: loading the ``$spec`` of a PowerShell module (``*.ps1``) to
  compare it with the module's documentation. Without pwsh it runs on every other file it checks, the ``.yml``
  documentation of the PowerShell modules included, and only the ``.ps1`` files are left out (see
  ``PWSH_ONLY``); ``tests/static/test_powershell.py`` compares those specs with the documentation instead.

No test here needs Docker (all run on this machine's Python); the tests with requirements install them from PyPI
into ``~/.ansible/test/venv`` once, then reuse them.
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from typing import Callable

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
STANDIN = os.path.join(HERE, "get_pip_standin.py")
STANDIN_MARKER = "Stand-in for the get-pip bootstrap script"

# Sanity tests that cannot run without pwsh, with the reason.
SKIPPED = {
    "pslint": "needs pwsh, not available here",
}
# Sanity tests that run without pwsh on all their files but these, with what is not checked and what checks it.
PWSH_ONLY = {
    "validate-modules": (
        "plugins/modules/*.ps1",
        "the argument spec of each PowerShell module against its documentation (validate-modules loads the spec "
        "with pwsh); their .yml documentation is validated; tests/static/test_powershell.py compares each spec "
        "with the documentation instead",
    ),
}
PYTHON_VERSION = f"{sys.version_info[0]}.{sys.version_info[1]}"
TIMEOUT_SECONDS = 1800


class SanityUnavailable(RuntimeError):
    """Something the sanity run needs is missing from this machine."""


@dataclass(frozen=True)
class SanityRun:
    returncode: int
    output: str
    tests: tuple[str, ...]
    skipped: dict[str, str]
    left_out: dict[str, tuple[list[str], str]]  # test -> (files not given to it, what is therefore not checked)


def ansible_test_executable() -> str:
    path = os.path.join(os.path.dirname(sys.executable), "ansible-test")
    if not os.path.isfile(path):
        raise SanityUnavailable(f"ansible-test not found next to {sys.executable} (install ansible-core in that venv)")
    return path


def get_pip_cache_path() -> str:
    """Where ansible-test looks for its cached get-pip script, by its own code (pip version and file name)."""
    import ansible_test  # pylint: disable=import-outside-toplevel

    package = os.path.dirname(ansible_test.__file__)
    with open(os.path.join(package, "_internal", "python_requirements.py"), encoding="utf-8") as handle:
        pip_version = re.search(r"^\s*pip='([0-9.]+)',$", handle.read(), re.MULTILINE)
    with open(os.path.join(package, "_util", "target", "setup", "requirements.py"), encoding="utf-8") as handle:
        cache_scheme = "'~/.ansible/test/cache/get_pip_%s.py' % pip_version.replace(\".\", \"_\")" in handle.read()
    if not pip_version or not cache_scheme:
        raise SanityUnavailable(f"this ansible-test ({package}) no longer names its get-pip cache file as expected: "
                                "read _util/target/setup/requirements.py (bootstrap) and update run_sanity.py")
    return os.path.expanduser(f"~/.ansible/test/cache/get_pip_{pip_version.group(1).replace('.', '_')}.py")


def place_get_pip_standin() -> str:
    """Put the stand-in where ansible-test looks; a real get-pip script already cached there is left alone."""
    path = get_pip_cache_path()
    if os.path.exists(path):
        with open(path, encoding="utf-8", errors="replace") as handle:
            if STANDIN_MARKER not in handle.read():
                return path
    os.makedirs(os.path.dirname(path), exist_ok=True)
    shutil.copyfile(STANDIN, path)
    return path


def collection_name() -> tuple[str, str]:
    import yaml  # pylint: disable=import-outside-toplevel  # PyYAML comes with ansible-core

    with open(os.path.join(ROOT, "galaxy.yml"), encoding="utf-8") as handle:
        galaxy = yaml.safe_load(handle)
    return galaxy["namespace"], galaxy["name"]


def checkout_files() -> list[str]:
    """The files git knows in this checkout: tracked (unless deleted) and untracked but not ignored."""
    if not shutil.which("git"):
        raise SanityUnavailable("git is needed to list the collection's files")
    listing = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                             capture_output=True, check=False)
    if listing.returncode != 0:
        raise SanityUnavailable(f"{ROOT} is not a git checkout: {listing.stderr.decode(errors='replace').strip()}")
    names = sorted(set(listing.stdout.decode("utf-8").split("\0")) - {""})
    return [name for name in names if os.path.lexists(os.path.join(ROOT, name))]


def copy_collection(destination_root: str) -> str:
    """Copy the checkout's files into ``<destination_root>/ansible_collections/<namespace>/<name>``; returns it."""
    namespace, name = collection_name()
    target = os.path.join(destination_root, "ansible_collections", namespace, name)
    for relative in checkout_files():
        source = os.path.join(ROOT, relative)
        destination = os.path.join(target, relative)
        os.makedirs(os.path.dirname(destination), exist_ok=True)
        shutil.copy2(source, destination, follow_symlinks=False)
    return target


def sanity_environment() -> dict:
    """This environment less what would point ansible at the checkout instead of the copy under test."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("ANSIBLE_COLLECTIONS_PATH", "ANSIBLE_COLLECTIONS_PATHS", "ANSIBLE_CONFIG")}
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    return env


def available_tests(ansible_test: str, collection: str) -> list[str]:
    listing = subprocess.run([ansible_test, "sanity", "--list-tests"], cwd=collection, env=sanity_environment(),
                             capture_output=True, text=True, check=False)
    tests = [line.strip() for line in listing.stdout.splitlines() if line.strip()]
    if listing.returncode != 0 or not tests:
        raise SanityUnavailable(f"ansible-test sanity --list-tests failed:\n{listing.stdout}\n{listing.stderr}")
    return tests


def files_without(pattern: str) -> tuple[list[str], list[str]]:
    """The checkout's files under ``plugins/`` split into (kept, left out by the glob ``pattern``)."""
    files = [name for name in checkout_files() if name.startswith("plugins/")]
    left_out = [name for name in files if fnmatch.fnmatchcase(name, pattern)]
    return [name for name in files if name not in left_out], left_out


def run(tests: list[str] | None = None, change_copy: Callable[[str], None] | None = None) -> SanityRun:
    """Run the sanity tests (all that can run here, or ``tests``) on a copy of this checkout.

    Without pwsh, each test of ``PWSH_ONLY`` runs in a second ansible-test call given every file it checks except
    those that need pwsh. ``change_copy`` (tests of this runner) is called with the copy's path before the run.
    """
    ansible_test = ansible_test_executable()
    place_get_pip_standin()
    has_pwsh = shutil.which("pwsh") is not None
    with tempfile.TemporaryDirectory(prefix="backupready-sanity-") as temporary:
        collection = copy_collection(temporary)
        if change_copy:
            change_copy(collection)
        listed = available_tests(ansible_test, collection)
        unknown = sorted(set(tests or ()) - set(listed))
        if unknown:
            raise ValueError(f"unknown sanity test(s) {unknown}; this ansible-test has: {', '.join(listed)}")
        wanted = tests or listed
        skipped = {} if has_pwsh else {test: reason for test, reason in SKIPPED.items() if test in wanted}
        partial = [] if has_pwsh else [test for test in PWSH_ONLY if test in wanted]
        whole = [test for test in wanted if test not in skipped and test not in partial]
        if not whole and not partial:  # without --test, ansible-test would run every test, the skipped ones included
            raise ValueError(f"nothing to run: {', '.join(f'{t} {r}' for t, r in skipped.items())}")
        base = [ansible_test, "sanity", "--python", PYTHON_VERSION, "--color", "no"]
        calls = []
        if whole:
            calls.append(base + [argument for test in whole for argument in ("--test", test)])
        left_out = {}
        for test in partial:
            pattern, unchecked = PWSH_ONLY[test]
            kept, left_out_files = files_without(pattern)
            left_out[test] = (left_out_files, unchecked)
            calls.append(base + ["--test", test, *kept])
        returncode, output = 0, []
        for command in calls:
            completed = subprocess.run(command, cwd=collection, env=sanity_environment(), stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT, text=True, timeout=TIMEOUT_SECONDS, check=False)
            returncode = returncode or completed.returncode
            output.append(completed.stdout)
    return SanityRun(returncode, "\n".join(output), tuple(whole + partial), skipped, left_out)


def run_units() -> subprocess.CompletedProcess:
    """``ansible-test units`` on a copy of this checkout, in a virtual environment ansible-test makes and fills with
    its own unit requirements and ``tests/unit/requirements.txt`` (under ``~/.ansible/test/venv``, reused)."""
    ansible_test = ansible_test_executable()
    place_get_pip_standin()
    with tempfile.TemporaryDirectory(prefix="backupready-units-") as temporary:
        collection = copy_collection(temporary)
        command = [ansible_test, "units", "-v", "--venv", "--requirements", "--python", PYTHON_VERSION, "--color", "no"]
        return subprocess.run(command, cwd=collection, env=sanity_environment(), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=TIMEOUT_SECONDS, check=False)


PIP_CHATTER = re.compile(r"^(Collecting |  Downloading |Processing /|Looking in |WARNING: Location |Installing collected "
                         r"|Successfully installed |Using cached pip |Installing requirements |\s*\u2501)")  # \u2501: the progress bar


def condensed(output: str) -> str:
    """The run's output less pip's progress chatter (pip's errors and warnings are kept)."""
    return "\n".join(line for line in output.splitlines() if not PIP_CHATTER.match(line))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--test", action="append", help="a sanity test to run (repeatable); default: all that can run here")
    parser.add_argument("--full-output", action="store_true", help="also show pip's progress while it installs requirements")
    arguments = parser.parse_args(argv)
    result = run(arguments.test)
    print(result.output if arguments.full_output else condensed(result.output))
    for test, reason in result.skipped.items():
        print(f"skipped sanity test {test}: {reason}")
    for test, (files, unchecked) in result.left_out.items():
        print(f"sanity test {test} ran without {', '.join(files)}: not checked here: {unchecked}")
    print(f"ansible-test sanity ran {len(result.tests)} test(s): {' '.join(result.tests)}; exit code {result.returncode}")
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
