# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The tenant's directory synchronization switches (rule book §6): read them, plan a change, apply it.

Internal to the collection; no stable API. ``requested_features`` and ``plan_features``
are pure; ``read_sync_settings`` and ``apply_features`` do the Graph calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote

from ansible_collections.hybrid.identity.plugins.module_utils.common._errors import (
    ConfigurationError,
    HybridIdentityError,
)

SYNC_SETTINGS_PATH = "/directory/onPremisesSynchronization"
READ_PERMISSION = "OnPremDirectorySynchronization.Read.All"
WRITE_PERMISSION = "OnPremDirectorySynchronization.ReadWrite.All"

# The properties of Graph's onPremisesDirectorySynchronizationFeature (v1.0), the switches a tenant has.
FEATURE_NAMES = (
    "blockCloudObjectTakeoverThroughHardMatchEnabled",
    "blockSoftMatchEnabled",
    "bypassDirSyncOverridesEnabled",
    "cloudPasswordPolicyForPasswordSyncedUsersEnabled",
    "concurrentCredentialUpdateEnabled",
    "concurrentOrgIdProvisioningEnabled",
    "deviceWritebackEnabled",
    "directoryExtensionsEnabled",
    "fopeConflictResolutionEnabled",
    "groupWriteBackEnabled",
    "passwordSyncEnabled",
    "passwordWritebackEnabled",
    "quarantineUponProxyAddressesConflictEnabled",
    "quarantineUponUpnConflictEnabled",
    "softMatchOnUpnEnabled",
    "synchronizeUpnForManagedUsersEnabled",
    "unifiedGroupWritebackEnabled",
    "userForcePasswordChangeOnLogonEnabled",
    "userWritebackEnabled",
)
# rule book §3: UPN soft match, once on, can't be turned off.
ONE_WAY_ON = frozenset({"softMatchOnUpnEnabled"})
# Graph's feature reference: this property isn't in use and updating it isn't supported.
NOT_UPDATABLE = frozenset({"passwordWritebackEnabled"})

_TRUE_WORDS = frozenset({"true", "yes", "on", "1"})
_FALSE_WORDS = frozenset({"false", "no", "off", "0"})


@dataclass(frozen=True)
class SyncSettings:
    """The tenant's onPremisesDirectorySynchronization object: its id and its switches."""

    settings_id: str
    features: dict[str, bool]


@dataclass(frozen=True)
class FeaturePlan:
    """The switches now, and the ones to PATCH (only those that differ)."""

    before: dict[str, bool]
    changes: dict[str, bool]

    @property
    def after(self) -> dict[str, bool]:
        return self.before | self.changes

    @property
    def changed(self) -> bool:
        return bool(self.changes)


def _as_bool(name: str, value) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE_WORDS:
        return True
    if text in _FALSE_WORDS:
        return False
    raise ConfigurationError(f"features.{name} is {value!r}, not true or false", hint=f"write {name}: true or false")


def requested_features(requested: Mapping | None) -> dict[str, bool]:
    """The switches asked for by name, as booleans; an unknown name is refused with the valid ones."""
    wanted = {}
    by_folded = {name.casefold(): name for name in FEATURE_NAMES}
    for given, value in (requested or {}).items():
        name = by_folded.get(str(given).casefold())
        if name is None:
            raise ConfigurationError(f"features names an unknown switch {given!r}",
                                     hint=f"valid switches: {', '.join(FEATURE_NAMES)}")
        wanted[name] = _as_bool(name, value)
    return wanted


def plan_features(current: Mapping[str, bool], requested: Mapping[str, bool]) -> FeaturePlan:
    """The PATCH that makes the switches ``requested``: only the ones that differ from ``current``."""
    before = {name: current[name] for name in FEATURE_NAMES if name in current}
    changes = {name: value for name, value in requested.items() if before.get(name) != value}
    for name, value in changes.items():
        if name in ONE_WAY_ON and before.get(name) and not value:
            raise ConfigurationError(f"{name} is on, and Microsoft does not allow turning it off",
                                     hint=f"leave {name} out of features (rule book §3)")
        if name in NOT_UPDATABLE:
            raise ConfigurationError(f"{name} can't be changed through Microsoft Graph",
                                     hint=f"leave {name} out of features; Graph documents it as not in use")
    return FeaturePlan(before, changes)


# --- over Graph ---------------------------------------------------------------------------


def read_sync_settings(client) -> SyncSettings:
    """The tenant's switches, from ``GET /directory/onPremisesSynchronization`` (a one-item collection)."""
    answer = client.get(SYNC_SETTINGS_PATH)
    entries = answer.get("value") if "value" in answer else [answer]
    if not entries or not isinstance(entries[0], Mapping):
        raise HybridIdentityError("Microsoft Graph returned no onPremisesDirectorySynchronization object",
                                  hint="the tenant has never been set up for directory synchronization")
    entry = entries[0]
    features = {name: bool(value) for name, value in (entry.get("features") or {}).items()
                if isinstance(value, bool)}
    return SyncSettings(str(entry.get("id") or ""), features)


def apply_features(client, settings: SyncSettings, changes: Mapping[str, bool]) -> None:
    """PATCH only ``changes``: Graph keeps every switch the body leaves out."""
    path = f"{SYNC_SETTINGS_PATH}/{quote(settings.settings_id, safe='')}" if settings.settings_id \
        else SYNC_SETTINGS_PATH
    client.send("PATCH", path, {"features": dict(changes)})
