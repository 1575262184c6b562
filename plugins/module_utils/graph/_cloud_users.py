# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cloud users by address, UPN, ImmutableId or object id, or the whole tenant, in bulk.

Internal to the collection; no stable API. Planning the queries and shaping the answers
are pure functions; ``find_cloud_users`` runs them over a ``GraphClient``.

Query shapes (rule book §8):
- UPN and object id: ``in (...)`` filters, 15 values each, all sent through $batch.
- SMTP: one ``proxyAddresses/any(p:p eq 'smtp:...')`` per address through $batch; Graph
  has no ``in`` inside the lambda that it documents for users.
- ImmutableId: one ``eq`` per value through $batch, as an advanced query
  (``ConsistencyLevel: eventual`` and ``$count=true``).
- Everyone: one paged listing with ``$top=999``, its length compared with ``/users/$count``; or,
  above ``PARTITION_ABOVE`` users with ``parallel`` above 1, listings of UPN-prefix partitions side
  by side, each proven against its own ``$count`` (``_user_partitions``), else one listing again.
- Many values (more than ``LIST_ABOVE``): one paged listing too, matched locally, since the
  listing takes fewer requests than the filters, and each value is one hash look-up.
- Admin roles: the role definitions and every active role assignment, each one listing,
  joined locally; never one call per user.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ansible_collections.hybrid.identity.plugins.module_utils.common._addresses import AddressError, ProxyAddress
from ansible_collections.hybrid.identity.plugins.module_utils.common._errors import (
    ConfigurationError,
    HybridIdentityError,
)
from ansible_collections.hybrid.identity.plugins.module_utils.graph._graph import (
    MALFORMED_HINT,
    BatchRequest,
    MalformedAnswer,
)
from ansible_collections.hybrid.identity.plugins.module_utils.graph._graph_query import (
    MAX_BATCH,
    MAX_IN_VALUES,
    MAX_PAGE,
    any_equals_filter,
    chunked,
    equals_filter,
    in_filter,
    query_string,
)
from ansible_collections.hybrid.identity.plugins.module_utils.graph._user_partitions import (
    MOST_PARALLEL,
    Partition,
    child_prefixes,
    largest_partition,
    listing_order,
    merged,
    proof_problem,
    split,
    use_partitions,
)

# rule book §8: $select is needed for the on-premises properties and proxyAddresses.
USER_PROPERTIES = (
    "id",
    "userPrincipalName",
    "mail",
    "proxyAddresses",
    "onPremisesImmutableId",
    "onPremisesSyncEnabled",
    "onPremisesLastSyncDateTime",
    "onPremisesProvisioningErrors",
)
USER_SELECT = ",".join(USER_PROPERTIES)
ADVANCED_QUERY = {"ConsistencyLevel": "eventual"}
LOOKUP_KEYS = ("smtp", "upn", "immutable_id", "object_id")
# Past this many values, one listing of the tenant (100 users a request at worst, 999 at best) costs fewer
# requests and less throttling budget than the filters (1 to 15 values each).
LIST_ABOVE = 2000
COUNT_CHECKS = ("warn", "fail", "skip")


@dataclass(frozen=True)
class LookupRequest:
    """What to look up: values per key (duplicates dropped, order kept), or everyone."""

    smtp: tuple[str, ...] = ()
    upn: tuple[str, ...] = ()
    immutable_id: tuple[str, ...] = ()
    object_id: tuple[str, ...] = ()
    everyone: bool = False
    include_roles: bool = False

    @classmethod
    def from_params(cls, params: Mapping) -> LookupRequest:
        values = {key: _as_values(params.get(key), key) for key in LOOKUP_KEYS}
        values["smtp"] = tuple(_bare_smtp(value) for value in values["smtp"])
        values["object_id"] = tuple(_object_id(value) for value in values["object_id"])
        everyone = bool(params.get("all"))
        given = [key for key in LOOKUP_KEYS if params.get(key) is not None]
        if everyone and given:
            raise ConfigurationError(f"all: true reads every user, so {', '.join(given)} can't be given too",
                                     hint="drop all, or drop the values")
        if not everyone and not given:
            raise ConfigurationError("nothing to look up", hint=f"give one of {', '.join(LOOKUP_KEYS)}, or all: true")
        return cls(**{key: _unique(found, key) for key, found in values.items()}, everyone=everyone,
                   include_roles=bool(params.get("include_roles")))


@dataclass(frozen=True)
class PlannedQuery:
    """One ``/users`` query for $batch, and the values of which lookup key it asks for."""

    key: str
    values: tuple[str, ...]
    request: BatchRequest


@dataclass(frozen=True)
class LookupResult:
    users: list[dict]
    not_found: dict[str, list[str]]
    warnings: tuple[str, ...] = ()


def _as_values(param, key: str) -> tuple[str, ...]:
    if param is None:
        return ()
    values = [param] if isinstance(param, str) else list(param)
    if not all(isinstance(value, str) and value.strip() for value in values):
        raise ConfigurationError(f"{key} holds an empty or non-string value", hint=f"give {key} as strings")
    return tuple(value.strip() for value in values)


def _bare_smtp(value: str) -> str:
    """An address with or without its ``smtp:`` prefix, as the bare address."""
    if ":" not in value:
        return value
    try:
        parsed = ProxyAddress.parse(value)
    except AddressError:
        parsed = None
    if parsed is None or not parsed.is_smtp or not parsed.address:
        raise ConfigurationError(f"smtp value {value!r} is not an SMTP address",
                                 hint="give the address bare (alice@contoso.com) or as smtp:alice@contoso.com")
    return parsed.address


def _object_id(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ConfigurationError(f"object_id {value!r} is not a GUID",
                                 hint="give the object ID of the cloud user, such as "
                                      "4c3a1f5e-8d2b-4f6a-9c1e-2b7d5e8f0a13") from None


def _unique(values: Iterable[str], key: str) -> tuple[str, ...]:
    seen: set[str] = set()
    kept = []
    for value in values:
        identity = _match_key(key, value)
        if identity not in seen:
            seen.add(identity)
            kept.append(value)
    return tuple(kept)


def _match_key(key: str, value: str) -> str:
    # rule book §3: the ImmutableId compares case-sensitively; addresses, UPNs and ids do not.
    return value if key == "immutable_id" else value.casefold()


def _users_query(key: str, values: Sequence[str], filter_text: str, advanced: bool = False) -> PlannedQuery:
    params = {"$filter": filter_text, "$select": USER_SELECT}
    if advanced:
        params["$count"] = "true"
    return PlannedQuery(key, tuple(values), BatchRequest(f"/users?{query_string(params)}",
                                                         headers=ADVANCED_QUERY if advanced else {}, listing=True))


def plan_queries(request: LookupRequest) -> list[PlannedQuery]:
    """The /users queries that answer ``request`` (not for everyone: that is one listing)."""
    queries = []
    for key, prop in (("upn", "userPrincipalName"), ("object_id", "id")):
        for chunk in chunked(getattr(request, key), MAX_IN_VALUES):
            queries.append(_users_query(key, chunk, in_filter(prop, chunk)))
    for address in request.smtp:
        # any(...) compares case-insensitively, so 'smtp:' also finds the primary 'SMTP:' value.
        queries.append(_users_query("smtp", [address], any_equals_filter("proxyAddresses", f"smtp:{address}")))
    for anchor in request.immutable_id:
        # rule book §8: filtering on onPremisesImmutableId is an advanced query.
        queries.append(_users_query("immutable_id", [anchor], equals_filter("onPremisesImmutableId", anchor),
                                    advanced=True))
    return queries


def smtp_addresses(user: Mapping) -> list[ProxyAddress]:
    """The user's SMTP proxy addresses; values Graph should never hold (no type) are skipped."""
    found = []
    for value in user.get("proxyAddresses") or ():
        try:
            address = ProxyAddress.parse(value)
        except AddressError:
            continue
        if address.is_smtp:
            found.append(address)
    return found


def primary_smtp(user: Mapping) -> str | None:
    """The address of the one ``SMTP:`` value (rule book §1), else None."""
    return next((address.address for address in smtp_addresses(user) if address.primary), None)


def answers_request(key: str, value: str, user: Mapping) -> bool:
    """Whether ``user`` is an answer for ``value`` of lookup ``key``."""
    if key == "smtp":
        return ProxyAddress.smtp(value) in smtp_addresses(user)
    prop = {"upn": "userPrincipalName", "object_id": "id", "immutable_id": "onPremisesImmutableId"}[key]
    held = user.get(prop)
    return isinstance(held, str) and _match_key(key, held) == _match_key(key, value)


class UserIndex:
    """Users by each lookup key, built in one pass: a value's users are one hash look-up away."""

    def __init__(self, users: Iterable[Mapping]) -> None:
        self._by: dict[str, dict[str, list[Mapping]]] = {key: {} for key in LOOKUP_KEYS}
        for user in users:
            for key, value in _held_values(user):
                self._by[key].setdefault(_match_key(key, value), []).append(user)

    def users(self, key: str, value: str) -> list[Mapping]:
        """The users that answer ``value`` of lookup ``key`` (as ``answers_request`` judges one)."""
        return self._by[key].get(_match_key(key, _comparable(key, value)), [])


def _held_values(user: Mapping) -> Iterator[tuple[str, str]]:
    for address in smtp_addresses(user):
        yield "smtp", address.key
    for key, prop in (("upn", "userPrincipalName"), ("object_id", "id"), ("immutable_id", "onPremisesImmutableId")):
        held = user.get(prop)
        if isinstance(held, str):
            yield key, held


def _comparable(key: str, value: str) -> str:
    return ProxyAddress.smtp(value).key if key == "smtp" else value


def not_found(request: LookupRequest, users: Sequence[Mapping]) -> dict[str, list[str]]:
    """Per key, the requested values no user answers."""
    index = UserIndex(users)
    return {key: [value for value in getattr(request, key) if not index.users(key, value)] for key in LOOKUP_KEYS}


def answering(request: LookupRequest, users: Iterable[Mapping]) -> list[dict]:
    """The users that answer some value of ``request``, each once, in listing order."""
    wanted = {key: {_match_key(key, _comparable(key, value)) for value in getattr(request, key)}
              for key in LOOKUP_KEYS}
    return [user for user in users if any(_match_key(key, value) in wanted[key] for key, value in _held_values(user))]


def value_count(request: LookupRequest) -> int:
    return sum(len(getattr(request, key)) for key in LOOKUP_KEYS)


def count_tolerance(counted: int) -> int:
    """How far a listing's length may be from ``$count`` (its lag, rule book §8) before it is a gap."""
    return max(5, counted // 1000)


def count_mismatch(listed: int, counted: int) -> str | None:
    """What to say when a listing's length differs from Graph's ``$count`` by more than its lag allows, else None.

    rule book §8: ``$count`` is eventually consistent, so users created or deleted a moment ago may
    be counted or not: a difference of a few (one in a thousand, at least 5) is not a gap.
    """
    tolerance = count_tolerance(counted)
    if abs(listed - counted) <= tolerance:
        return None
    return (f"the listing of /users returned {listed} users, but Microsoft Graph counts {counted} "
            f"(/users/$count, more than {tolerance} apart): the listing may be incomplete, so users missing from "
            "it would be predicted wrongly")


def shaped_user(user: Mapping, admin_roles: Sequence[str] | None = None) -> dict:
    """A user as the module returns it; ``admin_roles`` only when roles were read."""
    shaped = {prop: user.get(prop) for prop in USER_PROPERTIES}
    shaped["proxyAddresses"] = list(user.get("proxyAddresses") or [])
    shaped["onPremisesProvisioningErrors"] = list(user.get("onPremisesProvisioningErrors") or [])
    shaped["primary_smtp"] = primary_smtp(user)
    if admin_roles is not None:
        shaped["admin_roles"] = list(admin_roles)
    return shaped


def roles_by_principal(definitions: Iterable[Mapping], assignments: Iterable[Mapping]) -> dict[str, list[str]]:
    """Role display names per principal id, from role definitions and active role assignments."""
    names = {}
    for definition in definitions:
        # Built-in roles are assigned by template id, which equals their definition id.
        for role_id in (definition.get("id"), definition.get("templateId")):
            if role_id:
                names[role_id.casefold()] = definition.get("displayName") or role_id
    held: dict[str, set[str]] = {}
    for assignment in assignments:
        role_id = assignment.get("roleDefinitionId") or ""
        held.setdefault(assignment.get("principalId"), set()).add(names.get(role_id.casefold(), role_id))
    return {principal: sorted(roles) for principal, roles in held.items()}


# --- over Graph ---------------------------------------------------------------------------


def find_cloud_users(client, request: LookupRequest, count_check: str = "warn",
                     parallel: int = 1) -> LookupResult:
    """Run ``request`` over ``client`` (a ``GraphClient``): the users found and the values nobody answers.

    A whole-tenant listing (``everyone``, or more than ``LIST_ABOVE`` values) is compared with
    ``$count`` as ``count_check`` says: a warning, a failure, or not at all; ``parallel`` listings
    run side by side on a large tenant (see ``list_users``).
    """
    warnings: list[str] = []
    if request.everyone or value_count(request) > LIST_ABOVE:
        found = list_users(client, USER_SELECT, count_check, warnings, parallel)
        if not request.everyone:
            found = answering(request, found)
    else:
        found = _looked_up(client, plan_queries(request))
    found = list({user["id"]: user for user in found}.values())
    roles = read_admin_roles(client) if request.include_roles else None
    users = [shaped_user(user, None if roles is None else roles.get(user["id"], [])) for user in found]
    return LookupResult(users, not_found(request, found), tuple(warnings))


def list_users(client, select: str, count_check: str, warnings: list[str], parallel: int = 1) -> list[dict]:
    """Every user of the tenant, its number checked against ``/users/$count`` (``count_check``).

    With ``parallel`` above 1, the first page also asks for ``$count``; above ``PARTITION_ABOVE``
    users, UPN-prefix partitions are then listed ``parallel`` at a time and merged in object id
    order. When they do not prove a complete read (``_user_partitions.proof_problem``), a warning
    says why and the tenant is read again in one listing, checked as ever. ``count_check: skip``
    lists in one listing: the proof needs the counts.
    """
    if count_check not in COUNT_CHECKS:
        raise ConfigurationError(f"count_check {count_check!r} is not one of {', '.join(COUNT_CHECKS)}",
                                 hint=f"set count_check to one of {', '.join(COUNT_CHECKS)}")
    if isinstance(parallel, bool) or not isinstance(parallel, int) or not 1 <= parallel <= MOST_PARALLEL:
        raise ConfigurationError(f"parallel_listings must be from 1 to {MOST_PARALLEL}, not {parallel!r}",
                                 hint="set parallel_listings to 1 (one listing) or a few listings side by side")
    params = {"$top": str(MAX_PAGE), "$select": select}
    if parallel == 1 or count_check == "skip":
        pages = client.pages("/users", params)
    else:
        # rule book §8: $count on a listing is an advanced query; its headers go with every page.
        first = client.first_page("/users", params | {"$count": "true"}, ADVANCED_QUERY)
        total = first.get("@odata.count")
        if first.get("@odata.nextLink") and isinstance(total, int) and use_partitions(total, parallel):
            partitions, listed = _partitioned(client, select, total, parallel)
            # the proof counts against /users/$count, as the one listing's check does
            problem = proof_problem(listed, partitions, client.count("/users"), count_tolerance(total))
            users = merged(listed)
            if problem is None:
                return users
            warnings.append(f"The parallel listing of /users did not prove complete ({problem}), so the tenant "
                            "was read again in one listing.")
            pages = client.pages("/users", params)
        else:
            pages = client.following(first, "/users", ADVANCED_QUERY)
    users = [user for page in pages for user in page]
    if count_check != "skip":
        problem = count_mismatch(len(users), client.count("/users"))
        if problem and count_check == "fail":
            raise IncompleteListing(problem, hint="run again; if it persists, check any proxy between the controller "
                                                  "and Microsoft Graph (count_check: warn lets the run go on)")
        if problem:
            warnings.append(f"{problem}. Run again to confirm; count_check: fail stops the run instead.")
    return users


def _partitioned(client, select: str, total: int, parallel: int) -> tuple[list[Partition], dict[str, list[dict]]]:
    """The partitions, planned by their counts, and each one's users by prefix, listed ``parallel`` at a time."""
    largest = largest_partition(total, parallel)
    partitions: list[Partition] = []
    with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="listing") as pool:
        try:
            pending = child_prefixes("")
            while pending:
                kept, again = split(_prefix_counts(client, pool, pending), largest)
                partitions += kept
                pending = [child for prefix in again for child in child_prefixes(prefix)]
            listings = {partition.prefix: pool.submit(_partition_users, client, partition, select)
                        for partition in listing_order(partitions)}
            return partitions, {prefix: listing.result() for prefix, listing in listings.items()}
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)   # no listing starts after one failed
            raise


def _prefix_counts(client, pool: ThreadPoolExecutor, prefixes: Sequence[str]) -> dict[str, int]:
    """Graph's ``$count`` of the users under each prefix: 20 advanced queries a $batch, the batches side by side."""
    chunks = [[(prefix, _count_query(prefix)) for prefix in chunk] for chunk in chunked(prefixes, MAX_BATCH)]
    answers = pool.map(lambda chunk: client.batch([query for _prefix, query in chunk]), chunks)
    counts = {}
    for chunk, responses in zip(chunks, answers, strict=True):
        for (prefix, query), response in zip(chunk, responses, strict=True):
            client.raise_for(response, query)
            counted = response.body.get("@odata.count") if isinstance(response.body, dict) else None
            if isinstance(counted, bool) or not isinstance(counted, int):
                raise MalformedAnswer(f"GET /users with $count=true: Microsoft Graph answered no @odata.count for "
                                      f"the users whose UPN starts with {prefix!r}", hint=MALFORMED_HINT)
            counts[prefix] = counted
    return counts


def _count_query(prefix: str) -> BatchRequest:
    # rule book §8: $count is an advanced query (ConsistencyLevel: eventual); one id is enough to carry it.
    params = {"$filter": Partition(prefix, 0).filter, "$count": "true", "$top": "1", "$select": "id"}
    return BatchRequest(f"/users?{query_string(params)}", headers=ADVANCED_QUERY, listing=True)


def _partition_users(client, partition: Partition, select: str) -> list[dict]:
    params = {"$filter": partition.filter, "$top": str(MAX_PAGE), "$select": select}
    return [user for page in client.pages("/users", params) for user in page]


class IncompleteListing(HybridIdentityError):
    """A whole-tenant listing shorter or longer than Graph's own count of the collection."""


def _looked_up(client, queries: Sequence[PlannedQuery]) -> list[dict]:
    found = []
    responses = client.batch([query.request for query in queries])
    for query, response in zip(queries, responses, strict=True):
        client.raise_for(response, query.request)
        for page in client.following(response.body or {}, "/users", query.request.headers):
            # rule book §3: Graph compares the ImmutableId without case, a hard match with case.
            found += [user for user in page
                      if any(answers_request(query.key, value, user) for value in query.values)]
    return found


def read_admin_roles(client) -> dict[str, list[str]]:
    """Admin role names per principal id: role definitions once, role assignments in one listing."""
    definitions = [item for page in client.pages("/roleManagement/directory/roleDefinitions",
                                                 {"$select": "id,templateId,displayName"}) for item in page]
    assignments = [item for page in client.pages("/roleManagement/directory/roleAssignments",
                                                 {"$select": "principalId,roleDefinitionId"}) for item in page]
    return roles_by_principal(definitions, assignments)
