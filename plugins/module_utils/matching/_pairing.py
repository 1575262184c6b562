# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pair on-prem users with the cloud users they are meant to become, one to one, never guessed.

Internal to the hybrid.identity collection: not a public API, it may change without notice.

Pair on-prem users with the cloud users they are meant to become: from explicit rows
(an on-prem identity and a cloud identity each), or automatically by rules tried in order.
One-to-one only: when one side matches several, the pairing is reported with its candidates,
never guessed.

Pure: standard library only, no Ansible, no I/O.

Decisions beyond the rule book, each written where it is applied:
- The source anchor is tried first: the sync hard-matches before anything else (§3.1).
- `smtp` is two rules: the on-prem primary against every cloud SMTP address first, then
  every on-prem SMTP address (`mail` included) against the cloud primary (and `mail`). A
  secondary address on both sides alone (a team alias two people carry) pairs nobody: the
  sync would not match on it either (§9.1), and aligning on it would give one person
  another's mailbox addresses.
- `upn_prefix` pairs only through `domain_map`: the same prefix in unrelated domains is
  not evidence enough.
- Users involved in an ambiguity, on either side, are held out of later rules: a weaker
  rule must not settle what a stronger one found ambiguous.
- A cloud user that an ambiguous on-prem user matches is contested: another on-prem user
  matching it alone, by the same rule, is not paired with it either. Both claims are
  reported; pairing the second would guess that the first was not meant.
- Users named by an explicit row are never paired automatically, even when the row could
  not be resolved: the row says what was meant.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from ansible_collections.hybrid.identity.plugins.module_utils.common._anchor import AnchorError
from ansible_collections.hybrid.identity.plugins.module_utils.common._errors import ConfigurationError
from ansible_collections.hybrid.identity.plugins.module_utils.matching._matching_model import (
    ANCHOR_CONSISTENCY_GUID,
    CloudUser,
    OnPremUser,
    domain_of,
    local_part_of,
    name_key,
    smtp_key,
    smtp_values,
)

EXPLICIT = "explicit"
SOURCE_ANCHOR = "source_anchor"
PRIMARY_SMTP = "primary_smtp"
ANY_SMTP = "smtp"
UPN = "upn"
UPN_PREFIX = "upn_prefix"
EMPLOYEE_ID = "employee_id"
# What a user may list in pair_by; `smtp` runs as the two rules PRIMARY_SMTP, then ANY_SMTP.
AUTOMATIC_RULES = (SOURCE_ANCHOR, ANY_SMTP, UPN, UPN_PREFIX, EMPLOYEE_ID)
ONPREM = "onprem"
CLOUD = "cloud"
ROW_KEYS = (ONPREM, CLOUD)


class PairingError(ConfigurationError):
    """Pairing input that can't be used (a bad row, an unknown rule)."""


# --- the values -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CloudEntry:
    """A cloud user and its employee ID (Graph's employeeId, which the predictor does not need)."""

    user: CloudUser
    employee_id: str | None = None

    @classmethod
    def of(cls, record: CloudUser | Mapping) -> CloudEntry:
        if isinstance(record, CloudUser):
            return cls(record)
        employee_id = record.get("employeeId") or record.get("employee_id")
        return cls(CloudUser.from_dict(record), str(employee_id) if employee_id else None)


@dataclass(frozen=True, slots=True)
class PairRow:
    """One explicit pair as the user wrote it: an on-prem identity and a cloud identity."""

    onprem: str
    cloud: str
    line: int | None = None

    @property
    def label(self) -> str:
        where = f"row {self.line}" if self.line is not None else "row"
        return f"{where} ({self.onprem} -> {self.cloud})"


@dataclass(frozen=True, slots=True)
class Pair:
    onprem: OnPremUser
    cloud: CloudUser
    rule: str
    value: str

    def as_dict(self) -> dict:
        return {"onprem": onprem_view(self.onprem), "cloud": cloud_view(self.cloud), "rule": self.rule,
                "value": self.value}


@dataclass(frozen=True, slots=True)
class Ambiguity:
    """Several candidates where one was needed.

    `side` is where `user` is: an on-prem user matching several cloud users, a cloud user
    claimed by several on-prem users, or (rule `explicit`) an identity, as written in a row,
    that names several users of `side` itself.
    """

    side: str
    rule: str
    user: OnPremUser | CloudUser | str
    candidates: tuple
    value: str

    def as_dict(self) -> dict:
        return {"side": self.side, "rule": self.rule, "value": self.value, "user": user_view(self.user),
                "candidates": [user_view(candidate) for candidate in self.candidates]}


@dataclass(frozen=True, slots=True)
class UnresolvedRow:
    """An explicit row that names nobody in scope on one side."""

    row: PairRow
    side: str
    message: str

    def as_dict(self) -> dict:
        return {"onprem": self.row.onprem, "cloud": self.row.cloud, "line": self.row.line, "side": self.side,
                "message": self.message}


@dataclass(frozen=True, slots=True)
class Pairing:
    pairs: tuple[Pair, ...]
    ambiguous: tuple[Ambiguity, ...]
    unresolved: tuple[UnresolvedRow, ...]
    unpaired_onprem: tuple[OnPremUser, ...]
    unpaired_cloud: tuple[CloudUser, ...]


def onprem_primary(user: OnPremUser) -> str | None:
    """Rule book §9.2: the one `SMTP:` value, else `mail`."""
    primaries = [proxy for proxy in smtp_values(user.proxy_addresses) if proxy.primary]
    if len(primaries) == 1:
        return primaries[0].address
    return user.mail if not primaries else None


def onprem_view(user: OnPremUser) -> dict:
    return {"distinguished_name": user.distinguished_name, "sam_account_name": user.sam_account_name,
            "user_principal_name": user.user_principal_name, "primary_smtp": onprem_primary(user),
            "object_guid": user.object_guid}


def cloud_view(user: CloudUser) -> dict:
    primary = user.primary_smtp
    return {"id": user.id, "user_principal_name": user.user_principal_name,
            "primary_smtp": primary.address if primary else None}


def user_view(user: OnPremUser | CloudUser | str) -> dict:
    if isinstance(user, OnPremUser):
        return onprem_view(user)
    if isinstance(user, CloudUser):
        return cloud_view(user)
    return {"identity": user}


# --- explicit rows --------------------------------------------------------------------------


def rows_from_records(records: Iterable) -> list[PairRow]:
    """Rows from dicts with `onprem` and `cloud` (YAML, or the module's `pairs` option)."""
    rows = []
    for number, record in enumerate(records, start=1):
        if not isinstance(record, Mapping):
            raise PairingError(f"pair {number} is {record!r}, not a mapping",
                               hint="write each pair as {onprem: <identity>, cloud: <identity>}")
        values = [str(record.get(key) or "").strip() for key in ROW_KEYS]
        if not all(values):
            raise PairingError(f"pair {number} ({dict(record)!r}) lacks an onprem or a cloud identity",
                               hint="give both: onprem (sAMAccountName, UPN, mail, DN or objectGUID) and cloud "
                                    "(UPN, an SMTP address or the object ID)")
        rows.append(PairRow(values[0], values[1], number))
    return rows


def rows_from_csv(text: str) -> list[PairRow]:
    """Rows from CSV text whose header names the columns `onprem` and `cloud` (other columns are ignored)."""
    reader = csv.DictReader(io.StringIO(text))
    header = [name.strip().lower() for name in reader.fieldnames or ()]
    if not set(ROW_KEYS) <= set(header):
        raise PairingError(f"the CSV header is {reader.fieldnames!r}; it needs the columns onprem and cloud",
                           hint="start the file with the line: onprem,cloud")
    rows = []
    for record in reader:
        cleaned = {str(key).strip().lower(): (value or "").strip() for key, value in record.items() if key}
        if not any(cleaned.values()):
            continue  # blank lines separate nothing
        rows.extend(PairRow(row.onprem, row.cloud, reader.line_num) for row in rows_from_records([cleaned]))
    return rows


def _onprem_identity_keys(user: OnPremUser) -> list[str]:
    """The identities ad_user_smtp accepts: DN, objectGUID, UPN, mail, sAMAccountName."""
    keys = [user.distinguished_name, user.sam_account_name, user.user_principal_name, user.mail]
    keys = [name_key(key) for key in keys if key]
    if user.object_guid:
        keys.append(_guid_key(user.object_guid) or user.object_guid)
    return keys


def cloud_identity_keys(user: CloudUser) -> list[str]:
    """Object ID, UPN, or any SMTP address the cloud user holds."""
    keys = [_guid_key(user.id) or name_key(user.id)]
    if user.user_principal_name:
        keys.append(name_key(user.user_principal_name))
    keys += [proxy.key for proxy in user.smtp_addresses()]
    return keys


def _guid_key(value: str) -> str | None:
    try:
        return str(uuid.UUID(value.strip().strip("{}")))
    except ValueError:
        return None


def _identity_lookup(users: Sequence, keys_of: Callable) -> dict[str, list]:
    lookup: dict[str, list] = {}
    for user in users:
        for key in dict.fromkeys(keys_of(user)):
            lookup.setdefault(key, []).append(user)
    return lookup


def _lookup_keys(identity: str) -> list[str]:
    """The keys an identity could be written as: a GUID, a name, or an SMTP address with or without 'smtp:'."""
    keys = [_guid_key(identity) or name_key(identity)]
    if ":" not in identity and "@" in identity:
        keys.append(smtp_key(identity))
    elif identity.lower().startswith("smtp:"):
        keys.append(smtp_key(identity[5:]))
    return keys


def _resolve(identity: str, lookup: Mapping[str, list]) -> list:
    found: dict[int, object] = {}
    for key in _lookup_keys(identity):
        for user in lookup.get(key, ()):
            found.setdefault(id(user), user)
    return list(found.values())


def resolve_identities(identities: Iterable[str], candidates: Sequence, keys_of: Callable) -> dict[str, list]:
    """Each identity and the candidates it names (by the keys `keys_of` gives each candidate)."""
    lookup = _identity_lookup(candidates, keys_of)
    return {identity: _resolve(identity, lookup) for identity in identities}


# --- automatic rules ------------------------------------------------------------------------
# Each rule gives the keys an on-prem user and a cloud user are compared on; equal keys pair.


def _anchor_keys(anchor_mode: str):
    def onprem_keys(user: OnPremUser) -> list[str]:
        try:
            # rule book §3.1: the ImmutableId is compared case-sensitively, so it is its own key
            return [user.source_anchor(anchor_mode)]
        except AnchorError:
            return []

    def cloud_keys(entry: CloudEntry) -> list[str]:
        anchor = entry.user.on_premises_immutable_id
        return [anchor] if anchor else []

    return onprem_keys, cloud_keys


def _cloud_smtp_keys(entry: CloudEntry) -> list[str]:
    # rule book §9.1: every cloud SMTP address counts, primary or secondary, and `mail`
    return [proxy.key for proxy in entry.user.smtp_addresses()]


def _cloud_primary_keys(entry: CloudEntry) -> list[str]:
    primary, mail = entry.user.primary_smtp, entry.user.mail
    keys = [primary.key] if primary else []
    return [*keys, smtp_key(mail)] if mail else keys


def _primary_smtp_keys(user: OnPremUser) -> list[str]:
    primary = onprem_primary(user)
    return [smtp_key(primary)] if primary else []


def _any_smtp_keys(user: OnPremUser) -> list[str]:
    keys = [proxy.key for proxy in smtp_values(user.proxy_addresses)]
    return [*keys, smtp_key(user.mail)] if user.mail else keys


def _onprem_upn_keys(user: OnPremUser) -> list[str]:
    return [name_key(user.user_principal_name)] if user.user_principal_name else []


def _cloud_upn_keys(entry: CloudEntry) -> list[str]:
    upn = entry.user.user_principal_name
    return [name_key(upn)] if upn else []


def _mapped_upn_keys(domain_map: Mapping[str, object]):
    targets = {name_key(source): _as_domains(target) for source, target in domain_map.items()}

    def onprem_keys(user: OnPremUser) -> list[str]:
        upn = user.user_principal_name
        if not upn or "@" not in upn:
            return []
        prefix = local_part_of(upn)
        return [name_key(f"{prefix}@{domain}") for domain in targets.get(name_key(domain_of(upn)), ())]

    return onprem_keys, _cloud_upn_keys


def _as_domains(target: object) -> tuple[str, ...]:
    if isinstance(target, str):
        return (target,)
    if isinstance(target, Iterable):
        return tuple(str(domain) for domain in target)
    raise PairingError(f"domain_map maps to {target!r}, not a domain or a list of domains",
                       hint='write it as {"contoso.local": "contoso.com"}')


def _employee_id_key(value: str | None) -> list[str]:
    value = (value or "").strip()
    return [value.casefold()] if value else []


def _rule_keys(rule: str, domain_map: Mapping, anchor_mode: str):
    if rule == SOURCE_ANCHOR:
        return _anchor_keys(anchor_mode)
    if rule == PRIMARY_SMTP:
        return _primary_smtp_keys, _cloud_smtp_keys
    if rule == ANY_SMTP:
        return _any_smtp_keys, _cloud_primary_keys
    if rule == UPN:
        return _onprem_upn_keys, _cloud_upn_keys
    if rule == UPN_PREFIX:
        return _mapped_upn_keys(domain_map)
    if rule == EMPLOYEE_ID:
        return (lambda user: _employee_id_key(user.employee_id)), (lambda entry: _employee_id_key(entry.employee_id))
    raise PairingError(f"pairing rule {rule!r} is unknown", hint=f"use {', '.join(AUTOMATIC_RULES)}")


def expand_rules(rules: Iterable[str]) -> list[str]:
    """The user's pair_by list as the rules run: `smtp` becomes the primary first, then any address."""
    expanded = []
    for rule in rules:
        if rule not in AUTOMATIC_RULES:
            raise PairingError(f"pairing rule {rule!r} is unknown", hint=f"use {', '.join(AUTOMATIC_RULES)}")
        expanded += [PRIMARY_SMTP, ANY_SMTP] if rule == ANY_SMTP else [rule]
    return list(dict.fromkeys(expanded))


# --- pairing --------------------------------------------------------------------------------


class _Pairer:
    """The pairing under way: who is taken, who is held out, what was found."""

    def __init__(self, onprem_users: list[OnPremUser], cloud_entries: list[CloudEntry]) -> None:
        self.onprem_users = onprem_users
        self.cloud_entries = cloud_entries
        self.taken: set[int] = set()  # id() of users paired, held out or named by a row, either side
        self.pairs: list[Pair] = []
        self.ambiguous: list[Ambiguity] = []
        self.unresolved: list[UnresolvedRow] = []

    def free_onprem(self) -> list[OnPremUser]:
        return [user for user in self.onprem_users if id(user) not in self.taken]

    def free_cloud(self) -> list[CloudEntry]:
        return [entry for entry in self.cloud_entries if id(entry.user) not in self.taken]

    def hold(self, *users) -> None:
        self.taken.update(id(user) for user in users)

    def pair(self, onprem: OnPremUser, cloud: CloudUser, rule: str, value: str) -> None:
        self.pairs.append(Pair(onprem, cloud, rule, value))
        self.hold(onprem, cloud)

    def explicit(self, rows: Sequence[PairRow]) -> None:
        onprem_lookup = _identity_lookup(self.onprem_users, _onprem_identity_keys)
        cloud_lookup = _identity_lookup([entry.user for entry in self.cloud_entries], cloud_identity_keys)
        resolved = []
        for row in rows:
            onprem = self._resolve_side(row, ONPREM, row.onprem, onprem_lookup)
            cloud = self._resolve_side(row, CLOUD, row.cloud, cloud_lookup)
            self.hold(*(onprem or ()), *(cloud or ()))
            if onprem and cloud and len(onprem) == 1 and len(cloud) == 1:
                resolved.append((row, onprem[0], cloud[0]))
        # one-to-one: a user named by two rows is paired by neither
        onprem_rows = _group(resolved, lambda item: id(item[1]))
        cloud_rows = _group(resolved, lambda item: id(item[2]))
        for row, onprem, cloud in resolved:
            same_onprem, same_cloud = onprem_rows[id(onprem)], cloud_rows[id(cloud)]
            if len(same_onprem) > 1:
                self._note_row_conflict(ONPREM, onprem, [item[2] for item in same_onprem], row)
            elif len(same_cloud) > 1:
                self._note_row_conflict(CLOUD, cloud, [item[1] for item in same_cloud], row)
            else:
                self.pairs.append(Pair(onprem, cloud, EXPLICIT, f"{row.onprem} -> {row.cloud}"))

    def _resolve_side(self, row: PairRow, side: str, identity: str, lookup: Mapping[str, list]) -> list:
        found = _resolve(identity, lookup)
        if not found:
            where = "in the on-prem scope" if side == ONPREM else "among the cloud users"
            self.unresolved.append(UnresolvedRow(row, side, f"{row.label}: no user {where} matches {identity!r}"))
        elif len(found) > 1:
            self.ambiguous.append(Ambiguity(side, EXPLICIT, identity, tuple(found), row.label))
        return found

    def _note_row_conflict(self, side: str, user, candidates: list, row: PairRow) -> None:
        if any(item.side == side and item.user is user and item.rule == EXPLICIT for item in self.ambiguous):
            return
        self.ambiguous.append(Ambiguity(side, EXPLICIT, user, tuple(candidates), f"{row.onprem} -> {row.cloud}"))

    def automatic(self, rule: str, onprem_keys: Callable, cloud_keys: Callable) -> None:
        """One rule over the users still free: unique on both sides pairs, anything else is ambiguous."""
        cloud_by_key: dict[str, list[CloudEntry]] = {}
        for entry in self.free_cloud():
            for key in dict.fromkeys(cloud_keys(entry)):
                cloud_by_key.setdefault(key, []).append(entry)
        matches = []  # (on-prem user, [(cloud user, shared key)])
        for user in self.free_onprem():
            found: dict[int, tuple[CloudUser, str]] = {}
            for key in dict.fromkeys(onprem_keys(user)):
                for entry in cloud_by_key.get(key, ()):
                    found.setdefault(id(entry.user), (entry.user, key))
            if found:
                matches.append((user, list(found.values())))
        # every candidate of an ambiguous user is contested too: a single claim on it settles nothing
        claims = _group([(user, cloud) for user, found in matches for cloud, _key in found], lambda item: id(item[1]))
        held, reported = [], set()
        for user, found in matches:
            if len(found) > 1:
                self.ambiguous.append(Ambiguity(ONPREM, rule, user, tuple(c for c, _key in found), found[0][1]))
                held += [user, *(c for c, _key in found)]
                continue
            cloud, key = found[0]
            claimants = [claim[0] for claim in claims[id(cloud)]]
            if len(claimants) == 1:
                self.pair(user, cloud, rule, key)
            elif id(cloud) not in reported:
                reported.add(id(cloud))
                self.ambiguous.append(Ambiguity(CLOUD, rule, cloud, tuple(claimants), key))
                held += [cloud, *claimants]
        # held out after the whole rule ran, so that the rule's outcome does not depend on input order
        self.hold(*held)


def _group(items: Iterable, key_of: Callable) -> dict:
    groups: dict = {}
    for item in items:
        groups.setdefault(key_of(item), []).append(item)
    return groups


def pair_users(onprem_users: Iterable[OnPremUser | Mapping], cloud_users: Iterable[CloudUser | Mapping | CloudEntry],
               rows: Sequence[PairRow] = (), rules: Iterable[str] = AUTOMATIC_RULES,
               domain_map: Mapping | None = None, anchor_mode: str = ANCHOR_CONSISTENCY_GUID) -> Pairing:
    """Explicit rows first, then each automatic rule in order over the users left (one-to-one)."""
    onprem = [user if isinstance(user, OnPremUser) else OnPremUser.from_dict(user) for user in onprem_users]
    cloud = [entry if isinstance(entry, CloudEntry) else CloudEntry.of(entry) for entry in cloud_users]
    pairer = _Pairer(onprem, cloud)
    pairer.explicit(rows)
    for rule in expand_rules(rules):
        pairer.automatic(rule, *_rule_keys(rule, domain_map or {}, anchor_mode))
    paired = {id(user) for pair in pairer.pairs for user in (pair.onprem, pair.cloud)}
    return Pairing(
        pairs=tuple(pairer.pairs),
        ambiguous=tuple(pairer.ambiguous),
        unresolved=tuple(pairer.unresolved),
        unpaired_onprem=tuple(user for user in onprem if id(user) not in paired),
        unpaired_cloud=tuple(entry.user for entry in cloud if id(entry.user) not in paired),
    )
