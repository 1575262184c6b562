# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Microsoft Entra Cloud Sync on demand (rule book §7): find the job and its rule, provision objects one by one.

Internal to the collection; no stable API. Choosing the service principal, the job and
the rule, the request body, the rate limit and reading the answer are pure; the functions
under "over Graph" make the calls.

Facts from the Microsoft Graph reference:
- Cloud Sync configurations are service principals of the application
  1a4721b3-e57f-4451-ae87-ef078703ec94, each named after its AD domain by the portal.
- Their jobs come from the templates ``AD2AADProvisioning`` (users and groups) and
  ``AD2AADPasswordHash``.
- provisionOnDemand answers a stringKeyStringValuePair: ``key`` is JSON text with the
  result (``Success``, ``Failure``, ``Skipped``) and its details, ``value`` is JSON text with
  the provisioning steps, the action and the status.
- A skip names its reason in ``key``'s ``details.errorCode`` and in the ``SkipReason`` of
  the step that skipped; ``statusInfo.errorCode`` stays null. ``RedundantExport``: source and
  target already match. ``NotEffectivelyEntitled``: the object is out of scope.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import quote

from ansible_collections.hybrid.identity.plugins.module_utils.common._errors import (
    ConfigurationError,
    HybridIdentityError,
)
from ansible_collections.hybrid.identity.plugins.module_utils.graph._graph_errors import (
    GraphError,
    MissingPermission,
    Throttled,
)
from ansible_collections.hybrid.identity.plugins.module_utils.graph._graph_query import equals_filter

CLOUD_SYNC_APP_ID = "1a4721b3-e57f-4451-ae87-ef078703ec94"
LIST_PRINCIPALS_PERMISSION = "Application.Read.All"
DEFAULT_TEMPLATE = "AD2AADProvisioning"
# synchronizationStatus codes for which Graph documents `start` as the way back (rule book §7).
RESUMABLE_STATES = frozenset({"Paused", "Quarantine"})
# rule book §7: at most 5 provisionOnDemand calls per 10 seconds.
ON_DEMAND_CALLS = 5
ON_DEMAND_WINDOW = 10.0
# Skip reasons: source and target already match; the object is out of the job's scope.
NO_CHANGE_SKIP = "RedundantExport"
OUT_OF_SCOPE_SKIP = "NotEffectivelyEntitled"
# What happened to one object, from its answer; only `exported` changed the tenant.
EXPORTED, UNCHANGED, OUT_OF_SCOPE, SKIPPED, FAILED = "exported", "unchanged", "out_of_scope", "skipped", "failed"
GOOD_OUTCOMES = frozenset({EXPORTED, UNCHANGED})


@dataclass(frozen=True)
class SyncJob:
    """A Cloud Sync job and the service principal it lives under."""

    service_principal_id: str
    job_id: str
    template_id: str
    status_code: str

    @property
    def path(self) -> str:
        return (f"/servicePrincipals/{quote(self.service_principal_id, safe='')}"
                f"/synchronization/jobs/{quote(self.job_id, safe='')}")

    @property
    def resumable(self) -> bool:
        return self.status_code in RESUMABLE_STATES

    def as_dict(self) -> dict:
        return {"service_principal_id": self.service_principal_id, "id": self.job_id,
                "template_id": self.template_id, "status": self.status_code}


# --- choosing -----------------------------------------------------------------------------


def choose_service_principal(principals: Sequence[Mapping], name: str | None) -> str:
    """The id of the one Cloud Sync service principal, or of the one named ``name`` (its display name)."""
    candidates = [p for p in principals if not name or str(p.get("displayName") or "").casefold() == name.casefold()]
    if len(candidates) == 1:
        return str(candidates[0]["id"])
    listed = ", ".join(f"{p.get('displayName')} ({p.get('id')})" for p in principals) or "none"
    if not candidates:
        what = f"named {name!r}" if name else "at all"
        raise ConfigurationError(f"the tenant has no Cloud Sync service principal {what}; found: {listed}",
                                 hint="set service_principal_id, or service_principal_name to the configuration's "
                                      "name (the AD domain, by default)")
    raise ConfigurationError(f"the tenant has {len(candidates)} Cloud Sync service principals: {listed}",
                             hint="choose one with service_principal_name or service_principal_id")


def choose_job(jobs: Sequence[Mapping], job_id: str | None, template_id: str) -> Mapping:
    """The job with ``job_id``, else the one job made from ``template_id``."""
    if job_id:
        found = [job for job in jobs if str(job.get("id") or "") == job_id]
        wanted = f"with id {job_id!r}"
    else:
        found = [job for job in jobs if str(job.get("templateId") or "").casefold() == template_id.casefold()]
        wanted = f"from template {template_id!r}"
    if len(found) == 1:
        return found[0]
    listed = ", ".join(f"{job.get('id')} ({job.get('templateId')})" for job in jobs) or "none"
    if not found:
        raise ConfigurationError(f"the service principal has no synchronization job {wanted}; jobs: {listed}",
                                 hint="check job_id or template_id")
    raise ConfigurationError(f"the service principal has {len(found)} jobs {wanted}: {listed}",
                             hint="name the job with job_id")


def _maps_users(rule: Mapping) -> bool:
    return any(str(mapping.get("sourceObjectName") or "").casefold() == "user"
               and mapping.get("enabled", True) is not False
               for mapping in rule.get("objectMappings") or ())


def choose_rule(schema: Mapping) -> str:
    """The id of the schema's rule that provisions users (the ``ruleId`` of provisionOnDemand)."""
    rules = [rule for rule in schema.get("synchronizationRules") or () if rule.get("id")]
    user_rules = [rule for rule in rules if _maps_users(rule)]
    chosen = user_rules or (rules if len(rules) == 1 else [])
    if not chosen:
        listed = ", ".join(f"{rule.get('id')} ({rule.get('name')})" for rule in rules) or "none"
        raise HybridIdentityError(f"the job's schema has no synchronization rule for users; rules: {listed}",
                                  hint="give rule_id, or check the job's configuration in the Entra admin center")
    return str(chosen[0]["id"])


def on_demand_body(rule_id: str, distinguished_name: str) -> dict:
    """rule book §7: the provisionOnDemand body for one AD user."""
    return {"parameters": [{"ruleId": rule_id,
                            "subjects": [{"objectId": distinguished_name, "objectTypeName": "user"}]}]}


# --- the rate limit -----------------------------------------------------------------------


class CallWindow:
    """At most ``limit`` calls in any ``window`` seconds, on the caller's clock.

    A call counts from when its answer came back, not from when it was sent: the server
    counts arrivals, which fall somewhere in between, so a window measured from the starts
    can close early on the server's clock when the first call was slow to arrive.
    """

    def __init__(self, limit: int = ON_DEMAND_CALLS, window: float = ON_DEMAND_WINDOW) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("a call window needs a positive limit and length")
        self.limit = limit
        self.window = window
        self._ends: deque[float] = deque()

    def delay(self, now: float) -> float:
        """Seconds to wait from ``now`` until a call may start."""
        while self._ends and now - self._ends[0] >= self.window:
            self._ends.popleft()
        if len(self._ends) < self.limit:
            return 0.0
        return self._ends[0] + self.window - now

    def record(self, now: float) -> None:
        """Count a call whose answer came back at ``now``."""
        self._ends.append(now)

    def wait(self, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        """Sleep until a call may start."""
        delay = self.delay(clock())
        while delay > 0:
            sleep(delay)
            delay = self.delay(clock())


# --- reading the answer -------------------------------------------------------------------


def _json_text(text) -> dict:
    if isinstance(text, Mapping):
        return dict(text)
    try:
        parsed = json.loads(text) if isinstance(text, str) and text.strip() else {}
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _skip_reason(details: Mapping, steps: Sequence[Mapping]) -> str | None:
    """Why a skipped object was skipped: the answer's error code, else the skipping step's SkipReason."""
    if details.get("errorCode"):
        return str(details["errorCode"])
    for step in steps:
        step_details = step.get("details") if isinstance(step.get("details"), Mapping) else {}
        if step_details.get("SkipReason"):
            return str(step_details["SkipReason"])
    return None


def classify(result: str, skip_reason: str | None, steps: Sequence[Mapping]) -> str:
    """One of EXPORTED, UNCHANGED, OUT_OF_SCOPE, SKIPPED (no reason given) or FAILED."""
    if result == "Success":
        return EXPORTED
    if result != "Skipped":
        return FAILED
    if skip_reason == NO_CHANGE_SKIP:
        return UNCHANGED
    scoped_out = any(str(step.get("type") or "").casefold() == "scoping"
                     and str(step.get("status") or "").casefold() not in ("", "success") for step in steps)
    if skip_reason == OUT_OF_SCOPE_SKIP or scoped_out:
        return OUT_OF_SCOPE
    return SKIPPED


def on_demand_result(distinguished_name: str, answer: Mapping) -> dict:
    """One object's outcome from a provisionOnDemand answer (its ``key`` and ``value`` are JSON text)."""
    outcome = _json_text(answer.get("key"))
    report = _json_text(answer.get("value"))
    details = outcome.get("details") if isinstance(outcome.get("details"), Mapping) else {}
    status = report.get("statusInfo") if isinstance(report.get("statusInfo"), Mapping) else {}
    result = str(outcome.get("result") or status.get("status") or "Unknown")
    raw_steps = [step for step in report.get("provisioningSteps") or () if isinstance(step, Mapping)]
    steps = [{"name": step.get("name"), "type": step.get("type"), "status": step.get("status"),
              "description": step.get("description")} for step in raw_steps]
    failed_step = next((step for step in steps if str(step["status"] or "").casefold() == "failure"), None)
    skip_reason = _skip_reason(details, raw_steps) if result == "Skipped" else None
    error_code = skip_reason or details.get("errorCode") or status.get("errorCode") or None
    skipped_step = next((step for step in steps if str(step["status"] or "").casefold() == "skipped"), None)
    error_message = (details.get("errorMessage") or status.get("reason")
                     or (failed_step or skipped_step or {}).get("description") or None)
    target = report.get("targetIdentity") if isinstance(report.get("targetIdentity"), Mapping) else {}
    kind = classify(result, skip_reason, raw_steps)
    return {
        "distinguished_name": distinguished_name,
        "sent": True,
        "result": result,
        "outcome": kind,
        "ok": kind in GOOD_OUTCOMES,
        "action": report.get("action"),
        "target_id": target.get("id"),
        "reportable_identifier": report.get("reportableIdentifier"),
        "error_code": error_code,
        "error_message": error_message,
        "steps": steps,
    }


def not_sent(distinguished_name: str) -> dict:
    """An object check mode left alone."""
    return {"distinguished_name": distinguished_name, "sent": False, "result": None, "outcome": None, "ok": None,
            "action": None, "target_id": None, "reportable_identifier": None, "error_code": None,
            "error_message": None, "steps": []}


def refused(distinguished_name: str, error: GraphError) -> dict:
    """An object Graph refused outright (an unknown DN, a malformed request)."""
    return dict(not_sent(distinguished_name), sent=True, result="Failure", outcome=FAILED, ok=False,
                error_code=error.code or str(error.status or ""), error_message=str(error))


def count_by(results: Sequence[Mapping], field: str, unsent: str) -> dict:
    """How many objects have each value of ``field``; objects not sent (no value) count as ``unsent``."""
    counts: dict[str, int] = {}
    for result in results:
        key = result.get(field) or unsent
        counts[key] = counts.get(key, 0) + 1
    return counts


def outcome_counts(results: Sequence[Mapping]) -> dict:
    """How many objects had each outcome; objects not sent count as ``not_sent``."""
    return count_by(results, "outcome", "not_sent")


def not_provisioned_message(results: Sequence[Mapping]) -> str | None:
    """What went wrong, failures and out-of-scope objects told apart; None when every sent object is good."""
    bad = [result for result in results if result.get("ok") is False]
    if not bad:
        return None

    def shown(result: Mapping) -> str:
        why = " ".join(str(part) for part in (result.get("error_code"), result.get("error_message")) if part)
        return f"{result['distinguished_name']}" + (f" ({why})" if why else "")

    parts = []
    for kind, label in ((FAILED, "failed"), (OUT_OF_SCOPE, "out of scope, not provisioned"),
                        (SKIPPED, "skipped without a reason")):
        of_kind = [shown(result) for result in bad if result.get("outcome") == kind]
        if of_kind:
            parts.append(f"{label}: " + "; ".join(of_kind))
    return f"Cloud Sync did not provision {len(bad)} of {len(results)} objects. " + ". ".join(parts)


# --- over Graph ---------------------------------------------------------------------------


def find_service_principal(client, name: str | None) -> str:
    """The Cloud Sync service principal, from one filtered listing of the tenant's service principals."""
    params = {"$filter": equals_filter("appId", CLOUD_SYNC_APP_ID), "$select": "id,appId,displayName"}
    try:
        principals = [item for page in client.pages("/servicePrincipals", params) for item in page]
    except MissingPermission as err:
        if _is_permission_name(err.permission):
            raise
        # Graph's least permission to list service principals; the 403 may not name it.
        raise MissingPermission(LIST_PRINCIPALS_PERMISSION, "/servicePrincipals", err.status or 403, err.code,
                                err.request_id) from None
    return choose_service_principal(principals, name)


def _is_permission_name(text: str) -> bool:
    return bool(text) and " " not in text and "." in text


def find_job(client, service_principal_id: str, job_id: str | None, template_id: str) -> SyncJob:
    base = f"/servicePrincipals/{quote(service_principal_id, safe='')}/synchronization/jobs"
    jobs = [job for page in client.pages(base) for job in page]
    job = choose_job(jobs, job_id, template_id)
    status = job.get("status") if isinstance(job.get("status"), Mapping) else {}
    return SyncJob(service_principal_id, str(job["id"]), str(job.get("templateId") or ""),
                   str(status.get("code") or ""))


def read_rule_id(client, job: SyncJob) -> str:
    return choose_rule(client.get(f"{job.path}/schema"))


def start_job(client, job: SyncJob) -> None:
    """rule book §7: once, and only for a paused or quarantined job."""
    if not job.resumable:
        raise HybridIdentityError(f"job {job.job_id} is {job.status_code or 'in no state'}, not paused or "
                                  "quarantined", hint="start is only for a paused or quarantined job")
    client.send("POST", f"{job.path}/start")


def provision_on_demand(client, job: SyncJob, rule_id: str, distinguished_names: Sequence[str],
                        window: CallWindow | None = None) -> list[dict]:
    """One provisionOnDemand call per object, paced by ``window``; each object's outcome.

    An object Graph refuses is reported and the others still go; a missing permission or
    throttling that outlasts the retries stops the run, since every later call would fail too.
    """
    window = window or CallWindow()
    results = []
    for distinguished_name in distinguished_names:
        window.wait()
        try:
            answer = client.send("POST", f"{job.path}/provisionOnDemand", on_demand_body(rule_id, distinguished_name))
        except (MissingPermission, Throttled):
            raise
        except GraphError as err:
            results.append(refused(distinguished_name, err))
            continue
        finally:
            window.record(time.monotonic())
        results.append(on_demand_result(distinguished_name, answer))
    return results
