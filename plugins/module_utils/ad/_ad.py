# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Active Directory over ldap3: connect, find one user, scan a scope, modify exactly.

Internal to the collection; no stable API. I/O only: planning lives in the pure modules.
"""

from __future__ import annotations

import contextlib
import re
import socket
import ssl
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

from ansible_collections.hybrid.identity.plugins.module_utils.ad._ad_bind import bind_method
from ansible_collections.hybrid.identity.plugins.module_utils.ad._dns_srv import (
    DnsError,
    lookup_srv,
    nameservers,
    ordered,
)
from ansible_collections.hybrid.identity.plugins.module_utils.common._anchor import guid_bytes, immutable_id
from ansible_collections.hybrid.identity.plugins.module_utils.common._errors import (
    ConfigurationError,
    HybridIdentityError,
)

try:
    import ldap3
    from ldap3.core import exceptions as ldap_errors
    from ldap3.utils.conv import escape_bytes, escape_filter_chars
    from ldap3.utils.dn import parse_dn

    LDAP3_IMPORT_ERROR = None
except ImportError as import_error:  # reported by the module with missing_required_lib
    ldap3 = None
    LDAP3_IMPORT_ERROR = import_error

PAGE_SIZE = 1000
_RESULT_REFERRAL = 10
USER_FILTER = "(&(objectCategory=person)(objectClass=user))"
# OpenSSL's reason, e.g. "unable to get local issuer certificate" or "Hostname mismatch, ...".
_CERTIFICATE_REFUSED = re.compile(r"certificate verify failed: ([^(]+)", re.IGNORECASE)
GUID_PATTERN = re.compile(r"^\{?[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}\}?$")
# The attributes ad_user_smtp reads and writes.
USER_ATTRIBUTES = (
    "sAMAccountName",
    "userPrincipalName",
    "mail",
    "proxyAddresses",
    "objectGUID",
    "mS-DS-ConsistencyGuid",
    "mailNickname",
)


class AdConnectionError(HybridIdentityError):
    """The directory could not be reached, or the TLS handshake or bind failed; ``stage`` says which."""

    def __init__(self, message: str, hint: str = "", stage: str = "reach") -> None:
        super().__init__(message, hint)
        self.stage = stage  # reach, tls, bind or directory


class UserNotFound(HybridIdentityError):
    pass


class AmbiguousIdentity(HybridIdentityError):
    def __init__(self, identity: str, dns: Sequence[str]) -> None:
        super().__init__(
            f"identity {identity!r} matches {len(dns)} objects: {'; '.join(dns)}",
            hint="name the user by distinguished name or objectGUID",
        )
        self.dns = tuple(dns)


class InvalidIdentity(HybridIdentityError):
    pass


class ConcurrentChange(HybridIdentityError):
    """A value the write expected was changed by someone else since it was read."""


class DirectoryRefused(HybridIdentityError):
    """The directory refused a write for another reason (rights, schema, constraint)."""


class EntryExists(DirectoryRefused):
    """An object of that distinguished name exists already."""


@dataclass(frozen=True, slots=True)
class AdSettings:
    host: str | None
    port: int | None
    tls: str
    username: str | None
    password: str | None
    auth: str
    ca_cert: str | None
    validate_certs: bool
    base_dn: str | None
    timeout: int
    # Every domain controller to try, in order; empty: discovered from DNS for ``domain``.
    servers: tuple[tuple[str, int], ...] = ()
    domain: str | None = None
    dns_server: str | None = None

    @classmethod
    def from_params(cls, params: Mapping) -> AdSettings:
        tls = params["ad_tls"]
        given = params.get("ad_server") or []
        servers = tuple(_server_address(server, tls)[:2] for server in ([given] if isinstance(given, str) else given))
        if not servers and not params.get("ad_domain"):
            raise ConfigurationError("no domain controller given",
                                     hint="set ad_server (one or more DCs) or ad_domain to find its DCs in DNS")
        if tls == "none" and not params.get("ad_allow_plaintext"):
            raise ConfigurationError(
                "ad_tls=none would send the bind password in clear text",
                hint="use ad_tls: ldaps or starttls; for an isolated lab set ad_allow_plaintext: true",
            )
        first = servers[0] if servers else (None, None)
        settings = cls(
            host=first[0],
            port=first[1],
            tls=tls,
            username=params.get("ad_username"),
            password=params.get("ad_password"),
            auth=params.get("ad_auth") or "simple",
            ca_cert=params.get("ad_ca_cert"),
            validate_certs=params.get("ad_validate_certs", True),
            base_dn=params.get("ad_base_dn"),
            timeout=params.get("ad_timeout") or 30,
            servers=servers,
            domain=params.get("ad_domain"),
            dns_server=params.get("ad_dns_server"),
        )
        bind_method(settings.auth).validate(settings)
        return settings

    def candidates(self) -> list[tuple[str, int]]:
        """The DCs to try in order: those given, else the domain's from DNS SRV (RFC 2782 order)."""
        if self.servers:
            return list(self.servers)
        name = f"_ldap._tcp.dc._msdcs.{self.domain.strip('.')}"
        resolvers = [self.dns_server] if self.dns_server else nameservers()
        try:
            records = ordered(lookup_srv(name, resolvers, timeout=min(self.timeout, 5)))
        except DnsError as err:
            raise AdConnectionError(f"can't find the domain controllers of {self.domain}: {err}",
                                    hint=err.hint) from err
        if not records:
            raise AdConnectionError(f"DNS has no domain controllers for {self.domain} ({name} has no SRV record)",
                                    hint="check ad_domain (the AD DNS domain, e.g. contoso.com) and ad_dns_server, "
                                         "or name the DCs in ad_server")
        # The SRV record gives the LDAP port; LDAPS is on 636 of the same DC.
        return [(record.target, 636 if self.tls == "ldaps" else record.port) for record in records]


def _raise_bind_refusal(settings, err: Exception, where: str) -> None:
    """The bind method's own reading of a failed bind (NTLM's missing channel binding), when it has one."""
    refusal = getattr(bind_method(settings.auth), "refusal", None)
    reading = refusal(err, where) if refusal else None
    if reading is not None:
        raise AdConnectionError(reading[0], hint=reading[1], stage="bind") from err


def _server_address(server: str, tls: str) -> tuple[str, int, str]:
    """Host, port and TLS mode from a host name or an ldap(s):// URL."""
    if "://" not in server:
        return server, 636 if tls == "ldaps" else 389, tls
    url = urlsplit(server)
    if url.scheme not in ("ldap", "ldaps") or not url.hostname:
        raise ConfigurationError(f"ad_server {server!r} is not a host name or an ldap:// or ldaps:// URL",
                                 hint="give the domain controller as dc01.contoso.com or ldaps://dc01.contoso.com:636")
    if (url.scheme == "ldaps") != (tls == "ldaps"):
        wanted = "ldaps" if url.scheme == "ldaps" else "starttls (or none)"
        raise ConfigurationError(
            f"ad_server uses {url.scheme}:// but ad_tls is {tls}",
            hint=f"set ad_tls: {wanted}, or give the server as a host name",
        )
    return url.hostname, url.port or (636 if url.scheme == "ldaps" else 389), tls


if ldap3 is not None:

    class _VerifiedTls(ldap3.Tls):
        """TLS with Python's own host name check: ldap3's fallback check ignores IP SANs."""

        def wrap_socket(self, connection, do_handshake=False):
            context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=self.ca_certs_file)
            if self.validate == ssl.CERT_NONE:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            connection.socket = context.wrap_socket(
                connection.socket,
                server_side=False,
                do_handshake_on_connect=do_handshake,
                server_hostname=connection.server.host,
            )


@dataclass(slots=True)
class AdUser:
    """One user as read; values as stored (proxyAddresses case preserved)."""

    distinguished_name: str
    object_guid: str
    sam_account_name: str | None = None
    user_principal_name: str | None = None
    mail: str | None = None
    proxy_addresses: tuple[str, ...] = ()
    consistency_guid: bytes | None = None
    mail_nickname: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def source_anchor(self) -> str:
        """Rule book §3/§9.4: mS-DS-ConsistencyGuid when set, else objectGUID."""
        return immutable_id(self.consistency_guid or uuid.UUID(self.object_guid))


class AdSession:
    """One LDAP connection, bound, for the life of a ``with`` block."""

    def __init__(self, settings: AdSettings) -> None:
        if ldap3 is None:
            raise ConfigurationError("the Python package ldap3 is needed", hint="pip install ldap3")
        self.settings = settings
        self._connection = None
        self._base_dn = settings.base_dn

    def __enter__(self) -> AdSession:
        self._connection = self._connect()
        return self

    def __exit__(self, *exc_info) -> None:
        if self._connection is not None:
            # closing a broken connection: nothing left to protect
            with contextlib.suppress(ldap_errors.LDAPException, OSError):
                self._connection.unbind()
            self._connection = None

    # --- connection -------------------------------------------------------------------

    def reconnect(self) -> None:
        """A new connection in place of one that broke (the DC restarted, or stopped answering)."""
        self.__exit__()
        self._connection = self._connect()

    @contextlib.contextmanager
    def _answering(self, what: str):
        """ldap3's errors of a connection that broke or a server that stopped answering, as AdConnectionError."""
        try:
            yield
        except (ldap_errors.LDAPCommunicationError, ldap_errors.LDAPResponseTimeoutError) as err:
            raise AdConnectionError(
                f"the connection to {self.settings.host}:{self.settings.port} broke while {what}: {err}",
                hint="check that the domain controller is up and answers, then run again",
            ) from err

    def _connect(self):
        """A bound connection to the first DC that answers; one that can't be reached is passed over.

        A refused certificate or bind is not: the next DC would refuse it the same way, and each bind
        tried counts towards the account's lockout.
        """
        unreachable = []
        for host, port in self.settings.candidates():
            settings = replace(self.settings, host=host, port=port)
            try:
                connection = self._connect_to(settings)
            except AdConnectionError as err:
                if err.stage != "reach":
                    self.settings = settings  # the DC that answered and then refused
                    raise
                unreachable.append(err)
                continue
            self.settings = settings
            return connection
        if len(unreachable) == 1:
            raise unreachable[0]
        raise AdConnectionError(f"none of {len(unreachable)} domain controllers answered: "
                                + "; ".join(str(err) for err in unreachable),
                                hint=unreachable[-1].hint)

    @staticmethod
    def _connect_to(settings):
        tls = None
        if settings.tls != "none":
            tls = _VerifiedTls(
                validate=ssl.CERT_REQUIRED if settings.validate_certs else ssl.CERT_NONE,
                ca_certs_file=settings.ca_cert,
            )
        server = ldap3.Server(
            settings.host,
            port=settings.port,
            use_ssl=settings.tls == "ldaps",
            tls=tls,
            get_info=ldap3.NONE,
            connect_timeout=settings.timeout,
        )
        connection = ldap3.Connection(
            server,
            auto_bind=ldap3.AUTO_BIND_NONE,
            raise_exceptions=True,
            receive_timeout=settings.timeout,
            read_only=False,
            # A referral names another server; following it would send our bind there.
            auto_referrals=False,
            **bind_method(settings.auth).connection_kwargs(settings, ldap3),
        )
        where = f"{settings.host}:{settings.port}"
        try:
            connection.open()
            if settings.tls == "starttls":
                connection.start_tls()
            connection.bind()
        except ldap_errors.LDAPInvalidCredentialsResult as err:
            _raise_bind_refusal(settings, err, where)
            raise AdConnectionError(
                f"{where} refused the credentials of {settings.username!r}",
                hint="check ad_username and ad_password (for simple binds use a UPN or a DN)",
                stage="bind",
            ) from err
        except (ldap_errors.LDAPSocketOpenError, ldap_errors.LDAPStartTLSError, ssl.SSLError, OSError) as err:
            refused = _CERTIFICATE_REFUSED.search(str(err))
            if refused:
                raise AdConnectionError(
                    f"{where} presented a certificate that failed verification over {settings.tls}: "
                    f"{refused.group(1).strip()}",
                    hint=_tls_hint(err),
                    stage="tls",
                ) from err
            raise AdConnectionError(f"could not reach {where} over {settings.tls}: {err}", hint=_tls_hint(err)) from err
        except ldap_errors.LDAPException as err:
            _raise_bind_refusal(settings, err, where)
            raise AdConnectionError(f"{where}: {err}", stage="bind") from err
        return connection

    @property
    def base_dn(self) -> str:
        if self._base_dn is None:
            with self._answering("reading the rootDSE"):
                self._connection.search("", "(objectClass=*)", ldap3.BASE, attributes=["defaultNamingContext"])
            values = self._connection.response[0]["attributes"].get("defaultNamingContext")
            if not values:
                raise AdConnectionError("the rootDSE names no defaultNamingContext", hint="set ad_base_dn")
            self._base_dn = values[0] if isinstance(values, list) else values
        return self._base_dn

    # --- reading ----------------------------------------------------------------------

    def find_user(self, identity: str, attributes: Iterable[str] = USER_ATTRIBUTES) -> AdUser:
        """Exactly one user by DN, objectGUID, UPN or mail, or sAMAccountName."""
        attributes = _with_required(attributes)
        if not identity or any(ord(ch) < 32 for ch in identity):
            raise InvalidIdentity(
                f"identity {identity!r} is empty or holds control characters",
                hint="name the user by sAMAccountName, UPN, mail, DN or objectGUID, as plain printable text",
            )
        if GUID_PATTERN.match(identity):
            entries = self._search(f"(&{USER_FILTER}(objectGUID={escape_bytes(guid_bytes(identity))}))", attributes)
        elif _looks_like_dn(identity):
            return self._find_by_dn(identity, attributes)
        elif "@" in identity:
            value = escape_filter_chars(identity)
            entries = self._search(f"(&{USER_FILTER}(|(userPrincipalName={value})(mail={value})))", attributes)
        else:
            entries = self._search(f"(&{USER_FILTER}(sAMAccountName={escape_filter_chars(identity)}))", attributes)
        if not entries:
            raise UserNotFound(
                f"no user matches identity {identity!r} under {self.base_dn}",
                hint="name an existing user by sAMAccountName, UPN, mail, DN or objectGUID (nothing is created here)",
            )
        if len(entries) > 1:
            raise AmbiguousIdentity(identity, [entry.distinguished_name for entry in entries])
        return entries[0]

    def _find_by_dn(self, dn: str, attributes: tuple[str, ...]) -> AdUser:
        """The user at exactly this DN; every refusal of the DN becomes a typed error that says why."""
        try:
            with self._answering(f"reading {dn}"):
                self._connection.search(dn, USER_FILTER, ldap3.BASE, attributes=list(attributes))
        except ldap_errors.LDAPNoSuchObjectResult as err:
            # Samba and AD answer noSuchObject both for a DN missing here and for one outside every partition held.
            outside = "" if _dn_under(dn, self.base_dn) else f"; it is not under {self.base_dn}"
            raise UserNotFound(
                f"no object has the distinguished name {dn!r}{outside}",
                hint="check the DN (ldapsearch or dsquery shows it), or name the user by sAMAccountName, UPN or "
                "objectGUID (nothing is created here)",
            ) from err
        except (ldap_errors.LDAPInvalidDNSyntaxResult, ldap_errors.LDAPInvalidDnError) as err:
            raise InvalidIdentity(
                f"the directory refused {dn!r} as a distinguished name: {_ldap_reason(err)}",
                hint="write the DN as CN=name,OU=...,DC=... (one attribute per RDN, special characters escaped with a "
                "backslash), or name the user by sAMAccountName, UPN or objectGUID",
            ) from err
        except ldap_errors.LDAPOperationResult as err:
            raise InvalidIdentity(
                f"the directory refused a lookup of {dn!r}: {_ldap_reason(err)}",
                hint="name the user by sAMAccountName, UPN or objectGUID",
            ) from err
        result = self._connection.result or {}
        if result.get("result") == _RESULT_REFERRAL:
            # Referrals are never followed: ldap3 would bind to the named server with our credentials.
            raise InvalidIdentity(
                f"{dn!r} is held by another directory; this domain controller refers to "
                f"{', '.join(result.get('referrals') or ()) or 'another server'}",
                hint="point ad_server at a domain controller of the domain that holds the user",
            )
        entries = [entry for entry in self._connection.response if entry.get("type") == "searchResEntry"]
        if not entries:
            raise UserNotFound(
                f"{dn!r} is not a user object",
                hint="name a user (objectCategory person, objectClass user), not an OU, group or contact",
            )
        return _user_from_entry(entries[0])

    def users_with_upn(self, upn: str) -> list[str]:
        """DNs of every object that holds this UPN (AD doesn't always enforce uniqueness)."""
        entries = self._search(f"(userPrincipalName={escape_filter_chars(upn)})", ())
        return [entry.distinguished_name for entry in entries]

    def objects_holding(self, values: Iterable[str], per_search: int = 50) -> list[AdUser]:
        """Every object of the domain (user, group, contact ...) whose SMTP proxy address, mail or UPN is one of these.

        One search for up to ``per_search`` values, each an OR of three indexed equality terms; AD
        compares all three case-insensitively (rule book §1).
        """
        wanted = list(dict.fromkeys(values))
        found: dict[str, AdUser] = {}
        for start in range(0, len(wanted), per_search):  # no values, no search: "(|)" is not a filter
            terms = []
            for value in wanted[start:start + per_search]:
                escaped = escape_filter_chars(value)
                terms.append(f"(proxyAddresses=smtp:{escaped})(mail={escaped})(userPrincipalName={escaped})")
            pages = self._connection.extend.standard.paged_search(
                self.base_dn, f"(|{''.join(terms)})", ldap3.SUBTREE,
                attributes=["proxyAddresses", "mail", "userPrincipalName", "objectGUID", "sAMAccountName"],
                paged_size=PAGE_SIZE, generator=True,
            )
            for entry in pages:
                if entry.get("type") == "searchResEntry":
                    found[entry["dn"].lower()] = _user_from_entry(entry)
        return list(found.values())

    def scan(
        self,
        attributes: Iterable[str],
        search_base: str | None = None,
        ldap_filter: str | None = None,
        page_size: int = PAGE_SIZE,
    ) -> Iterator[AdUser]:
        """Every user under search_base matching ldap_filter, one paged search, only the attributes asked for."""
        query = f"(&{USER_FILTER}{ldap_filter})" if ldap_filter else USER_FILTER
        base = search_base or self.base_dn
        if not _looks_like_dn(base):
            raise ConfigurationError(
                f"search_base {base!r} is not a distinguished name",
                hint=f"write the full DN of an OU or container, for example OU=Staff,{self.base_dn} (attribute=value "
                "per RDN, commas between them, special characters escaped with a backslash)",
            )
        pages = self._connection.extend.standard.paged_search(
            base,
            query,
            ldap3.SUBTREE,
            attributes=list(_with_required(attributes)),
            paged_size=page_size,
            generator=True,
        )
        try:
            with self._answering(f"searching {search_base or self.base_dn}"):
                for entry in pages:
                    if entry.get("type") == "searchResEntry":
                        yield _user_from_entry(entry)
        except ldap_errors.LDAPInvalidFilterError as err:
            raise ConfigurationError(f"ldap_filter {ldap_filter!r} is not a valid LDAP filter: {err}",
                                     hint="write an RFC 4515 filter in parentheses, for example "
                                          "(department=Sales) or (&(mail=*)(!(title=Intern)))") from err
        except ldap_errors.LDAPNoSuchObjectResult as err:
            raise ConfigurationError(
                f"search_base {base!r} does not exist on {self.settings.host}"
                + ("" if _dn_under(base, self.base_dn) else f" (it is not under the domain's base {self.base_dn})"),
                hint="name an existing OU or container by its full DN (ldapsearch or dsquery ou shows them), or leave "
                "search_base out to read the whole domain",
            ) from err
        except ldap_errors.LDAPInvalidDNSyntaxResult as err:
            raise ConfigurationError(
                f"the directory refused search_base {base!r} as a distinguished name",
                hint="write the full DN of an OU or container, for example OU=Staff," + self.base_dn,
            ) from err
        except ldap_errors.LDAPReferralResult as err:
            raise ConfigurationError(
                f"search_base {base!r} is held by another directory; this domain controller refers elsewhere",
                hint="point ad_server at a domain controller of the domain that holds it, or name an OU of this one",
            ) from err

    def _search(self, query, attributes, base=None, scope=None) -> list[AdUser]:
        try:
            with self._answering("searching the directory"):
                self._connection.search(
                    base or self.base_dn,
                    query,
                    scope if scope is not None else ldap3.SUBTREE,
                    attributes=list(_with_required(attributes)),
                )
        except ldap_errors.LDAPNoSuchObjectResult:
            return []
        return [_user_from_entry(entry) for entry in self._connection.response if entry.get("type") == "searchResEntry"]

    def names_taken(self, names: Iterable[str], per_search: int = 150) -> set[str]:
        """The sAMAccountNames (lowercase) among these that some security principal (user, group, computer) holds.

        sAMAccountName is unique across the domain's security principals, so every object class is searched.
        """
        wanted = list(dict.fromkeys(names))
        taken = set()
        for start in range(0, len(wanted), per_search):  # no names, no search: "(|)" is not a filter
            chunk = wanted[start:start + per_search]
            terms = "".join(f"(sAMAccountName={escape_filter_chars(name)})" for name in chunk)
            with self._answering("looking up sAMAccountNames"):
                pages = self._connection.extend.standard.paged_search(
                    self.base_dn, f"(|{terms})", ldap3.SUBTREE, attributes=["sAMAccountName"],
                    paged_size=PAGE_SIZE, generator=True,
                )
                for entry in pages:
                    found = entry.get("type") == "searchResEntry" and _single(entry["attributes"], "sAMAccountName")
                    if found:
                        taken.add(str(found).lower())
        return taken

    # --- writing ----------------------------------------------------------------------

    def create(self, distinguished_name: str, attributes: Mapping) -> None:
        """Add one object; EntryExists when its distinguished name is taken, DirectoryRefused for the rest."""
        try:
            self._connection.add(distinguished_name, attributes=dict(attributes))
        except ldap_errors.LDAPEntryAlreadyExistsResult as err:
            raise EntryExists(f"{distinguished_name} exists already") from err
        except ldap_errors.LDAPInsufficientAccessRightsResult as err:
            raise DirectoryRefused(f"{self.settings.username} may not create {distinguished_name}",
                                   hint="grant the right to create user objects in the OU") from err
        except ldap_errors.LDAPNoSuchObjectResult as err:
            raise DirectoryRefused(f"the OU of {distinguished_name} does not exist",
                                   hint="give ou as the distinguished name of an existing OU") from err
        except ldap_errors.LDAPOperationResult as err:
            raise DirectoryRefused(f"the directory refused to create {distinguished_name}: {err}",
                                   hint="a password must satisfy the domain's policy; without one the user is "
                                        "created disabled") from err
        except (ldap_errors.LDAPCommunicationError, ldap_errors.LDAPSessionTerminatedByServerError) as err:
            raise AdConnectionError(f"the connection broke while creating {distinguished_name}: {err}",
                                    hint="look for the user before running again") from err

    def modify(self, distinguished_name: str, changes: Iterable[AttributeChange]) -> None:
        """One modify that deletes the exact old values and adds the new ones.

        Deleting exact values is the optimistic lock: a value someone else removed or
        replaced since it was read makes the whole modify fail instead of clobbering.
        """
        request = {}
        for change in changes:
            operations = []
            if change.delete:
                operations.append((ldap3.MODIFY_DELETE, list(change.delete)))
            if change.add:
                operations.append((ldap3.MODIFY_ADD, list(change.add)))
            if operations:
                request[change.attribute] = operations
        if not request:
            return
        try:
            self._connection.modify(distinguished_name, request)
        except (ldap_errors.LDAPNoSuchAttributeResult, ldap_errors.LDAPAttributeOrValueExistsResult) as err:
            raise ConcurrentChange(
                f"{distinguished_name} changed since it was read ({_ldap_reason(err)})",
                hint="run again: the change is planned anew from the current values",
            ) from err
        except ldap_errors.LDAPInsufficientAccessRightsResult as err:
            raise DirectoryRefused(
                f"{self.settings.username} may not modify {distinguished_name}",
                hint="grant write access to proxyAddresses, mail and userPrincipalName on the user's OU",
            ) from err
        except ldap_errors.LDAPOperationResult as err:
            raise DirectoryRefused(
                f"{distinguished_name}: the directory refused the change: {_ldap_reason(err)}"
            ) from err
        except (ldap_errors.LDAPCommunicationError, ldap_errors.LDAPResponseTimeoutError) as err:
            raise AdConnectionError(
                f"the connection broke while modifying {distinguished_name}: {err}",
                hint="read the user again to see whether the change was applied, then run again",
            ) from err


@dataclass(frozen=True, slots=True)
class AttributeChange:
    attribute: str
    delete: tuple = ()
    add: tuple = ()


def batched_scan(ad: AdSession, attributes: Iterable[str], search_base: str | None, ldap_filter: str | None,
                 convert: Callable[[AdUser], object] | None = None, size: int = 500) -> Iterator[list]:
    """`AdSession.scan` in lists of about ``size`` users, each converted as it is read (the ldap3 entry is then
    dropped); the last list may be short or empty."""
    batch = []
    for user in ad.scan(attributes, search_base=search_base, ldap_filter=ldap_filter):
        batch.append(user if convert is None else convert(user))
        if len(batch) >= size:
            yield batch
            batch = []
    yield batch


def batched_scan_of_new_session(settings: AdSettings, *args, **kwargs) -> Iterator[list]:
    """`batched_scan` over a session of its own: what a forked reader runs (the parent's session stays its own)."""
    with AdSession(settings) as ad:
        yield from batched_scan(ad, *args, **kwargs)


def _with_required(attributes: Iterable[str]) -> tuple[str, ...]:
    wanted = list(dict.fromkeys(attributes))
    for name in ("objectGUID", "sAMAccountName"):
        if name not in wanted:
            wanted.append(name)
    return tuple(wanted)


def _looks_like_dn(identity: str) -> bool:
    if "=" not in identity:
        return False
    try:
        parse_dn(identity)
    except ldap_errors.LDAPInvalidDnError:
        return False
    return True


def _dn_under(dn: str, base: str) -> bool:
    """Whether dn is base or below it, compared as AD compares DNs (case-insensitive, spacing ignored)."""
    try:
        parts = [(name.lower(), value.lower()) for name, value, _sep in parse_dn(dn)]
        base_parts = [(name.lower(), value.lower()) for name, value, _sep in parse_dn(base)]
    except ldap_errors.LDAPInvalidDnError:
        return False
    return len(parts) >= len(base_parts) and parts[len(parts) - len(base_parts):] == base_parts


def _ldap_reason(err: Exception) -> str:
    """The result name and the server's own message, without ldap3's repr noise."""
    description = getattr(err, "description", None)
    message = (getattr(err, "message", None) or "").strip()
    if description:
        return f"{description}: {message}" if message else description
    return str(err)


def _single(attributes: Mapping, name: str):
    value = attributes.get(name)
    if isinstance(value, list):
        return value[0] if value else None
    return value or None


def _user_from_entry(entry: Mapping) -> AdUser:
    attributes = entry.get("attributes", {})
    raw = entry.get("raw_attributes", {})
    guid_raw = raw.get("objectGUID") or [b""]
    consistency = raw.get("mS-DS-ConsistencyGuid") or [None]
    known = {"sAMAccountName", "userPrincipalName", "mail", "proxyAddresses", "objectGUID", "mS-DS-ConsistencyGuid",
             "mailNickname"}
    return AdUser(
        distinguished_name=entry["dn"],
        object_guid=str(uuid.UUID(bytes_le=guid_raw[0])) if len(guid_raw[0]) == 16 else "",
        sam_account_name=_single(attributes, "sAMAccountName"),
        user_principal_name=_single(attributes, "userPrincipalName"),
        mail=_single(attributes, "mail"),
        proxy_addresses=tuple(attributes.get("proxyAddresses") or ()),
        consistency_guid=consistency[0],
        mail_nickname=_single(attributes, "mailNickname"),
        extra={name: value for name, value in attributes.items() if name not in known},
    )


def _tls_hint(err: Exception) -> str:
    text = str(err)
    if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
        return (
            "the server certificate is not vouched for by ad_ca_cert (or the default trust store), "
            "or does not name the host in ad_server; set ad_ca_cert to the issuing CA"
        )
    if isinstance(err, socket.timeout | TimeoutError):
        return "check that the domain controller answers on that port from the controller (firewall)"
    return "check ad_server, the port, and that the domain controller offers LDAPS (a certificate is installed)"
