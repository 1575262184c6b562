# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Source-of-authority transfer: the on-prem user to create for a cloud-only user, checked before it is made.

Internal to the hybrid.identity collection: not a public API, it may change without notice.

Source-of-authority transfer (KB 2641663): plan the on-prem user to create for a cloud-only
user, carrying its UPN, names and SMTP addresses with the same primary, so that the next sync
soft-matches the two and the cloud user becomes synchronized from on-prem.

Each plan is checked before anything is created: never when an on-prem user already holds the
UPN, `mail` or any of the SMTP addresses (it would be a duplicate, rule book §4), never when
the pairing rules of smtp_align (`_pairing`) pair an on-prem user in scope with the cloud user
or find it ambiguous (an employee ID, the UPN prefix through the domain map: that person has an
account already), never for a cloud user that is already synchronized, and only when the
predictor says the new user will join this cloud user (an admin role or another ImmutableId
would refuse it, rule book §3).

Pure: standard library only, no Ansible, no I/O.
"""

from __future__ import annotations

import re
import string
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from ansible_collections.hybrid.identity.plugins.module_utils.alignment._alignment import judge
from ansible_collections.hybrid.identity.plugins.module_utils.common._addresses import (
    ProxyAddress,
    validate_smtp_address,
)
from ansible_collections.hybrid.identity.plugins.module_utils.common._errors import ConfigurationError
from ansible_collections.hybrid.identity.plugins.module_utils.matching._matching import predict
from ansible_collections.hybrid.identity.plugins.module_utils.matching._matching_index import CloudIndex
from ansible_collections.hybrid.identity.plugins.module_utils.matching._matching_model import (
    CloudUser,
    OnPremUser,
    Tenant,
    domain_of,
    is_reserved_domain,
    local_part_of,
    name_key,
    smtp_key,
)
from ansible_collections.hybrid.identity.plugins.module_utils.matching._pairing import (
    AUTOMATIC_RULES,
    CloudEntry,
    Pair,
    cloud_identity_keys,
    pair_users,
    resolve_identities,
)

MAX_SAM_ACCOUNT_NAME = 20
# sAMAccountName may not hold these (Microsoft: "User Naming Attributes"), nor end with a dot.
SAM_FORBIDDEN = re.compile(r'["/\\\[\]:;|=,+*?<>@\s]')
TEMPLATE_FIELDS = ("upn_prefix", "mail_nickname", "given_name", "surname", "given_initial", "display_name")
NORMAL_ACCOUNT = 0x200
ACCOUNT_DISABLED = 0x2
# What the planner reads of a cloud user ($select).
CLOUD_PROPERTIES = ("id", "userPrincipalName", "mail", "proxyAddresses", "displayName", "givenName", "surname",
                    "mailNickname", "employeeId", "onPremisesImmutableId", "onPremisesSyncEnabled")


class TransferError(ConfigurationError):
    pass


@dataclass(frozen=True, slots=True)
class TransferOptions:
    ou: str
    sam_account_name_template: str = "{upn_prefix}"
    enabled: bool = False
    domain_map: Mapping = field(default_factory=dict)  # for the pairing rule upn_prefix, as smtp_align takes it

    def __post_init__(self) -> None:
        fields = [name for _text, name, _spec, _conv in string.Formatter().parse(self.sam_account_name_template)
                  if name is not None]
        unknown = [name for name in fields if name not in TEMPLATE_FIELDS]
        if not fields or unknown:
            raise TransferError(f"sam_account_name_template {self.sam_account_name_template!r} uses "
                                f"{', '.join(unknown) or 'no field'}",
                                hint=f"use fields among {', '.join('{' + f + '}' for f in TEMPLATE_FIELDS)}")


@dataclass(frozen=True, slots=True)
class NewUser:
    """The on-prem user to create for one cloud user; `attributes` as LDAP takes them (no password)."""

    cloud: CloudUser
    distinguished_name: str
    attributes: dict

    def as_dict(self) -> dict:
        return {"cloud": {"id": self.cloud.id, "user_principal_name": self.cloud.user_principal_name},
                "distinguished_name": self.distinguished_name, "attributes": dict(self.attributes)}


@dataclass(frozen=True, slots=True)
class Skipped:
    cloud: CloudUser
    reason: str

    def as_dict(self) -> dict:
        return {"cloud": {"id": self.cloud.id, "user_principal_name": self.cloud.user_principal_name},
                "reason": self.reason}


def escape_rdn_value(value: str) -> str:
    """RFC 4514: escape the characters an RDN value can't hold as they are."""
    escaped = re.sub(r'([,+"\\<>;=])', r"\\\1", value)
    if escaped.startswith((" ", "#")):
        escaped = "\\" + escaped
    if escaped.endswith(" ") and not escaped.endswith("\\ "):
        escaped = escaped[:-1] + "\\ "
    return escaped


def sam_account_name(record: Mapping, template: str) -> str:
    """The template filled from the cloud user, stripped of what sAMAccountName can't hold, at most 20 characters."""
    upn = record.get("userPrincipalName") or ""
    given = record.get("givenName") or ""
    fields = {"upn_prefix": local_part_of(upn), "mail_nickname": record.get("mailNickname") or local_part_of(upn),
              "given_name": given, "surname": record.get("surname") or "", "given_initial": given[:1],
              "display_name": record.get("displayName") or ""}
    name = SAM_FORBIDDEN.sub("", template.format_map(fields))[:MAX_SAM_ACCOUNT_NAME].rstrip(".")
    if not name:
        raise TransferError(f"the sAMAccountName template {template!r} gives nothing for {upn}",
                            hint="use a template whose fields the cloud user has, such as {upn_prefix}")
    return name


def onprem_addresses(cloud: CloudUser) -> list[str]:
    """The cloud SMTP addresses as proxyAddresses values, the cloud primary as the one SMTP: value."""
    primary = cloud.primary_smtp
    values = [str(ProxyAddress.smtp(primary.address, primary=True))] if primary else []
    for proxy in cloud.smtp_addresses():
        # rule book §2: the sync drops on-prem values in *.onmicrosoft.com and adds the MOERA itself
        if (primary is None or proxy.key != primary.key) and not is_reserved_domain(domain_of(proxy.address)):
            values.append(str(proxy.as_secondary()))
    return values


def plan_new_user(record: Mapping, options: TransferOptions) -> NewUser:
    cloud = CloudUser.from_dict(record)
    sam = sam_account_name(record, options.sam_account_name_template)
    display = record.get("displayName") or sam
    primary = cloud.primary_smtp
    attributes = {
        "objectClass": ["top", "person", "organizationalPerson", "user"],
        "sAMAccountName": sam,
        "userPrincipalName": cloud.user_principal_name,
        "displayName": display,
        "givenName": record.get("givenName"),
        "sn": record.get("surname"),
        "mailNickname": record.get("mailNickname"),
        "mail": primary.address if primary else None,
        "proxyAddresses": onprem_addresses(cloud),
        "userAccountControl": str(NORMAL_ACCOUNT | (0 if options.enabled else ACCOUNT_DISABLED)),
    }
    attributes = {name: value for name, value in attributes.items() if value}
    return NewUser(cloud, f"CN={escape_rdn_value(display)},{options.ou}", attributes)


def _held_keys(user: OnPremUser) -> set[str]:
    keys = {smtp_key(proxy.address) for proxy in map(_smtp_or_none, user.proxy_addresses) if proxy}
    if user.mail:
        keys.add(smtp_key(user.mail))
    if user.user_principal_name:
        keys.add("upn:" + name_key(user.user_principal_name))
    return keys


def _smtp_or_none(value: str) -> ProxyAddress | None:
    try:
        proxy = ProxyAddress.parse(value)
    except ValueError:
        return None
    return proxy if proxy.is_smtp else None


def _claimed_keys(new_user: NewUser) -> set[str]:
    attributes = new_user.attributes
    keys = {smtp_key(value[5:]) for value in attributes.get("proxyAddresses", ())}
    if attributes.get("mail"):
        keys.add(smtp_key(attributes["mail"]))
    keys.add("upn:" + name_key(attributes["userPrincipalName"]))
    return keys


def _as_onprem(new_user: NewUser) -> OnPremUser:
    """The planned user as the predictor reads it; its objectGUID is not known before it exists."""
    attributes = new_user.attributes
    return OnPremUser(distinguished_name=new_user.distinguished_name, sam_account_name=attributes["sAMAccountName"],
                      user_principal_name=attributes["userPrincipalName"], mail=attributes.get("mail"),
                      proxy_addresses=tuple(attributes.get("proxyAddresses", ())),
                      mail_nickname=attributes.get("mailNickname"), object_guid=str(uuid.uuid4()))


def choose(records: Sequence[Mapping], identities: Sequence[str]) -> tuple[list[Mapping], list[str]]:
    """The cloud users the identities name (UPN, an SMTP address or the object ID), and the identities that name
    none or several (refused, never guessed)."""
    found = resolve_identities(identities, records, lambda record: cloud_identity_keys(CloudUser.from_dict(record)))
    chosen: dict[int, Mapping] = {}
    problems = []
    for identity, candidates in found.items():
        if len(candidates) == 1:
            chosen.setdefault(id(candidates[0]), candidates[0])
        else:
            problems.append(f"{identity!r} names {len(candidates) or 'no'} cloud user(s)")
    return list(chosen.values()), problems


def plan_transfer(cloud_records: Sequence[Mapping], existing: Iterable[OnPremUser], index: CloudIndex,
                  tenant: Tenant | Mapping, options: TransferOptions,
                  scope: Iterable[OnPremUser] = ()) -> tuple[list[NewUser], list[Skipped]]:
    """The users to create and the cloud users left alone, with why.

    `existing` are the on-prem users that could hold one of the values (any user of the domain holding a chosen
    UPN or address); `scope` are the on-prem users in sync scope, which the pairing rules run over.
    """
    held: dict[str, str] = {}
    for user in existing:
        for key in _held_keys(user):
            held.setdefault(key, user.distinguished_name)
    counterparts = onprem_counterparts(cloud_records, scope, options.domain_map)
    planned, skipped = [], []
    for record in cloud_records:
        outcome = _plan_or_refusal(record, options, held, counterparts.get(str(record.get("id"))))
        if isinstance(outcome, NewUser):
            planned.append(outcome)
        else:
            skipped.append(Skipped(CloudUser.from_dict(record), outcome))
    return _vetted(planned, skipped, index, tenant)


def onprem_counterparts(cloud_records: Sequence[Mapping], scope: Iterable[OnPremUser],
                        domain_map: Mapping) -> dict[str, str]:
    """Cloud user id -> why it is not created: an on-prem user in scope that smtp_align would pair with it, or
    several it can't tell apart. That person has an account already; a second one would sync as a duplicate."""
    entries = [CloudEntry.of(record) for record in cloud_records]
    pairing = pair_users(scope, entries, rules=AUTOMATIC_RULES, domain_map=domain_map)
    reasons: dict[str, str] = {}
    for pair in pairing.pairs:
        reasons[pair.cloud.id] = (f"on-prem user {pair.onprem.distinguished_name} pairs with it by {pair.rule} "
                                  f"({pair.value}): align the two with smtp_align instead of creating a second "
                                  "account")
    for ambiguity in pairing.ambiguous:
        clouds = [ambiguity.user] if ambiguity.side == "cloud" else list(ambiguity.candidates)
        onprems = list(ambiguity.candidates) if ambiguity.side == "cloud" else [ambiguity.user]
        names = "; ".join(user.distinguished_name for user in onprems)
        for cloud in clouds:
            reasons.setdefault(cloud.id, f"on-prem user(s) {names} match it by {ambiguity.rule} ({ambiguity.value}) "
                                         "among other candidates: pair the right one explicitly with smtp_align "
                                         "instead of creating another account")
    return reasons


def _plan_or_refusal(record: Mapping, options: TransferOptions, held: Mapping[str, str],
                     counterpart: str | None) -> NewUser | str:
    """The user to create, or why not."""
    refusal = _refusal(CloudUser.from_dict(record))
    if refusal is not None:
        return refusal
    try:
        new_user = plan_new_user(record, options)
    except TransferError as err:
        return f"{err} ({err.hint})"
    holders = sorted({held[key] for key in _claimed_keys(new_user) if key in held})
    if holders:
        return (f"on-prem user(s) {'; '.join(holders)} already hold its UPN, mail or an address: align them with "
                "smtp_align instead of creating a duplicate (rule book §4)")
    return counterpart or new_user


def _refusal(cloud: CloudUser) -> str | None:
    if cloud.on_premises_sync_enabled is True:
        return "it is synchronized from on-prem already"
    if not cloud.user_principal_name:
        return "it has no userPrincipalName"
    primary = cloud.primary_smtp
    if primary is None:
        # KB 2641663: SMTP matching needs a mailbox with a primary address
        return "it has no primary SMTP address (no mailbox), so SMTP matching can't join it (KB 2641663)"
    if is_reserved_domain(domain_of(primary.address)) or validate_smtp_address(primary.address):
        return f"its primary SMTP address {primary.address} can't be carried on-prem (rule book §1, §2)"
    return None


def _vetted(planned: list[NewUser], skipped: list[Skipped], index: CloudIndex, tenant: Tenant | Mapping):
    """Rule book §3: keep the plans the predictor says will join their cloud user."""
    users = [_as_onprem(new_user) for new_user in planned]
    results = predict(users, index, tenant)
    kept = []
    for new_user, user, result in zip(planned, users, results, strict=True):
        joins, reasons = judge(Pair(user, new_user.cloud, "transfer", new_user.cloud.user_principal_name), result)
        if joins:
            kept.append(new_user)
        else:
            skipped.append(Skipped(new_user.cloud, " ".join(reasons)))
    return kept, skipped
