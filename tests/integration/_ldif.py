"""Read AD with the independent OpenLDAP client, so tests don't trust the code under test."""

from __future__ import annotations

import base64
import os
import subprocess
from urllib.parse import urlsplit


def _uri(lab_vars: dict) -> str:
    server = lab_vars["ad_server"]
    if "://" in server:
        url = urlsplit(server)
        return f"{url.scheme}://{url.hostname}:{url.port or 636}"
    return f"ldaps://{server}:636"


def ldapsearch(lab_vars: dict, ldap_filter: str, attributes=(), base: str | None = None,
               scope: str = "sub") -> list[dict]:
    """Entries as {attribute: [values]} (bytes for binary values), 'dn' included."""
    env = dict(os.environ, LDAPTLS_CACERT=lab_vars["ad_ca_cert"], LDAPTLS_REQCERT="demand")
    command = [
        "ldapsearch",
        "-LLL",
        "-o",
        "ldif-wrap=no",
        "-x",
        "-H",
        _uri(lab_vars),
        "-D",
        lab_vars["ad_username"],
        "-w",
        lab_vars["ad_password"],
        "-b",
        lab_vars["ad_base_dn"] if base is None else base,
        "-s",
        scope,
        ldap_filter,
        *attributes,
    ]
    completed = subprocess.run(command, capture_output=True, env=env, timeout=60, check=False)
    if completed.returncode not in (0, 32):  # 32: no such object
        raise AssertionError(f"ldapsearch failed ({completed.returncode}): {completed.stderr.decode()}")
    return parse_ldif(completed.stdout)


def parse_ldif(raw: bytes) -> list[dict]:
    entries = []
    for block in raw.decode().split("\n\n"):
        entry: dict = {}
        for line in block.splitlines():
            if not line or line.startswith("#"):
                continue
            name, _colon, value = line.partition(":")
            if value.startswith(":"):
                decoded = base64.b64decode(value[1:].strip())
                try:
                    text = decoded.decode()
                    value = text if text.isprintable() else decoded
                except UnicodeDecodeError:
                    value = decoded
            else:
                value = value[1:] if value.startswith(" ") else value
            if name == "dn":
                entry["dn"] = value
            else:
                entry.setdefault(name, []).append(value)
        if entry:
            entries.append(entry)
    return entries


def user(lab_vars: dict, sam: str, *attributes: str) -> dict:
    found = ldapsearch(lab_vars, f"(sAMAccountName={sam})", attributes or ("*",))
    assert len(found) == 1, f"{sam}: {found}"
    return found[0]


def snapshot(lab_vars: dict, base: str) -> list[dict]:
    """Every user under base with the attributes the modules write, for nothing-changed checks."""
    attributes = ("proxyAddresses", "mail", "mailNickname", "userPrincipalName", "mS-DS-ConsistencyGuid", "whenChanged",
                  "uSNChanged")
    entries = ldapsearch(lab_vars, "(objectClass=user)", attributes, base=base)
    return sorted(entries, key=lambda entry: entry["dn"].lower())


def highest_committed_usn(lab_vars: dict) -> int:
    """The DC's update sequence number: each write it commits (one modify, whatever it holds) adds one."""
    [root] = ldapsearch(lab_vars, "(objectClass=*)", ("highestCommittedUSN",), base="", scope="base")
    return int(root["highestCommittedUSN"][0])


def ldapmodify(lab_vars: dict, ldif: str) -> None:
    """Another writer, outside the code under test."""
    env = dict(os.environ, LDAPTLS_CACERT=lab_vars["ad_ca_cert"], LDAPTLS_REQCERT="demand")
    command = ["ldapmodify", "-x", "-H", _uri(lab_vars), "-D", lab_vars["ad_username"], "-w", lab_vars["ad_password"]]
    completed = subprocess.run(command, input=ldif.encode(), capture_output=True, env=env, timeout=60, check=False)
    if completed.returncode != 0:
        raise AssertionError(f"ldapmodify failed ({completed.returncode}): {completed.stderr.decode()}")
