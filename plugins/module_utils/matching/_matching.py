# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The predictor: which cloud user each on-prem user joins on its first export, and what the sync does to it.

Internal to the hybrid.identity collection: not a public API, it may change without notice.

The predictor: which cloud user each on-prem user joins on its first export, and what the
sync then does to it (rule book §2 to §5, §9). `predict(onprem_users, cloud_index, tenant)`
gives one Result per on-prem user; `summarize(results)` counts them.

Pure: standard library only, no Ansible, no I/O. Inputs live in `_matching_model`, the cloud
index in `_matching_index`, the predicted cloud user in `_matching_projection`, the rules over
the whole on-prem scope in `_matching_scope`, the result shape in `_matching_result`; this file
decides each user in the rule book's order.

Decisions beyond the rule book, each written where it is applied:
- Unexportable or unpredictable objects are `invalid`: no UPN or an invalid one (§9.11), several
  `SMTP:` values, more than 300 proxy addresses (LargeObject), no usable source anchor, or a
  source anchor another on-prem user in scope also carries. An invalid primary SMTP address (the
  `SMTP:` value, or `mail` standing in for it) is an `invalid_primary_smtp` warning and any other
  invalid value an `invalid_proxy_address` warning: the sync drops the value and exports the
  object (§9.10); a dropped primary neither soft-matches nor stays the primary.
- A refused SMTP candidate is a match found: the sync does not fall back to UPN matching
  (Microsoft: UPN is tried "if a match isn't found based on primary SMTP"). A candidate
  without a mailbox (KB 2641663) is no match at all: matching goes on to the UPN.
- A candidate synchronized from another on-prem object is refused with `immutable_id_mismatch`.
- A soft-deleted cloud user restored by the hard match (§9.12) is a `hard_match`, its candidate the
  deleted user, with the warning `deleted_user_restored`.
- Values claimed twice in the on-prem scope: see `_matching_scope`.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ansible_collections.hybrid.identity.plugins.module_utils.common._addresses import (
    ProxyAddress,
    parse_or_none,
    validate_proxy_addresses,
    validate_smtp_address,
    validate_upn,
)
from ansible_collections.hybrid.identity.plugins.module_utils.common._anchor import AnchorError
from ansible_collections.hybrid.identity.plugins.module_utils.matching._matching_index import CloudIndex
from ansible_collections.hybrid.identity.plugins.module_utils.matching._matching_model import (
    ANCHOR_CONSISTENCY_GUID,
    ANCHOR_MODES,
    ANCHOR_OBJECT_GUID,
    BLOCK_HARD_MATCH_TAKEOVER,
    BLOCK_SOFT_MATCH,
    SOFT_MATCH_ON_UPN,
    CloudUser,
    MatchingInputError,
    OnPremUser,
    Tenant,
    name_key,
    smtp_values,
)
from ansible_collections.hybrid.identity.plugins.module_utils.matching._matching_projection import (
    PROXY_ADDRESS,
    QUARANTINE_SWITCHES,
    USER_PRINCIPAL_NAME,
    Projection,
    change_findings,
    export_fails,
    project,
    quarantine_allowed,
    quarantine_cloud_duplicates,
    quarantined_upn,
)
from ansible_collections.hybrid.identity.plugins.module_utils.matching._matching_result import (
    ALREADY_SYNCED,
    BLOCKED,
    CONFLICT,
    ERROR,
    EXCLUDED,
    EXPORTED,
    FIRST_JOINS,
    HARD_MATCH,
    INVALID,
    JOINED,
    NEW_USER,
    SOFT_MATCH_SMTP,
    SOFT_MATCH_UPN,
    Finding,
    Result,
)
from ansible_collections.hybrid.identity.plugins.module_utils.matching._matching_scope import (
    settle_shared_anchors,
    settle_shared_candidates,
    settle_shared_values,
)

# Who keeps a value claimed twice: the stronger join first (see the module docstring)
_OUTCOME_RANK = {ALREADY_SYNCED: 0, HARD_MATCH: 1, SOFT_MATCH_SMTP: 2, SOFT_MATCH_UPN: 3, NEW_USER: 4,
                 CONFLICT: 5, BLOCKED: 6, INVALID: 7, EXCLUDED: 8}


@dataclass(slots=True, eq=False)
class Draft:
    """One on-prem user while it is being decided."""

    user: OnPremUser
    position: int
    outcome: str = NEW_USER
    source_anchor: str | None = None
    primary: ProxyAddress | None = None
    addresses: list[ProxyAddress] = field(default_factory=list)
    smtp: tuple[ProxyAddress, ...] = ()       # the SMTP values of proxyAddresses, parsed once, valid or not
    candidate: CloudUser | None = None
    findings: list[Finding] = field(default_factory=list)
    projection: Projection | None = None
    creates_duplicate: bool = False           # a refused soft match that still creates a cloud user (§9.7)

    def add(self, code: str, message: str, attribute: str | None = None, value: str | None = None) -> None:
        self.findings.append(Finding.of(code, message, attribute, value))

    def settle(self, outcome: str, candidate: CloudUser | None = None) -> None:
        self.outcome, self.candidate = outcome, candidate

    def order(self, joined_holds: bool = False) -> tuple:
        return (0 if joined_holds else 1, _OUTCOME_RANK[self.outcome], name_key(self.user.label), self.position)

    def result(self) -> Result:
        return Result(onprem=_onprem_view(self), cloud=_cloud_view(self.candidate), outcome=self.outcome,
                      findings=tuple(self.findings),
                      predicted=self.projection.as_dict() if self.projection else None)


# --- the result of one draft -------------------------------------------------------------


def _onprem_view(draft: Draft) -> dict:
    user = draft.user
    return {
        "distinguished_name": user.distinguished_name,
        "sam_account_name": user.sam_account_name,
        "user_principal_name": user.user_principal_name,
        "primary_smtp": draft.primary.address if draft.primary else None,
        "source_anchor": draft.source_anchor,
    }


def _cloud_view(candidate: CloudUser | None) -> dict | None:
    if candidate is None:
        return None
    primary = candidate.primary_smtp
    return {
        "id": candidate.id,
        "user_principal_name": candidate.user_principal_name,
        "primary_smtp": primary.address if primary else None,
        "on_premises_immutable_id": candidate.on_premises_immutable_id,
        "on_premises_sync_enabled": candidate.on_premises_sync_enabled,
    }


# rule book §9.5: the well-known accounts IdFix leaves out, matched on sAMAccountName or name, any case
EXCLUDED_ACCOUNT_PATTERNS = ("krbtgt", "guest", "admini*", "systemmailbox*", "discoverysearchmailbox*",
                             "federatedemail*", "healthmailbox*", "msol_*", "*$")
_EXCLUDED_ACCOUNT = re.compile("|".join(fnmatch.translate(pattern) for pattern in EXCLUDED_ACCOUNT_PATTERNS))
_DROPPED_PRIMARY = ("the cloud user's primary becomes its routing address (MOERA) or another value the sync keeps. "
                    "Correct the value on-prem before the sync if it is the user's address.")
# Violations of the whole attribute that are not about one value
_ATTRIBUTE_RULES = frozenset({"two_primaries", "duplicate_value", "too_many_addresses"})


def predict(onprem_users: Iterable[OnPremUser | Mapping], cloud_index: CloudIndex, tenant: Tenant | Mapping,
            anchor_mode: str = ANCHOR_CONSISTENCY_GUID) -> list[Result]:
    """One Result per on-prem user, in input order (rule book §3 decides, §2/§4/§5 predict)."""
    if anchor_mode not in ANCHOR_MODES:
        raise MatchingInputError(f"source anchor {anchor_mode!r} is not supported",
                                 hint=f"use one of {', '.join(ANCHOR_MODES)}")
    tenant = tenant if isinstance(tenant, Tenant) else Tenant.from_dict(tenant)
    # each user is decided as it comes: a reader still receiving the scope hands users over while others are decided
    drafts = [_decide(Draft(user if isinstance(user, OnPremUser) else OnPremUser.from_dict(user), position),
                      cloud_index, tenant, anchor_mode)
              for position, user in enumerate(onprem_users)]
    # rule book §4: what two on-prem users claim at once, before the cloud users are predicted
    settle_shared_anchors(drafts, anchor_mode)
    settle_shared_candidates(drafts)
    for draft in drafts:
        if draft.outcome in EXPORTED or (draft.outcome == BLOCKED and draft.creates_duplicate):
            _predict_cloud_user(draft, cloud_index, tenant)
    # rule book §4: addresses and UPNs two on-prem users carry, on the predicted cloud users
    settle_shared_values(drafts, tenant)
    # each draft becomes its result in its place, so the drafts are dropped as the results are made
    for position, draft in enumerate(drafts):
        drafts[position] = draft.result()
    return drafts


# --- one user, in the rule book's order ---------------------------------------------------


def _decide(draft: Draft, index: CloudIndex, tenant: Tenant, anchor_mode: str) -> Draft:
    user = draft.user
    # rule book §9.5: well-known system accounts first
    exclusion = _exclusion(user)
    if exclusion:
        attribute, value, reason = exclusion
        draft.settle(EXCLUDED)
        if attribute == "isCriticalSystemObject":
            advice = "Leave it as it is: Active Directory itself marks it as a system object."
        else:
            advice = ("Leave it as it is, unless it is a person's account caught by the name: then rename it "
                      "(sAMAccountName and CN) so that no system-account pattern matches.")
        draft.add("excluded_system_account",
                  f"{user.label} {reason}; IdFix leaves it out, and so does this check. {advice}", attribute, value)
        return draft
    _read_source_anchor(draft, anchor_mode)
    _read_addresses(draft)
    _check_upn(draft)
    if any(finding.severity == ERROR for finding in draft.findings):
        draft.settle(INVALID)
        return draft
    _match(draft, index, tenant, anchor_mode)
    return draft


def _exclusion(user: OnPremUser) -> tuple[str, str, str] | None:
    """(attribute, value, reason) when the user is a well-known system account, else None."""
    if user.is_critical_system_object:
        return "isCriticalSystemObject", "TRUE", "is a critical system object (isCriticalSystemObject)"
    # IdFix matches the object's name: Exchange system mailboxes show it in the CN (their sAMAccountName is SM_...)
    for attribute, name in (("sAMAccountName", user.sam_account_name), ("name", _common_name(user))):
        key = name_key(name or "")
        if key and _EXCLUDED_ACCOUNT.match(key):
            pattern = next(p for p in EXCLUDED_ACCOUNT_PATTERNS if fnmatch.fnmatchcase(key, p))
            return attribute, name, f"has the {attribute} {name!r} of a well-known system account ({pattern})"
    return None


def _common_name(user: OnPremUser) -> str | None:
    """The value of the first RDN (`CN=<this>,OU=...`), escapes left as written."""
    dn = user.distinguished_name or ""
    rdn, escaped = [], False
    for char in dn:
        if char == "," and not escaped:
            break
        escaped = char == "\\" and not escaped
        rdn.append(char)
    attribute_type, equals, value = "".join(rdn).partition("=")
    return value if equals and attribute_type else None


def _read_source_anchor(draft: Draft, anchor_mode: str) -> None:
    user = draft.user
    try:
        draft.source_anchor = user.source_anchor(anchor_mode)
    except AnchorError as err:
        # rule book §3.1: without a source anchor the object can't be exported
        attribute = user.anchor_attribute(anchor_mode)
        draft.add("invalid_source_anchor", f"The source anchor can't be read: {_sentence(str(err))} "
                                           f"{_sentence(err.hint or 'Give the user a valid objectGUID')}",
                  attribute, user.consistency_guid if attribute == ANCHOR_CONSISTENCY_GUID else user.object_guid)


def _sentence(text: str) -> str:
    """Text as a sentence of a message: capitalized, ending with a full stop."""
    text = text.strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else f"{text}."


def _read_addresses(draft: Draft) -> None:
    """Rule book §1, §2, §9.2: the primary SMTP, the values the sync exports, and what is wrong with the rest."""
    user = draft.user
    # each value parsed once: validation, the primary, the exported values and the projection share them
    proxies = [parse_or_none(value) for value in user.proxy_addresses]
    violations = validate_proxy_addresses(user.proxy_addresses, proxies)
    bad_values = {v.value for v in violations if v.rule not in _ATTRIBUTE_RULES}
    parsed = [(value, proxy) for value, proxy in zip(user.proxy_addresses, proxies, strict=True)
              if proxy is not None and proxy.is_smtp]
    draft.smtp = tuple(proxy for value, proxy in parsed)
    primaries = [proxy for value, proxy in parsed if proxy is not None and proxy.primary]
    primary_values = {value for value, proxy in parsed if proxy is not None and proxy.primary}
    for violation in violations:
        if violation.code in ("multiple_primary_smtp", "too_many_addresses"):
            # rule book §9.2: several primaries make the outcome unpredictable; §1: too many fail export
            draft.add(violation.code, violation.message, "proxyAddresses", violation.value)
        elif violation.value in primary_values and violation.rule not in _ATTRIBUTE_RULES:
            # rule book §9.10 (KB 3190357): the sync discards the malformed primary and exports the rest
            draft.add("invalid_primary_smtp", f"The primary SMTP address is invalid: {violation.message} The sync "
                                              f"leaves it out, so it neither soft-matches a cloud user nor stays the "
                                              f"primary: {_DROPPED_PRIMARY}", "proxyAddresses", violation.value)
        else:
            # rule book §2: the sync drops a malformed value; the rest of the object goes on
            draft.add("invalid_proxy_address", f"{violation.message} The sync leaves this value out.",
                      "proxyAddresses", violation.value)
    _read_mail(draft, primary_fallback=not primaries)
    if len(primaries) == 1 and not any(value in bad_values for value in primary_values):
        draft.primary = primaries[0]
    elif not primaries and user.mail and not validate_smtp_address(user.mail):
        # rule book §9.2: no SMTP: value, so mail is the primary
        draft.primary = ProxyAddress.smtp(user.mail, primary=True)
    valid = [proxy for value, proxy in parsed if proxy is not None and value not in bad_values]
    draft.addresses = _unique([draft.primary, *valid] if draft.primary else valid)


def _read_mail(draft: Draft, primary_fallback: bool) -> None:
    mail = draft.user.mail
    for violation in validate_smtp_address(mail) if mail else ():
        if primary_fallback:
            # rule book §9.10: dropped like a malformed SMTP: value
            draft.add("invalid_primary_smtp", f"mail stands in for the primary SMTP address (there is no SMTP: "
                                              f"value) and is invalid: {violation.message} The sync leaves it "
                                              f"out: {_DROPPED_PRIMARY}", "mail", mail)
        else:
            draft.add("invalid_proxy_address", f"{violation.message} The cloud takes mail from the primary SMTP "
                                               "address instead.", "mail", mail)


def _unique(addresses: list[ProxyAddress]) -> list[ProxyAddress]:
    """Each address once, the first spelling kept (AD compares case-insensitively, rule book §1)."""
    found: dict[str, ProxyAddress] = {}
    for proxy in addresses:
        found.setdefault(proxy.key, proxy)
    return list(found.values())


def _check_upn(draft: Draft) -> None:
    upn = draft.user.user_principal_name
    if not upn:
        # not in the rule book: Entra Connect would invent sAMAccountName@<forest>; ask for a real UPN instead
        draft.add("invalid_upn", "The user has no userPrincipalName, so its cloud UPN and UPN match can't be "
                                 "predicted. Give it a UPN in a verified domain.", "userPrincipalName", None)
        return
    for violation in validate_upn(upn):
        # rule book §1: the sync can't export an invalid UPN
        draft.add("invalid_upn", violation.message, "userPrincipalName", upn)


def _match(draft: Draft, index: CloudIndex, tenant: Tenant, anchor_mode: str) -> None:
    # rule book §3.1: hard match on the source anchor, compared case-sensitively
    anchored = index.user_with_immutable_id(draft.source_anchor)
    if anchored is not None:
        _join_by_anchor(draft, anchored, tenant)
        return
    deleted = index.deleted_user_with_immutable_id(draft.source_anchor)
    if deleted is not None:
        _restore(draft, deleted, tenant)
        return
    # rule book §3.2: soft match on the primary SMTP
    if draft.primary is not None and _match_smtp(draft, index, tenant, anchor_mode):
        return
    # rule book §3.3: soft match on the UPN, when the tenant has it on
    candidate = index.user_with_upn(draft.user.user_principal_name)
    if candidate is not None and tenant.feature(SOFT_MATCH_ON_UPN):
        _soft_match(draft, SOFT_MATCH_UPN, candidate, tenant, anchor_mode)
        return
    # rule book §3.4: no match, a new cloud user (§4 may still make it a conflict)
    draft.settle(NEW_USER)


def _join_by_anchor(draft: Draft, anchored: CloudUser, tenant: Tenant) -> None:
    if anchored.on_premises_sync_enabled is True:
        draft.settle(ALREADY_SYNCED, anchored)
        return
    refused = False
    if tenant.feature(BLOCK_HARD_MATCH_TAKEOVER):
        # rule book §3: the tenant refuses a hard match onto a cloud-only user (InvalidHardMatch)
        draft.add("hard_match_takeover_blocked",
                  f"This user's source anchor equals the onPremisesImmutableId of {anchored.label}, a cloud-only "
                  "user, and the tenant blocks taking over cloud users by hard match "
                  f"({BLOCK_HARD_MATCH_TAKEOVER} is on): the export fails with InvalidHardMatch. Turn the switch off "
                  "for the matching window and on again after, or clear the cloud user's onPremisesImmutableId.",
                  "onPremisesImmutableId", draft.source_anchor)
        refused = True
    if anchored.admin_roles:
        # rule book §9.3: admin roles block hard match too
        _refuse_admin(draft, anchored, tenant, "hard")
        refused = True
    draft.settle(BLOCKED if refused else HARD_MATCH, anchored)


def _restore(draft: Draft, deleted: CloudUser, tenant: Tenant) -> None:
    """Rule book §9.12: a soft-deleted user with this source anchor is restored by the hard match."""
    if tenant.feature(BLOCK_HARD_MATCH_TAKEOVER):
        # "Troubleshoot errors during synchronization", InvalidHardMatch: the re-added object can't take it over
        draft.add("hard_match_takeover_blocked",
                  f"This user's source anchor equals the onPremisesImmutableId of {deleted.label}, which is "
                  f"soft-deleted (deleted {deleted.deleted_date_time}), and the tenant blocks taking over cloud users "
                  f"by hard match ({BLOCK_HARD_MATCH_TAKEOVER} is on): the export fails with InvalidHardMatch. Turn "
                  "the switch off for the sync that brings the user back, or delete the cloud user for good.",
                  "onPremisesImmutableId", draft.source_anchor)
        draft.settle(BLOCKED, deleted)
        return
    draft.add("deleted_user_restored",
              f"This user's source anchor equals the onPremisesImmutableId of {deleted.label}, which is soft-deleted "
              f"(deleted {deleted.deleted_date_time}): the sync restores that cloud user and joins it, with what it "
              "kept (licences, group memberships), instead of creating a new one. Leave it so if it is the same "
              "person; otherwise remove the deleted user for good (permanently delete it) before the sync.",
              "onPremisesImmutableId", draft.source_anchor)
    draft.settle(HARD_MATCH, deleted)


def _match_smtp(draft: Draft, index: CloudIndex, tenant: Tenant, anchor_mode: str) -> bool:
    """Rule book §3.2, §9.1: True when the primary SMTP decides the user (joined or refused)."""
    primary = draft.primary
    users = index.users_holding(primary.key)
    if not users:
        holders = index.objects_holding(primary.key)
        if holders:
            # rule book §9.1: a group or contact holds the address: ObjectTypeMismatch
            draft.add("object_type_mismatch",
                      f"The primary SMTP address {primary.address} is held by {holders[0].label}, not by a user, so "
                      "the sync refuses to join this user (ObjectTypeMismatch). Remove the address from the "
                      "group or contact, or give this user another primary SMTP address.",
                      "proxyAddresses", primary.address)
            draft.settle(BLOCKED)
            return True
        return False
    candidate = _smtp_candidate(draft, users)
    if candidate is None:
        draft.settle(BLOCKED)
        return True
    if candidate.has_mailbox is False:
        # KB 2641663 (rule book §3): SMTP matching needs a cloud mailbox with a primary address
        draft.add("no_mailbox",
                  f"{candidate.label} holds {primary.address} but has no Exchange Online mailbox (no primary SMTP "
                  "in its proxyAddresses), so the sync will not soft-match on SMTP. Give it a mailbox before the "
                  "sync, make both UPNs equal (UPN match), or write its ImmutableId into mS-DS-ConsistencyGuid.",
                  "proxyAddresses", primary.address)
        return False
    _soft_match(draft, SOFT_MATCH_SMTP, candidate, tenant, anchor_mode)
    return True


def _smtp_candidate(draft: Draft, users: tuple[CloudUser, ...]) -> CloudUser | None:
    """The one cloud user the primary SMTP points at; a user holding it as a proxy address beats `mail` only."""
    if len(users) == 1:
        return users[0]
    key = draft.primary.key
    holders = [user for user in users if any(proxy.key == key for proxy in smtp_values(user.proxy_addresses))]
    if len(holders) == 1:
        return holders[0]
    draft.add("ambiguous_candidate",
              f"{len(users)} cloud users hold {draft.primary.address} ({', '.join(u.label for u in users)}), so the "
              "match can't be predicted. Remove the address from all of them but one.",
              "proxyAddresses", draft.primary.address)
    return None


def _soft_match(draft: Draft, outcome: str, candidate: CloudUser, tenant: Tenant, anchor_mode: str) -> None:
    """Rule book §3: a soft match and the reasons the sync refuses it."""
    refusals = len(draft.findings)
    route = "primary SMTP address" if outcome == SOFT_MATCH_SMTP else "UPN"
    if tenant.feature(BLOCK_SOFT_MATCH):
        # rule book §3, §6: blockSoftMatchEnabled blocks soft match for every object; §9.7: a duplicate results
        draft.add("soft_match_blocked",
                  f"This user matches {candidate.label} by {route}, but the tenant blocks soft matching "
                  f"({BLOCK_SOFT_MATCH} is on), so the sync creates it as a duplicate: a new cloud user whose values "
                  "the candidate holds are quarantined. Turn the switch off for the matching window and on again "
                  f"after, or set the cloud user's onPremisesImmutableId to {draft.source_anchor} so that it "
                  "hard-matches.",
                  BLOCK_SOFT_MATCH, "true")
        draft.creates_duplicate = True
    if candidate.admin_roles:
        # rule book §3: "Existing Admin Role Conflict"
        _refuse_admin(draft, candidate, tenant, "soft")
        draft.creates_duplicate = True
    _check_candidate_anchor(draft, candidate, tenant, outcome, anchor_mode)
    refused = any(finding.severity == ERROR for finding in draft.findings[refusals:])
    draft.settle(BLOCKED if refused else outcome, candidate)


def _refuse_admin(draft: Draft, candidate: CloudUser, tenant: Tenant, route: str) -> None:
    roles = ", ".join(candidate.admin_roles)
    if route == "soft":
        # rule book §3: the incoming user is created as a quarantined duplicate
        effect = ("the sync refuses to soft-match an administrator (Existing Admin Role Conflict) and creates this "
                  "user as a duplicate: a new cloud user whose values the administrator holds are quarantined (a "
                  f"shared UPN becomes {quarantined_upn(draft.user.user_principal_name, tenant)})")
    else:
        effect = "the sync refuses to hard-match onto an administrator"
    draft.add("admin_role",
              f"{candidate.label} holds the directory role(s) {roles}; {effect}. Remove the role(s) from the cloud "
              "user before the sync and assign them again after the join.",
              "adminRoles", roles)


def _check_candidate_anchor(draft: Draft, candidate: CloudUser, tenant: Tenant, route: str, anchor_mode: str) -> None:
    """Rule book §3, §9.7: a candidate that already carries another ImmutableId, or syncs from elsewhere, is refused."""
    cloud_anchor = candidate.on_premises_immutable_id
    if candidate.on_premises_sync_enabled is not True and not cloud_anchor:
        return
    if candidate.on_premises_sync_enabled is True:
        # not in the rule book: synced from another on-prem object; one cloud user joins one object
        why = (f"{candidate.label} is already synchronized from another on-prem object (onPremisesSyncEnabled "
               f"true, onPremisesImmutableId {cloud_anchor or 'not shown'}), so this user can't join it")
        fix = ("If this user is that person, move the other object out of sync scope and write the cloud ImmutableId "
               f"into this user's mS-DS-ConsistencyGuid{_anchor_mode_note(anchor_mode)}; otherwise change the "
               "address or UPN that points at it.")
    else:
        # rule book §3: the documented fix moves the anchor
        why = (f"{candidate.label} already carries onPremisesImmutableId {cloud_anchor}, not this user's source "
               f"anchor {draft.source_anchor}, so the soft match is refused")
        fix = (f"Write {cloud_anchor} into this user's mS-DS-ConsistencyGuid so it hard-matches"
               f"{_anchor_mode_note(anchor_mode)}, or clear onPremisesImmutableId of the cloud user.")
    matched = PROXY_ADDRESS if route == SOFT_MATCH_SMTP else USER_PRINCIPAL_NAME
    if quarantine_allowed(matched, tenant):
        # rule book §9.7: with duplicate-attribute resiliency a new object gets no InvalidSoftMatch, it is created
        effect = ("with duplicate-attribute resiliency the sync reports no InvalidSoftMatch for a new object: it "
                  "creates this user as a duplicate, a new cloud user whose values the candidate holds are quarantined")
        draft.creates_duplicate = True
    else:
        effect = f"the export fails with InvalidSoftMatch ({QUARANTINE_SWITCHES[matched]} is off)"
    draft.add("immutable_id_mismatch", f"{why}; {effect}. {fix}", "onPremisesImmutableId", cloud_anchor)


def _anchor_mode_note(anchor_mode: str) -> str:
    return " (and use mS-DS-ConsistencyGuid as the source anchor)" if anchor_mode == ANCHOR_OBJECT_GUID else ""


# --- the cloud user after the sync ----------------------------------------------------------


def _predict_cloud_user(draft: Draft, index: CloudIndex, tenant: Tenant) -> None:
    """Rule book §2 for the predicted values, §4 for what other cloud objects hold, §5 for what a join changes."""
    joined = draft.candidate if draft.outcome in JOINED else None
    projection, findings = project(draft.user, draft.addresses, draft.primary, tenant, joined, draft.smtp)
    duplicates = quarantine_cloud_duplicates(projection, index, tenant, joined)
    fails = export_fails(projection, tenant)
    draft.projection = None if fails else projection
    if draft.outcome == BLOCKED:
        # §9.7: a refused soft match creates a duplicate; the refusal already says its shared values are quarantined
        return
    draft.findings += findings + duplicates
    if fails:
        # §9.8: quarantine is off, so the conflict fails the export (AttributeValueMustBeUnique): the join is refused
        if draft.outcome in FIRST_JOINS:
            draft.outcome = BLOCKED
        elif draft.outcome == NEW_USER:
            draft.outcome = CONFLICT
        return
    if joined is not None:
        draft.findings += change_findings(projection, joined, tenant)
    if projection.quarantined and draft.outcome == NEW_USER:
        # rule book §4: a new user with a value another object holds is created with that value quarantined
        draft.outcome = CONFLICT
