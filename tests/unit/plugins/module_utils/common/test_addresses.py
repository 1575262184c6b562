"""The proxyAddresses value model: one test (or parametrized group) per rule of the rule book."""

import pytest

from ansible_collections.hybrid.identity.plugins.module_utils.common._addresses import (
    AddressError,
    AddressRequest,
    ListChange,
    ProxyAddress,
    parse_or_none,
    plan_addresses,
    validate_proxy_address,
    validate_proxy_addresses,
    validate_smtp_address,
    validate_upn,
)

X500_LEGACY = "X500:/o=Contoso/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=alice"
X500_OLD_ORG = "x500:/o=Fabrikam/ou=First Administrative Group/cn=Recipients/cn=alice"


def rules(violations):
    return {v.rule for v in violations}


def key(value):
    """AD's comparison: the whole value, case-insensitively (untyped junk included)."""
    return value.lower()


def applied(before, to_delete, to_add):
    """What AD holds after one modify: delete exact stored values, then add (case-insensitive set)."""
    held = {}
    for value in before:
        held.setdefault(key(value), value)
    for value in to_delete:
        assert held.get(key(value)) == value, f"{value!r} is not an exact stored value"
        del held[key(value)]
    for value in to_add:
        assert key(value) not in held, f"{value!r} would be a case twin of {held[key(value)]!r}"
        held[key(value)] = value
    return held


def planned(current, **request):
    """Plan, check the plan is minimal and exact, and that planning again changes nothing."""
    plan = plan_addresses(current, AddressRequest.from_params(request))
    assert plan.before == tuple(current)
    assert sorted(applied(plan.before, plan.to_delete, plan.to_add).values()) == sorted(plan.after)
    assert not set(plan.to_delete) & set(plan.after), "an unchanged value is deleted"
    assert not set(plan.to_add) & set(plan.before), "an unchanged value is re-added"
    assert plan.changed == bool(plan.to_delete or plan.to_add)
    again = plan_addresses(plan.after, AddressRequest.from_params(request))
    assert not again.changed, f"not idempotent: {again.to_delete} -> {again.to_add}"
    assert again.after == plan.after
    return plan


def primaries(values):
    return [v for v in values if v.startswith("SMTP:")]


# --- §1 the value -------------------------------------------------------------------------


def test_s1_parse_reads_type_case_as_primary_flag():
    """Rule book §1: an upper-case type marks the primary; the address keeps its case."""
    primary = ProxyAddress.parse("SMTP:Alice@Contoso.com")
    secondary = ProxyAddress.parse("smtp:bob@contoso.com")
    assert (primary.kind, primary.address, primary.primary) == ("SMTP", "Alice@Contoso.com", True)
    assert (secondary.kind, secondary.primary) == ("SMTP", False)
    assert ProxyAddress.parse("Smtp:c@contoso.com").primary is False
    assert ProxyAddress.parse("x500:/o=Contoso").kind == "X500"


@pytest.mark.parametrize("value", ["SMTP:Alice@Contoso.com", "smtp:bob@contoso.com", X500_LEGACY,
                                   "sip:alice@contoso.com", "EUM:1234;phone-context=dp.contoso.com"])
def test_s1_str_round_trips_canonical_values(value):
    assert str(ProxyAddress.parse(value)) == value


def test_s1_str_writes_the_prefix_from_the_primary_flag():
    assert str(ProxyAddress("smtp", "a@contoso.com", True)) == "SMTP:a@contoso.com"
    assert str(ProxyAddress("X500", "/o=Contoso", False)) == "x500:/o=Contoso"
    assert str(ProxyAddress.smtp("a@contoso.com")) == "smtp:a@contoso.com"


@pytest.mark.parametrize("value", ["alice@contoso.com", ":alice@contoso.com", "", "smtp alice@contoso.com",
                                   "smtp\u00e9:alice@contoso.com", "sm-tp:alice@contoso.com"])
def test_s1_parse_refuses_a_value_without_type(value):
    with pytest.raises(AddressError) as caught:
        ProxyAddress.parse(value)
    assert caught.value.rule == "no_type"
    assert caught.value.value == value
    assert repr(value) in str(caught.value) and "no_type" in str(caught.value)
    assert caught.value.hint


def test_s1_case_twins_are_the_same_value():
    """Rule book §1: AD compares the whole value case-insensitively, the primary flag included."""
    upper = ProxyAddress.parse("SMTP:a@x.com")
    lower = ProxyAddress.parse("smtp:A@X.COM")
    assert upper == lower
    assert hash(upper) == hash(lower)
    assert upper.key == lower.key == "smtp:a@x.com"
    assert len({upper, lower}) == 1
    assert ProxyAddress.parse("smtp:a@x.com") != ProxyAddress.parse("sip:a@x.com")
    assert upper != "SMTP:a@x.com"


def test_s1_as_primary_and_as_secondary_keep_the_address():
    value = ProxyAddress.parse("smtp:Alice@contoso.com")
    assert str(value.as_primary()) == "SMTP:Alice@contoso.com"
    assert str(value.as_primary().as_secondary()) == "smtp:Alice@contoso.com"
    assert value.as_primary() == value


# --- §1 SMTP addresses --------------------------------------------------------------------


@pytest.mark.parametrize("address", [
    "alice@contoso.com",
    "o'brien@contoso.com",
    "alice+news@contoso.com",
    "first.last@mail.contoso.co.uk",
    "a-b_c@my-contoso.com",
    "x!#$%&*/=?^`{|}~@contoso.com",
    "alice@contoso.xn--p1ai",
    "Alice@CONTOSO.COM",
])
def test_s1_valid_smtp_addresses(address):
    """Rule book §1: RFC 5322 dot-atom addresses in routable domains; ' and + are atext."""
    assert validate_smtp_address(address) == []


@pytest.mark.parametrize(("address", "rule"), [
    ("", "empty_address"),
    ("alice@" + ".".join(["a" * 60] * 4) + ".com", "max_length"),
    ("alice smith@contoso.com", "whitespace"),
    ("alice@contoso.com\t", "whitespace"),
    ("jürgen@contoso.com", "non_ascii"),
    ("alice.contoso.com", "missing_at"),
    ("@contoso.com", "addr_spec"),
    (".alice@contoso.com", "addr_spec"),
    ("alice.@contoso.com", "addr_spec"),
    ("al..ice@contoso.com", "addr_spec"),
    ("a@b@contoso.com", "addr_spec"),
    ("a\\b@contoso.com", "addr_spec"),
    ("alice@", "addr_spec"),
    ("alice@contoso..com", "addr_spec"),
    ("alice@-contoso.com", "addr_spec"),
    ("alice@contoso.com.", "addr_spec"),
    ("a" * 65 + "@contoso.com", "prefix_too_long"),
    ("alice@contoso", "unroutable_domain"),
    ("alice@10.0.0.1", "unroutable_domain"),
    ("alice@contoso.c0m", "unroutable_domain"),
])
def test_s1_smtp_address_rules(address, rule):
    """Rule book §1: each malformed address is reported under the rule it breaks."""
    violations = validate_smtp_address(address)
    assert rule in rules(violations)
    assert all(v.code == "invalid_proxy_address" and v.value == address for v in violations)
    assert all(v.message.endswith(".") for v in violations)


@pytest.mark.parametrize("char", list('<>();,[]"'))
def test_s1_smtp_forbidden_characters(char):
    """Rule book §1: none of < > ( ) ; , [ ] " in an SMTP address."""
    violations = validate_smtp_address(f"al{char}ice@contoso.com")
    assert rules(violations) == {"forbidden_character"}
    assert repr(char) in violations[0].message


@pytest.mark.parametrize("suffix", ["local", "lan", "internal", "corp", "localdomain", "home", "intranet",
                                    "private", "localhost", "test", "invalid"])
def test_s1_smtp_domain_must_be_routable(suffix):
    """Rule book §1: private and reserved suffixes are not routable."""
    violations = validate_smtp_address(f"alice@contoso.{suffix}")
    assert rules(violations) == {"unroutable_domain"}
    assert f".{suffix}" in violations[0].message


def test_s1_character_problems_are_not_repeated_as_syntax():
    assert rules(validate_smtp_address("alice smith@contoso.local")) == {"whitespace", "unroutable_domain"}


# --- §1 typed values ----------------------------------------------------------------------


@pytest.mark.parametrize("value", [
    "SMTP:alice@contoso.com",
    "smtp:o'brien@contoso.com",
    X500_LEGACY,
    X500_OLD_ORG,
    "X400:c=US;a= ;p=Contoso;o=Exchange;s=Smith;g=Alice;",
    "SIP:alice@contoso.com",
    "EUM:1234;phone-context=dialplan.contoso.com",
])
def test_s1_valid_proxy_addresses(value):
    """Rule book §1, IdFix 2.3: X500/X400 DNs may hold spaces and parentheses; EUM and X400 hold ';'."""
    assert validate_proxy_address(value) == []


@pytest.mark.parametrize(("value", "rule"), [
    ("alice@contoso.com", "no_type"),
    ("smtp:", "empty_address"),
    ("smtp:" + "a" * 60 + "@" + ".".join(["b" * 60] * 4) + ".com", "max_length"),
    ("X500:/o=Contoso/cn=" + "a" * 250, "max_length"),
    ("smtp:alice smith@contoso.com", "whitespace"),
    ("smtp:alice(x)@contoso.com", "forbidden_character"),
    ("smtp:alice@contoso.local", "unroutable_domain"),
    ("smtp:alice.contoso.com", "missing_at"),
    ("X500:/o=Contoso/cn=alice\tsmith", "whitespace"),
    ("X500:/o=Contoso/cn=[alice]", "forbidden_character"),
    ('X500:/o=Contoso/cn="alice"', "forbidden_character"),
    ("X500:/o=Contoso/cn=jürgen", "non_ascii"),
    ("SIP:alice smith@contoso.com", "whitespace"),
    ("SIP:alice(x)@contoso.com", "forbidden_character"),
])
def test_s1_proxy_address_rules(value, rule):
    """Rule book §1: each typed value is checked by the rules of its type."""
    violations = validate_proxy_address(value)
    assert rule in rules(violations)
    assert all(v.code == "invalid_proxy_address" and v.value == value for v in violations)


def test_s1_length_is_reported_once_for_a_value():
    value = "smtp:" + "a" * 60 + "@" + ".".join(["b" * 60] * 4) + ".com"
    assert len(value) > 256
    assert [v.rule for v in validate_proxy_address(value)].count("max_length") == 1


def test_s1_one_primary_smtp_per_user():
    """Rule book §1 and §9.2: more than one SMTP: value is a multiple_primary_smtp finding."""
    violations = validate_proxy_addresses(["SMTP:a@contoso.com", "SMTP:b@contoso.com", "smtp:c@contoso.com"])
    assert [(v.code, v.rule) for v in violations] == [("multiple_primary_smtp", "two_primaries")]
    assert "SMTP:a@contoso.com" in violations[0].value and "SMTP:b@contoso.com" in violations[0].value


def test_s1_one_primary_per_other_type_but_x500_has_none():
    assert validate_proxy_addresses(["SMTP:a@contoso.com", "X500:/o=A/cn=a", "X500:/o=B/cn=a"]) == []
    violations = validate_proxy_addresses(["SIP:a@contoso.com", "SIP:b@contoso.com"])
    assert [(v.code, v.rule) for v in violations] == [("invalid_proxy_address", "two_primaries")]


def test_s1_parse_splits_at_the_first_colon_and_keys_the_whole_value():
    proxy = ProxyAddress.parse("SIP:alice:5060@Contoso.com")
    assert (proxy.kind, proxy.address, proxy.primary) == ("SIP", "alice:5060@Contoso.com", True)
    assert proxy.key == "sip:alice:5060@contoso.com"
    assert ProxyAddress("smtp", "A@Contoso.com").key == "smtp:a@contoso.com"
    assert parse_or_none("alice@contoso.com") is None
    assert parse_or_none("smtp:alice@contoso.com") == ProxyAddress.smtp("ALICE@contoso.com")


@pytest.mark.parametrize("values", [
    ["SMTP:a@contoso.com", "smtp:A@CONTOSO.COM", "SMTP:b@contoso.com", "junk", "SIP:x", "SIP:y", "smtp:c@x.local"],
    ["SMTP:a@contoso.com", X500_LEGACY, X500_OLD_ORG.upper(), "junk", "JUNK"],
])
def test_s1_validating_parsed_values_says_what_validating_strings_says(values):
    """The predictor hands over the values it parsed already: the verdict is the same, in the same order."""
    assert validate_proxy_addresses(values, [parse_or_none(v) for v in values]) == validate_proxy_addresses(values)
    assert [v.rule for v in validate_proxy_addresses(values)] != []


def test_s1_case_twins_in_one_list_are_duplicates():
    violations = validate_proxy_addresses(["SMTP:a@contoso.com", "smtp:A@CONTOSO.COM"])
    assert rules(violations) == {"duplicate_value"}


def test_s1_at_most_300_values():
    """Rule book §1: a user with more than about 300 addresses fails export for size."""
    values = ["SMTP:a@contoso.com"] + [f"smtp:a{n}@contoso.com" for n in range(299)]
    assert validate_proxy_addresses(values) == []
    violations = validate_proxy_addresses([*values, "smtp:one.more@contoso.com"])
    assert [v.code for v in violations] == ["too_many_addresses"]


# --- §1 userPrincipalName -----------------------------------------------------------------


@pytest.mark.parametrize("upn", ["alice@contoso.com", "o'brien@contoso.com", "first.last@sub.contoso.com",
                                 "alice@contoso.local", "a" * 64 + "@" + "b" * 44 + ".com"])
def test_s1_valid_upns(upn):
    """Rule book §1; an unverified or private suffix is a §2 matter (upn_suffix_unverified), not invalid."""
    assert validate_upn(upn) == []


@pytest.mark.parametrize(("upn", "rule"), [
    ("", "missing_at"),
    ("alice.contoso.com", "missing_at"),
    ("@contoso.com", "empty_prefix"),
    ("alice@", "empty_suffix"),
    ("a@b@contoso.com", "multiple_at"),
    ("alice.@contoso.com", "prefix_ends_with_dot"),
    ("a" * 65 + "@contoso.com", "prefix_too_long"),
    ("alice@" + "b" * 45 + ".com", "suffix_too_long"),
    ("a" * 64 + "@" + "b" * 45 + ".com", "max_length"),
    ("alice smith@contoso.com", "whitespace"),
    ("josé@contoso.com", "non_ascii"),
])
def test_s1_upn_rules(upn, rule):
    violations = validate_upn(upn)
    assert rule in rules(violations)
    assert all(v.code == "invalid_upn" and v.value == upn for v in violations)


@pytest.mark.parametrize("char", list('\\%&*+/=?{}|<>();:,[]"'))
def test_s1_upn_forbidden_characters(char):
    assert rules(validate_upn(f"al{char}ice@contoso.com")) == {"forbidden_character"}


# --- requests -----------------------------------------------------------------------------


def test_request_from_params_as_ansible_gives_them():
    request = AddressRequest.from_params({
        "primary_smtp": "SMTP:alice@contoso.com",
        "keep_old_primary": None,
        "secondary_smtp": {"add": ["smtp:a@contoso.com", "b@contoso.com"], "remove": None, "set": None},
        "other_addresses": {"add": ["sip:alice@contoso.com"], "remove": [], "set": None},
    })
    assert request.primary_smtp == "alice@contoso.com"
    assert request.keep_old_primary is True
    assert request.secondary_smtp == ListChange(add=("a@contoso.com", "b@contoso.com"))
    assert request.other_addresses.add == ("sip:alice@contoso.com",)
    assert not request.empty
    assert AddressRequest.from_params({}).empty
    assert AddressRequest.from_params({"secondary_smtp": {"set": []}}).secondary_smtp.set == ()


@pytest.mark.parametrize(("params", "rule"), [
    ({"primary_smtp": "alice@contoso.local"}, "unroutable_domain"),
    ({"primary_smtp": "alice"}, "missing_at"),
    ({"primary_smtp": ""}, "empty_address"),
    ({"primary_smtp": "sip:alice@contoso.com"}, "not_smtp"),
    ({"secondary_smtp": {"add": ["alice smith@contoso.com"]}}, "whitespace"),
    ({"secondary_smtp": {"set": ["alice@contoso.com", "bob(x)@contoso.com"]}}, "forbidden_character"),
    ({"secondary_smtp": {"add": ["SMTP:alice@contoso.com"]}}, "two_primaries"),
    ({"secondary_smtp": {"add": ["x500:/o=Contoso"]}}, "not_smtp"),
    ({"secondary_smtp": {"add": ["a@contoso.com"], "remove": ["smtp:A@CONTOSO.COM"]}}, "conflicting_request"),
    ({"primary_smtp": "a@contoso.com", "secondary_smtp": {"remove": ["A@contoso.com"]}}, "remove_primary"),
    ({"secondary_smtp": {"add": "alice@contoso.com"}}, "not_a_list"),
    ({"secondary_smtp": {"add": [42]}}, "not_a_string"),
    ({"other_addresses": {"add": ["smtp:alice@contoso.com"]}}, "smtp_in_other_addresses"),
    ({"other_addresses": {"set": ["/o=Contoso/cn=alice"]}}, "no_type"),
    ({"other_addresses": {"add": ["SIP:a@contoso.com", "SIP:b@contoso.com"]}}, "two_primaries"),
    ({"other_addresses": {"add": ["X500:/o=Contoso/cn=[alice]"]}}, "forbidden_character"),
    ({"other_addresses": {"add": ["sip:a@contoso.com"], "remove": ["SIP:A@contoso.com"]}},
     "conflicting_request"),
])
def test_request_refuses_bad_input(params, rule):
    """Every requested value is validated before any plan is made (rule book §1)."""
    with pytest.raises(AddressError) as caught:
        AddressRequest.from_params(params)
    assert caught.value.rule == rule
    assert f"rule {rule}" in str(caught.value)
    assert caught.value.hint


def test_request_error_names_the_option_and_the_value():
    with pytest.raises(AddressError) as caught:
        AddressRequest.from_params({"secondary_smtp": {"add": ["ok@contoso.com", "bob@contoso.lan"]}})
    assert caught.value.value == "bob@contoso.lan"
    assert str(caught.value).startswith("secondary_smtp.add: ")
    assert "'bob@contoso.lan'" in str(caught.value)


def test_request_built_directly_is_validated_too():
    with pytest.raises(AddressError) as caught:
        AddressRequest(secondary_smtp=ListChange(add=("no-at-sign",)))
    assert caught.value.rule == "missing_at"


def test_request_case_twins_count_once():
    request = AddressRequest.from_params({"other_addresses": {"add": ["SIP:a@contoso.com", "SIP:A@CONTOSO.COM"]},
                                          "secondary_smtp": {"add": ["b@contoso.com", "smtp:B@contoso.com"]}})
    assert request.other_addresses.add == ("SIP:a@contoso.com",)
    assert request.secondary_smtp.add == ("b@contoso.com",)


def test_request_several_x500_primaries_are_fine():
    request = AddressRequest.from_params({"other_addresses": {"add": [X500_LEGACY, "X500:/o=Fabrikam/cn=a"]}})
    assert len(request.other_addresses.add) == 2


def test_request_removal_of_a_malformed_value_is_accepted():
    """Removal entries are matched, not validated, so malformed stored values can be cleaned up."""
    plan = planned(["SMTP:a@contoso.com", "smtp:john doe@contoso.com"],
                   secondary_smtp={"remove": ["john doe@contoso.com"]})
    assert plan.to_delete == ("smtp:john doe@contoso.com",)
    assert plan.warnings == ()


# --- §1 planning: the primary -------------------------------------------------------------


def test_s1_promote_existing_secondary():
    """Rule book §1: promotion deletes the smtp: twin and adds SMTP:, in one modify."""
    current = ["SMTP:bob@contoso.com", "smtp:Alice@contoso.com", X500_LEGACY, X500_OLD_ORG]
    plan = planned(current, primary_smtp="alice@contoso.com")
    assert plan.after == ("SMTP:alice@contoso.com", "smtp:bob@contoso.com", X500_LEGACY, X500_OLD_ORG)
    assert plan.to_delete == ("SMTP:bob@contoso.com", "smtp:Alice@contoso.com")
    assert plan.to_add == ("SMTP:alice@contoso.com", "smtp:bob@contoso.com")
    assert primaries(plan.after) == ["SMTP:alice@contoso.com"]
    assert plan.primary_smtp == "alice@contoso.com"
    assert plan.warnings == ()


def test_s1_promote_without_keeping_the_old_primary():
    current = ["SMTP:bob@contoso.com", "smtp:Alice@contoso.com", X500_LEGACY]
    plan = planned(current, primary_smtp="alice@contoso.com", keep_old_primary=False)
    assert plan.after == ("SMTP:alice@contoso.com", X500_LEGACY)
    assert plan.to_delete == ("SMTP:bob@contoso.com", "smtp:Alice@contoso.com")
    assert plan.to_add == ("SMTP:alice@contoso.com",)


def test_s1_new_primary_demotes_the_old_one_keeping_its_case():
    plan = planned(["SMTP:Bob.Smith@contoso.com", "smtp:b@contoso.com"], primary_smtp="SMTP:bob@fabrikam.com")
    assert plan.after == ("SMTP:bob@fabrikam.com", "smtp:b@contoso.com", "smtp:Bob.Smith@contoso.com")
    assert plan.to_delete == ("SMTP:Bob.Smith@contoso.com",)


def test_s1_primary_already_in_place_in_any_case_is_left_alone():
    plan = planned(["SMTP:Alice@Contoso.com", X500_LEGACY], primary_smtp="alice@contoso.com")
    assert not plan.changed
    assert plan.after == ("SMTP:Alice@Contoso.com", X500_LEGACY)
    assert plan.primary_smtp == "Alice@Contoso.com"


def test_s9_several_current_primaries_are_collapsed_to_one():
    """Rule book §9.2: several SMTP: values are invalid; naming the primary leaves exactly one."""
    current = ["SMTP:a@contoso.com", "SMTP:b@contoso.com", "smtp:x@contoso.com", "SMTP:c@contoso.com"]
    plan = planned(current, primary_smtp="b@contoso.com")
    assert primaries(plan.after) == ["SMTP:b@contoso.com"]
    assert plan.after == ("SMTP:b@contoso.com", "smtp:x@contoso.com", "smtp:a@contoso.com", "smtp:c@contoso.com")
    assert plan.to_delete == ("SMTP:a@contoso.com", "SMTP:c@contoso.com")
    assert plan.to_add == ("smtp:a@contoso.com", "smtp:c@contoso.com")


def test_s9_several_current_primaries_without_request_only_warn():
    current = ["SMTP:a@contoso.com", "SMTP:b@contoso.com"]
    plan = planned(current, secondary_smtp={"add": ["c@contoso.com"]})
    assert plan.to_delete == ()
    assert plan.to_add == ("smtp:c@contoso.com",)
    assert plan.primary_smtp is None
    assert [w.code for w in plan.warnings] == ["multiple_primary_smtp"]


def test_s1_no_primary_at_all():
    plan = planned(["smtp:a@contoso.com"], secondary_smtp={"add": ["b@contoso.com"]})
    assert plan.primary_smtp is None
    assert plan.after == ("smtp:a@contoso.com", "smtp:b@contoso.com")


# --- §1 planning: secondaries -------------------------------------------------------------


def test_s1_add_secondary_present_in_any_case_is_present():
    current = ["SMTP:a@contoso.com", "smtp:Bob@Contoso.com"]
    plan = planned(current, secondary_smtp={"add": ["bob@contoso.com", "smtp:A@CONTOSO.COM", "c@contoso.com"]})
    assert plan.to_delete == ()
    assert plan.to_add == ("smtp:c@contoso.com",)
    assert plan.after == ("SMTP:a@contoso.com", "smtp:Bob@Contoso.com", "smtp:c@contoso.com")


def test_s1_add_an_old_primary_keeps_it_even_without_keep_old_primary():
    plan = planned(["SMTP:Bob@contoso.com"], primary_smtp="alice@contoso.com", keep_old_primary=False,
                   secondary_smtp={"add": ["bob@contoso.com"]})
    assert plan.after == ("SMTP:alice@contoso.com", "smtp:Bob@contoso.com")


def test_s1_remove_secondary_deletes_the_exact_stored_value():
    current = ["SMTP:a@contoso.com", "smtp:Bob@Contoso.com", "smtp:c@contoso.com", X500_LEGACY]
    plan = planned(current, secondary_smtp={"remove": ["smtp:bob@contoso.com", "gone@contoso.com"]})
    assert plan.to_delete == ("smtp:Bob@Contoso.com",)
    assert plan.to_add == ()
    assert plan.after == ("SMTP:a@contoso.com", "smtp:c@contoso.com", X500_LEGACY)


def test_s1_remove_current_primary_is_refused():
    with pytest.raises(AddressError) as caught:
        planned(["SMTP:a@contoso.com", "smtp:b@contoso.com"], secondary_smtp={"remove": ["A@contoso.com"]})
    assert caught.value.rule == "remove_primary"
    assert caught.value.value == "a@contoso.com"


def test_s1_remove_requested_primary_is_refused():
    with pytest.raises(AddressError) as caught:
        planned(["SMTP:a@contoso.com"], primary_smtp="b@contoso.com", secondary_smtp={"remove": ["b@contoso.com"]})
    assert caught.value.rule == "remove_primary"


def test_s1_remove_the_old_primary_while_replacing_it_drops_it():
    plan = planned(["SMTP:a@contoso.com", "smtp:b@contoso.com"], primary_smtp="b@contoso.com",
                   secondary_smtp={"remove": ["a@contoso.com"]})
    assert plan.after == ("SMTP:b@contoso.com",)


def test_s1_set_is_authoritative_for_secondaries():
    current = ["SMTP:a@contoso.com", "smtp:Keep@contoso.com", "smtp:drop@contoso.com", X500_LEGACY]
    plan = planned(current, secondary_smtp={"set": ["keep@contoso.com", "new@contoso.com", "a@contoso.com"]})
    assert plan.after == ("SMTP:a@contoso.com", "smtp:Keep@contoso.com", "smtp:new@contoso.com", X500_LEGACY)
    assert plan.to_delete == ("smtp:drop@contoso.com",)
    assert plan.to_add == ("smtp:new@contoso.com",)


def test_s1_set_keeps_the_old_primary_only_when_listed():
    current = ["SMTP:old@contoso.com", "smtp:x@contoso.com"]
    unlisted = planned(current, primary_smtp="new@contoso.com", keep_old_primary=True,
                       secondary_smtp={"set": ["x@contoso.com"]})
    assert unlisted.after == ("SMTP:new@contoso.com", "smtp:x@contoso.com")
    listed = planned(current, primary_smtp="new@contoso.com", secondary_smtp={"set": ["OLD@contoso.com"]})
    assert listed.after == ("SMTP:new@contoso.com", "smtp:old@contoso.com")


def test_s1_set_empty_clears_secondaries_only():
    plan = planned(["SMTP:a@contoso.com", "smtp:b@contoso.com", X500_LEGACY], secondary_smtp={"set": []})
    assert plan.after == ("SMTP:a@contoso.com", X500_LEGACY)


def test_set_takes_precedence_over_add_and_remove():
    """As in microsoft.ad's list values guide: set wins when given."""
    plan = planned(["SMTP:a@contoso.com", "smtp:b@contoso.com"],
                   secondary_smtp={"set": ["b@contoso.com"], "add": ["c@contoso.com"], "remove": ["b@contoso.com"]})
    assert not plan.changed


# --- §1 planning: other types -------------------------------------------------------------


def test_s1_other_addresses_add_and_remove():
    current = ["SMTP:a@contoso.com", X500_OLD_ORG, "sip:old@contoso.com"]
    plan = planned(current, other_addresses={"add": [X500_LEGACY, "SIP:a@contoso.com"],
                                             "remove": ["SIP:OLD@contoso.com"]})
    assert plan.after == ("SMTP:a@contoso.com", X500_OLD_ORG, X500_LEGACY, "SIP:a@contoso.com")
    assert plan.to_delete == ("sip:old@contoso.com",)


def test_s1_other_addresses_set_replaces_every_other_type():
    current = ["SMTP:a@contoso.com", "smtp:b@contoso.com", X500_OLD_ORG, "SIP:a@contoso.com", "junk-without-type"]
    plan = planned(current, other_addresses={"set": [X500_LEGACY, "sip:A@CONTOSO.COM"]})
    assert plan.after == ("SMTP:a@contoso.com", "smtp:b@contoso.com", X500_LEGACY, "sip:A@CONTOSO.COM")
    assert set(plan.to_delete) == {X500_OLD_ORG, "SIP:a@contoso.com", "junk-without-type"}


def test_s1_x500_prefix_case_is_cosmetic():
    plan = planned([X500_LEGACY], other_addresses={"add": ["x500:" + X500_LEGACY.removeprefix("X500:").lower()]})
    assert not plan.changed


def test_s1_other_type_prefix_case_is_its_primary_flag():
    """Rule book §1: the upper-case type is the primary; asking for it rewrites the twin."""
    plan = planned(["SMTP:a@contoso.com", "sip:Alice@contoso.com"], other_addresses={"add": ["SIP:alice@contoso.com"]})
    assert plan.to_delete == ("sip:Alice@contoso.com",)
    assert plan.to_add == ("SIP:alice@contoso.com",)


def test_s1_two_primaries_of_one_type_in_the_result_are_refused():
    with pytest.raises(AddressError) as caught:
        planned(["SIP:old@contoso.com"], other_addresses={"add": ["SIP:new@contoso.com"]})
    assert caught.value.rule == "two_primaries"
    assert "SIP:old@contoso.com" in str(caught.value)


SMTP_OPERATIONS = [
    {"primary_smtp": "alice@contoso.com"},
    {"primary_smtp": "new@contoso.com", "keep_old_primary": False},
    {"secondary_smtp": {"add": ["n@contoso.com"]}},
    {"secondary_smtp": {"remove": ["b@contoso.com"]}},
    {"secondary_smtp": {"set": []}},
    {"primary_smtp": "b@contoso.com", "secondary_smtp": {"set": ["z@contoso.com"]}},
]


@pytest.mark.parametrize("request_params", SMTP_OPERATIONS)
def test_s1_other_types_survive_every_smtp_operation(request_params):
    others = [X500_LEGACY, X500_OLD_ORG, "SIP:alice@contoso.com", "EUM:1234;phone-context=dp.contoso.com"]
    current = ["SMTP:Alice@contoso.com", "smtp:b@contoso.com", *others]
    plan = planned(current, **request_params)
    assert list(plan.after[-len(others):]) == others
    assert not set(plan.to_delete) & set(others)
    assert len(primaries(plan.after)) == 1


# --- §1 planning: untouched values, warnings, limits --------------------------------------


def test_s1_untouched_values_are_never_recased():
    current = ["smtp:Carol@Contoso.COM", "x500:/O=Contoso/cn=carol", "SMTP:Alice@contoso.com"]
    plan = planned(current, secondary_smtp={"add": ["dave@contoso.com"]})
    assert plan.to_delete == ()
    assert plan.after == ("SMTP:Alice@contoso.com", "smtp:Carol@Contoso.COM", "smtp:dave@contoso.com",
                          "x500:/O=Contoso/cn=carol")


def test_s1_existing_invalid_values_only_warn():
    current = ["SMTP:a@contoso.com", "smtp:john doe@contoso.com", "smtp:a@contoso.local", "untyped@contoso.com"]
    plan = planned(current, secondary_smtp={"add": ["b@contoso.com"]})
    assert plan.to_add == ("smtp:b@contoso.com",)
    assert [(w.code, w.rule, w.value) for w in plan.warnings] == [
        ("invalid_proxy_address", "whitespace", "smtp:john doe@contoso.com"),
        ("invalid_proxy_address", "unroutable_domain", "smtp:a@contoso.local"),
        ("invalid_proxy_address", "no_type", "untyped@contoso.com"),
    ]


def test_s1_an_invalid_old_primary_is_demoted_as_it_is_with_a_warning():
    plan = planned(["SMTP:john doe@contoso.com"], primary_smtp="john.doe@contoso.com")
    assert plan.after == ("SMTP:john.doe@contoso.com", "smtp:john doe@contoso.com")
    assert [(w.rule, w.value) for w in plan.warnings] == [("whitespace", "smtp:john doe@contoso.com")]


def test_s1_existing_duplicate_primaries_of_other_types_only_warn():
    plan = planned(["SMTP:a@contoso.com", "SIP:a@contoso.com", "SIP:b@contoso.com"],
                   secondary_smtp={"add": ["c@contoso.com"]})
    assert [(w.code, w.rule) for w in plan.warnings] == [("invalid_proxy_address", "two_primaries")]


def test_s1_growing_past_300_values_is_refused():
    current = ["SMTP:a@contoso.com"] + [f"smtp:a{n}@contoso.com" for n in range(299)]
    assert not planned(current).changed
    with pytest.raises(AddressError) as caught:
        planned(current, secondary_smtp={"add": ["one.more@contoso.com"]})
    assert caught.value.rule == "too_many_addresses"


def test_s1_already_past_300_values_warns_and_may_shrink():
    current = ["SMTP:a@contoso.com"] + [f"smtp:a{n}@contoso.com" for n in range(305)]
    plan = planned(current, secondary_smtp={"remove": ["a0@contoso.com"]})
    assert [w.code for w in plan.warnings] == ["too_many_addresses"]


def test_s1_empty_request_changes_nothing():
    current = ["smtp:b@contoso.com", X500_LEGACY, "SMTP:a@contoso.com"]
    plan = planned(current)
    assert not plan.changed
    assert plan.after == ("SMTP:a@contoso.com", "smtp:b@contoso.com", X500_LEGACY)
    assert plan.primary_smtp == "a@contoso.com"


def test_s1_case_twins_among_current_values_count_once():
    plan = planned(["SMTP:a@contoso.com", "smtp:A@CONTOSO.COM"])
    assert plan.after == ("SMTP:a@contoso.com",)
    assert not plan.changed


def test_s1_plan_accepts_any_iterable_and_keeps_before_exact():
    plan = plan_addresses(iter(["smtp:b@contoso.com", "SMTP:a@contoso.com"]), AddressRequest())
    assert plan.before == ("smtp:b@contoso.com", "SMTP:a@contoso.com")
