"""The built tarball, installed as a new user installs it: a fresh virtual environment with ansible-core and
requirements.txt only, an empty collections path, no Galaxy server in reach; then its playbooks against the lab."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from tests.integration._ansible import ansible_env
from tests.integration._collection import REPO, build_tarball, fresh_venv, run

SCENARIO = REPO / "tests" / "lab" / "scenarios" / "soft_match_smtp_clean.yml"
# Where ansible-galaxy would look for dependencies: nothing listens there, so any attempt fails at once.
NO_GALAXY = "https://127.0.0.1:9/api/"
_RECAP = re.compile(r"^localhost\s*:\s*ok=\d+\s+changed=\d+\s+unreachable=(\d+)\s+failed=(\d+)", re.MULTILINE)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict:
    """The tarball, and a fresh venv and collections path where it is installed."""
    scratch = tmp_path_factory.mktemp("install")
    tarball = build_tarball(scratch / "dist")
    venv = fresh_venv(scratch / "venv", REPO / "requirements.txt")
    collections = scratch / "collections"
    env = {key: value for key, value in os.environ.items() if not key.startswith(("ANSIBLE_", "PYTHON"))}
    env.update(PATH=f"{venv / 'bin'}:{env.get('PATH', '')}", HOME=str(scratch), ANSIBLE_NOCOLOR="1",
               ANSIBLE_COLLECTIONS_PATH=str(collections), ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false",
               ANSIBLE_GALAXY_SERVER=NO_GALAXY, ANSIBLE_LOCALHOST_WARNING="false",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="false")
    install = run([str(venv / "bin" / "ansible-galaxy"), "collection", "install", str(tarball), "-p",
                   str(collections)], env=env)
    return {"tarball": tarball, "venv": venv, "collections": collections, "env": env, "install": install,
            "scratch": scratch}


def playbook(installed: dict, name: str, lab, variables: dict) -> subprocess.CompletedProcess:
    return run([str(installed["venv"] / "bin" / "ansible-playbook"), "-i", "localhost,", f"hybrid.identity.{name}",
                "-e", f"@{lab.vars_path}", "-e", json.dumps(variables)], env=installed["env"])


def recap(completed) -> tuple[int, int]:
    """(unreachable, failed) from the PLAY RECAP line."""
    match = _RECAP.search(completed.stdout)
    assert match, completed.stdout + completed.stderr
    return int(match.group(1)), int(match.group(2))


def test_tarball_installs_without_galaxy_into_an_empty_collections_path(installed):
    install = installed["install"]

    assert install.returncode == 0, install.stdout + install.stderr
    home = installed["collections"] / "ansible_collections"
    assert sorted(path.name for path in home.iterdir()) == ["hybrid"]
    manifest = json.loads((home / "hybrid" / "identity" / "MANIFEST.json").read_text())["collection_info"]
    assert manifest["dependencies"] == {}
    assert manifest["license"] == ["GPL-3.0-or-later"]
    assert all(manifest[link].startswith("https://") for link in ("repository", "documentation", "issues"))


def test_tarball_carries_the_license_and_changelog_and_leaves_the_lab_out(installed):
    with tarfile.open(installed["tarball"]) as archive:
        names = set(archive.getnames())

    assert {"LICENSE", "CHANGELOG.rst", "changelogs/changelog.yaml", "requirements.txt", "README.md"} <= names
    assert "GNU GENERAL PUBLIC LICENSE" in (REPO / "LICENSE").read_text()
    assert not [name for name in names if name.startswith(("tests/", "changelogs/fragments/", ".ci/"))]
    assert "playbooks/demo.yml" not in names
    assert {"playbooks/audit.yml", "playbooks/onboard.yml", "playbooks/align.yml", "playbooks/restore.yml"} <= names


def test_audit_playbook_runs_from_the_installed_collection(installed, lab, lab_vars):
    lab.load(SCENARIO)
    reports = installed["scratch"] / "reports"

    scope = {"soft_match_audit_search_base": lab_vars["lab_scenario_ou"], "soft_match_audit_report_dir": str(reports)}

    completed = playbook(installed, "audit", lab, scope)

    assert recap(completed) == (0, 0), completed.stdout + completed.stderr
    report = json.loads((reports / "soft_match_report.json").read_text())
    outcomes = [(row["onprem"]["sam_account_name"], row["outcome"]) for row in report["results"]]
    assert outcomes == [("alice", "soft_match_smtp")]


def test_demo_playbook_is_not_in_the_installed_collection(installed, lab):
    completed = playbook(installed, "demo", lab, {})

    assert completed.returncode != 0
    assert "hybrid.identity.demo" in completed.stdout + completed.stderr


def test_entra_connect_without_ansible_windows_fails_naming_it(installed, lab):
    play = [{"name": "Sync through Entra Connect", "hosts": "localhost", "gather_facts": False,
             "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}"},
             "roles": [{"role": "hybrid.identity.directory_sync",
                        "vars": {"directory_sync_method": "entra_connect",
                                 "directory_sync_connect_server": "connect01"}}]}]
    playbook_file = installed["scratch"] / "entra_connect.yml"
    playbook_file.write_text(json.dumps(play))

    completed = run([str(installed["venv"] / "bin" / "ansible-playbook"), "-i", "localhost,connect01,",
                     str(playbook_file)], env=installed["env"])

    output = completed.stdout + completed.stderr
    assert recap(completed) == (0, 1), output
    assert "the ansible.windows collection (3.1.0 or later) is not installed on this controller" in output
    assert "couldn't resolve module/action" not in output


def test_action_available_tells_installed_modules_from_missing_ones():
    names = ["ansible.windows.win_powershell", "ansible.builtin.copy", "hybrid.identity.soft_match_check",
             "no_such.collection.module", "hybrid.identity.no_such_module"]
    expression = json.dumps(names) + " | select('hybrid.identity.action_available') | list | to_json"
    completed = run([str(Path(sys.executable).with_name("ansible")), "localhost", "-m", "ansible.builtin.debug",
                     "-a", "msg={{ " + expression + " }}"], env=ansible_env())

    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert json.loads(completed.stdout.split("=>", 1)[1])["msg"] == (
        '["ansible.windows.win_powershell", "ansible.builtin.copy", "hybrid.identity.soft_match_check"]')
