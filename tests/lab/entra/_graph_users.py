"""Graph `/users`: list, `$count`, get by id or UPN, PATCH; the deleted users of `/directory/deletedItems`
(internal)."""

from __future__ import annotations

from ._directory import DELETED_USERS, USERS
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


def list_deleted_users(ctx: Context) -> Response:
    """Soft-deleted users, kept 30 days (Graph: GET /directory/deletedItems/microsoft.graph.user)."""
    return list_collection(ctx.request, ctx.directory, DELETED_USERS, USER,
                           "directory/deletedItems/microsoft.graph.user")


def get_deleted_item(ctx: Context) -> Response:
    key = ctx.params["id"]
    return entity(ctx.request, ctx.directory.get(DELETED_USERS, key), key, USER, "directory/deletedItems")


ROUTES = [
    Route("GET", "/users", list_users, READ_USERS, cost_path="users"),
    Route("GET", "/users/$count", count_users, READ_USERS, cost_path="users"),
    Route("GET", "/users/{id}", get_user, READ_USERS),
    Route("PATCH", "/users/{id}", patch_user, WRITE_USERS),
    Route("GET", "/directory/deletedItems/microsoft.graph.user", list_deleted_users, READ_USERS,
          cost_path="users"),
    Route("GET", "/directory/deletedItems/{id}", get_deleted_item, READ_USERS),
]
