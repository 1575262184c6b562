"""Errors as Microsoft Graph and the identity platform send them (internal)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from ._http import GRAPH_JSON, Response


def utc_now_text() -> str:
    """Graph's innerError date: seconds, no zone suffix."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")


class GraphError(Exception):
    """A Graph failure: `{"error": {"code", "message", "innerError"}}` with an HTTP status."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})

    def response(self, request_id: str, client_request_id: str | None) -> Response:
        body = {"error": {
            "code": self.code,
            "message": self.message,
            "innerError": {
                "date": utc_now_text(),
                "request-id": request_id,
                "client-request-id": client_request_id or request_id,
            },
        }}
        return Response.json(self.status, body, content_type=GRAPH_JSON, headers=self.headers)


def bad_request(message: str, code: str = "BadRequest") -> GraphError:
    return GraphError(400, code, message)


def unsupported_query(message: str = "Unsupported Query.") -> GraphError:
    return GraphError(400, "Request_UnsupportedQuery", message)


def not_found(key: str) -> GraphError:
    return GraphError(404, "Request_ResourceNotFound",
                      f"Resource '{key}' does not exist or one of its queried reference-property "
                      "objects are not present.")


class TokenError(Exception):
    """An identity platform (AADSTS) failure of the token or discovery endpoints."""

    def __init__(self, status: int, error: str, aadsts: int, description: str):
        super().__init__(f"{error}: AADSTS{aadsts}: {description}")
        self.status = status
        self.error = error
        self.aadsts = aadsts
        self.description = description

    def response(self, authority_base: str) -> Response:
        trace_id = str(uuid.uuid4())
        correlation_id = str(uuid.uuid4())
        now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        body = {
            "error": self.error,
            "error_description": (f"AADSTS{self.aadsts}: {self.description} Trace ID: {trace_id} "
                                  f"Correlation ID: {correlation_id} Timestamp: {now}"),
            "error_codes": [self.aadsts],
            "timestamp": now,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": f"{authority_base}/error?code={self.aadsts}",
        }
        return Response.json(self.status, body, headers={"Cache-Control": "no-store, no-cache",
                                                         "Pragma": "no-cache"})
