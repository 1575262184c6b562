# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Alignment plans: the change that makes each on-prem user carry its cloud user's addresses, checked by the predictor.

Internal to the hybrid.identity collection: not a public API, it may change without notice.

Plan, for each pair of an on-prem user and its cloud user, the `ad_user_smtp` request that
makes the first sync change nothing the user can see (rule book §5): the on-prem user
carries the cloud primary SMTP address (or, by policy, keeps its own and the change is
reported) and every cloud SMTP secondary; its own X500 and other values stay.

Every plan is checked with the predictor before anything is written: the on-prem users as
the requests would leave them, the rest of the scope as it is, against the cloud index.
A pair whose planned state would not join its cloud user cleanly (an admin role, another
ImmutableId, a group holding the address, a clash with another user) is reported with the
predictor's reasons and not aligned. The same check, on the values read back, is the
re-check after the write.

Pure: standard library only, no Ansible, no I/O.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ansible_collections.hybrid.identity.plugins.module_utils.alignment._user_plan import UserRequest, plan_user
from ansible_collections.hybrid.identity.plugins.module_utils.common._addresses import AddressError
from ansible_collections.hybrid.identity.plugins.module_utils.common._anchor import AnchorError, anchor_bytes
from ansible_collections.hybrid.identity.plugins.module_utils.common._errors import ConfigurationError
from ansible_collections.hybrid.identity.plugins.module_utils.matching._matching import predict
from ansible_collections.hybrid.identity.plugins.module_utils.matching._matching_index import CloudIndex
from ansible_collections.hybrid.identity.plugins.module_utils.matching._matching_model import (
    ANCHOR_CONSISTENCY_GUID,
    OnPremUser,
    Tenant,
    domain_of,
    is_reserved_domain,
    smtp_key,
)
from ansible_collections.hybrid.identity.plugins.module_utils.matching._matching_result import (
    ALREADY_SYNCED,
    ERROR,
    JOINED,
    Finding,
    Result,
)
from ansible_collections.hybrid.identity.plugins.module_utils.matching._pairing import Pair, onprem_primary
from ansible_collections.hybrid.identity.plugins.module_utils.matching._scope_check import ScopeCheck

PRIMARY_FROM_CLOUD = "cloud"
PRIMARY_FROM_ONPREM = "onprem"
PRIMARY_POLICIES = (PRIMARY_FROM_CLOUD, PRIMARY_FROM_ONPREM)

ALIGNED = "aligned"
UNCHANGED = "unchanged"
BLOCKED = "blocked"
FAILED = "failed"
STATUSES = (ALIGNED, UNCHANGED, ALREADY_SYNCED, BLOCKED, FAILED)

PRIMARY_WILL_CHANGE = "primary_smtp_will_change"
ADDRESSES_DROPPED = "cloud_addresses_will_be_dropped"
# What the user would notice after the join (rule book §5), reported on every pair.
VISIBLE_CHANGES = (PRIMARY_WILL_CHANGE, ADDRESSES_DROPPED, "upn_will_change")


@dataclass(frozen=True, slots=True)
class AlignmentOptions:
    primary: str = PRIMARY_FROM_CLOUD
    fix_immutable_id_mismatch: bool = False
    anchor_mode: str = ANCHOR_CONSISTENCY_GUID

    def __post_init__(self) -> None:
        if self.primary not in PRIMARY_POLICIES:
            raise ConfigurationError(f"primary {self.primary!r} is not a policy",
                                     hint=f"use one of {', '.join(PRIMARY_POLICIES)}")

    def tolerated(self) -> frozenset[str]:
        """Visible changes the policy accepts: keeping the on-prem primary changes the cloud one."""
        return frozenset({PRIMARY_WILL_CHANGE}) if self.primary == PRIMARY_FROM_ONPREM else frozenset()


class Refused(Exception):
    """A pair the planner can't align; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class Alignment:
    """One pair's plan: its status, the request to write (None when nothing is written), and why."""

    pair: Pair
    status: str
    request: dict | None
    after: OnPremUser
    outcome: str | None = None
    findings: tuple[Finding, ...] = ()
    reasons: tuple[str, ...] = ()

    @property
    def visible_changes(self) -> list[Finding]:
        return [finding for finding in self.findings if finding.code in VISIBLE_CHANGES]

    def as_dict(self) -> dict:
        return self.pair.as_dict() | {
            "status": self.status,
            "request": self.request,
            "predicted_outcome": self.outcome,
            "visible_changes": [finding.as_dict() for finding in self.visible_changes],
            "reasons": list(self.reasons),
        }


# --- the request ----------------------------------------------------------------------------


def alignment_request(pair: Pair, options: AlignmentOptions, initial_domain: str | None = None) -> dict:
    """The ad_user_smtp request for one pair (identity by objectGUID, which survives renames and moves)."""
    cloud, onprem = pair.cloud, pair.onprem
    cloud_primary = cloud.primary_smtp
    own_primary = onprem_primary(onprem)
    if cloud_primary is not None and is_reserved_domain(domain_of(cloud_primary.address)) and (
            options.primary == PRIMARY_FROM_CLOUD or own_primary is None):
        # rule book §2: the sync drops on-prem values in *.onmicrosoft.com, so this primary can't be carried
        raise Refused(f"the primary SMTP address of {cloud.label}, {cloud_primary.address}, is in Microsoft's "
                      "reserved onmicrosoft.com domain, which the on-prem side can't carry. Give the mailbox a "
                      "primary address in a verified domain first, or align this user with primary: onprem.")
    if options.primary == PRIMARY_FROM_CLOUD or own_primary is None:
        primary = cloud_primary.address if cloud_primary else None
    else:
        primary = None  # policy onprem: the on-prem primary stays, and the cloud primary changes to it
    kept_primary = smtp_key(primary or own_primary) if (primary or own_primary) else None
    # rule book §2: the sync drops on-prem values in reserved domains (*.onmicrosoft.com) and adds the
    # MOERA itself, so the cloud MOERA and other onmicrosoft.com addresses are left out
    secondaries = [proxy.address for proxy in cloud.smtp_addresses()
                   if proxy.key != kept_primary and not is_reserved_domain(domain_of(proxy.address))]
    request = {"identity": onprem.object_guid or onprem.distinguished_name, "sync_mail": True}
    if primary:
        request["primary_smtp"] = primary
    if secondaries:
        request["secondary_smtp"] = {"add": secondaries}
    nickname = _kept_nickname(pair, initial_domain, primary or own_primary)
    if nickname:
        request["mail_nickname"] = nickname
    fix = _anchor_fix(pair, options)
    if fix:
        request["consistency_guid"] = fix
    return request


def _kept_nickname(pair: Pair, initial_domain: str | None, primary: str | None) -> str | None:
    """The mailNickname that keeps the cloud user's address in the initial domain, when the on-prem one would not.

    Rule book §2: the sync gives the cloud user one initial-domain address, the MOERA
    <mailNickname>@<initial domain>, and on-prem values in *.onmicrosoft.com can't carry any other. So
    the cloud user's own MOERA survives only if the on-prem mailNickname names it. With several, the
    first is kept; the re-check reports the others as dropped.
    """
    if not initial_domain:
        return None
    domain = initial_domain.lower()
    held = [proxy.address.rsplit("@", 1)[0] for proxy in pair.cloud.smtp_addresses()
            if domain_of(proxy.address).lower() == domain]
    if not held:
        return None
    onprem = pair.onprem
    # §2: mailNickname, else the prefix of the primary SMTP (as aligned), else of mail, else of the UPN
    source = onprem.mail_nickname or primary or onprem.mail or onprem.user_principal_name or ""
    if source.rsplit("@", 1)[0].lower() in {local.lower() for local in held}:
        return None
    return held[0]


def _anchor_fix(pair: Pair, options: AlignmentOptions) -> str | None:
    """Rule book §3: the documented fix for an ImmutableId mismatch is the cloud value in mS-DS-ConsistencyGuid."""
    cloud_anchor = pair.cloud.on_premises_immutable_id
    if not options.fix_immutable_id_mismatch or not cloud_anchor or pair.cloud.on_premises_sync_enabled is True:
        return None
    try:
        current = pair.onprem.source_anchor(options.anchor_mode)
    except AnchorError:
        current = None
    return cloud_anchor if cloud_anchor != current else None


def _refuse_detaching(pair: Pair, request: Mapping, index: CloudIndex, options: AlignmentOptions) -> None:
    """A new mS-DS-ConsistencyGuid must not take the source anchor away from the cloud user that carries it now."""
    if "consistency_guid" not in request:
        return
    try:
        holder = index.user_with_immutable_id(pair.onprem.source_anchor(options.anchor_mode))
    except AnchorError:
        return
    if holder is not None and holder.id != pair.cloud.id:
        raise Refused(f"the user's source anchor is the onPremisesImmutableId of {holder.label}; writing "
                      f"{request['consistency_guid']} into mS-DS-ConsistencyGuid would detach it. Pair the user with "
                      "that cloud user, or clear its ImmutableId first.")


@dataclass(frozen=True, slots=True)
class _Stored:
    """An OnPremUser as plan_user reads an AD user (mS-DS-ConsistencyGuid as bytes)."""

    distinguished_name: str | None
    proxy_addresses: tuple[str, ...]
    mail: str | None
    user_principal_name: str | None
    consistency_guid: bytes | None
    mail_nickname: str | None


def _stored(user: OnPremUser) -> _Stored:
    try:
        guid = anchor_bytes(user.consistency_guid) if user.consistency_guid else None
    except AnchorError:
        guid = None  # unreadable: the predictor reports it (invalid_source_anchor)
    return _Stored(user.distinguished_name, user.proxy_addresses, user.mail, user.user_principal_name, guid,
                   user.mail_nickname)


def apply_request(user: OnPremUser, request: Mapping) -> tuple[OnPremUser, bool]:
    """The user as the request leaves it, planned by the same code that writes it, and whether it changes."""
    plan = plan_user(_stored(user), UserRequest.from_params(request))
    after = plan.after
    return dataclasses.replace(user, proxy_addresses=tuple(after["proxyAddresses"]), mail=after["mail"],
                               consistency_guid=after["consistency_guid"],
                               mail_nickname=after["mailNickname"]), plan.changed


# --- checking with the predictor ------------------------------------------------------------


def judge(pair: Pair, result: Result) -> tuple[bool, list[str]]:
    """(joins cleanly, reasons not): the predicted outcome must join this pair's cloud user with no error."""
    reasons = [finding.message for finding in result.findings if finding.severity == ERROR]
    joined_id = result.cloud["id"] if result.cloud else None
    if result.outcome not in JOINED:
        reasons.insert(0, f"The next sync would not join {pair.cloud.label}: the predicted outcome is "
                          f"{result.outcome}.")
    elif joined_id != pair.cloud.id:
        reasons.insert(0, f"The next sync would join cloud user {result.cloud['user_principal_name']} "
                          f"({joined_id}), not {pair.cloud.label}.")
    return not reasons, reasons


def _is_synced_pair(pair: Pair, result: Result) -> bool:
    return result.outcome == ALREADY_SYNCED and result.cloud is not None and result.cloud["id"] == pair.cloud.id


def _visible(result: Result, options: AlignmentOptions) -> list[Finding]:
    return [finding for finding in result.findings
            if finding.code in (PRIMARY_WILL_CHANGE, ADDRESSES_DROPPED) and finding.code not in options.tolerated()]


def _with_all(pairs: Sequence[Pair], scope: Iterable[OnPremUser]) -> list[OnPremUser]:
    users = list(scope)
    known = {id(user) for user in users}
    return users + [pair.onprem for pair in pairs if id(pair.onprem) not in known]


def scope_check(pairs: Sequence[Pair], scope: Iterable[OnPremUser], index: CloudIndex, tenant: Tenant | Mapping,
                options: AlignmentOptions = AlignmentOptions()) -> ScopeCheck:
    """The predictions of the scope as read (with the pairs' users), for `plan_alignment` and `recheck_written`."""
    return ScopeCheck(_with_all(pairs, scope), index, tenant, options.anchor_mode)


def plan_alignment(pairs: Sequence[Pair], scope: Iterable[OnPremUser], index: CloudIndex, tenant: Tenant | Mapping,
                   options: AlignmentOptions = AlignmentOptions(), check: ScopeCheck | None = None) -> list[Alignment]:
    """One Alignment per pair, in pair order. `scope` is every on-prem user in sync scope, as read.

    `check` (from `scope_check`, over the same pairs and scope) is left with the planned values, so that
    `recheck_written` predicts again only what the writes can reach.
    """
    tenant = tenant if isinstance(tenant, Tenant) else Tenant.from_dict(tenant)
    check = check or scope_check(pairs, scope, index, tenant, options)
    planned: dict[int, tuple[dict, OnPremUser, bool]] = {}
    refused: dict[int, list[str]] = {}
    synced: set[int] = set()
    for pair in pairs:
        try:
            request = alignment_request(pair, options, tenant.initial_domain)
            _refuse_detaching(pair, request, index, options)
            after, changes = apply_request(pair.onprem, request)
        except (Refused, AddressError, AnchorError) as err:
            refused[id(pair)] = [str(err)]
            continue
        planned[id(pair)] = (request, after, changes)
        if after != pair.onprem:
            check.set_values(check.position(pair.onprem), after)
    # a pair left unwritten (refused, or joined already) can change what the others' plans predict: the users
    # its values reach are predicted again, the rest keep their results
    while True:
        by_position = check.results(check.position(pair.onprem) for pair in pairs if id(pair) in planned)
        settled = []
        for pair in pairs:
            if id(pair) not in planned:
                continue
            result = by_position[check.position(pair.onprem)]
            if _is_synced_pair(pair, result):
                synced.add(id(pair))
            else:
                reasons = judge(pair, result)[1]
                if not reasons:
                    continue
                refused[id(pair)] = reasons
            settled.append(pair)
        for pair in settled:
            if planned.pop(id(pair))[1] != pair.onprem:
                check.set_values(check.position(pair.onprem), pair.onprem)
        if not settled:
            break
    by_position = check.results(check.position(pair.onprem) for pair in pairs)
    return [_alignment(pair, planned.get(id(pair)), refused.get(id(pair)), id(pair) in synced,
                       by_position[check.position(pair.onprem)]) for pair in pairs]


def _alignment(pair: Pair, plan: tuple | None, refusal: list[str] | None, synced: bool, result: Result) -> Alignment:
    if synced:
        # joined already: from now on the cloud follows the on-prem values (rule book §2, "on-prem wins")
        return Alignment(pair, ALREADY_SYNCED, None, pair.onprem, result.outcome, result.findings)
    if plan is None:
        return Alignment(pair, BLOCKED, None, pair.onprem, result.outcome, result.findings, tuple(refusal or ()))
    request, after, changes = plan
    return Alignment(pair, ALIGNED if changes else UNCHANGED, request if changes else None, after,
                     result.outcome, result.findings)


def with_write_outcomes(alignments: Sequence[Alignment], outcome) -> list[Alignment]:
    """The alignments as their writes ended: `outcome(objectGUID)` names how (see `_journaled_writes`)."""
    ended = []
    for alignment in alignments:
        how = outcome(alignment.pair.onprem.object_guid) if alignment.status == ALIGNED else None
        if how == "done_already":
            alignment = dataclasses.replace(alignment, status=UNCHANGED, request=None, reasons=(
                "Another writer aligned this user while the run was under way; nothing was written.",))
        elif how in ("failed", "uncertain", "not_tried"):
            alignment = dataclasses.replace(alignment, status=FAILED, reasons=(
                "Planned but not written (see write_failures); running the task again completes it.",))
        ended.append(alignment)
    return ended


def recheck(pairs: Sequence[Pair], scope: Iterable[OnPremUser], index: CloudIndex, tenant: Tenant | Mapping,
            options: AlignmentOptions = AlignmentOptions()) -> list[dict]:
    """Per pair (on-prem users as they are now): the predicted outcome and whether the join is clean.

    Clean: the sync joins the pair's cloud user, no error, and neither the primary address nor
    any cloud address changes (rule book §5); the primary may change under policy onprem.
    """
    users = _with_all(pairs, scope)
    results = predict(users, index, tenant, options.anchor_mode)
    by_user = {id(user): result for user, result in zip(users, results, strict=True)}
    return [_checked(pair, by_user[id(pair.onprem)], options) for pair in pairs]


def recheck_written(check: ScopeCheck, pairs: Sequence[Pair], now: Mapping[str, OnPremUser],
                    options: AlignmentOptions = AlignmentOptions()) -> list[dict]:
    """`recheck` after the writes, predicting again only what they can reach.

    `check` is the one `plan_alignment` left, `pairs` the pairs as planned, and `now` the users the run
    wrote or tried to write, by objectGUID, as read back (as planned in check mode). Those users and
    every user they share a value with are predicted again on these values; any other pair keeps the
    result of its plan, since nothing it shares a value with was written.
    """
    for guid, user in now.items():
        position = check.position_of_guid(guid)
        if position is not None:
            check.set_values(position, user)
    by_position = check.results(check.position(pair.onprem) for pair in pairs)
    return [_checked(dataclasses.replace(pair, onprem=now.get(pair.onprem.object_guid, pair.onprem)),
                     by_position[check.position(pair.onprem)], options) for pair in pairs]


def _checked(pair: Pair, result: Result, options: AlignmentOptions) -> dict:
    joins, reasons = judge(pair, result)
    visible = _visible(result, options)
    return {
        "onprem": pair.as_dict()["onprem"],
        "cloud": pair.as_dict()["cloud"],
        "outcome": result.outcome,
        "clean": joins and not visible,
        "findings": [finding.code for finding in result.findings],
        "reasons": reasons + [finding.message for finding in visible],
    }


# --- what the module returns ---------------------------------------------------------------

RETURN_RESULTS = ("attention", "all", "none")


def pair_needs_attention(pair: Mapping) -> bool:
    """Whether a person should read this pair: written (or to be), refused or failed, or with a visible change.

    An unchanged or already joined pair with nothing to say is the bulk of a large scope and is left out."""
    return pair["status"] in (ALIGNED, BLOCKED, FAILED) or bool(pair.get("visible_changes")) \
        or bool(pair.get("reasons"))


def returned_results(pairs: list[dict], rechecked: list[dict], unpaired: list[dict], which: str
                     ) -> tuple[list[dict], list[dict], list[dict]]:
    """(pairs, re-checked pairs, unpaired on-prem users) as ``return_results`` asks; the counts cover them all.

    For attention: the pairs `pair_needs_attention` keeps; the re-checks of those pairs and every re-check that is
    not clean; every unpaired user (each becomes a new cloud user or is left out of the sync)."""
    if which == "all":
        return pairs, rechecked, unpaired
    if which == "none":
        return [], [], []
    kept = [pair for pair in pairs if pair_needs_attention(pair)]
    guids = {pair["onprem"].get("object_guid") for pair in kept}
    return kept, [item for item in rechecked if not item["clean"] or item["onprem"].get("object_guid") in guids], \
        unpaired
