# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Create AD users, and find who already holds a name or an address (internal; no stable API).

I/O only, over an open AdSession's connection: the session has no `add` of its own yet.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ansible_collections.hybrid.identity.plugins.module_utils.ad._ad import (
    AdConnectionError,
    AdSession,
    AdUser,
    DirectoryRefused,
)
from ansible_collections.hybrid.identity.plugins.module_utils.alignment._authority_transfer import (
    NewUser,
    escape_rdn_value,
)

try:
    from ldap3.core import exceptions as ldap_errors
    from ldap3.utils.conv import escape_filter_chars
except ImportError:  # the module reports the missing ldap3 through _ad.LDAP3_IMPORT_ERROR
    ldap_errors = None

TERMS_PER_SEARCH = 150


def _connection(ad: AdSession):
    # AdSession keeps its bound ldap3 connection private; creating users is the one write it does not offer
    return ad._connection  # pylint: disable=protected-access


def _or_filter(terms: list[str]) -> str:
    return f"(|{''.join(terms)})"


def users_holding(ad: AdSession, upns: Iterable[str], addresses: Iterable[str]) -> list[AdUser]:
    """Every user of the domain whose UPN, mail or an SMTP proxy address is one of these (case-insensitive)."""
    terms = [f"(userPrincipalName={escape_filter_chars(upn)})" for upn in dict.fromkeys(upns)]
    for address in dict.fromkeys(addresses):
        value = escape_filter_chars(address)
        terms += [f"(mail={value})", f"(proxyAddresses=smtp:{value})"]
    found: dict[str, AdUser] = {}
    for start in range(0, len(terms), TERMS_PER_SEARCH):  # no terms, no search: "(|)" is not a filter
        for user in ad.scan(("userPrincipalName", "mail", "proxyAddresses"), search_base=ad.base_dn,
                            ldap_filter=_or_filter(terms[start:start + TERMS_PER_SEARCH])):
            found[user.object_guid] = user
    return list(found.values())


def taken_sam_account_names(ad: AdSession, names: Iterable[str]) -> set[str]:
    """The names some security principal (user, group, computer) already has: they are unique in the domain."""
    wanted = list(dict.fromkeys(names))
    taken = set()
    connection = _connection(ad)
    for start in range(0, len(wanted), TERMS_PER_SEARCH):
        terms = [f"(sAMAccountName={escape_filter_chars(name)})" for name in wanted[start:start + TERMS_PER_SEARCH]]
        entries = connection.extend.standard.paged_search(ad.base_dn, _or_filter(terms), attributes=["sAMAccountName"],
                                                          paged_size=1000, generator=True)
        for entry in entries:
            if entry.get("type") == "searchResEntry":
                value = entry["attributes"].get("sAMAccountName")
                taken.add((value[0] if isinstance(value, list) else value).lower())
    return taken


def _password_value(password: str) -> bytes:
    # AD takes a password as the UTF-16LE bytes of the quoted string, over an encrypted connection only
    return f'"{password}"'.encode("utf-16-le")


def add_user(ad: AdSession, new_user: NewUser, password: str | None) -> str:
    """Create the user; when its CN is taken in the OU, once more as 'display name (sAMAccountName)'. Returns the DN."""
    if password and ad.settings.tls == "none":
        raise DirectoryRefused("AD takes a password only over an encrypted connection",
                               hint="use ad_tls: ldaps or starttls, or create the users disabled (no password)")
    attributes = dict(new_user.attributes)
    if password:
        attributes["unicodePwd"] = _password_value(password)
    distinguished_name = new_user.distinguished_name
    try:
        return _add(ad, distinguished_name, attributes)
    except ldap_errors.LDAPEntryAlreadyExistsResult:
        rdn = escape_rdn_value(f"{attributes['displayName']} ({attributes['sAMAccountName']})")
        return _add(ad, f"CN={rdn},{distinguished_name.split(',', 1)[1]}", attributes)


def _add(ad: AdSession, distinguished_name: str, attributes: Mapping) -> str:
    connection = _connection(ad)
    try:
        connection.add(distinguished_name, attributes=dict(attributes))
    except ldap_errors.LDAPEntryAlreadyExistsResult:
        raise
    except ldap_errors.LDAPInsufficientAccessRightsResult as err:
        raise DirectoryRefused(f"{ad.settings.username} may not create {distinguished_name}",
                               hint="grant the right to create user objects in the OU") from err
    except ldap_errors.LDAPNoSuchObjectResult as err:
        raise DirectoryRefused(f"the OU of {distinguished_name} does not exist",
                               hint="give ou as the distinguished name of an existing OU") from err
    except ldap_errors.LDAPOperationResult as err:
        raise DirectoryRefused(f"the directory refused to create {distinguished_name}: {err}",
                               hint="a password must satisfy the domain's policy; without one the user is created "
                                    "disabled") from err
    except (ldap_errors.LDAPCommunicationError, ldap_errors.LDAPSessionTerminatedByServerError) as err:
        raise AdConnectionError(f"the connection broke while creating {distinguished_name}: {err}",
                                hint="look for the user before running again") from err
    return distinguished_name
