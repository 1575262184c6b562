"""Graph `/roleManagement/directory/roleAssignments` and `roleDefinitions` (internal)."""

from __future__ import annotations

from ._directory import ROLE_ASSIGNMENTS, ROLE_DEFINITIONS
from ._graph_context import READ_ROLES, Context, Route
from ._http import Response
from ._listing import entity, list_collection
from ._schema import ROLE_ASSIGNMENT, ROLE_DEFINITION

ASSIGNMENTS = "roleManagement/directory/roleAssignments"
DEFINITIONS = "roleManagement/directory/roleDefinitions"


def list_assignments(ctx: Context) -> Response:
    return list_collection(ctx.request, ctx.directory, ROLE_ASSIGNMENTS, ROLE_ASSIGNMENT, ASSIGNMENTS)


def get_assignment(ctx: Context) -> Response:
    key = ctx.params["id"]
    return entity(ctx.request, ctx.directory.get(ROLE_ASSIGNMENTS, key), key, ROLE_ASSIGNMENT, ASSIGNMENTS)


def list_definitions(ctx: Context) -> Response:
    return list_collection(ctx.request, ctx.directory, ROLE_DEFINITIONS, ROLE_DEFINITION, DEFINITIONS)


def get_definition(ctx: Context) -> Response:
    key = ctx.params["id"]
    return entity(ctx.request, ctx.directory.get(ROLE_DEFINITIONS, key), key, ROLE_DEFINITION, DEFINITIONS)


ROUTES = [
    Route("GET", f"/{ASSIGNMENTS}", list_assignments, READ_ROLES),
    Route("GET", f"/{ASSIGNMENTS}/{{id}}", get_assignment, READ_ROLES),
    Route("GET", f"/{DEFINITIONS}", list_definitions, READ_ROLES),
    Route("GET", f"/{DEFINITIONS}/{{id}}", get_definition, READ_ROLES),
]
