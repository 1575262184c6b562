"""The sync engine's AD connector: one paged LDAPS search of the scope, like Entra Connect's import (internal).

Connection settings come from the lab directory's lab_vars.yml, read at every run, so the
emulator works whichever lab service started first. TLS is verified against the lab CA.
The search pages with the simple paged results control, page by page, and asks for the
connector's attributes only; `last_read` tells what the last search did.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import ldap3
import yaml
from ldap3.core.exceptions import LDAPException, LDAPNoSuchObjectResult

from ._sync_onprem import OnPremUser, first_rdn_value

VARS_FILE = "lab_vars.yml"
PAGE_SIZE = 500
# Only what a connector reads for users (rule book §3, §2, §9.5), nothing more.
ATTRIBUTES = ("objectGUID", "mS-DS-ConsistencyGuid", "sAMAccountName", "userPrincipalName", "mail",
              "mailNickname", "proxyAddresses", "displayName", "givenName", "sn", "objectClass",
              "isCriticalSystemObject", "userAccountControl", "whenChanged", "uSNChanged")
USER_FILTER = "(&(objectCategory=person)(objectClass=user))"
PAGED_RESULTS_CONTROL = "1.2.840.113556.1.4.319"     # RFC 2696


class ConnectorError(Exception):
    """AD can't be read: no settings yet, or the DC does not answer."""


@dataclass(frozen=True)
class AdSettings:
    host: str
    port: int
    use_ssl: bool
    username: str
    password: str
    ca_cert: str
    base_dn: str
    scenario_ou: str

    @classmethod
    def from_lab_dir(cls, lab_dir: Path) -> AdSettings:
        path = Path(lab_dir) / VARS_FILE
        try:
            settings = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as err:
            raise ConnectorError(f"no AD settings in {path.name} of the lab directory ({err}); "
                                 "run `python -m tests.lab up`") from err
        missing = [key for key in ("ad_server", "ad_username", "ad_password", "ad_ca_cert", "ad_base_dn")
                   if not settings.get(key)]
        if missing:
            raise ConnectorError(f"{path.name} lacks {', '.join(missing)}: run `python -m tests.lab up`")
        server = str(settings["ad_server"])
        url = urlsplit(server if "://" in server else f"ldaps://{server}")
        use_ssl = url.scheme.lower() == "ldaps"
        return cls(host=url.hostname or "localhost", port=url.port or (636 if use_ssl else 389), use_ssl=use_ssl,
                   username=str(settings["ad_username"]), password=str(settings["ad_password"]),
                   ca_cert=str(settings["ad_ca_cert"]), base_dn=str(settings["ad_base_dn"]),
                   scenario_ou=str(settings.get("lab_scenario_ou") or settings["ad_base_dn"]))


@dataclass(frozen=True)
class ReadStats:
    """What one search did: the pages it took, the entries, the attributes asked for and those AD sent."""

    page_size: int
    pages: int
    entries: int
    attributes_requested: tuple[str, ...]
    attributes_returned: frozenset[str]


class AdConnector:
    def __init__(self, lab_dir: Path, page_size: int = PAGE_SIZE):
        self.lab_dir = Path(lab_dir)
        self.page_size = page_size
        self.last_read: ReadStats | None = None

    def settings(self) -> AdSettings:
        return AdSettings.from_lab_dir(self.lab_dir)

    def read_scope(self, search_base: str) -> list[OnPremUser]:
        """Every user under the search base, in one paged search."""
        return self._search(search_base, ldap3.SUBTREE)

    def read_one(self, dn: str) -> OnPremUser | None:
        """One user by DN (provisionOnDemand), or None when there is no such user."""
        found = self._search(dn, ldap3.BASE)
        return found[0] if found else None

    def _search(self, base: str, scope) -> list[OnPremUser]:
        settings = self.settings()
        tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=settings.ca_cert)
        server = ldap3.Server(settings.host, port=settings.port, use_ssl=settings.use_ssl, tls=tls,
                              get_info=ldap3.NONE, connect_timeout=10)
        try:
            with ldap3.Connection(server, settings.username, settings.password, auto_bind=True,
                                  raise_exceptions=True, receive_timeout=30) as connection:
                if not settings.use_ssl:
                    connection.start_tls()
                users, returned, pages, cookie = [], set(), 0, None
                while True:
                    connection.search(base, USER_FILTER, search_scope=scope, attributes=list(ATTRIBUTES),
                                      paged_size=self.page_size, paged_cookie=cookie)
                    pages += 1
                    for entry in connection.response or ():
                        if entry.get("type") == "searchResEntry":
                            returned.update(entry["raw_attributes"])
                            users.append(user_from_entry(entry))
                    control = (connection.result.get("controls") or {}).get(PAGED_RESULTS_CONTROL) or {}
                    cookie = (control.get("value") or {}).get("cookie")
                    if not cookie:
                        break
        except LDAPNoSuchObjectResult:
            self.last_read = ReadStats(self.page_size, 1, 0, ATTRIBUTES, frozenset())
            return []
        except (LDAPException, OSError) as err:
            raise ConnectorError(f"reading AD at {settings.host}:{settings.port} failed: {err}") from err
        self.last_read = ReadStats(self.page_size, pages, len(users), ATTRIBUTES, frozenset(returned))
        return users


def user_from_entry(entry: dict) -> OnPremUser:
    """An ldap3 search entry as a slotted record; raw values, so GUIDs keep their stored bytes."""
    raw = entry["raw_attributes"]

    def text(name: str) -> str | None:
        values = raw.get(name) or []
        return values[0].decode("utf-8") if values else None

    def texts(name: str) -> tuple[str, ...]:
        return tuple(value.decode("utf-8") for value in raw.get(name) or [])

    consistency = (raw.get("mS-DS-ConsistencyGuid") or [None])[0]
    return OnPremUser(
        dn=entry["dn"],
        cn=first_rdn_value(entry["dn"]),
        object_guid=raw["objectGUID"][0],
        consistency_guid=consistency if consistency and len(consistency) == 16 else None,
        sam_account_name=text("sAMAccountName") or "",
        user_principal_name=text("userPrincipalName"),
        mail=text("mail"),
        mail_nickname=text("mailNickname"),
        proxy_addresses=texts("proxyAddresses"),
        display_name=text("displayName"),
        given_name=text("givenName"),
        surname=text("sn"),
        critical_system_object=(text("isCriticalSystemObject") or "").upper() == "TRUE",
        user_account_control=int(text("userAccountControl") or 0),
        usn_changed=int(text("uSNChanged") or 0),
    )
