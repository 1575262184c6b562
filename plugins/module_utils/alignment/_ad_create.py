# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Create the on-prem users of a source-of-authority transfer, and find who already holds their names.

Internal to the hybrid.identity collection: not a public API, it may change without notice.

I/O only, through an open AdSession: what `_authority_transfer` planned is written here.
"""

from __future__ import annotations

from collections.abc import Iterable

from ansible_collections.hybrid.identity.plugins.module_utils.ad._ad import (
    AdSession,
    AdUser,
    DirectoryRefused,
    EntryExists,
)
from ansible_collections.hybrid.identity.plugins.module_utils.alignment._authority_transfer import (
    NewUser,
    escape_rdn_value,
)

try:
    from ldap3.utils.conv import escape_filter_chars
except ImportError:  # the module reports the missing ldap3 through _ad.LDAP3_IMPORT_ERROR
    escape_filter_chars = None

TERMS_PER_SEARCH = 150


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
    return ad.names_taken(names, per_search=TERMS_PER_SEARCH)


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
        ad.create(distinguished_name, attributes)
    except EntryExists:
        rdn = escape_rdn_value(f"{attributes['displayName']} ({attributes['sAMAccountName']})")
        distinguished_name = f"CN={rdn},{distinguished_name.split(',', 1)[1]}"
        ad.create(distinguished_name, attributes)
    return distinguished_name
