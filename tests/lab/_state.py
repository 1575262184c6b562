"""The two files the lab shares with its users, one section or key set per service.

lab_vars.yml: connection settings for `ansible-playbook -e @lab_vars.yml` and the tests.
lab_state.json: what the last scenario created (DNs, GUIDs, ids), keyed by service name.
"""

from __future__ import annotations

import fcntl
import json
import os
from contextlib import contextmanager
from pathlib import Path

import yaml

VARS_FILE = "lab_vars.yml"
STATE_FILE = "lab_state.json"


def vars_path(lab_dir: Path | str) -> Path:
    return Path(lab_dir) / VARS_FILE


def state_path(lab_dir: Path | str) -> Path:
    return Path(lab_dir) / STATE_FILE


def read_vars(lab_dir: Path | str) -> dict:
    try:
        return yaml.safe_load(vars_path(lab_dir).read_text()) or {}
    except FileNotFoundError:
        return {}


def merge_vars(lab_dir: Path | str, new_vars: dict) -> dict:
    """Add or replace keys in lab_vars.yml, keeping the keys other services wrote."""
    with _locked(lab_dir):
        merged = {**read_vars(lab_dir), **new_vars}
        text = "# Lab connection settings, written by `python -m tests.lab up`.\n"
        text += yaml.safe_dump(merged, sort_keys=True, default_flow_style=False)
        _write_private(vars_path(lab_dir), text)
        return merged


def read_section(lab_dir: Path | str, name: str) -> dict:
    return _read_state(lab_dir).get(name) or {}


def write_section(lab_dir: Path | str, name: str, data: dict) -> None:
    with _locked(lab_dir):
        state = _read_state(lab_dir)
        state[name] = data
        _write_private(state_path(lab_dir), json.dumps(state, indent=2, sort_keys=True) + "\n")


def _read_state(lab_dir: Path | str) -> dict:
    try:
        return json.loads(state_path(lab_dir).read_text())
    except FileNotFoundError:
        return {}


@contextmanager
def _locked(lab_dir: Path | str):
    # Services may write their parts from separate processes.
    Path(lab_dir).mkdir(parents=True, exist_ok=True)
    with open(Path(lab_dir) / ".state.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _write_private(path: Path, text: str) -> None:
    # The files hold the lab's passwords and secrets: owner-only, replaced atomically.
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)
