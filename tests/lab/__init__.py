"""The lab: real protocol peers on loopback for the tests and the demo.

    from tests.lab import Lab
    lab = Lab.from_env()          # $HYBRID_LAB_DIR, default <repo>/.lab
    lab.up()                      # start (provision, install) what is missing; returns lab_vars
    lab.load("tests/lab/scenarios/basic.yml")
    lab.ad_anchor("alice")        # AdIdentity(dn, object_guid, source_anchor)

A service is a module listed in SERVICE_MODULES with `create_service(lab_dir)` returning an
object with `name`, `up() -> dict` (its lab_vars.yml keys), `down(purge=False)`,
`status() -> (healthy, text)`, `load(scenario: dict) -> dict` (summary) and optionally
`check(scenario)` (validate before any service loads). Services run in the listed order
(AD first: the cloud side refers to AD users) and stop in reverse. A listed module that
is not there yet is skipped.
"""

from __future__ import annotations

import fcntl
import importlib
import os
import shutil
import time
from collections.abc import Mapping
from contextlib import contextmanager
from pathlib import Path

from tests.lab import _ca, _state
from tests.lab._ad_loader import AdIdentity, LoadError, identity_from_state
from tests.lab._errors import LabError
from tests.lab._scenario import ScenarioError, read_scenario

__all__ = ["AdIdentity", "Lab", "LabError", "LoadError", "ScenarioError"]

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVICE_MODULES = ("tests.lab._samba", "tests.lab.entra")


class Lab:
    def __init__(self, lab_dir: Path | str):
        self.lab_dir = Path(lab_dir).resolve()
        self._services = None

    @classmethod
    def from_env(cls) -> Lab:
        return cls(os.environ.get("HYBRID_LAB_DIR") or REPO_ROOT / ".lab")

    @property
    def services(self) -> list:
        if self._services is None:
            self._services = [m.create_service(self.lab_dir) for m in _service_modules()]
        return self._services

    def service(self, name: str):
        return next(s for s in self.services if s.name == name)

    # --- lifecycle ----------------------------------------------------------------

    def up(self) -> dict:
        """Bring every service up (reusing healthy ones) and write lab_vars.yml; return its content."""
        with self._locked():
            _ca.ensure_ca(self.lab_dir)
            collected = {}
            for service in self.services:
                collected.update(service.up())
            return _state.merge_vars(self.lab_dir, collected)

    def down(self, purge: bool = False) -> None:
        """Stop every service; with purge also delete the lab's files (CA, vars, state, databases)."""
        with self._locked():
            for service in reversed(self.services):
                service.down(purge=purge)
            if purge:
                shutil.rmtree(_ca.tls_dir(self.lab_dir), ignore_errors=True)
                for path in (_state.vars_path(self.lab_dir), _state.state_path(self.lab_dir)):
                    path.unlink(missing_ok=True)
        if purge:
            for name in (".lock", ".state.lock"):
                (self.lab_dir / name).unlink(missing_ok=True)
            if self.lab_dir.exists() and not any(self.lab_dir.iterdir()):
                self.lab_dir.rmdir()

    def status(self) -> dict[str, tuple[bool, str]]:
        return {service.name: service.status() for service in self.services}

    def healthy(self) -> bool:
        return all(ok for ok, _text in self.status().values())

    # --- scenarios ----------------------------------------------------------------

    def load(self, scenario: str | Path | Mapping) -> dict:
        """Replace the lab's content with a scenario (file path or dict); return a summary per service."""
        parsed = read_scenario(scenario)
        with self._locked():
            for service in self.services:
                if hasattr(service, "check"):
                    service.check(parsed)
            started = time.monotonic()
            summary = {service.name: service.load(parsed) for service in self.services}
            summary["seconds"] = round(time.monotonic() - started, 2)
            return summary

    # --- what tests read ----------------------------------------------------------

    @property
    def vars(self) -> dict:
        """The content of lab_vars.yml."""
        return _state.read_vars(self.lab_dir)

    @property
    def vars_path(self) -> Path:
        return _state.vars_path(self.lab_dir)

    @property
    def ca_cert(self) -> Path:
        return _ca.ca_cert_path(self.lab_dir)

    def state(self, service: str) -> dict:
        """What the last load recorded for a service (lab_state.json)."""
        return _state.read_section(self.lab_dir, service)

    def ad_anchor(self, sam_account_name: str) -> AdIdentity:
        """DN, objectGUID and source anchor of a user the last scenario loaded into AD."""
        return identity_from_state(self.state("ad"), sam_account_name)

    def ad_identities(self) -> dict[str, AdIdentity]:
        ad_state = self.state("ad")
        return {sam: identity_from_state(ad_state, sam) for sam in ad_state.get("users") or {}}

    def ad_connection(self):
        """A bound ldap3 admin connection to the lab AD over verified LDAPS."""
        return self.service("ad").connect()

    @contextmanager
    def _locked(self):
        # One `up`, `down` or `load` at a time per lab directory, across processes.
        self.lab_dir.mkdir(parents=True, exist_ok=True)
        with open(self.lab_dir / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield


def _service_modules() -> list:
    modules = []
    for name in SERVICE_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name == name:
                continue  # a service that is not written yet
            raise
        if hasattr(module, "create_service"):
            modules.append(module)
    return modules
