# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One onboarding run per user, before and after: the rows of the console table and the before/after page.

Internal to the hybrid.identity collection: not a public API, it may change without notice.

One onboarding run, before and after, per user: the outcome the first audit predicted, the one the
last prediction shows, what the run did (created on-prem, aligned, synced and verified), and for
the users it left alone, why. The console's table and the before/after page are both made from
these rows. Pure: what the playbook's steps registered goes in, rows and counts come out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ansible_collections.hybrid.identity.plugins.module_utils.report._attention import (
    NEEDS_PERSON,
    attention,
    urgency_key,
    worst_findings_first,
)

CREATED = "created on-prem from the cloud user"
ALIGNED = "addresses aligned"
JOINED = "joined"
TO_SYNC = "to sync"
NOTHING = "nothing to do"
LEFT_ALONE = "left alone"


def onboard_rows(before: Iterable[Mapping], after: Iterable[Mapping], created: Iterable[Mapping] = (),
                 pairs: Iterable[Mapping] = (), candidates: Iterable[Mapping] = (),
                 verified: Iterable[Mapping] = ()) -> list[dict]:
    """One row per user of the last prediction, who needs a person first, then by outcome and name."""
    before_by_dn = {_dn(result): result for result in before}
    created_dns = {item.get("distinguished_name") for item in created}
    status_by_dn = {(pair.get("onprem") or {}).get("distinguished_name"): pair.get("status") for pair in pairs}
    synced_dns = {item.get("distinguished_name") for item in candidates}
    joined = {item.get("label") for item in verified if item.get("ok")}
    rows = []
    for result in sorted(after, key=urgency_key):
        dn = _dn(result)
        was = before_by_dn.get(dn)
        onprem = result.get("onprem") or {}
        done = []
        if dn in created_dns:
            done.append(CREATED)
        if status_by_dn.get(dn) == "aligned":
            done.append(ALIGNED)
        if dn in synced_dns:
            done.append(JOINED if onprem.get("sam_account_name") in joined or dn in joined else TO_SYNC)
        why = reasons(was or result) if not done else []
        rows.append({
            "user": onprem.get("sam_account_name") or dn,
            "distinguished_name": dn,
            "before": was.get("outcome") if was else None,
            "after": result.get("outcome"),
            "cloud_before": _cloud_primary(was),
            "cloud_now": _cloud_primary(result),
            "done": done,
            "verdict": ", ".join(done) if done else (f"{LEFT_ALONE}: {', '.join(why)}" if why else NOTHING),
            "why": why,
            "needs_person": attention(result) == NEEDS_PERSON,
            "findings": [dict(finding) for finding in worst_findings_first(result.get("findings") or ())],
        })
    return rows


def reasons(result: Mapping) -> list[str]:
    """Why a user was left alone: its error finding codes, else a refusing outcome; nothing when it is fine."""
    codes = list(dict.fromkeys(finding.get("code") for finding in result.get("findings") or ()
                               if finding.get("severity") == "error"))
    if codes:
        return codes
    if attention(result) == NEEDS_PERSON:
        return [str(result.get("outcome"))]
    return []


def onboard_counts(rows: Iterable[Mapping]) -> dict:
    """How many users the run joined, created, aligned, left to sync, found with nothing to do, and left alone why."""
    counts = {"users": 0, JOINED: 0, TO_SYNC: 0, "created": 0, "aligned": 0, NOTHING: 0, LEFT_ALONE: 0,
              "left_alone_why": {}}
    for row in rows:
        counts["users"] += 1
        done = row["done"]
        counts[JOINED] += JOINED in done
        counts[TO_SYNC] += TO_SYNC in done
        counts["created"] += CREATED in done
        counts["aligned"] += ALIGNED in done
        if not done and row["why"]:
            counts[LEFT_ALONE] += 1
            reason = row["why"][0]
            counts["left_alone_why"][reason] = counts["left_alone_why"].get(reason, 0) + 1
        elif not done:
            counts[NOTHING] += 1
    counts["left_alone_why"] = dict(sorted(counts["left_alone_why"].items(), key=lambda item: (-item[1], item[0])))
    return counts


def counts_line(counts: Mapping) -> str:
    why = ", ".join(f"{code} {count}" for code, count in counts["left_alone_why"].items())
    return (f"{counts['users']} users: {counts[JOINED]} joined, {counts[TO_SYNC]} to sync, {counts['created']} created "
            f"on-prem, {counts['aligned']} aligned, {counts[NOTHING]} with nothing to do, {counts[LEFT_ALONE]} left "
            f"alone{f' ({why})' if why else ''}")


def _dn(result: Mapping | None) -> str | None:
    return ((result or {}).get("onprem") or {}).get("distinguished_name")


def _cloud_primary(result: Mapping | None) -> str | None:
    return ((result or {}).get("cloud") or {}).get("primary_smtp")
