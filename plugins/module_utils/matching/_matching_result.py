# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the predictor returns: one result per on-prem user, its outcome and findings, and their counts.

Internal to the hybrid.identity collection: not a public API, it may change without notice.

What the predictor returns: one Result per on-prem user, its outcome and its findings, in the
shape `soft_match_check` documents (docs/architecture.md, "Contracts"). Outcome and finding codes are a
contract: add codes, never rename them.

Pure: standard library only, no Ansible, no I/O.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

ALREADY_SYNCED = "already_synced"
HARD_MATCH = "hard_match"
SOFT_MATCH_SMTP = "soft_match_smtp"
SOFT_MATCH_UPN = "soft_match_upn"
NEW_USER = "new_user"
CONFLICT = "conflict"
BLOCKED = "blocked"
INVALID = "invalid"
EXCLUDED = "excluded"
OUTCOMES = (ALREADY_SYNCED, HARD_MATCH, SOFT_MATCH_SMTP, SOFT_MATCH_UPN, NEW_USER, CONFLICT, BLOCKED, INVALID,
            EXCLUDED)
JOINED = frozenset({ALREADY_SYNCED, HARD_MATCH, SOFT_MATCH_SMTP, SOFT_MATCH_UPN})
# The joins a first export makes (rule book §3), which the export itself can still refuse.
FIRST_JOINS = frozenset({HARD_MATCH, SOFT_MATCH_SMTP, SOFT_MATCH_UPN})
# Outcomes whose user reaches the cloud as a cloud user: the ones §2 predicts.
EXPORTED = JOINED | {NEW_USER, CONFLICT}

ERROR = "error"
WARNING = "warning"
INFO = "info"

SEVERITIES = {
    # the contract (docs/architecture.md, "Contracts")
    "admin_role": ERROR,
    "soft_match_blocked": ERROR,
    "hard_match_takeover_blocked": ERROR,
    "immutable_id_mismatch": ERROR,
    "object_type_mismatch": ERROR,
    "duplicate_upn": ERROR,
    "duplicate_proxy_address": ERROR,
    "duplicate_in_directory": ERROR,
    "multiple_primary_smtp": ERROR,
    "invalid_upn": ERROR,
    "primary_smtp_will_change": WARNING,
    "upn_will_change": WARNING,
    "cloud_addresses_will_be_dropped": WARNING,
    "upn_suffix_unverified": WARNING,
    "no_mailbox": WARNING,
    "invalid_proxy_address": WARNING,
    # added where the rules need them
    "too_many_addresses": ERROR,
    "invalid_source_anchor": ERROR,
    "duplicate_candidate": ERROR,
    "ambiguous_candidate": ERROR,
    "address_not_synced": WARNING,
    "invalid_primary_smtp": WARNING,
    "moera_in_use": WARNING,
    "deleted_user_restored": WARNING,
    "upn_change_blocked": INFO,
    "excluded_system_account": INFO,
}


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing a person should know: what, why, and the attribute and value involved."""

    code: str
    severity: str
    message: str
    attribute: str | None = None
    value: str | None = None
    values: tuple[str, ...] = ()

    @classmethod
    def of(cls, code: str, message: str, attribute: str | None = None, value: str | None = None,
           values: Iterable[str] = ()) -> Finding:
        """A finding with its code's fixed severity."""
        return cls(code, SEVERITIES[code], message, attribute, value, tuple(values))

    def as_dict(self) -> dict:
        return {"code": self.code, "severity": self.severity, "message": self.message,
                "attribute": self.attribute, "value": self.value,
                # not `values`: Jinja's dot notation would find the dict method first
                "value_list": list(self.values)}


@dataclass(frozen=True, slots=True)
class Result:
    """The prediction for one on-prem user.

    onprem: distinguished_name, sam_account_name, user_principal_name, primary_smtp, source_anchor.
    cloud: id, user_principal_name, primary_smtp, on_premises_immutable_id, on_premises_sync_enabled
        of the candidate (the cloud user it joins, or the one refusing it), or None.
    predicted: the cloud user after the sync (primary_smtp, user_principal_name, proxy_addresses,
        quarantined), or None when no cloud user results.
    """

    onprem: dict
    cloud: dict | None
    outcome: str
    findings: tuple[Finding, ...] = ()
    predicted: dict | None = None

    def as_dict(self) -> dict:
        return {
            "onprem": dict(self.onprem),
            "cloud": None if self.cloud is None else dict(self.cloud),
            "outcome": self.outcome,
            "findings": [finding.as_dict() for finding in self.findings],
            "predicted": None if self.predicted is None else dict(self.predicted),
        }

    def codes(self) -> list[str]:
        return [finding.code for finding in self.findings]


def summarize(results: Iterable[Result]) -> dict:
    """Counts per outcome and per finding code, each sorted by name."""
    outcomes: Counter = Counter()
    findings: Counter = Counter()
    for result in results:
        outcomes[result.outcome] += 1
        findings.update(result.codes())
    return {"outcomes": dict(sorted(outcomes.items())), "findings": dict(sorted(findings.items()))}
