"""Lookups by value and the verification of joins stay linear: counted reads of the users, not timings.

Each user is a mapping that counts every read of one of its properties. Doubling the users and
the values must about double the reads (a quadratic pass would quadruple them). The counts come
from the data the functions are given, so nothing of the collection is replaced or mocked.
"""

from collections.abc import Mapping

import pytest

from ansible_collections.hybrid.identity.plugins.module_utils.graph._cloud_users import (
    LookupRequest,
    answering,
    count_mismatch,
    not_found,
)
from ansible_collections.hybrid.identity.plugins.module_utils.sync._sync_verify import ExpectedJoin, verify_joins


class CountedUser(Mapping):
    """A cloud user as Graph returns it, counting the reads of its properties in a shared tally."""

    def __init__(self, tally: list[int], **properties) -> None:
        self._tally = tally
        self._properties = properties

    def __getitem__(self, key):
        self._tally[0] += 1
        return self._properties[key]

    def __iter__(self):
        return iter(self._properties)

    def __len__(self) -> int:
        return len(self._properties)


def tenant(size: int, tally: list[int]) -> list[CountedUser]:
    return [CountedUser(tally, id=f"00000000-0000-0000-0000-{n:012d}", userPrincipalName=f"user{n}@contoso.com",
                        mail=f"user{n}@contoso.com",
                        proxyAddresses=[f"SMTP:user{n}@contoso.com", f"smtp:u{n}@contoso.com"],
                        onPremisesImmutableId=f"anchor-{n}", onPremisesSyncEnabled=True,
                        onPremisesProvisioningErrors=[])
            for n in range(size)]


def reads_not_found(size: int) -> int:
    tally = [0]
    users = tenant(size, tally)
    # every second value is missing: half found, half not
    request = LookupRequest(smtp=tuple(f"u{n}@contoso.com" for n in range(0, 2 * size, 2)),
                            upn=tuple(f"user{n}@contoso.com" for n in range(0, 2 * size, 2)),
                            immutable_id=tuple(f"anchor-{n}" for n in range(0, 2 * size, 2)))
    missing = not_found(request, users)
    assert len(missing["smtp"]) == len(missing["upn"]) == len(missing["immutable_id"]) == size // 2
    assert len(answering(request, users)) == size // 2 + size % 2
    return tally[0]


def reads_verification(size: int) -> int:
    tally = [0]
    users = tenant(size, tally)
    expected = [ExpectedJoin.from_param({"label": f"user{n}", "source_anchor": f"anchor-{n}"}, n)
                for n in range(size)]
    verification = verify_joins(lambda _request: users, expected, timeout=0, poll_interval=0, once=True)
    assert verification.ok and len(verification.checks) == size
    return tally[0]


@pytest.mark.parametrize("reads", [reads_not_found, reads_verification], ids=["lookup-by-value", "verify-joins"])
def test_reads_grow_linearly_with_the_users_and_values(reads):
    small, large = reads(1000), reads(4000)
    # linear: 4x the data costs 4x the reads; a pass of every value over every user would cost 16x
    assert large <= 4.4 * small, f"{small} reads at 1,000 users, {large} at 4,000"


def test_a_value_is_found_whatever_its_case_and_prefix():
    users = tenant(3, [0])
    request = LookupRequest(smtp=("U1@CONTOSO.COM",), upn=("USER2@contoso.com",), immutable_id=("ANCHOR-0",))
    assert not_found(request, users) == {"smtp": [], "upn": [], "immutable_id": ["ANCHOR-0"], "object_id": []}
    assert [user["userPrincipalName"] for user in answering(request, users)] == ["user1@contoso.com",
                                                                                 "user2@contoso.com"]


@pytest.mark.parametrize(("listed", "counted", "gap"), [
    (1000, 1000, False), (995, 1000, False), (994, 1000, True),          # at least 5 apart is tolerated
    (99_900, 100_000, False), (99_899, 100_000, True),                   # one in a thousand at scale
    (2000, 3000, True), (3001, 3000, False),
])
def test_rule_8_a_listing_differs_from_its_count_only_past_the_lag(listed, counted, gap):
    problem = count_mismatch(listed, counted)
    assert (problem is not None) is gap
    if gap:
        assert f"returned {listed} users" in problem and f"counts {counted}" in problem
