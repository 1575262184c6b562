# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the roles and playbooks print: aligned tables, the needs-a-person block, and the refusals said aloud.

Internal to the hybrid.identity collection: not a public API, it may change without notice.

What the roles and playbooks print: tables as aligned lines in a stable order, the block that says
who needs a person, why and what to do, and the refusals a run must say aloud. Pure: plain data in
(what the modules returned), lists of lines or messages out. The remedies are the findings' own
messages (the rule book's text, written once in the predictor), never a second copy.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from ansible_collections.hybrid.identity.plugins.module_utils.report._attention import (
    NEEDS_PERSON,
    OUTCOME_ORDER,
    TO_ACCEPT,
    attention,
    urgency_key,
    worst_findings_first,
)

BLOCK_SOFT_MATCH = "blockSoftMatchEnabled"
SEVERITY_RANK = {"error": 0, "warning": 1, "info": 2}
COLUMN_GAP = "  "


def text_table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    """A header line and one line per row, each column as wide as its widest value; counts to the right."""
    rows = [list(row) for row in rows]
    numeric = [bool(rows) and all(isinstance(row[column], int) for row in rows) for column in range(len(header))]
    cells = [[str(value) for value in header]] + [["-" if value is None else str(value) for value in row]
                                                  for row in rows]
    widths = [max(len(row[column]) for row in cells) for column in range(len(header))]
    lines = []
    for row in cells:
        padded = [value.rjust(width) if right else value.ljust(width)
                  for value, width, right in zip(row, widths, numeric, strict=True)]
        lines.append(COLUMN_GAP.join(padded).rstrip())
    return lines


def outcome_table(outcomes: Mapping[str, int]) -> list[str]:
    """Users per outcome, in the contract's order of urgency; outcomes no user has are left out."""
    names = [name for name in OUTCOME_ORDER if outcomes.get(name)]
    names += sorted(name for name in outcomes if name not in OUTCOME_ORDER and outcomes[name])
    return text_table(("outcome", "users"), [(name, outcomes[name]) for name in names])


def finding_table(findings: Mapping[str, int], severities: Mapping[str, str]) -> list[str]:
    """Users per finding code, errors first, then the most frequent, then by name."""
    codes = sorted(findings, key=lambda code: (SEVERITY_RANK.get(severities.get(code), 3), -findings[code], code))
    return text_table(("finding", "severity", "users"), [(code, severities.get(code, "-"), findings[code])
                                                         for code in codes])


def severities_of(results: Iterable[Mapping]) -> dict[str, str]:
    severities: dict[str, str] = {}
    for result in results:
        for finding in result.get("findings") or ():
            severities.setdefault(finding.get("code"), finding.get("severity"))
    return severities


def user_name(result: Mapping) -> str:
    onprem = result.get("onprem") or {}
    return onprem.get("sam_account_name") or onprem.get("distinguished_name") or "-"


def attention_block(results: Iterable[Mapping], held_back: Iterable[str] = (), accept_variable: str = "") -> list[str]:
    """Who needs a person, most urgent first: each user, why (the outcome and finding codes) and what to do.

    held_back names the distinguished names a sync left out for a visible change; for those the block
    also says which variable accepts the change (accept_variable), since fixing is not the only way.
    """
    kept_back = set(held_back)
    urgent, to_accept = [], []
    for result in sorted(results, key=urgency_key):
        level = attention(result)
        if level == NEEDS_PERSON:
            urgent.append(result)
        elif level == TO_ACCEPT and (result.get("onprem") or {}).get("distinguished_name") in kept_back:
            to_accept.append(result)
    if not urgent and not to_accept:
        return ["No user needs a person."]
    lines = []
    if urgent:
        lines.append(f"{len(urgent)} user(s) need a person, most urgent first:")
        lines += _explained(urgent)
    if to_accept:
        codes = sorted({finding.get("code") for result in to_accept for finding in result.get("findings") or ()
                        if finding.get("severity") == "warning"})
        accepting = f"; or accept it with {accept_variable}: [{', '.join(codes)}]" if accept_variable else ""
        lines.append(f"{len(to_accept)} user(s) were held back for a visible change: fix it{accepting}:")
        lines += _explained(to_accept)
    return lines


def _explained(results: Sequence[Mapping]) -> list[str]:
    width = max(len(user_name(result)) for result in results)
    lines = []
    for number, result in enumerate(results, start=1):
        findings = worst_findings_first(result.get("findings") or ())
        lines.append(f"{number:>3}. {user_name(result).ljust(width)}  {result.get('outcome')}")
        lines += [f"       {finding.get('code')} ({finding.get('severity')}): {finding.get('message')}"
                  for finding in findings]
        if not findings:
            lines.append("       the sync would not join this user; the reports say more")
    return lines


def window_refusal(results: Iterable[Mapping], window_variable: str) -> str | None:
    """The warning when the tenant's switch blocks soft matching for users that would otherwise match."""
    blocked = [user_name(result) for result in sorted(results, key=urgency_key)
               if any(finding.get("code") == "soft_match_blocked" and finding.get("attribute") == BLOCK_SOFT_MATCH
                      for finding in result.get("findings") or ())]
    if not blocked:
        return None
    return (f"{len(blocked)} user(s) come out blocked because the tenant blocks soft matching ({BLOCK_SOFT_MATCH} "
            f"is on), so the sync would not join them: {_some(blocked)}. Set {window_variable}: true to open the "
            "matching window for the sync (the switch is turned on again afterwards).")


def transfer_refusals(not_created: Iterable[Mapping]) -> list[str]:
    """One warning per cloud user the source-of-authority transfer was asked for and did not create."""
    warnings = []
    for refusal in not_created:
        cloud = refusal.get("cloud") or {}
        who = cloud.get("user_principal_name") or cloud.get("id")
        # without a cloud user the reason names the identity that found none or several
        warnings.append(f"not created on-prem: {who + ': ' if who else ''}{refusal.get('reason')}")
    return warnings


def pair_refusals(pairs: Iterable[Mapping]) -> list[str]:
    """One warning per pair the alignment refused."""
    return [f"not aligned: {(pair.get('onprem') or {}).get('sam_account_name')} -> "
            f"{(pair.get('cloud') or {}).get('user_principal_name')}: {' '.join(pair.get('reasons') or ())}"
            for pair in pairs if pair.get("status") == "blocked"]


def _some(names: Sequence[str], shown: int = 10) -> str:
    listed = ", ".join(names[:shown])
    return listed + (f" and {len(names) - shown} more" if len(names) > shown else "")
