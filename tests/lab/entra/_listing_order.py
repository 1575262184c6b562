"""`$orderby` and the `$search` subset Graph v1.0 supports on users (internal).

Graph sorts users by displayName or userPrincipalName in a plain request; other properties, and
`$orderby` together with `$filter`, need an advanced query (`ConsistencyLevel: eventual` and
`$count=true`). `$search` needs `ConsistencyLevel: eventual`; it takes `"property:words"` clauses
joined by AND or OR, and a clause matches when each of its words begins a word of the property
(words split at spaces and punctuation, compared case-insensitively). A listing that is ordered or
searched pages by position instead of by object id.
"""

from __future__ import annotations

import re

from ._errors import bad_request, unsupported_query
from ._schema import fold

ORDER_DEFAULT = ("displayName", "userPrincipalName")
ORDER_ADVANCED = ("createdDateTime", "givenName", "mail", "surname", "employeeId")
SEARCHABLE = ("displayName", "givenName", "surname", "mail", "mailNickname", "userPrincipalName", "jobTitle",
              "employeeId")
_CLAUSE = re.compile(r'"(?P<property>\w+):(?P<words>[^"]*)"')
_WORD = re.compile(r"[^\W_]+")


def order_key(text: str | None, advanced: bool, filtered: bool):
    """(property, descending) for `$orderby`, or None; a 400 where Graph refuses the sort."""
    if text is None:
        return None
    parts = text.strip().split()
    if len(parts) not in (1, 2) or (len(parts) == 2 and parts[1].lower() not in ("asc", "desc")) or "," in text:
        raise bad_request(f"Invalid $orderby: {text!r}; give one property, then asc or desc.")
    name = next((known for known in (*ORDER_DEFAULT, *ORDER_ADVANCED) if known.lower() == parts[0].lower()), None)
    if name is None or (not advanced and (name not in ORDER_DEFAULT or filtered)):
        raise unsupported_query("Sorting not supported for current query.")
    return name, len(parts) == 2 and parts[1].lower() == "desc"


def ordered(records: list[dict], key) -> list[dict]:
    name, descending = key
    present = sorted((r for r in records if r.get(name) is not None), key=lambda r: (fold(r[name]), r["id"]),
                     reverse=descending)
    # Graph lists objects without the property last
    return present + sorted((r for r in records if r.get(name) is None), key=lambda r: r["id"])


def search_predicate(text: str | None, eventual: bool):
    """A predicate for `$search`, or None; a 400 where Graph refuses the search."""
    if text is None:
        return None
    if not eventual:
        raise bad_request("Request with $search query parameter only works through MSGraph with a special request "
                          "header: 'ConsistencyLevel: eventual'", "Request_UnsupportedQuery")
    tokens = re.split(r"\s+(AND|OR)\s+", text.strip())
    clauses, joins = tokens[::2], list(tokens[1::2])
    parsed = []
    for clause in clauses:
        match = _CLAUSE.fullmatch(clause.strip())
        name = match and next((p for p in SEARCHABLE if p.lower() == match["property"].lower()), None)
        if not name:
            raise bad_request(f"Syntax error: invalid $search clause {clause!r}; write \"property:words\" with one "
                              f"of {', '.join(SEARCHABLE)}.", "Request_UnsupportedQuery")
        parsed.append((name, [fold(word) for word in _WORD.findall(match["words"])]))

    def matches(record: dict) -> bool:
        results = [_clause_matches(record, name, words) for name, words in parsed]
        outcome = results[0]
        for join, result in zip(joins, results[1:], strict=True):
            outcome = (outcome and result) if join == "AND" else (outcome or result)
        return outcome

    return matches


def _clause_matches(record: dict, name: str, words: list[str]) -> bool:
    value = record.get(name)
    if not isinstance(value, str) or not words:
        return False
    held = [fold(word) for word in _WORD.findall(value)]
    return all(any(token.startswith(word) for token in held) for word in words)
