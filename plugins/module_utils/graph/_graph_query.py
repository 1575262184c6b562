# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""OData query text for Microsoft Graph: literals, filters, chunks and query strings.

Internal to the collection; no stable API. Pure: standard library only, no I/O.
Every value that reaches a ``$filter`` goes through ``odata_string``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from urllib.parse import quote

# Graph allows 15 expressions in one filter clause by default, so an `in (...)` list
# holds at most 15 values (Graph "filter query parameter" known limits).
MAX_IN_VALUES = 15
# rule book §8: at most 20 requests in one $batch.
MAX_BATCH = 20
# rule book §8: $top may be at most 999 on /users; more is a 400.
MAX_PAGE = 999

# Characters left as they are in a query string: OData syntax reads better unescaped, and
# none of them is special in a query component (RFC 3986 sub-delims and pchar).
_QUERY_SAFE = "$(),':@/"


def odata_string(value: str) -> str:
    """``value`` as an OData string literal: quoted, with each ``'`` doubled (rule book §8)."""
    if not isinstance(value, str):
        raise TypeError(f"an OData string literal needs a str, not {type(value).__name__}")
    return "'" + value.replace("'", "''") + "'"


def equals_filter(prop: str, value: str) -> str:
    return f"{prop} eq {odata_string(value)}"


def in_filter(prop: str, values: Sequence[str]) -> str:
    if not 0 < len(values) <= MAX_IN_VALUES:
        raise ValueError(f"an 'in' filter takes 1 to {MAX_IN_VALUES} values, not {len(values)}")
    return f"{prop} in ({', '.join(odata_string(value) for value in values)})"


def any_equals_filter(collection: str, value: str) -> str:
    """A lambda filter over a string collection, such as ``proxyAddresses/any(p:p eq '...')``."""
    return f"{collection}/any(p:p eq {odata_string(value)})"


def chunked(values: Iterable, size: int) -> Iterator[list]:
    """Consecutive lists of at most ``size`` items, in order; nothing for no items."""
    if size < 1:
        raise ValueError("chunk size must be at least 1")
    chunk: list = []
    for value in values:
        chunk.append(value)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def query_string(params: Mapping[str, str]) -> str:
    """``params`` percent-encoded for a URL, spaces as %20 (never ``+``, which base64 values hold)."""
    return "&".join(f"{quote(str(name), safe='$')}={quote(str(value), safe=_QUERY_SAFE)}"
                    for name, value in params.items())
