#!/usr/bin/python
# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ad_user_from_cloud
short_description: Create on-premises users for cloud-only users so that the next sync soft-matches them
version_added: 0.1.0
description:
  - Transfers the source of authority of cloud-only Microsoft Entra ID users to Active Directory, as KB 2641663
    describes. For each chosen cloud user, creates an AD user in O(ou) that carries its user principal name,
    names, C(mailNickname), C(mail) and every SMTP address, with the same primary. The next sync then
    soft-matches the two, and the cloud user is managed on-prem from then on.
  - Never creates a user when an AD user already holds its UPN, C(mail) or any of its SMTP addresses. Nor when
    the pairing rules of M(hybrid.identity.smtp_align) pair a user in O(search_base) with it, or find several
    candidates, for example by employee ID or by the UPN prefix through O(domain_map). Such pairs are for
    M(hybrid.identity.smtp_align). It also skips cloud users already synchronized, those without a mailbox (SMTP
    matching needs one), and those the soft-match predictor says the sync would refuse (an admin role, another
    ImmutableId). RV(not_created) says why for each.
  - Users are created disabled unless O(password) is given. With a password they are enabled, which needs an
    encrypted connection (LDAPS or StartTLS).
  - Reads the tenant in one paged Graph listing (or one filtered query) and AD in a few bulk searches, then
    creates one object per user over one connection.
author:
  - hybrid.identity maintainers (@hybrid-identity)
extends_documentation_fragment:
  - hybrid.identity.ad_connection
  - hybrid.identity.graph_auth
  - hybrid.identity.attributes
options:
  users:
    description:
      - The cloud users, by user principal name, any SMTP address, or object ID.
      - An identity that names no cloud user, or several, is reported under RV(not_created); nothing is guessed.
      - Mutually exclusive with O(graph_filter); one of the two is required.
    type: list
    elements: str
  graph_filter:
    description:
      - A Microsoft Graph C($filter) on C(/users) that chooses the cloud users, for example
        V(department eq 'Sales'). It runs as an advanced query (C(ConsistencyLevel=eventual)).
    type: str
  ou:
    description:
      - The distinguished name of the OU the users are created in. It must be in the sync scope.
    type: str
    required: true
  search_base:
    description:
      - The OU (or container) whose users are in sync scope, searched with its whole subtree. The pairing rules of
        M(hybrid.identity.smtp_align) (source anchor, SMTP address, UPN, UPN prefix, employee ID) run over its users
        against the chosen cloud users, and a cloud user they pair or find ambiguous is not created.
      - Defaults to the domain (O(ad_base_dn)).
    type: str
  ldap_filter:
    description:
      - An LDAP filter that narrows the O(search_base) scope further, as for M(hybrid.identity.smtp_align).
    type: str
  domain_map:
    description:
      - On-prem UPN suffixes and the cloud domain (or list of domains) each one corresponds to, as for
        M(hybrid.identity.smtp_align). With it, an on-prem user whose UPN prefix maps to a chosen cloud user's
        UPN counts as that user's account, and the cloud user is not created.
    type: dict
    default: {}
  sam_account_name_template:
    description:
      - How the C(sAMAccountName) is made, with the fields C({upn_prefix}), C({mail_nickname}), C({given_name}),
        C({surname}), C({given_initial}) and C({display_name}) of the cloud user.
      - Characters a C(sAMAccountName) can't hold are dropped, and the result is cut to 20 characters. A name that
        is already taken in the domain leaves the user out, with the reason.
    type: str
    default: "{upn_prefix}"
  password:
    description:
      - The initial password of the new users; they are created enabled. Without it they are created disabled.
      - Keep it in a vault. The domain's password policy applies.
    type: str
  features:
    description:
      - Tenant synchronization switches as they will be at sync time, as for M(hybrid.identity.soft_match_check).
        Values given here win over what is read.
      - For example C(blockSoftMatchEnabled=false) when the sync runs in a matching window; otherwise a tenant that
        blocks soft matching leaves every user out, since the sync would refuse the match.
    type: dict
notes:
  - Graph is only read. Application permissions used are C(User.Read.All) (needed), C(Domain.Read.All),
    C(RoleManagement.Read.Directory) and C(OnPremDirectorySynchronization.Read.All) (a warning names any that
    is missing).
  - Cloud addresses in C(onmicrosoft.com) domains are not copied on-prem; the sync adds the MOERA itself.
seealso:
  - module: hybrid.identity.smtp_align
  - name: "KB 2641663: How to use SMTP matching to match on-premises user accounts"
    description: The soft match this module prepares.
    link: https://learn.microsoft.com/troubleshoot/entra/entra-id/user-prov-sync/smtp-matching-match-on-premises-user
"""

EXAMPLES = r"""
- name: Make two cloud-only users managed from AD, created disabled in the Staff OU
  hybrid.identity.ad_user_from_cloud:
    ad_server: ldaps://dc01.contoso.com
    ad_username: svc-hybrid@contoso.com
    ad_password: "{{ vault_ad_password }}"
    tenant_id: contoso.onmicrosoft.com
    client_id: 00000000-0000-0000-0000-000000000000
    client_secret: "{{ vault_graph_secret }}"
    users: [pradeep@contoso.com, Miriam.Graham@contoso.com]
    ou: OU=Staff,DC=contoso,DC=com
    sam_account_name_template: "{given_initial}{surname}"

- name: Every cloud user of the Sales department, enabled with an initial password
  hybrid.identity.ad_user_from_cloud:
    graph_filter: "department eq 'Sales'"
    ou: OU=Sales,DC=contoso,DC=com
    password: "{{ vault_initial_password }}"
  check_mode: true
  diff: true
"""

RETURN = r"""
created:
  description: The users created (or to be created in check mode).
  returned: always
  type: list
  elements: dict
  contains:
    cloud:
      description: The cloud user (id, user_principal_name).
      type: dict
    distinguished_name:
      description: The new user's DN.
      type: str
      sample: CN=Pradeep Gupta,OU=Staff,DC=contoso,DC=com
    attributes:
      description: The attributes written (the password excepted).
      type: dict
      sample: {"sAMAccountName": "pradeep", "userPrincipalName": "pradeep@contoso.com",
               "mail": "Pradeep.Gupta@contoso.com",
               "proxyAddresses": ["SMTP:Pradeep.Gupta@contoso.com", "smtp:pradeep@contoso.com"],
               "userAccountControl": "514"}
not_created:
  description: Cloud users (or identities naming none or several) left alone, with the reason.
  returned: always
  type: list
  elements: dict
  sample: [{"cloud": {"user_principal_name": "megan@contoso.com"},
            "reason": "on-prem user(s) CN=megan,OU=Staff,DC=contoso,DC=com already hold its UPN, mail or an address"}]
"""

import dataclasses

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.hybrid.identity.plugins.module_utils.ad._ad import LDAP3_IMPORT_ERROR, AdSession, AdSettings
from ansible_collections.hybrid.identity.plugins.module_utils.ad._ad_options import AD_CONNECTION_SPEC
from ansible_collections.hybrid.identity.plugins.module_utils.alignment._ad_create import (
    add_user,
    taken_sam_account_names,
    users_holding,
)
from ansible_collections.hybrid.identity.plugins.module_utils.alignment._alignment_io import read_scope
from ansible_collections.hybrid.identity.plugins.module_utils.alignment._authority_transfer import (
    CLOUD_PROPERTIES,
    Skipped,
    TransferOptions,
    choose,
    plan_transfer,
)
from ansible_collections.hybrid.identity.plugins.module_utils.common._errors import HybridIdentityError
from ansible_collections.hybrid.identity.plugins.module_utils.graph._graph import (
    GRAPH_IMPORT_ERROR,
    GraphClient,
    GraphSettings,
)
from ansible_collections.hybrid.identity.plugins.module_utils.graph._graph_options import GRAPH_AUTH_SPEC
from ansible_collections.hybrid.identity.plugins.module_utils.matching._matching_index import CloudIndex
from ansible_collections.hybrid.identity.plugins.module_utils.matching._matching_model import CloudUser
from ansible_collections.hybrid.identity.plugins.module_utils.matching._soft_match_inputs import (
    CloudReader,
    merge_tenant,
    onprem_user,
    with_admin_roles,
)
from ansible_collections.hybrid.identity.plugins.module_utils.preflight._input_guard import guarded_module
from ansible_collections.hybrid.identity.plugins.module_utils.sync._sync_features import requested_features

ARGUMENT_SPEC = {
    "users": {"type": "list", "elements": "str"},
    "graph_filter": {"type": "str"},
    "ou": {"type": "str", "required": True},
    "search_base": {"type": "str"},
    "ldap_filter": {"type": "str"},
    "domain_map": {"type": "dict", "default": {}},
    "sam_account_name_template": {"type": "str", "default": "{upn_prefix}"},
    "password": {"type": "str", "no_log": True},
    "features": {"type": "dict"},
}
SELECT = ",".join(CLOUD_PROPERTIES)


def read_cloud(client, params):
    """The chosen cloud users, identities that named none or several, and the tenant; roles joined in."""
    if params["graph_filter"]:
        # rule book §8: an advanced query needs ConsistencyLevel and $count on every page
        query = {"$filter": params["graph_filter"], "$select": SELECT, "$count": "true", "$top": "999"}
        records = [user for page in client.pages("/users", query, {"ConsistencyLevel": "eventual"}) for user in page]
        problems = []
    else:
        everyone = [user for page in client.pages("/users", {"$select": SELECT, "$top": "999"}) for user in page]
        records, problems = choose(everyone, params["users"])
    reader = CloudReader(client)
    records = with_admin_roles(records, reader.admin_roles(), ())
    tenant = merge_tenant({"features": params["features"]}, reader.domains(), reader.features())
    return records, problems, tenant, reader.warnings


def main():
    module = guarded_module(
        argument_spec=AD_CONNECTION_SPEC | GRAPH_AUTH_SPEC | ARGUMENT_SPEC,
        mutually_exclusive=[("users", "graph_filter")],
        required_one_of=[("users", "graph_filter")],
        supports_check_mode=True,
    )
    for missing, library in ((LDAP3_IMPORT_ERROR, "ldap3"), (GRAPH_IMPORT_ERROR, "msal and requests")):
        if missing is not None:
            module.fail_json(msg=missing_required_lib(library), exception=str(missing))
    params = module.params

    created = []
    try:
        params["features"] = requested_features(params["features"])
        options = TransferOptions(params["ou"], params["sam_account_name_template"], bool(params["password"]),
                                  params["domain_map"])
        with GraphClient(GraphSettings.from_params(params)) as client:
            records, problems, tenant, warnings = read_cloud(client, params)
        cloud = [CloudUser.from_dict(record) for record in records]
        with AdSession(AdSettings.from_params(params)) as ad:
            holders = users_holding(ad, [user.user_principal_name for user in cloud if user.user_principal_name],
                                    [proxy.address for user in cloud for proxy in user.smtp_addresses()])
            scope = [onprem_user(user) for user in read_scope(ad, params["search_base"], params["ldap_filter"])]
            planned, skipped = plan_transfer(records, [onprem_user(user) for user in holders],
                                             CloudIndex.build(records), tenant, options, scope)
            taken = taken_sam_account_names(ad, [new_user.attributes["sAMAccountName"] for new_user in planned])
            for new_user in planned:
                sam = new_user.attributes["sAMAccountName"]
                if sam.lower() in taken:
                    skipped.append(Skipped(new_user.cloud, f"sAMAccountName {sam} is taken in the domain; choose "
                                                           "another sam_account_name_template"))
                    continue
                taken.add(sam.lower())
                if not module.check_mode:
                    new_user = dataclasses.replace(new_user,
                                                   distinguished_name=add_user(ad, new_user, params["password"]))
                created.append(new_user)
    except HybridIdentityError as err:
        module.fail_json(msg=str(err), hint=err.hint, changed=bool(created),
                         created=[new_user.as_dict() for new_user in created])

    for warning in warnings:
        module.warn(warning)
    module.exit_json(
        changed=bool(created),
        created=[new_user.as_dict() for new_user in created],
        not_created=[item.as_dict() for item in skipped] + [{"cloud": None, "reason": problem} for problem in problems],
        diff=[{"before": {}, "after": new_user.attributes, "after_header": new_user.distinguished_name}
              for new_user in created],
    )


if __name__ == "__main__":
    main()
