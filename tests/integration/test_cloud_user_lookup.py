"""hybrid.identity.cloud_user_lookup and the Graph client against the lab's Entra emulator.

HTTPS with TLS verified throughout. User-facing behaviour runs the module through Ansible;
retries, paging and batching are also checked on the client itself, counting requests at
the emulator (`/_lab/requests`).
"""

from __future__ import annotations

import time
from datetime import datetime
from itertools import islice, pairwise
from pathlib import Path

import pytest
import trustme

from ansible_collections.hybrid.identity.plugins.module_utils.graph._cloud_users import (
    ADVANCED_QUERY,
    LookupRequest,
    find_cloud_users,
)
from ansible_collections.hybrid.identity.plugins.module_utils.graph._graph import (
    BatchRequest,
)
from ansible_collections.hybrid.identity.plugins.module_utils.graph._graph_errors import (
    CredentialRefused,
    GraphError,
    MissingPermission,
    Throttled,
)
from ansible_collections.hybrid.identity.plugins.module_utils.graph._graph_retry import RetryPolicy
from tests.integration._ansible import task_result
from tests.integration._graph_lab import (
    SYNCED_ANCHOR,
    USERS,
    WRONG_SECRET,
    GraphLab,
    bulk_users,
    graph_tries,
)

# --- lookups through Ansible ----------------------------------------------------------------


@pytest.mark.parametrize(("key", "value", "missing", "upn"), [
    ("smtp", "user@contoso.com", "nobody@contoso.com", "user.lastname@contoso.com"),   # a secondary address
    ("smtp", "SMTP:USER.LASTNAME@contoso.com", "nobody@contoso.com", "user.lastname@contoso.com"),
    ("upn", "SYNCED@contoso.com", "nobody@contoso.com", "synced@contoso.com"),
    ("immutable_id", SYNCED_ANCHOR, "Tm9ib2R5AAAAAAAAAAAAAA==", "synced@contoso.com"),
    ("object_id", "by-id", "00000000-0000-4000-8000-000000000000", "o'brien@contoso.com"),
])
def test_lookup_by_each_key_returns_the_user(graph: GraphLab, key: str, value: str, missing: str, upn: str):
    if value == "by-id":
        value = graph.ids()[upn].upper()
    status, result, _output = graph.lookup(**{key: [value, missing]})

    assert status == "SUCCESS", result
    assert result["changed"] is False
    assert [user["userPrincipalName"] for user in result["users"]] == [upn]
    assert result["not_found"][key] == [missing]
    assert "admin_roles" not in result["users"][0]


def test_user_carries_every_property_matching_needs(graph: GraphLab):
    status, result, _output = graph.lookup(check=True, upn="synced@contoso.com")

    assert status == "SUCCESS", result
    user = result["users"][0]
    assert user["id"] == graph.ids()["synced@contoso.com"]
    assert user["primary_smtp"] == "synced@contoso.com"
    assert user["proxyAddresses"] == ["SMTP:synced@contoso.com"]
    assert user["onPremisesImmutableId"] == SYNCED_ANCHOR
    assert user["onPremisesSyncEnabled"] is True
    assert user["onPremisesLastSyncDateTime"]
    assert user["onPremisesProvisioningErrors"] == []
    assert result["not_found"] == {"smtp": [], "upn": [], "immutable_id": [], "object_id": []}


def test_rule_8_apostrophes_are_escaped(graph: GraphLab):
    status, result, _output = graph.lookup(smtp="o'brien@contoso.com", upn=["O'Brien@contoso.com"])

    assert status == "SUCCESS", result
    assert [user["userPrincipalName"] for user in result["users"]] == ["o'brien@contoso.com"]
    assert result["users"][0]["primary_smtp"] == "O'Brien@contoso.com"
    assert result["not_found"]["smtp"] == [] and result["not_found"]["upn"] == []


def test_rule_3_immutable_id_is_case_sensitive(graph: GraphLab):
    status, result, _output = graph.lookup(immutable_id=[SYNCED_ANCHOR.swapcase()])

    assert status == "SUCCESS", result
    assert result["users"] == []
    assert result["not_found"]["immutable_id"] == [SYNCED_ANCHOR.swapcase()]


def test_include_roles_names_admin_roles(graph: GraphLab):
    status, result, _output = graph.lookup(smtp=["it.admin@contoso.com", "user@contoso.com"], include_roles=True)

    assert status == "SUCCESS", result
    roles = {user["userPrincipalName"]: user["admin_roles"] for user in result["users"]}
    assert roles == {"admin@contoso.onmicrosoft.com": ["Exchange Administrator", "Global Administrator"],
                     "user.lastname@contoso.com": []}
    counts = graph.requests()["routes"]
    assert counts["GET /v1.0/roleManagement/directory/roleAssignments"] == 1
    assert counts["GET /v1.0/roleManagement/directory/roleDefinitions"] == 1


@pytest.mark.parametrize("retry_after", [1, None], ids=["with-Retry-After", "without-Retry-After"])
def test_all_returns_2500_unique_users_through_429s_and_503s(graph: GraphLab, retry_after: int | None):
    graph.load(USERS[:1] + bulk_users(2499))
    # One listing page in three gets a 429, another a 503 then a 429, before it is answered.
    graph.emulator.set_faults(script=["429", "none", "503", "429"], retry_after=retry_after,
                              path_prefix="/v1.0/users")
    graph.emulator.clear_requests()

    status, result, _output = graph.lookup(all=True)

    assert status == "SUCCESS", result
    ids = [user["id"] for user in result["users"]]
    assert len(ids) == len(set(ids)) == 2500
    report = graph.requests()
    listing = [entry for entry in report["log"] if entry["path"] == "/v1.0/users"]
    assert [entry["status"] for entry in listing] == [429, 200, 503, 429, 200, 200]
    assert all("%24top=999" in entry["query"] or "$top=999" in entry["query"] for entry in listing)


BULK = 120
HUNDRED_SMTP = [f"{'b' if n % 2 else 'bulk'}{n:05d}@contoso.com" for n in range(100)]   # half secondaries


@pytest.mark.parametrize(("args", "found", "batches", "inner", "listings"), [
    ({"smtp": HUNDRED_SMTP[:1]}, 1, 1, 1, 0),
    ({"smtp": HUNDRED_SMTP}, 100, 5, 100, 0),                               # one filter an address, 20 a batch
    ({"upn": [f"bulk{n:05d}@contoso.com" for n in range(100)]}, 100, 1, 7, 0),  # 15 UPNs an in (...) filter
    ({"object_id": "ids"}, 100, 1, 7, 0),
    ({"immutable_id": [f"YnVsay0{n:05d}AA==" for n in range(100)]}, 100, 5, 100, 0),
    ({"smtp": HUNDRED_SMTP, "upn": [f"bulk{n:05d}@contoso.com" for n in range(100)]}, 100, 6, 107, 0),
    ({"smtp": HUNDRED_SMTP, "include_roles": True}, 100, 5, 100, 2),       # role definitions, role assignments
    ({"all": True}, BULK, 0, 0, 2),                                         # the listing and /users/$count
    ({"all": True, "include_roles": True}, BULK, 0, 0, 4),
], ids=["smtp-1", "smtp-100", "upn-100", "object_id-100", "immutable_id-100", "smtp-100+upn-100",
        "smtp-100+roles", "all", "all+roles"])
def test_requests_per_lookup_shape(graph: GraphLab, args: dict, found: int, batches: int, inner: int,
                                   listings: int):
    graph.load(bulk_users(BULK))
    if args.get("object_id") == "ids":
        args = {"object_id": [user_id for upn, user_id in graph.ids().items() if upn < "bulk00100@"]}
    graph.emulator.clear_requests()

    status, result, _output = graph.lookup(**args)

    assert status == "SUCCESS", result
    assert len(result["users"]) == found
    report = graph.requests()
    graph_routes = {route: count for route, count in report["routes"].items() if "/v1.0/" in route}
    assert graph_routes.pop("POST /v1.0/$batch", 0) == batches
    assert sum(graph_routes.values()) == listings
    assert sum(report["inner_routes"].values()) == inner
    assert report["total"] == batches + listings + 2                  # + OIDC discovery and the token


# --- connection options from the environment, through ansible-playbook ----------------------

AZURE_VARIABLES = ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH",
                   "AZURE_AUTHORITY_HOST", "HYBRID_GRAPH_ENDPOINT", "HYBRID_GRAPH_CA_CERT")


@pytest.mark.parametrize("credential", ["secret", "certificate"])
def test_connection_options_fall_back_to_the_environment(graph: GraphLab, monkeypatch: pytest.MonkeyPatch,
                                                         credential: str):
    settings = graph.settings
    for name in AZURE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    if credential == "secret":
        # The reader app, so that the app Graph sees can only have come from AZURE_CLIENT_ID.
        app_id = settings["lab_reader_client_id"]
        monkeypatch.setenv("AZURE_CLIENT_SECRET", settings["lab_reader_client_secret"])
    else:
        app_id = settings["client_id"]
        monkeypatch.setenv("AZURE_CLIENT_CERTIFICATE_PATH", settings["lab_client_certificate"])
    monkeypatch.setenv("AZURE_TENANT_ID", settings["tenant_id"])
    monkeypatch.setenv("AZURE_CLIENT_ID", app_id)
    monkeypatch.setenv("AZURE_AUTHORITY_HOST", settings["authority_host"])
    monkeypatch.setenv("HYBRID_GRAPH_ENDPOINT", settings["graph_endpoint"])
    monkeypatch.setenv("HYBRID_GRAPH_CA_CERT", settings["graph_ca_cert"])

    task = {"name": "Look up a user with the connection taken from the environment",
            "hybrid.identity.cloud_user_lookup": {"upn": ["synced@contoso.com"]}}
    completed, result = task_result(task)

    assert not result.get("failed"), (result, completed.stdout)
    assert [user["userPrincipalName"] for user in result["users"]] == ["synced@contoso.com"]
    graph_calls = [entry for entry in graph.requests()["log"] if entry["path"].startswith("/v1.0/")]
    assert graph_calls and {entry["app"] for entry in graph_calls} == {app_id}


# --- failures that teach, through Ansible ---------------------------------------------------


def assert_never_carries(error: BaseException, secret: str) -> None:
    """Neither the failure nor any exception chained to it shows or keeps ``secret`` (text, hint, attributes).

    Ansible masks no_log values in what it prints, so the module's output alone can't show that
    the collection's own errors leave the secret out; this looks at the errors themselves.
    """
    seen: BaseException | None = error
    while seen is not None:
        texts = [str(seen), repr(seen), *(repr(arg) for arg in seen.args),
                 *(repr(value) for value in vars(seen).values())]
        assert not [text for text in texts if secret in text], f"{type(seen).__name__} carries the secret"
        seen = seen.__cause__ or seen.__context__


def test_low_permission_app_fails_naming_user_read_all(graph: GraphLab):
    low = {"client_id": graph.settings["lab_low_client_id"], "client_secret": graph.settings["lab_low_client_secret"]}
    status, result, output = graph.lookup(upn=["synced@contoso.com"], **low)

    assert status == "FAILED", result
    assert "User.Read.All" in result["msg"]
    assert "admin consent" in result["hint"]
    assert low["client_secret"] not in output
    with pytest.raises(MissingPermission) as denied, graph.client(**low) as client:
        find_cloud_users(client, LookupRequest(upn=("synced@contoso.com",)))
    assert denied.value.permission == "User.Read.All"
    assert_never_carries(denied.value, low["client_secret"])
    assert low["client_secret"] not in repr(client.settings)


def test_reader_app_reads_users_but_include_roles_names_role_management(graph: GraphLab):
    reader = {"client_id": graph.settings["lab_reader_client_id"],
              "client_secret": graph.settings["lab_reader_client_secret"]}
    status, result, _output = graph.lookup(upn=["synced@contoso.com"], **reader)
    assert status == "SUCCESS", result
    assert [user["userPrincipalName"] for user in result["users"]] == ["synced@contoso.com"]

    status, result, output = graph.lookup(upn=["synced@contoso.com"], include_roles=True, **reader)

    assert status == "FAILED", result
    assert "lacks the permission RoleManagement.Read.Directory" in result["msg"]
    assert "User.Read.All" not in result["msg"]
    assert "RoleManagement.Read.Directory" in result["hint"] and "admin consent" in result["hint"]
    assert reader["client_secret"] not in output
    with pytest.raises(MissingPermission) as denied, graph.client(**reader) as client:
        find_cloud_users(client, LookupRequest(upn=("synced@contoso.com",), include_roles=True))
    assert denied.value.permission == "RoleManagement.Read.Directory"
    assert denied.value.status == 403 and denied.value.request_id
    assert_never_carries(denied.value, reader["client_secret"])


def test_wrong_secret_is_refused_and_never_shown(graph: GraphLab):
    status, result, output = graph.lookup(client_secret=WRONG_SECRET, upn=["synced@contoso.com"])

    assert status == "FAILED", result
    assert "refused the client secret" in result["msg"]
    assert "AADSTS7000215" in result["msg"]
    assert result["hint"]
    assert WRONG_SECRET not in output
    with pytest.raises(CredentialRefused) as refused, graph.client(client_secret=WRONG_SECRET) as client:
        client.token()
    assert refused.value.aadsts == 7000215
    assert_never_carries(refused.value, WRONG_SECRET)
    assert WRONG_SECRET not in repr(client.settings)


def test_certificate_auth(graph: GraphLab):
    connection = {"client_secret": None, "client_certificate": graph.settings["lab_client_certificate"]}
    status, result, _output = graph.lookup(upn=["synced@contoso.com"], **connection)

    assert status == "SUCCESS", result
    assert [user["userPrincipalName"] for user in result["users"]] == ["synced@contoso.com"]


def test_unregistered_certificate_is_refused(graph: GraphLab, tmp_path: Path):
    stranger = tmp_path / "stranger.pem"
    trustme.CA().issue_cert("stranger.example", key_type=trustme.KeyType.RSA) \
        .private_key_and_cert_chain_pem.write_to_path(str(stranger))

    status, result, _output = graph.lookup(client_secret=None, client_certificate=str(stranger), upn=["x@contoso.com"])

    assert status == "FAILED", result
    assert "refused the client certificate" in result["msg"] and "AADSTS700027" in result["msg"]
    assert "upload the certificate" in result["hint"]


def test_certificate_without_an_rsa_key_is_refused_before_any_request(graph: GraphLab, tmp_path: Path):
    elliptic = tmp_path / "elliptic.pem"
    trustme.CA().issue_cert("app.example", key_type=trustme.KeyType.ECDSA) \
        .private_key_and_cert_chain_pem.write_to_path(str(elliptic))

    status, result, _output = graph.lookup(client_secret=None, client_certificate=str(elliptic), upn=["x@contoso.com"])

    assert status == "FAILED", result
    assert "not an RSA key" in result["msg"]
    assert graph.requests()["total"] == 0


def test_tls_is_verified_by_default(graph: GraphLab, tmp_path: Path):
    status, result, _output = graph.lookup(graph_ca_cert=None, upn=["synced@contoso.com"])

    assert status == "FAILED", result
    assert "TLS verification" in result["msg"] and "certificate verify failed" in result["msg"]
    assert "graph_ca_cert" in result["hint"]

    other_ca = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other_ca))
    status, result, _output = graph.lookup(graph_ca_cert=str(other_ca), upn=["synced@contoso.com"])
    assert status == "FAILED", result
    assert "TLS verification" in result["msg"]


def test_nothing_to_look_up_fails_with_a_hint(graph: GraphLab):
    status, result, _output = graph.lookup()

    assert status == "FAILED", result
    assert "nothing to look up" in result["msg"] and "all: true" in result["hint"]


# --- the client: retries, paging, $batch, token -------------------------------------------


def test_connection_resets_are_retried(graph: GraphLab):
    graph.emulator.set_faults(script=["reset", "reset"], path_prefix="/v1.0/users")
    with graph.client() as client:
        body = client.get("/users", {"$select": "id"})
    assert len(body["value"]) == len(USERS)
    assert graph.requests()["statuses"]["reset"] == 2


def test_gateway_timeouts_are_retried(graph: GraphLab):
    graph.emulator.set_faults(script=["504", "504"], retry_after=0, path_prefix="/v1.0/users")
    with graph.client() as client:
        body = client.get("/users", {"$select": "id"})
    assert len(body["value"]) == len(USERS)
    assert [entry["status"] for entry in graph_tries(graph)] == [504, 504, 200]


def test_without_retry_after_the_client_backs_off_between_tries(graph: GraphLab):
    graph.emulator.set_faults(script=["429", "429"], retry_after=None, path_prefix="/v1.0/users")
    with graph.client() as client:      # the default policy: a wait of 0.5 to 1 s, then of 1 to 2 s
        client.get("/users", {"$select": "id"})
    tries = graph_tries(graph)
    assert [entry["status"] for entry in tries] == [429, 429, 200]
    stamps = [datetime.fromisoformat(entry["time"]) for entry in tries]
    gaps = [(later - earlier).total_seconds() for earlier, later in pairwise(stamps)]
    assert gaps[0] >= 0.5 and gaps[1] >= 1.0, f"the tries came {gaps} s apart"


def test_retry_after_is_honoured(graph: GraphLab):
    graph.emulator.set_faults(script=["429"], retry_after=2, path_prefix="/v1.0/users")
    with graph.client() as client:
        client.token()
        started = time.monotonic()
        client.get("/users", {"$select": "id"})
    assert time.monotonic() - started >= 2


def test_gives_up_throttled_after_the_bounded_attempts(graph: GraphLab):
    graph.emulator.set_faults(rate_429=1.0, retry_after=0, path_prefix="/v1.0/users")
    with pytest.raises(Throttled, match="429 after 3 tries"), graph.client(RetryPolicy(max_attempts=3)) as client:
        client.get("/users", {"$select": "id"})
    assert graph.requests()["routes"]["GET /v1.0/users"] == 3


def test_gives_up_on_gateway_timeouts_after_the_bounded_attempts(graph: GraphLab):
    graph.emulator.set_faults(rate_504=1.0, retry_after=None, path_prefix="/v1.0/users")
    with pytest.raises(Throttled, match="still answered 504 after 3 tries") as gave_up, \
            graph.client(RetryPolicy(max_attempts=3, base_delay=0.1)) as client:
        client.get("/users", {"$select": "id"})
    assert gave_up.value.status == 504
    assert [entry["status"] for entry in graph_tries(graph)] == [504, 504, 504]


def test_a_retry_after_past_the_time_budget_gives_up_at_once(graph: GraphLab):
    graph.emulator.set_faults(script=["429"], retry_after=30, path_prefix="/v1.0/users")
    started = time.monotonic()
    with pytest.raises(Throttled, match="after 1 tries in 0 s; Graph asked to wait 30 s more"), \
            graph.client(RetryPolicy(time_budget=10)) as client:
        client.get("/users", {"$select": "id"})
    assert time.monotonic() - started < 5
    assert [entry["status"] for entry in graph_tries(graph)] == [429]


def test_batch_gives_up_naming_how_many_inner_requests_stayed_throttled(graph: GraphLab):
    graph.emulator.set_faults(rate_429=1.0, retry_after=0, path_prefix="/v1.0/users")
    batch = [BatchRequest(f"/users/{upn}?$select=id") for upn in ("synced@contoso.com", "o'brien@contoso.com")]
    with pytest.raises(Throttled, match=r"still throttled 2 of 2 requests in a \$batch after 3 tries"), \
            graph.client(RetryPolicy(max_attempts=3)) as client:
        client.batch(batch)
    report = graph.requests()
    assert report["routes"]["POST /v1.0/$batch"] == 3
    assert sum(report["inner_counts"].values()) == 6


def test_budget_throttling_is_waited_out(graph: GraphLab):
    graph.emulator.set_throttle(budget=3, window_seconds=2)     # Retry-After from the resource-unit bucket
    with graph.client() as client:
        pages = [client.get("/users", {"$select": "id"}) for _request in range(6)]
    assert all(len(page["value"]) == len(USERS) for page in pages)
    assert graph.requests()["statuses"].get("429", 0) >= 1


@pytest.mark.parametrize("unavailable", ["503", "504"])
def test_batch_resends_only_the_throttled_inner_requests_in_order(graph: GraphLab, unavailable: str):
    # The outer POST draws "none", then the three inner requests draw 429, none, 503 (or 504).
    graph.emulator.set_faults(script=["none", "429", "none", unavailable], retry_after=1)
    upns = ["user.lastname@contoso.com", "synced@contoso.com", "o'brien@contoso.com"]
    batch = [BatchRequest(f"/users/{upn}?$select=userPrincipalName") for upn in upns]
    with graph.client() as client:
        answers = client.batch(batch)
    assert [answer.body["userPrincipalName"] for answer in answers] == upns
    report = graph.requests()
    assert report["routes"]["POST /v1.0/$batch"] == 2
    assert [entry["status"] for entry in report["log"] if entry["inner"]] == [429, 200, int(unavailable), 200, 200]


@pytest.mark.parametrize(("broken", "refusal", "listings"), [
    ("foreign", "next page link outside https://", 1),      # the token never goes to the other host
    ("repeat", "same next page link twice", 2),             # a page that links to itself ends, not loops
])
def test_paging_refuses_a_next_link_to_another_host_or_back(graph: GraphLab, broken: str, refusal: str,
                                                            listings: int):
    graph.emulator.set_faults(next_link=broken, path_prefix="/v1.0/users")
    with graph.client() as client, pytest.raises(GraphError, match=refusal):
        for _page in islice(client.pages("/users", {"$top": "2", "$select": "id"}), 10):
            pass
    assert len(graph_tries(graph)) == listings


def test_advanced_query_headers_go_with_every_page(graph: GraphLab):
    graph.load(bulk_users(2500))
    graph.emulator.clear_requests()
    with graph.client() as client:
        pages = list(client.pages("/users", {"$filter": "startsWith(onPremisesImmutableId, 'YnVsay0')",
                                             "$count": "true", "$top": "999", "$select": "id"}, ADVANCED_QUERY))
    assert [len(page) for page in pages] == [999, 999, 502]
    assert graph.requests()["statuses"] == {"200": 3 + 2}   # three pages, OIDC discovery and the token


def token_requests(graph: GraphLab) -> int:
    return sum(count for route, count in graph.requests()["routes"].items() if route.endswith("/oauth2/v2.0/token"))


def test_token_is_renewed_near_expiry_and_reused_until_then(graph: GraphLab):
    # msal treats a cached token with less than 5 minutes left as expired: with 303 s tokens the
    # first token serves for about 3 s, then the next call asks for a new one.
    graph.emulator.set_config(token_lifetime=303)
    with graph.client() as client:
        first = client.token()
        issued = time.monotonic()
        client.get("/users", {"$select": "id"})
        assert client.token() == first
        assert token_requests(graph) == 1
        time.sleep(max(0.0, issued + 3.2 - time.monotonic()))
        client.get("/users", {"$select": "id"})
        renewed = client.token()
    assert renewed != first
    assert token_requests(graph) == 2
    assert [entry["status"] for entry in graph.requests()["log"] if entry["path"] == "/v1.0/users"] == [200, 200]


def test_token_is_reused_across_calls(graph: GraphLab):
    with graph.client() as client:
        first = find_cloud_users(client, LookupRequest(upn=("synced@contoso.com",)))
        second = find_cloud_users(client, LookupRequest(everyone=True, include_roles=True))
    assert len(first.users) == 1 and len(second.users) == len(USERS)
    assert token_requests(graph) == 1
