#!/usr/bin/python
# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: cloud_user_lookup
short_description: Read Microsoft Entra ID cloud users, with what directory synchronization matches on
version_added: 0.1.0
description:
  - Reads cloud users from Microsoft Graph by SMTP address, user principal name, ImmutableId or object ID,
    or every user of the tenant, with the properties that decide how directory synchronization joins an
    on-premises user to them (proxy addresses, ImmutableId, sync state, provisioning errors) and, on request,
    their directory admin roles.
  - Read-only; it never changes anything.
  - Many values never mean one call each. User principal names and object IDs go 15 to an C(in) filter;
    SMTP addresses and ImmutableIds take one filter each; all of them travel in C($batch) requests of 20.
    O(all=true) reads the tenant in pages of 999. Admin roles come from one listing of the role definitions
    and one of the role assignments, joined locally.
  - More than 2,000 values in all are answered from one listing of the tenant instead, matched locally, since
    that takes fewer requests than the filters.
  - On a tenant of more than 5,000 users, a whole-tenant listing runs as O(parallel_listings) listings side by
    side, one per range of user principal names, proven complete against Graph's counts.
  - A whole-tenant listing is compared with Graph's own count of the users (O(count_check)). A page that is
    not a page of a listing (an empty or cut-off body, no C(value) list, a gateway's error page) is fetched
    again and then fails the task; it never ends a listing early.
  - Needs the Microsoft Graph application permission C(User.Read.All), and C(RoleManagement.Read.Directory)
    for O(include_roles=true).
author:
  - hybrid.identity maintainers (@hybrid-identity)
extends_documentation_fragment:
  - hybrid.identity.graph_auth
  - hybrid.identity.attributes.READ_ONLY
options:
  smtp:
    description:
      - SMTP addresses, bare or with the C(smtp:) prefix. A user answers when it holds the address among its
        C(proxyAddresses), as primary or secondary, compared case-insensitively; that is what an SMTP soft match
        compares.
    type: list
    elements: str
  upn:
    description:
      - User principal names, compared case-insensitively.
    type: list
    elements: str
  immutable_id:
    description:
      - Values of C(onPremisesImmutableId) (source anchors, base64), compared case-sensitively as a hard match
        compares them.
    type: list
    elements: str
  object_id:
    description:
      - Object IDs (GUIDs) of cloud users.
    type: list
    elements: str
  all:
    description:
      - Read every user of the tenant instead of looking values up.
      - Mutually exclusive with O(smtp), O(upn), O(immutable_id) and O(object_id).
    type: bool
    default: false
  count_check:
    description:
      - What to do when a whole-tenant listing returns a number of users that differs from C(/users/$count)
        by more than its lag allows (one in a thousand, and at least 5; the count is eventually consistent).
      - V(warn) warns and goes on, V(fail) fails the task, V(skip) does not ask for the count.
    type: str
    choices: [warn, fail, skip]
    default: warn
  parallel_listings:
    description:
      - How many listings of the tenant's users run side by side when the whole tenant is read, on a tenant of
        more than 5,000 users (Graph's C(@odata.count) on the first page says). V(1) reads it in one listing.
      - The users are split by the start of their user principal name with C(startsWith), each part counted
        with C($count) first; parts too large are split again on the next character.
      - The read counts as complete only when every part lists exactly as many users as Graph counts for it,
        no user comes twice, and the parts add up to C(/users/$count). Otherwise the module warns and reads
        the tenant again in one listing, which O(count_check) checks as ever.
      - With O(count_check=skip) the tenant is read in one listing, since the proof needs the counts.
      - Each listing is one request at a time, well inside Graph's throttling limits; a 429 is retried after
        its C(Retry-After) as ever.
    type: int
    default: 4
  include_roles:
    description:
      - Add C(admin_roles) to each user, the display names of its active directory role assignments.
      - Only roles assigned to the user itself count. A role held through a role-assignable group, or an
        eligible assignment not activated, is not listed.
      - A cloud user holding an admin role is never soft-matched.
    type: bool
    default: false
seealso:
  - name: Advanced query capabilities on directory objects
    description: Why ImmutableId filters are sent with C(ConsistencyLevel) and C($count).
    link: https://learn.microsoft.com/graph/aad-advanced-queries
  - name: Microsoft Graph throttling guidance
    description: What C(429) and C(Retry-After) mean, and how the module retries.
    link: https://learn.microsoft.com/graph/throttling
"""

EXAMPLES = r"""
- name: Who holds these addresses in the cloud?
  hybrid.identity.cloud_user_lookup:
    tenant_id: contoso.onmicrosoft.com
    client_id: 00000000-0000-0000-0000-000000000000
    client_secret: "{{ vault_graph_secret }}"
    smtp:
      - alice@contoso.com
      - bob.jones@contoso.com
  register: cloud

- name: Show the addresses that no cloud user holds
  ansible.builtin.debug:
    var: cloud.not_found.smtp

- name: Every user of a US Government tenant, with admin roles, signing in with a certificate
  hybrid.identity.cloud_user_lookup:
    tenant_id: 11111111-2222-3333-4444-555555555555
    client_id: 00000000-0000-0000-0000-000000000000
    client_certificate: /etc/hybrid/graph-app.pem
    authority_host: https://login.microsoftonline.us
    graph_endpoint: https://graph.microsoft.us
    all: true
    include_roles: true
  register: tenant

- name: Cloud users that already carry these source anchors, with the connection set once for the play
  module_defaults:
    group/hybrid.identity.graph:
      tenant_id: contoso.onmicrosoft.com
      client_id: 00000000-0000-0000-0000-000000000000
      client_secret: "{{ vault_graph_secret }}"
  hybrid.identity.cloud_user_lookup:
    immutable_id: [KtN+mrQKRk2qSC19JzM09g==]
"""

RETURN = r"""
users:
  description:
    - The cloud users that answer at least one requested value (each user once), or every user for O(all=true).
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: The object ID.
      type: str
      sample: 4c3a1f5e-8d2b-4f6a-9c1e-2b7d5e8f0a13
    userPrincipalName:
      description: The user principal name.
      type: str
      sample: alice@contoso.com
    mail:
      description: The C(mail) property.
      type: str
      sample: alice@contoso.com
    proxyAddresses:
      description: Every proxy address as Graph holds it, with its prefix.
      type: list
      elements: str
      sample: ["SMTP:alice@contoso.com", "smtp:alice@contoso.onmicrosoft.com"]
    primary_smtp:
      description: The address of the C(SMTP:) value, without prefix; null when there is none.
      type: str
      sample: alice@contoso.com
    onPremisesImmutableId:
      description: The source anchor of the on-premises user it is joined to; null for a cloud-only user.
      type: str
      sample: KtN+mrQKRk2qSC19JzM09g==
    onPremisesSyncEnabled:
      description: True when directory synchronization manages the user; null when it never did.
      type: bool
      sample: null
    onPremisesLastSyncDateTime:
      description: When directory synchronization last wrote the user; null when it never did.
      type: str
      sample: "2025-01-31T08:15:00Z"
    onPremisesProvisioningErrors:
      description: Synchronization conflicts Entra ID recorded, such as a quarantined proxy address.
      type: list
      elements: dict
      sample: []
    admin_roles:
      description: Display names of the user's active directory role assignments, not those through groups.
      returned: when O(include_roles=true)
      type: list
      elements: str
      sample: ["Global Administrator"]
not_found:
  description: Per lookup option, the requested values that no cloud user answers, in the order given.
  returned: always
  type: dict
  contains:
    smtp:
      description: SMTP addresses no user holds.
      type: list
      elements: str
    upn:
      description: User principal names no user has.
      type: list
      elements: str
    immutable_id:
      description: ImmutableIds no user carries.
      type: list
      elements: str
    object_id:
      description: Object IDs of no user.
      type: list
      elements: str
  sample:
    smtp: [nobody@contoso.com]
    upn: []
    immutable_id: []
    object_id: []
"""

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.hybrid.identity.plugins.module_utils.common._errors import HybridIdentityError
from ansible_collections.hybrid.identity.plugins.module_utils.graph._cloud_users import LookupRequest, find_cloud_users
from ansible_collections.hybrid.identity.plugins.module_utils.graph._graph import (
    GRAPH_IMPORT_ERROR,
    GraphClient,
    GraphSettings,
)
from ansible_collections.hybrid.identity.plugins.module_utils.graph._graph_options import GRAPH_AUTH_SPEC
from ansible_collections.hybrid.identity.plugins.module_utils.preflight._input_guard import guarded_module

ARGUMENT_SPEC = {
    "smtp": {"type": "list", "elements": "str"},
    "upn": {"type": "list", "elements": "str"},
    "immutable_id": {"type": "list", "elements": "str"},
    "object_id": {"type": "list", "elements": "str"},
    "all": {"type": "bool", "default": False},
    "include_roles": {"type": "bool", "default": False},
    "count_check": {"type": "str", "choices": ["warn", "fail", "skip"], "default": "warn"},
    "parallel_listings": {"type": "int", "default": 4},
}


def main():
    module = guarded_module(argument_spec=GRAPH_AUTH_SPEC | ARGUMENT_SPEC, supports_check_mode=True)
    if GRAPH_IMPORT_ERROR is not None:
        module.fail_json(msg=missing_required_lib("msal and requests"), exception=str(GRAPH_IMPORT_ERROR))

    try:
        request = LookupRequest.from_params(module.params)
        with GraphClient(GraphSettings.from_params(module.params)) as graph:
            found = find_cloud_users(graph, request, module.params["count_check"], module.params["parallel_listings"])
    except HybridIdentityError as err:
        module.fail_json(msg=str(err), hint=err.hint)

    for warning in found.warnings:
        module.warn(warning)
    module.exit_json(changed=False, users=found.users, not_found=found.not_found)


if __name__ == "__main__":
    main()
