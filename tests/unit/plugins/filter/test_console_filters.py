"""The console filters on what the modules register: lines in a stable order, refusals as task warnings."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.hybrid.identity.plugins.filter.console import FilterModule

FILTERS = FilterModule().filters()


def test_audit_lines_are_tables_not_dict_reprs():
    audit = {"summary": {"outcomes": {"soft_match_smtp": 28, "blocked": 4}, "findings": {"admin_role": 2}},
             "results": [{"findings": [{"code": "admin_role", "severity": "error"}]}],
             "reports": {"html": "/srv/r/soft_match_report.html", "csv": "/srv/r/soft_match_report.csv"}}
    assert FILTERS["audit_lines"](audit) == [
        "outcome          users",
        "blocked              4",
        "soft_match_smtp     28",
        "",
        "finding     severity  users",
        "admin_role  error         2",
        "",
        "report  path",
        "csv     /srv/r/soft_match_report.csv",
        "html    /srv/r/soft_match_report.html",
    ]
    assert not any("{" in line for line in FILTERS["audit_lines"](audit))


def test_align_lines():
    lines = FILTERS["align_lines"]({"counts": {"pairs": 3, "aligned": 2, "blocked": 1},
                                    "journal": {"path": "/j.jsonl", "run_id": "abc", "records": 2},
                                    "ambiguous": [], "unresolved": [], "recheck": {"clean": True}})
    assert lines == ["counted  users", "pairs        3", "aligned      2", "blocked      1", "",
                     "journal: /j.jsonl (run abc, 2 record(s))", "ambiguous: 0, unresolved rows: 0",
                     "re-check clean: yes"]


def test_a_filter_given_something_else_says_what_it_expected():
    with pytest.raises(AnsibleFilterError, match="audit_lines: expected what the module registered"):
        FILTERS["audit_lines"]("not a result")


def test_refusals_joins_every_kind():
    blocked = {"onprem": {"sam_account_name": "ann"}, "outcome": "blocked",
               "findings": [{"code": "soft_match_blocked", "severity": "error", "attribute": "blockSoftMatchEnabled"}]}
    found = FILTERS["refusals"]([blocked], window_variable="onboard_open_matching_window",
                                not_created=[{"cloud": {"user_principal_name": "x@c"}, "reason": "held"}])
    assert len(found) == 2
    assert "onboard_open_matching_window" in found[0]
    assert found[1] == "not created on-prem: x@c: held"


def test_planned_transfers_give_onprem_user_data_with_a_stable_stand_in_guid():
    from ansible_collections.hybrid.identity.plugins.filter.planned import FilterModule as Planned

    planned = Planned().filters()["planned_transfers"]
    created = [{"distinguished_name": "CN=Nora Quinn,OU=New,DC=contoso,DC=com", "cloud": {"id": "1"},
                "attributes": {"sAMAccountName": "nora", "userPrincipalName": "nora@contoso.com",
                               "proxyAddresses": ["SMTP:Nora.Quinn@contoso.com"]}}]
    first, again = planned(created), planned(created)
    assert first == again
    assert first[0]["distinguishedName"] == "CN=Nora Quinn,OU=New,DC=contoso,DC=com"
    assert first[0]["sAMAccountName"] == "nora" and first[0]["proxyAddresses"] == ["SMTP:Nora.Quinn@contoso.com"]
    assert len(first[0]["objectGUID"]) == 36
    assert planned([]) == [] and planned(None) == []
    with pytest.raises(AnsibleFilterError, match=r"created\[0\] is not an entry"):
        planned([{"distinguished_name": "CN=x"}])
