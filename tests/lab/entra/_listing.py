"""Collection and entity responses with OData query options (internal).

`$filter`, `$select`, `$top` (1..999), `$count` (only with `ConsistencyLevel: eventual`),
`$orderby` and `$search` on users (`_listing_order`), `@odata.nextLink` paging with an opaque
`$skiptoken`, and `@odata.context`, as Graph sends them for directory objects.
"""

from __future__ import annotations

import base64
import binascii
import os
from urllib.parse import quote, urlencode

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ._errors import bad_request, not_found, unsupported_query
from ._http import GRAPH_JSON, Request, Response
from ._listing_order import order_key, ordered, search_predicate
from ._schema import USER, ResourceSchema

DEFAULT_PAGE = 100
MAX_OBJECTS = 10 ** 9
MAX_PAGE = 999
# Skip tokens are sealed (AES-GCM) with a key of this process: a client can neither read the
# position inside nor make up a token, and one opens only for the listing (collection and
# $filter) that made it. The state does not outlive the process, so neither need the tokens.
_SKIPTOKEN_KEY = AESGCM.generate_key(bit_length=128)
_NONCE_BYTES = 12
_UNSUPPORTED_OPTIONS = ("expand", "skip", "apply", "format")
_ORDERING_OPTIONS = ("orderby", "search")   # users only


def is_eventual(request: Request) -> bool:
    return (request.headers.get("ConsistencyLevel") or "").strip().lower() == "eventual"


def wants_count(request: Request) -> bool:
    value = request.option("count")
    if value is None:
        return False
    if value.lower() not in ("true", "false"):
        raise bad_request(f"Invalid value '{value}' for $count; it must be true or false.")
    if value.lower() == "false":
        return False
    if not is_eventual(request):
        raise bad_request("$count is not currently supported.", "Request_BadRequest")
    return True


def page_size(request: Request, default: int = DEFAULT_PAGE) -> int:
    text = request.option("top")
    if text is None:
        return default
    if not text.strip().lstrip("-").isdigit() or not 1 <= int(text) <= MAX_PAGE:
        raise unsupported_query(f"Invalid page size specified: '{text}'. Must be between 1 and {MAX_PAGE} "
                                "inclusive.")
    return int(text)


def _listing_of(request: Request, entity_path: str) -> bytes:
    """What a skip token is bound to: the collection, the filter, the order and the search of the listing."""
    return "\n".join([entity_path, *(request.option(name) or "" for name in ("filter", "orderby", "search"))]).encode()


def encode_skiptoken(after_id: str, listing: bytes) -> str:
    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(_SKIPTOKEN_KEY).encrypt(nonce, after_id.encode("utf-8"), listing)
    return base64.urlsafe_b64encode(nonce + sealed).decode("ascii").rstrip("=")


def decode_skiptoken(token: str, listing: bytes) -> str:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        return AESGCM(_SKIPTOKEN_KEY).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], listing).decode("utf-8")
    except (binascii.Error, InvalidTag, UnicodeDecodeError, ValueError):
        raise bad_request("The specified page token value has expired or is not valid. Start the listing "
                          "again from the first page.", "Request_BadRequest") from None


def next_link(request: Request, entity_path: str, after_id: str) -> str:
    pairs = [(key, value) for key, value in request.query.items() if key.lstrip("$").lower() != "skiptoken"]
    pairs.append(("$skiptoken", encode_skiptoken(after_id, _listing_of(request, entity_path))))
    query = urlencode(pairs, quote_via=quote, safe="$,()':@/")
    return f"{request.base_url}/v1.0/{entity_path}?{query}"


def context_url(request: Request, entity_set: str, selected: list | None, entity: bool = False) -> str:
    names = f"({','.join(spec.name for spec in selected)})" if selected else ""
    return f"{request.base_url}/v1.0/$metadata#{entity_set}{names}{'/$entity' if entity else ''}"


def check_options(request: Request, allowed_filter: bool = True, ordering: bool = False) -> None:
    for name in _UNSUPPORTED_OPTIONS + (() if ordering else _ORDERING_OPTIONS):
        if request.option(name) is not None:
            raise bad_request(f"The lab emulator does not support ${name}.", "Request_UnsupportedQuery")
    if not allowed_filter and request.option("filter") is not None:
        raise unsupported_query("The $filter query option is not supported on this resource.")


def list_collection(request: Request, directory, bucket: str, schema: ResourceSchema, entity_path: str,
                    allow_filter: bool = True) -> Response:
    check_options(request, allow_filter, ordering=schema is USER and entity_path == "users")
    count = wants_count(request)
    limit = page_size(request)
    select_text = request.option("select")
    selected = schema.select(select_text)
    filter_text = request.option("filter")
    compiled = None
    if filter_text is not None:
        if not filter_text.strip():
            raise bad_request("Invalid filter clause: the filter is empty.")
        compiled = schema.compile_filter(filter_text, advanced_request=count and is_eventual(request))
    token = request.option("skiptoken")
    after = decode_skiptoken(token, _listing_of(request, entity_path)) if token is not None else None
    order = order_key(request.option("orderby"), count and is_eventual(request), compiled is not None)
    search = search_predicate(request.option("search"), is_eventual(request))
    if order or search:
        page, more, total, after_next = _ordered_page(directory, bucket, compiled, order, search, after, limit)
    else:
        page, more, total = directory.page(bucket, compiled, after, limit, count)
        after_next = page[-1]["id"] if page else None
    body: dict = {"@odata.context": context_url(request, entity_path, selected if select_text else None)}
    if count:
        body["@odata.count"] = total
    if more:
        body["@odata.nextLink"] = next_link(request, entity_path, after_next)
    body["value"] = [schema.project(record, selected) for record in page]
    response = Response.json(200, body, content_type=GRAPH_JSON)
    response.objects = len(page)
    return response


def _ordered_page(directory, bucket: str, compiled, order, search, after: str | None, limit: int):
    """A page of an ordered or searched listing: its token holds the position of the next page."""
    matches = directory.page(bucket, compiled, None, MAX_OBJECTS, True)[0]
    if search:
        matches = [record for record in matches if search(record)]
    if order:
        matches = ordered(matches, order)
    start = int(after) if after else 0
    end = start + limit
    return matches[start:end], end < len(matches), len(matches), str(end)


def count_collection(request: Request, directory, bucket: str, schema: ResourceSchema) -> Response:
    """`GET /{collection}/$count`: a plain-text number, advanced queries only."""
    check_options(request)
    if not is_eventual(request):
        raise bad_request("$count is not currently supported.", "Request_BadRequest")
    filter_text = request.option("filter")
    compiled = schema.compile_filter(filter_text, advanced_request=True) if filter_text else None
    total = directory.page(bucket, compiled, None, 1, True)[2]
    response = Response(200, str(total).encode())
    response.headers["Content-Type"] = "text/plain"
    return response


def entity(request: Request, record: dict | None, key: str, schema: ResourceSchema, entity_set: str) -> Response:
    if record is None:
        raise not_found(key)
    check_options(request, allowed_filter=False)
    select_text = request.option("select")
    selected = schema.select(select_text)
    body = {"@odata.context": context_url(request, entity_set, selected if select_text else None, entity=True)}
    body.update(schema.project(record, selected))
    return Response.json(200, body, content_type=GRAPH_JSON)
