"""Request and response values shared by every part of the emulator (internal).

The HTTP server turns each wire request into a `Request`; `$batch` builds the same
object for each inner request, so both go through the one Graph pipeline.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

GRAPH_JSON = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"


class Headers:
    """Case-insensitive header map that keeps the first spelling it saw."""

    def __init__(self, items=()):
        self._items: dict[str, tuple[str, str]] = {}
        for name, value in dict(items).items() if isinstance(items, dict) else items:
            self[name] = value

    def __setitem__(self, name: str, value: str) -> None:
        self._items[name.lower()] = (name, str(value))

    def __getitem__(self, name: str) -> str:
        return self._items[name.lower()][1]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._items

    def get(self, name: str, default: str | None = None) -> str | None:
        found = self._items.get(name.lower())
        return found[1] if found else default

    def pop(self, name: str, default: str | None = None) -> str | None:
        found = self._items.pop(name.lower(), None)
        return found[1] if found else default

    def items(self):
        return list(self._items.values())

    def as_dict(self) -> dict[str, str]:
        return dict(self._items.values())


@dataclass
class Request:
    method: str
    path: str                      # decoded path, no query string
    query: dict[str, str]          # query options, keys as sent ($filter, $select ...)
    headers: Headers
    body: bytes
    base_url: str                  # https://127.0.0.1:PORT, what the client used
    raw_query: str = ""
    client_ip: str = "127.0.0.1"
    inner: bool = False            # an inner request of a $batch

    @classmethod
    def from_target(cls, method: str, target: str, headers: Headers, body: bytes, base_url: str,
                    client_ip: str = "127.0.0.1", inner: bool = False) -> Request:
        from urllib.parse import unquote

        parts = urlsplit(target)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        return cls(method=method.upper(), path=unquote(parts.path), query=query, headers=headers,
                   body=body, base_url=base_url, raw_query=parts.query, client_ip=client_ip, inner=inner)

    def json(self):
        """The body as JSON; ValueError when it is not JSON."""
        if not self.body:
            raise ValueError("the request has no body")
        return json.loads(self.body.decode("utf-8"))

    def option(self, name: str) -> str | None:
        """An OData query option, with or without its `$`, in any case (Graph accepts both)."""
        wanted = name.lstrip("$").lower()
        for key, value in self.query.items():
            if key.lstrip("$").lower() == wanted:
                return value
        return None


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: Headers = field(default_factory=Headers)
    reset_connection: bool = False   # a fault: close the TCP connection with a reset, send nothing
    objects: int = 0                 # objects in a listing page's `value`: the latency knob charges each
    delay: float = 0.0               # seconds of modelled latency an inner $batch answer costs (not slept)

    @classmethod
    def json(cls, status: int, payload, content_type: str = "application/json; charset=utf-8",
             headers: dict[str, str] | None = None) -> Response:
        response = cls(status, json.dumps(payload, separators=(",", ":")).encode("utf-8"))
        response.headers["Content-Type"] = content_type
        for name, value in (headers or {}).items():
            response.headers[name] = value
        return response

    @classmethod
    def empty(cls, status: int = 204, headers: dict[str, str] | None = None) -> Response:
        response = cls(status)
        for name, value in (headers or {}).items():
            response.headers[name] = value
        return response

    def json_body(self):
        return json.loads(self.body) if self.body else None
