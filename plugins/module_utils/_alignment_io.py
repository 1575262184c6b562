# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reads and writes for smtp_align and ad_user_restore (internal to the collection; no stable API).

I/O only: one paged LDAP search for the scope, one paged Graph listing for the tenant, and
journaled writes, one modify per changed user over one connection. The decisions live in
`_pairing`, `_alignment` and `_journal`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from ansible_collections.hybrid.identity.plugins.module_utils._ad import (
    USER_ATTRIBUTES,
    AdSession,
    AdUser,
    AttributeChange,
    ConcurrentChange,
)
from ansible_collections.hybrid.identity.plugins.module_utils._ad_apply import WRITE_ATTEMPTS, write_plan
from ansible_collections.hybrid.identity.plugins.module_utils._anchor import guid_bytes
from ansible_collections.hybrid.identity.plugins.module_utils._errors import HybridIdentityError
from ansible_collections.hybrid.identity.plugins.module_utils._journal import append_records, record_for, state_of
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
from ansible_collections.hybrid.identity.plugins.module_utils._user_plan import UserPlan, UserRequest, plan_user

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


# --- journaled writes -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlannedWrite:
    user: AdUser
    request: UserRequest
    plan: UserPlan


@dataclass(slots=True)
class WriteReport:
    written: list[UserPlan] = field(default_factory=list)
    failed: list[tuple[UserPlan, HybridIdentityError]] = field(default_factory=list)
    journaled: int = 0  # records appended, re-plans included


def planned_writes(users: Mapping[str, AdUser], requests: Iterable[dict]) -> list[PlannedWrite]:
    """Each request planned against the user as read (requests name users by objectGUID)."""
    planned = []
    for params in requests:
        request = UserRequest.from_params(params)
        user = users[params["identity"]]
        planned.append(PlannedWrite(user, request, plan_user(user, request)))
    return planned


def write_journaled(ad: AdSession, writes: Sequence[PlannedWrite], journal_path: str, run_id: str) -> WriteReport:
    """Journal every change first, then write them one modify per user; one user's failure stops no other."""
    report = WriteReport()
    _journal(report, journal_path, [record_for(run_id, w.plan, w.user.object_guid) for w in writes if w.plan.changed])
    for write in writes:
        try:
            report.written.append(_write_one(ad, write, journal_path, run_id, report))
        except HybridIdentityError as err:
            report.failed.append((write.plan, err))
    return report


def _journal(report: WriteReport, journal_path: str, records: Sequence) -> None:
    append_records(journal_path, records)
    report.journaled += len(records)


def _write_one(ad: AdSession, write: PlannedWrite, journal_path: str, run_id: str, report: WriteReport) -> UserPlan:
    """Write; when the user changed since it was read, read it again, re-plan, journal the new plan, retry."""
    user, plan = write.user, write.plan
    for attempt in range(1, WRITE_ATTEMPTS + 1):
        try:
            return write_plan(ad, user, write.request, plan, attempts=1)
        except ConcurrentChange as err:
            if attempt == WRITE_ATTEMPTS:
                raise ConcurrentChange(
                    f"{plan.distinguished_name} kept changing while it was written ({WRITE_ATTEMPTS} attempts): {err}",
                    hint="find what else writes proxyAddresses on this user (a script, Exchange) and run again",
                ) from err
            user = ad.find_user(user.object_guid, USER_ATTRIBUTES)
            plan = plan_user(user, write.request)
            if plan.changed:
                # the re-planned write supersedes the first record of this run for the user
                _journal(report, journal_path, [record_for(run_id, plan, user.object_guid)])
    return plan


def write_restore(ad: AdSession, distinguished_name: str, changes: Iterable[tuple]) -> None:
    """One exact delete+add modify: a user changed in the meantime makes it fail, not get overwritten."""
    ad.modify(distinguished_name, [AttributeChange(*change) for change in changes])


def current_states(users: Mapping[str, AdUser]) -> dict[str, tuple[str, dict]]:
    return {guid: (user.distinguished_name, state_of(user)) for guid, user in users.items()}
