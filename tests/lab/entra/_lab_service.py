"""The emulator as a service of `tests.lab` (up, down, status, check, load) (internal).

`tests.lab` builds its services through a module-level `create_service(lab_dir)`; this
module provides one for the emulator. The server certificate comes from the lab CA
(`tests.lab._ca`), and `@ad:` references resolve to the source anchors the AD service
recorded when it loaded the same scenario (AD loads first).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

from tests.lab._errors import LabError

from . import EmulatorNotRunning, EntraEmulator
from ._cloud_scenario import ScenarioError, normalize_cloud, normalize_tenant

DEFAULT_PORT = 8443
SYNC_INTERVAL_VARIABLE = "HYBRID_LAB_SYNC_INTERVAL"   # seconds between scheduled syncs; unset or 0: off


class EntraError(LabError):
    pass


def _anchors_from_ad_state(lab_dir: Path) -> Callable[[str], str | None]:
    from tests.lab import _state
    from tests.lab._ad_loader import identity_from_state

    def anchor(sam: str) -> str | None:
        try:
            return identity_from_state(_state.read_section(lab_dir, "ad"), sam).source_anchor
        except KeyError:
            return None

    return anchor


class EntraService:
    name = "entra"

    def __init__(self, lab_dir: Path | str, port: int | None = None,
                 anchors: Callable[[str], str | None] | None = None):
        from tests.lab import _ca

        self.lab_dir = Path(lab_dir).resolve()
        self._ca = _ca
        self.port = port or int(os.environ.get("HYBRID_LAB_ENTRA_PORT") or DEFAULT_PORT)
        self.emulator = EntraEmulator(self.lab_dir, port=self.port, ca_cert=_ca.ca_cert_path(self.lab_dir))
        self._anchors = anchors or _anchors_from_ad_state(self.lab_dir)

    def up(self) -> dict:
        cert, key = self._ca.issue_server_cert(self.lab_dir, "entra")
        try:
            self.emulator.start(cert, key)
        except EmulatorNotRunning as err:
            raise EntraError(str(err)) from err
        interval = os.environ.get(SYNC_INTERVAL_VARIABLE)
        if interval:
            try:
                self.emulator.set_sync_schedule(float(interval))
            except ValueError as err:
                raise EntraError(f"{SYNC_INTERVAL_VARIABLE}={interval!r}: {err}") from err
        return self.emulator.vars()

    def down(self, purge: bool = False) -> None:
        self.emulator.stop()
        if purge:
            shutil.rmtree(self.emulator.home, ignore_errors=True)

    def status(self) -> tuple[bool, str]:
        if self.emulator.healthy():
            return True, f"running, HTTPS verified on {self.emulator.base_url}"
        return False, "stopped (or not answering)"

    def check(self, scenario: dict) -> None:
        """Fail on a bad `tenant:`/`cloud:` part before any service changes anything."""
        try:
            tenant = normalize_tenant(scenario.get("tenant"))
            normalize_cloud(scenario.get("cloud"), tenant, lambda sam: f"@ad:{sam}")  # anchors come later
        except ScenarioError as err:
            raise EntraError(str(err)) from err

    def load(self, scenario: dict) -> dict:
        try:
            return self.emulator.load(scenario, self._anchors)["loaded"]
        except (EmulatorNotRunning, OSError) as err:
            raise EntraError(f"the Entra emulator does not answer ({err}): run `python -m tests.lab up`") from err
        except ValueError as err:
            raise EntraError(str(err)) from err


def create_service(lab_dir: Path | str) -> EntraService:
    return EntraService(lab_dir)
