# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Gather what the predictor needs: one paged LDAP search, one paged Graph listing.

Internal to the collection; no stable API. I/O only: every reader returns plain dicts
for ``_matching``. Reads the predictor can live without (tenant switches, domains,
roles, groups) turn a missing permission into a warning that says how to give the
value instead; the users themselves can't be guessed, so their errors stand.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from ansible_collections.hybrid.identity.plugins.module_utils._cloud_users import read_admin_roles
from ansible_collections.hybrid.identity.plugins.module_utils._graph_errors import MissingPermission

ONPREM_ATTRIBUTES = (
    "userPrincipalName",
    "mail",
    "proxyAddresses",
    "mailNickname",
    "mS-DS-ConsistencyGuid",
    "isCriticalSystemObject",
    "displayName",
    "employeeID",
)
# rule book §8: proxyAddresses and the onPremises* properties come only when selected.
CLOUD_USER_SELECT = (
    "id,userPrincipalName,mail,proxyAddresses,onPremisesImmutableId,onPremisesSyncEnabled,"
    "onPremisesLastSyncDateTime,displayName,employeeId"
)
MAIL_OBJECT_SELECT = "id,displayName,mail,proxyAddresses"
PAGE_SIZE = "999"  # rule book §8: the most Graph gives in one page


def read_onprem_users(ad, search_base: str | None, ldap_filter: str | None) -> list[dict]:
    """Every user in scope, as the predictor reads them (objectGUID as its GUID string)."""
    return [onprem_record(user) for user in ad.scan(ONPREM_ATTRIBUTES, search_base=search_base,
                                                    ldap_filter=ldap_filter)]


def onprem_record(user) -> dict:
    """An AD user (``_ad.AdUser``) as the predictor and the pairing read it."""
    return {
        "distinguishedName": user.distinguished_name,
        "sAMAccountName": user.sam_account_name,
        "userPrincipalName": user.user_principal_name,
        "mail": user.mail,
        "proxyAddresses": list(user.proxy_addresses),
        "objectGUID": user.object_guid,
        "mS-DS-ConsistencyGuid": user.consistency_guid,
        "mailNickname": user.mail_nickname,
        # LDAP answers 'TRUE' or 'FALSE' (a non-empty string either way): the record parses it.
        "isCriticalSystemObject": _first(user.extra.get("isCriticalSystemObject")),
        "displayName": _first(user.extra.get("displayName")),
        "employeeID": _first(user.extra.get("employeeID")),
    }


def read_cloud_users(client) -> list[dict]:
    """The whole tenant's users in one paged listing, joined locally (no per-user calls)."""
    params = {"$select": CLOUD_USER_SELECT, "$top": PAGE_SIZE}
    return [user for page in client.pages("/users", params) for user in page]


class CloudReader:
    """The optional reads, each turning a missing permission into a warning."""

    def __init__(self, client) -> None:
        self.client = client
        self.warnings: list[str] = []

    def mail_objects(self) -> list[dict]:
        """Mail-enabled groups and contacts, which hold addresses users can't take (rule book §4)."""
        groups = self._optional(
            lambda: self._listing("/groups", "group"),
            "mail-enabled groups",
            "Group.Read.All",
            "give them as cloud_objects",
            default=[],
        )
        contacts = self._optional(
            lambda: self._listing("/contacts", "contact"),
            "organizational contacts",
            "OrgContact.Read.All",
            "give them as cloud_objects",
            default=[],
        )
        return groups + contacts

    def domains(self) -> tuple[str | None, list[str]] | None:
        """(initial domain, verified domains) from /domains, or None when it can't be read."""

        def read():
            domains = [domain for page in self.client.pages("/domains") for domain in page]
            initial = next((domain["id"] for domain in domains if domain.get("isInitial")), None)
            return initial, [domain["id"] for domain in domains if domain.get("isVerified")]

        return self._optional(
            read, "the verified domains", "Domain.Read.All", "give verified_domains and initial_domain"
        )

    def features(self) -> dict | None:
        """The tenant's synchronization switches (rule book §6), or None when they can't be read."""

        def read():
            answer = self.client.get("/directory/onPremisesSynchronization")
            entries = answer.get("value") or [answer]
            return dict(entries[0].get("features") or {}) if entries else {}

        return self._optional(
            read,
            "the tenant's synchronization switches",
            "OnPremDirectorySynchronization.Read.All",
            "give features (rule book §6 names them)",
        )

    def admin_roles(self) -> dict[str, list[str]] | None:
        return self._optional(
            lambda: read_admin_roles(self.client),
            "the directory role assignments",
            "RoleManagement.Read.Directory",
            "give admin_role_holders",
        )

    def _listing(self, path: str, kind: str) -> list[dict]:
        params = {"$select": MAIL_OBJECT_SELECT, "$top": PAGE_SIZE}
        return [
            dict(item, kind=kind)
            for page in self.client.pages(path, params)
            for item in page
            if item.get("mail") or item.get("proxyAddresses")
        ]

    def _optional(self, read: Callable, what: str, permission: str, instead: str, default=None):
        try:
            return read()
        except MissingPermission as err:
            self.warnings.append(
                f"Could not read {what}: the application lacks {err.permission or permission}. "
                f"Grant it, or {instead}; until then the prediction assumes Microsoft's defaults."
            )
            return default


def merge_tenant(given: Mapping, read_domains, read_features) -> dict:
    """The tenant as the predictor takes it: what the user gave wins over what was read."""
    initial, verified = read_domains if read_domains else (None, [])
    return {
        "initial_domain": given.get("initial_domain") or initial,
        "verified_domains": list(given.get("verified_domains") or verified),
        "features": dict(read_features or {}) | dict(given.get("features") or {}),
    }


def with_admin_roles(cloud_users: list[dict], roles: Mapping[str, list[str]], holders) -> list[dict]:
    """Cloud users with ``admin_roles`` filled from role assignments and the stated holders."""
    stated = {holder.lower() for holder in holders or ()}
    joined = []
    for user in cloud_users:
        names = list(roles.get(user.get("id"), ())) if roles else list(user.get("admin_roles") or ())
        if stated & {str(user.get("id", "")).lower(), str(user.get("userPrincipalName", "")).lower()}:
            names.append("(stated by admin_role_holders)")
        joined.append(dict(user, admin_roles=names))
    return joined


def _first(value):
    if isinstance(value, list):
        return value[0] if value else None
    return value
