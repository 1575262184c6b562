"""The collection as users get it: the built tarball, a fresh virtual environment, an empty collections path.

Python packages come from `make wheelhouse` (.build/wheelhouse): the lab's network namespace reaches no
package index, and a test must not depend on one.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
WHEELHOUSE = REPO / ".build" / "wheelhouse"


def run(command: list[str], env: dict | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout, check=False)


def build_tarball(output: Path) -> Path:
    built = run([str(Path(sys.executable).with_name("ansible-galaxy")), "collection", "build", str(REPO),
                 "--output-path", str(output)])
    assert built.returncode == 0, built.stdout + built.stderr
    [tarball] = output.glob("hybrid-identity-*.tar.gz")
    return tarball


def fresh_venv(path: Path, *requirement_files: Path) -> Path:
    """A new virtual environment with ansible-core and the requirement files, from the wheelhouse only."""
    if not (WHEELHOUSE / ".stamp").exists():
        pytest.fail("no wheelhouse: run `make wheelhouse` (outside the lab's network namespace) first")
    assert run([sys.executable, "-m", "venv", str(path)]).returncode == 0
    requirements = [argument for file in requirement_files for argument in ("-r", str(file))]
    pip = run([str(path / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", "--no-index",
               "--find-links", str(WHEELHOUSE), "ansible-core", *requirements])
    assert pip.returncode == 0, pip.stdout + pip.stderr
    return path
