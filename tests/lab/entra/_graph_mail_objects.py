"""Graph `/groups` and `/contacts`: the other objects that hold SMTP addresses (internal)."""

from __future__ import annotations

from ._directory import CONTACTS, GROUPS
from ._graph_context import READ_CONTACTS, READ_GROUPS, Context, Route
from ._http import Response
from ._listing import count_collection, entity, list_collection
from ._schema import CONTACT, GROUP


def list_groups(ctx: Context) -> Response:
    return list_collection(ctx.request, ctx.directory, GROUPS, GROUP, "groups")


def count_groups(ctx: Context) -> Response:
    return count_collection(ctx.request, ctx.directory, GROUPS, GROUP)


def get_group(ctx: Context) -> Response:
    key = ctx.params["id"]
    return entity(ctx.request, ctx.directory.get(GROUPS, key), key, GROUP, "groups")


def list_contacts(ctx: Context) -> Response:
    return list_collection(ctx.request, ctx.directory, CONTACTS, CONTACT, "contacts")


def get_contact(ctx: Context) -> Response:
    key = ctx.params["id"]
    return entity(ctx.request, ctx.directory.get(CONTACTS, key), key, CONTACT, "contacts")


ROUTES = [
    Route("GET", "/groups", list_groups, READ_GROUPS),
    Route("GET", "/groups/$count", count_groups, READ_GROUPS),
    Route("GET", "/groups/{id}", get_group, READ_GROUPS),
    Route("GET", "/contacts", list_contacts, READ_CONTACTS),
    Route("GET", "/contacts/{id}", get_contact, READ_CONTACTS),
]
