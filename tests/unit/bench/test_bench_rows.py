"""The pure parts of the end-to-end bench: the floor's LDIF, the expected pairs, the dumps and their comparison.

The floor of the smtp_align row is only fair if its LDIF makes the changes an alignment must make;
these tests apply it to the generated tenant with plain data and check that each changed user then
carries its cloud user's addresses, and that the reverse LDIF gives the loaded values back.
"""

import base64

import pytest

from tests.bench._measure import Rounds, differences, is_module_process, scope_from_ldif, verdict
from tests.bench._smtp_align import AlignmentMismatch, _check
from tests.bench._tenant import OU, alignment_ldif, expected_joins, sam_of, tenant_of

BASE = f"{OU},OU=HybridLab,DC=lab,DC=contoso,DC=test"


def loaded_state(scenario: dict) -> dict[str, dict[str, set]]:
    return {f"CN={user['sAMAccountName']},{BASE}": {
        "mail": {user["mail"]} if "mail" in user else set(),
        "proxyAddresses": set(user.get("proxyAddresses", ()))} for user in scenario["ad"]["users"]}


def apply_ldif(state: dict[str, dict[str, set]], ldif: str) -> dict[str, dict[str, set]]:
    """Apply delete/add value changes as a directory would, refusing a value that is missing or already there."""
    state = {dn: {name: set(values) for name, values in attributes.items()} for dn, attributes in state.items()}
    for record in filter(None, ldif.split("\n\n")):
        lines = record.strip().splitlines()
        dn = lines[0].removeprefix("dn: ")
        assert lines[1] == "changetype: modify"
        for operation in filter(None, ("\n".join(lines[2:]) + "\n").split("-\n")):
            head, *values = operation.strip().splitlines()
            action, attribute = head.split(": ")
            held = state[dn][attribute]
            for value in (line.removeprefix(f"{attribute}: ") for line in values):
                if action == "delete":
                    assert value in held, f"{dn}: deletes {value}, which it does not hold"
                    held.remove(value)
                else:
                    assert value not in held, f"{dn}: adds {value}, which it holds already"
                    held.add(value)
    return state


def test_the_alignment_ldif_gives_each_changed_user_its_cloud_users_addresses_and_the_reverse_undoes_it():
    scenario = tenant_of(40)
    forward, reverse, changed = alignment_ldif(40, BASE)
    loaded = loaded_state(scenario)
    aligned = apply_ldif(loaded, forward)
    cloud = {user["userPrincipalName"]: user for user in scenario["cloud"]["users"]}
    touched = [dn for dn in loaded if loaded[dn] != aligned[dn]]
    assert changed == len(touched) == 10  # other_primary, cloud_aliases and upn_only: 5 of every 20
    for dn in touched:
        cloud_user = cloud[f"{dn.split(',')[0].removeprefix('CN=')}@contoso.com"]
        assert aligned[dn]["proxyAddresses"] == set(cloud_user["proxyAddresses"])
        assert aligned[dn]["mail"] == {cloud_user["mail"]}
    assert apply_ldif(aligned, reverse) == loaded


def test_the_expected_pairs_are_the_joined_users_with_what_the_join_leaves():
    anchors = {sam_of(number): f"anchor{number}" for number in range(20)}
    cloud_ids = {f"{sam_of(number)}@contoso.com": f"00000000-0000-0000-0000-{number:012d}" for number in range(20)}
    pairs = {pair["label"]: pair for pair in expected_joins(20, anchors, cloud_ids)}
    assert len(pairs) == 18 and "b000014" not in pairs and "b000015" not in pairs  # the new users
    assert pairs["b000010"]["primary_smtp"] == "b000010.alt@contoso.com"  # the on-prem primary wins at the join
    assert "primary_smtp" not in pairs["b000017"]  # no address on-prem
    assert "user_principal_name" not in pairs["b000018"]  # an unverified suffix
    assert pairs["b000000"] == {"label": "b000000", "source_anchor": "anchor0", "primary_smtp": "b000000@contoso.com",
                                "cloud_id": "00000000-0000-0000-0000-000000000000",
                                "user_principal_name": "b000000@contoso.com"}


def test_a_dump_reads_unwrapped_and_base64_values_sorted():
    encoded = base64.b64encode("smtp:zoë@contoso.com".encode()).decode()
    text = (f"dn: CN=a,{BASE}\nmail: a@contoso.com\nproxyAddresses: smtp:b@contoso.com\n"
            f"proxyAddresses:: {encoded}\nproxyAddresses: SMTP:a@contoso.com\n\n"
            f"# refs\n\ndn: CN=b,{BASE}\n")
    assert scope_from_ldif(text) == {
        f"CN=a,{BASE}": {"mail": ("a@contoso.com",),
                         "proxyAddresses": ("SMTP:a@contoso.com", "smtp:b@contoso.com", "smtp:zoë@contoso.com")},
        f"CN=b,{BASE}": {}}


def test_a_module_that_changes_other_values_than_the_floor_stops_the_bench():
    by_floor = {f"CN=b{number},{BASE}": {"mail": (f"b{number}@contoso.com",)} for number in range(8)}
    by_module = dict(by_floor, **{f"CN=b{number},{BASE}": {"mail": ("other@contoso.com",)} for number in range(7)})
    _check(by_floor, dict(by_floor), "equal")
    assert differences(by_floor, by_floor) == []
    with pytest.raises(AlignmentMismatch, match=r"CN=b0,.*expected.*b0@contoso.com.*found.*other@contoso.com") as err:
        _check(by_floor, by_module, "smtp_align did not make exactly the floor's changes")
    assert "... and 2 more" in str(err.value)
    assert differences(by_floor, {}, limit=1)[1] == "... and 7 more"  # a user missing counts too


def test_a_target_is_kept_or_missed_by_the_ratio_and_the_memory_given():
    rounds = Rounds(100, 1.0, floor=[2.0], baseline=[1.0], ours=[4.0], module_mib=90.0, tree_mib=200.0)
    assert rounds.ratio == 1.5
    assert verdict({}, rounds) == "-"
    assert verdict({100: (1.5, None, None)}, rounds) == "ok (<= 1.5x)"
    assert verdict({100: (1.4, None, None)}, rounds).startswith("MISSED")
    assert verdict({100: (1.5, 80, 300)}, rounds) == "MISSED (<= 1.5x, module <= 80 MiB, tree <= 300 MiB)"


def test_the_module_figure_counts_its_python_processes_and_not_the_shells_that_start_them():
    marker = "AnsiballZ_soft_match_check"
    python = "/venv/bin/python /root/.ansible/tmp/ansible-tmp-1/AnsiballZ_soft_match_check.py"
    assert is_module_process(python, marker)  # the module, and the reader it forks, whose command is the same
    assert not is_module_process(f"/bin/sh -c {python}", marker)
    assert not is_module_process(f"/bin/sh -c '/bin/sh -c {python}'", marker)
    assert not is_module_process("/venv/bin/python /venv/bin/ansible-playbook play.yml", marker)
