"""Graph `/domains`, `/organization` and `/directory/onPremisesSynchronization` (internal)."""

from __future__ import annotations

from ._directory import DOMAINS
from ._errors import bad_request, not_found
from ._graph_context import (
    READ_DOMAINS,
    READ_ORGANIZATION,
    READ_SYNC_SETTINGS,
    WRITE_SYNC_SETTINGS,
    Context,
    Route,
)
from ._http import GRAPH_JSON, Response
from ._listing import check_options, entity, list_collection
from ._schema import DOMAIN

SYNC = "directory/onPremisesSynchronization"


def _select(ctx: Context, record: dict) -> tuple[dict, list[str] | None]:
    """$select over a plain record: the chosen keys, checked against the record's keys."""
    check_options(ctx.request, allowed_filter=False)
    text = ctx.request.option("select")
    if text is None:
        return record, None
    by_lower = {key.lower(): key for key in record}
    names = []
    for raw in text.split(","):
        name = raw.strip()
        if name and name.lower() not in by_lower:
            raise bad_request(f"Parsing OData Select and Expand failed: Could not find a property named '{name}'.")
        if name:
            names.append(by_lower[name.lower()])
    return {name: record[name] for name in names}, names


def _single_list(ctx: Context, entity_set: str, record: dict) -> Response:
    projected, names = _select(ctx, record)
    suffix = f"({','.join(names)})" if names else ""
    return Response.json(200, {"@odata.context": f"{ctx.request.base_url}/v1.0/$metadata#{entity_set}{suffix}",
                               "value": [projected]}, content_type=GRAPH_JSON)


def _single_entity(ctx: Context, entity_set: str, record: dict) -> Response:
    projected, names = _select(ctx, record)
    suffix = f"({','.join(names)})" if names else ""
    body = {"@odata.context": f"{ctx.request.base_url}/v1.0/$metadata#{entity_set}{suffix}/$entity", **projected}
    return Response.json(200, body, content_type=GRAPH_JSON)


def list_domains(ctx: Context) -> Response:
    return list_collection(ctx.request, ctx.directory, DOMAINS, DOMAIN, "domains", allow_filter=False)


def get_domain(ctx: Context) -> Response:
    key = ctx.params["id"]
    return entity(ctx.request, ctx.directory.get(DOMAINS, key), key, DOMAIN, "domains")


def list_organization(ctx: Context) -> Response:
    return _single_list(ctx, "organization", ctx.directory.organization())


def get_organization(ctx: Context) -> Response:
    record = ctx.directory.organization()
    if ctx.params["id"].lower() != record["id"]:
        raise not_found(ctx.params["id"])
    return _single_entity(ctx, "organization", record)


def list_sync_settings(ctx: Context) -> Response:
    return _single_list(ctx, SYNC, ctx.directory.sync_settings())


def get_sync_settings(ctx: Context) -> Response:
    record = ctx.directory.sync_settings()
    if ctx.params["id"].lower() != record["id"]:
        raise not_found(ctx.params["id"])
    return _single_entity(ctx, SYNC, record)


def patch_sync_settings(ctx: Context) -> Response:
    record = ctx.directory.sync_settings()
    if "id" in ctx.params and ctx.params["id"].lower() != record["id"]:
        raise not_found(ctx.params["id"])
    body = ctx.json_body()
    unknown = set(body) - {"features", "configuration"}
    if unknown:
        raise bad_request(f"Property '{sorted(unknown)[0]}' does not exist as a declared property or extension "
                          "property.")
    ctx.directory.patch_features(body.get("features"), body.get("configuration"))
    return Response.empty(204)


ROUTES = [
    Route("GET", "/domains", list_domains, READ_DOMAINS),
    Route("GET", "/domains/{id}", get_domain, READ_DOMAINS),
    Route("GET", "/organization", list_organization, READ_ORGANIZATION),
    Route("GET", "/organization/{id}", get_organization, READ_ORGANIZATION),
    Route("GET", f"/{SYNC}", list_sync_settings, READ_SYNC_SETTINGS),
    Route("GET", f"/{SYNC}/{{id}}", get_sync_settings, READ_SYNC_SETTINGS),
    Route("PATCH", f"/{SYNC}", patch_sync_settings, WRITE_SYNC_SETTINGS),
    Route("PATCH", f"/{SYNC}/{{id}}", patch_sync_settings, WRITE_SYNC_SETTINGS),
]
