# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reads for smtp_align and ad_user_restore (internal to the collection; no stable API).

I/O only: one paged LDAP search for the scope, one paged Graph listing for the tenant. The
journaled writes are in `_journaled_writes`; the decisions live in `_pairing`, `_alignment`
and `_journal`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from ansible_collections.hybrid.identity.plugins.module_utils._ad import (
    USER_ATTRIBUTES,
    AdSession,
    AdUser,
)
from ansible_collections.hybrid.identity.plugins.module_utils._anchor import guid_bytes
from ansible_collections.hybrid.identity.plugins.module_utils._matching_model import OnPremUser
from ansible_collections.hybrid.identity.plugins.module_utils._pairing import CloudEntry
from ansible_collections.hybrid.identity.plugins.module_utils._soft_match_inputs import (
    ONPREM_ATTRIBUTES,
    CloudReader,
    merge_tenant,
    onprem_record,
    read_cloud_users,
    with_admin_roles,
)

SCOPE_ATTRIBUTES = tuple(dict.fromkeys(USER_ATTRIBUTES + ONPREM_ATTRIBUTES))
GUIDS_PER_SEARCH = 100


def onprem_user(user: AdUser) -> OnPremUser:
    """An AD user as the predictor and the pairing read it."""
    return OnPremUser.from_dict(onprem_record(user))


def read_scope(ad: AdSession, search_base: str | None, ldap_filter: str | None) -> list[AdUser]:
    """Every user in scope, in one paged search, with what planning, writing and predicting need."""
    return list(ad.scan(SCOPE_ATTRIBUTES, search_base=search_base or ad.base_dn, ldap_filter=ldap_filter))


def _guid_filter(guids: Sequence[str]) -> str:
    # objectGUID is matched on its 16 stored bytes, each escaped as \hh (RFC 4515)
    terms = ["(objectGUID=" + "".join(f"\\{byte:02x}" for byte in guid_bytes(guid)) + ")" for guid in guids]
    return f"(|{''.join(terms)})"


def users_by_guid(ad: AdSession, guids: Iterable[str]) -> dict[str, AdUser]:
    """The users with these objectGUIDs anywhere in the domain, a hundred per search."""
    wanted = list(dict.fromkeys(guids))
    found = {}
    for start in range(0, len(wanted), GUIDS_PER_SEARCH):
        for user in ad.scan(USER_ATTRIBUTES, search_base=ad.base_dn,
                            ldap_filter=_guid_filter(wanted[start:start + GUIDS_PER_SEARCH])):
            found[user.object_guid] = user
    return found


# --- the cloud ------------------------------------------------------------------------------


@dataclass(slots=True)
class CloudSide:
    entries: list[CloudEntry]
    records: list[dict]
    objects: list[dict]
    tenant: dict
    warnings: list[str] = field(default_factory=list)


def read_cloud_side(client, params: Mapping) -> CloudSide:
    """The whole tenant in one paged listing, with roles, groups and contacts, joined locally (rule book §8)."""
    reader = CloudReader(client)
    records = with_admin_roles(read_cloud_users(client, "warn", reader.warnings), reader.admin_roles(),
                               params.get("admin_role_holders"))
    objects = reader.mail_objects()
    given_domains = params.get("verified_domains") and params.get("initial_domain")
    domains = None if given_domains else reader.domains()
    tenant = merge_tenant(params, domains, reader.features())
    return CloudSide([CloudEntry.of(record) for record in records], records, objects, tenant, reader.warnings)
