#!/usr/bin/python
# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: connection_check
short_description: Check the connections to Active Directory and Microsoft Graph, and what each account may do
version_added: 0.1.0
description:
  - Answers "can I connect, and what am I allowed?" in one task, before a long run.
  - On the Active Directory side, whether the domain controller answers, the TLS certificate is verified, the bind
    succeeds, the naming context and the scope can be read, C(proxyAddresses) can be read in the scope, and the
    account may write C(proxyAddresses) there. Write access is read from C(allowedAttributesEffective) on a user of
    the scope; nothing is written.
  - On the Microsoft Graph side, whether a token is issued, which application permissions it carries (its
    C(roles) claim) against the ones each module of O(modules) needs, and whether the tenant's directory
    synchronization switches can be read.
  - Every check runs that can; a check after a failed one that depends on it is reported as C(skipped). The task
    fails when any check fails, with every check in RV(checks).
  - Read-only.
author:
  - hybrid.identity maintainers (@hybrid-identity)
extends_documentation_fragment:
  - hybrid.identity.ad_connection
  - hybrid.identity.graph_auth
  - hybrid.identity.attributes.READ_ONLY
options:
  ad_server:
    description:
      - The domain controllers to check (or O(ad_domain)). Not needed when O(sides) leaves out V(ad).
    required: false
  tenant_id:
    description:
      - The tenant to check. Not needed when O(sides) leaves out V(graph).
    required: false
  sides:
    description:
      - Which connections to check.
    type: list
    elements: str
    choices: [ad, graph]
    default: [ad, graph]
  search_base:
    description:
      - The scope whose users the run will read and write; C(proxyAddresses) are checked there.
      - Defaults to the domain (O(ad_base_dn), else the naming context).
    type: str
  require_write:
    description:
      - Fail when the account may not write C(proxyAddresses) in the scope.
      - Set V(false) for an account that only runs the read-only modules (M(hybrid.identity.soft_match_check)).
    type: bool
    default: true
  modules:
    description:
      - The modules whose Graph application permissions to check against the token's.
      - Narrow it to the modules the run uses; a module that lacks a permission it needs fails the check, one
        that lacks a permission it only uses when held gives a warning.
    type: list
    elements: str
    choices: [ad_user_from_cloud, cloud_sync_provision, cloud_user_lookup, directory_sync_features,
              directory_sync_verify, smtp_align, soft_match_check]
    default: [ad_user_from_cloud, cloud_sync_provision, cloud_user_lookup, directory_sync_features,
              directory_sync_verify, smtp_align, soft_match_check]
notes:
  - The Graph checks need only what the token carries, plus C(OnPremDirectorySynchronization.Read.All) to read the
    sync switches.
  - A token carries the permissions granted when it was issued, so a grant made a moment ago may show only in a
    later run.
seealso:
  - module: hybrid.identity.soft_match_check
"""

EXAMPLES = r"""
- name: Check both sides before the onboarding
  hybrid.identity.connection_check:
    ad_server: ldaps://dc01.contoso.com
    ad_username: svc-hybrid@contoso.com
    ad_password: "{{ vault_ad_password }}"
    ad_ca_cert: /etc/pki/contoso-ca.pem
    search_base: OU=Staff,DC=contoso,DC=com
    tenant_id: contoso.onmicrosoft.com
    client_id: "{{ app_id }}"
    client_certificate: /etc/hybrid/app.pem
    modules: [soft_match_check, smtp_align, directory_sync_verify]

- name: Check only the cloud side, as the managed identity of the host
  hybrid.identity.connection_check:
    sides: [graph]
    tenant_id: contoso.onmicrosoft.com
    managed_identity: system
    modules: [soft_match_check]
"""

RETURN = r"""
checks:
  description:
    - Every check, in order. C(status) is C(ok), C(warning), C(failed) or C(skipped); C(hint) says what to do about
      a failure or a warning.
    - The names are C(ad_reached), C(ad_tls), C(ad_bind), C(ad_naming_context), C(ad_proxy_addresses_readable),
      C(ad_proxy_addresses_writable), C(graph_token), C(graph_permissions) and C(graph_sync_switches).
  returned: always
  type: list
  elements: dict
  sample: [{"name": "ad_bind", "status": "ok", "message": "bound as svc-hybrid@contoso.com (simple)", "hint": ""}]
ad:
  description:
    - What the Active Directory checks found, as far as they got; empty when O(sides) leaves out V(ad).
    - C(server), C(tls), C(naming_context), C(search_base), C(checked_on) (the user whose write access was read)
      and C(writable_attributes) (of C(proxyAddresses), C(mail), C(userPrincipalName), C(mS-DS-ConsistencyGuid) and
      C(mailNickname)).
  returned: always
  type: dict
  sample: {"server": "dc01.contoso.com:636", "tls": "ldaps", "naming_context": "DC=contoso,DC=com",
           "search_base": "OU=Staff,DC=contoso,DC=com", "checked_on": "CN=Alice,OU=Staff,DC=contoso,DC=com",
           "writable_attributes": ["proxyAddresses", "mail"]}
graph:
  description:
    - What the Graph checks found; empty when O(sides) leaves out V(graph).
    - C(authority_host), C(graph_endpoint), C(tenant_id) and C(app_id) of the token, C(roles) (its application
      permissions), and C(modules), per module of O(modules), C(ready), C(missing) and C(missing_optional) (each
      with what it is for).
  returned: always
  type: dict
  sample: {"tenant_id": "6a3b3d4c-0000-0000-0000-000000000000", "app_id": "11111111-0000-0000-0000-000000000000",
           "roles": ["User.Read.All"],
           "modules": {"soft_match_check": {"ready": true, "missing": [],
                                            "missing_optional": {"Domain.Read.All": "the verified domains"}}}}
"""

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.hybrid.identity.plugins.module_utils.ad._ad import LDAP3_IMPORT_ERROR
from ansible_collections.hybrid.identity.plugins.module_utils.ad._ad_options import AD_CONNECTION_SPEC
from ansible_collections.hybrid.identity.plugins.module_utils.graph._graph import GRAPH_IMPORT_ERROR
from ansible_collections.hybrid.identity.plugins.module_utils.graph._graph_options import GRAPH_AUTH_SPEC
from ansible_collections.hybrid.identity.plugins.module_utils.preflight._connection_check import check_ad, check_graph
from ansible_collections.hybrid.identity.plugins.module_utils.preflight._input_guard import guarded_module
from ansible_collections.hybrid.identity.plugins.module_utils.preflight._permissions import MODULE_PERMISSIONS

ARGUMENT_SPEC = {
    "sides": {"type": "list", "elements": "str", "choices": ["ad", "graph"], "default": ["ad", "graph"]},
    "search_base": {"type": "str"},
    "require_write": {"type": "bool", "default": True},
    "modules": {"type": "list", "elements": "str", "choices": sorted(MODULE_PERMISSIONS),
                "default": sorted(MODULE_PERMISSIONS)},
}


def optional(spec):
    """A connection spec whose required options become optional: the side may not be checked."""
    return {name: dict(option, required=False) for name, option in spec.items()}


def main():
    module = guarded_module(argument_spec=optional(AD_CONNECTION_SPEC) | optional(GRAPH_AUTH_SPEC) | ARGUMENT_SPEC,
                            supports_check_mode=True)
    params, sides = module.params, module.params["sides"]
    libraries = (("ad", LDAP3_IMPORT_ERROR, "ldap3"), ("graph", GRAPH_IMPORT_ERROR, "msal and requests"))
    for side, missing, library in libraries:
        if side in sides and missing is not None:
            module.fail_json(msg=missing_required_lib(library), exception=str(missing))
    for side, needed in (("ad", ("ad_server", "ad_domain")), ("graph", ("tenant_id",))):
        if side in sides and not any(params[option] for option in needed):
            module.fail_json(msg=f"{' or '.join(needed)} is needed to check the {side} side",
                             hint=f"set {' or '.join(needed)}, or leave {side} out of sides")

    ad_checks, ad_facts = check_ad(params, params["require_write"]) if "ad" in sides else ([], {})
    graph_checks, graph_facts = check_graph(params, params["modules"]) if "graph" in sides else ([], {})

    checks = [check.as_dict() for check in ad_checks + graph_checks]
    failed = [check for check in ad_checks + graph_checks if check.status == "failed"]
    result = {"changed": False, "checks": checks, "ad": ad_facts, "graph": graph_facts}
    if failed:
        module.fail_json(msg=f"{len(failed)} check(s) failed: " + "; ".join(f"{c.name}: {c.message}" for c in failed),
                         hint=failed[0].hint, **result)
    for check in ad_checks + graph_checks:
        if check.status == "warning":
            module.warn(f"{check.name}: {check.message}")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
