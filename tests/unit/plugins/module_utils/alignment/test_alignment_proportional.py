"""smtp_align's check costs in proportion to the pairs, not to the scope: counted reads, not timings.

Each on-prem user counts every read of isCriticalSystemObject, which the predictor reads once for
each user it predicts (the first rule, §9.5) and nothing else of the planning reads. The same
pairs in a scope four times larger must cost the same reads; predicting the scope would cost more.
The counts come from the data the functions are given: nothing of the collection is replaced.
"""

import math
import uuid

from ansible_collections.hybrid.identity.plugins.module_utils.alignment._alignment import (
    ALIGNED,
    AlignmentOptions,
    plan_alignment,
    recheck_written,
    scope_check,
)
from ansible_collections.hybrid.identity.plugins.module_utils.alignment._alignment_io import (
    GUIDS_PER_SEARCH,
    guid_filters,
)
from ansible_collections.hybrid.identity.plugins.module_utils.matching._matching_index import CloudIndex
from ansible_collections.hybrid.identity.plugins.module_utils.matching._matching_model import CloudUser, OnPremUser
from ansible_collections.hybrid.identity.plugins.module_utils.matching._pairing import Pair

TENANT = {"initial_domain": "contoso.onmicrosoft.com", "verified_domains": ["contoso.com"]}
PAIRS = 20


class CountedUser(OnPremUser):
    """An on-prem user counting the reads of isCriticalSystemObject in a tally shared by the class."""

    tally = [0]

    def __getattribute__(self, name):
        if name == "is_critical_system_object":
            CountedUser.tally[0] += 1
        return super().__getattribute__(name)


def onprem(number: int) -> CountedUser:
    sam = f"u{number:06d}"
    return CountedUser(f"CN={sam},OU=Staff,DC=contoso,DC=com", sam, f"{sam}@contoso.com", f"{sam}@contoso.com",
                       (f"SMTP:{sam}@contoso.com",), object_guid=str(uuid.UUID(int=number + 1)))


def cloud(number: int) -> dict:
    sam = f"u{number:06d}"
    # an alias only the cloud has: the plan adds it on-prem
    return {"id": f"cloud-{number}", "userPrincipalName": f"{sam}@contoso.com", "mail": f"{sam}@contoso.com",
            "proxyAddresses": [f"SMTP:{sam}@contoso.com", f"smtp:{sam}.alias@contoso.com"]}


def predictions(scope_size: int) -> tuple[int, int]:
    """(reads while planning, reads while re-checking) for PAIRS pairs spread over a scope of scope_size."""
    scope = [onprem(number) for number in range(scope_size)]
    paired = range(0, scope_size, scope_size // PAIRS)
    records = [cloud(number) for number in paired]
    pairs = [Pair(scope[number], CloudUser.from_dict(record), "explicit", scope[number].object_guid)
             for number, record in zip(paired, records, strict=True)]
    index = CloudIndex.build(records)
    options = AlignmentOptions()
    check = scope_check(pairs, scope, index, TENANT, options)
    CountedUser.tally[0] = 0
    alignments = plan_alignment(pairs, scope, index, TENANT, options, check)
    planning = CountedUser.tally[0]
    assert [alignment.status for alignment in alignments] == [ALIGNED] * PAIRS
    CountedUser.tally[0] = 0
    written = {alignment.pair.onprem.object_guid: alignment.after for alignment in alignments}
    checked = recheck_written(check, [alignment.pair for alignment in alignments], written, options)
    assert len(checked) == PAIRS and all(row["clean"] for row in checked)
    return planning, CountedUser.tally[0]


def test_the_check_and_the_recheck_predict_the_pairs_not_the_scope():
    small, large = predictions(1000), predictions(4000)
    assert large == small, f"{small} reads in a scope of 1,000, {large} in a scope of 4,000"
    planning, rechecking = small
    # each paired user predicted about once, as planned (and its write read back once): nowhere near the scope
    assert 0 < planning <= 3 * PAIRS and 0 < rechecking <= 3 * PAIRS, small


def test_the_users_written_are_read_back_in_a_few_searches_not_one_each():
    for count in (1, 99, 100, 101, 10_000):
        guids = [str(uuid.UUID(int=number + 1)) for number in range(count)]
        filters = guid_filters(guids, "(department=Sales)")
        assert len(filters) == math.ceil(count / GUIDS_PER_SEARCH)
        assert sum(query.count("(objectGUID=") for query in filters) == count
        assert all(query.startswith("(&(department=Sales)(|") for query in filters)
