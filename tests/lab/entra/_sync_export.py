"""What the sync writes to a cloud user: rule book §2 (derivation, on-prem wins) and §4 (quarantine) (internal).

`plan_export` computes the whole new record of a joined or new cloud user from the
on-prem user; it never writes. Callers hold `directory.lock`.
"""

from __future__ import annotations

import random
import re
import uuid
from dataclasses import dataclass, field

from ._cloud_scenario import now_text, v1_defaults
from ._schema import USER, fold
from ._sync_cloud import CloudView, exchange_user
from ._sync_onprem import OnPremUser, domain_of, prefix_of, smtp_address_problem

# §2, §9.6: Microsoft's domains; no on-prem value in them reaches the cloud (KB 3190357).
RESERVED_SUFFIXES = (".onmicrosoft.com", ".microsoftonline.com")
UPN, PROXY = "UserPrincipalName", "ProxyAddress"
# Properties a sync run writes; a change to any of them is an export (and a fresh onPremisesLastSyncDateTime).
SYNCED_PROPERTIES = ("userPrincipalName", "mail", "mailNickname", "proxyAddresses", "displayName", "givenName",
                     "surname", "accountEnabled", "onPremisesImmutableId", "onPremisesSyncEnabled",
                     "onPremisesDistinguishedName", "onPremisesDomainName", "onPremisesSamAccountName",
                     "onPremisesUserPrincipalName", "onPremisesProvisioningErrors")


@dataclass
class ExportPlan:
    record: dict | None                       # the cloud user as it will be; None on an export error
    conflicts: list[tuple[str, str]] = field(default_factory=list)   # (property, value) quarantined, §4
    dropped: list[tuple[str, str]] = field(default_factory=list)     # (value, why) left out, §2
    upn_quarantined: bool = False
    error: tuple[str, str] | None = None      # (code, reason) when the object can't be exported
    changed: list[str] = field(default_factory=list)


def plan_export(user: OnPremUser, cloud: CloudView, current: dict | None) -> ExportPlan:
    """The cloud user `current` (None: a new one) after the on-prem user is exported onto it."""
    plan = ExportPlan(record=None)
    except_id = current["id"] if current else None
    nickname = mail_nickname(user, cloud.initial_domain)
    # §2: the UPN of an unverified suffix is <mailNickname>@<initial domain>, unique among UPNs (§4, §9.9)
    upn_moera = f"{nickname}@{cloud.initial_domain}"
    # §9.6 (KB 3190357): an Exchange user (licence or mailbox) when the export writes it; a new one has no licence.
    mailbox = current is not None and exchange_user(current)
    upn = _plan_upn(user, cloud, current, upn_moera, plan)
    # the seeded digits repeat on every run, so a MOERA with digits stays as it is
    moera = unique_moera(nickname, user.source_anchor, cloud, except_id)
    proxy_addresses, mail = _plan_addresses(user, cloud, except_id, moera, upn, mailbox, plan)
    if plan.conflicts and not _quarantine_allowed(cloud, plan):
        return plan
    record = dict(current) if current else new_user_record()
    record.update({
        "userPrincipalName": upn,
        "mail": mail,
        "mailNickname": nickname,
        "proxyAddresses": proxy_addresses,
        "accountEnabled": user.enabled,
        "onPremisesImmutableId": user.source_anchor,
        "onPremisesSyncEnabled": True,
        "onPremisesDistinguishedName": user.dn,
        "onPremisesDomainName": dns_domain_of(user.dn),
        "onPremisesSamAccountName": user.sam_account_name,
        "onPremisesUserPrincipalName": user.user_principal_name,
        "onPremisesProvisioningErrors": _provisioning_errors(plan.conflicts, current),
    })
    # §2 on-prem wins for every attribute that has an on-prem value.
    for name, value in (("displayName", user.display_name), ("givenName", user.given_name),
                        ("surname", user.surname)):
        if value is not None:
            record[name] = value
    if current is None and record["displayName"] is None:
        record["displayName"] = user.cn
    plan.changed = [name for name in SYNCED_PROPERTIES if current is None or record.get(name) != current.get(name)]
    if plan.changed:
        record["onPremisesLastSyncDateTime"] = now_text()
    plan.record = record
    return plan


def mail_nickname(user: OnPremUser, initial_domain: str) -> str:
    """§2: the first of on-prem mailNickname, the prefix of the primary SMTP, of mail, of the UPN that is usable:
    it makes a well-formed MOERA (§9.10; the alias never carries a malformed value into the cloud)."""
    for candidate in (user.mail_nickname, prefix_of(user.primary_smtp), prefix_of(user.mail),
                      prefix_of(user.user_principal_name)):
        if candidate and smtp_address_problem(f"{candidate}@{initial_domain}") is None:
            return candidate
    return user.sam_account_name


def unique_moera(nickname: str, anchor: str, cloud: CloudView, except_id: str | None) -> str:
    """§9.9 (KB 3190357, scenario 6): a MOERA another object holds gets 4 random digits; no error, no quarantine."""
    moera = f"{nickname}@{cloud.initial_domain}"
    if not cloud.address_taken(moera, except_id):
        return moera
    digits = random.Random(f"moera:{anchor}")  # repeatable per object, not a secret
    while True:
        candidate = f"{nickname}{digits.randrange(10000):04d}@{cloud.initial_domain}"
        if not cloud.address_taken(candidate, except_id):
            return candidate


def _plan_upn(user: OnPremUser, cloud: CloudView, current: dict | None, moera: str, plan: ExportPlan) -> str:
    """§2: the on-prem UPN in a verified domain, else <mailNickname>@<initial domain>; §4 on a conflict."""
    onprem = user.user_principal_name
    wanted = onprem if onprem and cloud.is_verified(domain_of(onprem)) else moera
    if current is not None:
        cloud_upn = current["userPrincipalName"]
        # §6: without synchronizeUpnForManagedUsersEnabled a managed user's cloud UPN stays as it is.
        if not cloud.features.get("synchronizeUpnForManagedUsersEnabled", True) \
                and not cloud.is_federated(domain_of(cloud_upn)):
            return cloud_upn
    except_id = current["id"] if current else None
    if not cloud.upn_taken(wanted, except_id):
        return wanted
    plan.conflicts.append((UPN, wanted))
    plan.upn_quarantined = True
    return _quarantined_upn(wanted, user.source_anchor, cloud, current)


def _quarantined_upn(wanted: str, anchor: str, cloud: CloudView, current: dict | None) -> str:
    """§4: <prefix><4 digits>@<initial domain>; kept across runs while the conflict lasts."""
    prefix = prefix_of(wanted)
    pattern = re.compile(rf"^{re.escape(prefix)}\d{{4}}@{re.escape(cloud.initial_domain)}$", re.IGNORECASE)
    if current is not None and pattern.match(current["userPrincipalName"]):
        return current["userPrincipalName"]
    digits = random.Random(anchor)  # repeatable per object, not a secret
    while True:
        candidate = f"{prefix}{digits.randrange(10000):04d}@{cloud.initial_domain}"
        if not cloud.upn_taken(candidate, current["id"] if current else None):
            return candidate


def _plan_addresses(user: OnPremUser, cloud: CloudView, except_id: str | None, moera: str, upn: str,
                    mailbox: bool, plan: ExportPlan) -> tuple[list[str], str | None]:
    """§2 and §9.6: on-prem SMTP values minus reserved, malformed and (mailbox users) unverified ones, plus the
    MOERA and (mailbox users) the UPN; §4 quarantine."""
    smtp = user.smtp_values()
    if not smtp and not user.mail and not mailbox:
        return [], None    # §9.6: no SMTP value, no mail, no mailbox: no addresses at all
    wanted: list[tuple[bool, str, str]] = []    # (is_primary, address, value as on-prem)
    if not any(is_primary for is_primary, _address in smtp) and user.mail:
        smtp = [(True, user.mail), *smtp]     # §9.2: mail is the primary when no SMTP: value exists
    for is_primary, address in smtp:
        value = f"{'SMTP' if is_primary else 'smtp'}:{address}"
        why = _left_out_because(address, cloud, mailbox)
        if why:
            plan.dropped.append((value, why))
        else:
            wanted.append((is_primary, address, value))
    if mailbox:
        # KB 3190357, scenario 2: the MOERA comes with Exchange; without it only the on-prem values
        wanted.append((False, moera, f"smtp:{moera}"))
    if mailbox and not plan.upn_quarantined:
        # §2, §9.6: a mailbox user gets its UPN as an address; the primary when on-prem has none at all
        primary_upn = not smtp
        wanted.append((primary_upn, upn, f"{'SMTP' if primary_upn else 'smtp'}:{upn}"))
    kept: list[tuple[bool, str]] = []
    seen: set[str] = set()
    for is_primary, address, value in sorted(wanted, key=lambda item: not item[0]):
        if fold(address) in seen:
            continue
        seen.add(fold(address))
        if cloud.address_taken(address, except_id):
            plan.conflicts.append((PROXY, value))
            continue
        kept.append((is_primary, address))
    if kept and not any(is_primary for is_primary, _address in kept):
        # §9.6: a primary lost to quarantine or filtering is replaced by the MOERA (else the first left).
        promoted = next((address for _p, address in kept if fold(address) == fold(moera)), kept[0][1])
        kept = [(fold(address) == fold(promoted), address) for _p, address in kept]
        kept.sort(key=lambda item: not item[0])
    proxy_addresses = [f"{'SMTP' if is_primary else 'smtp'}:{address}" for is_primary, address in kept]
    mail = next((address for is_primary, address in kept if is_primary), None)
    return proxy_addresses, mail


def _left_out_because(address: str, cloud: CloudView, mailbox: bool) -> str | None:
    problem = smtp_address_problem(address)
    if problem:
        return problem
    domain = domain_of(address)
    if domain.endswith(RESERVED_SUFFIXES):
        return "reserved domain"
    if mailbox and not cloud.is_verified(domain):
        return "domain not verified in the tenant (a mailbox user)"
    return None


def _quarantine_allowed(cloud: CloudView, plan: ExportPlan) -> bool:
    """§4 and §6: with a quarantine switch off, a conflict fails the export instead."""
    switches = {UPN: "quarantineUponUpnConflictEnabled", PROXY: "quarantineUponProxyAddressesConflictEnabled"}
    for prop, value in plan.conflicts:
        if not cloud.features.get(switches[prop], True):
            plan.error = ("AttributeValueMustBeUnique", f"{prop} {value} is held by another object and "
                                                        f"{switches[prop]} is off")
            return False
    return True


def _provisioning_errors(conflicts: list[tuple[str, str]], current: dict | None) -> list[dict]:
    """§4: one PropertyConflict per quarantined value; a lasting conflict keeps its first date."""
    before = {(e.get("propertyCausingError"), fold(e.get("value"))): e
              for e in (current or {}).get("onPremisesProvisioningErrors") or ()}
    errors = []
    for prop, value in conflicts:
        known = before.get((prop, fold(value)))
        errors.append(known or {"category": "PropertyConflict", "occurredDateTime": now_text(),
                                "propertyCausingError": prop, "value": value})
    return errors


def new_user_record() -> dict:
    record: dict = dict.fromkeys(USER.order)
    record.update({"id": str(uuid.uuid4()), "businessPhones": [], "userType": "Member", "otherMails": [],
                   "createdDateTime": now_text(), "proxyAddresses": [], "onPremisesProvisioningErrors": [],
                   # a user the sync creates has no licence (KB 3190357: the MOERA waits for one)
                   "assignedLicenses": [], "assignedPlans": []})
    v1_defaults(record)
    return record


def dns_domain_of(dn: str) -> str | None:
    labels = [part.split("=", 1)[1] for part in dn.split(",") if part.strip().upper().startswith("DC=")]
    return ".".join(labels).lower() or None
