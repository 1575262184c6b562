#!/usr/bin/python
# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: soft_match_check
short_description: Predict what the next directory synchronization will do to every on-premises user
version_added: 0.1.0
description:
  - For every Active Directory user in scope, says whether the next sync (Microsoft Entra Connect or
    Cloud Sync) will join it to an existing cloud user by hard match, SMTP soft match or UPN soft
    match, create a new cloud user, create a quarantined duplicate, or refuse, and why.
  - For every join, predicts what the cloud user will look like afterwards and reports what the user
    would notice. The primary SMTP address may change (the DirSync surprise). Cloud aliases may be
    dropped. The UPN may change, or become the C(onmicrosoft.com) address.
  - Reads in bulk. On-prem users come from one paged LDAP search. Cloud users come from one paged
    Microsoft Graph listing. They are joined in memory; there is never one Graph call per user.
  - Follows the collection's rule book (C(docs/soft-match-rules.md)); outcome and finding codes are
    listed under RV(results).
  - Read-only. Reports are files on the controller, written in check mode too.
  - What the task returns stays small at any size. By default it lists only the users that need attention
    (O(return_results)); the reports hold every user.
author:
  - hybrid.identity maintainers (@hybrid-identity)
extends_documentation_fragment:
  - hybrid.identity.ad_connection
  - hybrid.identity.graph_auth
  - hybrid.identity.attributes.READ_ONLY
options:
  ad_server:
    description:
      - The domain controllers to read the scope from (or O(ad_domain)). Not needed when O(onprem_users) is given.
    required: false
  tenant_id:
    description:
      - The tenant to read. Not needed when O(cloud_users) is given.
    required: false
  client_id:
    description:
      - The application to read the tenant as. Not needed when O(cloud_users) is given.
    required: false
  search_base:
    description:
      - The OU (or container) whose users are in scope, searched with its whole subtree.
      - Defaults to the domain (O(ad_base_dn)).
    type: str
  ldap_filter:
    description:
      - An LDAP filter that narrows the scope further, for example V((memberOf=CN=Sync,OU=Groups,DC=contoso,DC=com)).
      - It is combined with the filter for user objects.
    type: str
  onprem_users:
    description:
      - The on-prem users as data instead of reading AD, each a dict with C(distinguishedName),
        C(sAMAccountName), C(userPrincipalName), C(mail), C(proxyAddresses), C(objectGUID) and optionally
        C(mS-DS-ConsistencyGuid), C(mailNickname), C(isCriticalSystemObject).
    type: list
    elements: dict
  cloud_users:
    description:
      - The cloud users as data instead of reading Graph, as Graph returns them (C(id), C(userPrincipalName),
        C(mail), C(proxyAddresses), C(onPremisesImmutableId), C(onPremisesSyncEnabled)), optionally with
        C(admin_roles), a list of directory role names.
    type: list
    elements: dict
  cloud_objects:
    description:
      - Mail-enabled groups and contacts as data (C(id), C(displayName), C(mail), C(proxyAddresses), C(kind)
        V(group) or V(contact)). Used with O(cloud_users); otherwise they are read from Graph.
    type: list
    elements: dict
  features:
    description:
      - Tenant synchronization switches (C(blockSoftMatchEnabled), C(softMatchOnUpnEnabled),
        C(blockCloudObjectTakeoverThroughHardMatchEnabled) ...). Values given here win over what is read.
      - Switches neither given nor read take Microsoft's defaults (soft match and UPN soft match on, both block
        switches off, both quarantine switches on, C(synchronizeUpnForManagedUsersEnabled) on).
      - Each name must be one of the switches M(hybrid.identity.directory_sync_features) lists, each value a
        boolean; an unknown name or a value such as V(maybe) is refused before anything is read.
    type: dict
  verified_domains:
    description:
      - The tenant's verified domains. Read from Graph (C(Domain.Read.All)) unless given; without that
        permission, the UPN suffixes of the cloud users.
    type: list
    elements: str
  initial_domain:
    description:
      - The tenant's initial C(onmicrosoft.com) domain. Read from Graph unless given; without C(Domain.Read.All),
        the C(<name>.onmicrosoft.com) domain the cloud users' UPNs and addresses show.
    type: str
  admin_role_holders:
    description:
      - Cloud users (ids or UPNs) to treat as holding a directory admin role, for when the application can't
        read role assignments (C(RoleManagement.Read.Directory)).
    type: list
    elements: str
  source_anchor:
    description:
      - Which on-prem attribute the sync uses as the source anchor.
      - V(mS-DS-ConsistencyGuid) uses it when set and falls back to objectGUID, as Entra Connect does by default.
    type: str
    choices: [mS-DS-ConsistencyGuid, objectGUID]
    default: mS-DS-ConsistencyGuid
  report_dir:
    description:
      - A directory on the controller to write reports into, created when missing. The reports hold every
        user in scope, whatever O(return_results) says.
    type: path
  return_results:
    description:
      - Which users RV(results) lists. RV(summary) and RV(counts) always cover every user.
      - V(attention) lists the users that need a person before the sync, those whose outcome is V(conflict),
        V(blocked) or V(invalid) or who have a finding of severity V(error) or V(warning).
      - V(all) lists every user in scope, as the C(hybrid.identity.sync_candidates) filter needs. At tens of
        thousands of users that is a result of tens of megabytes for the controller to hold; the reports are
        the better place to read them.
      - V(none) lists nobody.
    type: str
    choices: [attention, all, none]
    default: attention
  count_check:
    description:
      - What to do when the listing of the tenant's users returns a number that differs from
        C(/users/$count) by more than its lag allows (one in a thousand, and at least 5; the count is
        eventually consistent). Users missing from the listing would be predicted as new users.
      - V(warn) warns and goes on, V(fail) fails the task, V(skip) does not ask for the count.
      - Used only when the cloud users are read from Graph.
    type: str
    choices: [warn, fail, skip]
    default: warn
  parallel_listings:
    description:
      - How many listings of the tenant's users run side by side when the cloud users are read from Graph, on
        a tenant of more than 5,000 users (Graph's C(@odata.count) on the first page says). V(1) reads it in
        one listing.
      - The users are split by the start of their user principal name with C(startsWith), each part counted
        with C($count) first; parts too large are split again on the next character. The users are then
        taken in object id order, whatever the parts.
      - The read counts as complete only when every part lists exactly as many users as Graph counts for it,
        no user comes twice, and the parts add up to C(/users/$count). Otherwise the module warns and reads
        the tenant again in one listing, which O(count_check) checks as ever.
      - With O(count_check=skip) the tenant is read in one listing, since the proof needs the counts.
    type: int
    default: 4
  report_formats:
    description:
      - The reports to write into O(report_dir). V(html) is a single page with a chart and a table that
        can be filtered by outcome and finding; it needs no network to open.
    type: list
    elements: str
    choices: [json, csv, html]
    default: [json, csv, html]
notes:
  - Application permissions used when reading Graph are C(User.Read.All) (needed), and C(Domain.Read.All),
    C(OnPremDirectorySynchronization.Read.All), C(RoleManagement.Read.Directory), C(Group.Read.All),
    C(OrgContact.Read.All). When one of the latter is missing, a warning names it and the option that gives the
    value instead, and the check goes on with what it can know. Without C(Domain.Read.All) the verified
    domains are the UPN suffixes of the cloud users and the initial domain the C(<name>.onmicrosoft.com) one
    their UPNs and addresses show (or O(tenant_id), when it is that name); the check fails only when no
    initial domain can be found that way. Without the others it assumes Microsoft's default switches, no
    administrators, and no group or contact holding an address.
seealso:
  - name: "Microsoft Entra Connect: When you have an existing tenant"
    description: Microsoft's description of hard and soft matching.
    link: https://learn.microsoft.com/entra/identity/hybrid/connect/how-to-connect-install-existing-tenant
"""

EXAMPLES = r"""
- name: Predict the first sync of the Staff OU and write the reports
  hybrid.identity.soft_match_check:
    ad_server: ldaps://dc01.contoso.com
    ad_username: svc-hybrid@contoso.com
    ad_password: "{{ vault_ad_password }}"
    tenant_id: contoso.onmicrosoft.com
    client_id: 00000000-0000-0000-0000-000000000000
    client_secret: "{{ vault_graph_secret }}"
    search_base: OU=Staff,DC=contoso,DC=com
    report_dir: /srv/reports/onboarding
  register: prediction

- name: Stop when any user would be blocked or duplicated
  ansible.builtin.assert:
    that:
      - prediction.summary.outcomes.blocked | default(0) == 0
      - prediction.summary.outcomes.conflict | default(0) == 0
"""

RETURN = r"""
results:
  description:
    - One entry per on-prem user in scope that O(return_results) asks for; by default those that need
      attention.
    - C(outcome) is one of V(already_synced), V(hard_match), V(soft_match_smtp), V(soft_match_upn), V(new_user),
      V(conflict), V(blocked), V(invalid), V(excluded).
    - C(findings) codes are V(admin_role), V(soft_match_blocked), V(hard_match_takeover_blocked),
      V(immutable_id_mismatch), V(object_type_mismatch), V(duplicate_upn), V(duplicate_proxy_address),
      V(duplicate_in_directory), V(multiple_primary_smtp), V(invalid_upn), V(too_many_addresses),
      V(invalid_source_anchor), V(duplicate_candidate), V(ambiguous_candidate) (errors);
      V(primary_smtp_will_change), V(upn_will_change), V(cloud_addresses_will_be_dropped), V(upn_suffix_unverified),
      V(no_mailbox), V(invalid_proxy_address), V(invalid_primary_smtp), V(address_not_synced), V(moera_in_use),
      V(deleted_user_restored) (warnings); V(upn_change_blocked),
      V(excluded_system_account) (info). The collection's C(docs/soft_match_check.md) says what each means.
  returned: always
  type: list
  elements: dict
  contains:
    onprem:
      description: >-
        The on-prem user (distinguished_name, sam_account_name, user_principal_name, primary_smtp,
        source_anchor).
      type: dict
    cloud:
      description: The cloud candidate (id, user_principal_name, primary_smtp, on_premises_immutable_id,
        on_premises_sync_enabled), or null when there is none.
      type: dict
    outcome:
      description: What the next sync will do.
      type: str
      sample: soft_match_smtp
    findings:
      description: Why, and what the user would notice.
      type: list
      elements: dict
      contains:
        code:
          description: What was found, one of the codes listed under RV(results).
          type: str
          sample: cloud_addresses_will_be_dropped
        severity:
          description: V(error) (the sync refuses or fails), V(warning) (the user would notice), or V(info).
          type: str
          sample: warning
        message:
          description: What happens and what to do about it.
          type: str
        attribute:
          description: The attribute involved, for example V(proxyAddresses) or V(userPrincipalName).
          type: str
          sample: proxyAddresses
        value:
          description: The value involved; a change is written as C(old -> new).
          type: str
          sample: "carol.c@contoso.com, cc@contoso.com"
        value_list:
          description: The values one by one when a finding is about several, for example the addresses
            V(cloud_addresses_will_be_dropped) lists; empty otherwise.
          type: list
          elements: str
          sample: ["carol.c@contoso.com", "cc@contoso.com"]
    predicted:
      description:
        - The cloud user after the sync, or null when none results (the export is refused or fails, or the user
          is excluded). For a V(blocked) soft match that still creates a duplicate, the duplicate.
      type: dict
      contains:
        primary_smtp:
          description: Its primary SMTP address (and C(mail)).
          type: str
        user_principal_name:
          description: Its UPN; null when the UPN is quarantined (it gets random digits, see C(quarantined)).
          type: str
        proxy_addresses:
          description:
            - Its SMTP proxy addresses, the primary first as C(SMTP:); other types are not predicted.
            - A MOERA another object holds shows as C(<mailNickname><4 digits>@<initial domain>), for the digits
              the service chooses.
          type: list
          elements: str
        quarantined:
          description: >-
            The values left out because another object holds them, each with C(property) (V(ProxyAddress) or
            V(UserPrincipalName)) and C(value), as its C(onPremisesProvisioningErrors) will show them.
          type: list
          elements: dict
        mailbox_user:
          description: >-
            Whether the cloud user written to is an Exchange user (an Exchange Online licence or a mailbox): only
            then does it get the MOERA and its UPN as addresses. A user the sync creates is not one yet.
          type: bool
        mailbox_user_from:
          description: >-
            What told it: V(assignedPlans) (the licence, read from Graph), V(proxyAddresses) (a primary SMTP value,
            when the licence was not read or the user is a mailbox without one) or V(new_user).
          type: str
summary:
  description: Counts per outcome and per finding code, over every user in scope.
  returned: always
  type: dict
  sample: {"outcomes": {"soft_match_smtp": 812, "new_user": 3}, "findings": {"primary_smtp_will_change": 41}}
reports:
  description: The report files written, by format.
  returned: when O(report_dir) is set
  type: dict
  sample:
    json: /srv/reports/onboarding/soft_match_report.json
    csv: /srv/reports/onboarding/soft_match_report.csv
    html: /srv/reports/onboarding/soft_match_report.html
counts:
  description: How many objects were read from each side.
  returned: always
  type: dict
  sample: {"onprem_users": 815, "cloud_users": 790, "deleted_cloud_users": 3, "cloud_objects": 12, "results": 44}
  contains:
    deleted_cloud_users:
      description: How many soft-deleted cloud users were read (Graph's deletedItems); an on-prem user whose
        source anchor one of them carries restores it at the sync.
      type: int
    results:
      description: How many users RV(results) lists.
      type: int
"""

import datetime
from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.hybrid.identity.plugins.module_utils.ad._ad import LDAP3_IMPORT_ERROR, AdSession, AdSettings
from ansible_collections.hybrid.identity.plugins.module_utils.ad._ad_options import AD_CONNECTION_SPEC
from ansible_collections.hybrid.identity.plugins.module_utils.common._errors import HybridIdentityError
from ansible_collections.hybrid.identity.plugins.module_utils.common._version import COLLECTION_VERSION
from ansible_collections.hybrid.identity.plugins.module_utils.graph._graph import (
    GRAPH_IMPORT_ERROR,
    GraphClient,
    GraphSettings,
)
from ansible_collections.hybrid.identity.plugins.module_utils.graph._graph_options import GRAPH_AUTH_SPEC
from ansible_collections.hybrid.identity.plugins.module_utils.matching._matching import predict
from ansible_collections.hybrid.identity.plugins.module_utils.matching._matching_index import CloudIndex
from ansible_collections.hybrid.identity.plugins.module_utils.matching._matching_model import CloudObject, CloudUser
from ansible_collections.hybrid.identity.plugins.module_utils.matching._matching_result import Result, summarize
from ansible_collections.hybrid.identity.plugins.module_utils.matching._soft_match_inputs import (
    CloudReader,
    OnPremReader,
    as_values,
    merge_tenant,
    read_cloud_users,
    with_admin_roles,
)
from ansible_collections.hybrid.identity.plugins.module_utils.preflight._input_guard import guarded_module
from ansible_collections.hybrid.identity.plugins.module_utils.report._report import write_reports
from ansible_collections.hybrid.identity.plugins.module_utils.sync._sync_features import requested_features

ARGUMENT_SPEC = {
    "search_base": {"type": "str"},
    "ldap_filter": {"type": "str"},
    "onprem_users": {"type": "list", "elements": "dict"},
    "cloud_users": {"type": "list", "elements": "dict"},
    "cloud_objects": {"type": "list", "elements": "dict"},
    "features": {"type": "dict"},
    "verified_domains": {"type": "list", "elements": "str"},
    "initial_domain": {"type": "str"},
    "admin_role_holders": {"type": "list", "elements": "str"},
    "source_anchor": {
        "type": "str",
        "default": "mS-DS-ConsistencyGuid",
        "choices": ["mS-DS-ConsistencyGuid", "objectGUID"],
    },
    "report_dir": {"type": "path"},
    "report_formats": {
        "type": "list",
        "elements": "str",
        "choices": ["json", "csv", "html"],
        "default": ["json", "csv", "html"],
    },
    "return_results": {"type": "str", "choices": ["attention", "all", "none"], "default": "attention"},
    "count_check": {"type": "str", "choices": ["warn", "fail", "skip"], "default": "warn"},
    "parallel_listings": {"type": "int", "default": 4},
}
# The outcomes whose sync a person must look at first (the refusals and the duplicates).
ATTENTION_OUTCOMES = frozenset({"conflict", "blocked", "invalid"})
ATTENTION_SEVERITIES = frozenset({"error", "warning"})


def optional(spec):
    """A connection spec whose required options become optional: data may stand in for the connection."""
    return {name: dict(option, required=False) for name, option in spec.items()}


def predicted(params, warnings):
    """(results, counts of what was read, scope, tenant).

    The reads overlap: Graph's pages are fetched and decoded in a thread while the domain
    controller pages the scope, and the on-prem users are read and decoded in a child process
    (``OnPremReader``) and decided as they arrive, so the run costs about the longer read, not
    the reads plus the prediction. The AD bind comes first, so bad AD credentials fail before Graph is asked for
    anything; when both reads fail, the AD error is the one reported.
    """
    anchor = params["source_anchor"]
    if params["onprem_users"] is not None:
        cloud_users, cloud_objects, tenant, counts = cloud_values(params, warnings)
        results = predict(params["onprem_users"], CloudIndex.build(cloud_users, cloud_objects), tenant, anchor)
        return results, {"onprem_users": len(params["onprem_users"])} | counts, "given as data", tenant
    if not (params["ad_server"] or params["ad_domain"]):
        raise HybridIdentityError("no on-prem users to check",
                                  hint="give ad_server or ad_domain (and credentials) or onprem_users")
    with AdSession(AdSettings.from_params(params)) as ad:
        scope = params["search_base"] or ad.base_dn
        # the reader forks its child before the Graph thread starts
        with OnPremReader(ad, scope, params["ldap_filter"]) as onprem_users, \
                ThreadPoolExecutor(max_workers=1, thread_name_prefix="graph") as pool:
            cloud_read = pool.submit(cloud_values, params, warnings)
            cloud_users, cloud_objects, tenant, counts = onprem_users.wait_for(cloud_read)
            del cloud_read  # its result: the index holds what the prediction needs of the cloud values
            index = CloudIndex.build(cloud_users, cloud_objects)
            del cloud_users, cloud_objects
            results = predict(onprem_users, index, tenant, anchor)
        scope_text = scope + (f" {params['ldap_filter']}" if params["ldap_filter"] else "")
        return results, {"onprem_users": onprem_users.count} | counts, scope_text, tenant


def cloud_values(params, warnings):
    """cloud_side's users and objects as the predictor's values, the tenant, and the counts the result reports.

    Converted where they were read (in the Graph thread while AD is paged), each record dropped as soon
    as its value is made: the tenant's users are never held twice."""
    users, objects, tenant = cloud_side(params, warnings)
    deleted = sum(1 for user in users if user.get("deletedDateTime"))
    counts = {"cloud_users": len(users) - deleted, "deleted_cloud_users": deleted, "cloud_objects": len(objects)}
    # the objects may be the module's own parameters: converted into a list of their own
    return as_values(users, CloudUser.from_dict), [CloudObject.from_dict(item) for item in objects], tenant, counts


def cloud_side(params, warnings):
    """Cloud users, mail objects and the tenant; Graph is read only for what was not given."""
    given_users = params["cloud_users"]
    needs_graph = given_users is None or not (params["verified_domains"] and params["initial_domain"])
    if not needs_graph:
        tenant = merge_tenant(params, None, None)
        users = with_admin_roles(given_users, None, params["admin_role_holders"])
        return users, params["cloud_objects"] or [], tenant
    if not (params["tenant_id"] and params["client_id"]):
        raise HybridIdentityError(
            "no cloud side to check against",
            hint="give tenant_id and client_id (and a secret or certificate), "
            "or cloud_users with verified_domains and initial_domain",
        )
    with GraphClient(GraphSettings.from_params(params)) as client:
        # the reader writes into `warnings` as it goes: a later failure still reports them
        reader = CloudReader(client, warnings)
        if given_users is None:
            users = read_cloud_users(client, params["count_check"], warnings, params["parallel_listings"]) \
                + reader.deleted_users()
            objects = reader.mail_objects() if params["cloud_objects"] is None else params["cloud_objects"]
            roles = reader.admin_roles()
            read = True
        else:
            users, objects, roles = given_users, params["cloud_objects"] or [], None
            read = False
        domains = None
        if not (params["verified_domains"] and params["initial_domain"]):
            domains = reader.domains(users, params["tenant_id"])
        features = reader.features()
    return (
        # records just read are nobody else's: their roles are added in place (given ones are copied)
        with_admin_roles(users, roles, params["admin_role_holders"], in_place=read),
        objects,
        merge_tenant(params, domains, features),
    )


def needs_attention(row: dict) -> bool:
    """Whether a person should look at this user before the sync: a refusal, a duplicate, or what they would notice."""
    return row["outcome"] in ATTENTION_OUTCOMES or any(
        finding["severity"] in ATTENTION_SEVERITIES for finding in row["findings"])


def returned_rows(rows: list[dict], which: str) -> list[dict]:
    """The rows ``return_results`` asks for."""
    if which == "all":
        return rows
    if which == "none":
        return []
    return [row for row in rows if needs_attention(row)]


def warn_all(module, warnings):
    for warning in warnings:
        module.warn(warning)


def main():
    module = guarded_module(
        argument_spec=optional(AD_CONNECTION_SPEC) | optional(GRAPH_AUTH_SPEC) | ARGUMENT_SPEC,
        mutually_exclusive=[("onprem_users", "search_base"), ("onprem_users", "ldap_filter")],
        supports_check_mode=True,
    )
    for missing, library in ((LDAP3_IMPORT_ERROR, "ldap3"), (GRAPH_IMPORT_ERROR, "msal and requests")):
        if missing is not None:
            module.fail_json(msg=missing_required_lib(library), exception=str(missing))

    warnings = []
    try:
        module.params["features"] = requested_features(module.params["features"])
        results, counts, scope, tenant = predicted(module.params, warnings)
    except HybridIdentityError as err:
        warn_all(module, warnings)
        module.fail_json(msg=str(err), hint=err.hint)

    summary = summarize(results)
    # each result becomes its row in its place: the run never holds both for every user
    rows = as_values(results, Result.as_dict)
    returned = returned_rows(rows, module.params["return_results"])
    outcome = {
        "changed": False,
        "results": returned,
        "summary": summary,
        "counts": counts | {"results": len(returned)},
    }
    if module.params["report_dir"]:
        meta = {
            "generated_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "tenant": tenant.get("initial_domain"),
            "scope": scope,
            "collection_version": COLLECTION_VERSION,
        }
        try:
            outcome["reports"] = write_reports(
                rows, summary, module.params["report_dir"], module.params["report_formats"], meta
            )
        except (OSError, ValueError) as err:
            warn_all(module, warnings)
            module.fail_json(msg=f"could not write the reports into {module.params['report_dir']}: {err}",
                             hint="give report_dir as a directory the controller user may write, or leave it out",
                             **outcome)
    warn_all(module, warnings)
    module.exit_json(**outcome)


if __name__ == "__main__":
    main()
