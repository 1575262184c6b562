"""Graph's Cloud Sync API: `/servicePrincipals` and `.../synchronization/jobs` with provisionOnDemand (internal).

provisionOnDemand syncs the one AD object its DN names through the lab's sync engine and
answers as Graph's reference shows: one stringKeyStringValuePair whose `key` is JSON
`{"result", "details"}` and whose `value` is JSON of the provisioning report (action,
provisioning steps, statusInfo, identities). A skip names its reason as Graph's examples do:
in `key.details.errorCode` and in the `SkipReason` of the step that skipped, while
`statusInfo.errorCode` stays null; `RedundantExport` when source and target already match,
`NotEffectivelyEntitled` for an object out of scope (lab decision: the code Microsoft's
provisioning docs show for an object out of scope; what Cloud Sync answers for a system
account is not documented). A refusal is a `Failure` with its code in both places.
"""

from __future__ import annotations

import json
import uuid
from bisect import bisect_right

from ._cloud_scenario import now_text
from ._directory import USERS
from ._errors import GraphError, bad_request, not_found
from ._graph_context import Context, Route
from ._http import GRAPH_JSON, Response
from ._listing import entity, list_collection
from ._schema import ANY_EQ, ANY_STARTS, EQ, IN, NE, STARTS, ResourceSchema, _p
from ._sync_engine import SyncFailed
from ._sync_job import ON_DEMAND_CALLS
from ._sync_onprem import OnPremUser

# Listing service principals needs Application.Read.All in Graph; the lab also lets the sync permission list them.
READ_APPLICATIONS = ("Application.Read.All", "Application.ReadWrite.All", "Directory.Read.All",
                     "Directory.ReadWrite.All", "Synchronization.Read.All", "Synchronization.ReadWrite.All")
READ_SYNC = ("Synchronization.Read.All", "Synchronization.ReadWrite.All")
WRITE_SYNC = ("Synchronization.ReadWrite.All",)
JOBS = "/servicePrincipals/{id}/synchronization/jobs"
JOB = JOBS + "/{jobId}"

SERVICE_PRINCIPAL = ResourceSchema("microsoft.graph.servicePrincipal", "ServicePrincipal", [
    _p("id", default=(EQ, IN), advanced=(NE,), selected=True),
    _p("accountEnabled", "bool", default=(EQ,), selected=True),
    _p("appDisplayName", default=(EQ, IN, STARTS), selected=True),
    _p("appId", default=(EQ, IN), selected=True),
    _p("appOwnerOrganizationId", default=(EQ,), selected=True),
    _p("createdDateTime", "datetime", selected=True),
    _p("displayName", default=(EQ, IN, STARTS), advanced=(NE,), selected=True),
    _p("servicePrincipalNames", "strings", default=(ANY_EQ, ANY_STARTS), selected=True),
    _p("servicePrincipalType", default=(EQ,), selected=True),
    _p("tags", "strings", default=(ANY_EQ, ANY_STARTS), selected=True),
])

# What each engine action is called in a provisioning report (an export error: the action it tried).
REPORT_ACTIONS = {"created": "Create", "quarantined": "Create", "joined_hard": "Update", "joined_smtp": "Update",
                  "joined_upn": "Update", "updated": "Update", "unchanged": "Other", "excluded": "Other"}
EXPORT_STEPS = {"Create": "EntryExportAdd", "Update": "EntryExportUpdate"}
REDUNDANT_EXPORT = "RedundantExport"
OUT_OF_SCOPE = "NotEffectivelyEntitled"


class _ServicePrincipals:
    """The tenant's service principals (the provisioning agent's only), pageable like a directory bucket."""

    def __init__(self, records: list[dict]):
        self.records = sorted(records, key=lambda record: record["id"])

    def page(self, _bucket, compiled, after, limit, want_count):
        matches = [r for r in self.records if compiled is None or compiled.predicate(r)]
        start = bisect_right([r["id"] for r in matches], after) if after else 0
        return matches[start:start + limit], start + limit < len(matches), len(matches) if want_count else None


def _sync(ctx: Context):
    service = getattr(ctx.service, "sync", None)
    if service is None:
        raise not_found(ctx.request.path)
    return service


def _service_principal(ctx: Context) -> dict:
    service = _sync(ctx)
    return service.job.service_principal(service.ad_domain_name())


def _job_of(ctx: Context):
    """The sync service when the path names its service principal (and job); else 404 as Graph answers."""
    service = _sync(ctx)
    ids = service.job.ids
    if ctx.params["id"].lower() != ids.service_principal_id:
        raise not_found(ctx.params["id"])
    if "jobId" in ctx.params and ctx.params["jobId"] != ids.job_id:
        raise GraphError(404, "NotFound", f"The job '{ctx.params['jobId']}' does not exist for this service "
                                          "principal.")
    return service


def list_service_principals(ctx: Context) -> Response:
    return list_collection(ctx.request, _ServicePrincipals([_service_principal(ctx)]), "servicePrincipals",
                           SERVICE_PRINCIPAL, "servicePrincipals")


def get_service_principal(ctx: Context) -> Response:
    record = _service_principal(ctx)
    key = ctx.params["id"]
    return entity(ctx.request, record if key.lower() == record["id"] else None, key, SERVICE_PRINCIPAL,
                  "servicePrincipals")


def _context_url(ctx: Context, suffix: str) -> str:
    return f"{ctx.request.base_url}/v1.0/$metadata#servicePrincipals('{ctx.params['id']}')/synchronization/{suffix}"


def list_jobs(ctx: Context) -> Response:
    service = _job_of(ctx)
    return Response.json(200, {"@odata.context": _context_url(ctx, "jobs"), "value": [service.job_view()]},
                         content_type=GRAPH_JSON)


def get_job(ctx: Context) -> Response:
    service = _job_of(ctx)
    return Response.json(200, {"@odata.context": _context_url(ctx, "jobs/$entity"), **service.job_view()},
                         content_type=GRAPH_JSON)


def get_schema(ctx: Context) -> Response:
    service = _job_of(ctx)
    body = {"@odata.context": _context_url(ctx, f"jobs('{ctx.params['jobId']}')/schema/$entity"),
            **service.job.schema(service.search_base())}
    return Response.json(200, body, content_type=GRAPH_JSON)


def start_job(ctx: Context) -> Response:
    _job_of(ctx).job.start()
    return Response.empty(204)


def pause_job(ctx: Context) -> Response:
    _job_of(ctx).job.pause()
    return Response.empty(204)


def provision_on_demand(ctx: Context) -> Response:
    service = _job_of(ctx)
    wait = service.job.take_on_demand_slot()
    if wait:
        message = f"provisionOnDemand allows {ON_DEMAND_CALLS} calls per 10 seconds per job; retry after {wait} s."
        raise GraphError(429, "TooManyRequests", message, {"Retry-After": str(wait)})
    dn = _subject_dn(ctx.json_body(), service.job.ids.rule_id)
    started = now_text()
    try:
        run, user = service.run_one(dn)
    except SyncFailed as failed:
        raise GraphError(503, "serviceNotAvailable", f"Active Directory can't be read: {failed}") from failed
    if user is None:
        raise GraphError(404, "Request_ResourceNotFound", f"No user with the distinguished name '{dn}' exists in "
                                                          "Active Directory.")
    outcome = run["objects"][0]
    cloud_user = ctx.directory.get(USERS, outcome["cloud_user_id"]) if outcome["cloud_user_id"] else None
    key, value = _report(user, outcome, cloud_user, started)
    return Response.json(200, {
        "@odata.context": f"{ctx.request.base_url}/v1.0/$metadata#microsoft.graph.stringKeyStringValuePair",
        "key": json.dumps(key), "value": json.dumps(value)}, content_type=GRAPH_JSON)


def _subject_dn(body: dict, rule_id: str) -> str:
    """Rule book §7's body: one parameter with the schema's ruleId and one user subject given by its DN."""
    parameters = body.get("parameters")
    if not isinstance(parameters, list) or not parameters or not isinstance(parameters[0], dict):
        raise bad_request("The request body must hold 'parameters': [{'ruleId', 'subjects'}].")
    if len(parameters) > 1:
        raise bad_request("The lab provisions one parameter set per call.")
    parameter = parameters[0]
    if parameter.get("ruleId") != rule_id:
        raise bad_request(f"The ruleId '{parameter.get('ruleId')}' is not a rule of this job's schema.")
    subjects = parameter.get("subjects")
    if not isinstance(subjects, list) or len(subjects) != 1 or not isinstance(subjects[0], dict):
        raise bad_request("Exactly one subject is expected in 'subjects'.")
    subject = subjects[0]
    if str(subject.get("objectTypeName", "")).lower() != "user":
        raise bad_request(f"objectTypeName '{subject.get('objectTypeName')}' is not supported; use 'user'.")
    dn = subject.get("objectId")
    if not isinstance(dn, str) or "=" not in dn:
        raise bad_request("objectId must be the distinguished name of an Active Directory user.")
    return dn


def _report(user: OnPremUser, outcome: dict, cloud_user: dict | None, started: str) -> tuple[dict, dict]:
    """The provisioning report Graph returns for one object: steps Import, Scoping, Matching, Export."""
    action = outcome["action"]
    now = now_text()
    name = user.user_principal_name or user.sam_account_name

    def step(step_name: str, kind: str, step_status: str, description: str, details: dict) -> dict:
        return {"name": step_name, "type": kind, "status": step_status, "description": description,
                "timestamp": now, "details": details}

    steps = [step("EntryImportAdd", "Import", "Success", f"Received user '{name}' from Active Directory",
                  {"distinguishedName": user.dn, "sAMAccountName": user.sam_account_name,
                   "userPrincipalName": user.user_principal_name or "", "mail": user.mail or "",
                   "proxyAddresses": ", ".join(user.proxy_addresses), "objectGUID": user.object_guid_text,
                   "sourceAnchor": user.source_anchor})]
    scope = {"Active in the source system": str(user.enabled)}
    if action == "excluded":
        status, report_action = "Skipped", "Other"
        error, message = OUT_OF_SCOPE, f"User '{name}' is out of scope and was not provisioned: {outcome['reason']}."
        steps.append(step("EntrySynchronizationScoping", "Scoping", "Skipped", message,
                          {**scope, "Scoping filter evaluation passed": "False", "SkipReason": OUT_OF_SCOPE}))
    else:
        steps.append(step("EntrySynchronizationScoping", "Scoping", "Success",
                          "Determine if user in scope by evaluating against each scoping filter",
                          {**scope, "Scoping filter evaluation passed": "True"}))
        steps.append(step("EntryMatching", "Matching", "Success", outcome["reason"],
                          {"rule": outcome["rule"], "action": action,
                           "matchedTargetId": outcome["cloud_user_id"] or ""}))
        if action == "unchanged":
            status, report_action = "Skipped", "Other"
            error, message = REDUNDANT_EXPORT, "Source and target already hold the same values: nothing to export."
            steps.append(step("EntrySynchronizationSkip", "Export", "Skipped",
                              f"User '{name}' already matches the cloud user; no change was exported.",
                              {"SkipReason": REDUNDANT_EXPORT}))
        elif action == "export_error":
            status, report_action = "Failure", "Update" if outcome["cloud_user_id"] else "Create"
            error, message = outcome["error"], outcome["reason"]
            steps.append(step(EXPORT_STEPS[report_action], "Export", "Failure",
                              f"User '{name}' could not be exported: {message}", {"errorCode": error}))
        else:
            status, report_action = "Success", REPORT_ACTIONS[action]
            error, message = None, None
            verb = "created in" if report_action == "Create" else "updated in"
            steps.append(step(EXPORT_STEPS[report_action], "Export", "Success",
                              f"User '{name}' was {verb} Azure Active Directory",
                              {"quarantined": json.dumps(outcome["quarantined"]), "errorCode": outcome["error"] or ""}))
    failed = status == "Failure"
    key = {"result": status, "details": {"errorCode": error, "errorMessage": message} if error else {}}
    value = {
        "action": report_action,
        "changeId": str(uuid.uuid4()),
        "startTime": started,
        "endTime": now,
        "provisioningSteps": steps,
        "modifiedProperties": [{"displayName": prop, "oldValue": None,
                                "newValue": json.dumps(cloud_user.get(prop)) if cloud_user else None}
                               for prop in outcome["changed"]],
        "reportableIdentifier": name,
        "sourceIdentity": {"id": user.object_guid_text, "type": "user", "displayName": user.display_name,
                           "details": {"distinguishedName": user.dn}},
        "sourceSystem": {"id": None, "name": "Active Directory", "details": None},
        # Graph's skip example keeps statusInfo's errorCode null; a failure carries it.
        "statusInfo": {"status": status, "errorCode": error if failed else None,
                       "reason": message if failed else None, "additionalDetails": None,
                       "errorCategory": "NonServiceFailure" if failed else None, "recommendedAction": None},
        "targetIdentity": {"id": outcome["cloud_user_id"], "type": "User", "displayName": outcome["cloud_upn"],
                           "details": None},
        "targetSystem": {"id": None, "name": "Azure Active Directory", "details": None},
    }
    return key, value


ROUTES = [
    Route("GET", "/servicePrincipals", list_service_principals, READ_APPLICATIONS, cost_path="servicePrincipals"),
    Route("GET", "/servicePrincipals/{id}", get_service_principal, READ_APPLICATIONS),
    Route("GET", JOBS, list_jobs, READ_SYNC),
    Route("GET", JOB, get_job, READ_SYNC),
    Route("GET", JOB + "/schema", get_schema, READ_SYNC),
    Route("POST", JOB + "/provisionOnDemand", provision_on_demand, WRITE_SYNC),
    Route("POST", JOB + "/start", start_job, WRITE_SYNC),
    Route("POST", JOB + "/pause", pause_job, WRITE_SYNC),
]
