"""The checks every module makes on its options first: control characters and TLS switched off."""

import pytest

from ansible_collections.hybrid.identity.plugins.module_utils.preflight._input_guard import (
    ControlCharacter,
    ca_file_problems,
    control_characters,
    insecure_tls_warnings,
    refuse_control_characters,
)

SPEC = {
    "identity": {"type": "str"},
    "ad_password": {"type": "str", "no_log": True},
    "users": {"type": "list", "elements": "dict",
              "options": {"identity": {"type": "str"}, "secret": {"type": "str", "no_log": True}}},
    "features": {"type": "dict"},
}


@pytest.mark.parametrize("char", ["\x00", "\t", "\n", "\r", "\x1b", "\x1f", "\x7f"])
def test_every_c0_control_character_and_del_is_found(char):
    assert control_characters({"identity": f"bob{char}@contoso.com"}, SPEC) == [("identity", char, 3)]


def test_printable_text_and_non_ascii_pass():
    assert control_characters({"identity": "Zoë O'Brien <zoe@contoso.com>", "users": None}, SPEC) == []


def test_nested_values_are_named_by_their_path():
    params = {"users": [{"identity": "alice"}, {"identity": "bob\r"}], "features": {"block\nSoftMatch": True}}
    assert control_characters(params, SPEC) == [("users[1].identity", "\r", 3),
                                                ("features['block\\nSoftMatch'] (its key)", "\n", 5)]


def test_secrets_are_not_looked_at():
    params = {"ad_password": "pa\x00ss", "users": [{"identity": "alice", "secret": "\x00"}]}
    assert control_characters(params, SPEC) == []


def test_the_refusal_names_the_option_the_character_and_what_to_do():
    with pytest.raises(ControlCharacter) as refused:
        refuse_control_characters({"identity": "bob\x00", "users": [{"identity": "\n"}]}, SPEC)
    assert "identity holds control characters, first U+0000 NUL at position 4 (and 1 other value)" in str(refused.value)
    assert "nothing was sent" in str(refused.value)
    assert "printable" in refused.value.hint


@pytest.mark.parametrize(("params", "warned"), [
    ({"ad_validate_certs": False}, ["ad_validate_certs"]),
    ({"graph_validate_certs": False, "ad_validate_certs": True}, ["graph_validate_certs"]),
    ({"ad_validate_certs": False, "graph_validate_certs": False}, ["ad_validate_certs", "graph_validate_certs"]),
    ({"ad_validate_certs": True, "graph_validate_certs": None}, []),
    ({}, []),
])
def test_a_warning_for_each_connection_whose_certificate_is_not_verified(params, warned):
    warnings = insecure_tls_warnings(params)
    assert [warning.split(" ", 1)[0] for warning in warnings] == warned
    assert all("ca_cert" in warning for warning in warnings)


def test_a_ca_file_must_be_a_readable_pem_bundle(tmp_path):
    (tmp_path / "binary.pem").write_bytes(bytes(range(256)))
    (tmp_path / "cut.pem").write_text("-----BEGIN CERTIFICATE-----\nMIIDazCCAlOgAwIBAgIUX1xu\n")
    params = {"ad_ca_cert": str(tmp_path / "gone.pem"), "graph_ca_cert": str(tmp_path)}
    assert [problem for _option, problem in ca_file_problems(params)] == [
        f"ad_ca_cert {tmp_path}/gone.pem does not exist", f"graph_ca_cert {tmp_path} is not a file"]
    for name in ("binary.pem", "cut.pem"):
        [(option, problem)] = ca_file_problems({"ad_ca_cert": str(tmp_path / name), "graph_ca_cert": None})
        assert option == "ad_ca_cert" and problem.endswith("holds no PEM certificate (it is binary, DER, cut short "
                                                           "or not a certificate)")
