"""Partitions of the tenant's users by UPN prefix: every user in exactly one, and the proof of a complete read."""

from __future__ import annotations

import random
import string

import pytest

from ansible_collections.hybrid.identity.plugins.module_utils.graph._user_partitions import (
    LONGEST_PREFIX,
    SMALLEST_SPLIT,
    UPN_NAME_CHARACTERS,
    Partition,
    child_prefixes,
    largest_partition,
    listing_order,
    merged,
    proof_problem,
    split,
    use_partitions,
)

# Graph's user resource: the characters a UPN's name part may hold.
ALLOWED = string.ascii_letters + string.digits + "'.-_!#^~"


def upns(count: int, seed: int = 7) -> list[str]:
    draw = random.Random(seed)
    made = {"o'brien@contoso.com", "a@contoso.com", "alice_fabrikam.com#EXT#@contoso.onmicrosoft.com",
            "ALICE@contoso.com", "~svc@contoso.com", "9lives@contoso.com"}
    while len(made) < count:
        name = "".join(draw.choice(ALLOWED) for _position in range(draw.randint(1, 12)))
        made.add(f"{name}@{draw.choice(['contoso.com', 'sub.contoso.com', 'contoso.onmicrosoft.com'])}")
    return sorted(made)


def plan(names: list[str], largest: int) -> list[Partition]:
    """The planner over names, counting as Graph's startsWith does (without case)."""
    partitions, pending = [], child_prefixes("")
    while pending:
        counts = {prefix: sum(name.lower().startswith(prefix) for name in names) for prefix in pending}
        kept, again = split(counts, largest)
        partitions += kept
        pending = [child for prefix in again for child in child_prefixes(prefix)]
    return partitions


def members(partition: Partition, names: list[str]) -> list[str]:
    return [name for name in names if name.lower().startswith(partition.prefix)]


def test_children_cover_every_allowed_character_once_and_the_end_of_the_name():
    assert sorted(UPN_NAME_CHARACTERS) == sorted(set(ALLOWED.lower()))
    children = child_prefixes("jo")
    assert len(children) == len(set(children)) == len(UPN_NAME_CHARACTERS) + 1
    assert "jo@" in children and "jo'" in children
    assert "@" not in child_prefixes("")      # a name part is never empty


@pytest.mark.parametrize("largest", [3, 40, 500])
def test_every_user_is_in_exactly_one_partition(largest: int):
    names = upns(1500)

    partitions = plan(names, largest)

    seen = [name for partition in partitions for name in members(partition, names)]
    assert sorted(seen) == names                      # everyone, and nobody twice
    assert all(partition.counted <= largest or len(partition.prefix) >= LONGEST_PREFIX for partition in partitions)
    assert all(partition.counted == len(members(partition, names)) for partition in partitions)


def test_one_shared_prefix_is_split_down_to_where_names_differ():
    names = [f"user{n:06d}@contoso.com" for n in range(4000)]

    partitions = plan(names, 200)

    assert sorted(p.prefix for p in partitions) == [f"user{n:04d}" for n in range(40)]
    assert {p.counted for p in partitions} == {100}


def test_a_name_that_ends_where_the_prefix_does_is_kept_by_the_at_sign():
    names = ["ann@contoso.com"] + [f"ann{n:04d}@contoso.com" for n in range(50)]
    partitions = plan(names, 10)
    assert Partition("ann@", 1) in partitions
    assert sum(p.counted for p in partitions) == len(names)


def test_split_drops_empty_prefixes_and_stops_at_the_longest_prefix():
    long_prefix = "a" * LONGEST_PREFIX
    kept, again = split({"a": 0, "b": 5, "c": 50, long_prefix: 50}, largest=10)
    assert kept == [Partition("b", 5), Partition(long_prefix, 50)]
    assert again == ["c"]


def test_partition_size_and_when_to_partition():
    assert largest_partition(6000, 4) == SMALLEST_SPLIT          # never below two pages
    assert largest_partition(120_000, 4) == 10_000
    assert not use_partitions(5000, 4) and use_partitions(5001, 4)
    assert not use_partitions(100_000, 1)


def test_the_filter_quotes_the_prefix():
    assert Partition("o'b", 1).filter == "startsWith(userPrincipalName,'o''b')"


def users(prefix: str, count: int, start: int = 0) -> list[dict]:
    return [{"id": f"{start + n:08d}-id", "userPrincipalName": f"{prefix}{n}@contoso.com"} for n in range(count)]


def test_the_proof_holds_for_complete_listings_and_merges_in_id_order():
    partitions = [Partition("a", 3), Partition("b", 2)]
    listed = {"b": users("b", 2, start=10), "a": users("a", 3)}

    assert proof_problem(listed, partitions, total=5, tolerance=5) is None
    assert [user["id"] for user in merged(listed)] == sorted(user["id"] for part in listed.values() for user in part)


def test_a_short_partition_fails_the_proof_even_within_the_total_tolerance():
    partitions = [Partition("a", 1000), Partition("b", 2)]
    listed = {"a": users("a", 999), "b": users("b", 2, start=5000)}

    problem = proof_problem(listed, partitions, total=1002, tolerance=5)

    assert problem == "the users whose UPN starts with 'a' listed 999, but Microsoft Graph counts 1000"


def test_a_user_in_two_partitions_or_users_outside_them_fail_the_proof():
    twice = {"a": users("a", 2), "b": users("a", 1)}
    assert "came in two partitions" in proof_problem(twice, [Partition("a", 2), Partition("b", 1)], 3, 5)
    listed = {"a": users("a", 10)}
    assert proof_problem(listed, [Partition("a", 10)], total=16, tolerance=5) == \
        "the partitions hold 10 users, but /users/$count counts 16"
    assert proof_problem(listed, [Partition("a", 10)], total=15, tolerance=5) is None


def test_largest_partitions_are_listed_first():
    partitions = [Partition("b", 5), Partition("a", 5), Partition("c", 900)]
    assert listing_order(partitions) == [Partition("c", 900), Partition("a", 5), Partition("b", 5)]
