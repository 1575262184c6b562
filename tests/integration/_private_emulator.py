"""An Entra emulator of a test module's own, apart from the shared lab's."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import trustme

from tests.lab.entra import EntraEmulator


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def private_emulator(directory: Path) -> Iterator[tuple[EntraEmulator, Path]]:
    """A running emulator on a free port, its certificate from a throwaway CA; yields it and the CA path."""
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    ca_path, cert_path, key_path = directory / "ca.pem", directory / "server.pem", directory / "server-key.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    leaf.cert_chain_pems[0].write_to_path(str(cert_path))
    leaf.private_key_pem.write_to_path(str(key_path))
    emulator = EntraEmulator(directory, port=free_port(), ca_cert=ca_path)
    emulator.start(cert_path, key_path)
    try:
        yield emulator, ca_path
    finally:
        emulator.stop()
