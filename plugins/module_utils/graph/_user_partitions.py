# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Partitions of the tenant's users for listings side by side: planning and proof, pure.

Internal to the collection; no stable API. No I/O: ``_cloud_users`` runs the plan over Graph.

A partition is the users whose ``userPrincipalName`` starts with a prefix, listed with
``startsWith(userPrincipalName, '<prefix>')``, which Graph supports on users by default (the user
resource documents ``eq, ne, not, ge, le, in, startsWith, endsWith`` for it). Graph allows only
``A-Z a-z 0-9 ' . - _ ! # ^ ~`` in a UPN's name part, then ``@`` and a domain (letters, digits,
``.`` and ``-``), and compares without case. So the prefixes ``p + c``, one per such character
``c`` and ``@``, split the users under ``p`` into parts that never overlap and together hold every
user under ``p`` but one whose UPN is ``p`` itself, which no UPN is (it would have no domain).
The proof does not rest on that reading alone: every partition's listing must come back exactly
as long as its own ``$count``, no user may come twice, and the partitions' counts must add up to
``/users/$count``; otherwise the caller reads the tenant again in one listing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ansible_collections.hybrid.identity.plugins.module_utils.graph._graph_query import MAX_PAGE, odata_string

# Graph's user resource: the characters a UPN's name part may hold, lower case since Graph compares without case.
UPN_NAME_CHARACTERS = "abcdefghijklmnopqrstuvwxyz0123456789'.-_!#^~"
# Below this many users one listing is as quick: planning costs a few requests of its own.
PARTITION_ABOVE = 5000
# A partition is split again while it holds more users than this share of the tenant per listing,
# and never below two full pages: a smaller one would cost more requests than it saves.
SPREAD = 3
SMALLEST_SPLIT = 2 * MAX_PAGE
# Prefixes longer than this are listed whatever their size: planning stops somewhere.
LONGEST_PREFIX = 16
MOST_PARALLEL = 16


@dataclass(frozen=True)
class Partition:
    """The users whose UPN starts with ``prefix``; ``counted`` is Graph's ``$count`` of them."""

    prefix: str
    counted: int

    @property
    def filter(self) -> str:
        return f"startsWith(userPrincipalName,{odata_string(self.prefix)})"


def child_prefixes(prefix: str) -> list[str]:
    """The prefixes that split the users under ``prefix`` (every user exactly once, see the module docstring)."""
    return [prefix + character for character in UPN_NAME_CHARACTERS + ("@" if prefix else "")]


def largest_partition(total: int, parallel: int) -> int:
    """How many users a partition may hold before it is split again."""
    return max(SMALLEST_SPLIT, -(-total // (parallel * SPREAD)))


def split(counts: Mapping[str, int], largest: int) -> tuple[list[Partition], list[str]]:
    """Of counted prefixes, those to list as they are and those to split again.

    Empty prefixes are dropped (the count proof catches a user a stale count hid); one longer
    than ``LONGEST_PREFIX`` is listed whatever its size.
    """
    kept, again = [], []
    for prefix, counted in counts.items():
        if counted <= 0:
            continue
        if counted > largest and len(prefix) < LONGEST_PREFIX:
            again.append(prefix)
        else:
            kept.append(Partition(prefix, counted))
    return kept, again


def listing_order(partitions: Iterable[Partition]) -> list[Partition]:
    """Largest first, so that the pool's last listings are short ones (ties by prefix: repeatable)."""
    return sorted(partitions, key=lambda partition: (-partition.counted, partition.prefix))


def use_partitions(total: int, parallel: int) -> bool:
    return parallel > 1 and total > PARTITION_ABOVE


def proof_problem(listed: Mapping[str, Sequence[Mapping]], partitions: Sequence[Partition], total: int,
                  tolerance: int) -> str | None:
    """Why the partitions' listings do not prove a complete read of ``total`` users, or None when they do.

    ``listed`` holds each prefix's users. Each listing must be exactly as long as its own count (a
    short one lost a page), no id may come twice, and the counts must add up to ``total`` within
    ``tolerance`` (users outside every partition, or created or deleted meanwhile).
    """
    for partition in partitions:
        got = len(listed.get(partition.prefix, ()))
        if got != partition.counted:
            return (f"the users whose UPN starts with {partition.prefix!r} listed {got}, "
                    f"but Microsoft Graph counts {partition.counted}")
    seen: set[str] = set()
    for users in listed.values():
        for user in users:
            if user["id"] in seen:
                return f"user {user['id']} came in two partitions"
            seen.add(user["id"])
    counted = sum(partition.counted for partition in partitions)
    if abs(counted - total) > tolerance:
        return f"the partitions hold {counted} users, but /users/$count counts {total}"
    return None


def merged(listed: Mapping[str, Sequence[Mapping]]) -> list[dict]:
    """Every partition's users in one list, in object id order: the same order whatever the partitions."""
    return sorted((user for users in listed.values() for user in users), key=lambda user: user["id"])
