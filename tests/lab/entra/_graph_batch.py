"""Graph JSON batching, `POST /v1.0/$batch` (internal).

At most 20 requests; each inner request goes through the same pipeline as a wire
request (auth, permissions, faults, throttling) and gets its own status, so a 200 batch
can hold inner 429s with their own `Retry-After`. `dependsOn` is honoured: a request
whose dependency failed gets 424. Graph runs the inner requests side by side: the batch's
modelled latency is that of its slowest inner request.
"""

from __future__ import annotations

import json

from ._errors import GraphError, bad_request
from ._graph_context import Context, Route
from ._http import GRAPH_JSON, Headers, Request, Response

MAX_BATCH = 20


def _inner_url(url: str) -> str:
    if "://" in url:
        raise bad_request(f"Invalid request URL '{url}': batch request URLs are relative to the version, "
                          "such as /users?$top=5.")
    return "/v1.0/" + url.lstrip("/")


def run_batch(ctx: Context) -> Response:
    body = ctx.json_body()
    requests = body.get("requests")
    if not isinstance(requests, list) or not requests:
        raise bad_request("Invalid batch payload format: a non-empty 'requests' array is required.")
    if len(requests) > MAX_BATCH:
        raise bad_request(f"Number of requests inside batch exceeds the limit of {MAX_BATCH}.")
    seen: set[str] = set()
    for item in requests:
        if not isinstance(item, dict) or not all(isinstance(item.get(k), str) and item.get(k)
                                                 for k in ("id", "method", "url")):
            raise bad_request("Invalid batch payload format: every request needs string 'id', 'method' and 'url'.")
        if item["id"] in seen:
            raise bad_request(f"Batch request ids must be unique; '{item['id']}' appears twice.")
        seen.add(item["id"])
        if item["url"].lstrip("/").lower().startswith("$batch"):
            raise bad_request("A batch request can't contain another $batch request.")
    statuses: dict[str, int] = {}
    responses = []
    slowest = [0.0]
    for item in requests:
        depends = item.get("dependsOn") or []
        failed = [d for d in depends if statuses.get(d, 0) >= 400 or d not in statuses]
        if failed:
            status = 424
            responses.append({"id": item["id"], "status": status, "headers": {"Content-Type": "application/json"},
                              "body": {"error": {"code": "FailedDependency",
                                                 "message": f"Request {failed[0]} failed or did not run first."}}})
            statuses[item["id"]] = status
            continue
        responses.append(_run_one(ctx, item, slowest))
        statuses[item["id"]] = responses[-1]["status"]
    batch = Response.json(200, {"responses": responses}, content_type=GRAPH_JSON)
    batch.delay = slowest[0]
    return batch


def _run_one(ctx: Context, item: dict, slowest: list[float]) -> dict:
    headers = Headers({k: str(v) for k, v in (item.get("headers") or {}).items()})
    headers["Authorization"] = ctx.request.headers.get("Authorization") or ""
    payload = item.get("body")
    raw_body = b""
    if payload is not None:
        raw_body = json.dumps(payload).encode("utf-8")
        if "Content-Type" not in headers:
            headers["Content-Type"] = "application/json"
    try:
        target = _inner_url(item["url"])
    except GraphError as error:
        response = error.response("batch", None)
    else:
        inner = Request.from_target(item["method"], target, headers, raw_body, ctx.request.base_url,
                                    client_ip=ctx.request.client_ip, inner=True)
        response = ctx.service.handle(inner)
        slowest[0] = max(slowest[0], response.delay)
    out_headers = {name: value for name, value in response.headers.items()
                   if name.lower() in ("content-type", "retry-after", "location", "odata-version")}
    entry = {"id": item["id"], "status": response.status, "headers": out_headers}
    if response.body:
        content = response.json_body() if "json" in (response.headers.get("Content-Type") or "") \
            else response.body.decode("utf-8")
        entry["body"] = content
    return entry


ROUTES = [Route("POST", "/$batch", run_batch, permissions=(), throttled=False)]
