"""The lab's certificate authority: one CA per lab directory, kept on disk.

Every lab service (Samba's LDAPS, the Graph emulator's HTTPS) gets its server
certificate from this CA, so clients verify TLS against one file: ca_cert_path().
"""

from __future__ import annotations

import fcntl
import ipaddress
import os
from contextlib import contextmanager
from pathlib import Path

import trustme
from cryptography import x509

DEFAULT_SANS = ("127.0.0.1", "localhost")


def tls_dir(lab_dir: Path | str) -> Path:
    return Path(lab_dir) / "tls"


def ca_cert_path(lab_dir: Path | str) -> Path:
    return tls_dir(lab_dir) / "ca.pem"


def _ca_key_path(lab_dir: Path | str) -> Path:
    return tls_dir(lab_dir) / "ca.key"


def ensure_ca(lab_dir: Path | str) -> trustme.CA:
    """Load the lab CA, creating it on first use."""
    with _locked(lab_dir):
        return _load_or_create_ca(lab_dir)


def issue_server_cert(
    lab_dir: Path | str, name: str, sans: tuple[str, ...] | list[str] = DEFAULT_SANS
) -> tuple[Path, Path]:
    """Return (cert_path, key_path) of a server certificate for `sans` signed by the lab CA.

    An existing certificate is reused while it was issued by the current CA for the
    same names, so a service restart does not churn certificates.
    """
    with _locked(lab_dir):
        ca = _load_or_create_ca(lab_dir)
        cert_path = tls_dir(lab_dir) / f"{name}.pem"
        key_path = tls_dir(lab_dir) / f"{name}.key"
        if key_path.exists() and _is_current(cert_path, ca, sans):
            return cert_path, key_path
        leaf = ca.issue_cert(*sans, common_name=sans[0], key_type=trustme.KeyType.RSA)
        _write_private(key_path, leaf.private_key_pem.bytes())
        _write_atomic(cert_path, leaf.cert_chain_pems[0].bytes())
        return cert_path, key_path


def _load_or_create_ca(lab_dir: Path | str) -> trustme.CA:
    cert_path, key_path = ca_cert_path(lab_dir), _ca_key_path(lab_dir)
    if cert_path.exists() and key_path.exists():
        return trustme.CA.from_pem(cert_path.read_bytes(), key_path.read_bytes())
    ca = trustme.CA(organization_name="hybrid.identity lab", key_type=trustme.KeyType.RSA)
    _write_private(key_path, ca.private_key_pem.bytes())
    _write_atomic(cert_path, ca.cert_pem.bytes())
    return ca


def _is_current(cert_path: Path, ca: trustme.CA, sans) -> bool:
    if not cert_path.exists():
        return False
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem.bytes())
    try:
        cert.verify_directly_issued_by(ca_cert)
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, TypeError, x509.InvalidSignature, x509.ExtensionNotFound):
        return False
    have = {str(v) for v in names.get_values_for_type(x509.DNSName)}
    have |= {str(v) for v in names.get_values_for_type(x509.IPAddress)}
    return have == {_normal_name(s) for s in sans}


def _normal_name(name: str) -> str:
    try:
        return str(ipaddress.ip_address(name))
    except ValueError:
        return name


@contextmanager
def _locked(lab_dir: Path | str):
    # The Samba and Graph services may ask for certificates from separate processes.
    directory = tls_dir(lab_dir)
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _write_private(path: Path, data: bytes) -> None:
    # Samba refuses a TLS key readable by others; create it 0600 from the start.
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
