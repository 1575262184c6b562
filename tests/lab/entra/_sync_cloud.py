"""What the sync engine asks of the cloud side, over the emulator's directory state (internal).

Callers hold `directory.lock`. Addresses compare case-insensitively (rule book §1); the
ImmutableId compares case-sensitively (§3.1).
"""

from __future__ import annotations

from ._directory import CONTACTS, DELETED_USERS, DOMAINS, GROUPS, ROLE_ASSIGNMENTS, USERS, Directory
from ._schema import fold


def held_smtp(record: dict) -> set[str]:
    """The folded SMTP addresses an object holds: its SMTP proxy addresses and its mail (§4)."""
    found = set()
    for value in record.get("proxyAddresses") or ():
        kind, _colon, address = value.partition(":")
        if kind.lower() == "smtp":
            found.add(fold(address))
    if record.get("mail"):
        found.add(fold(record["mail"]))
    return found


def has_mailbox(record: dict) -> bool:
    """KB 2641663: an Exchange Online mailbox shows as a primary SMTP: proxy address."""
    return any(value.startswith("SMTP:") for value in record.get("proxyAddresses") or ())


def exchange_licensed(record: dict) -> bool:
    """KB 3190357: an Exchange Online plan in assignedPlans that is still usable (Enabled, or Warning: grace)."""
    return any(str(plan.get("service") or "").lower() == "exchange"
               and plan.get("capabilityStatus") in ("Enabled", "Warning")
               for plan in record.get("assignedPlans") or ())


def exchange_user(record: dict) -> bool:
    """§9.6: the proxy calculation's Exchange user: licensed for Exchange, or an Exchange Online recipient. On a
    synced user a primary SMTP: value comes from on-prem, so there only the licence counts."""
    return exchange_licensed(record) or (has_mailbox(record) and record.get("onPremisesSyncEnabled") is not True)


class CloudView:
    def __init__(self, directory: Directory):
        self.directory = directory

    @property
    def initial_domain(self) -> str:
        return self.directory.settings.initial_domain

    @property
    def features(self) -> dict:
        return self.directory.settings.features

    def domain(self, name: str) -> dict | None:
        return self.directory.stores[DOMAINS].get(name.lower())

    def is_verified(self, name: str) -> bool:
        domain = self.domain(name)
        return bool(domain and domain["isVerified"])

    def is_federated(self, name: str) -> bool:
        domain = self.domain(name)
        return bool(domain and domain["authenticationType"] == "Federated")

    def user(self, user_id: str) -> dict | None:
        return self.directory.stores[USERS].get(user_id)

    def users_with_anchor(self, anchor: str) -> list[dict]:
        ids = self.directory.indexes["onPremisesImmutableId"].get(fold(anchor), set())
        return [self.user(i) for i in sorted(ids) if self.user(i)["onPremisesImmutableId"] == anchor]

    def deleted_user_with_anchor(self, anchor: str) -> dict | None:
        """§9.12: a soft-deleted user carrying the source anchor (compared case-sensitively)."""
        return next((record for _id, record in sorted(self.directory.stores[DELETED_USERS].items())
                     if record.get("onPremisesImmutableId") == anchor), None)

    def restore(self, user_id: str) -> dict:
        return self.directory.restore_user(user_id)

    def user_with_upn(self, upn: str) -> dict | None:
        ids = self.directory.indexes["userPrincipalName"].get(fold(upn), set())
        return self.user(min(ids)) if ids else None

    def users_with_smtp_proxy(self, address: str) -> list[dict]:
        """§9.1: cloud users holding the address in any SMTP proxy address, primary or secondary."""
        ids = self.directory.indexes["proxyAddresses"].get(fold(f"smtp:{address}"), set())
        return [self.user(i) for i in sorted(ids)]

    def other_holders_of_smtp(self, address: str) -> list[tuple[str, dict]]:
        """Groups and contacts holding the address (§9.1: a candidate of the wrong type)."""
        wanted = fold(address)
        return [(bucket, record) for bucket in (GROUPS, CONTACTS)
                for record in self.directory.stores[bucket].values() if wanted in held_smtp(record)]

    def address_taken(self, address: str, except_id: str | None) -> bool:
        """§4: another user, group or contact holds the SMTP address already."""
        wanted = fold(address)
        holders = (self.directory.indexes["proxyAddresses"].get(fold(f"smtp:{address}"), set())
                   | self.directory.indexes["mail"].get(wanted, set()))
        if holders - {except_id}:
            return True
        return bool(self.other_holders_of_smtp(address))

    def upn_taken(self, upn: str, except_id: str | None) -> bool:
        return bool(self.directory.indexes["userPrincipalName"].get(fold(upn), set()) - {except_id})

    def has_admin_role(self, user_id: str) -> bool:
        """§3 and §9.3: an active directory role assignment."""
        return any(assignment["principalId"] == user_id
                   for assignment in self.directory.stores[ROLE_ASSIGNMENTS].values())

    def store(self, record: dict) -> None:
        self.directory.replace_user(record)
