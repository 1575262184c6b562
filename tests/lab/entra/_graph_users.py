"""Graph `/users`: list, `$count`, get by id or UPN, PATCH (internal)."""

from __future__ import annotations

from ._directory import USERS
from ._graph_context import READ_USERS, WRITE_USERS, Context, Route
from ._http import Response
from ._listing import count_collection, entity, list_collection
from ._schema import USER


def list_users(ctx: Context) -> Response:
    return list_collection(ctx.request, ctx.directory, USERS, USER, "users")


def count_users(ctx: Context) -> Response:
    return count_collection(ctx.request, ctx.directory, USERS, USER)


def get_user(ctx: Context) -> Response:
    key = ctx.params["id"]
    return entity(ctx.request, ctx.directory.get_user(key), key, USER, "users")


def patch_user(ctx: Context) -> Response:
    changes = ctx.json_body()
    ctx.directory.patch_user(ctx.params["id"], changes)
    return Response.empty(204)


ROUTES = [
    Route("GET", "/users", list_users, READ_USERS, cost_path="users"),
    Route("GET", "/users/$count", count_users, READ_USERS, cost_path="users"),
    Route("GET", "/users/{id}", get_user, READ_USERS),
    Route("PATCH", "/users/{id}", patch_user, WRITE_USERS),
]
