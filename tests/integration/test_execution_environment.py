"""The execution environment files (meta/execution-environment.yml, meta/ee-requirements.txt, meta/ee-bindep.txt).

ansible-builder creates a build context from tests/ee/execution-environment.yml and reads the installed
collection's EE metadata; no image is built (that needs a container runtime). The EE's Python requirements
install into a fresh virtual environment, where every module then imports with all it can use.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
import yaml

from tests.integration._collection import REPO, build_tarball, fresh_venv, run

EE_DEFINITION = REPO / "tests" / "ee" / "execution-environment.yml"
EE_REQUIREMENTS = REPO / "meta" / "ee-requirements.txt"
EE_BINDEP = REPO / "meta" / "ee-bindep.txt"


def entries(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]


@pytest.fixture(scope="module")
def builder() -> str:
    found = shutil.which("ansible-builder", path=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}")
    if found is None:
        pytest.fail("ansible-builder is not installed: `make venv` installs it (tests/requirements.txt)")
    return found


@pytest.fixture(scope="module")
def collections(tmp_path_factory) -> Path:
    """The built tarball installed into an empty collections path."""
    scratch = tmp_path_factory.mktemp("ee")
    tarball = build_tarball(scratch / "dist")
    # Not pytest's collections path (tests/conftest.py), where the working tree already is hybrid.identity.
    clean = {key: value for key, value in os.environ.items() if not key.startswith("ANSIBLE_")}
    installed = run([str(Path(sys.executable).with_name("ansible-galaxy")), "collection", "install", str(tarball),
                     "-p", str(scratch / "collections")], env=clean)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return scratch / "collections"


def test_ansible_builder_creates_the_build_context(builder, tmp_path):
    created = run([builder, "create", "-f", str(EE_DEFINITION), "-c", str(tmp_path / "context")])

    assert created.returncode == 0, created.stdout + created.stderr
    build = tmp_path / "context" / "_build"
    assert entries(build / "requirements.txt") == entries(EE_REQUIREMENTS)
    assert entries(build / "bindep.txt") == entries(EE_BINDEP)
    assert yaml.safe_load((build / "requirements.yml").read_text()) == {"collections": [{"name": "hybrid.identity"}]}
    [image_file] = [path for path in (tmp_path / "context").iterdir() if path.name in ("Containerfile", "Dockerfile")]
    assert "COPY _build/bindep.txt bindep.txt" in image_file.read_text()


def test_ansible_builder_reads_the_installed_collections_ee_metadata(builder, collections):
    introspected = run([builder, "introspect", str(collections)])

    assert introspected.returncode == 0, introspected.stdout + introspected.stderr
    found = yaml.safe_load(introspected.stdout)
    origin = "  # from collection hybrid.identity"
    assert found["python"] == [entry + origin for entry in entries(EE_REQUIREMENTS)]
    assert found["system"] == [entry + origin for entry in entries(EE_BINDEP)]
    assert {"gssapi>=1.8", "pycryptodome>=3.9", "pywinrm>=0.4"} <= set(entries(EE_REQUIREMENTS))
    assert {"krb5-user [platform:dpkg]", "krb5-workstation [platform:rpm]"} <= set(entries(EE_BINDEP))


IMPORT_EVERYTHING = """
import importlib, pathlib, sys
root = pathlib.Path(sys.argv[1]) / "ansible_collections" / "hybrid" / "identity" / "plugins" / "modules"
for module in sorted(path.stem for path in root.glob("*.py")):
    importlib.import_module(f"ansible_collections.hybrid.identity.plugins.modules.{module}")
from ansible_collections.hybrid.identity.plugins.module_utils.ad import _ad, _ad_bind
from ansible_collections.hybrid.identity.plugins.module_utils.graph import _graph
assert _ad.LDAP3_IMPORT_ERROR is None and _graph.GRAPH_IMPORT_ERROR is None
assert _ad_bind.md4_available()
import gssapi, winrm, pypsrp  # Kerberos binds; ansible.windows over WinRM and PSRP
print("imported", len(list(root.glob("*.py"))), "modules")
"""


def test_the_ee_python_requirements_install_and_every_module_imports(collections, tmp_path):
    venv = fresh_venv(tmp_path / "venv", EE_REQUIREMENTS)

    imported = run([str(venv / "bin" / "python"), "-c", IMPORT_EVERYTHING, str(collections)],
                   env={"PYTHONPATH": str(collections), "PATH": os.environ["PATH"]})

    assert imported.returncode == 0, imported.stdout + imported.stderr
    modules = len(list((REPO / "plugins" / "modules").glob("*.py")))
    assert imported.stdout.strip() == f"imported {modules} modules"
