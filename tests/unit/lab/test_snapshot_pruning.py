"""Which of the lab's snapshots of big tenants are deleted: the cheapest to load again, never the one just taken."""

from tests.lab._samba import SNAPSHOTS_KEPT, pruned


def test_the_three_bench_sizes_are_all_kept():
    assert SNAPSHOTS_KEPT >= 3
    assert pruned({"ad-10k": 45.0, "ad-50k": 830.0, "ad-100k": 2400.0}, "ad-10k") == []


def test_the_quickest_to_load_goes_first_whatever_its_age():
    # a 2,005-user test tenant taken last must not push out the hour-long 100k load
    seconds = {"ad-10k": 45.0, "ad-50k": 830.0, "ad-100k": 2400.0, "ad-test": 30.0}
    assert pruned(seconds, "ad-100k") == ["ad-test"]
    assert pruned(seconds, "ad-test") == ["ad-10k"]
    assert pruned(seconds, "ad-test", kept=1) == ["ad-10k", "ad-50k", "ad-100k"]


def test_the_snapshot_just_taken_is_never_deleted_even_when_it_was_the_quickest():
    assert pruned({"ad-a": 900.0, "ad-b": 800.0, "ad-new": 1.0}, "ad-new", kept=1) == ["ad-b", "ad-a"]
