# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Values a change would give a user that another object already holds (rule book §4).

Internal to the collection; no stable API. ``claimed_values`` and ``held_values`` are pure:
plans and the objects read in, the values in conflict out. ``refuse_held_values`` reads AD
in bulk (``AdSession.objects_holding``: one search per fifty values, not one per user).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ansible_collections.hybrid.identity.plugins.module_utils.common._addresses import SMTP, ProxyAddress
from ansible_collections.hybrid.identity.plugins.module_utils.common._errors import HybridIdentityError

UPN = "userPrincipalName"
MAIL = "mail"
PROXY = "proxyAddresses"


class ValueHeld(HybridIdentityError):
    """A requested address or UPN is held by another object: the sync would quarantine it."""


def _key(value: str) -> str:
    # rule book §1: AD and the sync compare addresses case-insensitively
    return value.casefold()


def _smtp_addresses(proxy_addresses: Iterable[str]) -> list[str]:
    addresses = []
    for value in proxy_addresses:
        try:
            proxy = ProxyAddress.parse(value)
        except ValueError:
            continue  # a value without a type holds no address the sync exports
        if proxy.kind == SMTP:
            addresses.append(proxy.address)
    return addresses


@dataclass(frozen=True, slots=True)
class Holdings:
    """The addresses one object holds (its SMTP proxy addresses and mail) and its UPN, as keys."""

    distinguished_name: str
    addresses: frozenset[str]
    upn: str | None

    @classmethod
    def of(cls, distinguished_name: str, proxy_addresses: Iterable[str], mail: str | None, upn: str | None):
        addresses = {_key(address) for address in _smtp_addresses(proxy_addresses)}
        if mail:
            addresses.add(_key(mail))
        return cls(distinguished_name, frozenset(addresses), _key(upn) if upn else None)

    def holds(self, key: str) -> bool:
        return key in self.addresses or key == self.upn


@dataclass(frozen=True, slots=True)
class HeldValue:
    """One value a plan gives its user and the objects that hold it already."""

    user: str  # the DN of the user the value is for
    attribute: str
    value: str
    holders: tuple[str, ...]
    upn_taken: bool  # the value is the requested UPN and another object's UPN: never allowed

    @property
    def message(self) -> str:
        if self.upn_taken:
            return f"user_principal_name {self.value!r} is already held by {'; '.join(self.holders)}"
        return (f"{self.user}: {self.attribute} value {self.value!r} is already held by {'; '.join(self.holders)}; "
                "the sync would quarantine it on one of them (rule book §4)")


def _view_holdings(distinguished_name: str, view: dict) -> Holdings:
    return Holdings.of(distinguished_name, view.get(PROXY) or (), view.get(MAIL), view.get(UPN))


def claimed_values(plan) -> list[tuple[str, str]]:
    """(attribute, value) for each address or UPN the plan gives its user that the user does not hold yet."""
    before = _view_holdings(plan.distinguished_name, plan.before)
    claims: dict[str, tuple[str, str]] = {}
    for value in plan.addresses.to_add:
        for address in _smtp_addresses([value]):
            if not before.holds(_key(address)):
                claims.setdefault(_key(address), (PROXY, value))
    mail = plan.after.get(MAIL)
    if mail and mail != plan.before.get(MAIL) and not before.holds(_key(mail)):
        claims.setdefault(_key(mail), (MAIL, mail))
    upn = plan.after.get(UPN)
    if upn and upn != plan.before.get(UPN):
        claims[f"upn:{_key(upn)}"] = (UPN, upn)
    return list(claims.values())


def held_values(plans: Sequence, holders: Iterable[Holdings]) -> list[HeldValue]:
    """Each claimed value that another object holds once the task is done: objects the task changes count as planned."""
    planned = {_key(plan.distinguished_name): _view_holdings(plan.distinguished_name, plan.after) for plan in plans}
    world = dict(planned)
    for holder in holders:
        world.setdefault(_key(holder.distinguished_name), holder)
    found = []
    for plan in plans:
        own = _key(plan.distinguished_name)
        for attribute, value in claimed_values(plan):
            address = value.partition(":")[2] if attribute == PROXY else value
            key = _key(address)
            others = [held for name, held in world.items() if name != own and held.holds(key)]
            if not others:
                continue
            upn_taken = attribute == UPN and any(held.upn == key for held in others)
            found.append(HeldValue(plan.distinguished_name, attribute, address,
                                   tuple(held.distinguished_name for held in others), upn_taken))
    return found


def refuse_held_values(ad, plans: Sequence, allow_duplicates: bool) -> dict[str, list[str]]:
    """Raise on a value another object holds; with ``allow_duplicates``, the same as notices per user DN.

    A UPN another object holds is refused either way: a UPN must be unique in the forest.
    """
    values = []
    for plan in plans:
        values += [value.partition(":")[2] if attribute == PROXY else value
                   for attribute, value in claimed_values(plan)]
    if not values:
        return {}
    holders = [Holdings.of(user.distinguished_name, user.proxy_addresses, user.mail, user.user_principal_name)
               for user in ad.objects_holding(values)]
    notices: dict[str, list[str]] = {}
    for held in held_values(plans, holders):
        if held.upn_taken:
            raise ValueHeld(held.message, hint="a UPN must be unique in the forest; choose another or free it first")
        if not allow_duplicates:
            raise ValueHeld(
                held.message,
                hint="free the value on the other object first (or in the same task), choose another, or set "
                     "allow_duplicate_addresses: true when the other object gives it up before the next sync",
            )
        notices.setdefault(held.user, []).append(held.message)
    return notices
