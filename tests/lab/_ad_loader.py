"""The `ad:` section of a scenario: checked in full first, then written over one LDAP connection.

Loading replaces everything under the lab's scenario OU: the previous scenario's objects
are deleted (subtree delete), then OUs, users, mail-enabled groups and contacts are added.
"""

from __future__ import annotations

import base64
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import NamedTuple

import ldap3
from ldap3.core.exceptions import LDAPException, LDAPNoSuchObjectResult
from ldap3.utils.dn import escape_rdn, parse_dn

from tests.lab._errors import LabError
from tests.lab._scenario import ScenarioError, check_keys, require_list, require_mapping

SECTION_KEYS = ("users", "groups", "contacts", "ous")
# Attributes copied as written (strings); the other keys are handled by name below.
_TEXT = ("userPrincipalName", "mail", "givenName", "sn", "displayName", "mailNickname", "employeeID",
         "description")
USER_KEYS = ("sAMAccountName", "ou", "cn", *_TEXT, "proxyAddresses", "mS-DS-ConsistencyGuid", "enabled",
             "password")
GROUP_KEYS = ("name", "ou", "sAMAccountName", "mail", "mailNickname", "displayName", "description",
              "proxyAddresses", "security", "members")
CONTACT_KEYS = ("name", "ou", "mail", "mailNickname", "displayName", "givenName", "sn", "description",
                "proxyAddresses")

UF_ACCOUNTDISABLE = 0x0002
UF_NORMAL_ACCOUNT = 0x0200
GROUP_UNIVERSAL = 0x00000008
GROUP_SECURITY = 0x80000000
TREE_DELETE_CONTROL = ("1.2.840.113556.1.4.805", True, None)
_GUID_TEXT = re.compile(r"^\{?[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}\}?$")


class LoadError(LabError):
    pass


class AdIdentity(NamedTuple):
    """A loaded AD user as Entra Connect sees it."""

    dn: str
    object_guid: str
    source_anchor: str


@dataclass
class PlannedObject:
    kind: str  # user, group or contact
    key: str  # sAMAccountName of a user, name of a group or contact
    dn: str
    attributes: dict
    members: list[str] = field(default_factory=list)


@dataclass
class Plan:
    ous: list[str]  # parents before children
    objects: list[PlannedObject]


# --- checking ---------------------------------------------------------------------------


def parse_ad_section(section, scenario_ou: str) -> Plan:
    """Check the whole section and turn it into LDAP adds; raises ScenarioError, touches nothing."""
    section = require_mapping(section or {}, "ad")
    check_keys(section, SECTION_KEYS, "ad")
    ous: list[str] = []
    objects: list[PlannedObject] = []
    for index, ou in enumerate(require_list(section.get("ous"), "ad.ous")):
        _add_ou_chain(ous, _ou_rdns(ou, f"ad.ous[{index}]"), scenario_ou)
    for kind, parse in (("users", _parse_user), ("groups", _parse_group), ("contacts", _parse_contact)):
        for index, raw in enumerate(require_list(section.get(kind), f"ad.{kind}")):
            where = f"ad.{kind}[{index}]"
            raw = require_mapping(raw, where)
            rdns = _ou_rdns(raw.get("ou"), where)
            _add_ou_chain(ous, rdns, scenario_ou)
            objects.append(parse(raw, where, ",".join([*rdns, scenario_ou])))
    _check_unique(objects)
    _resolve_members(objects)
    return Plan(ous, objects)


def _parse_user(raw: dict, where: str, parent: str) -> PlannedObject:
    check_keys(raw, USER_KEYS, where)
    sam = _text(raw, "sAMAccountName", where, required=True)
    where = f"{where} ({sam})"
    attributes = {"sAMAccountName": sam, **_texts(raw, _TEXT, where)}
    _put_proxy_addresses(attributes, raw, where)
    if raw.get("mS-DS-ConsistencyGuid") is not None:
        attributes["mS-DS-ConsistencyGuid"] = consistency_guid_bytes(raw["mS-DS-ConsistencyGuid"], where)
    password = _text(raw, "password", where)
    enabled = raw.get("enabled", password is not None)
    if not isinstance(enabled, bool):
        raise ScenarioError(f"{where}: enabled must be true or false")
    if enabled and password is None:
        raise ScenarioError(f"{where}: an enabled user needs a password")
    if password is not None:
        attributes["unicodePwd"] = f'"{password}"'.encode("utf-16-le")
    attributes["userAccountControl"] = UF_NORMAL_ACCOUNT | (0 if enabled else UF_ACCOUNTDISABLE)
    cn = _text(raw, "cn", where) or sam
    return PlannedObject("user", sam, f"CN={escape_rdn(cn)},{parent}", attributes)


def _parse_group(raw: dict, where: str, parent: str) -> PlannedObject:
    check_keys(raw, GROUP_KEYS, where)
    name = _text(raw, "name", where, required=True)
    where = f"{where} ({name})"
    attributes = {
        "sAMAccountName": _text(raw, "sAMAccountName", where) or name,
        **_texts(raw, ("mail", "mailNickname", "displayName", "description"), where),
    }
    security = raw.get("security", False)
    if not isinstance(security, bool):
        raise ScenarioError(f"{where}: security must be true or false")
    # A mail-enabled group is universal; distribution unless it is also a security group.
    group_type = GROUP_UNIVERSAL | (GROUP_SECURITY if security else 0)
    attributes["groupType"] = group_type - (1 << 32) if group_type & GROUP_SECURITY else group_type
    _put_proxy_addresses(attributes, raw, where)
    members = [_as_text(m, f"{where}: members") for m in require_list(raw.get("members"), f"{where}: members")]
    return PlannedObject("group", name, f"CN={escape_rdn(name)},{parent}", attributes, members)


def _parse_contact(raw: dict, where: str, parent: str) -> PlannedObject:
    check_keys(raw, CONTACT_KEYS, where)
    name = _text(raw, "name", where, required=True)
    where = f"{where} ({name})"
    attributes = _texts(raw, ("mail", "mailNickname", "displayName", "givenName", "sn", "description"), where)
    _put_proxy_addresses(attributes, raw, where)
    return PlannedObject("contact", name, f"CN={escape_rdn(name)},{parent}", attributes)


def consistency_guid_bytes(value, where: str = "mS-DS-ConsistencyGuid") -> bytes:
    """The 16 bytes AD stores: from a GUID string (bytes_le) or an ImmutableId (base64)."""
    if not isinstance(value, str):
        raise ScenarioError(f"{where}: mS-DS-ConsistencyGuid must be a GUID string or base64 text")
    if _GUID_TEXT.match(value.strip()):
        return uuid.UUID(value.strip()).bytes_le
    try:
        raw = base64.b64decode(value, validate=True)
    except ValueError:
        raw = b""
    if len(raw) != 16:
        raise ScenarioError(
            f"{where}: mS-DS-ConsistencyGuid {value!r} is neither a GUID nor base64 of 16 bytes"
        )
    return raw


def _put_proxy_addresses(attributes: dict, raw: dict, where: str) -> None:
    values = require_list(raw.get("proxyAddresses"), f"{where}: proxyAddresses")
    # Values go to AD exactly as written: case matters to the rules under test.
    texts = [_as_text(value, f"{where}: proxyAddresses") for value in values]
    # AD compares these values case-insensitively and refuses twins; Samba would store both.
    seen: dict[str, str] = {}
    for text in texts:
        if text.lower() in seen:
            raise ScenarioError(
                f"{where}: proxyAddresses {seen[text.lower()]!r} and {text!r} are one value to AD"
            )
        seen[text.lower()] = text
    if texts:
        attributes["proxyAddresses"] = texts


def _texts(raw: dict, names, where: str) -> dict:
    return {name: value for name in names if (value := _text(raw, name, where)) is not None}


def _text(raw: dict, name: str, where: str, required: bool = False) -> str | None:
    value = raw.get(name)
    if value is None:
        if required:
            raise ScenarioError(f"{where}: {name} is required")
        return None
    return _as_text(value, f"{where}: {name}")


def _as_text(value, where: str) -> str:
    # YAML turns 1234 into an int; a bool is almost always an unquoted yes/no by mistake.
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ScenarioError(f"{where}: expected text, got {value!r}")
    text = str(value)
    if not text:
        raise ScenarioError(f"{where}: empty value (leave the key out instead)")
    return text


def _ou_rdns(ou, where: str) -> list[str]:
    """["OU=A", "OU=B"] for "OU=A,OU=B": a path under the scenario OU, leaf first."""
    if ou is None:
        return []
    ou = _as_text(ou, f"{where}: ou")
    try:
        parts = parse_dn(ou, escape=True)
    except LDAPException as err:
        raise ScenarioError(f"{where}: ou {ou!r} is not a DN like OU=Staff or OU=A,OU=B") from err
    if not parts or any(attr.lower() != "ou" for attr, _value, _rest in parts):
        raise ScenarioError(f"{where}: ou {ou!r} must be made of OU= parts, like OU=A,OU=B")
    return [f"OU={value}" for _attr, value, _rest in parts]


def _add_ou_chain(ous: list[str], rdns: list[str], scenario_ou: str) -> None:
    """Append the OU path's DNs that ous lacks, parents first."""
    known = {dn.lower() for dn in ous}
    for start in range(len(rdns) - 1, -1, -1):
        dn = ",".join([*rdns[start:], scenario_ou])
        if dn.lower() not in known:
            ous.append(dn)
            known.add(dn.lower())


def _check_unique(objects: list[PlannedObject]) -> None:
    seen_dn: dict[str, str] = {}
    seen_sam: dict[str, str] = {}
    for planned in objects:
        label = f"{planned.kind} {planned.key!r}"
        for seen, value in ((seen_dn, planned.dn), (seen_sam, planned.attributes.get("sAMAccountName"))):
            if value is None:
                continue
            if value.lower() in seen:
                raise ScenarioError(f"ad: {label} repeats {value!r} of {seen[value.lower()]}")
            seen[value.lower()] = label


def _resolve_members(objects: list[PlannedObject]) -> None:
    by_sam = {o.attributes["sAMAccountName"].lower(): o.dn for o in objects if "sAMAccountName" in o.attributes}
    for group in (o for o in objects if o.members):
        missing = [m for m in group.members if m.lower() not in by_sam]
        if missing:
            raise ScenarioError(f"ad.groups ({group.key}): members not in this scenario: {', '.join(missing)}")
        group.members = [by_sam[m.lower()] for m in group.members]


# --- writing ----------------------------------------------------------------------------

_OBJECT_CLASSES = {
    "user": ["top", "person", "organizationalPerson", "user"],
    "group": ["top", "group"],
    "contact": ["top", "person", "organizationalPerson", "contact"],
}


def load_ad_section(connection: ldap3.Connection, scenario_ou: str, section) -> tuple[dict, dict]:
    """Replace the scenario OU's content with the section; return (state, summary)."""
    plan = parse_ad_section(section, scenario_ou)
    started = time.monotonic()
    removed = clear_scenario_ou(connection, scenario_ou)
    for ou in plan.ous:
        _write(connection.add, f"OU {ou}", ou, "organizationalUnit")
    for planned in plan.objects:
        label = f"{planned.kind} {planned.key!r} ({planned.dn})"
        _write(connection.add, label, planned.dn, _OBJECT_CLASSES[planned.kind], planned.attributes)
    for group in (o for o in plan.objects if o.members):
        change = {"member": [(ldap3.MODIFY_ADD, group.members)]}
        _write(connection.modify, f"members of group {group.key!r}", group.dn, change)
    state = _read_back(connection, scenario_ou, plan)
    summary = {
        "removed": removed,
        "ous": len(plan.ous),
        **{f"{kind}s": sum(o.kind == kind for o in plan.objects) for kind in _OBJECT_CLASSES},
        "seconds": round(time.monotonic() - started, 2),
    }
    return state, summary


def clear_scenario_ou(connection: ldap3.Connection, scenario_ou: str) -> int:
    """Delete everything under the scenario OU (created if missing); return how many objects went."""
    if not _search(connection, scenario_ou, ldap3.BASE, "(objectClass=*)", allow_missing=True):
        _write(connection.add, f"OU {scenario_ou}", scenario_ou, "organizationalUnit")
        return 0
    subtree = _search(connection, scenario_ou, ldap3.SUBTREE, "(objectClass=*)")
    for child in _search(connection, scenario_ou, ldap3.LEVEL, "(objectClass=*)"):
        _write(connection.delete, f"previous object {child['dn']}", child["dn"], controls=[TREE_DELETE_CONTROL])
    return len(subtree) - 1


def _read_back(connection: ldap3.Connection, scenario_ou: str, plan: Plan) -> dict:
    planned_by_dn = {o.dn.lower(): o for o in plan.objects}
    state: dict = {"scenario_ou": scenario_ou, "ous": plan.ous, "users": {}, "groups": {}, "contacts": {}}
    found = _search(
        connection, scenario_ou, ldap3.SUBTREE,
        "(|(objectClass=user)(objectClass=group)(objectClass=contact))",
        ["objectGUID", "mS-DS-ConsistencyGuid"],
    )
    for entry in found:
        planned = planned_by_dn.get(entry["dn"].lower())
        if planned is None:
            continue
        raw = entry["raw_attributes"]
        guid = raw["objectGUID"][0]
        record = {"dn": entry["dn"], "objectGUID": str(uuid.UUID(bytes_le=guid))}
        if planned.kind == "user":
            consistency = (raw.get("mS-DS-ConsistencyGuid") or [None])[0]
            record["source_anchor"] = base64.b64encode(consistency or guid).decode()
            if consistency:
                record["mS-DS-ConsistencyGuid"] = str(uuid.UUID(bytes_le=consistency))
        state[f"{planned.kind}s"][planned.key] = record
    missing = [o.dn for o in plan.objects if o.key not in state[f"{o.kind}s"]]
    if missing:
        raise LoadError(f"added but not found on read-back: {', '.join(missing)}")
    return state


def identity_from_state(ad_state: dict, sam: str) -> AdIdentity:
    users = ad_state.get("users") or {}
    record = users.get(sam) or next((r for k, r in users.items() if k.lower() == sam.lower()), None)
    if record is None:
        raise KeyError(f"no AD user {sam!r} in the loaded scenario (loaded: {', '.join(users) or 'none'})")
    return AdIdentity(record["dn"], record["objectGUID"], record["source_anchor"])


def _search(connection, base, scope, search_filter, attributes=None, allow_missing=False) -> list[dict]:
    try:
        entries = connection.extend.standard.paged_search(
            base, search_filter, search_scope=scope, attributes=attributes or ["1.1"],
            paged_size=1000, generator=False,
        )
    except LDAPNoSuchObjectResult as err:
        if allow_missing:
            return []
        raise LoadError(f"search under {base} failed: {err}") from err
    except LDAPException as err:
        raise LoadError(f"search under {base} failed: {err}") from err
    return [e for e in entries if e.get("type") == "searchResEntry"]


def _write(operation, label: str, *args, **kwargs) -> None:
    try:
        operation(*args, **kwargs)
    except LDAPException as err:
        raise LoadError(f"AD refused {label}: {err}") from err
