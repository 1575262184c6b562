# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the roles and playbooks print: tables as lines, who needs a person, refusals as warnings."""

from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError
from ansible.utils.display import Display

from ansible_collections.hybrid.identity.plugins.module_utils.report._console import (
    attention_block,
    finding_table,
    outcome_table,
    pair_refusals,
    severities_of,
    text_table,
    transfer_refusals,
    window_refusal,
)
from ansible_collections.hybrid.identity.plugins.module_utils.report._onboard_summary import (
    counts_line,
    onboard_counts,
    onboard_rows,
)
from ansible_collections.hybrid.identity.plugins.module_utils.report._report import onboard_page as _onboard_page


def _mapping(value, name: str) -> Mapping:
    if not isinstance(value, Mapping):
        raise AnsibleFilterError(f"{name}: expected what the module registered (a dict), got {type(value).__name__}")
    return value


def audit_lines(audit):
    """A soft_match_check result as lines: users per outcome, per finding, and the reports."""
    audit = _mapping(audit, "audit_lines")
    summary = audit.get("summary") or {}
    lines = outcome_table(summary.get("outcomes") or {})
    findings = summary.get("findings") or {}
    if findings:
        lines += ["", *finding_table(findings, severities_of(audit.get("results") or ()))]
    reports = audit.get("reports") or {}
    if reports:
        lines += ["", *text_table(("report", "path"), sorted(reports.items()))]
    return lines


def align_lines(align):
    """A smtp_align result as lines: pairs per status, the journal and the re-check."""
    align = _mapping(align, "align_lines")
    counts = align.get("counts") or {}
    journal = align.get("journal") or {}
    lines = text_table(("counted", "users"), [(name, counts[name]) for name in counts])
    lines += ["", f"journal: {journal.get('path') or '-'} (run {journal.get('run_id') or '-'}, "
                  f"{journal.get('records', 0)} record(s))",
              f"ambiguous: {len(align.get('ambiguous') or ())}, unresolved rows: {len(align.get('unresolved') or ())}",
              f"re-check clean: {'yes' if (align.get('recheck') or {}).get('clean') else 'no'}"]
    return lines


def onboard_summary(after, before=None, created=None, pairs=None, candidates=None, verified=None):
    """The onboarding's users before and after: rows, counts, and the table as lines."""
    rows = onboard_rows(before or (), after or (), created or (), pairs or (), candidates or (), verified or ())
    counts = onboard_counts(rows)
    table = text_table(("user", "before", "after", "cloud primary before", "cloud primary now", "onboarding"),
                       [(row["user"], row["before"] or "(new on-prem)", row["after"], row["cloud_before"],
                         row["cloud_now"], row["verdict"]) for row in rows])
    return {"rows": rows, "counts": counts, "table": table, "counts_line": counts_line(counts)}


def onboard_page(summary, **meta):
    """The before/after page of an onboarding, from what onboard_summary returned, as HTML text."""
    summary = _mapping(summary, "onboard_page")
    return _onboard_page(summary.get("rows") or (), summary.get("counts") or {}, meta)


def needs_person(results, held_back=None, accept_variable=""):
    """Who needs a person, most urgent first, why and what to do, as lines."""
    return attention_block(results or (), held_back or (), accept_variable)


def refusals(results=None, window_variable="", not_created=None, pairs=None):
    """The refusals to say aloud: the closed matching window, transfers not made, pairs not aligned."""
    found = [window_refusal(results or (), window_variable)] if window_variable else []
    found += transfer_refusals(not_created or ())
    found += pair_refusals(pairs or ())
    return [message for message in found if message]


def warn(messages):
    """Show each message as a warning of the task that templates this; return how many there were."""
    listed = [messages] if isinstance(messages, str) else list(messages or ())
    display = Display()
    for message in listed:
        display.warning(str(message))
    return len(listed)


class FilterModule:
    def filters(self):
        return {
            "audit_lines": audit_lines,
            "align_lines": align_lines,
            "onboard_summary": onboard_summary,
            "onboard_page": onboard_page,
            "needs_person": needs_person,
            "refusals": refusals,
            "warn": warn,
        }
