# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The predictor's inputs: on-prem users, cloud objects and the tenant, as frozen values built from plain dicts.

Internal to the hybrid.identity collection: not a public API, it may change without notice.

The predictor's inputs: on-prem users, cloud users, the mail-enabled groups and contacts that
hold addresses, and the tenant. Each is a frozen slotted value built from the plain dict a
module passes (`from_dict`): AD attribute names or snake_case for on-prem users, Graph names
(`$select`) or snake_case for cloud objects. Key spellings are compared the LDAP way:
case-insensitively, and here also ignoring '_' and '-', so `sAMAccountName`,
`sam_account_name` and `samaccountname` are one key.

Pure: standard library only, no Ansible, no I/O.

Decisions beyond the rule book, each written where it is applied:
- A cloud user "has a mailbox" (KB 2641663) when its proxyAddresses hold a primary `SMTP:`
  value; an explicit `has_mailbox` wins; without proxyAddresses in the record it is unknown.
- A cloud user "has an Exchange licence" (KB 3190357) when `assignedPlans` holds a plan of the
  service `exchange` whose capabilityStatus is `Enabled` or `Warning` (Graph: still usable, in
  a grace period); without assignedPlans in the record it is unknown.
- A cloud user with `deletedDateTime` is soft-deleted (it is in Graph's deletedItems): it is no
  candidate and holds no value (rule book §9.12); only its ImmutableId counts.
- Every role listed in `admin_roles` counts as a directory admin role (rule book §9.3: be safe).
- `synchronizeUpnForManagedUsersEnabled` defaults to on, as in every tenant created after
  June 2015.
- The initial domain counts as verified: it is the tenant's own `*.onmicrosoft.com` domain.
"""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import InitVar, dataclass, field

from ansible_collections.hybrid.identity.plugins.module_utils.common._addresses import ProxyAddress, parse_or_none
from ansible_collections.hybrid.identity.plugins.module_utils.common._anchor import (
    AnchorError,
    anchor_bytes,
    anchor_from_any,
    guid_bytes,
    immutable_id,
)
from ansible_collections.hybrid.identity.plugins.module_utils.common._errors import HybridIdentityError

ANCHOR_CONSISTENCY_GUID = "mS-DS-ConsistencyGuid"
ANCHOR_OBJECT_GUID = "objectGUID"
ANCHOR_MODES = (ANCHOR_CONSISTENCY_GUID, ANCHOR_OBJECT_GUID)

BLOCK_SOFT_MATCH = "blockSoftMatchEnabled"
BLOCK_HARD_MATCH_TAKEOVER = "blockCloudObjectTakeoverThroughHardMatchEnabled"
SOFT_MATCH_ON_UPN = "softMatchOnUpnEnabled"
SYNCHRONIZE_UPN = "synchronizeUpnForManagedUsersEnabled"
QUARANTINE_PROXY_CONFLICTS = "quarantineUponProxyAddressesConflictEnabled"
QUARANTINE_UPN_CONFLICTS = "quarantineUponUpnConflictEnabled"
# rule book §6: Microsoft's defaults when the tenant's switches can't be read
FEATURE_DEFAULTS = {
    BLOCK_SOFT_MATCH: False,
    BLOCK_HARD_MATCH_TAKEOVER: False,
    SOFT_MATCH_ON_UPN: True,
    SYNCHRONIZE_UPN: True,
    QUARANTINE_PROXY_CONFLICTS: True,
    QUARANTINE_UPN_CONFLICTS: True,
}

# rule book §2, §9.6: Microsoft's own domains, never synced from on-prem (KB 3190357)
RESERVED_DOMAINS = ("onmicrosoft.com", "microsoftonline.com")
GROUP = "group"
CONTACT = "contact"


class MatchingInputError(HybridIdentityError):
    """A record the predictor can't read; the hint says what to give."""


def name_key(name: str) -> str:
    """How Entra ID compares UPNs and domain names: case-insensitively (rule book §1)."""
    return name.lower()


def smtp_key(address: str) -> str:
    """How addresses are compared everywhere: the address model's case-insensitive key (rule book §1)."""
    return ProxyAddress.smtp(address).key


def domain_of(address: str) -> str:
    return address.rpartition("@")[2]


def local_part_of(address: str) -> str:
    return address.rpartition("@")[0] if "@" in address else address


@functools.lru_cache(maxsize=4096)  # asked for every address of every user, of a tenant's few domains
def is_reserved_domain(domain: str) -> bool:
    """Rule book §2, §9.6: `*.onmicrosoft.com` and `*.microsoftonline.com` are Microsoft's, not the customer's."""
    key = name_key(domain)
    return any(key == reserved or key.endswith("." + reserved) for reserved in RESERVED_DOMAINS)


def smtp_value(value: str) -> ProxyAddress | None:
    """One proxyAddresses value parsed when it is an SMTP value; other types and untyped junk give None."""
    proxy = parse_or_none(value)
    return proxy if proxy is not None and proxy.is_smtp else None


def smtp_values(proxy_addresses: Iterable[str]) -> list[ProxyAddress]:
    """The SMTP values among proxyAddresses, parsed; untyped junk is left to validation."""
    return [proxy for proxy in map(smtp_value, proxy_addresses) if proxy is not None]


def _with_mail(addresses: list[ProxyAddress], mail: str | None) -> tuple[ProxyAddress, ...]:
    """The SMTP addresses plus `mail` when they don't carry it; mail is the primary when none is marked."""
    if mail:
        key = ProxyAddress.smtp(mail).key
        if all(proxy.key != key for proxy in addresses):
            addresses = [*addresses, ProxyAddress.smtp(mail, primary=not any(p.primary for p in addresses))]
    return tuple(addresses)


# --- reading plain dicts --------------------------------------------------------------------


@functools.cache
def _normal(name: str) -> str:
    return str(name).lower().replace("_", "").replace("-", "")


def _is_empty(value: object) -> bool:
    return value is None or (isinstance(value, str | bytes | list | tuple) and len(value) == 0)


class _Record:
    """A dict read by any of several key spellings, compared as LDAP compares attribute names."""

    __slots__ = ("_values", "kind")

    def __init__(self, record: object, kind: str) -> None:
        if not isinstance(record, Mapping):
            raise MatchingInputError(f"{kind} {record!r} is not a dict", hint=f"give each {kind} as a dict")
        self.kind = kind
        self._values = {_normal(key): value for key, value in record.items()}

    def has(self, *names: str) -> bool:
        return any(_normal(name) in self._values for name in names)

    def get(self, *names: str) -> object:
        values = self._values
        for name in names:
            value = values.get(_normal(name))
            if value or not _is_empty(value):  # a value present is the common case: decided by its truth
                return value
        return None

    def single(self, *names: str) -> object:
        """One value: ldap3 hands single-valued attributes over as one-element lists."""
        value = self.get(*names)
        if isinstance(value, list | tuple):
            return value[0] if value else None
        return value

    def text(self, *names: str) -> str | None:
        value = self.get(*names)
        if isinstance(value, str):
            return value  # the common case, without the steps below
        if isinstance(value, list | tuple):
            value = value[0] if value else None
        if value is None:
            return None
        if isinstance(value, bytes):
            return value.decode("utf-8", errors="replace")
        return str(value)

    def texts(self, *names: str) -> tuple[str, ...]:
        value = self.get(*names)
        if value is None:
            return ()
        if isinstance(value, str | bytes):
            value = [value]
        return tuple(v.decode("utf-8", errors="replace") if isinstance(v, bytes) else str(v) for v in value)

    def flag(self, *names: str) -> bool | None:
        """A boolean, from a bool or LDAP's 'TRUE'/'FALSE'."""
        value = self.single(*names)
        if value is None or isinstance(value, bool):
            return value
        return str(value).strip().lower() in ("true", "1", "yes")


# A GUID already written as AD shows it (lower case, hyphens): kept as it is, without a round trip through uuid
_CANONICAL_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _guid_text(value: object) -> str | None:
    """objectGUID as AD shows it, from raw bytes, a UUID, a GUID string or an ImmutableId; junk kept as given."""
    if value is None:
        return None
    if isinstance(value, str) and _CANONICAL_GUID.fullmatch(value):
        return value
    try:
        raw = anchor_from_any(value) if isinstance(value, str) else guid_bytes(value)
    except AnchorError:
        return str(value)
    return str(uuid.UUID(bytes_le=raw))


def _immutable_id_or_raw(value: object) -> str | None:
    """mS-DS-ConsistencyGuid as an ImmutableId, from raw bytes, a GUID or an ImmutableId; junk kept as given."""
    if value is None:
        return None
    try:
        raw = anchor_from_any(value) if isinstance(value, str) else guid_bytes(value)
    except AnchorError:
        return repr(value) if isinstance(value, bytes | bytearray) else str(value)
    return immutable_id(raw)


def _most_specific_class(value: object) -> str | None:
    """objectClass comes as the whole chain (top, person, ..., user): the last one is the object's own."""
    if isinstance(value, list | tuple):
        return str(value[-1]) if value else None
    return None if value is None else str(value)


# Graph's assignedPlan capabilityStatus values in which the service is usable
_USABLE_PLAN_STATES = frozenset({"enabled", "warning"})


def _exchange_licensed(plans: object) -> bool:
    """KB 3190357: an Exchange Online plan in assignedPlans (Graph assignedPlan: service, capabilityStatus)."""
    if isinstance(plans, Mapping):
        plans = [plans]
    return any(isinstance(plan, Mapping) and str(plan.get("service") or "").lower() == "exchange"
               and str(plan.get("capabilityStatus") or "").lower() in _USABLE_PLAN_STATES
               for plan in plans or ())


def _role_names(value: object) -> tuple[str, ...]:
    """Role names from strings or Graph role objects (displayName, else the definition id)."""
    if value is None:
        return ()
    if isinstance(value, str | Mapping):
        value = [value]
    names = []
    for role in value:
        if isinstance(role, Mapping):
            role = role.get("displayName") or role.get("roleDefinitionId") or role.get("id")
        if role:
            names.append(str(role))
    return tuple(names)


# --- the inputs -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OnPremUser:
    """An AD user in sync scope, values as stored (proxyAddresses case preserved)."""

    distinguished_name: str | None
    sam_account_name: str | None = None
    user_principal_name: str | None = None
    mail: str | None = None
    proxy_addresses: tuple[str, ...] = ()
    mail_nickname: str | None = None
    object_guid: str | None = None
    consistency_guid: str | None = None
    is_critical_system_object: bool = False
    object_class: str = "user"
    employee_id: str | None = None
    display_name: str | None = None

    @classmethod
    def from_dict(cls, record: Mapping) -> OnPremUser:
        """AD attribute names (as the AD reader returns them) or snake_case; ldap3 lists and raw GUID bytes work."""
        fields = _Record(record, "on-prem user")
        user = cls(
            distinguished_name=fields.text("distinguished_name", "dn"),
            sam_account_name=fields.text("sam_account_name"),
            user_principal_name=fields.text("user_principal_name", "upn"),
            mail=fields.text("mail"),
            proxy_addresses=fields.texts("proxy_addresses"),
            mail_nickname=fields.text("mail_nickname"),
            object_guid=_guid_text(fields.single("object_guid")),
            consistency_guid=_immutable_id_or_raw(fields.single("consistency_guid", ANCHOR_CONSISTENCY_GUID)),
            is_critical_system_object=bool(fields.flag("is_critical_system_object")),
            object_class=_most_specific_class(fields.get("object_class")) or "user",
            employee_id=fields.text("employee_id"),
            display_name=fields.text("display_name"),
        )
        if not (user.distinguished_name or user.sam_account_name or user.user_principal_name):
            raise MatchingInputError(f"on-prem user {dict(record)!r} has no distinguishedName, sAMAccountName or UPN",
                                     hint="give at least distinguished_name for every on-prem user")
        return user

    @property
    def label(self) -> str:
        """How messages name this user."""
        return self.distinguished_name or self.sam_account_name or self.user_principal_name or "?"

    def source_anchor(self, anchor_mode: str = ANCHOR_CONSISTENCY_GUID) -> str:
        """The ImmutableId the cloud will carry; raises AnchorError when the stored values can't give one."""
        if anchor_mode not in ANCHOR_MODES:
            raise MatchingInputError(f"source anchor {anchor_mode!r} is not supported",
                                     hint=f"use one of {', '.join(ANCHOR_MODES)}")
        # rule book §3.1/§9.4: mS-DS-ConsistencyGuid when set, else objectGUID; objectGUID alone when chosen
        if anchor_mode == ANCHOR_CONSISTENCY_GUID and self.consistency_guid:
            anchor_bytes(self.consistency_guid)
            return self.consistency_guid
        if not self.object_guid:
            raise AnchorError(f"{self.label} has no objectGUID",
                              hint="read objectGUID with the user, or give its mS-DS-ConsistencyGuid")
        return immutable_id(self.object_guid)

    def anchor_attribute(self, anchor_mode: str = ANCHOR_CONSISTENCY_GUID) -> str:
        """The attribute the source anchor comes from, for messages."""
        if anchor_mode == ANCHOR_CONSISTENCY_GUID and self.consistency_guid:
            return ANCHOR_CONSISTENCY_GUID
        return ANCHOR_OBJECT_GUID


@dataclass(frozen=True, slots=True)
class CloudUser:
    """An Entra ID user as Graph returns it with `$select`, plus its directory roles."""

    id: str
    user_principal_name: str | None = None
    mail: str | None = None
    proxy_addresses: tuple[str, ...] = ()
    on_premises_immutable_id: str | None = None
    on_premises_sync_enabled: bool | None = None
    admin_roles: tuple[str, ...] = ()
    has_mailbox: bool | None = None
    exchange_licensed: bool | None = None
    deleted_date_time: str | None = None     # set on a soft-deleted user (Graph's deletedItems)
    _smtp: tuple[ProxyAddress, ...] = field(init=False, repr=False, compare=False)
    # KB 2641663: with has_mailbox unknown, tell it from the primary SMTP value in proxyAddresses
    mailbox_from_addresses: InitVar[bool] = False

    def __post_init__(self, mailbox_from_addresses: bool) -> None:
        # parsed once: the index, the candidate checks and the prediction all read them
        smtp = smtp_values(self.proxy_addresses)
        if mailbox_from_addresses and self.has_mailbox is None:
            object.__setattr__(self, "has_mailbox", any(proxy.primary for proxy in smtp))
        object.__setattr__(self, "_smtp", _with_mail(smtp, self.mail))

    @classmethod
    def from_dict(cls, record: Mapping) -> CloudUser:
        """Graph names (id, userPrincipalName, proxyAddresses, onPremises...) or snake_case; roles as
        `admin_roles` (the cloud_user_lookup key) or `roles` (names or Graph role objects)."""
        fields = _Record(record, "cloud user")
        user = cls(
            id=fields.text("id", "object_id") or fields.text("user_principal_name") or "",
            user_principal_name=fields.text("user_principal_name"),
            mail=fields.text("mail"),
            proxy_addresses=fields.texts("proxy_addresses"),
            on_premises_immutable_id=fields.text("on_premises_immutable_id", "immutable_id"),
            on_premises_sync_enabled=fields.flag("on_premises_sync_enabled"),
            admin_roles=_role_names(fields.get("admin_roles", "roles")),
            has_mailbox=fields.flag("has_mailbox"),
            # KB 2641663: a mailbox shows as a primary SMTP address in proxyAddresses
            mailbox_from_addresses=fields.has("proxy_addresses"),
            exchange_licensed=_exchange_licensed(fields.get("assigned_plans")) if fields.has("assigned_plans")
            else fields.flag("exchange_licensed"),
            deleted_date_time=fields.text("deleted_date_time"),
        )
        if not user.id:
            raise MatchingInputError(f"cloud user {dict(record)!r} has neither id nor userPrincipalName",
                                     hint="select id and userPrincipalName when listing users")
        return user

    @property
    def label(self) -> str:
        return f"cloud user {self.user_principal_name or '?'} ({self.id})"

    def smtp_addresses(self) -> tuple[ProxyAddress, ...]:
        """Its SMTP proxy addresses, plus `mail` when proxyAddresses don't carry it."""
        return self._smtp

    @property
    def primary_smtp(self) -> ProxyAddress | None:
        """The `SMTP:` value, else `mail` (Graph's mail is the primary by convention)."""
        return next((proxy for proxy in self._smtp if proxy.primary), None)


@dataclass(frozen=True, slots=True)
class CloudObject:
    """A mail-enabled group or an org contact: it holds addresses but is never a join candidate (§9.1)."""

    id: str
    kind: str
    display_name: str | None = None
    mail: str | None = None
    proxy_addresses: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, record: Mapping, kind: str | None = None) -> CloudObject:
        """Graph names or snake_case; `kind` ('group' or 'contact') from the argument, the record's
        `kind`, or its `@odata.type`."""
        fields = _Record(record, "cloud group or contact")
        kind = kind or fields.text("kind") or _kind_from_odata_type(fields.text("@odata.type"))
        if kind not in (GROUP, CONTACT):
            raise MatchingInputError(f"cloud object {dict(record)!r} is neither a group nor a contact",
                                     hint="pass kind='group' or kind='contact'")
        return cls(
            id=fields.text("id") or fields.text("mail") or "",
            kind=kind,
            display_name=fields.text("display_name"),
            mail=fields.text("mail"),
            proxy_addresses=fields.texts("proxy_addresses"),
        )

    @property
    def label(self) -> str:
        kind = "mail-enabled group" if self.kind == GROUP else "contact"
        return f"{kind} {self.display_name or self.mail or '?'} ({self.id})"

    def smtp_addresses(self) -> tuple[ProxyAddress, ...]:
        return _with_mail(smtp_values(self.proxy_addresses), self.mail)


def _kind_from_odata_type(odata_type: str | None) -> str | None:
    if not odata_type:
        return None
    lowered = odata_type.lower()
    if lowered.endswith("group"):
        return GROUP
    if lowered.endswith("contact"):
        return CONTACT
    return None


@dataclass(frozen=True, slots=True)
class Tenant:
    """The tenant's domains and directory-synchronization switches (rule book §6)."""

    initial_domain: str
    verified_domains: tuple[str, ...] = ()
    features: Mapping = field(default_factory=dict)
    _verified_keys: frozenset = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        verified = {name_key(domain) for domain in self.verified_domains}
        object.__setattr__(self, "_verified_keys", frozenset(verified | {name_key(self.initial_domain)}))

    @classmethod
    def from_dict(cls, record: Mapping) -> Tenant:
        """`initial_domain`, `verified_domains` (names, or Graph /domains objects with id, isVerified,
        isInitial) and `features` (the Graph onPremisesSynchronization features, or that object)."""
        fields = _Record(record, "tenant")
        domains = fields.get("verified_domains", "domains") or ()
        verified = [_domain_name(d) for d in domains if not isinstance(d, Mapping) or d.get("isVerified", True)]
        initial = fields.text("initial_domain") or _initial_domain(domains)
        if not initial:
            raise MatchingInputError("the tenant's initial domain is not known",
                                     hint="give initial_domain, for example contoso.onmicrosoft.com")
        features = fields.get("features") or {}
        if isinstance(features, Mapping) and isinstance(features.get("features"), Mapping):
            features = features["features"]
        return cls(initial_domain=initial, verified_domains=tuple(verified), features=dict(features))

    def feature(self, name: str) -> bool:
        """A switch's value, Microsoft's default when it was not read (rule book §6)."""
        value = self.features.get(name)
        return FEATURE_DEFAULTS.get(name, False) if value is None else bool(value)

    def is_verified(self, domain: str) -> bool:
        return name_key(domain) in self._verified_keys

    def moera(self, local_part: str) -> str:
        """The Microsoft Online Email Routing Address, `<mailNickname>@<initial domain>` (rule book §2)."""
        return f"{local_part}@{self.initial_domain}"


def _domain_name(domain: object) -> str:
    return str(domain.get("id") or domain.get("name")) if isinstance(domain, Mapping) else str(domain)


def _initial_domain(domains: Iterable) -> str | None:
    """The domain Graph marks isInitial, else the one `<name>.onmicrosoft.com` among them."""
    for domain in domains:
        if isinstance(domain, Mapping) and domain.get("isInitial"):
            return _domain_name(domain)
    for domain in map(_domain_name, domains):
        labels = name_key(domain).split(".")
        if len(labels) == 3 and labels[1:] == ["onmicrosoft", "com"]:
            return domain
    return None
