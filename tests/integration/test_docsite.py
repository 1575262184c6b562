"""The antsibull-docs site (.ci/docsite.py): modules, roles and plugins, the guides and the playbooks, offline."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import pytest

from tests.integration._collection import REPO, run

# Offline, Sphinx can't fetch the intersphinx inventories, so references into docs.ansible.com stay unresolved.
_EXTERNAL = re.compile(r"failed to reach any of the inventories|intersphinx|inventory|"
                       r"undefined label: '(common_return_values|ansible_configuration_settings)'")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> tuple[Path, str]:
    if shutil.which("antsibull-docs", path=str(Path(sys.executable).parent)) is None:
        pytest.fail("antsibull-docs is not installed: `make venv` installs it (tests/requirements.txt)")
    dest = tmp_path_factory.mktemp("docsite")
    built = run([sys.executable, str(REPO / ".ci" / "docsite.py"), str(dest)], timeout=900)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    return dest / "site" / "build" / "html" / "collections" / "hybrid" / "identity", built.stdout + built.stderr


def test_the_site_builds_without_warnings_of_its_own(site):
    _html, log = site
    own = [line for line in log.splitlines()
           if re.search(r"\b(WARNING|ERROR)\b", line) and not _EXTERNAL.search(line)]
    assert own == []


def test_every_guide_and_the_playbooks_are_pages_linked_from_the_index(site):
    html, _log = site
    index = (html / "index.html").read_text()
    guides = sorted(path.stem for path in (REPO / "docs").glob("*.md"))
    for page in [*guides, "playbooks"]:
        assert (html / "docsite" / f"{page}.html").exists()
        assert f"docsite/{page}.html" in index
    playbooks = (html / "docsite" / "playbooks.html").read_text()
    assert all(f"hybrid.identity.{name}" in playbooks for name in ("audit", "align", "onboard", "restore"))
    assert "hybrid.identity.demo" not in playbooks


def test_the_index_links_the_repository_and_its_issues(site):
    html, _log = site
    index = (html / "index.html").read_text()
    assert 'href="https://github.com/hybrid-identity/hybrid.identity"' in index
    assert 'href="https://github.com/hybrid-identity/hybrid.identity/issues"' in index


def test_modules_roles_and_plugins_have_their_pages(site):
    html, _log = site
    for page in ("connection_check_module", "soft_match_check_module", "directory_sync_role", "action_available_test",
                 "immutable_id_filter"):
        assert (html / f"{page}.html").exists()
    assert "graph_auth.html#clouds" in (html / "docsite" / "cloud_user_lookup.html").read_text()
