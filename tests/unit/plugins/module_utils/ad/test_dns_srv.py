"""DNS SRV messages and the order of domain controllers (RFC 1035, RFC 2782), with plain bytes."""

from __future__ import annotations

import random
import struct

import pytest

from ansible_collections.hybrid.identity.plugins.module_utils.ad._dns_srv import (
    DnsError,
    SrvRecord,
    build_query,
    nameservers,
    ordered,
    parse_srv_answer,
    server_address,
)

NAME = "_ldap._tcp.dc._msdcs.contoso.com"


def answer(query_id, flags, records, compress=True):
    question = build_query(NAME, query_id)[12:]
    body = b""
    for priority, weight, port, target in records:
        labels = target.split(".")
        # the target's domain by a pointer into the question (offset 12 + the labels before "contoso")
        if compress and target.endswith("contoso.com"):
            pointer = 12 + sum(1 + len(label) for label in NAME.split(".")[:-2])
            head = b"".join(bytes([len(label)]) + label.encode() for label in labels[:-2])
            encoded = head + struct.pack("!H", 0xC000 | pointer)
        else:
            encoded = b"".join(bytes([len(label)]) + label.encode() for label in labels) + b"\x00"
        data = struct.pack("!HHH", priority, weight, port) + encoded
        body += b"\xc0\x0c" + struct.pack("!HHIH", 33, 1, 600, len(data)) + data
    return struct.pack("!HHHHHH", query_id, flags, 1, len(records), 0, 0) + question + body


def test_query_asks_one_srv_question_with_recursion():
    query = build_query(NAME + ".", 0x1234)
    assert query[:12] == struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
    assert query[12:] == b"\x05_ldap\x04_tcp\x02dc\x06_msdcs\x07contoso\x03com\x00" + struct.pack("!HH", 33, 1)


@pytest.mark.parametrize("compress", [True, False])
def test_answers_are_read_with_and_without_compressed_names(compress):
    message = answer(7, 0x8180, [(0, 100, 389, "dc01.contoso.com"), (10, 50, 389, "dc02.contoso.com")], compress)
    records, truncated = parse_srv_answer(message, 7)
    assert records == [SrvRecord(0, 100, 389, "dc01.contoso.com"), SrvRecord(10, 50, 389, "dc02.contoso.com")]
    assert truncated is False


def test_truncation_nxdomain_and_errors():
    assert parse_srv_answer(answer(7, 0x8380, []), 7) == ([], True)
    assert parse_srv_answer(answer(7, 0x8183, []), 7) == ([], False)
    with pytest.raises(DnsError, match="SERVFAIL"):
        parse_srv_answer(answer(7, 0x8182, []), 7)
    with pytest.raises(DnsError, match="does not belong"):
        parse_srv_answer(answer(8, 0x8180, []), 7)
    with pytest.raises(DnsError, match="can't be read"):
        parse_srv_answer(answer(7, 0x8180, [(0, 0, 389, "dc01.contoso.com")])[:-6], 7)


def test_a_compression_loop_is_refused():
    message = bytearray(answer(7, 0x8180, [(0, 0, 389, "dc01.contoso.com")]))
    message[-2:] = struct.pack("!H", 0xC000 | (len(message) - 2))  # the pointer points at itself
    with pytest.raises(DnsError, match="loop"):
        parse_srv_answer(bytes(message), 7)


def test_lowest_priority_first_and_weight_spreads_within_a_priority():
    records = [SrvRecord(10, 0, 389, "backup"), SrvRecord(0, 90, 389, "heavy"), SrvRecord(0, 10, 389, "light"),
               SrvRecord(0, 0, 389, ".")]
    orders = [tuple(r.target for r in ordered(records, random.Random(seed))) for seed in range(200)]
    assert {order[-1] for order in orders} == {"backup"} and all(len(order) == 3 for order in orders)
    heavy_first = sum(order[0] == "heavy" for order in orders)
    assert 150 < heavy_first < 200


@pytest.mark.parametrize(("server", "address"), [
    ("10.0.0.10", ("10.0.0.10", 53)), ("10.0.0.10:5353", ("10.0.0.10", 5353)),
    ("[fd00::10]:53", ("fd00::10", 53)), ("[fd00::10]", ("fd00::10", 53)), ("fd00::10", ("fd00::10", 53)),
])
def test_dns_server_addresses(server, address):
    assert server_address(server) == address


def test_nameservers_from_resolv_conf(tmp_path):
    conf = tmp_path / "resolv.conf"
    conf.write_text("# local\nsearch contoso.com\nnameserver 10.0.0.10\nnameserver fd00::10\noptions ndots:1\n")
    assert nameservers(str(conf)) == ["10.0.0.10", "fd00::10"]
    assert nameservers(str(tmp_path / "missing")) == []
