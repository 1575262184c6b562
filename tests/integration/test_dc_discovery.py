"""Finding the domain controllers in DNS and failing over, against the lab's Samba DC.

The test serves the domain's SRV records itself: a small DNS responder on loopback (UDP, and TCP
for truncated answers), named to the modules through ad_dns_server. The DC that does not answer is
127.0.0.2, where nothing listens (Samba listens on 127.0.0.1 and ::1 only).
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading

import pytest

from tests.integration._ansible import run_module

DOMAIN = "lab.contoso.test"
SRV_NAME = f"_ldap._tcp.dc._msdcs.{DOMAIN}"
SILENT_DC = "127.0.0.2"


def _name(name: str) -> bytes:
    return b"".join(bytes([len(label)]) + label.encode() for label in name.split(".")) + b"\x00"


class DnsResponder:
    """Answers SRV queries for SRV_NAME with ``records``; NXDOMAIN for any other name. Keeps the names asked."""

    def __init__(self):
        self.records: list[tuple[int, int, int, str]] = []
        self.truncate = False
        self.asked: list[tuple[str, str]] = []
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.port = self.udp.getsockname()[1]
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind(("127.0.0.1", self.port))
        self.tcp.listen(4)
        for target in (self._serve_udp, self._serve_tcp):
            threading.Thread(target=target, daemon=True).start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def answer(self, query: bytes, over: str) -> bytes:
        query_id = struct.unpack("!H", query[:2])[0]
        end = query.index(b"\x00", 12) + 5
        labels, offset = [], 12
        while query[offset]:
            labels.append(query[offset + 1:offset + 1 + query[offset]].decode())
            offset += 1 + query[offset]
        name = ".".join(labels)
        self.asked.append((name, over))
        question = query[12:end]
        if name.lower() != SRV_NAME:
            return struct.pack("!HHHHHH", query_id, 0x8183, 1, 0, 0, 0) + question
        if self.truncate and over == "udp":
            return struct.pack("!HHHHHH", query_id, 0x8380, 1, 0, 0, 0) + question
        answers = b""
        for priority, weight, port, target in self.records:
            data = struct.pack("!HHH", priority, weight, port) + _name(target)
            answers += b"\xc0\x0c" + struct.pack("!HHIH", 33, 1, 600, len(data)) + data
        return struct.pack("!HHHHHH", query_id, 0x8180, 1, len(self.records), 0, 0) + question + answers

    def _serve_udp(self):
        with contextlib.suppress(OSError):
            while True:
                query, client = self.udp.recvfrom(512)
                self.udp.sendto(self.answer(query, "udp"), client)

    def _serve_tcp(self):
        with contextlib.suppress(OSError):
            while True:
                connection, _client = self.tcp.accept()
                with connection:
                    length = struct.unpack("!H", connection.recv(2))[0]
                    answer = self.answer(connection.recv(length), "tcp")
                    connection.sendall(struct.pack("!H", len(answer)) + answer)

    def close(self):
        self.udp.close()
        self.tcp.close()


@pytest.fixture
def dns():
    responder = DnsResponder()
    yield responder
    responder.close()


def ad_check(lab_vars, **options):
    """connection_check on the AD side only; (status, result, statuses by check name)."""
    args = {name: lab_vars[name] for name in ("ad_username", "ad_password", "ad_ca_cert")}
    args |= {"sides": ["ad"], "require_write": False} | options
    status, result, _output = run_module("connection_check", args)
    return status, result, {entry["name"]: entry["status"] for entry in result.get("checks", [])}


def test_the_domain_controllers_come_from_dns_and_a_silent_one_is_passed_over(lab_vars, dns):
    dns.records = [(0, 100, 389, SILENT_DC), (10, 100, 389, "localhost")]

    status, result, statuses = ad_check(lab_vars, ad_domain=DOMAIN, ad_dns_server=dns.address, ad_timeout=5)

    assert status == "SUCCESS", result
    assert statuses["ad_reached"] == statuses["ad_tls"] == statuses["ad_bind"] == "ok"
    # LDAPS on 636 of the DC the record names
    assert result["ad"]["server"] == "localhost:636"
    assert result["ad"]["naming_context"] == lab_vars["ad_base_dn"]
    assert dns.asked == [(SRV_NAME, "udp")]


def test_the_srv_port_is_used_without_ldaps(lab_vars, dns):
    dns.records = [(0, 0, 3899, "localhost"), (5, 0, 389, "localhost")]

    status, result, _statuses = ad_check(lab_vars, ad_domain=DOMAIN, ad_dns_server=dns.address, ad_tls="starttls")

    assert status == "SUCCESS", result
    assert result["ad"]["server"] == "localhost:389"


def test_a_truncated_answer_is_asked_again_over_tcp(lab_vars, dns):
    dns.records = [(0, 0, 389, "localhost")]
    dns.truncate = True

    status, result, _statuses = ad_check(lab_vars, ad_domain=DOMAIN, ad_dns_server=dns.address)

    assert status == "SUCCESS", result
    assert dns.asked == [(SRV_NAME, "udp"), (SRV_NAME, "tcp")]


def test_a_list_of_servers_is_tried_in_order(lab_vars):
    servers = [f"ldaps://{SILENT_DC}:636", "ldaps://localhost:636"]

    status, result, _statuses = ad_check(lab_vars, ad_server=servers, ad_timeout=5)

    assert status == "SUCCESS", result
    assert result["ad"]["server"] == "localhost:636"


def test_when_no_domain_controller_answers_each_is_named(lab_vars, dns):
    dns.records = [(0, 0, 389, SILENT_DC), (0, 0, 389, "127.0.0.3")]

    status, result, statuses = ad_check(lab_vars, ad_domain=DOMAIN, ad_dns_server=dns.address, ad_timeout=5)

    assert status == "FAILED"
    assert statuses["ad_reached"] == "failed"
    assert "none of 2 domain controllers answered" in result["msg"]
    assert f"{SILENT_DC}:636" in result["msg"] and "127.0.0.3:636" in result["msg"]


def test_a_refused_bind_is_not_tried_on_the_next_domain_controller(lab_vars):
    status, result, statuses = ad_check(lab_vars, ad_server=["ldaps://localhost:636", f"ldaps://{SILENT_DC}:636"],
                                        ad_password="not-the-password")

    assert status == "FAILED"
    assert statuses["ad_reached"] == "ok" and statuses["ad_bind"] == "failed"
    assert "localhost:636 refused the credentials" in result["msg"] and SILENT_DC not in result["msg"]


def test_a_domain_without_srv_records(lab_vars, dns):
    status, result, _statuses = ad_check(lab_vars, ad_domain="nowhere.test", ad_dns_server=dns.address)

    assert status == "FAILED"
    assert "DNS has no domain controllers for nowhere.test" in result["msg"]
    assert dns.asked == [("_ldap._tcp.dc._msdcs.nowhere.test", "udp")]


def test_a_dns_server_that_does_not_answer(lab_vars):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as closed:
        closed.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{closed.getsockname()[1]}"
    status, result, _statuses = ad_check(lab_vars, ad_domain=DOMAIN, ad_dns_server=address)

    assert status == "FAILED"
    assert f"no DNS server answered for {SRV_NAME}" in result["msg"] and "ad_dns_server" in result["hint"]


def test_a_module_finds_its_dc_from_the_domain(lab, lab_vars, dns):
    dns.records = [(0, 0, 389, SILENT_DC), (1, 0, 389, "localhost")]
    args = {name: lab_vars[name] for name in ("ad_username", "ad_password", "ad_ca_cert")}

    status, result, _output = run_module("ad_user_smtp", args | {
        "ad_domain": DOMAIN, "ad_dns_server": dns.address, "ad_timeout": 5, "identity": "Administrator"})

    assert status == "SUCCESS", result
    assert result["changed"] is False
