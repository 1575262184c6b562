# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Plan the change to one AD user's addresses, mail, UPN, consistency GUID and mailNickname.

Pure (internal to the collection; no stable API): a user as read and a request in, the
exact LDAP changes and a before/after out. The same plan drives check mode, diff and
the write, so what is shown is what is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ansible_collections.hybrid.identity.plugins.module_utils.common._addresses import (
    AddressError,
    AddressPlan,
    AddressRequest,
    plan_addresses,
    validate_mail_nickname,
    validate_upn,
)
from ansible_collections.hybrid.identity.plugins.module_utils.common._anchor import (
    anchor_from_any,
    immutable_id,
)


@dataclass(frozen=True, slots=True)
class UserRequest:
    identity: str
    addresses: AddressRequest
    sync_mail: bool = True
    user_principal_name: str | None = None
    consistency_guid: bytes | None = None
    mail_nickname: str | None = None

    @classmethod
    def from_params(cls, params: Mapping) -> UserRequest:
        """Raises AddressError (or AnchorError) on bad input, before anything is read or written."""
        upn = params.get("user_principal_name")
        if upn is not None:
            violations = validate_upn(upn)
            if violations:
                raise AddressError(
                    rule=violations[0].rule,
                    value=upn,
                    problem=f"user_principal_name {upn!r}: {violations[0].message}",
                    hint="fix the UPN (rule book §1 lists what a UPN may hold)",
                )
        nickname = params.get("mail_nickname")
        if nickname is not None:
            problem = validate_mail_nickname(nickname)
            if problem:
                raise AddressError(rule="mail_nickname", value=nickname,
                                   problem=f"mail_nickname {nickname!r} {problem}",
                                   hint="an alias is what comes before the '@' of an address (rule book §2: "
                                        "the MOERA is <mailNickname>@<initial domain>)")
        guid = params.get("consistency_guid")
        return cls(
            identity=params["identity"],
            addresses=AddressRequest.from_params(params),
            sync_mail=params.get("sync_mail", True),
            user_principal_name=upn,
            consistency_guid=anchor_from_any(guid) if guid else None,
            mail_nickname=nickname,
        )


@dataclass(frozen=True, slots=True)
class UserPlan:
    identity: str
    distinguished_name: str
    addresses: AddressPlan
    changes: tuple  # of AttributeChange-like tuples: (attribute, delete, add)
    before: dict
    after: dict
    notices: tuple[str, ...] = ()  # conflicts the task was told to allow (allow_duplicate_addresses)

    @property
    def changed(self) -> bool:
        return bool(self.changes)

    @property
    def diff(self) -> dict:
        return {
            "before_header": self.distinguished_name,
            "after_header": self.distinguished_name,
            "before": self.before,
            "after": self.after,
        }

    @property
    def result(self) -> dict:
        return {
            "identity": self.identity,
            "distinguished_name": self.distinguished_name,
            "changed": self.changed,
            "before": self.before,
            "after": self.after,
            "added": list(self.addresses.to_add),
            "removed": list(self.addresses.to_delete),
            "warnings": [violation.message for violation in self.addresses.warnings] + list(self.notices),
        }


def plan_user(user, request: UserRequest) -> UserPlan:
    """The changes that bring ``user`` (an AdUser) to what ``request`` asks, and nothing else."""
    addresses = plan_addresses(user.proxy_addresses, request.addresses)
    changes = []
    if addresses.changed:
        changes.append(("proxyAddresses", addresses.to_delete, addresses.to_add))

    mail = user.mail
    if request.sync_mail and addresses.primary_smtp and addresses.primary_smtp != user.mail:
        # `mail` follows the primary by convention (rule book §1); exact-case compare so a re-cased primary is followed.
        mail = addresses.primary_smtp
        changes.append(("mail", _present(user.mail), (mail,)))

    upn = user.user_principal_name
    if request.user_principal_name and request.user_principal_name != user.user_principal_name:
        upn = request.user_principal_name
        changes.append(("userPrincipalName", _present(user.user_principal_name), (upn,)))

    guid = user.consistency_guid
    if request.consistency_guid is not None and request.consistency_guid != user.consistency_guid:
        guid = request.consistency_guid
        changes.append(("mS-DS-ConsistencyGuid", _present(user.consistency_guid), (guid,)))

    nickname = user.mail_nickname
    if request.mail_nickname and request.mail_nickname != user.mail_nickname:
        nickname = request.mail_nickname
        changes.append(("mailNickname", _present(user.mail_nickname), (nickname,)))

    return UserPlan(
        identity=request.identity,
        distinguished_name=user.distinguished_name,
        addresses=addresses,
        changes=tuple(changes),
        before=_view(user.proxy_addresses, user.mail, user.user_principal_name, user.consistency_guid,
                     user.mail_nickname),
        after=_view(addresses.after if addresses.changed else user.proxy_addresses, mail, upn, guid, nickname),
    )


def _present(value) -> tuple:
    return (value,) if value else ()


def _view(proxy_addresses, mail, upn, guid, nickname) -> dict:
    return {
        "proxyAddresses": list(proxy_addresses),
        "mail": mail,
        "userPrincipalName": upn,
        "consistency_guid": immutable_id(guid) if guid else None,
        "mailNickname": nickname,
    }
