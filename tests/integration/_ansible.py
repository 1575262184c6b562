"""Run the collection's modules through Ansible itself, as a user would."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
COLLECTIONS = REPO / ".build" / "collections"
_RESULT_LINE = re.compile(r"^localhost \| (\w+)!?(?: \| rc=-?\d+)? => ", re.MULTILINE)


def ansible_env() -> dict:
    env = dict(os.environ)
    env.update(
        ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS),
        ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false",
        ANSIBLE_PYTHON_INTERPRETER=sys.executable,
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_LOCALHOST_WARNING="false",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
        ANSIBLE_DEPRECATION_WARNINGS="false",
    )
    return env


def run_module(module: str, args: dict, check: bool = False, diff: bool = False) -> tuple[str, dict, str]:
    """Run one module ad hoc on localhost; returns (status, result, whole output)."""
    command = [
        str(Path(sys.executable).with_name("ansible")),
        "localhost",
        "-i",
        "localhost,",
        "-c",
        "local",
        "-m",
        f"hybrid.identity.{module}",
        "-a",
        json.dumps(args),
    ]
    if check:
        command.append("--check")
    if diff:
        command.append("--diff")
    completed = subprocess.run(command, capture_output=True, text=True, env=ansible_env(), timeout=300, check=False)
    output = completed.stdout + completed.stderr
    matches = list(_RESULT_LINE.finditer(completed.stdout))
    if not matches:
        raise AssertionError(f"no result from ansible:\n{output}")
    last = matches[-1]
    return last.group(1), json.loads(completed.stdout[last.end() :]), output


def run_playbook(plays: list, extra_vars_files: tuple = (), check: bool = False, inventory: str = "localhost,",
                 forks: int | None = None) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as scratch:
        playbook = Path(scratch) / "play.yml"
        playbook.write_text(yaml.safe_dump(plays, sort_keys=False))
        command = [str(Path(sys.executable).with_name("ansible-playbook")), "-i", inventory, "-c", "local"]
        if forks:
            command += ["--forks", str(forks)]
        for path in extra_vars_files:
            command += ["-e", f"@{path}"]
        if check:
            command.append("--check")
        command.append(str(playbook))
        return subprocess.run(command, capture_output=True, text=True, env=ansible_env(), timeout=600, check=False)


def start_playbook(plays: list, scratch: Path, extra_vars_files: tuple = ()) -> subprocess.Popen:
    """Start ansible-playbook without waiting for it, in a session of its own, apart from the terminal of pytest."""
    playbook = Path(scratch) / "play.yml"
    playbook.write_text(yaml.safe_dump(plays, sort_keys=False))
    command = [str(Path(sys.executable).with_name("ansible-playbook")), "-i", "localhost,", "-c", "local"]
    for path in extra_vars_files:
        command += ["-e", f"@{path}"]
    command.append(str(playbook))
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=ansible_env(),
                            start_new_session=True)


def task_result(
    task: dict, extra_vars_files: tuple = (), check: bool = False
) -> tuple[subprocess.CompletedProcess, dict]:
    """Run one task in a real play on localhost; returns the process and the task's registered result."""
    with tempfile.TemporaryDirectory() as scratch:
        result_file = Path(scratch) / "result.json"
        play = {
            "name": "Run one task and keep its result",
            "hosts": "localhost",
            "gather_facts": False,
            "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}"},
            "tasks": [
                task | {"register": "task_result", "ignore_errors": True},
                {
                    "name": "Keep the result",
                    "ansible.builtin.copy": {"content": "{{ task_result | to_json }}", "dest": str(result_file)},
                    "check_mode": False,
                },
            ],
        }
        completed = run_playbook([play], extra_vars_files=extra_vars_files, check=check)
        if not result_file.exists():
            raise AssertionError(f"the play kept no result:\n{completed.stdout}\n{completed.stderr}")
        return completed, json.loads(result_file.read_text())
