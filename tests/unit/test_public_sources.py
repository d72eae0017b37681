"""Every source cited in the repository is one a reader can find: no internal labels, notes or files outside it.

Internal labels are the section numbers and tags of an unpublished research note ("reference" and a section sign,
a section sign and a letter A-F, the inference and reverse-engineering tags in square brackets), the numbers of
internal notes, files that are not in the repository (the design and PowerShell notes, anything in the shared
folder next to the checkout), and the note's own name (LABELS below). Cite the public source instead: a KB
number, a Microsoft docs page, an issue URL, or the write-up "System writer is not found in the backup Error
(Windows Server Backup)" by its title.
"""

from __future__ import annotations

import os
import re
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SKIPPED_DIRS = {".git", ".venv", ".hypothesis", ".pytest_cache", "__pycache__", "build", "backupready-report",
                "backups", "output"}

# Written in pieces so that this file does not match itself.
LABELS = re.compile("|".join([
    "reference" + r"\s+" + "\u00a7",
    r"\u00a7[A-F](?![a-z])",
    re.escape("[" + "INF]"),
    re.escape("[" + "RE]"),
    "seed" + r" 0\d",
    "DESIGN" + r"\.md",
    "POWERSHELL" + r"\.md",
    "dos" + "sier",
    "shared" + "/docs",
    "shared" + "/data",
]), re.IGNORECASE)


def repository_files() -> list[str]:
    """The files of the repository: tracked and new ones, not ignored (a plain walk when git is not there)."""
    try:
        listed = subprocess.run(["git", "-C", ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                                capture_output=True, check=True, timeout=60).stdout.decode("utf-8").split("\0")
        files = [name for name in listed if name and os.path.isfile(os.path.join(ROOT, name))]
        if files:
            return files
    except (OSError, subprocess.SubprocessError):
        pass
    files = []
    for folder, dirs, names in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in SKIPPED_DIRS]
        files += [os.path.relpath(os.path.join(folder, name), ROOT) for name in names]
    return files


def labels_in(text: str) -> list[tuple[int, str]]:
    return [(text.count("\n", 0, m.start()) + 1, m.group(0)) for m in LABELS.finditer(text)]


def test_no_file_cites_an_internal_label():
    found = []
    for name in repository_files():
        with open(os.path.join(ROOT, name), "rb") as handle:
            data = handle.read()
        if b"\0" in data[:8192]:
            continue  # binary (a screenshot)
        for line, label in labels_in(data.decode("utf-8", errors="replace")):
            found.append(f"{name}:{line}: {label}")
    assert not found, "internal labels (cite the public source instead):\n" + "\n".join(found)


@pytest.mark.parametrize("text", [
    "see reference \u00a7A.3", "(\u00a7C.1)", "an [" + "INF] note", "[" + "RE]: decompiled", "seed " + "002, KB 2009272",
    "the checks in DESIGN" + ".md", "POWERSHELL" + ".md", "reference dos" + "sier", "see shared" + "/docs/x.md",
])
def test_the_labels_are_recognised(text):
    assert labels_in(text)


@pytest.mark.parametrize("text", [
    "KB 2009272", "docs/write-path.md \u00a71", "the write-up \"System writer is not found in the backup Error\"",
    "https://github.com/winsiderss/systeminformer/issues/111", "cryptcatsvc.dll, decompiled",
])
def test_public_sources_are_not_labels(text):
    assert not labels_in(text)
