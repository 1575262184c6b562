# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Plan every requested user first, then write: bad input changes nothing.

Internal to the collection; no stable API.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from ansible_collections.hybrid.identity.plugins.module_utils.ad._ad import (
    USER_ATTRIBUTES,
    AdSession,
    AttributeChange,
    ConcurrentChange,
    InvalidIdentity,
)
from ansible_collections.hybrid.identity.plugins.module_utils.alignment._address_holders import refuse_held_values
from ansible_collections.hybrid.identity.plugins.module_utils.alignment._user_plan import (
    UserPlan,
    UserRequest,
    plan_user,
)
from ansible_collections.hybrid.identity.plugins.module_utils.common._errors import HybridIdentityError

WRITE_ATTEMPTS = 3


class UpnInUse(HybridIdentityError):
    pass


def plan_requests(ad: AdSession, requests: Sequence[UserRequest],
                  allow_duplicate_addresses: bool = False) -> list[tuple]:
    """(user, request, plan) for each request; raises before any write when one is wrong.

    An address or UPN the plans give that another object holds is refused (rule book §4), in one
    search per fifty values; with ``allow_duplicate_addresses`` an address (not a UPN) is let
    through and noted on the plan.
    """
    planned = []
    seen = {}
    for request in requests:
        user = ad.find_user(request.identity, USER_ATTRIBUTES)
        if user.distinguished_name in seen:
            raise InvalidIdentity(
                f"identities {seen[user.distinguished_name]!r} and {request.identity!r} name the same user "
                f"{user.distinguished_name}",
                hint="list each user once",
            )
        seen[user.distinguished_name] = request.identity
        planned.append((user, request, plan_user(user, request)))
    notices = refuse_held_values(ad, [plan for _user, _request, plan in planned], allow_duplicate_addresses)
    return [(user, request, replace(plan, notices=tuple(notices.get(plan.distinguished_name, ()))))
            for user, request, plan in planned]


def write_plan(ad: AdSession, user, request: UserRequest, plan: UserPlan, attempts: int = WRITE_ATTEMPTS) -> UserPlan:
    """Write one plan; when the user changed since it was read, read again and re-plan.

    The request is declarative, so planning it again against the new values keeps what
    the other writer did and still delivers what was asked.
    """
    for attempt in range(1, attempts + 1):
        if not plan.changed:
            return plan
        try:
            ad.modify(plan.distinguished_name, [AttributeChange(*change) for change in plan.changes])
            return plan
        except ConcurrentChange as err:
            if attempt == attempts:
                raise ConcurrentChange(
                    f"{plan.distinguished_name} kept changing while it was written "
                    f"({attempts} attempt{'s' if attempts > 1 else ''}): {err}",
                    hint="find what else writes proxyAddresses on this user (a script, Exchange) and run again",
                ) from err
            user = ad.find_user(user.object_guid, USER_ATTRIBUTES)
            plan = plan_user(user, request)
            _check_upn_free(ad, plan)
    return plan


def _check_upn_free(ad: AdSession, plan: UserPlan) -> None:
    upn = plan.after["userPrincipalName"]
    if upn == plan.before["userPrincipalName"] or upn is None:
        return
    holders = [dn for dn in ad.users_with_upn(upn) if dn.lower() != plan.distinguished_name.lower()]
    if holders:
        raise UpnInUse(
            f"user_principal_name {upn!r} is already held by {'; '.join(holders)}",
            hint="a UPN must be unique in the forest; choose another or free it first",
        )
