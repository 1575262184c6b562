"""On-premises users as the sync engine's connector reads them, and the rule book's on-prem rules (internal).

An independent model written from docs/soft-match-rules.md: source anchor (§3.1, §9.4),
primary SMTP (§9.2), the format limits of §1 and the excluded system accounts of §9.5.
"""

from __future__ import annotations

import base64
import re
import uuid
from dataclasses import dataclass

from ldap3.core.exceptions import LDAPInvalidDnError
from ldap3.utils.dn import parse_dn

# §1: characters a UPN may not hold; whitespace and non-ASCII are refused as well.
UPN_FORBIDDEN = set('\\%&*+/=?{}|<>();:,[]"')
# §1: characters a proxy address value may not hold.
PROXY_FORBIDDEN = set('<>();,[]"')
# §1: domains that are not routable on the internet.
UNROUTABLE_SUFFIXES = (".local", ".lan", ".internal", ".corp", ".localdomain", ".home", ".intranet", ".private")
ADDR_SPEC = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+"
                       r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,}$")

# §9.5: exact names and prefixes IdFix leaves out, compared case-insensitively.
EXCLUDED_NAMES = {"krbtgt", "guest"}
EXCLUDED_PREFIXES = ("admini", "systemmailbox", "discoverysearchmailbox", "federatedemail", "healthmailbox",
                     "msol_")
UF_ACCOUNTDISABLE = 0x0002


@dataclass(slots=True, frozen=True)
class OnPremUser:
    dn: str
    cn: str
    object_guid: bytes
    consistency_guid: bytes | None
    sam_account_name: str
    user_principal_name: str | None
    mail: str | None
    mail_nickname: str | None
    proxy_addresses: tuple[str, ...]
    display_name: str | None
    given_name: str | None
    surname: str | None
    critical_system_object: bool
    user_account_control: int
    usn_changed: int

    @property
    def source_anchor(self) -> str:
        """§3.1 and §9.4: base64 of the stored bytes of mS-DS-ConsistencyGuid when set, else of objectGUID."""
        return base64.b64encode(self.consistency_guid or self.object_guid).decode("ascii")

    @property
    def object_guid_text(self) -> str:
        return str(uuid.UUID(bytes_le=self.object_guid))

    @property
    def enabled(self) -> bool:
        return not self.user_account_control & UF_ACCOUNTDISABLE

    def smtp_values(self) -> list[tuple[bool, str]]:
        """(is_primary, address) for every SMTP value of proxyAddresses, in stored order."""
        found = []
        for value in self.proxy_addresses:
            kind, colon, address = value.partition(":")
            if colon and kind.lower() == "smtp":
                found.append((kind == "SMTP", address))
        return found

    def primary_smtps(self) -> list[str]:
        return [address for primary, address in self.smtp_values() if primary]

    @property
    def primary_smtp(self) -> str | None:
        """§9.2: the single SMTP: value, else mail (several SMTP: values make the user invalid)."""
        primaries = self.primary_smtps()
        if primaries:
            return primaries[0]
        return self.mail or None


def excluded_reason(user: OnPremUser) -> str | None:
    """§9.5: why a well-known system account stays out of the sync, or None."""
    if user.critical_system_object:
        return "isCriticalSystemObject"
    for name in (user.sam_account_name, user.cn):
        folded = name.casefold()
        if folded in EXCLUDED_NAMES:
            return f"well-known account {name}"
        if folded.endswith("$"):
            return f"{name} ends with $"
        prefix = next((p for p in EXCLUDED_PREFIXES if folded.startswith(p)), None)
        if prefix:
            return f"{name} starts with {prefix}"
    return None


def upn_problem(upn: str) -> str | None:
    """§1: what makes a userPrincipalName unacceptable to the cloud, or None."""
    prefix, at, suffix = upn.rpartition("@")
    if not at or not prefix:
        return "needs a name before @"
    if len(upn) > 113 or len(prefix) > 64 or len(suffix) > 48:
        return "is too long (113 characters, 64 before @, 48 after)"
    if any(ch in UPN_FORBIDDEN or ch.isspace() or ord(ch) > 127 for ch in upn):
        return "holds characters the cloud refuses"
    if "@" in prefix:
        return "holds more than one @"
    if prefix.endswith("."):
        return "ends with . before @"
    return None


def smtp_address_problem(address: str) -> str | None:
    """§1: why an SMTP address can't be carried to the cloud, or None."""
    if len(address) + len("smtp:") > 256:
        return "longer than 256 characters"
    if any(ch in PROXY_FORBIDDEN or ch.isspace() or ord(ch) > 127 for ch in address):
        return "holds characters the cloud refuses"
    if not ADDR_SPEC.match(address):
        return "not an addr-spec"
    if address.lower().endswith(UNROUTABLE_SUFFIXES):
        return "not a routable domain"
    return None


def domain_of(address: str) -> str:
    return address.rpartition("@")[2].lower()


def prefix_of(address: str | None) -> str | None:
    return address.rpartition("@")[0] if address and "@" in address else address


def first_rdn_value(dn: str) -> str:
    try:
        return parse_dn(dn, escape=False)[0][1]
    except (IndexError, LDAPInvalidDnError):
        return dn
