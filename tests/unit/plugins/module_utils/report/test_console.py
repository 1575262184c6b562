"""What the roles and playbooks print, from plain data: tables, who needs a person, refusals, before and after."""

from ansible_collections.hybrid.identity.plugins.module_utils.report._attention import (
    FINE,
    NEEDS_PERSON,
    TO_ACCEPT,
    attention,
    by_urgency,
)
from ansible_collections.hybrid.identity.plugins.module_utils.report._console import (
    attention_block,
    finding_table,
    outcome_table,
    pair_refusals,
    text_table,
    transfer_refusals,
    window_refusal,
)
from ansible_collections.hybrid.identity.plugins.module_utils.report._onboard_summary import (
    counts_line,
    onboard_counts,
    onboard_rows,
)

OU = "OU=Staff,DC=contoso,DC=com"


def finding(code, severity="error", message=None, attribute=None):
    return {"code": code, "severity": severity, "message": message or f"{code}: do this", "attribute": attribute,
            "value": None}


def result(sam, outcome, findings=(), cloud_primary=None):
    return {"onprem": {"sam_account_name": sam, "distinguished_name": f"CN={sam},{OU}"},
            "cloud": {"primary_smtp": cloud_primary} if cloud_primary else None,
            "outcome": outcome, "findings": list(findings)}


# --- who needs a person -------------------------------------------------------------


def test_attention_levels():
    assert attention(result("a", "blocked")) == NEEDS_PERSON
    assert attention(result("b", "new_user", [finding("duplicate_in_directory")])) == NEEDS_PERSON
    assert attention(result("c", "soft_match_smtp", [finding("primary_smtp_will_change", "warning")])) == TO_ACCEPT
    assert attention(result("d", "already_synced")) == FINE


def test_urgency_order_is_stable_whatever_the_input_order():
    users = [result("zed", "soft_match_smtp"), result("Amy", "conflict"), result("bob", "blocked"),
             result("cy", "soft_match_smtp", [finding("upn_will_change", "warning")]), result("al", "invalid"),
             result("dee", "new_user", [finding("duplicate_in_directory")])]
    expected = ["bob", "Amy", "al", "dee", "cy", "zed"]
    assert [user["onprem"]["sam_account_name"] for user in by_urgency(users)] == expected
    assert [user["onprem"]["sam_account_name"] for user in by_urgency(reversed(users))] == expected


def test_attention_block_says_who_why_and_what_to_do_errors_first():
    users = [result("fine", "already_synced"),
             result("patti", "blocked", [finding("soft_match_blocked", message="Turn the switch off"),
                                         finding("primary_smtp_will_change", "warning", "accept it"),
                                         finding("admin_role", message="Remove the role")]),
             result("lou", "conflict", [finding("duplicate_proxy_address", message="Remove it from one")])]
    lines = attention_block(users)
    assert lines == [
        "2 user(s) need a person, most urgent first:",
        "  1. patti  blocked",
        "       soft_match_blocked (error): Turn the switch off",
        "       admin_role (error): Remove the role",
        "       primary_smtp_will_change (warning): accept it",
        "  2. lou    conflict",
        "       duplicate_proxy_address (error): Remove it from one",
    ]


def test_attention_block_names_the_variable_that_accepts_a_held_back_change():
    held = result("megan", "soft_match_smtp", [finding("primary_smtp_will_change", "warning", "add it on-prem")])
    not_held = result("ann", "soft_match_smtp", [finding("upn_will_change", "warning")])
    lines = attention_block([held, not_held], held_back=[f"CN=megan,{OU}"], accept_variable="onboard_accept")
    assert lines[0] == ("1 user(s) were held back for a visible change: fix it; or accept it with onboard_accept: "
                        "[primary_smtp_will_change]:")
    assert "ann" not in "\n".join(lines)
    assert attention_block([result("fine", "already_synced")]) == ["No user needs a person."]


# --- tables -------------------------------------------------------------------------


def test_text_table_aligns_columns_and_puts_counts_right():
    assert text_table(("outcome", "users"), [("blocked", 4), ("soft_match_smtp", 28)]) == [
        "outcome          users",
        "blocked              4",
        "soft_match_smtp     28",
    ]
    assert text_table(("a", "b"), [("x", None)]) == ["a  b", "x  -"]


def test_outcome_table_in_urgency_order_without_zeros():
    lines = outcome_table({"soft_match_smtp": 28, "blocked": 4, "excluded": 0, "future": 1})
    assert [line.split()[0] for line in lines] == ["outcome", "blocked", "soft_match_smtp", "future"]


def test_finding_table_errors_first_then_the_most_frequent():
    lines = finding_table({"primary_smtp_will_change": 14, "admin_role": 2, "duplicate_upn": 2},
                          {"primary_smtp_will_change": "warning", "admin_role": "error", "duplicate_upn": "error"})
    assert [line.split()[0] for line in lines[1:]] == ["admin_role", "duplicate_upn", "primary_smtp_will_change"]


# --- refusals -----------------------------------------------------------------------


def test_the_closed_matching_window_is_named_with_the_variable_that_opens_it():
    blocked = [result(f"u{number:02d}", "blocked", [finding("soft_match_blocked", attribute="blockSoftMatchEnabled")])
               for number in reversed(range(12))]
    admin = result("patti", "blocked", [finding("admin_role")])
    message = window_refusal([*blocked, admin], "onboard_open_matching_window")
    assert message.startswith("12 user(s) come out blocked because the tenant blocks soft matching "
                              "(blockSoftMatchEnabled is on)")
    assert "u00, u01, u02, u03, u04, u05, u06, u07, u08, u09 and 2 more" in message  # in a stable order
    assert "Set onboard_open_matching_window: true" in message
    assert window_refusal([admin], "onboard_open_matching_window") is None


def test_transfer_and_pair_refusals_carry_their_reason():
    assert transfer_refusals([
        {"cloud": {"id": "1", "user_principal_name": "megan@contoso.com"}, "reason": "megan already holds it"},
        {"cloud": None, "reason": "no cloud user has the UPN nobody@contoso.com"},
    ]) == ["not created on-prem: megan@contoso.com: megan already holds it",
           "not created on-prem: no cloud user has the UPN nobody@contoso.com"]
    assert pair_refusals([
        {"status": "aligned", "onprem": {"sam_account_name": "a"}, "cloud": {"user_principal_name": "a@c"}},
        {"status": "blocked", "onprem": {"sam_account_name": "patti"}, "cloud": {"user_principal_name": "patti@c"},
         "reasons": ["holds Global Administrator."]},
    ]) == ["not aligned: patti -> patti@c: holds Global Administrator."]


# --- before and after ---------------------------------------------------------------


def test_onboard_rows_and_counts():
    before = [result("megan", "soft_match_smtp", [finding("primary_smtp_will_change", "warning")], "m@c"),
              result("patti", "blocked", [finding("admin_role")], "patti@c"),
              result("ivan", "already_synced", cloud_primary="ivan@c"),
              result("uma", "new_user")]
    after = [result("megan", "already_synced", cloud_primary="m@c"),
             result("patti", "blocked", [finding("admin_role"), finding("soft_match_blocked")], "patti@c"),
             result("ivan", "already_synced", cloud_primary="ivan@c"),
             result("uma", "new_user"),
             result("nora", "already_synced", cloud_primary="nora@c")]
    rows = onboard_rows(before, after,
                        created=[{"distinguished_name": f"CN=nora,{OU}"}],
                        pairs=[{"onprem": {"distinguished_name": f"CN=megan,{OU}"}, "status": "aligned"}],
                        candidates=[{"distinguished_name": f"CN={sam},{OU}"} for sam in ("megan", "nora", "uma")],
                        verified=[{"label": "megan", "ok": True}, {"label": "nora", "ok": True},
                                  {"label": "uma", "ok": False}])
    assert [(row["user"], row["before"], row["after"], row["verdict"]) for row in rows] == [
        ("patti", "blocked", "blocked", "left alone: admin_role"),  # the before audit's reason, not the after's
        ("uma", "new_user", "new_user", "to sync"),
        ("ivan", "already_synced", "already_synced", "nothing to do"),
        ("megan", "soft_match_smtp", "already_synced", "addresses aligned, joined"),
        ("nora", None, "already_synced", "created on-prem from the cloud user, joined"),
    ]
    assert rows[0]["needs_person"] and not rows[3]["needs_person"]
    counts = onboard_counts(rows)
    assert counts == {"users": 5, "joined": 2, "to sync": 1, "created": 1, "aligned": 1, "nothing to do": 1,
                      "left alone": 1, "left_alone_why": {"admin_role": 1}}
    assert counts_line(counts) == ("5 users: 2 joined, 1 to sync, 1 created on-prem, 1 aligned, 1 with nothing to do, "
                                   "1 left alone (admin_role 1)")


def test_the_page_of_the_run_escapes_values_and_shows_every_row():
    from ansible_collections.hybrid.identity.plugins.module_utils.report._report import onboard_page

    script = "<script>alert(1)</script>"
    before = [result(script, "blocked", [finding("admin_role", message=f"remove {script}")], "a@c")]
    after = [result(script, "blocked", [finding("admin_role", message=f"remove {script}")], "a@c"),
             result("nora", "already_synced", cloud_primary="nora@c")]
    rows = onboard_rows(before, after, created=[{"distinguished_name": f"CN=nora,{OU}"}])
    page = onboard_page(rows, onboard_counts(rows), {"scope": OU, "run_id": "r-1", "generated_at": "now"})
    assert script not in page
    assert "remove &lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.count("<tr data-user=") == 2
    assert '<dd id="run-id">r-1</dd>' in page
    assert '<tr><td class="addr">admin_role</td><td class="n">1</td></tr>' in page
    assert "http://" not in page and "https://" not in page
