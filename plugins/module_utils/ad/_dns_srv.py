# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""DNS SRV lookups with the standard library alone, to find a domain's controllers (internal to the collection).

A query is built and an answer parsed by pure functions (RFC 1035 messages, RFC 2782 SRV records); one
UDP exchange sends it, and TCP takes over when the answer comes back truncated.
"""

from __future__ import annotations

import random
import socket
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from ansible_collections.hybrid.identity.plugins.module_utils.common._errors import HybridIdentityError

TYPE_SRV = 33
CLASS_IN = 1
DNS_PORT = 53
_RCODES = {1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}


class DnsError(HybridIdentityError):
    """The lookup failed: no resolver answered, or the answer is an error or can't be read."""


@dataclass(frozen=True)
class SrvRecord:
    priority: int
    weight: int
    port: int
    target: str


def build_query(name: str, query_id: int, record_type: int = TYPE_SRV) -> bytes:
    """A standard query with recursion desired, for one name."""
    header = struct.pack("!HHHHHH", query_id, 0x0100, 1, 0, 0, 0)
    return header + _encode_name(name) + struct.pack("!HH", record_type, CLASS_IN)


def _encode_name(name: str) -> bytes:
    labels = [label for label in name.rstrip(".").split(".") if label]
    encoded = b""
    for label in labels:
        raw = label.encode("idna")
        if len(raw) > 63:
            raise DnsError(f"the DNS name {name!r} has a label longer than 63 characters")
        encoded += bytes([len(raw)]) + raw
    return encoded + b"\x00"


def parse_srv_answer(message: bytes, query_id: int) -> tuple[list[SrvRecord], bool]:
    """The SRV records of an answer, and whether it was truncated (TC); DnsError for an error answer."""
    try:
        answer_id, flags, questions, answers, _authority, _additional = struct.unpack_from("!HHHHHH", message)
        if answer_id != query_id or not flags & 0x8000:
            raise DnsError("the DNS server's answer does not belong to the query")
        rcode = flags & 0x000F
        if rcode == 3:
            return [], False
        if rcode:
            raise DnsError(f"the DNS server answered {_RCODES.get(rcode, rcode)}")
        offset = 12
        for _question in range(questions):
            _name, offset = _read_name(message, offset)
            offset += 4
        records = []
        for _answer in range(answers):
            _name, offset = _read_name(message, offset)
            record_type, _class, _ttl, length = struct.unpack_from("!HHIH", message, offset)
            offset += 10
            if record_type == TYPE_SRV:
                priority, weight, port = struct.unpack_from("!HHH", message, offset)
                target, _end = _read_name(message, offset + 6)
                records.append(SrvRecord(priority, weight, port, target))
            offset += length
        return records, bool(flags & 0x0200)
    except (struct.error, IndexError, UnicodeError) as err:
        raise DnsError(f"the DNS server's answer can't be read: {err}") from None


def _read_name(message: bytes, offset: int) -> tuple[str, int]:
    """A possibly compressed name at offset, and the offset after it."""
    labels, end, jumps = [], None, 0
    while True:
        length = message[offset]
        if length & 0xC0 == 0xC0:
            jumps += 1
            if jumps > 32:
                raise DnsError("the DNS server's answer has a compression loop")
            if end is None:
                end = offset + 2
            offset = ((length & 0x3F) << 8) | message[offset + 1]
            continue
        if length == 0:
            return ".".join(labels), end if end is not None else offset + 1
        labels.append(message[offset + 1:offset + 1 + length].decode("idna"))
        offset += 1 + length


def ordered(records: Sequence[SrvRecord], rng: random.Random | None = None) -> list[SrvRecord]:
    """RFC 2782 order: lowest priority first; within a priority, a weighted random order."""
    rng = rng or random.Random()  # noqa: S311 - load spreading, not a secret
    result = []
    for priority in sorted({record.priority for record in records}):
        pool = [record for record in records if record.priority == priority and record.target not in ("", ".")]
        while pool:
            total = sum(record.weight for record in pool)
            pick = rng.uniform(0, total) if total else 0
            running = 0
            for index, record in enumerate(pool):
                running += record.weight
                if running >= pick:
                    result.append(pool.pop(index))
                    break
    return result


def nameservers(resolv_conf: str = "/etc/resolv.conf") -> list[str]:
    """The controller's resolvers, as its resolv.conf lists them."""
    try:
        with open(resolv_conf, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return []
    return [line.split()[1] for line in lines if line.startswith("nameserver") and len(line.split()) > 1]


def server_address(server: str) -> tuple[str, int]:
    """host, [v6]:port or host:port as (host, port)."""
    if server.startswith("["):
        host, _bracket, rest = server[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else DNS_PORT
    if server.count(":") == 1:
        host, port = server.split(":")
        return host, int(port)
    return server, DNS_PORT


def lookup_srv(name: str, servers: Sequence[str], timeout: float = 3.0) -> list[SrvRecord]:
    """The SRV records of name from the first resolver that answers."""
    if not servers:
        raise DnsError("no DNS server to ask: resolv.conf lists none", hint="set ad_dns_server")
    problems = []
    for server in servers:
        try:
            host, port = server_address(server)
        except ValueError:
            raise DnsError(f"ad_dns_server {server!r} is not host or host:port",
                           hint="give the DNS server as an address, optionally with :port") from None
        query_id = random.getrandbits(16)
        query = build_query(name, query_id)
        try:
            records, truncated = parse_srv_answer(_udp(query, host, port, timeout), query_id)
            if truncated:
                records, _truncated = parse_srv_answer(_tcp(query, host, port, timeout), query_id)
            return records
        except (OSError, DnsError) as err:
            problems.append(f"{host}:{port}: {err}")
    raise DnsError(f"no DNS server answered for {name}: {'; '.join(problems)}",
                   hint="check ad_dns_server (or the controller's resolv.conf) and that it serves the domain's zone")


def _udp(query: bytes, host: str, port: int, timeout: float) -> bytes:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(query, (host, port))
        return sock.recvfrom(65535)[0]


def _tcp(query: bytes, host: str, port: int, timeout: float) -> bytes:
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(struct.pack("!H", len(query)) + query)
        length = struct.unpack("!H", _receive(sock, 2))[0]
        return _receive(sock, length)


def _receive(sock, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise DnsError("the DNS server closed the connection mid-answer")
        data += chunk
    return data
