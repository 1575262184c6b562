"""Cloud Sync on demand with plain data: job and rule, the request body, the rate limit, the answer (rule book §7)."""

import json

import pytest

from ansible_collections.hybrid.identity.plugins.module_utils.common._errors import (
    ConfigurationError,
    HybridIdentityError,
)
from ansible_collections.hybrid.identity.plugins.module_utils.graph._graph_errors import GraphError
from ansible_collections.hybrid.identity.plugins.module_utils.sync._cloud_sync import (
    CallWindow,
    SyncJob,
    choose_job,
    choose_rule,
    choose_service_principal,
    not_provisioned_message,
    not_sent,
    on_demand_body,
    on_demand_result,
    outcome_counts,
    refused,
)

DN = "CN=AdeleV,CN=Users,DC=corp,DC=chicago,DC=com"


# --- the request --------------------------------------------------------------------------


def test_the_body_is_the_rule_books_exactly():
    assert on_demand_body("6c409270-f78a-4bc6-af23-7cf3ab6482fe", DN) == {
        "parameters": [{"ruleId": "6c409270-f78a-4bc6-af23-7cf3ab6482fe",
                        "subjects": [{"objectId": DN, "objectTypeName": "user"}]}]}


def test_job_paths_quote_the_ids():
    job = SyncJob("3e916d82-dd59-4944-824d-93092908fd8d", "AD2AADProvisioning.fd1c.55a6", "AD2AADProvisioning",
                  "Active")
    assert job.path == ("/servicePrincipals/3e916d82-dd59-4944-824d-93092908fd8d/synchronization/jobs/"
                        "AD2AADProvisioning.fd1c.55a6")
    assert not job.resumable
    assert SyncJob("s", "j", "t", "Quarantine").resumable and SyncJob("s", "j", "t", "Paused").resumable


# --- choosing the service principal, the job and the rule ---------------------------------

PRINCIPALS = [{"id": "sp-1", "displayName": "contoso.com"}, {"id": "sp-2", "displayName": "fabrikam.com"}]


def test_the_only_service_principal_needs_no_name():
    assert choose_service_principal(PRINCIPALS[:1], None) == "sp-1"


def test_several_service_principals_need_a_name():
    with pytest.raises(ConfigurationError, match=r"2 Cloud Sync service principals: contoso\.com"):
        choose_service_principal(PRINCIPALS, None)
    assert choose_service_principal(PRINCIPALS, "Fabrikam.com") == "sp-2"


def test_no_service_principal_of_that_name_lists_the_others():
    with pytest.raises(ConfigurationError, match=r"named 'tailspin.com'; found: contoso.com \(sp-1\)"):
        choose_service_principal(PRINCIPALS, "tailspin.com")


JOBS = [{"id": "AD2AADProvisioning.a.1", "templateId": "AD2AADProvisioning"},
        {"id": "AD2AADPasswordHash.a.2", "templateId": "AD2AADPasswordHash"}]


def test_the_job_comes_from_its_template_unless_named():
    assert choose_job(JOBS, None, "AD2AADProvisioning")["id"] == "AD2AADProvisioning.a.1"
    assert choose_job(JOBS, "AD2AADPasswordHash.a.2", "AD2AADProvisioning")["id"] == "AD2AADPasswordHash.a.2"


def test_a_missing_job_lists_the_jobs():
    with pytest.raises(ConfigurationError, match=r"no synchronization job with id 'nope'; jobs: AD2AADProvisioning"):
        choose_job(JOBS, "nope", "AD2AADProvisioning")
    with pytest.raises(ConfigurationError, match="2 jobs from template"):
        choose_job([*JOBS, {"id": "x", "templateId": "AD2AADProvisioning"}], None, "AD2AADProvisioning")


def test_the_rule_is_the_one_that_maps_users():
    schema = {"synchronizationRules": [
        {"id": "groups-rule", "name": "GROUPS", "objectMappings": [{"sourceObjectName": "group"}]},
        {"id": "off-rule", "objectMappings": [{"sourceObjectName": "user", "enabled": False}]},
        {"id": "users-rule", "name": "USER_GROUP_INBOUND",
         "objectMappings": [{"sourceObjectName": "group"}, {"sourceObjectName": "User", "enabled": True}]},
    ]}
    assert choose_rule(schema) == "users-rule"
    assert choose_rule({"synchronizationRules": [{"id": "only", "objectMappings": []}]}) == "only"
    with pytest.raises(HybridIdentityError, match="no synchronization rule for users"):
        choose_rule({"synchronizationRules": []})


# --- the limiter --------------------------------------------------------------------------


class FakeClock:
    def __init__(self, call_seconds: float = 0.0):
        self.now = 0.0
        self.call_seconds = call_seconds

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def starts(count: int, call_seconds: float = 0.0, limit: int = 5, window: float = 10.0) -> list[float]:
    """When each of ``count`` calls starts when every call takes ``call_seconds``."""
    fake, limiter, started = FakeClock(), CallWindow(limit, window), []
    for _call in range(count):
        limiter.wait(fake.clock, fake.sleep)
        started.append(fake.now)
        fake.now += call_seconds
        limiter.record(fake.now)
    return started


def test_rule_7_five_calls_per_ten_seconds():
    assert starts(12) == [0, 0, 0, 0, 0, 10, 10, 10, 10, 10, 20, 20]


def test_the_window_slides_with_the_calls_that_took_time():
    assert starts(7, call_seconds=3) == [0, 3, 6, 9, 12, 15, 18]
    # each call counts from its answer: the sixth waits for the first answer (at 1) plus 10 seconds
    assert starts(8, call_seconds=1) == [0, 1, 2, 3, 4, 11, 12, 13]


def test_a_slow_first_call_delays_the_sixth_past_the_servers_window():
    """The server counts arrivals; the first may arrive as late as its answer comes back."""
    fake, limiter = FakeClock(), CallWindow(5, 10)
    answers = []
    for seconds in (2.0, 0.1, 0.1, 0.1, 0.1, 0.1):
        limiter.wait(fake.clock, fake.sleep)
        start = fake.now
        fake.now += seconds
        limiter.record(fake.now)
        answers.append((start, fake.now))
    first_answer, sixth_start = answers[0][1], answers[5][0]
    assert sixth_start - first_answer >= 10


def test_no_ten_second_window_ever_holds_more_than_five_starts():
    started = starts(40, call_seconds=0.75)
    assert all(sum(1 for other in started if first <= other < first + 10) <= 5 for first in started)


def test_a_window_needs_a_positive_limit():
    with pytest.raises(ValueError):
        CallWindow(0, 10)


# --- the answer ---------------------------------------------------------------------------


def answer(key: dict, value: dict) -> dict:
    return {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#microsoft.graph.stringKeyStringValuePair",
            "key": json.dumps(key), "value": json.dumps(value)}


def test_a_success_reads_action_target_and_steps():
    # The shape of Graph's own example for Cloud Sync (AD to Microsoft Entra ID), shortened.
    result = on_demand_result(DN, answer({"result": "Success", "details": {}}, {
        "provisioningSteps": [
            {"name": "EntryImportAdd", "type": "Import", "status": "Success",
             "description": "Received user 'adelev@chicago.com' change of type (Add) from Active Directory",
             "timestamp": "2022-04-21T18:40:07.8465145Z", "details": {"distinguishedName": DN}},
            {"name": "EntryExportUpdate", "type": "Export", "status": "Success", "description": "exported",
             "timestamp": "2022-04-21T18:40:09Z", "details": {}}],
        "action": "Update", "reportableIdentifier": "adelev@chicago.com",
        "statusInfo": {"status": "Success"},
        "targetIdentity": {"id": "87cb2512-8e7f-4543-a9c9-e7cf8756a3ad", "type": "User"}}))
    assert result == {
        "distinguished_name": DN, "sent": True, "result": "Success", "outcome": "exported", "ok": True,
        "action": "Update",
        "target_id": "87cb2512-8e7f-4543-a9c9-e7cf8756a3ad", "reportable_identifier": "adelev@chicago.com",
        "error_code": None, "error_message": None,
        "steps": [{"name": "EntryImportAdd", "type": "Import", "status": "Success",
                   "description": "Received user 'adelev@chicago.com' change of type (Add) from Active Directory"},
                  {"name": "EntryExportUpdate", "type": "Export", "status": "Success", "description": "exported"}],
    }


# Graph's reference example of a skip: the reason in key's details and in the skipping step,
# statusInfo's errorCode null.
SKIP_STEP = {"name": "EntrySynchronizationSkip", "type": "Export", "status": "Skipped",
             "description": "The state of the user in both the source and target systems already match.",
             "details": {"SkipReason": "RedundantExport"}}
SKIP_STATUS = {"status": "Skipped", "errorCode": None, "reason": None}


def test_a_redundant_export_is_a_skip_that_changed_nothing():
    result = on_demand_result(DN, answer(
        {"result": "Skipped", "details": {"errorCode": "RedundantExport",
                                          "errorMessage": "The state of the user in both the source and target "
                                                          "systems already match."}},
        {"action": "Other", "provisioningSteps": [SKIP_STEP], "statusInfo": SKIP_STATUS}))
    assert (result["result"], result["outcome"], result["ok"]) == ("Skipped", "unchanged", True)
    assert result["error_code"] == "RedundantExport"
    assert result["error_message"].startswith("The state of the user")


def test_the_skip_reason_of_the_skipping_step_counts_when_details_are_empty():
    result = on_demand_result(DN, answer({"result": "Skipped", "details": {}},
                                         {"provisioningSteps": [SKIP_STEP], "statusInfo": SKIP_STATUS}))
    assert (result["outcome"], result["ok"], result["error_code"]) == ("unchanged", True, "RedundantExport")
    assert result["error_message"] == SKIP_STEP["description"]


def test_an_object_out_of_scope_is_not_ok_and_not_a_failure():
    by_code = on_demand_result(DN, answer({"result": "Skipped", "details": {"errorCode": "NotEffectivelyEntitled"}},
                                          {"statusInfo": SKIP_STATUS}))
    assert (by_code["outcome"], by_code["ok"], by_code["error_code"]) == (
        "out_of_scope", False, "NotEffectivelyEntitled")
    scoping = {"name": "EntrySynchronizationScoping", "type": "Scoping", "status": "Skipped",
               "description": "User 'svc' is out of scope", "details": {"Scoping filter evaluation passed": "False"}}
    by_step = on_demand_result(DN, answer({"result": "Skipped", "details": {}},
                                          {"provisioningSteps": [scoping], "statusInfo": SKIP_STATUS}))
    assert (by_step["outcome"], by_step["ok"], by_step["error_message"]) == (
        "out_of_scope", False, "User 'svc' is out of scope")


def test_a_skip_without_any_reason_is_not_taken_for_harmless():
    result = on_demand_result(DN, answer({"result": "Skipped", "details": {}}, {"statusInfo": SKIP_STATUS}))
    assert (result["outcome"], result["ok"], result["error_code"]) == ("skipped", False, None)


def test_a_failure_takes_its_message_from_details_status_or_failed_step():
    from_details = on_demand_result(DN, answer({"result": "Failure", "details": {
        "errorCode": "AttributeValueMustBeUnique", "errorMessage": "proxyAddresses value is already used"}}, {}))
    assert (from_details["outcome"], from_details["ok"], from_details["error_code"], from_details["error_message"]) == (
        "failed", False, "AttributeValueMustBeUnique", "proxyAddresses value is already used")
    from_step = on_demand_result(DN, answer({"result": "Failure", "details": {}}, {
        "provisioningSteps": [{"name": "EntryExportUpdate", "type": "Export", "status": "Failure",
                               "description": "InvalidSoftMatch on alice@contoso.com"}],
        "statusInfo": {"status": "Failure", "errorCode": "InvalidSoftMatch", "reason": None}}))
    assert (from_step["error_code"], from_step["error_message"]) == (
        "InvalidSoftMatch", "InvalidSoftMatch on alice@contoso.com")


def test_an_answer_without_json_reads_as_unknown():
    result = on_demand_result(DN, {"key": "not json", "value": None})
    assert (result["result"], result["outcome"], result["ok"], result["steps"]) == ("Unknown", "failed", False, [])


def test_an_object_graph_refused_is_a_failure_with_graphs_message():
    error = GraphError("Microsoft Graph answered 404 Request_ResourceNotFound to POST ...: No user", status=404,
                       code="Request_ResourceNotFound")
    result = refused(DN, error)
    assert (result["sent"], result["result"], result["outcome"], result["ok"], result["error_code"]) == (
        True, "Failure", "failed", False, "Request_ResourceNotFound")
    assert "No user" in result["error_message"]


def test_the_message_tells_failures_and_objects_out_of_scope_apart():
    exported = on_demand_result("CN=a", answer({"result": "Success", "details": {}}, {"action": "Create"}))
    unchanged = on_demand_result("CN=b", answer({"result": "Skipped", "details": {"errorCode": "RedundantExport"}}, {}))
    out = on_demand_result("CN=svc", answer({"result": "Skipped", "details": {
        "errorCode": "NotEffectivelyEntitled", "errorMessage": "system account"}}, {}))
    failed = on_demand_result("CN=c", answer({"result": "Failure", "details": {
        "errorCode": "InvalidSoftMatch", "errorMessage": "another ImmutableId"}}, {}))
    assert not_provisioned_message([exported, unchanged]) is None
    assert not_provisioned_message([exported, unchanged, out, failed]) == (
        "Cloud Sync did not provision 2 of 4 objects. failed: CN=c (InvalidSoftMatch another ImmutableId). "
        "out of scope, not provisioned: CN=svc (NotEffectivelyEntitled system account)")
    assert outcome_counts([exported, unchanged, out, failed, not_sent("CN=d")]) == {
        "exported": 1, "unchanged": 1, "out_of_scope": 1, "failed": 1, "not_sent": 1}
