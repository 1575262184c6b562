"""5,000 on-prem users against 5,000 cloud users in one module call, read in bulk.

Architecture, performance shape: one paged Graph listing of /users ($top=999), joined in
memory; never one Graph call per user. Timings belong to `make bench`, not here.
"""

from __future__ import annotations

import math

import pytest

from tests.integration._ansible import task_result
from tests.integration.test_soft_match_check import check_task

USERS = 5000


@pytest.fixture(scope="module")
def bulk_tenant(lab):
    names = [f"bulk{number:05d}" for number in range(USERS)]
    lab.load(
        {
            "tenant": {"initial_domain": "contoso.onmicrosoft.com", "verified_domains": ["contoso.com"]},
            "cloud": {
                "users": [
                    {
                        "userPrincipalName": f"{name}@contoso.com",
                        "mail": f"{name}@contoso.com",
                        "proxyAddresses": [f"SMTP:{name}@contoso.com"],
                    }
                    for name in names
                ]
            },
            "ad": {
                "users": [
                    {
                        "sAMAccountName": name,
                        "ou": "OU=Bulk",
                        "userPrincipalName": f"{name}@contoso.com",
                        "mail": f"{name}@contoso.com",
                        "proxyAddresses": [f"SMTP:{name}@contoso.com"],
                    }
                    for name in names
                ]
            },
        }
    )
    return lab


@pytest.mark.bulk
def test_five_thousand_users_in_one_call_with_one_paged_listing(bulk_tenant, lab_vars):
    emulator = bulk_tenant.service("entra").emulator
    emulator.clear_requests()

    completed, result = task_result(
        check_task(search_base=f"OU=Bulk,{lab_vars['lab_scenario_ou']}"), extra_vars_files=(bulk_tenant.vars_path,)
    )

    assert not result.get("failed"), completed.stdout[-3000:]
    assert result["counts"] == {"onprem_users": USERS, "cloud_users": USERS, "cloud_objects": 0}
    assert result["summary"]["outcomes"] == {"soft_match_smtp": USERS}
    routes = emulator.requests(log=False)["routes"]
    assert routes["GET /v1.0/users"] == math.ceil(USERS / 999)  # the pages of one listing
    assert not any(route.startswith(("GET /v1.0/users/", "POST /v1.0/$batch")) for route in routes)
    assert sum(routes.values()) <= math.ceil(USERS / 999) + 8  # plus domains, switches, roles, groups, contacts
