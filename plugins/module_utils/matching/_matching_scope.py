# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The predictor's rules that look at the whole on-prem scope at once (rule book §4).

Internal to the hybrid.identity collection: not a public API, it may change without notice.

A source anchor, a cloud user, an address or a UPN claimed by two on-prem users: two on-prem
users in scope conflict the same way. The predictor (`_matching`) decides each user alone into
a `Draft`, then settles these claims across the drafts.

When one value is claimed twice, one claimant keeps it, in this order: the one whose joined
cloud user already holds it, then by outcome (already synced, hard match, SMTP, UPN, new
user), then by distinguished name (case-insensitive). Every claimant gets
`duplicate_in_directory`; a would-be new user among the others becomes a `conflict`, a joined
one keeps its join with the value quarantined, and a shared source anchor makes the others
`invalid` (they fail export). Two users joining one cloud user: the first joins, the others get
`duplicate_candidate` and are predicted as new users.

Pure: standard library only, no Ansible, no I/O.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ansible_collections.hybrid.identity.plugins.module_utils.common._addresses import ProxyAddress
from ansible_collections.hybrid.identity.plugins.module_utils.matching._matching_model import (
    Tenant,
    name_key,
)
from ansible_collections.hybrid.identity.plugins.module_utils.matching._matching_projection import (
    PROXY_ADDRESS,
    USER_PRINCIPAL_NAME,
    export_fails,
    moera_in_use,
    quarantine_allowed,
)
from ansible_collections.hybrid.identity.plugins.module_utils.matching._matching_result import (
    ALREADY_SYNCED,
    BLOCKED,
    CONFLICT,
    EXCLUDED,
    FIRST_JOINS,
    HARD_MATCH,
    INVALID,
    JOINED,
    NEW_USER,
    SOFT_MATCH_SMTP,
    SOFT_MATCH_UPN,
)

if TYPE_CHECKING:  # the predictor imports this module: Draft is only named in annotations here
    from ansible_collections.hybrid.identity.plugins.module_utils.matching._matching import Draft


# --- values claimed twice in scope (rule book §4) -----------------------------------------

_PROPERTY = {"userPrincipalName": USER_PRINCIPAL_NAME, "proxyAddresses": PROXY_ADDRESS}
_KEEPER_RULE = ("the one whose cloud user already holds it goes first, then the stronger join, then "
                "distinguished-name order")


def settle_shared_anchors(drafts: list[Draft], anchor_mode: str) -> None:
    """Rule book §3.1, §4: two objects with one source anchor; only one exports (the ImmutableId is unique)."""
    for group in _groups(drafts, lambda draft: [draft.source_anchor] if draft.outcome != INVALID else []):
        ordered = sorted(group, key=lambda draft: draft.order())
        keeper = ordered[0]
        for draft in ordered:
            attribute = draft.user.anchor_attribute(anchor_mode)
            fix = "Give each user its own source anchor (clear a copied mS-DS-ConsistencyGuid)."
            if draft is keeper:
                draft.add("duplicate_in_directory",
                          f"On-prem user(s) {_labels(ordered, draft)} carry the same source anchor "
                          f"{draft.source_anchor}; this user is predicted to export and the others to fail. {fix}",
                          attribute, draft.source_anchor)
            else:
                draft.add("duplicate_in_directory",
                          f"On-prem user {keeper.user.label} carries the same source anchor {draft.source_anchor} "
                          f"and exports first ({_KEEPER_RULE}); this user fails export. {fix}",
                          attribute, draft.source_anchor)
                draft.settle(INVALID)


def settle_shared_candidates(drafts: list[Draft]) -> None:
    """Rule book §3: a cloud user joins once; for the other claimants it is taken (then it refuses them)."""
    joining = (HARD_MATCH, SOFT_MATCH_SMTP, SOFT_MATCH_UPN, ALREADY_SYNCED)
    for group in _groups(drafts, lambda draft: [draft.candidate.id] if draft.outcome in joining else []):
        ordered = sorted(group, key=lambda draft: draft.order())
        keeper = ordered[0]
        for draft in ordered[1:]:
            attribute, value = _matched_on(draft)
            draft.add("duplicate_candidate",
                      f"On-prem user {keeper.user.label} also joins {draft.candidate.label} and goes first "
                      f"({_KEEPER_RULE}); that cloud user is then taken, so this user becomes a new cloud user. "
                      f"Make only one on-prem user carry the {attribute} value that points at it.",
                      attribute, value)
            draft.settle(NEW_USER)


def _matched_on(draft: Draft) -> tuple[str, str | None]:
    if draft.outcome == SOFT_MATCH_SMTP:
        return "proxyAddresses", draft.primary.address
    if draft.outcome == SOFT_MATCH_UPN:
        return "userPrincipalName", draft.user.user_principal_name
    return "onPremisesImmutableId", draft.source_anchor


def settle_shared_values(drafts: list[Draft], tenant: Tenant) -> None:
    """Rule book §4: one address or UPN on two on-prem users; one keeps it, the others' copies are quarantined."""
    claims: dict[tuple[str, str], list[tuple[Draft, str]]] = {}
    for draft in drafts:
        for attribute, key, value in _claimed_values(draft, tenant):
            claims.setdefault((attribute, key), []).append((draft, value))
    for (attribute, key), group in claims.items():
        if len(group) < 2:
            continue
        ordered = sorted(group, key=lambda claim: claim[0].order(_joined_holds(claim[0], attribute, key)))
        keeper = ordered[0][0]
        claimants = [claim[0] for claim in ordered]
        for draft, value in ordered:
            if draft is keeper:
                draft.add("duplicate_in_directory",
                          f"{value} is also on on-prem user(s) {_labels(claimants, draft)}; this user keeps it in "
                          f"the cloud ({_KEEPER_RULE}) and their copies are quarantined. Keep it on one user only.",
                          attribute, value)
                continue
            if not quarantine_allowed(_PROPERTY[attribute], tenant):
                effect = ("this user's export fails with AttributeValueMustBeUnique (quarantine is off in the "
                          "tenant)")
            elif draft.outcome == NEW_USER:
                effect = "this user's copy is quarantined (a new cloud user is created with it quarantined)"
            else:
                effect = "this user's copy is quarantined"
            draft.add("duplicate_in_directory",
                      f"{value} is also on on-prem user {keeper.user.label}, which keeps it in the cloud "
                      f"({_KEEPER_RULE}); {effect}. Keep it on one user only.",
                      attribute, value)
            _quarantine(draft, attribute, value, tenant)
    settle_shared_moeras(drafts)


def settle_shared_moeras(drafts: list[Draft]) -> None:
    """Rule book §9.9 (KB 3190357, scenario 6): one MOERA for two users; the second gets 4 digits, no error."""
    claims: dict[str, list[Draft]] = {}
    for draft in drafts:
        projection = draft.projection
        if projection is not None and projection.moera is not None and not projection.moera_taken \
                and projection.moera.key in projection.addresses:
            claims.setdefault(projection.moera.key, []).append(draft)
    for group in claims.values():
        if len(group) < 2:
            continue
        ordered = sorted(group, key=lambda draft: draft.order(_joined_holds(draft, "proxyAddresses",
                                                                            draft.projection.moera.key)))
        for draft in ordered[1:]:
            draft.findings.append(moera_in_use(draft.projection, f"on-prem user {ordered[0].user.label}, which "
                                                                 f"exports first ({_KEEPER_RULE})"))


def _claimed_values(draft: Draft, tenant: Tenant) -> list[tuple[str, str, str]]:
    """(attribute, key, value) for each value this user will export and that must be unique (§4)."""
    if draft.projection is None:
        return []
    claimed = [("proxyAddresses", proxy.key, proxy.address)
               for proxy in draft.addresses if proxy.key in draft.projection.onprem_keys]
    # the UPN §2 derives: the on-prem one in a verified domain, else the MOERA UPN (§9.9: unique as well)
    upn = draft.projection.wanted_upn
    if upn:
        claimed.append(("userPrincipalName", name_key(upn), upn))
    return claimed


def _joined_holds(draft: Draft, attribute: str, key: str) -> bool:
    """The cloud user this one joins already holds the value, so the export changes nothing there."""
    joined = draft.candidate if draft.outcome in JOINED else None
    if joined is None:
        return False
    if attribute == "userPrincipalName":
        return bool(joined.user_principal_name) and name_key(joined.user_principal_name) == key
    return any(proxy.key == key for proxy in joined.smtp_addresses())


def _quarantine(draft: Draft, attribute: str, value: str, tenant: Tenant) -> None:
    if draft.projection is None:
        return  # its export fails already
    if attribute == "userPrincipalName":
        draft.projection.quarantine_upn(value)
    else:
        draft.projection.quarantine_address(ProxyAddress.smtp(value))
    if export_fails(draft.projection, tenant):
        # §9.8: quarantine is off, so the second claimant's export fails: nothing of it reaches the cloud
        draft.projection = None
        if draft.outcome in FIRST_JOINS:
            draft.outcome = BLOCKED
    if draft.outcome == NEW_USER:
        draft.outcome = CONFLICT


def _groups(drafts: list[Draft], keys_of) -> list[list[Draft]]:
    """Drafts sharing a key (excluded and invalid ones never reach the cloud, so they never share)."""
    by_key: dict[str, list[Draft]] = {}
    for draft in drafts:
        if draft.outcome in (EXCLUDED, INVALID):
            continue
        for key in keys_of(draft):
            by_key.setdefault(key, []).append(draft)
    return [group for group in by_key.values() if len(group) > 1]


def _labels(drafts: list[Draft], but: Draft) -> str:
    return ", ".join(draft.user.label for draft in drafts if draft is not but)
