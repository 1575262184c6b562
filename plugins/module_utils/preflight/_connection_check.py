# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Both sides checked before a long run, read-only: what each check found, and what to do about a failure.

Internal to the collection. Each check is one ``Check``; a check that can't run because an earlier one
failed is ``skipped``. Nothing is written: write access is read from ``allowedAttributesEffective``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from ansible_collections.hybrid.identity.plugins.module_utils.ad._ad import AdConnectionError, AdSession, AdSettings
from ansible_collections.hybrid.identity.plugins.module_utils.common._errors import HybridIdentityError
from ansible_collections.hybrid.identity.plugins.module_utils.graph._graph import GraphClient, GraphSettings
from ansible_collections.hybrid.identity.plugins.module_utils.graph._graph_auth import token_claims
from ansible_collections.hybrid.identity.plugins.module_utils.preflight._permissions import readiness
from ansible_collections.hybrid.identity.plugins.module_utils.sync._sync_features import read_sync_settings

try:
    from ldap3.core.exceptions import LDAPException
except ImportError:  # the module reports ldap3 missing before any check
    LDAPException = HybridIdentityError

# What the collection's modules write on an on-prem user (ad_user_smtp, smtp_align, ad_user_restore).
WRITTEN_ATTRIBUTES = ("proxyAddresses", "mail", "userPrincipalName", "mS-DS-ConsistencyGuid", "mailNickname")
AD_CHECKS = ("ad_reached", "ad_tls", "ad_bind", "ad_naming_context", "ad_proxy_addresses_readable",
             "ad_proxy_addresses_writable")
GRAPH_CHECKS = ("graph_token", "graph_permissions", "graph_sync_switches")
_STAGES = {"reach": 0, "tls": 1, "bind": 2}


@dataclass
class Check:
    name: str
    status: str             # ok, warning, failed, skipped
    message: str
    hint: str = ""

    def as_dict(self) -> dict:
        return {"name": self.name, "status": self.status, "message": self.message, "hint": self.hint}


def check_ad(params, require_write: bool) -> tuple[list[Check], dict]:
    """The DC reached, TLS, the bind, the naming context, and proxyAddresses readable and writable in scope."""
    facts: dict = {}
    try:
        settings = AdSettings.from_params(params)
    except HybridIdentityError as err:
        return [Check("ad_reached", "failed", str(err), err.hint), *_skipped(AD_CHECKS[1:], "ad_reached")], facts
    facts["tls"] = settings.tls
    session = AdSession(settings)
    try:
        with session as ad:
            facts["server"] = f"{ad.settings.host}:{ad.settings.port}"
            checks = _connected(ad.settings)
            checks += _scope_checks(ad, params.get("search_base"), require_write, facts)
    except AdConnectionError as err:
        reached = _STAGES.get(err.stage, 0)
        checks = _connected(session.settings)[:reached]
        checks.append(Check(AD_CHECKS[reached], "failed", str(err), err.hint))
        checks += _skipped(AD_CHECKS[reached + 1:], AD_CHECKS[reached])
    except HybridIdentityError as err:
        checks = [*_connected(session.settings), Check("ad_naming_context", "failed", str(err), err.hint),
                  *_skipped(AD_CHECKS[4:], "ad_naming_context")]
    return checks, facts


def _connected(settings) -> list[Check]:
    if settings.tls == "none":
        tls = Check("ad_tls", "warning", "no TLS: the bind and every value travel in clear text",
                    "use ad_tls: ldaps or starttls")
    elif not settings.validate_certs:
        tls = Check("ad_tls", "warning", f"{settings.tls} without certificate verification",
                    "set ad_validate_certs: true and ad_ca_cert to the issuing CA")
    else:
        tls = Check("ad_tls", "ok", f"{settings.tls}, the server certificate verified")
    who = settings.username or "the Kerberos ticket in the credential cache"
    return [Check("ad_reached", "ok", f"{settings.host}:{settings.port} answered"), tls,
            Check("ad_bind", "ok", f"bound as {who} ({settings.auth})")]


def _scope_checks(ad, search_base: str | None, require_write: bool, facts: dict) -> list[Check]:
    naming_context = ad.base_dn
    scope = search_base or naming_context
    facts.update(naming_context=naming_context, search_base=scope)
    try:
        sample = _first(ad.scan(["allowedAttributesEffective"], scope, None, page_size=1))
        holder = _first(ad.scan(["proxyAddresses"], scope, "(proxyAddresses=*)", page_size=1))
    except (HybridIdentityError, LDAPException) as err:
        reason = getattr(err, "description", None) or str(err)
        return [Check("ad_naming_context", "failed", f"the scope {scope} can't be searched: {reason}",
                      getattr(err, "hint", "") or "check that search_base names an OU or container that exists"),
                *_skipped(AD_CHECKS[4:], "ad_naming_context")]
    checks = [Check("ad_naming_context", "ok", f"naming context {naming_context}, scope {scope}")]
    if holder is not None and holder.proxy_addresses:
        checks.append(Check("ad_proxy_addresses_readable", "ok",
                            f"proxyAddresses read on {holder.distinguished_name}"))
    else:
        checks.append(Check("ad_proxy_addresses_readable", "warning",
                            f"no user under {scope} shows proxyAddresses: none has any, or the account can't "
                            "read them", "check that the account may read proxyAddresses in the scope"))
    if sample is None:
        checks.append(Check("ad_proxy_addresses_writable", "warning", f"no user under {scope} to check write access on",
                            "check search_base"))
        return checks
    effective = {name.lower() for name in sample.extra.get("allowedAttributesEffective") or ()}
    writable = [name for name in WRITTEN_ATTRIBUTES if name.lower() in effective]
    facts.update(checked_on=sample.distinguished_name, writable_attributes=writable)
    if "proxyAddresses" in writable:
        checks.append(Check("ad_proxy_addresses_writable", "ok",
                            f"the account may write {', '.join(writable)} on {sample.distinguished_name}"))
    else:
        checks.append(Check("ad_proxy_addresses_writable", "failed" if require_write else "warning",
                            f"the account may not write proxyAddresses on {sample.distinguished_name} "
                            f"(allowedAttributesEffective; writable of those the modules write: "
                            f"{', '.join(writable) or 'none'})",
                            "delegate Write proxyAddresses (and mail, userPrincipalName, mS-DS-ConsistencyGuid, "
                            "mailNickname) on user objects of the scope to the account, or set require_write: false "
                            "for read-only runs"))
    return checks


def check_graph(params, modules: Iterable[str]) -> tuple[list[Check], dict]:
    """The token, the application permissions it carries against each module's, the sync switches readable."""
    facts: dict = {}
    try:
        settings = GraphSettings.from_params(params)
        with GraphClient(settings) as graph:
            token = graph.token()
            claims = token_claims(token)
            roles = sorted(claims.get("roles") or [])
            facts.update(authority_host=settings.authority_host, graph_endpoint=settings.graph_endpoint,
                         tenant_id=claims.get("tid"), app_id=claims.get("appid") or claims.get("azp"),
                         app_display_name=claims.get("app_displayname"), roles=roles)
            expires = claims.get("exp")
            lasts = f", valid {max(0, int(expires - time.time())) // 60} more minutes" if expires else ""
            checks = [Check("graph_token", "ok", f"token for {facts['app_id']} in tenant {facts['tenant_id']} "
                                                 f"from {settings.authority_host}{lasts}")]
            checks.append(_permission_check(modules, roles, facts))
            checks.append(_switches_check(graph))
    except HybridIdentityError as err:
        return [Check("graph_token", "failed", str(err), err.hint), *_skipped(GRAPH_CHECKS[1:], "graph_token")], facts
    return checks, facts


def _permission_check(modules: Iterable[str], roles: list[str], facts: dict) -> Check:
    by_module = {module: readiness(module, roles) for module in modules}
    facts["modules"] = {module: ready.as_dict() for module, ready in by_module.items()}
    lacking = {module: ready.missing for module, ready in by_module.items() if not ready.ready}
    if lacking:
        missing = sorted({name for names in lacking.values() for name in names})
        return Check("graph_permissions", "failed",
                     "the app lacks " + "; ".join(f"{', '.join(names)} for {module}" for module, names in
                                                  lacking.items()),
                     f"grant the application permissions {', '.join(missing)} (with admin consent), or narrow "
                     "modules to the ones the run uses; a new grant shows in the next token")
    optional = sorted({name for ready in by_module.values() for name in ready.missing_optional})
    if optional:
        return Check("graph_permissions", "warning",
                     f"every module can run; without {', '.join(optional)} some values are assumed or must be given",
                     "grant them for the full picture (each module's notes say what each is for)")
    return Check("graph_permissions", "ok", f"the app holds what {', '.join(by_module) or 'no module'} need(s)")


def _switches_check(graph) -> Check:
    try:
        switches = read_sync_settings(graph).features
    except HybridIdentityError as err:
        return Check("graph_sync_switches", "failed", f"the tenant's sync switches can't be read: {err}", err.hint)
    shown = ", ".join(f"{name}={str(value).lower()}" for name, value in sorted(switches.items())
                      if name in ("blockSoftMatchEnabled", "blockCloudObjectTakeoverThroughHardMatchEnabled"))
    return Check("graph_sync_switches", "ok", f"the sync switches read ({shown or 'none set'})")


def _first(users):
    """The first user of a scan, without reading the pages after it."""
    try:
        return next(users, None)
    finally:
        users.close()


def _skipped(names: Iterable[str], after: str) -> list[Check]:
    return [Check(name, "skipped", f"not checked: {after} failed") for name in names]
