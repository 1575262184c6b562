# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""AD bind methods, one small class each behind ``bind_method()`` (internal to the collection)."""

from __future__ import annotations

from ansible_collections.hybrid.identity.plugins.module_utils._errors import ConfigurationError


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
    """NTLM with DOMAIN\\user; AD signs and seals it, so it also works where simple binds are refused."""

    name = "ntlm"

    def validate(self, settings) -> None:
        if not settings.username or "\\" not in settings.username or settings.password is None:
            raise ConfigurationError(
                "ad_auth=ntlm needs ad_username as DOMAIN\\user and ad_password",
                hint="write the user as CONTOSO\\svc-hybrid",
            )

    def connection_kwargs(self, settings, ldap3) -> dict:
        return {"user": settings.username, "password": settings.password, "authentication": ldap3.NTLM}


class KerberosBind:
    """SASL GSSAPI with the controller's Kerberos credential cache."""

    name = "kerberos"

    def validate(self, settings) -> None:
        try:
            import gssapi  # noqa: F401
        except ImportError as err:
            raise ConfigurationError(
                "ad_auth=kerberos needs the Python package gssapi on the controller",
                hint="pip install gssapi, and run kinit before the play",
            ) from err

    def connection_kwargs(self, settings, ldap3) -> dict:
        return {"authentication": ldap3.SASL, "sasl_mechanism": ldap3.KERBEROS}


_METHODS = {method.name: method for method in (SimpleBind, NtlmBind, KerberosBind)}


def bind_method(name: str):
    try:
        return _METHODS[name]()
    except KeyError:
        raise ConfigurationError(f"unknown ad_auth {name!r}", hint=f"use one of {sorted(_METHODS)}") from None
