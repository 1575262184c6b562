# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cloud side of the predictor, indexed once by every value a match can use.

Internal to the hybrid.identity collection: not a public API, it may change without notice.

The cloud side of the predictor, indexed once so that every on-prem user is decided by a
few hash lookups: time and memory grow linearly with the tenant (rule book §3, §4).

Pure: standard library only, no Ansible, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ansible_collections.hybrid.identity.plugins.module_utils.matching._matching_model import (
    CloudObject,
    CloudUser,
    name_key,
)


def _cloud_user(user: CloudUser | Mapping) -> CloudUser:
    return user if isinstance(user, CloudUser) else CloudUser.from_dict(user)


def _cloud_object(item: CloudObject | Mapping) -> CloudObject:
    return item if isinstance(item, CloudObject) else CloudObject.from_dict(item)


@dataclass(frozen=True, slots=True)
class CloudIndex:
    """Cloud users and mail-enabled groups and contacts, by address, UPN and ImmutableId."""

    users: tuple[CloudUser, ...]
    objects: tuple[CloudObject, ...]
    users_by_smtp: dict[str, tuple[CloudUser, ...]]
    objects_by_smtp: dict[str, tuple[CloudObject, ...]]
    users_by_upn: dict[str, CloudUser]
    users_by_immutable_id: dict[str, CloudUser]
    deleted_by_immutable_id: dict[str, CloudUser]

    @classmethod
    def build(cls, cloud_users: Iterable[CloudUser | Mapping] = (),
              cloud_objects: Iterable[CloudObject | Mapping] = ()) -> CloudIndex:
        """Index users and groups/contacts (values or the dicts their from_dict takes). Soft-deleted users
        (deletedDateTime set) are kept apart: rule book §9.12 lets only their ImmutableId count."""
        every = tuple(map(_cloud_user, cloud_users))
        users = tuple(user for user in every if not user.deleted_date_time)
        deleted: dict[str, CloudUser] = {}
        for user in every:
            if user.deleted_date_time and user.on_premises_immutable_id:
                deleted.setdefault(user.on_premises_immutable_id, user)
        objects = tuple(map(_cloud_object, cloud_objects))
        users_by_smtp: dict[str, list[CloudUser]] = {}
        users_by_upn: dict[str, CloudUser] = {}
        users_by_immutable_id: dict[str, CloudUser] = {}
        for user in users:
            # rule book §9.1: every SMTP address counts, primary or secondary, and `mail`
            for key in {proxy.key for proxy in user.smtp_addresses()}:
                users_by_smtp.setdefault(key, []).append(user)
            if user.user_principal_name:
                users_by_upn.setdefault(name_key(user.user_principal_name), user)
            if user.on_premises_immutable_id:
                # rule book §3.1: the ImmutableId is compared case-sensitively, so it is its own key
                users_by_immutable_id.setdefault(user.on_premises_immutable_id, user)
        objects_by_smtp: dict[str, list[CloudObject]] = {}
        for item in objects:
            for key in {proxy.key for proxy in item.smtp_addresses()}:
                objects_by_smtp.setdefault(key, []).append(item)
        return cls(
            users=users,
            objects=objects,
            users_by_smtp={key: tuple(found) for key, found in users_by_smtp.items()},
            objects_by_smtp={key: tuple(found) for key, found in objects_by_smtp.items()},
            users_by_upn=users_by_upn,
            users_by_immutable_id=users_by_immutable_id,
            deleted_by_immutable_id=deleted,
        )

    def users_holding(self, address_key: str) -> tuple[CloudUser, ...]:
        """Cloud users holding an address, by the address model's key (ProxyAddress.key)."""
        return self.users_by_smtp.get(address_key, ())

    def objects_holding(self, address_key: str) -> tuple[CloudObject, ...]:
        return self.objects_by_smtp.get(address_key, ())

    def user_with_upn(self, upn: str | None) -> CloudUser | None:
        return self.users_by_upn.get(name_key(upn)) if upn else None

    def user_with_immutable_id(self, anchor: str | None) -> CloudUser | None:
        return self.users_by_immutable_id.get(anchor) if anchor else None

    def deleted_user_with_immutable_id(self, anchor: str | None) -> CloudUser | None:
        """A soft-deleted user carrying the source anchor (compared case-sensitively, §3.1)."""
        return self.deleted_by_immutable_id.get(anchor) if anchor else None
