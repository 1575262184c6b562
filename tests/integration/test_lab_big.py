"""A big tenant in the lab: kept as a snapshot for the next load of the same section, never emptied one by one.

The threshold of a big scenario is lowered for the test, so that the three loads stay quick; the
paths they take are those of a benchmark's 100,000 users.
"""

import pytest

from tests.integration._ldif import ldapsearch
from tests.lab import _samba

BIG = 40


def section(tag: str, count: int) -> dict:
    return {"ad": {"users": [{"sAMAccountName": f"{tag}{n:03d}", "ou": "OU=Big", "mail": f"{tag}{n:03d}@contoso.com",
                              "proxyAddresses": [f"SMTP:{tag}{n:03d}@contoso.com"]} for n in range(count)]}}


def guids(lab_vars: dict) -> dict[str, str]:
    found = ldapsearch(lab_vars, "(objectClass=user)", ["sAMAccountName", "objectGUID"],
                       base=lab_vars["lab_scenario_ou"])
    return {entry["sAMAccountName"][0]: entry["objectGUID"][0] for entry in found}


def test_a_big_section_is_loaded_once_and_then_restored_from_its_snapshot(
        lab, lab_vars, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(_samba, "BIG_SCENARIO", BIG)
    big = section("big", BIG + 5)

    first = lab.load(big)["ad"]
    assert "restored_from_snapshot" not in first and first["users"] == BIG + 5
    loaded = guids(lab_vars)
    assert len(loaded) == BIG + 5

    # after a big scenario the domain is provisioned afresh, with the same password: lab_vars stay true
    small = lab.load(section("small", 3))["ad"]
    assert small["removed"] == 0, "the big scenario was emptied object by object"
    assert sorted(guids(lab_vars)) == ["small000", "small001", "small002"]

    again = lab.load(big)["ad"]
    assert again["restored_from_snapshot"] is True
    assert guids(lab_vars) == loaded                     # the same objects, objectGUIDs and all
    assert lab.ad_anchor("big000").object_guid          # the lab state names them again

    # a different section of the same size is loaded, not restored
    other = lab.load(section("oth", BIG + 5))["ad"]
    assert "restored_from_snapshot" not in other
    assert len(guids(lab_vars)) == BIG + 5 and "oth000" in guids(lab_vars)
