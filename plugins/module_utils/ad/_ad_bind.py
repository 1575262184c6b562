# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""AD bind methods, one small class each behind ``bind_method()`` (internal to the collection)."""

from __future__ import annotations

import hashlib
import ipaddress

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.hybrid.identity.plugins.module_utils.common._errors import ConfigurationError


class SimpleBind:
    """LDAP simple bind with a UPN or DN and a password."""

    name = "simple"

    def validate(self, settings) -> None:
        if not settings.username or settings.password is None:
            raise ConfigurationError(
                "ad_auth=simple needs ad_username and ad_password",
                hint="set both, or use ad_auth: kerberos with a ticket on the controller",
            )

    def connection_kwargs(self, settings, ldap3) -> dict:
        return {"user": settings.username, "password": settings.password, "authentication": ldap3.SIMPLE}


class NtlmBind:
    """NTLM with DOMAIN\\user, in the Microsoft "Sicily" bind that ldap3 speaks.

    Active Directory accepts it; Samba DCs do not (they drop the connection at the first
    message). The NT hash is MD4 of the password, which OpenSSL 3 leaves out of hashlib;
    ldap3 then falls back to pycryptodome's MD4, so one of the two must be there.
    """

    name = "ntlm"

    def validate(self, settings) -> None:
        if not settings.username or "\\" not in settings.username or settings.password is None:
            raise ConfigurationError(
                "ad_auth=ntlm needs ad_username as DOMAIN\\user and ad_password",
                hint="write the user as CONTOSO\\svc-hybrid",
            )
        if not md4_available():
            raise ConfigurationError(
                missing_required_lib("pycryptodome", reason="ad_auth=ntlm, as this Python's hashlib has no MD4"),
                hint="pip install pycryptodome on the controller, or use ad_auth: simple over LDAPS, or kerberos",
            )

    def connection_kwargs(self, settings, ldap3) -> dict:
        return {"user": settings.username, "password": settings.password, "authentication": ldap3.NTLM}

    @staticmethod
    def refusal(err: Exception, where: str) -> tuple[str, str] | None:
        """What an NTLM bind's failure means, when it is the missing channel binding or a DC without Sicily NTLM.

        ldap3's NTLM sends no channel binding token: a DC that enforces LDAP channel binding answers
        invalidCredentials with data 80090346 (SEC_E_BAD_BINDINGS), and a Samba DC, which has no
        Sicily NTLM at all, just ends the session.
        """
        text = str(err)
        if "80090346" in text:
            problem = f"{where} refused the NTLM bind for its missing channel binding (data 80090346)"
        elif "session terminated by server" in text.lower():
            problem = (f"{where} ended the session at the NTLM bind (session terminated by server): it takes no NTLM "
                       "from ldap3, which sends no "
                       "channel binding (a DC that enforces LDAP channel binding refuses it; a Samba DC has no "
                       "NTLM bind at all)")
        else:
            return None
        return problem, ("use ad_auth: kerberos (a ticket from kinit), or ad_auth: simple over LDAPS (ad_tls: ldaps), "
                         "which such DCs accept")


def md4_available() -> bool:
    """Whether ldap3 can compute the NT hash: hashlib's MD4, else its pycryptodome fallback."""
    try:
        hashlib.new("md4")  # noqa: S324  (the same call as ldap3, so the same answer)
        return True
    except ValueError:  # OpenSSL 3 keeps MD4 in its legacy provider, which Python does not load
        pass
    try:
        from Crypto.Hash import MD4  # noqa: F401  (the module ldap3's ntlm falls back to)
    except ImportError:
        return False
    return True


class KerberosBind:
    """SASL GSSAPI with a ticket already in the controller's credential cache.

    ldap3 asks for the service ticket ldap/<host>, host as written in ad_server (no reverse
    lookup), and binds as the cache's principal; ad_username and ad_password are not used.
    """

    name = "kerberos"

    def validate(self, settings) -> None:
        try:
            import gssapi
        except ImportError as err:
            raise ConfigurationError(
                missing_required_lib("gssapi", reason="ad_auth=kerberos"),
                hint="pip install gssapi (it builds against MIT Kerberos, e.g. Debian's libkrb5-dev), "
                "then kinit before the play",
            ) from err
        # Discovered DCs come by host name (SRV targets); given ones must be named so too.
        for host, _port in settings.servers:
            if _is_ip_address(host):
                raise ConfigurationError(
                    f"ad_auth=kerberos needs the domain controller's host name in ad_server, not {host}",
                    hint="the ticket is for the service ldap/<host name>; name the DC as its SPN does "
                         "(dc01.contoso.com)",
                )
        # Checked here because a failure inside ldap3's SASL exchange reaches us only as the
        # server's answer to the aborted bind, without the Kerberos reason.
        try:
            gssapi.Credentials(usage="initiate").lifetime  # noqa: B018  (raises when expired)
        except gssapi.exceptions.GSSError as err:
            raise ConfigurationError(
                f"ad_auth=kerberos found no valid Kerberos ticket on the controller: {err}",
                hint="run kinit (KRB5CCNAME names the cache to use, KRB5_CONFIG the realm's krb5.conf)",
            ) from err

    def connection_kwargs(self, settings, ldap3) -> dict:
        return {"authentication": ldap3.SASL, "sasl_mechanism": ldap3.KERBEROS}


def _is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


_METHODS = {method.name: method for method in (SimpleBind, NtlmBind, KerberosBind)}


def bind_method(name: str):
    try:
        return _METHODS[name]()
    except KeyError:
        raise ConfigurationError(f"unknown ad_auth {name!r}", hint=f"use one of {sorted(_METHODS)}") from None
