"""What a Graph handler gets, and how a route is declared (internal)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from ._errors import bad_request
from ._http import Request, Response

# Application permissions per area, least privileged first (the one a 403 names).
READ_USERS = ("User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All")
WRITE_USERS = ("User.ReadWrite.All", "Directory.ReadWrite.All")
READ_GROUPS = ("GroupMember.Read.All", "Group.Read.All", "Group.ReadWrite.All", "Directory.Read.All",
               "Directory.ReadWrite.All")
READ_CONTACTS = ("OrgContact.Read.All", "Directory.Read.All", "Directory.ReadWrite.All")
READ_DOMAINS = ("Domain.Read.All", "Domain.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All")
READ_ORGANIZATION = ("Organization.Read.All", "Organization.ReadWrite.All", "Directory.Read.All",
                     "Directory.ReadWrite.All")
READ_SYNC_SETTINGS = ("OnPremDirectorySynchronization.Read.All", "OnPremDirectorySynchronization.ReadWrite.All")
WRITE_SYNC_SETTINGS = ("OnPremDirectorySynchronization.ReadWrite.All",)
READ_ROLES = ("RoleManagement.Read.Directory", "RoleManagement.Read.All", "RoleManagement.ReadWrite.Directory",
              "Directory.Read.All", "Directory.ReadWrite.All")


@dataclass
class Context:
    request: Request
    params: dict
    claims: dict
    directory: object
    service: object                 # the GraphService, for $batch

    def json_body(self) -> dict:
        content_type = (self.request.headers.get("Content-Type") or "").lower()
        if "application/json" not in content_type:
            raise bad_request("Write requests (excluding DELETE) must contain the Content-Type header "
                              "declaration.")
        try:
            body = self.request.json()
        except ValueError as exc:
            raise bad_request("Empty Payload. JSON content expected." if not self.request.body
                              else "Unable to read JSON request payload. Please ensure Content-Type header "
                                   "is set and payload is of valid JSON format.") from exc
        if not isinstance(body, dict):
            raise bad_request("Unable to read JSON request payload: an object was expected.")
        return body


@dataclass
class Route:
    method: str
    template: str                   # "/users/{id}", relative to /v1.0
    handler: Callable[[Context], Response]
    permissions: tuple[str, ...]
    cost_path: str | None = None    # collection name for the throttling cost table
    throttled: bool = True
    pattern: re.Pattern = field(init=False)

    def __post_init__(self):
        # Every {name} in the template is one path segment, passed to the handler by that name.
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.template))
        self.pattern = re.compile(f"^{regex}/?$", re.IGNORECASE)
