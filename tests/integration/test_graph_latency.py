"""The emulator's latency model: what a request costs on Graph, paid in parallel as Graph pays it.

A page costs `latency_ms` plus `latency_per_object_ms` for each user in it; a `$batch` costs its
slowest inner request; parallel requests wait side by side. Only lower bounds and "much less than
the sum" are asserted: a shared machine can make any request slower, never faster.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from ansible_collections.hybrid.identity.plugins.module_utils.graph._graph import BatchRequest
from ansible_collections.hybrid.identity.plugins.module_utils.graph._graph_query import equals_filter, query_string
from tests.integration._graph_lab import USERS, GraphLab, bulk_users

BASE_MS = 100
PER_OBJECT_MS = 0.4          # Graph's cost: a page of 999 users about 0.5 s


@pytest.fixture
def tenant(graph: GraphLab) -> GraphLab:
    graph.load(USERS[:1] + bulk_users(1199))
    graph.emulator.clear_requests()
    return graph


def timed(call) -> tuple[float, object]:
    started = time.monotonic()
    answer = call()
    return time.monotonic() - started, answer


def test_a_listing_page_costs_the_base_and_each_user_in_it(tenant: GraphLab):
    tenant.emulator.set_faults(latency_ms=BASE_MS, latency_per_object_ms=PER_OBJECT_MS)

    with tenant.client() as client:
        client.token()
        full, page = timed(lambda: client.get("/users", {"$top": "999", "$select": "id"}))
        small, one = timed(lambda: client.get("/users", {"$top": "1", "$select": "id"}))

    assert len(page["value"]) == 999 and len(one["value"]) == 1
    assert full >= (BASE_MS + 999 * PER_OBJECT_MS) / 1000
    assert small >= (BASE_MS + PER_OBJECT_MS) / 1000
    logged = [entry["duration_ms"] for entry in tenant.requests()["log"] if entry["path"] == "/v1.0/users"]
    assert logged[0] >= BASE_MS + 999 * PER_OBJECT_MS
    assert logged[1] >= BASE_MS + PER_OBJECT_MS
    assert logged[1] < logged[0]


def test_a_batch_costs_its_slowest_inner_request_not_their_sum(tenant: GraphLab):
    base_ms = 400
    tenant.emulator.set_faults(latency_ms=base_ms, latency_per_object_ms=PER_OBJECT_MS)
    upns = [f"bulk{n:05d}@contoso.com" for n in range(10)]
    queries = [query_string({"$filter": equals_filter("userPrincipalName", upn), "$select": "id"}) for upn in upns]
    inner = [BatchRequest(f"/users?{query}", listing=True) for query in queries]
    inner.append(BatchRequest("/users?$top=999&$select=id", listing=True))

    with tenant.client() as client:
        client.token()
        elapsed, answers = timed(lambda: client.batch(inner))

    assert [answer.status for answer in answers] == [200] * 11
    slowest = (base_ms + 999 * PER_OBJECT_MS) / 1000
    assert elapsed >= slowest
    assert elapsed < 3 * slowest          # the sum would be 10 * 0.4 s + 0.8 s
    batch = [entry for entry in tenant.requests()["log"] if entry["path"] == "/v1.0/$batch"]
    assert len(batch) == 1 and batch[0]["duration_ms"] >= slowest * 1000


def test_parallel_requests_wait_side_by_side(tenant: GraphLab):
    base_ms, parallel = 600, 8
    tenant.emulator.set_faults(latency_ms=base_ms)
    with tenant.client() as client:
        token = client.token()
        url = client.url("/users", {"$top": "5", "$select": "id"})
    verify = tenant.connection["graph_ca_cert"]

    def one_request(_number: int) -> int:
        with requests.Session() as session:   # a connection of its own, as each worker of a pool has
            return session.get(url, headers={"Authorization": f"Bearer {token}"}, verify=verify,
                               timeout=30).status_code

    with ThreadPoolExecutor(parallel) as pool:
        elapsed, statuses = timed(lambda: list(pool.map(one_request, range(parallel))))

    assert statuses == [200] * parallel
    assert elapsed >= base_ms / 1000
    assert elapsed < parallel * base_ms / 1000 / 3     # one after the other would take 4.8 s


@pytest.mark.parametrize(("settings", "message"), [
    ({"latency_ms": -1}, "latency_ms must be a number of milliseconds from 0 to 60000"),
    ({"latency_ms": 90_000}, "latency_ms must be a number"),
    ({"latency_per_object_ms": "0.4"}, "latency_per_object_ms must be a number of milliseconds from 0 to 100"),
    ({"latency_per_object_ms": 101}, "latency_per_object_ms must be a number"),
])
def test_latency_settings_are_checked(graph: GraphLab, settings: dict, message: str):
    with pytest.raises(ValueError, match=message):
        graph.emulator.set_faults(**settings)
    graph.emulator.set_faults(latency_ms=100, latency_per_object_ms=0.4)
    assert graph.emulator.faults()["latency_per_object_ms"] == 0.4
