# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Gather what the predictor needs: one paged LDAP search, one paged Graph listing.

Internal to the collection; no stable API. I/O only, apart from `domains_seen`, which is
pure: every reader returns plain dicts for ``_matching``. Reads the predictor can live
without (tenant switches, domains, roles, groups) turn a missing permission into a
warning that says what the prediction assumes instead and how to give the value; the
users themselves can't be guessed, so their errors stand.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import partial

from ansible_collections.hybrid.identity.plugins.module_utils.ad._ad import batched_scan, batched_scan_of_new_session
from ansible_collections.hybrid.identity.plugins.module_utils.common._child_batches import ChildBatches, can_fork
from ansible_collections.hybrid.identity.plugins.module_utils.graph._cloud_users import list_users, read_admin_roles
from ansible_collections.hybrid.identity.plugins.module_utils.graph._graph_errors import MissingPermission
from ansible_collections.hybrid.identity.plugins.module_utils.matching._matching_model import OnPremUser

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
    "onPremisesLastSyncDateTime,displayName,employeeId,assignedPlans"
)
MAIL_OBJECT_SELECT = "id,displayName,mail,proxyAddresses"
# rule book §9.12: soft-deleted users (kept 30 days) come back by hard match; nothing else of theirs counts.
DELETED_USERS = "/directory/deletedItems/microsoft.graph.user"
PAGE_SIZE = "999"  # rule book §8: the most Graph gives in one page


def read_onprem_users(ad, search_base: str | None, ldap_filter: str | None) -> list[dict]:
    """Every user in scope, as the predictor reads them (objectGUID as its GUID string)."""
    return [onprem_record(user) for user in ad.scan(ONPREM_ATTRIBUTES, search_base=search_base,
                                                    ldap_filter=ldap_filter)]


# Users handed over at a time by OnPremReader: about a page, so the queue is touched once per few hundred users
HANDOVER = 500
_END = object()


class OnPremReader:
    """The scope read beside the caller and handed over as it arrives, each user as the predictor's value.

    A domain controller spends most of a paged search computing each page, and ldap3 the rest decoding it
    in Python. Read in the caller's thread, every page waits for the caller to finish with the one before.
    Here the next page is on the wire while the caller builds the cloud index and decides the users already
    received: in a forked child process with an AD session of its own (``in_child``, the default where the
    platform forks), so that the decoding runs on another core, or else in a thread of this process. Make
    the reader before starting other threads (the child is forked from the caller's thread). Iterate once;
    `count` is the number of users handed over. In a thread, the AD session must not be used by anyone else
    until `close`.
    """

    def __init__(self, ad, search_base: str | None, ldap_filter: str | None, in_child: bool | None = None) -> None:
        self.count = 0
        self._handed: queue.SimpleQueue = queue.SimpleQueue()
        self._stop = threading.Event()
        self._failure: BaseException | None = None
        scan = (ONPREM_ATTRIBUTES, search_base, ldap_filter, onprem_user, HANDOVER)
        if in_child if in_child is not None else can_fork():
            # the child binds again, to the domain controller this session found
            batches = ChildBatches(partial(batched_scan_of_new_session, ad.settings, *scan),
                                   f"the read of {search_base or 'the domain'}")
        else:
            batches = batched_scan(ad, *scan)
        self._thread = threading.Thread(target=self._read, args=(batches,), name="ldap", daemon=True)
        self._thread.start()

    def _read(self, batches) -> None:
        try:
            with contextlib.closing(batches):
                for users in batches:
                    self._handed.put(users)
                    if self._stop.is_set():
                        return
        except BaseException as err:  # pylint: disable=broad-exception-caught
            # handed to the caller's thread, which raises it where the users are read
            self._failure = err
        finally:
            self._handed.put(_END)

    def __iter__(self) -> Iterator[OnPremUser]:
        while True:
            users = self._handed.get()
            if users is _END:
                break
            self.count += len(users)
            yield from users
        if self._failure is not None:
            raise self._failure

    def failure(self) -> BaseException | None:
        """Wait for the read to end; what it failed with, or None."""
        self._thread.join()
        return self._failure

    def wait_for(self, future):
        """`future`'s result; when it fails and the read fails too, the read's error, as reading AD first gave it."""
        try:
            return future.result()
        except BaseException:
            failure = self.failure()
            if failure is not None:
                raise failure from None
            raise

    def close(self) -> None:
        """Stop reading (at the next handover) and wait for the thread, so the session may be closed."""
        self._stop.set()
        self._thread.join()

    def __enter__(self) -> OnPremReader:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def onprem_user(user) -> OnPremUser:
    """An AD user (``_ad.AdUser``) as the predictor and the pairing read it."""
    return OnPremUser.from_dict(onprem_record(user))


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


def read_cloud_users(client, count_check: str = "warn", warnings: list[str] | None = None,
                     parallel: int = 1) -> list[dict]:
    """The whole tenant's users in paged listings (``parallel`` side by side on a large tenant), joined locally
    (no per-user calls), checked against ``$count`` as ``count_check`` says (a mismatch goes into ``warnings``)."""
    return list_users(client, CLOUD_USER_SELECT, count_check, [] if warnings is None else warnings, parallel)


class CloudReader:
    """The optional reads, each turning a missing permission into a warning in ``warnings``."""

    def __init__(self, client, warnings: list[str] | None = None) -> None:
        self.client = client
        # shared with the caller, so warnings survive a later failure of the run
        self.warnings: list[str] = [] if warnings is None else warnings

    def mail_objects(self) -> list[dict]:
        """Mail-enabled groups and contacts, which hold addresses users can't take (rule book §4)."""
        groups = self._optional(
            lambda: self._listing("/groups", "group"),
            "the mail-enabled groups",
            "Group.Read.All",
            "give the groups and contacts as cloud_objects",
            "no group holds an address",
            default=[],
        )
        contacts = self._optional(
            lambda: self._listing("/contacts", "contact"),
            "the organizational contacts",
            "OrgContact.Read.All",
            "give the groups and contacts as cloud_objects",
            "no contact holds an address",
            default=[],
        )
        return groups + contacts

    def deleted_users(self) -> list[dict]:
        """The tenant's soft-deleted users, each with its ``deletedDateTime`` (rule book §9.12)."""
        params = {"$select": f"{CLOUD_USER_SELECT},deletedDateTime", "$top": PAGE_SIZE}

        def read():
            return [dict(user, deletedDateTime=user.get("deletedDateTime") or "(deleted)")
                    for page in self.client.pages(DELETED_USERS, params) for user in page]

        return self._optional(
            read,
            "the soft-deleted users",
            "User.Read.All",
            "give them in cloud_users, each with its deletedDateTime",
            "no soft-deleted user is restored by the sync",
            default=[],
        )

    def domains(self, cloud_users: Iterable[Mapping] | None = None, tenant_id: str | None = None
                ) -> tuple[str | None, list[str]] | None:
        """(initial domain, verified domains) from /domains. When that can't be read: what `cloud_users` show
        (see `domains_seen`), or None without them."""
        try:
            domains = [domain for page in self.client.pages("/domains") for domain in page]
        except MissingPermission as err:
            grant = f"Could not read the verified domains: {_lacks(err, 'Domain.Read.All')} Grant it, or give " \
                    "verified_domains and initial_domain"
            if cloud_users is None:
                self.warnings.append(f"{grant}; until then no domain but the initial one counts as verified.")
                return None
            initial, verified = domains_seen(cloud_users, tenant_id)
            if initial:
                seen = f"the initial domain {initial}"
            else:
                seen = "no initial domain (no cloud user holds a <name>.onmicrosoft.com UPN or address)"
            self.warnings.append(
                f"{grant}; until then they are taken from the cloud users listed: {seen}, and as verified the UPN "
                f"suffixes they sign in with ({', '.join(verified) or 'none'}). An on-prem UPN or address in a "
                "verified domain no cloud user signs in with is predicted as unverified."
            )
            return initial, verified
        initial = next((domain["id"] for domain in domains if domain.get("isInitial")), None)
        return initial, [domain["id"] for domain in domains if domain.get("isVerified")]

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
            "each switch has Microsoft's default (soft match and UPN match on, no block, quarantine on)",
        )

    def admin_roles(self) -> dict[str, list[str]] | None:
        return self._optional(
            lambda: read_admin_roles(self.client),
            "the directory role assignments",
            "RoleManagement.Read.Directory",
            "give the administrators as admin_role_holders",
            "no cloud user holds an admin role",
        )

    def _listing(self, path: str, kind: str) -> list[dict]:
        params = {"$select": MAIL_OBJECT_SELECT, "$top": PAGE_SIZE}
        return [
            dict(item, kind=kind)
            for page in self.client.pages(path, params)
            for item in page
            if item.get("mail") or item.get("proxyAddresses")
        ]

    def _optional(self, read: Callable, what: str, permission: str, instead: str, assumed: str, default=None):
        try:
            return read()
        except MissingPermission as err:
            self.warnings.append(
                f"Could not read {what}: {_lacks(err, permission)} Grant it, or {instead}; until then the "
                f"prediction assumes {assumed}."
            )
            return default


def _lacks(err: MissingPermission, permission: str) -> str:
    """The permission Graph named, and the one this collection documents when Graph named another."""
    named = err.permission or permission
    also = f" (or {permission})" if named.lower() != permission.lower() else ""
    return f"the application lacks {named}{also}."


def domains_seen(cloud_users: Iterable[Mapping], tenant_id: str | None = None) -> tuple[str | None, list[str]]:
    """(initial domain, verified domains) as far as the tenant's users show them, for when /domains can't be read.

    Entra ID only takes a UPN in a verified domain of the tenant or in its own onmicrosoft.com
    domains, so every cloud UPN suffix is verified. The initial domain is the
    `<name>.onmicrosoft.com` one (not `<name>.mail.onmicrosoft.com`, Exchange's routing domain)
    that UPNs and addresses (the MOERA every mailbox carries, rule book §2) show most often; a
    tenant_id given as such a domain name wins.
    """
    verified: set[str] = set()
    initial_votes: Counter = Counter()
    for user in cloud_users:
        upn = str(user.get("userPrincipalName") or user.get("user_principal_name") or "")
        if "@" in upn:
            verified.add(_domain(upn))
        addresses = [value.partition(":")[2] for value in user.get("proxyAddresses") or ()
                     if value.partition(":")[0].lower() == "smtp"]
        for address in [upn, *addresses]:
            if "@" in address and _is_initial_domain_shape(_domain(address)):
                initial_votes[_domain(address)] += 1
    named = (tenant_id or "").strip().lower()
    if _is_initial_domain_shape(named):
        initial = named
    else:
        # most often seen, then alphabetical, so the choice is repeatable
        initial = min(initial_votes, key=lambda domain: (-initial_votes[domain], domain)) if initial_votes else None
    if "." in named and "@" not in named and not _is_guid(named):
        verified.add(named)  # a tenant named by one of its domains: that domain is verified
    return initial, sorted(verified)


def _domain(address: str) -> str:
    return address.rpartition("@")[2].strip().lower()


def _is_initial_domain_shape(domain: str) -> bool:
    labels = domain.split(".")
    return len(labels) == 3 and labels[1:] == ["onmicrosoft", "com"] and bool(labels[0])


def _is_guid(text: str) -> bool:
    parts = text.split("-")
    return [len(part) for part in parts] == [8, 4, 4, 4, 12] and all(
        char in "0123456789abcdef" for char in text.replace("-", ""))


def merge_tenant(given: Mapping, read_domains, read_features) -> dict:
    """The tenant as the predictor takes it: what the user gave wins over what was read."""
    initial, verified = read_domains if read_domains else (None, [])
    return {
        "initial_domain": given.get("initial_domain") or initial,
        "verified_domains": list(given.get("verified_domains") or verified),
        "features": dict(read_features or {}) | dict(given.get("features") or {}),
    }


def with_admin_roles(cloud_users: list[dict], roles: Mapping[str, list[str]], holders,
                     in_place: bool = False) -> list[dict]:
    """Cloud users with ``admin_roles`` filled from role assignments and the stated holders.

    Copies of the records, or with ``in_place`` the records themselves (for records just read, which nobody
    else holds: a tenant's users are not held twice)."""
    stated = {holder.lower() for holder in holders or ()}
    joined = []
    for user in cloud_users:
        names = list(roles.get(user.get("id"), ())) if roles else list(user.get("admin_roles") or ())
        if stated & {str(user.get("id", "")).lower(), str(user.get("userPrincipalName", "")).lower()}:
            names.append("(stated by admin_role_holders)")
        if in_place:
            user["admin_roles"] = names
        else:
            joined.append(dict(user, admin_roles=names))
    return cloud_users if in_place else joined


def as_values(records: list, convert: Callable) -> list:
    """The records of a list replaced one by one by their values (``convert``), each record dropped as it goes."""
    for position, record in enumerate(records):
        records[position] = convert(record)
    return records


def _first(value):
    if isinstance(value, list):
        return value[0] if value else None
    return value
