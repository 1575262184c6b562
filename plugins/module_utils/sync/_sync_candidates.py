# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which users of a prediction to hand to a sync, and what their cloud users must show afterwards.

Internal to the collection; no stable API. Pure: the input is the ``results`` list of
soft_match_check, the output the users a careful onboarding syncs (a join nobody will
notice, or a new user) with the ``expected`` entry directory_sync_verify checks for each.
Users the prediction refuses, flags with an error, or shows a visible change for are left
out, so that the sync never turns them into quarantined duplicates or surprises.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ansible_collections.hybrid.identity.plugins.module_utils.common._errors import ConfigurationError

JOINS = ("hard_match", "soft_match_smtp", "soft_match_upn")
NEW_USER = "new_user"
# What the user would notice after the join (rule book §2, §5); a caller may accept some.
VISIBLE_CHANGES = ("primary_smtp_will_change", "cloud_addresses_will_be_dropped", "upn_will_change")


def sync_candidates(results: Iterable[Mapping], accept: Iterable[str] = (), new_users: bool = True) -> list[dict]:
    """The users to sync, each with ``distinguished_name``, ``sam_account_name``, ``outcome`` and ``expected``."""
    accepted = {accept} if isinstance(accept, str) else set(accept or ())  # one code may come as a string
    unknown = accepted - set(VISIBLE_CHANGES)
    if unknown:
        raise ConfigurationError(f"accept names {', '.join(sorted(unknown))}, which are not visible changes",
                                 hint=f"accept takes {', '.join(VISIBLE_CHANGES)}")
    outcomes = JOINS + ((NEW_USER,) if new_users else ())
    chosen = []
    for position, row in enumerate(results or ()):
        if not isinstance(row, Mapping) or not isinstance(row.get("onprem"), Mapping):
            raise ConfigurationError(f"results[{position}] is not a soft_match_check result",
                                     hint="pass the results list that soft_match_check returns")
        if row.get("outcome") not in outcomes or not _clean(row.get("findings") or (), accepted):
            continue
        chosen.append(_candidate(row))
    return chosen


def _clean(findings: Iterable[Mapping], accepted: set[str]) -> bool:
    for finding in findings:
        code = finding.get("code")
        if finding.get("severity") == "error" or (code in VISIBLE_CHANGES and code not in accepted):
            return False
    return True


def _candidate(row: Mapping) -> dict:
    onprem, cloud, predicted = row["onprem"], row.get("cloud") or {}, row.get("predicted") or {}
    label = onprem.get("sam_account_name") or onprem.get("user_principal_name") or onprem.get("distinguished_name")
    expected = {"label": label, "source_anchor": onprem.get("source_anchor")}
    if row["outcome"] != NEW_USER and cloud.get("id"):
        expected["cloud_id"] = cloud["id"]
    if predicted.get("user_principal_name"):
        expected["user_principal_name"] = predicted["user_principal_name"]
    if predicted.get("primary_smtp"):
        expected["primary_smtp"] = predicted["primary_smtp"]
    # Every SMTP address the prediction keeps, bare: the proof that no alias was lost.
    included = [value.split(":", 1)[1] for value in predicted.get("proxy_addresses") or ()
                if value.lower().startswith("smtp:")]
    if included:
        expected["proxy_addresses_include"] = included
    return {"distinguished_name": onprem.get("distinguished_name"), "sam_account_name": onprem.get("sam_account_name"),
            "outcome": row["outcome"], "expected": expected}
