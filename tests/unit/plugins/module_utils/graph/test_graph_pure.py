"""The pure parts of the Graph client and of cloud_user_lookup, with plain data (rule book §8)."""

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from urllib.parse import parse_qsl, urlsplit

import pytest
import trustme

from ansible_collections.hybrid.identity.plugins.module_utils.common._errors import ConfigurationError
from ansible_collections.hybrid.identity.plugins.module_utils.graph._cloud_users import (
    LookupRequest,
    not_found,
    plan_queries,
    primary_smtp,
    roles_by_principal,
    shaped_user,
)
from ansible_collections.hybrid.identity.plugins.module_utils.graph._graph import GraphSettings
from ansible_collections.hybrid.identity.plugins.module_utils.graph._graph_auth import (
    ClientCertificate,
    ClientSecret,
    credential_for,
)
from ansible_collections.hybrid.identity.plugins.module_utils.graph._graph_errors import (
    CredentialRefused,
    GraphError,
    MissingPermission,
    graph_error,
    required_permission,
    token_error,
)
from ansible_collections.hybrid.identity.plugins.module_utils.graph._graph_query import (
    MAX_IN_VALUES,
    any_equals_filter,
    chunked,
    in_filter,
    odata_string,
    query_string,
)
from ansible_collections.hybrid.identity.plugins.module_utils.graph._graph_retry import (
    RetryPolicy,
    backoff_seconds,
    next_wait,
    retry_after_seconds,
)

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)


# --- OData literals and filters -------------------------------------------------------------


@pytest.mark.parametrize(("value", "literal"), [
    ("alice@contoso.com", "'alice@contoso.com'"),
    ("o'brien@contoso.com", "'o''brien@contoso.com'"),
    ("''", "''''''"),
    ("", "''"),
    ("a'); drop", "'a''); drop'"),
])
def test_rule_8_quotes_are_doubled_in_literals(value, literal):
    assert odata_string(value) == literal


def test_odata_string_refuses_non_strings():
    with pytest.raises(TypeError):
        odata_string(42)


def test_filters_escape_every_value():
    assert in_filter("userPrincipalName", ["a@x.com", "o'b@x.com"]) == \
        "userPrincipalName in ('a@x.com', 'o''b@x.com')"
    assert any_equals_filter("proxyAddresses", "smtp:o'b@x.com") == "proxyAddresses/any(p:p eq 'smtp:o''b@x.com')"


@pytest.mark.parametrize("count", [0, MAX_IN_VALUES + 1])
def test_in_filter_holds_1_to_15_values(count):
    with pytest.raises(ValueError):
        in_filter("id", [f"v{n}" for n in range(count)])


@pytest.mark.parametrize(("count", "size", "lengths"), [
    (0, 15, []),
    (1, 15, [1]),
    (15, 15, [15]),
    (16, 15, [15, 1]),
    (100, 15, [15] * 6 + [10]),
    (41, 20, [20, 20, 1]),
])
def test_chunks_keep_order_and_size(count, size, lengths):
    chunks = list(chunked(range(count), size))
    assert [len(chunk) for chunk in chunks] == lengths
    assert [item for chunk in chunks for item in chunk] == list(range(count))


def test_chunk_size_must_be_positive():
    with pytest.raises(ValueError):
        list(chunked([1], 0))


def test_query_string_encodes_plus_and_spaces_and_keeps_odata_readable():
    text = query_string({"$filter": "onPremisesImmutableId eq 'a+b/c=='", "$select": "id,mail"})
    assert text == "$filter=onPremisesImmutableId%20eq%20'a%2Bb/c%3D%3D'&$select=id,mail"
    assert dict(parse_qsl(text)) == {"$filter": "onPremisesImmutableId eq 'a+b/c=='", "$select": "id,mail"}


# --- Retry-After and backoff ---------------------------------------------------------------


@pytest.mark.parametrize(("header", "seconds"), [
    ("0", 0.0),
    ("7", 7.0),
    (" 120 ", 120.0),
    (format_datetime(NOW + timedelta(seconds=30), usegmt=True), 30.0),
    (format_datetime(NOW - timedelta(seconds=30), usegmt=True), 0.0),
    (None, None),
    ("", None),
    ("soon", None),
    ("-5", None),
    ("1.5", None),
])
def test_retry_after_in_seconds_or_as_a_date(header, seconds):
    assert retry_after_seconds(header, now=NOW) == seconds


def test_backoff_is_equal_jitter_under_a_doubling_ceiling_and_the_cap():
    policy = RetryPolicy(base_delay=1.0, max_delay=30.0)
    ceilings = [backoff_seconds(retry, policy, 1.0) for retry in range(8)]
    assert ceilings == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    floors = [backoff_seconds(retry, policy, 0.0) for retry in range(8)]
    assert floors == [0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 15.0, 15.0]     # never again at once
    assert backoff_seconds(3, policy, 0.25) == 5.0
    assert backoff_seconds(10_000, policy, 1.0) == 30.0
    assert backoff_seconds(2, policy, 7.0) == 4.0      # fractions outside 0..1 are clamped
    assert backoff_seconds(2, policy, -1.0) == 2.0


def test_next_wait_honours_retry_after_over_backoff():
    policy = RetryPolicy(max_attempts=5, base_delay=1.0, max_delay=30.0, time_budget=100.0)
    assert next_wait(policy, attempts_made=1, elapsed=0.0, retry_after=12.0, random_fraction=0.5) == 12.0
    assert next_wait(policy, attempts_made=1, elapsed=0.0, retry_after=0.0, random_fraction=0.5) == 0.0
    assert next_wait(policy, attempts_made=3, elapsed=0.0, retry_after=None, random_fraction=0.5) == 3.0


def test_next_wait_gives_up_after_the_attempts_or_past_the_budget():
    policy = RetryPolicy(max_attempts=3, base_delay=1.0, max_delay=30.0, time_budget=60.0)
    assert next_wait(policy, attempts_made=3, elapsed=0.0, retry_after=0.0, random_fraction=0.0) is None
    assert next_wait(policy, attempts_made=1, elapsed=50.0, retry_after=11.0, random_fraction=0.0) is None
    assert next_wait(policy, attempts_made=1, elapsed=50.0, retry_after=10.0, random_fraction=0.0) == 10.0


def test_total_waits_stay_inside_the_budget_whatever_the_jitter():
    policy = RetryPolicy()
    for fraction in (0.0, 0.3, 1.0):
        waited, attempts = 0.0, 1
        while (wait := next_wait(policy, attempts, waited, None, fraction)) is not None:
            waited += wait
            attempts += 1
        assert attempts <= policy.max_attempts
        assert waited <= policy.time_budget


@pytest.mark.parametrize("bounds", [{"max_attempts": 0}, {"base_delay": -1}, {"time_budget": -1}])
def test_retry_policy_refuses_negative_bounds(bounds):
    with pytest.raises(ValueError):
        RetryPolicy(**bounds)


# --- errors ----------------------------------------------------------------------------------

DENIED = {"error": {"code": "Authorization_RequestDenied",
                    "message": "Insufficient privileges to complete the operation.",
                    "innerError": {"request-id": "r-1", "date": "2025-03-01T12:00:00"}}}


def test_rule_8_a_403_names_the_permission_from_the_message():
    body = {"error": {"code": "Authorization_RequestDenied",
                      "message": "This request requires the application permission User.Read.All (or one of: "
                                 "Directory.Read.All)."}}
    error = graph_error("GET", "/users", 403, {}, body)
    assert isinstance(error, MissingPermission)
    assert error.permission == "User.Read.All"
    assert "User.Read.All" in str(error) and "admin consent" in error.hint


@pytest.mark.parametrize(("method", "path", "permission"), [
    ("GET", "/users?$select=id", "User.Read.All"),
    ("PATCH", "/users/abc", "User.ReadWrite.All"),
    ("GET", "/roleManagement/directory/roleAssignments", "RoleManagement.Read.Directory"),
    ("GET", "/domains", "Domain.Read.All"),
    ("GET", "/directory/onPremisesSynchronization", "OnPremDirectorySynchronization.Read.All"),
    ("POST", "/servicePrincipals/x/synchronization/jobs/y/provisionOnDemand", "Synchronization.ReadWrite.All"),
])
def test_rule_8_a_403_without_a_name_takes_the_endpoints_requirement(method, path, permission):
    error = graph_error(method, path, 403, {"request-id": "r-2"}, DENIED)
    assert isinstance(error, MissingPermission)
    assert error.permission == permission == required_permission(method, path)
    assert error.request_id == "r-2"


def test_other_graph_errors_carry_code_message_and_request_id():
    body = {"error": {"code": "Request_UnsupportedQuery", "message": "Unsupported query.",
                      "innerError": {"request-id": "r-3"}}}
    error = graph_error("GET", "/users", 400, {}, body)
    assert isinstance(error, GraphError) and not isinstance(error, MissingPermission)
    assert (error.status, error.code, error.request_id) == (400, "Request_UnsupportedQuery", "r-3")
    assert "Unsupported query." in str(error) and "r-3" in str(error)


def test_a_graph_error_without_json_still_says_what_came_back():
    error = graph_error("GET", "/users", 502, {}, "<html>Bad gateway</html>")
    assert error.status == 502 and "Bad gateway" in str(error)


SECRET = "s3cr3t~value.never-shown"


@pytest.mark.parametrize(("code", "said"), [
    (7000215, "client secret"),
    (7000222, "client secret"),
    (700027, "client certificate"),
])
def test_refused_credentials_say_so_without_the_secret(code, said):
    result = {"error": "invalid_client", "error_codes": [code],
              "error_description": f"AADSTS{code}: Invalid client secret provided ({SECRET}). "
                                   "Trace ID: t Correlation ID: c Timestamp: 2025-03-01 12:00:00Z"}
    error = token_error(result, "app-1", said, SECRET)
    assert isinstance(error, CredentialRefused)
    assert f"refused the {said} of application app-1" in str(error)
    assert f"AADSTS{code}" in str(error) and "Trace ID" not in str(error)
    assert SECRET not in str(error) and SECRET not in error.hint


def test_other_token_failures_are_graph_errors():
    error = token_error({"error": "invalid_resource", "error_codes": [500011],
                         "error_description": "AADSTS500011: The resource principal was not found."}, "app", False)
    assert isinstance(error, GraphError) and error.code == "invalid_resource"


# --- cloud_user_lookup: requests, queries and answers --------------------------------------


def test_lookup_request_takes_strings_or_lists_and_drops_duplicates():
    request = LookupRequest.from_params({"smtp": ["SMTP:Alice@contoso.com", "alice@CONTOSO.com", "bob@contoso.com"],
                                         "upn": "carol@contoso.com", "immutable_id": ["AAA=", "aaa=", "AAA="]})
    assert request.smtp == ("Alice@contoso.com", "bob@contoso.com")
    assert request.upn == ("carol@contoso.com",)
    assert request.immutable_id == ("AAA=", "aaa=")     # rule book §3: anchors differ by case


@pytest.mark.parametrize("params", [
    {},
    {"all": True, "upn": ["a@contoso.com"]},
    {"smtp": ["X500:/o=Contoso/cn=alice"]},
    {"upn": [""]},
    {"object_id": ["not-a-guid"]},
])
def test_lookup_request_refuses_nothing_both_or_bad_values(params):
    with pytest.raises(ConfigurationError):
        LookupRequest.from_params(params)


def test_many_values_make_few_queries():
    request = LookupRequest(upn=tuple(f"u{n}@contoso.com" for n in range(100)),
                            object_id=tuple(f"id-{n}" for n in range(16)),
                            smtp=("o'brien@contoso.com",), immutable_id=("KtN+mrQKRk2qSC19JzM09g==",))
    queries = plan_queries(request)
    assert [query.key for query in queries].count("upn") == 7        # 15 a query
    assert [query.key for query in queries].count("object_id") == 2
    smtp = next(query for query in queries if query.key == "smtp")
    filter_text = dict(parse_qsl(urlsplit(smtp.request.url).query))["$filter"]
    assert filter_text == "proxyAddresses/any(p:p eq 'smtp:o''brien@contoso.com')"
    anchor = next(query for query in queries if query.key == "immutable_id")
    options = dict(parse_qsl(urlsplit(anchor.request.url).query))
    assert options["$filter"] == "onPremisesImmutableId eq 'KtN+mrQKRk2qSC19JzM09g=='"
    assert options["$count"] == "true" and anchor.request.headers == {"ConsistencyLevel": "eventual"}
    assert all("onPremisesImmutableId" in dict(parse_qsl(urlsplit(q.request.url).query))["$select"] for q in queries)


ALICE = {"id": "A-1", "userPrincipalName": "alice@contoso.com", "mail": "alice@contoso.com",
         "proxyAddresses": ["smtp:alice.old@contoso.com", "SMTP:Alice@contoso.com", "SIP:alice@contoso.com"],
         "onPremisesImmutableId": "KtN+mrQKRk2qSC19JzM09g=="}


def test_rule_1_primary_smtp_is_the_upper_case_value():
    assert primary_smtp(ALICE) == "Alice@contoso.com"
    assert primary_smtp({"proxyAddresses": ["smtp:a@contoso.com"]}) is None
    assert primary_smtp({"proxyAddresses": None}) is None


def test_not_found_compares_as_matching_does():
    request = LookupRequest(smtp=("ALICE.OLD@contoso.com", "sip-only@contoso.com", "alice@contoso.com"),
                            upn=("ALICE@contoso.com", "nobody@contoso.com"),
                            immutable_id=("KtN+mrQKRk2qSC19JzM09g==", "ktn+mrqkrk2qsc19jzm09g=="),
                            object_id=("a-1",))
    assert not_found(request, [ALICE]) == {"smtp": ["sip-only@contoso.com"], "upn": ["nobody@contoso.com"],
                                           "immutable_id": ["ktn+mrqkrk2qsc19jzm09g=="], "object_id": []}


def test_shaped_user_has_every_returned_key():
    shaped = shaped_user({"id": "B-2", "userPrincipalName": "b@contoso.com"}, admin_roles=[])
    assert shaped == {"id": "B-2", "userPrincipalName": "b@contoso.com", "mail": None, "proxyAddresses": [],
                      "onPremisesImmutableId": None, "onPremisesSyncEnabled": None,
                      "onPremisesLastSyncDateTime": None, "onPremisesProvisioningErrors": [],
                      "primary_smtp": None, "admin_roles": []}
    assert "admin_roles" not in shaped_user(ALICE)


def test_roles_join_assignments_to_definitions_by_id_or_template():
    definitions = [{"id": "62e90394-69f5-4237-9190-012177145e10", "templateId": "62e90394-69f5-4237-9190-012177145e10",
                    "displayName": "Global Administrator"},
                   {"id": "custom-1", "templateId": "tmpl-9", "displayName": "Mailbox Helper"}]
    assignments = [{"principalId": "A-1", "roleDefinitionId": "62E90394-69F5-4237-9190-012177145E10"},
                   {"principalId": "A-1", "roleDefinitionId": "tmpl-9"},
                   {"principalId": "A-1", "roleDefinitionId": "tmpl-9"},
                   {"principalId": "C-3", "roleDefinitionId": "unknown-role"}]
    assert roles_by_principal(definitions, assignments) == {"A-1": ["Global Administrator", "Mailbox Helper"],
                                                            "C-3": ["unknown-role"]}


# --- connection settings and credentials ---------------------------------------------------

CONNECTION = {"tenant_id": "contoso.onmicrosoft.com", "client_id": "app-1", "client_secret": "s"}


def test_settings_default_to_the_global_cloud_and_verified_tls():
    settings = GraphSettings.from_params(CONNECTION)
    assert settings.authority == "https://login.microsoftonline.com/contoso.onmicrosoft.com"
    assert settings.scope == "https://graph.microsoft.com/.default"
    assert settings.verify is True
    assert "'s'" not in repr(settings)


def test_settings_for_a_sovereign_cloud_and_a_private_ca():
    settings = GraphSettings.from_params(CONNECTION | {"authority_host": "https://login.microsoftonline.us/",
                                                       "graph_endpoint": "https://graph.microsoft.us",
                                                       "graph_ca_cert": "/etc/pki/proxy-ca.pem"})
    assert settings.authority == "https://login.microsoftonline.us/contoso.onmicrosoft.com"
    assert settings.scope == "https://graph.microsoft.us/.default"
    assert settings.verify == "/etc/pki/proxy-ca.pem"
    assert GraphSettings.from_params(CONNECTION | {"graph_validate_certs": False}).verify is False


@pytest.mark.parametrize("options", [
    {"authority_host": "http://login.microsoftonline.com"},      # rule book §8: msal needs https
    {"graph_endpoint": "https://graph.microsoft.com/v1.0"},
    {"authority_host": "https://login.microsoftonline.com/contoso.onmicrosoft.com"},
    {"tenant_id": ""},
])
def test_settings_refuse_what_cannot_work(options):
    with pytest.raises(ConfigurationError):
        GraphSettings.from_params(CONNECTION | options)


def test_exactly_one_credential():
    assert isinstance(credential_for(GraphSettings.from_params(CONNECTION)), ClientSecret)
    with pytest.raises(ConfigurationError, match="no credential"):
        credential_for(GraphSettings.from_params(CONNECTION | {"client_secret": None}))
    with pytest.raises(ConfigurationError, match="more than one credential"):
        credential_for(GraphSettings.from_params(CONNECTION | {"client_certificate": "/x.pem"}))


def _certificate_settings(path):
    return GraphSettings.from_params(CONNECTION | {"client_secret": None, "client_certificate": str(path)})


def test_certificate_pem_gives_msal_the_key_and_the_certificate(tmp_path):
    pem = tmp_path / "app.pem"
    trustme.CA().issue_cert("app.example", key_type=trustme.KeyType.RSA).private_key_and_cert_chain_pem \
        .write_to_path(str(pem))
    credential = credential_for(_certificate_settings(pem))
    assert isinstance(credential, ClientCertificate)
    msal_credential = credential.msal_credential(_certificate_settings(pem))
    assert msal_credential["private_key"].startswith("-----BEGIN ")
    assert msal_credential["public_certificate"].startswith("-----BEGIN CERTIFICATE-----")


@pytest.mark.parametrize(("content", "problem"), [
    (None, "can't read"),
    ("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", "no PEM private key"),
    ("-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n", "encrypted"),
    ("elliptic", "not an RSA key"),
])
def test_certificate_files_that_cannot_work(tmp_path, content, problem):
    pem = tmp_path / "app.pem"
    if content == "elliptic":
        trustme.CA().issue_cert("app.example").private_key_and_cert_chain_pem.write_to_path(str(pem))
    elif content is not None:
        pem.write_text(content)
    with pytest.raises(ConfigurationError, match=problem):
        credential_for(_certificate_settings(pem))
