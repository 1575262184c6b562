# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Predictions over a scope kept current while some users change: only the users a change can reach are predicted again.

Internal to the hybrid.identity collection: not a public API, it may change without notice.

The predictor decides each user alone, and the rules of rule book §4 then compare users only
through a value they share: a source anchor, a cloud user both would join, an address, a UPN
(the on-prem one or the MOERA UPN §2 derives) or a MOERA. So users who share none of these,
directly or through others, never change each other's result. `ScopeCheck` indexes those values
once over the scope (one pass over the users read), and when a user's values change it forgets
the results of the users connected to it and predicts just them again, in scope order, so that
each result is the one a prediction of the whole scope would give.

Pure: standard library only, no Ansible, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from ansible_collections.hybrid.identity.plugins.module_utils.common._anchor import AnchorError
from ansible_collections.hybrid.identity.plugins.module_utils.matching._matching import predict
from ansible_collections.hybrid.identity.plugins.module_utils.matching._matching_index import CloudIndex
from ansible_collections.hybrid.identity.plugins.module_utils.matching._matching_model import (
    OnPremUser,
    Tenant,
    name_key,
    smtp_values,
)
from ansible_collections.hybrid.identity.plugins.module_utils.matching._matching_projection import mail_nickname
from ansible_collections.hybrid.identity.plugins.module_utils.matching._matching_result import Result


def shared_values(user: OnPremUser, index: CloudIndex, tenant: Tenant, anchor_mode: str) -> set[str]:
    """Every value through which §4 can compare this user with another (a superset: more only predicts more).

    Addresses, UPNs and MOERAs share one namespace, the lower-case address; a cloud user the user
    could join is named by its id.
    """
    values: set[str] = set()
    try:
        anchor = user.source_anchor(anchor_mode)
    except AnchorError:
        anchor = None
    if anchor:
        values.add(f"anchor:{anchor}")
        for cloud_user in (index.user_with_immutable_id(anchor), index.deleted_user_with_immutable_id(anchor)):
            if cloud_user is not None:
                values.add(f"cloud:{cloud_user.id}")
    addresses = {proxy.address.lower() for proxy in smtp_values(user.proxy_addresses)}
    addresses.update(value.partition(":")[2].lower() for value in user.proxy_addresses)
    if user.mail:
        addresses.add(user.mail.lower())
    for address in addresses:
        for cloud_user in index.users_holding(f"smtp:{address}"):
            values.add(f"cloud:{cloud_user.id}")
    values.update(addresses)
    if user.user_principal_name:
        values.add(name_key(user.user_principal_name))
        cloud_user = index.user_with_upn(user.user_principal_name)
        if cloud_user is not None:
            values.add(f"cloud:{cloud_user.id}")
    # rule book §2: the MOERA, and the MOERA UPN an unverified UPN suffix gives
    values.add(name_key(tenant.moera(mail_nickname(user, tenant))))
    values.discard("")
    return values


class ScopeCheck:
    """The predictor's result for each user of a scope, for the users' current values; see the module docstring."""

    def __init__(self, users: Sequence[OnPremUser], index: CloudIndex, tenant: Tenant | Mapping,
                 anchor_mode: str) -> None:
        self.index = index
        self.tenant = tenant if isinstance(tenant, Tenant) else Tenant.from_dict(tenant)
        self.anchor_mode = anchor_mode
        self.users = list(users)  # the current values, in scope order
        self._position = {id(user): position for position, user in enumerate(self.users)}
        self._by_guid = {user.object_guid: position for position, user in enumerate(self.users) if user.object_guid}
        self._values: list[set[str]] = []
        self._holders: dict[str, list[int]] = {}
        self._results: dict[int, Result] = {}
        self.predicted = 0  # users given to the predictor so far
        for position, user in enumerate(self.users):
            self._values.append(set())
            self._index_values(position, user)

    def position(self, user: OnPremUser) -> int:
        """The position of a user as given (the object itself, not an equal one)."""
        return self._position[id(user)]

    def position_of_guid(self, object_guid: str | None) -> int | None:
        return self._by_guid.get(object_guid) if object_guid else None

    def set_values(self, position: int, user: OnPremUser) -> None:
        """The user at this position now has these values; the results it can reach are predicted again."""
        # the old values stay indexed: users that shared them with it are reached, and predicted again, too
        self._index_values(position, user)
        self.users[position] = user
        for reached in self._connected([position]):
            self._results.pop(reached, None)

    def results(self, positions: Iterable[int]) -> dict[int, Result]:
        """The result of each user at these positions, predicting only those not known for the current values."""
        wanted = list(dict.fromkeys(positions))
        unknown = [position for position in wanted if position not in self._results]
        if unknown:
            group = sorted(self._connected(unknown))
            # scope order kept: the §4 tie-break (a user's position) is the same as over the whole scope
            predicted = predict([self.users[position] for position in group], self.index, self.tenant,
                                self.anchor_mode)
            self.predicted += len(group)
            self._results.update(zip(group, predicted, strict=True))
        return {position: self._results[position] for position in wanted}

    def _index_values(self, position: int, user: OnPremUser) -> None:
        for value in shared_values(user, self.index, self.tenant, self.anchor_mode) - self._values[position]:
            self._values[position].add(value)
            self._holders.setdefault(value, []).append(position)

    def _connected(self, starts: Iterable[int]) -> set[int]:
        """The users reached from these through shared values, each value followed once."""
        reached = set(starts)
        pending = list(reached)
        followed: set[str] = set()
        while pending:
            position = pending.pop()
            for value in self._values[position]:
                if value in followed:
                    continue
                followed.add(value)
                for holder in self._holders[value]:
                    if holder not in reached:
                        reached.add(holder)
                        pending.append(holder)
        return reached
