# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cloud user a sync would make of an on-prem user, what it quarantines and what the user would lose.

Internal to the hybrid.identity collection: not a public API, it may change without notice.

The cloud user after the sync, derived from the on-prem user (rule book §2), the values the
tenant's uniqueness rules will quarantine (§4), and what a joined cloud user will visibly
lose or change (§5). The sync-verification step compares the cloud with `Projection.as_dict()`.

Pure: standard library only, no Ansible, no I/O.

Decisions beyond the rule book, each written where it is applied:
- Predicted proxyAddresses list SMTP values only: they are what §2 derives and what the
  verification compares; X500, SIP and other types are left out of the prediction.
- The proxy calculation follows §9.6: every on-prem value in a reserved domain is left out (the
  initial domain's too); "mailbox user" means the joined cloud user has an Exchange licence
  (assignedPlans) or a mailbox (a primary SMTP value; a new user has neither yet), and only a
  mailbox user gets the MOERA and its UPN as a secondary and loses its unverified-domain
  addresses; a primary lost to filtering or quarantine is replaced by the MOERA, else by the
  first value kept; `mailbox_user_from` says which sign decided.
- The joined user's own initial-domain addresses are replaced by the MOERA, as §2 derives the
  cloud addresses from on-prem alone: one that is not the MOERA is reported as dropped (an
  on-prem mailNickname naming it keeps it).
- A quarantined value leaves the prediction: a quarantined UPN becomes None (its 4 digits are
  random) and `quarantined` lists each value as onPremisesProvisioningErrors will show it.
- A MOERA another object holds gets 4 digits the service chooses (§9.9); the prediction shows it
  as `<mailNickname><4 digits>@<initial domain>`, a pattern, not an address.
- A change in case only (UPN or address) is not reported as a change.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ansible_collections.hybrid.identity.plugins.module_utils.common._addresses import (
    ProxyAddress,
    validate_smtp_address,
)
from ansible_collections.hybrid.identity.plugins.module_utils.matching._matching_index import CloudIndex
from ansible_collections.hybrid.identity.plugins.module_utils.matching._matching_model import (
    QUARANTINE_PROXY_CONFLICTS,
    QUARANTINE_UPN_CONFLICTS,
    SYNCHRONIZE_UPN,
    CloudUser,
    OnPremUser,
    Tenant,
    domain_of,
    is_reserved_domain,
    local_part_of,
    name_key,
    smtp_values,
)
from ansible_collections.hybrid.identity.plugins.module_utils.matching._matching_result import Finding

PROXY_ADDRESS = "ProxyAddress"
USER_PRINCIPAL_NAME = "UserPrincipalName"

# How a prediction knows whether the cloud user is a mailbox user (rule book §9.6), as `predicted` says it
FROM_ASSIGNED_PLANS = "assignedPlans"
FROM_PROXY_ADDRESSES = "proxyAddresses"
FROM_NEW_USER = "new_user"


@dataclass(slots=True, eq=False)
class Projection:
    """The cloud user as the sync will leave it, being worked out."""

    wanted_primary: ProxyAddress | None     # the primary §2 derives; it stays primary while the cloud keeps it
    user_principal_name: str | None          # the UPN the cloud user ends with (None: quarantined)
    addresses: dict[str, ProxyAddress]       # by key, in on-prem order; the primary flag is set on output
    onprem_keys: frozenset[str]              # the values that come from on-prem (the rest are derived)
    moera: ProxyAddress | None = None        # None when the user gets no addresses at all
    upn_key: str | None = None               # the UPN added as a secondary address (§2), when on-prem lacks it
    wanted_upn: str | None = None            # the UPN §2 derives, before the tenant's UPN switch (§6)
    quarantined: list[dict] = field(default_factory=list)
    moera_taken: bool = False                # §9.9: the MOERA is held elsewhere; the service adds 4 digits
    mailbox_user: bool = False               # §9.6: an Exchange licence or mailbox on the cloud user written to
    mailbox_user_from: str = FROM_NEW_USER   # how that is known: assignedPlans, proxyAddresses, new_user

    @property
    def primary_smtp(self) -> ProxyAddress | None:
        if self.wanted_primary is not None and self.wanted_primary.key in self.addresses:
            return self.addresses[self.wanted_primary.key].as_primary()
        # rule book §9.6: a primary left out or quarantined is replaced by the MOERA
        if self.moera is not None and self.moera.key in self.addresses:
            return self.addresses[self.moera.key].as_primary()
        first = next(iter(self.addresses.values()), None)
        return first.as_primary() if first else None

    def quarantine_address(self, proxy: ProxyAddress) -> None:
        """Rule book §4: a conflicting proxy address is left out and shown as a provisioning error."""
        self.addresses.pop(proxy.key, None)
        if self.upn_key == proxy.key:
            self.upn_key = None
        self._note(PROXY_ADDRESS, proxy.address)

    def quarantine_upn(self, upn: str) -> None:
        """Rule book §4: a conflicting UPN is replaced by `<prefix><4 random digits>@<initial domain>`."""
        self.user_principal_name = None
        if self.upn_key is not None:
            # §9.6: the quarantined UPN is not added as an address (its digits are random)
            self.addresses.pop(self.upn_key, None)
            self.upn_key = None
        self._note(USER_PRINCIPAL_NAME, upn)

    def give_moera_digits(self) -> ProxyAddress | None:
        """Rule book §9.9 (KB 3190357, scenario 6): a MOERA in use gets 4 random digits, no provisioning error."""
        if self.moera is None or self.moera_taken or self.moera.key not in self.addresses:
            return None
        taken = self.moera
        self.moera = ProxyAddress.smtp(moera_with_digits(taken.address))
        # the MOERA keeps its place among the addresses
        self.addresses = {(self.moera.key if key == taken.key else key): (self.moera if key == taken.key else proxy)
                          for key, proxy in self.addresses.items()}
        self.moera_taken = True
        return taken

    def _note(self, property_name: str, value: str) -> None:
        entry = {"property": property_name, "value": value}
        if entry not in self.quarantined:
            self.quarantined.append(entry)

    def as_dict(self) -> dict:
        primary = self.primary_smtp
        values = [proxy.as_primary() if primary is not None and proxy.key == primary.key else proxy.as_secondary()
                  for proxy in self.addresses.values()]
        values.sort(key=lambda proxy: not proxy.primary)  # the primary first, the rest in order
        return {
            "primary_smtp": primary.address if primary else None,
            "user_principal_name": self.user_principal_name,
            "proxy_addresses": [str(proxy) for proxy in values],
            "quarantined": [dict(entry) for entry in self.quarantined],
            "mailbox_user": self.mailbox_user,
            "mailbox_user_from": self.mailbox_user_from,
        }


DIGITS = "<4 digits>"


def mail_nickname(user: OnPremUser, tenant: Tenant, onprem_smtp: tuple[ProxyAddress, ...] | None = None) -> str:
    """Rule book §2: the first usable of mailNickname, the prefix of the primary SMTP (or mail), of the UPN.

    Usable (§9.10): the alias makes a valid MOERA. A primary the sync drops (malformed, unroutable) still
    lends its prefix when that prefix is valid; the MOERA itself is never malformed. `onprem_smtp`: the
    user's SMTP values already parsed (`smtp_values` of its proxyAddresses)."""
    if onprem_smtp is None:
        onprem_smtp = smtp_values(user.proxy_addresses)
    primaries = [proxy for proxy in onprem_smtp if proxy.primary]
    primary = primaries[0].address if len(primaries) == 1 else None
    for source in (user.mail_nickname, primary, user.mail, user.user_principal_name):
        if source and not validate_smtp_address(tenant.moera(local_part_of(source))):
            return local_part_of(source)
    return user.sam_account_name or "user"  # not in the rule book: the last name the object has


def moera_with_digits(moera: str) -> str:
    """`<mailNickname><4 digits>@<initial domain>`: the MOERA the service gives when the plain one is taken."""
    local, _at, domain = moera.rpartition("@")
    return f"{local}{DIGITS}@{domain}"


def quarantined_upn(upn: str, tenant: Tenant) -> str:
    return f"{local_part_of(upn)}<4 digits>@{tenant.initial_domain}"


def mailbox_user(joined: CloudUser | None) -> tuple[bool, str]:
    """Rule book §9.6: (is the cloud user written to an Exchange user, how that is known).

    KB 3190357: an Exchange licence, or being an Exchange Online recipient (a mailbox, seen as a primary
    SMTP: value). One the sync creates has no licence at its first export. With assignedPlans unread, the
    primary SMTP value decides, and an unknown mailbox counts as one, as it does for SMTP matching."""
    if joined is None:
        return False, FROM_NEW_USER
    if joined.exchange_licensed:
        return True, FROM_ASSIGNED_PLANS
    if joined.exchange_licensed is False:
        # not licensed: a recipient still counts (a shared mailbox); on a synced user the primary is on-prem's
        if joined.has_mailbox and joined.on_premises_sync_enabled is not True:
            return True, FROM_PROXY_ADDRESSES
        return False, FROM_ASSIGNED_PLANS
    return joined.has_mailbox is not False, FROM_PROXY_ADDRESSES


def project(user: OnPremUser, addresses: list[ProxyAddress], primary: ProxyAddress | None, tenant: Tenant,
            joined: CloudUser | None, onprem_smtp: tuple[ProxyAddress, ...] | None = None
            ) -> tuple[Projection, list[Finding]]:
    """The predicted cloud user (rule book §2, §9.6). `addresses` are the valid on-prem SMTP values, primary first;
    `onprem_smtp` every SMTP value of its proxyAddresses, valid or not, when the caller parsed them already."""
    findings: list[Finding] = []
    if onprem_smtp is None:
        onprem_smtp = tuple(smtp_values(user.proxy_addresses))
    moera = ProxyAddress.smtp(tenant.moera(mail_nickname(user, tenant, onprem_smtp)))
    wanted_upn = _predicted_upn(user, moera.address, tenant, findings)
    upn = _kept_upn(wanted_upn, joined, tenant)
    mailbox, mailbox_from = mailbox_user(joined)
    kept: dict[str, ProxyAddress] = {}
    for proxy in addresses:
        if proxy.key == moera.key and mailbox:
            continue  # §9.6: an on-prem copy of the MOERA is left out and comes back as the MOERA: no change
        reason = _not_synced_reason(proxy, tenant, mailbox)
        if reason:
            findings.append(Finding.of("address_not_synced", f"{proxy} {reason}", "proxyAddresses", proxy.address))
            continue
        kept.setdefault(proxy.key, proxy)
    onprem_keys = frozenset(kept)
    mail_user = bool(user.mail) or bool(onprem_smtp)
    if not mailbox:
        # §9.6 (KB 3190357, scenarios 1 and 2): without Exchange the cloud user keeps only the on-prem values; the
        # MOERA and the UPN address come with the licence
        return Projection(primary, upn, kept, onprem_keys, wanted_upn=wanted_upn, mailbox_user=False,
                          mailbox_user_from=mailbox_from), findings
    # rule book §2: the MOERA is added
    kept.setdefault(moera.key, moera)
    upn_key = None
    if mailbox and upn and tenant.is_verified(domain_of(upn)):
        # rule book §2, §9.6: a mailbox user also gets its UPN as a secondary address
        upn_address = ProxyAddress.smtp(upn)
        if upn_address.key not in kept:
            kept[upn_address.key] = upn_address
            upn_key = upn_address.key
    if primary is None and not mail_user and upn:
        # §9.6 (KB 3190357): a mailbox user without on-prem addresses takes its UPN as the primary
        primary = ProxyAddress.smtp(upn)
    return Projection(primary, upn, kept, onprem_keys, moera, upn_key, wanted_upn, mailbox_user=True,
                      mailbox_user_from=mailbox_from), findings


def _predicted_upn(user: OnPremUser, moera_address: str, tenant: Tenant, findings: list[Finding]) -> str | None:
    upn = user.user_principal_name
    if not upn or tenant.is_verified(domain_of(upn)):
        return upn
    # rule book §2: an unverified suffix gives the MOERA UPN
    verified = ", ".join(sorted(tenant.verified_domains)[:3]) or tenant.initial_domain
    findings.append(Finding.of(
        "upn_suffix_unverified",
        f"UPN suffix {domain_of(upn)} is not a verified domain of the tenant, so the cloud user gets the UPN "
        f"{moera_address} instead of {upn}. Verify {domain_of(upn)} in the tenant, or give the user a UPN in a "
        f"verified domain ({verified}).",
        "userPrincipalName", f"{upn} -> {moera_address}"))
    return moera_address


def _kept_upn(wanted: str | None, joined: CloudUser | None, tenant: Tenant) -> str | None:
    """Rule book §6: synchronizeUpnForManagedUsersEnabled off, a joined (managed) user keeps its cloud UPN."""
    if joined is not None and joined.user_principal_name and not tenant.feature(SYNCHRONIZE_UPN):
        return joined.user_principal_name
    return wanted


def _not_synced_reason(proxy: ProxyAddress, tenant: Tenant, mailbox: bool) -> str | None:
    domain = domain_of(proxy.address)
    if is_reserved_domain(domain):
        # rule book §2, §9.6: values in reserved domains are left out, the initial domain's too
        return (f"is in the reserved Microsoft domain {domain}; the sync leaves it out of the cloud user (it adds "
                "the MOERA, <mailNickname>@<initial domain>, itself). Remove it on-prem if nothing needs it.")
    if mailbox and not tenant.is_verified(domain):
        # rule book §2, §9.6: a mailbox user loses addresses in domains the tenant has not verified
        return (f"is in {domain}, which is not a verified domain of the tenant; the sync leaves it out of a mailbox "
                f"user's addresses. Verify {domain} in the tenant, or remove the address on-prem.")
    return None


def _in_initial_domain(proxy: ProxyAddress, tenant: Tenant) -> bool:
    return name_key(domain_of(proxy.address)) == name_key(tenant.initial_domain)


# --- rule book §4: values other cloud objects hold ----------------------------------------


def quarantine_cloud_duplicates(projection: Projection, index: CloudIndex, tenant: Tenant,
                                joined: CloudUser | None) -> list[Finding]:
    """Findings for values the export writes that a cloud object other than `joined` holds; those are quarantined."""
    findings = []
    upn = projection.user_principal_name
    # rule book §4, §9.9: the MOERA UPN of an unverified suffix must be unique like any other UPN
    holder = index.user_with_upn(upn)
    if holder is not None and (joined is None or holder.id != joined.id):
        findings.append(_duplicate_upn(upn, holder, tenant, joined))
        projection.quarantine_upn(upn)
    # the on-prem values and the UPN a mailbox user gets as an address (rule book §4: every value is unique)
    written = [key for key in projection.addresses if key in projection.onprem_keys or key == projection.upn_key]
    for key in written:
        holders = [user.label for user in index.users_holding(key) if joined is None or user.id != joined.id]
        holders += [item.label for item in index.objects_holding(key)]
        if holders:
            proxy = projection.addresses[key]
            findings.append(_duplicate_address(proxy, holders, tenant, joined, is_upn=key == projection.upn_key))
            projection.quarantine_address(proxy)
    moera = projection.moera
    if moera is not None and moera.key in projection.addresses:
        holders = [user.label for user in index.users_holding(moera.key) if joined is None or user.id != joined.id]
        holders += [item.label for item in index.objects_holding(moera.key)]
        if holders:
            findings.append(moera_in_use(projection, ", ".join(holders)))
    return findings


def moera_in_use(projection: Projection, holders: str) -> Finding:
    """Rule book §9.9: the MOERA is taken, so the service appends 4 random digits (no error, nothing quarantined)."""
    taken = projection.give_moera_digits()
    return Finding.of(
        "moera_in_use",
        f"The routing address (MOERA) {taken.address} is already held by {holders}, so the service gives this user "
        f"{projection.moera.address} instead, with 4 digits it chooses; the sync reports no error. Give the on-prem "
        "user its own mailNickname if its onmicrosoft.com address matters.",
        "proxyAddresses", taken.address)


# rule book §6: the switch that decides whether a conflicting value is quarantined or fails the export
QUARANTINE_SWITCHES = {PROXY_ADDRESS: QUARANTINE_PROXY_CONFLICTS, USER_PRINCIPAL_NAME: QUARANTINE_UPN_CONFLICTS}


def quarantine_allowed(property_name: str, tenant: Tenant) -> bool:
    return tenant.feature(QUARANTINE_SWITCHES[property_name])


def export_fails(projection: Projection, tenant: Tenant) -> bool:
    """Rule book §9.8: a conflicting value with its quarantine switch off fails the whole export."""
    return any(not quarantine_allowed(entry["property"], tenant) for entry in projection.quarantined)


def _duplicate_address(proxy: ProxyAddress, holders: list[str], tenant: Tenant, joined: CloudUser | None,
                       is_upn: bool = False) -> Finding:
    subject = f"the {joined.label} it joins" if joined else "the new cloud user"
    what = f"The UPN {proxy.address}, which a mailbox user gets as a secondary address," if is_upn \
        else f"Address {proxy.address}"
    if quarantine_allowed(PROXY_ADDRESS, tenant):
        effect = f"the value is quarantined: left out of {subject}, shown in its onPremisesProvisioningErrors"
    else:
        effect = f"the export of {subject} fails with AttributeValueMustBeUnique (quarantine is off in the tenant)"
    return Finding.of(
        "duplicate_proxy_address",
        f"{what} is already held by {', '.join(holders)}; {effect}. Remove it from one of them "
        "before the sync.",
        "proxyAddresses", proxy.address)


def _duplicate_upn(upn: str, holder: CloudUser, tenant: Tenant, joined: CloudUser | None) -> Finding:
    subject = f"the {joined.label} it joins" if joined else "the new cloud user"
    if quarantine_allowed(USER_PRINCIPAL_NAME, tenant):
        effect = f"{subject} gets the quarantined UPN {quarantined_upn(upn, tenant)}"
    else:
        effect = f"the export of {subject} fails with AttributeValueMustBeUnique (quarantine is off in the tenant)"
    return Finding.of(
        "duplicate_upn",
        f"UPN {upn} is already used by {holder.label}, which this user does not join; {effect}. If both are the same "
        "person, make them match (the same primary SMTP address, or the cloud ImmutableId in mS-DS-ConsistencyGuid); "
        "otherwise change one of the UPNs.",
        "userPrincipalName", upn)


# --- rule book §5: what a joined cloud user visibly loses ---------------------------------


def change_findings(projection: Projection, joined: CloudUser, tenant: Tenant) -> list[Finding]:
    """On-prem wins after a join (rule book §2, §5): say what the first export changes on `joined`."""
    findings = []
    cloud_primary = joined.primary_smtp
    new_primary = projection.primary_smtp
    if cloud_primary is not None and (new_primary is None or new_primary.key != cloud_primary.key):
        # rule book §5: the DirSync primary-address surprise
        becomes = new_primary.address if new_primary else "no primary the on-prem user chooses"
        findings.append(Finding.of(
            "primary_smtp_will_change",
            f"The sync changes the primary SMTP address of {joined.label} from {cloud_primary.address} to {becomes}, "
            f"so the user sends as {becomes} from then on. Set the on-prem primary to {cloud_primary.address}, or "
            "accept the change.",
            "proxyAddresses", f"{cloud_primary.address} -> {becomes}"))
    dropped = [proxy.address for proxy in joined.smtp_addresses() if proxy.key not in projection.addresses]
    if dropped:
        # rule book §5: cloud secondaries that are not on-prem are dropped the same way
        routing = [address for address in dropped if _in_initial_domain(ProxyAddress.smtp(address), tenant)]
        how = "Add them to the on-prem proxyAddresses as smtp: values"
        if routing:
            # §2: on-prem can't carry them; only the MOERA, <mailNickname>@<initial domain>, is derived
            how = (f"Add those in verified domains to the on-prem proxyAddresses as smtp: values; to keep "
                   f"{routing[0]}, set the on-prem mailNickname to {routing[0].rsplit('@', 1)[0]}")
        findings.append(Finding.of(
            "cloud_addresses_will_be_dropped",
            f"The sync removes {len(dropped)} address(es) of {joined.label} that the on-prem user does not carry: "
            f"{', '.join(dropped)}. {how}, or accept that mail to them bounces.",
            "proxyAddresses", ", ".join(dropped), dropped))
    findings += _upn_change(projection, joined, tenant)
    return findings


def _upn_change(projection: Projection, joined: CloudUser, tenant: Tenant) -> list[Finding]:
    cloud_upn, wanted = joined.user_principal_name, projection.wanted_upn
    if not cloud_upn or not wanted or name_key(cloud_upn) == name_key(wanted):
        return []
    if not tenant.feature(SYNCHRONIZE_UPN):
        # synchronizeUpnForManagedUsersEnabled off: licensed managed users keep their cloud UPN (project() kept it)
        return [Finding.of(
            "upn_change_blocked",
            f"synchronizeUpnForManagedUsersEnabled is off, so {joined.label} keeps the UPN {cloud_upn} instead of "
            f"{wanted} if it is a licensed, managed (not federated) user; otherwise it becomes {wanted}. Turn the "
            "feature on to let the UPN follow on-prem.",
            "userPrincipalName", f"{cloud_upn} -> {wanted}")]
    new_upn = projection.user_principal_name
    if not new_upn:
        return []  # quarantined: duplicate_upn says what it becomes
    return [Finding.of(
        "upn_will_change",
        f"The sync changes the UPN of {joined.label} from {cloud_upn} to {new_upn}; the user signs in as {new_upn} "
        f"from then on. Set the on-prem UPN to {cloud_upn} (its suffix must be verified), or accept the change.",
        "userPrincipalName", f"{cloud_upn} -> {new_upn}")]
