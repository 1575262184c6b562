# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which users of a prediction need a person, and the one order they are shown in everywhere.

Internal to the hybrid.identity collection: not a public API, it may change without notice.

Which users of a prediction need a person, and in what order they are shown: one ranking for the
HTML report, the console's closing block and the before/after page, so all three agree.

A user needs a person when its outcome keeps it from a clean join (blocked, conflict, invalid) or a
finding is an error; a warning is a visible change someone has to accept; the rest is fine.
"""

from __future__ import annotations

from collections.abc import Iterable

NEEDS_PERSON = 0
TO_ACCEPT = 1
FINE = 2
ATTENTION_LABELS = ("needs a person", "a visible change to accept", "fine")
# Most urgent first: a refused join hurts the user now, a quarantined duplicate next, an unexportable object last.
URGENT_OUTCOMES = ("blocked", "conflict", "invalid")
OUTCOME_ORDER = (*URGENT_OUTCOMES, "hard_match", "soft_match_smtp", "soft_match_upn", "new_user", "already_synced",
                 "excluded")
SEVERITY_ORDER = ("error", "warning", "info")


def attention(result: dict) -> int:
    """NEEDS_PERSON, TO_ACCEPT or FINE for one result of soft_match_check."""
    severities = {finding.get("severity") for finding in result.get("findings") or ()}
    if result.get("outcome") in URGENT_OUTCOMES or "error" in severities:
        return NEEDS_PERSON
    if "warning" in severities:
        return TO_ACCEPT
    return FINE


def urgency_key(result: dict) -> tuple:
    """Sort key: who needs a person first, then by outcome, then by name, so two runs list users alike."""
    onprem = result.get("onprem") or {}
    outcome = result.get("outcome")
    rank = OUTCOME_ORDER.index(outcome) if outcome in OUTCOME_ORDER else len(OUTCOME_ORDER)
    return (attention(result), rank, str(outcome), str(onprem.get("sam_account_name") or "").casefold(),
            str(onprem.get("distinguished_name") or "").casefold())


def by_urgency(results: Iterable[dict]) -> list[dict]:
    return sorted(results, key=urgency_key)


def worst_findings_first(findings: Iterable[dict]) -> list[dict]:
    """A user's findings, errors before warnings; the rule book's order within a severity is kept."""
    def rank(finding: dict) -> int:
        severity = finding.get("severity")
        return SEVERITY_ORDER.index(severity) if severity in SEVERITY_ORDER else len(SEVERITY_ORDER)
    return sorted(findings, key=rank)
