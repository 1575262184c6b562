# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Microsoft Graph application permissions each module needs, and whether a token's roles hold them.

Internal to the collection; pure: no I/O, no Ansible. The lists follow each module's documentation (notes);
what a broader permission covers follows the permission tables of the Graph API reference (the least
privileged permission of each call, and the higher privileged ones it lists).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

_READ_TARGETS = ("User", "Group", "OrgContact", "Domain", "Organization", "Application")


@dataclass(frozen=True)
class Needs:
    """``required``: the module fails without them; ``optional``: what each other one is for."""

    required: tuple[str, ...] = ()
    optional: Mapping[str, str] = field(default_factory=dict)


_READS_THE_TENANT = {
    "Domain.Read.All": "the verified domains",
    "OnPremDirectorySynchronization.Read.All": "the tenant's sync switches",
    "RoleManagement.Read.Directory": "the directory admin roles that block a match",
    "Group.Read.All": "addresses held by groups",
    "OrgContact.Read.All": "addresses held by contacts",
}

MODULE_PERMISSIONS = {
    "soft_match_check": Needs(("User.Read.All",), _READS_THE_TENANT),
    "smtp_align": Needs(("User.Read.All",), _READS_THE_TENANT),
    "ad_user_from_cloud": Needs(("User.Read.All",), {
        name: _READS_THE_TENANT[name]
        for name in ("Domain.Read.All", "OnPremDirectorySynchronization.Read.All", "RoleManagement.Read.Directory")}),
    "cloud_user_lookup": Needs(("User.Read.All",), {"RoleManagement.Read.Directory": "include_roles"}),
    "directory_sync_verify": Needs(("User.Read.All",)),
    "directory_sync_features": Needs(("OnPremDirectorySynchronization.Read.All",), {
        "OnPremDirectorySynchronization.ReadWrite.All": "changing the switches"}),
    "cloud_sync_provision": Needs(("Synchronization.ReadWrite.All",), {
        "Application.Read.All": "finding the Cloud Sync service principal when service_principal_id is not given"}),
}


def _covering(permission: str) -> set[str]:
    """The permissions that grant ``permission``: itself, its ReadWrite form, and Directory.* for directory reads."""
    covering = {permission}
    resource, _dot, rest = permission.partition(".")
    if rest.startswith("Read."):
        covering.add(f"{resource}.ReadWrite.{rest[len('Read.'):]}")
    if permission == "RoleManagement.Read.Directory":
        covering |= {"RoleManagement.ReadWrite.Directory", "Directory.Read.All", "Directory.ReadWrite.All"}
    if resource in _READ_TARGETS and rest == "Read.All":
        covering |= {"Directory.Read.All", "Directory.ReadWrite.All"}
    if resource in _READ_TARGETS and rest == "ReadWrite.All":
        covering.add("Directory.ReadWrite.All")
    return covering


def held(permission: str, roles: Iterable[str]) -> bool:
    return bool(_covering(permission) & set(roles))


@dataclass(frozen=True)
class ModuleReadiness:
    module: str
    missing: tuple[str, ...]
    missing_optional: Mapping[str, str]

    @property
    def ready(self) -> bool:
        return not self.missing

    def as_dict(self) -> dict:
        return {"ready": self.ready, "missing": list(self.missing), "missing_optional": dict(self.missing_optional)}


def readiness(module: str, roles: Iterable[str]) -> ModuleReadiness:
    """What ``module`` lacks among the roles of a token."""
    roles = tuple(roles)
    needs = MODULE_PERMISSIONS[module]
    return ModuleReadiness(
        module,
        tuple(name for name in needs.required if not held(name, roles)),
        {name: purpose for name, purpose in needs.optional.items() if not held(name, roles)},
    )
