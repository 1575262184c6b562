"""5,000 on-prem users against 5,000 cloud users in one module call, read in bulk.

Architecture, performance shape: one paged LDAP search (page size 1000) and one paged Graph
listing of /users ($top=999), joined in memory; never one call per user. Graph requests are
counted at the emulator; LDAP searches in Samba's own log, whose level 5 writes one line per
SearchRequest the DC answers (a paged search sends one per page, on one connection). Timings
belong to `make bench`, not here.
"""

from __future__ import annotations

import contextlib
import math
import re
import shutil
import subprocess

import pytest

from tests.integration._ansible import task_result
from tests.integration.test_soft_match_check import check_task

USERS = 5000
LDAP_PAGE_SIZE = 1000  # plugins/module_utils/ad/_ad.py PAGE_SIZE
# ldap_backend.c, at debug level 5: "... SearchRequest by <SID> from <address> filter: [...] basedn: [...] ..."
SEARCH_LINE = re.compile(r"SearchRequest by \S+ from (?P<client>\S+) filter: \[(?P<filter>.*?)\] "
                         r"basedn: \[(?P<base>.*?)\] scope: \[(?P<scope>\w+)\]")


@contextlib.contextmanager
def samba_search_log(lab):
    """The SearchRequests Samba answers inside the block, as (client, filter, base, scope)."""
    dc = lab.service("ad")
    smbcontrol = shutil.which("smbcontrol")
    assert smbcontrol, "smbcontrol (samba-common-bin) is needed to change the DC's log level"

    def control(*arguments) -> str:
        done = subprocess.run([smbcontrol, "-s", str(dc.conf_path), "samba", *arguments], capture_output=True,
                              text=True, timeout=30, check=True)
        return done.stdout

    level = re.search(r"\ball:(\d+)", control("debuglevel"))
    start = dc.log_path.stat().st_size
    searches: list[tuple[str, str, str, str]] = []
    control("debug", "5")
    try:
        yield searches
    finally:
        control("debug", level.group(1) if level else "0")
    with dc.log_path.open(errors="replace") as log:
        log.seek(start)
        searches += [match.group("client", "filter", "base", "scope") for match in SEARCH_LINE.finditer(log.read())]


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
def test_five_thousand_users_in_one_call_with_one_paged_search_and_one_paged_listing(bulk_tenant, lab_vars):
    emulator = bulk_tenant.service("entra").emulator
    emulator.clear_requests()
    scope = f"OU=Bulk,{lab_vars['lab_scenario_ou']}"

    with samba_search_log(bulk_tenant) as searches:
        completed, result = task_result(check_task(search_base=scope), extra_vars_files=(bulk_tenant.vars_path,))

    assert not result.get("failed"), completed.stdout[-3000:]
    assert result["counts"] == {"onprem_users": USERS, "cloud_users": USERS, "deleted_cloud_users": 0,
                                "cloud_objects": 0, "results": USERS}
    assert result["summary"]["outcomes"] == {"soft_match_smtp": USERS}
    routes = emulator.requests(log=False)["routes"]
    assert routes["GET /v1.0/users"] == math.ceil(USERS / 999)  # the pages of one listing
    assert routes.pop("GET /v1.0/users/$count") == 1              # and its length checked against Graph's count
    assert not any(route.startswith(("GET /v1.0/users/", "POST /v1.0/$batch")) for route in routes)
    # plus the token (2), domains, switches, roles (2), groups, contacts and the soft-deleted users
    assert sum(routes.values()) <= math.ceil(USERS / 999) + 9
    # One paged search: its pages are the only searches of the scope, all alike, all on one connection.
    # Samba hands out a cookie with every full page, so 5,000 entries take 5 full pages and a last empty one.
    pages = [search for search in searches if search[2].casefold() == scope.casefold()]
    assert len(pages) == USERS // LDAP_PAGE_SIZE + 1, searches
    assert len(set(pages)) == 1, pages
    assert pages[0][3] == "SUB"
    # Nothing else searched beyond the base object: no per-user lookups.
    assert all(search[3] == "BASE" for search in searches if search not in pages), searches
