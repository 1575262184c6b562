"""The whole-tenant read in UPN-prefix partitions side by side: every user exactly once, proven by the counts.

A tenant of more than 5,000 users is read as listings of `startsWith(userPrincipalName, ...)`
partitions, run `parallel_listings` at a time, each proven against its own `$count`. The result
must be the sequential listing's, user for user and in the same order; a partition that comes
back short must be caught and the tenant read again in one listing.
"""

from __future__ import annotations

from collections import Counter

import pytest

from ansible_collections.hybrid.identity.plugins.module_utils.graph._cloud_users import USER_SELECT, list_users
from tests.integration._ansible import run_module, run_playbook
from tests.integration._graph_lab import USERS, GraphLab, bulk_users

TENANT_SIZE = 6001           # above the 5,000 users where partitions start; bulk00000..bulk05996 and USERS


@pytest.fixture
def tenant(graph: GraphLab) -> GraphLab:
    graph.load(USERS + bulk_users(TENANT_SIZE - len(USERS)))
    graph.emulator.clear_requests()
    return graph


def user_listings(graph: GraphLab) -> list[str]:
    """The queries of the wire listings of /users."""
    return [entry["query"] for entry in graph.requests()["log"] if entry["path"] == "/v1.0/users"
            and not entry["inner"]]


def test_lookup_all_reads_every_user_once_and_as_the_one_listing_does(tenant: GraphLab):
    status, sequential, _output = tenant.lookup(all=True, parallel_listings=1)
    assert status == "SUCCESS", sequential
    assert not any("startsWith" in query for query in user_listings(tenant))
    tenant.emulator.clear_requests()

    status, parallel, _output = tenant.lookup(all=True, parallel_listings=4)

    assert status == "SUCCESS", parallel
    assert not parallel.get("warnings")
    assert len(parallel["users"]) == TENANT_SIZE
    assert max(Counter(user["id"] for user in parallel["users"]).values()) == 1
    assert parallel["users"] == sequential["users"]
    partitioned = [query for query in user_listings(tenant) if "startsWith" in query]
    assert len(partitioned) >= 7                       # bulk0 .. bulk5, and the USERS' own prefixes
    assert any("startsWith(userPrincipalName,'o')" in query for query in partitioned)     # o'brien's
    inner = tenant.requests()["inner_routes"]
    assert inner.get("GET /v1.0/users", 0) >= 45       # the prefixes' $count, through $batch


def test_soft_match_check_predicts_the_same_from_the_parallel_read(tenant: GraphLab):
    onprem = [{"distinguishedName": f"CN=bulk{n:05d},OU=Staff,DC=contoso,DC=com", "sAMAccountName": f"bulk{n:05d}",
               "userPrincipalName": f"bulk{n:05d}@contoso.com", "mail": f"bulk{n:05d}@contoso.com",
               "proxyAddresses": [f"SMTP:bulk{n:05d}@contoso.com"],
               "objectGUID": f"9a7ed32a-0ab4-4d46-aa48-2d7d2733{n:04d}"} for n in (1, 998, 999, 4000, 5996)]
    onprem.append({"distinguishedName": "CN=nobody,OU=Staff,DC=contoso,DC=com", "sAMAccountName": "nobody",
                   "userPrincipalName": "nobody@contoso.com", "mail": "nobody@contoso.com",
                   "proxyAddresses": ["SMTP:nobody@contoso.com"],
                   "objectGUID": "9a7ed32a-0ab4-4d46-aa48-2d7d27339999"})
    args = tenant.connection | {"onprem_users": onprem, "return_results": "all"}

    status, sequential, _output = run_module("soft_match_check", args | {"parallel_listings": 1})
    assert status == "SUCCESS", sequential
    tenant.emulator.clear_requests()
    status, parallel, _output = run_module("soft_match_check", args | {"parallel_listings": 3})

    assert status == "SUCCESS", parallel
    assert any("startsWith" in query for query in user_listings(tenant))
    assert parallel["results"] == sequential["results"]
    assert parallel["summary"] == sequential["summary"]
    assert parallel["summary"]["outcomes"].get("new_user") == 1


def test_a_partition_that_comes_back_short_is_caught_and_the_tenant_read_again(tenant: GraphLab):
    # the first page (with $count) is left alone; the first partition page to arrive loses its next link
    tenant.emulator.set_faults(script=["none", "nolink"], path_prefix="/v1.0/users", batch_inner=False)
    warnings: list[str] = []

    with tenant.client() as client:
        users = list_users(client, USER_SELECT, "fail", warnings, parallel=2)

    assert tenant.emulator.faults()["injected"]["nolink"] == 1
    assert len(users) == TENANT_SIZE and len({user["id"] for user in users}) == TENANT_SIZE
    assert len(warnings) == 1, warnings
    assert "did not prove complete" in warnings[0] and "listed 999, but Microsoft Graph counts 1000" in warnings[0]
    plain = [query for query in user_listings(tenant) if "startsWith" not in query and "count" not in query]
    assert len(plain) == 7                            # the one listing again: 6,001 users in pages of 999


def test_count_check_skip_reads_in_one_listing(tenant: GraphLab):
    with tenant.client() as client:
        users = list_users(client, USER_SELECT, "skip", [], parallel=4)

    assert len(users) == TENANT_SIZE
    assert not any("startsWith" in query or "count" in query for query in user_listings(tenant))


def test_the_audit_role_passes_parallel_listings_to_the_read(tenant: GraphLab, lab_vars, tmp_path):
    graph_auth = {key: tenant.connection[key] for key in ("tenant_id", "client_id", "client_secret",
                                                          "authority_host", "graph_endpoint", "graph_ca_cert")}
    role_vars = {
        "soft_match_audit_ad_connection": {key: lab_vars[key] for key in ("ad_server", "ad_username", "ad_password",
                                                                          "ad_ca_cert")},
        "soft_match_audit_graph_auth": graph_auth,
        # a container every AD domain has: the scope is not what this test is about
        "soft_match_audit_search_base": f"CN=Users,{lab_vars['ad_base_dn']}",
        "soft_match_audit_report_dir": str(tmp_path / "reports"),
        "soft_match_audit_fail_on": [],
    }

    def audit(**overrides):
        play = {"hosts": "localhost", "gather_facts": False, "vars": role_vars | overrides,
                "roles": ["hybrid.identity.soft_match_audit"]}
        completed = run_playbook([play])
        assert completed.returncode == 0, completed.stdout + completed.stderr
        listings = user_listings(tenant)
        tenant.emulator.clear_requests()
        return listings

    assert not any("startsWith" in query for query in audit(soft_match_audit_parallel_listings=1))
    assert any("startsWith" in query for query in audit())  # the default, 4, as the module's
