"""The execution environment: ``ansible-builder create`` makes a build context from the example definition, and
``ansible-builder introspect`` finds the collection's Kerberos-ready Python and system dependencies.

No container is built here (that needs podman or docker); what is checked is everything ansible-builder does
before the container build: the definition's schema, the files it copies, the Containerfile, and the
dependencies it would install.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
import yaml

from runner import ROOT, ansible_env, run

pytestmark = pytest.mark.playbook

EXAMPLE = os.path.join(ROOT, "examples", "execution-environment")
BUILDER = os.path.join(os.path.dirname(sys.executable), "ansible-builder")


def builder(*args: str, cwd: str) -> subprocess.CompletedProcess:
    if not os.path.exists(BUILDER):
        pytest.fail(f"ansible-builder is not installed next to {sys.executable} (requirements-dev.txt has it)")
    return subprocess.run([BUILDER, *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False)


def version() -> str:
    with open(os.path.join(ROOT, "galaxy.yml"), encoding="utf-8") as handle:
        return yaml.safe_load(handle)["version"]


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    """The example folder, with the collection tarball built into it as its comment says."""
    folder = tmp_path_factory.mktemp("ee") / "execution-environment"
    shutil.copytree(EXAMPLE, folder)
    result = run("ansible-galaxy", "collection", "build", "--force", "--output-path", str(folder), ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    return folder


def test_example_names_the_tarball_of_this_version():
    tarball = f"backupready-windows-{version()}.tar.gz"
    for name in ("execution-environment.yml", "requirements.yml"):
        with open(os.path.join(EXAMPLE, name), encoding="utf-8") as handle:
            assert tarball in handle.read(), f"{name} must name {tarball}"


def test_builder_creates_the_build_context(example):
    result = builder("create", "--file", "execution-environment.yml", "--context", "context",
                     "--output-filename", "Containerfile", cwd=example)
    assert result.returncode == 0, result.stdout + result.stderr
    context = example / "context"
    containerfile = (context / "Containerfile").read_text(encoding="utf-8")
    assert 'ARG EE_BASE_IMAGE="docker.io/redhat/ubi9:latest"' in containerfile and 'ARG PYCMD="/usr/bin/python3.12"' in containerfile
    assert "COPY _build/collections/ /build/collections/" in containerfile
    assert (context / "_build" / "collections" / f"backupready-windows-{version()}.tar.gz").is_file()
    assert (context / "_build" / "configs" / "krb5.conf").is_file()
    galaxy = yaml.safe_load((context / "_build" / "requirements.yml").read_text(encoding="utf-8"))
    assert {"name": f"/build/collections/backupready-windows-{version()}.tar.gz", "type": "file"} in galaxy["collections"]


def test_builder_rejects_a_broken_definition(example, tmp_path):
    broken = tmp_path / "execution-environment.yml"
    text = (example / "execution-environment.yml").read_text(encoding="utf-8")
    broken.write_text(text.replace("  python_interpreter:", "  python_interpeter:"), encoding="utf-8")
    for name in ("requirements.yml", "krb5.conf", f"backupready-windows-{version()}.tar.gz"):
        shutil.copy(example / name, tmp_path / name)
    result = builder("create", "--file", str(broken), "--context", str(tmp_path / "context"), cwd=tmp_path)
    assert result.returncode != 0
    assert "python_interpeter" in result.stdout + result.stderr


def test_introspection_finds_the_kerberos_dependencies(example, tmp_path):
    install = tmp_path / "collections"
    result = run("ansible-galaxy", "collection", "install", "-p", str(install),
                 str(example / f"backupready-windows-{version()}.tar.gz"), env=ansible_env(collections_path=str(install)))
    assert result.returncode == 0, result.stdout + result.stderr
    result = builder("introspect", "--sanitize", str(install), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    found = yaml.safe_load(result.stdout[result.stdout.index("python:"):])
    python = " ".join(found["python"])
    system = " ".join(found["system"])
    assert "pywinrm[kerberos]" in python and "pypsrp[kerberos]" in python
    assert "krb5-workstation [platform:rpm]" in system and "krb5-devel [compile platform:rpm]" in system
