"""Turn a scenario's `tenant:` and `cloud:` parts into directory records (internal).

Missing keys take Microsoft's defaults; unknown keys and states a real tenant can't be
in (a duplicate UPN or SMTP address, a UPN in a domain the tenant doesn't hold) are
refused with a message naming the scenario entry, so a typo fails loudly.
`"@ad:<sAMAccountName>"` in `onPremisesImmutableId` is replaced by that AD user's
anchor, from a mapping or a callback the caller gives.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ._roles import role_template_id
from ._schema import CONTACT, GROUP, USER

AD_REFERENCE = "@ad:"
DEFAULT_INITIAL_DOMAIN = "contoso.onmicrosoft.com"

# Tenant switches (rule book §6) and the other onPremisesDirectorySynchronization
# features, with the values a tenant has before anyone changes them.
FEATURE_DEFAULTS = {
    "blockCloudObjectTakeoverThroughHardMatchEnabled": False,
    "blockSoftMatchEnabled": False,
    "bypassDirSyncOverridesEnabled": False,
    "cloudPasswordPolicyForPasswordSyncedUsersEnabled": False,
    "concurrentCredentialUpdateEnabled": False,
    "concurrentOrgIdProvisioningEnabled": True,
    "deviceWritebackEnabled": False,
    "directoryExtensionsEnabled": False,
    "fopeConflictResolutionEnabled": False,
    "groupWriteBackEnabled": False,
    "passwordSyncEnabled": False,
    "passwordWritebackEnabled": False,
    "quarantineUponProxyAddressesConflictEnabled": True,
    "quarantineUponUpnConflictEnabled": True,
    "softMatchOnUpnEnabled": True,
    "synchronizeUpnForManagedUsersEnabled": True,
    "unifiedGroupWritebackEnabled": False,
    "userForcePasswordChangeOnLogonEnabled": False,
    "userWritebackEnabled": False,
}

TENANT_KEYS = {"initial_domain", "verified_domains", "unverified_domains", "default_domain", "features",
               "display_name", "onPremisesSyncEnabled"}
CLOUD_KEYS = {"users", "groups", "contacts", "deleted_users"}

Anchors = Mapping[str, str] | Callable[[str], str | None] | None


class ScenarioError(ValueError):
    """A scenario the lab can't load; the message names the entry."""


def now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class TenantSettings:
    display_name: str
    initial_domain: str
    domains: list[dict]
    features: dict
    on_premises_sync_enabled: bool | None   # None: follow the users


@dataclass
class CloudObjects:
    users: list[dict] = field(default_factory=list)
    deleted_users: list[dict] = field(default_factory=list)   # soft-deleted: Graph's deletedItems
    groups: list[dict] = field(default_factory=list)
    contacts: list[dict] = field(default_factory=list)
    role_assignments: list[dict] = field(default_factory=list)


# --- tenant ---------------------------------------------------------------------------


def _domain_record(name: str, *, verified: bool, initial: bool = False, default: bool = False,
                   authentication: str = "Managed") -> dict:
    return {
        "authenticationType": authentication,
        "availabilityStatus": None,
        "id": name,
        "isAdminManaged": not initial,
        "isDefault": default,
        "isInitial": initial,
        "isRoot": True,
        "isVerified": verified,
        "supportedServices": ["Email", "OfficeCommunicationsOnline"] if verified else [],
        "passwordValidityPeriodInDays": 2147483647,
        "passwordNotificationWindowInDays": 14,
        "state": None,
    }


def normalize_tenant(raw: Mapping | None) -> TenantSettings:
    raw = dict(raw or {})
    unknown = set(raw) - TENANT_KEYS
    if unknown:
        raise ScenarioError(f"tenant: unknown key(s) {sorted(unknown)}; known: {sorted(TENANT_KEYS)}")
    initial = str(raw.get("initial_domain") or DEFAULT_INITIAL_DOMAIN).lower()
    if not initial.endswith(".onmicrosoft.com"):
        raise ScenarioError(f"tenant.initial_domain {initial!r} must end with .onmicrosoft.com")
    domains = {initial: _domain_record(initial, verified=True, initial=True)}
    for key, verified in (("verified_domains", True), ("unverified_domains", False)):
        for entry in raw.get(key) or []:
            if isinstance(entry, str):
                name, authentication, default = entry, "Managed", False
            elif isinstance(entry, Mapping):
                extra = set(entry) - {"name", "id", "authenticationType", "isDefault"}
                if extra:
                    raise ScenarioError(f"tenant.{key}: unknown key(s) {sorted(extra)} in {dict(entry)}")
                name = entry.get("name") or entry.get("id")
                authentication = entry.get("authenticationType", "Managed")
                default = bool(entry.get("isDefault", False))
            else:
                raise ScenarioError(f"tenant.{key}: {entry!r} is neither a name nor a mapping")
            if not name or "." not in str(name):
                raise ScenarioError(f"tenant.{key}: {entry!r} is not a domain name")
            if authentication not in ("Managed", "Federated"):
                raise ScenarioError(f"tenant.{key}: authenticationType of {name} must be Managed or Federated")
            name = str(name).lower()
            domains[name] = _domain_record(name, verified=verified, default=default,
                                           authentication=authentication)
    default_name = raw.get("default_domain")
    if default_name:
        default_name = str(default_name).lower()
        if default_name not in domains or not domains[default_name]["isVerified"]:
            raise ScenarioError(f"tenant.default_domain {default_name!r} is not a verified domain of the tenant")
        for record in domains.values():
            record["isDefault"] = record["id"] == default_name
    elif not any(record["isDefault"] for record in domains.values()):
        domains[initial]["isDefault"] = True
    for record in domains.values():   # a subdomain of another domain of the tenant is not a root
        record["isRoot"] = not any(record["id"].endswith("." + other) for other in domains if other != record["id"])
    features = dict(FEATURE_DEFAULTS)
    for name, value in dict(raw.get("features") or {}).items():
        if name not in FEATURE_DEFAULTS:
            raise ScenarioError(f"tenant.features: unknown feature {name!r}; known: {sorted(FEATURE_DEFAULTS)}")
        if not isinstance(value, bool):
            raise ScenarioError(f"tenant.features.{name} must be true or false, not {value!r}")
        features[name] = value
    display_name = raw.get("display_name") or initial.split(".", maxsplit=1)[0].capitalize()
    sync = raw.get("onPremisesSyncEnabled")
    if sync is not None and not isinstance(sync, bool):
        raise ScenarioError("tenant.onPremisesSyncEnabled must be true, false or null")
    return TenantSettings(str(display_name), initial, list(domains.values()), features, sync)


# --- cloud objects ----------------------------------------------------------------------


def resolve_anchor(value, anchors: Anchors, where: str):
    if not isinstance(value, str) or not value.startswith(AD_REFERENCE):
        return value
    sam = value[len(AD_REFERENCE):]
    found = None
    if callable(anchors):
        found = anchors(sam)
    elif anchors is not None:
        found = anchors.get(sam)
        if found is None:
            folded = {key.casefold(): anchor for key, anchor in anchors.items()}
            found = folded.get(sam.casefold())
    if not found:
        raise ScenarioError(f"{where}: {value!r} names AD user {sam!r}, whose source anchor was not given "
                            "(load the AD part first and pass its anchors)")
    return found


def _check_keys(raw: Mapping, allowed: set[str], where: str) -> None:
    unknown = {key for key in raw if key not in allowed}
    if unknown:
        raise ScenarioError(f"{where}: unknown key(s) {sorted(unknown)}")


def _check_types(record: dict, schema, where: str) -> None:
    for spec in schema.properties.values():
        value = record.get(spec.name)
        if value is None:
            continue
        if spec.kind == "string" and not isinstance(value, str):
            raise ScenarioError(f"{where}: {spec.name} must be a string, not {value!r}")
        if spec.kind == "bool" and not isinstance(value, bool):
            raise ScenarioError(f"{where}: {spec.name} must be true or false, not {value!r}")
        if spec.kind == "strings" and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise ScenarioError(f"{where}: {spec.name} must be a list of strings, not {value!r}")


def _check_proxy_addresses(values: list[str], where: str) -> None:
    for value in values:
        kind, sep, address = value.partition(":")
        if not sep or not kind or not address:
            raise ScenarioError(f"{where}: proxy address {value!r} is not of the form <type>:<address>")


def _prefix(address: str | None) -> str | None:
    return address.split("@", 1)[0] if address else None


# Exchange Online (Plan 2), EXCHANGE_S_ENTERPRISE: the service plan the lab's licensed users hold
EXCHANGE_SERVICE_PLAN_ID = "efb87545-963c-4e0d-99df-69c6916d9eb0"


def exchange_plan(assigned: str) -> dict:
    """A Graph assignedPlan of Exchange Online, in use."""
    return {"assignedDateTime": assigned, "capabilityStatus": "Enabled", "service": "exchange",
            "servicePlanId": EXCHANGE_SERVICE_PLAN_ID}


def v1_defaults(record: dict) -> None:
    """The Graph v1.0 user properties scripts select, as an empty directory shows them."""
    if record.get("provisionedPlans") is None:
        record["provisionedPlans"] = [{"capabilityStatus": plan.get("capabilityStatus"),
                                       "provisioningStatus": "Success", "service": plan.get("service")}
                                      for plan in record.get("assignedPlans") or ()]
    if record.get("onPremisesExtensionAttributes") is None:
        record["onPremisesExtensionAttributes"] = {f"extensionAttribute{n}": None for n in range(1, 16)}
    if record.get("identities") is None:
        record["identities"] = []


def user_record(raw: Mapping, anchors: Anchors, where: str, created: str) -> tuple[dict, list[str]]:
    _check_keys(raw, set(USER.properties_by_name) | {"roles"}, where)
    upn = raw.get("userPrincipalName")
    if not isinstance(upn, str) or "@" not in upn or upn.startswith("@"):
        raise ScenarioError(f"{where}: userPrincipalName is required and must look like name@domain")
    record: dict = dict.fromkeys(USER.order)
    record.update({
        "id": str(uuid.uuid4()),
        "businessPhones": [],
        "displayName": _prefix(upn),
        "mailNickname": _prefix(upn),
        "accountEnabled": True,
        "userType": "Member",
        "createdDateTime": created,
        "otherMails": [],
        "proxyAddresses": [],
        "onPremisesProvisioningErrors": [],
    })
    record.update({USER.properties_by_name[key]: value for key, value in raw.items() if key != "roles"})
    record["id"] = str(record["id"]).lower()
    if "assignedPlans" not in raw:
        # the lab's default: a loaded user with a mailbox (a primary SMTP: value) holds an Exchange Online licence
        record["assignedPlans"] = [exchange_plan(created)] if any(
            str(value).startswith("SMTP:") for value in record["proxyAddresses"] or ()) else []
    if record["assignedLicenses"] is None:
        record["assignedLicenses"] = []
    v1_defaults(record)
    record["onPremisesImmutableId"] = resolve_anchor(record["onPremisesImmutableId"], anchors,
                                                     f"{where}.onPremisesImmutableId")
    if record["onPremisesSyncEnabled"] is True and record["onPremisesLastSyncDateTime"] is None:
        record["onPremisesLastSyncDateTime"] = created
    _check_types(record, USER, where)
    _check_proxy_addresses(record["proxyAddresses"], where)
    roles = raw.get("roles") or []
    if not isinstance(roles, list):
        raise ScenarioError(f"{where}: roles must be a list of role names")
    try:
        templates = [role_template_id(str(role)) for role in roles]
    except ValueError as exc:
        raise ScenarioError(f"{where}: {exc}") from exc
    return record, templates


def group_record(raw: Mapping, where: str, created: str, number: int) -> dict:
    _check_keys(raw, set(GROUP.properties_by_name), where)
    record: dict = dict.fromkeys(GROUP.order)
    mail = raw.get("mail")
    record.update({
        "id": str(uuid.uuid4()),
        "createdDateTime": created,
        "displayName": _prefix(mail) or f"Group {number}",
        "groupTypes": [],
        "mailNickname": _prefix(mail) or f"group{number}",
        "proxyAddresses": [],
        "securityEnabled": False,
    })
    record.update({GROUP.properties_by_name[key]: value for key, value in raw.items()})
    record["id"] = str(record["id"]).lower()
    if record["mailEnabled"] is None:
        record["mailEnabled"] = bool(record["mail"] or record["proxyAddresses"])
    if record["onPremisesSyncEnabled"] is True and record["onPremisesLastSyncDateTime"] is None:
        record["onPremisesLastSyncDateTime"] = created
    _check_types(record, GROUP, where)
    _check_proxy_addresses(record["proxyAddresses"], where)
    return record


def contact_record(raw: Mapping, where: str, created: str, number: int) -> dict:
    _check_keys(raw, set(CONTACT.properties_by_name), where)
    record: dict = dict.fromkeys(CONTACT.order)
    mail = raw.get("mail")
    record.update({
        "id": str(uuid.uuid4()),
        "displayName": _prefix(mail) or f"Contact {number}",
        "mailNickname": _prefix(mail) or f"contact{number}",
        "proxyAddresses": [],
    })
    record.update({CONTACT.properties_by_name[key]: value for key, value in raw.items()})
    record["id"] = str(record["id"]).lower()
    if record["onPremisesSyncEnabled"] is True and record["onPremisesLastSyncDateTime"] is None:
        record["onPremisesLastSyncDateTime"] = created
    _check_types(record, CONTACT, where)
    _check_proxy_addresses(record["proxyAddresses"], where)
    return record


def role_assignment_record(template_id: str, principal_id: str) -> dict:
    raw_id = uuid.UUID(template_id).bytes_le + uuid.UUID(principal_id).bytes_le
    return {
        "id": base64.urlsafe_b64encode(raw_id).rstrip(b"=").decode("ascii") + "-1",
        "principalId": principal_id,
        "roleDefinitionId": template_id,
        "directoryScopeId": "/",
        "appScopeId": None,
    }


def smtp_addresses(record: dict) -> set[str]:
    """The folded SMTP addresses an object holds, for the tenant-wide uniqueness rule."""
    found = set()
    for value in record.get("proxyAddresses") or ():
        kind, _colon, address = value.partition(":")
        if kind.lower() == "smtp":
            found.add(address.casefold())
    return found


def normalize_cloud(raw: Mapping | None, tenant: TenantSettings, anchors: Anchors) -> CloudObjects:
    raw = dict(raw or {})
    unknown = set(raw) - CLOUD_KEYS
    if unknown:
        raise ScenarioError(f"cloud: unknown key(s) {sorted(unknown)}; known: {sorted(CLOUD_KEYS)}")
    created = now_text()
    verified = {record["id"] for record in tenant.domains if record["isVerified"]}
    objects = CloudObjects()
    ids: dict[str, str] = {}
    upns: dict[str, str] = {}
    immutable_ids: dict[str, str] = {}
    addresses: dict[str, str] = {}

    def claim(table: dict, key: str, where: str, what: str) -> None:
        if key in table:
            raise ScenarioError(f"{where}: {what} {key!r} is already held by {table[key]}; a tenant keeps it unique")
        table[key] = where

    for index, entry in enumerate(raw.get("users") or []):
        upn = entry.get("userPrincipalName") if isinstance(entry, Mapping) else None
        where = f"cloud.users[{index}] ({upn})"
        if not isinstance(entry, Mapping):
            raise ScenarioError(f"cloud.users[{index}] is not a mapping")
        record, templates = user_record(entry, anchors, where, created)
        domain = record["userPrincipalName"].rsplit("@", 1)[1].lower()
        if domain not in verified:
            raise ScenarioError(f"{where}: the UPN domain {domain!r} is not a verified domain of the tenant "
                                f"({sorted(verified)})")
        claim(ids, record["id"], where, "id")
        claim(upns, record["userPrincipalName"].casefold(), where, "userPrincipalName")
        if record["onPremisesImmutableId"]:
            claim(immutable_ids, record["onPremisesImmutableId"], where, "onPremisesImmutableId")
        for address in smtp_addresses(record):
            claim(addresses, address, where, "SMTP address")
        objects.users.append(record)
        objects.role_assignments.extend(role_assignment_record(t, record["id"]) for t in dict.fromkeys(templates))
    for index, entry in enumerate(raw.get("deleted_users") or []):
        # soft-deleted users keep their values for 30 days; only id and ImmutableId stay unique here (§9.12)
        upn = entry.get("userPrincipalName") if isinstance(entry, Mapping) else None
        where = f"cloud.deleted_users[{index}] ({upn})"
        if not isinstance(entry, Mapping) or "roles" in entry:
            raise ScenarioError(f"{where} must be a mapping without roles")
        record, _templates = user_record(entry, anchors, where, created)
        record["deletedDateTime"] = record["deletedDateTime"] or created
        claim(ids, record["id"], where, "id")
        if record["onPremisesImmutableId"]:
            claim(immutable_ids, record["onPremisesImmutableId"], where, "onPremisesImmutableId")
        objects.deleted_users.append(record)
    for key, build, bucket in (("groups", group_record, objects.groups), ("contacts", contact_record,
                                                                          objects.contacts)):
        for index, entry in enumerate(raw.get(key) or []):
            if not isinstance(entry, Mapping):
                raise ScenarioError(f"cloud.{key}[{index}] is not a mapping")
            where = f"cloud.{key}[{index}] ({entry.get('mail') or entry.get('displayName')})"
            record = build(entry, where, created, index + 1)
            claim(ids, record["id"], where, "id")
            for address in smtp_addresses(record):
                claim(addresses, address, where, "SMTP address")
            bucket.append(record)
    return objects
