"""No silent gap in a bulk read: spoiled answers from a listing, a $batch and the token endpoint (rule book §8).

The emulator spoils answers the way broken gateways and busy services do: an empty 200, a page
without `value`, JSON cut off, an HTML 502, a 500, a page that lost its next link, and a 429 or
503 from the identity platform. Each is retried and the read completes, or the read fails
loudly; never does a listing end short with success.
"""

from __future__ import annotations

import pytest

from ansible_collections.hybrid.identity.plugins.module_utils.graph._cloud_users import (
    IncompleteListing,
    LookupRequest,
    find_cloud_users,
)
from ansible_collections.hybrid.identity.plugins.module_utils.graph._graph import MalformedAnswer
from ansible_collections.hybrid.identity.plugins.module_utils.graph._graph_errors import Throttled
from ansible_collections.hybrid.identity.plugins.module_utils.graph._graph_retry import RetryPolicy
from tests.integration._ansible import run_module
from tests.integration._graph_lab import USERS, GraphLab, bulk_users, graph_tries

TENANT_SIZE = 2500          # three listing pages of 999
SPOILERS = ["empty", "novalue", "truncated", "502", "500"]
QUICK = RetryPolicy(max_attempts=3, base_delay=0.05)


@pytest.fixture
def tenant(graph: GraphLab) -> GraphLab:
    graph.load(USERS[:1] + bulk_users(TENANT_SIZE - 1))
    graph.emulator.clear_requests()
    return graph


@pytest.mark.parametrize("spoiler", SPOILERS)
def test_a_spoiled_listing_page_is_fetched_again_and_the_listing_completes(tenant: GraphLab, spoiler: str):
    # the second page comes back spoiled once
    tenant.emulator.set_faults(script=["none", spoiler], path_prefix="/v1.0/users")

    status, result, _output = tenant.lookup(all=True)

    assert status == "SUCCESS", result
    assert len({user["id"] for user in result["users"]}) == TENANT_SIZE
    statuses = [entry["status"] for entry in graph_tries(tenant)]
    spoiled = 200 if spoiler in ("empty", "novalue", "truncated") else int(spoiler)
    assert statuses == [200, spoiled, 200, 200], statuses


@pytest.mark.parametrize("spoiler", SPOILERS)
def test_a_listing_page_that_stays_spoiled_fails_the_read(tenant: GraphLab, spoiler: str):
    tenant.emulator.set_faults(script=["none"] + [spoiler] * 3, path_prefix="/v1.0/users")

    with pytest.raises((MalformedAnswer, Throttled)) as failure, tenant.client(QUICK) as client:
        list(client.pages("/users", {"$top": "999", "$select": "id"}))

    text = str(failure.value)
    if spoiler in ("502", "500"):
        assert f"still answered {spoiler} after 3 tries" in text
    else:
        assert "where a page of the listing was due, 3 times; the listing is incomplete" in text
    assert failure.value.hint
    assert len(graph_tries(tenant)) == 4


def test_soft_match_check_fails_rather_than_predict_from_a_short_listing(tenant: GraphLab, tmp_path):
    """What used to make every user a `new_user`: the listing's second page empty every time."""
    tenant.emulator.set_faults(script=["none"] + ["empty"] * 8, path_prefix="/v1.0/users", retry_after=0)
    onprem = [{"distinguishedName": "CN=bulk00001,OU=Staff,DC=contoso,DC=com", "sAMAccountName": "bulk00001",
               "userPrincipalName": "bulk00001@contoso.com", "mail": "bulk00001@contoso.com",
               "proxyAddresses": ["SMTP:bulk00001@contoso.com"],
               "objectGUID": "9a7ed32a-0ab4-4d46-aa48-2d7d273334f6"}]

    status, result, _output = run_module("soft_match_check", tenant.connection | {"onprem_users": onprem})

    assert status == "FAILED", result
    assert "where a page of the listing was due" in result["msg"] and "incomplete" in result["msg"]
    assert "results" not in result


@pytest.mark.parametrize("spoiler", ["empty", "novalue"])
def test_a_spoiled_answer_inside_a_batch_is_asked_again(graph: GraphLab, spoiler: str):
    graph.load(USERS[:1] + bulk_users(60))
    graph.emulator.set_faults(script=[spoiler, "none", spoiler], path_prefix="/v1.0/users")
    graph.emulator.clear_requests()
    addresses = [f"bulk{n:05d}@contoso.com" for n in range(40)]

    status, result, _output = graph.lookup(smtp=addresses)

    assert status == "SUCCESS", result
    assert result["not_found"]["smtp"] == []
    assert len(result["users"]) == 40
    # 40 inner requests, two of them sent again
    assert graph.requests()["inner_routes"]["GET /v1.0/users"] == 42


@pytest.mark.parametrize("spoiler", ["empty", "truncated", "502", "500"])
def test_a_spoiled_batch_answer_is_sent_again(graph: GraphLab, spoiler: str):
    graph.load(USERS[:1] + bulk_users(30))
    graph.emulator.set_faults(script=[spoiler], path_prefix="/v1.0/$batch")
    graph.emulator.clear_requests()

    status, result, _output = graph.lookup(smtp=[f"bulk{n:05d}@contoso.com" for n in range(10)])

    assert status == "SUCCESS", result
    assert len(result["users"]) == 10
    assert graph.requests()["routes"]["POST /v1.0/$batch"] == 2


def test_a_batch_answer_that_stays_spoiled_fails_the_lookup(graph: GraphLab):
    graph.emulator.set_faults(script=["novalue"] * 3, path_prefix="/v1.0/users")
    with pytest.raises(MalformedAnswer, match="a listing page without a value list inside the \\$batch, 3 times"), \
            graph.client(QUICK) as client:
        find_cloud_users(client, LookupRequest(smtp=("user@contoso.com",)))


@pytest.mark.parametrize("busy", [["503"], ["429"], ["none", "503"], ["none", "429"], ["429", "503", "429"]],
                         ids=["discovery-503", "discovery-429", "token-503", "token-429", "both-three-times"])
def test_a_busy_identity_platform_is_asked_again(graph: GraphLab, busy: list[str]):
    graph.emulator.set_faults(token_script=busy, retry_after=1)

    status, result, _output = graph.lookup(upn=["synced@contoso.com"])

    assert status == "SUCCESS", result
    assert [user["userPrincipalName"] for user in result["users"]] == ["synced@contoso.com"]
    assert graph.emulator.faults()["token_script_left"] == []


def test_an_identity_platform_that_stays_busy_is_not_called_an_unknown_tenant(graph: GraphLab):
    graph.emulator.set_faults(token_script=["none"] + ["429"] * 3, retry_after=0)
    with pytest.raises(Throttled, match=r"identity platform at .* still answered 429 after 3 tries"), \
            graph.client(QUICK) as client:
        client.token()


def test_a_listing_that_lost_a_next_link_is_named_against_the_count(tenant: GraphLab):
    # the first page comes back without its @odata.nextLink: the listing looks complete at 999 users
    tenant.emulator.set_faults(script=["nolink"], path_prefix="/v1.0/users")

    status, result, output = tenant.lookup(all=True)

    assert status == "SUCCESS", result
    assert len(result["users"]) == 999
    # the warning, as Ansible prints it
    assert f"returned 999 users, but Microsoft Graph counts {TENANT_SIZE}" in " ".join(output.split())
    assert tenant.requests()["routes"]["GET /v1.0/users/$count"] == 1


def test_count_check_fail_stops_at_a_short_listing(tenant: GraphLab):
    tenant.emulator.set_faults(script=["nolink"], path_prefix="/v1.0/users")
    status, result, _output = tenant.lookup(all=True, count_check="fail")
    assert status == "FAILED", result
    assert f"returned 999 users, but Microsoft Graph counts {TENANT_SIZE}" in result["msg"]
    assert "count_check: warn" in result["hint"]

    with tenant.client() as client:
        tenant.emulator.set_faults(script=["nolink"], path_prefix="/v1.0/users")
        with pytest.raises(IncompleteListing):
            find_cloud_users(client, LookupRequest(everyone=True), count_check="fail")


def test_count_check_skip_asks_for_no_count(tenant: GraphLab):
    status, result, _output = tenant.lookup(all=True, count_check="skip")
    assert status == "SUCCESS", result
    assert "GET /v1.0/users/$count" not in tenant.requests()["routes"]
    assert len(result["users"]) == TENANT_SIZE


def test_many_values_are_answered_from_one_listing(tenant: GraphLab):
    """Past 2,000 values, one listing of the tenant instead of one filter per address (rule book §8)."""
    addresses = [f"b{n:05d}@contoso.com" for n in range(2100)] + ["nobody@contoso.com"]

    status, result, _output = tenant.lookup(smtp=addresses)

    assert status == "SUCCESS", result
    assert len(result["users"]) == 2100
    assert result["not_found"]["smtp"] == ["nobody@contoso.com"]
    routes = tenant.requests()["routes"]
    assert routes["GET /v1.0/users"] == 3 and "POST /v1.0/$batch" not in routes
