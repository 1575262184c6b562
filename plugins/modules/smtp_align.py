#!/usr/bin/python
# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: smtp_align
short_description: Pair on-premises users with their cloud users and align their addresses before the first sync
version_added: 0.1.0
description:
  - Pairs the Active Directory users in scope with Microsoft Entra ID cloud users, one to one. Pairs come
    from O(pairs) or O(pairs_file), or automatically by the rules in O(pair_by). A user that matches
    several candidates is reported under RV(ambiguous) with its candidates and never guessed.
  - For each pair, makes the on-prem user carry the cloud user's primary SMTP address (O(primary=cloud)) or
    keep its own (O(primary=onprem), reported as a visible change). It also carries every cloud SMTP
    secondary. Its own X500 and other addresses stay, and C(mail) follows the primary. The first sync then
    joins the pair without changing the address the user sends as, or dropping an alias.
  - Each plan is checked with the soft-match predictor before anything is written. A pair whose planned
    state would not join its cloud user cleanly is reported as V(blocked) with the reasons and left
    untouched. Reasons include an admin role, another ImmutableId, an address held by a group, and a clash
    with another on-prem user.
  - Appends one record per changed user to the undo journal O(journal_path), forced to disk, before any
    write. M(hybrid.identity.ad_user_restore) replays it backwards.
  - Writes one LDAP modify per changed user over one connection. The modify deletes the exact old values and
    adds the new ones. A user changed by someone else meanwhile is read again and planned anew; the new
    plan is journaled before it is written.
  - After writing, reads the users written again by objectGUID, a hundred per search, and predicts once more
    (RV(recheck)). Each aligned pair should now join its cloud user with neither C(primary_smtp_will_change)
    nor C(cloud_addresses_will_be_dropped).
  - Reads in bulk. On-prem users come from one paged LDAP search, cloud users from one paged Microsoft
    Graph listing. They are joined in memory; there is never one Graph call per user.
  - Costs in proportion to the users it touches. The rules that compare on-prem users only meet through a value
    they share, so the plan check and the re-check predict the pairs and the users sharing a value with them,
    found through an index of the scope's values; the rest of the scope is not predicted again.
author:
  - hybrid.identity maintainers (@hybrid-identity)
extends_documentation_fragment:
  - hybrid.identity.ad_connection
  - hybrid.identity.graph_auth
  - hybrid.identity.attributes
options:
  search_base:
    description:
      - The OU (or container) whose users are in sync scope, searched with its whole subtree.
      - Pairs are made among these users, and the predictor checks each plan against all of them.
      - Defaults to the domain (O(ad_base_dn)).
    type: str
  ldap_filter:
    description:
      - An LDAP filter that narrows the scope further; it is combined with the filter for user objects.
    type: str
  pairs:
    description:
      - Explicit pairs, each with C(onprem) and C(cloud).
      - C(onprem) is a sAMAccountName, user principal name, C(mail), distinguished name or objectGUID of a user
        in scope.
      - C(cloud) is the cloud user's user principal name, any of its SMTP addresses, or its object ID.
      - Mutually exclusive with O(pairs_file).
    type: list
    elements: dict
  pairs_file:
    description:
      - A file on the controller with explicit pairs. A C(.csv) file has a header line naming the columns
        C(onprem) and C(cloud); other columns are ignored.
      - A C(.yml), C(.yaml) or C(.json) file holds a list of mappings with C(onprem) and C(cloud), or a mapping
        whose key C(pairs) holds that list.
      - The file must be UTF-8 text. A file that is missing, empty, binary, cut short, not valid JSON or YAML, or
        that holds anything but that list fails the task before anything is read, saying where it is wrong.
      - Mutually exclusive with O(pairs).
    type: path
  pair_by:
    description:
      - The rules that pair the users left after the explicit pairs, tried in the order given.
      - V(source_anchor) pairs a user whose source anchor equals a cloud user's C(onPremisesImmutableId).
      - V(smtp) first pairs on the on-prem primary SMTP address held by a cloud user (as primary or secondary),
        then on any on-prem SMTP address or C(mail) that is a cloud user's primary. An address both sides hold
        only as a secondary (a team alias) pairs nobody.
      - V(upn) pairs on equal user principal names.
      - V(upn_prefix) pairs on the UPN prefix, with the on-prem suffix mapped through O(domain_map).
      - V(employee_id) pairs on-prem C(employeeID) with cloud C(employeeId).
      - A user that a rule matches to several candidates is reported and left out of the later rules. So is
        each of its candidates, and any other user that rule matches to one of them.
      - Defaults to all of them in the order above, or to none when O(pairs) or O(pairs_file) is given.
    type: list
    elements: str
    choices: [source_anchor, smtp, upn, upn_prefix, employee_id]
  domain_map:
    description:
      - On-prem UPN suffixes and the cloud domain (or list of domains) each one corresponds to, for
        O(pair_by=upn_prefix), for example C(contoso.local) to C(contoso.com).
    type: dict
    default: {}
  primary:
    description:
      - Whose primary SMTP address the pair keeps.
      - V(cloud) makes the on-prem user carry the cloud primary; the old on-prem primary stays as a secondary.
        The user notices nothing after the sync.
      - V(onprem) keeps the on-prem primary and adds the cloud primary as a secondary. The sync then changes the
        cloud primary to the on-prem one, which RV(pairs[].visible_changes) reports.
    type: str
    choices: [cloud, onprem]
    default: cloud
  fix_immutable_id_mismatch:
    description:
      - For a pair whose cloud user already carries an C(onPremisesImmutableId) other than the on-prem user's
        source anchor, write that ImmutableId into the on-prem C(mS-DS-ConsistencyGuid). The first sync then
        hard-matches the pair, which is Microsoft's documented fix for InvalidSoftMatch.
      - Not applied to a cloud user that is already synchronized from another on-prem object.
      - Without it, such pairs are reported as V(blocked).
    type: bool
    default: false
  journal_path:
    description:
      - The undo journal, a JSON-lines file on the controller that records are appended to. The file is
        created with mode C(0600) and its directory with mode C(0700) when missing.
      - Required unless in check mode.
      - Each record carries a digest (SHA-256, or HMAC-SHA256 with O(journal_key)) that lets
        M(hybrid.identity.ad_user_restore) tell a valid record from a torn, corrupted or edited one. A journal that
        ends in half a record, left by a run killed while appending, is closed before the next records (with a
        warning); the write that record describes never happened.
    type: path
  journal_key:
    description:
      - A secret that signs each journal record with HMAC-SHA256, so that a journal edited by anyone without the
        key is refused by M(hybrid.identity.ad_user_restore), which needs the same key.
      - Keep it in a vaulted variable. Without it, records carry a plain SHA-256 digest, which detects torn and
        corrupted records but not a deliberate edit.
    type: str
  source_anchor:
    description:
      - Which on-prem attribute the sync uses as the source anchor.
    type: str
    choices: [mS-DS-ConsistencyGuid, objectGUID]
    default: mS-DS-ConsistencyGuid
  features:
    description:
      - Tenant synchronization switches, as for M(hybrid.identity.soft_match_check). Values given here win over
        what is read.
      - For example C(blockSoftMatchEnabled=false) checks the plans as they will run in a matching window.
    type: dict
  verified_domains:
    description:
      - The tenant's verified domains. Read from Graph (C(Domain.Read.All)) unless given.
    type: list
    elements: str
  initial_domain:
    description:
      - The tenant's initial C(onmicrosoft.com) domain. Read from Graph unless given.
    type: str
  admin_role_holders:
    description:
      - Cloud users (ids or UPNs) to treat as holding a directory admin role, for when the application can't
        read role assignments (C(RoleManagement.Read.Directory)).
    type: list
    elements: str
  return_results:
    description:
      - Which pairs RV(pairs) and the re-check in RV(recheck) list, and whether RV(unpaired) lists the unpaired
        on-prem users. RV(counts) and the re-check's C(clean) always cover every pair.
      - V(attention) lists the pairs a person should read, those V(aligned) (written, or to be written in check
        mode), V(blocked) or V(failed), or with a visible change or a reason; the re-checks of those pairs and
        every re-check that is not clean; and every unpaired on-prem user. Unchanged and already joined pairs with
        nothing to report are left out.
      - V(all) lists every pair, as the onboarding's before and after table needs. At tens of thousands of pairs
        that is a result of tens of megabytes for the controller to hold.
      - V(none) lists no pair and no unpaired user.
    type: str
    choices: [attention, all, none]
    default: attention
notes:
  - Graph is only read. Application permissions used are C(User.Read.All) (needed), and C(Domain.Read.All),
    C(OnPremDirectorySynchronization.Read.All), C(RoleManagement.Read.Directory), C(Group.Read.All),
    C(OrgContact.Read.All). Without one of the latter a warning says which; the check then assumes Microsoft's
    defaults.
  - Cloud addresses in C(onmicrosoft.com) domains are not copied on-prem. The sync drops such on-prem values and
    adds the MOERA itself.
  - When a write fails for one user (the directory refuses it), the others are still written and the task
    fails naming that user. Running the task again completes the alignment; nothing written is lost.
  - When the connection to the domain controller breaks while writing (the DC stops, restarts or stops answering
    for O(ad_timeout) seconds), the writing stops. The module connects once more to read the users again. That
    read settles whether the write under way was applied and feeds the re-check. The task then fails with
    C(changed) true when anything was written. RV(changes) lists the users written and RV(write_failures) those
    not written. Running the same task again completes the alignment.
  - Two runs on the same users at once do not write twice. A user the other run aligned first is reported
    V(unchanged), and the journal says that this run wrote nothing for it.
seealso:
  - module: hybrid.identity.ad_user_restore
  - module: hybrid.identity.soft_match_check
  - module: hybrid.identity.ad_user_smtp
  - name: "KB 2641663: How to use SMTP matching to match on-premises user accounts"
    description: The soft match this module prepares.
    link: https://learn.microsoft.com/troubleshoot/entra/entra-id/user-prov-sync/smtp-matching-match-on-premises-user
"""

EXAMPLES = r"""
- name: Pair the Staff OU with the cloud users and align their addresses
  hybrid.identity.smtp_align:
    ad_server: ldaps://dc01.contoso.com
    ad_username: svc-hybrid@contoso.com
    ad_password: "{{ vault_ad_password }}"
    tenant_id: contoso.onmicrosoft.com
    client_id: 00000000-0000-0000-0000-000000000000
    client_secret: "{{ vault_graph_secret }}"
    search_base: OU=Staff,DC=contoso,DC=com
    domain_map:
      contoso.local: contoso.com
    journal_path: /srv/hybrid/journal/align.jsonl
    journal_key: "{{ vault_journal_key }}"
  register: alignment

- name: Align exactly the pairs a CSV file lists, keeping the on-prem primary addresses
  hybrid.identity.smtp_align:
    search_base: OU=Staff,DC=contoso,DC=com
    pairs_file: /srv/hybrid/pairs.csv
    primary: onprem
    journal_path: /srv/hybrid/journal/align.jsonl

- name: Plan only, with the matching window the sync will open
  hybrid.identity.smtp_align:
    search_base: OU=Staff,DC=contoso,DC=com
    features:
      blockSoftMatchEnabled: false
  check_mode: true
  diff: true
"""

RETURN = r"""
pairs:
  description: One entry per pair, explicit pairs first, then in the order the rules paired them.
  returned: always
  type: list
  elements: dict
  contains:
    onprem:
      description: >-
        The on-prem user (distinguished_name, sam_account_name, user_principal_name, primary_smtp, object_guid).
      type: dict
    cloud:
      description: The cloud user (id, user_principal_name, primary_smtp).
      type: dict
    rule:
      description:
        - What paired them, V(explicit), V(source_anchor), V(primary_smtp), V(smtp), V(upn), V(upn_prefix) or
          V(employee_id).
      type: str
      sample: primary_smtp
    value:
      description: The shared value (an address, a UPN, an employee ID) or the explicit row.
      type: str
    status:
      description:
        - V(aligned) (written, or to be written in check mode), V(unchanged) (aligned already, or aligned by another
          writer while the run was under way), V(already_synced) (joined already; the cloud follows on-prem),
          V(blocked) (not aligned, see C(reasons)), or V(failed) (planned, but not written; see RV(write_failures)).
      type: str
      sample: aligned
    request:
      description: The M(hybrid.identity.ad_user_smtp) request that aligns the user (identity by objectGUID), or null.
      type: dict
      sample: {"identity": "2ad37e9a-b40a-4d46-aa48-2d7d273334f6", "primary_smtp": "adele.vance@contoso.com",
               "secondary_smtp": {"add": ["adele@contoso.com"]}, "sync_mail": true}
    predicted_outcome:
      description: The outcome the predictor gives for the planned state (see M(hybrid.identity.soft_match_check)).
      type: str
      sample: soft_match_smtp
    visible_changes:
      description:
        - What the user will still notice after the sync (C(primary_smtp_will_change) with O(primary=onprem),
          C(cloud_addresses_will_be_dropped), C(upn_will_change)), as predictor findings.
      type: list
      elements: dict
    reasons:
      description: Why a blocked pair is not aligned.
      type: list
      elements: str
unpaired:
  description:
    - On-prem users in scope that were not paired, and how many cloud users were not.
  returned: always
  type: dict
  sample: {"onprem": [{"sam_account_name": "lynne", "primary_smtp": "lynne@contoso.com"}], "cloud_count": 512}
ambiguous:
  description:
    - Users a rule matched to several candidates, with the candidates. C(side) says where C(user) is.
    - For rule V(explicit), C(user) is an identity written in a row that names several users, or a user named
      by two rows.
  returned: always
  type: list
  elements: dict
  sample: [{"side": "onprem", "rule": "primary_smtp", "value": "smtp:alex@contoso.com",
            "user": {"sam_account_name": "alex"}, "candidates": [{"id": "..."}, {"id": "..."}]}]
unresolved:
  description: Explicit rows that name no user in scope, or no cloud user.
  returned: always
  type: list
  elements: dict
changes:
  description: The users written (or to be written in check mode), as M(hybrid.identity.ad_user_smtp) reports them.
  returned: always
  type: list
  elements: dict
write_failures:
  description:
    - Users planned but not written, each with C(distinguished_name), C(msg), C(hint) and C(written). C(written) is
      false, or null when the connection broke during the user's write and the user could not be read again to
      see whether it was applied.
    - The task fails when there are any.
  returned: always
  type: list
  elements: dict
journal:
  description:
    - The journal written and the run id of its records.
    - C(records) counts the users this run changed, one record in effect each.
    - C(appended) counts the lines appended. A user planned again after a concurrent change has a record for
      each plan. A user whose write did not happen (refused, not tried, or found aligned by another writer) gets a
      second record whose before and after are equal, which supersedes the first.
  returned: always
  type: dict
  sample: {"path": "/srv/hybrid/journal/align.jsonl", "run_id": "4f1c...", "records": 5, "appended": 6}
recheck:
  description:
    - The prediction after the alignment for every pair that is V(aligned) or V(unchanged). It uses the values read
      back from AD, or in check mode the planned values.
    - C(clean) is true when every such pair joins its cloud user with no error and no visible change beyond what
      O(primary) accepts.
  returned: always
  type: dict
  contains:
    clean:
      description: Whether every pair checked is clean. False when the users could not be read again.
      type: bool
    error:
      description: Why the users could not be read again for the re-check; only then.
      type: str
    pairs:
      description: >-
        Per pair, C(onprem), C(cloud), C(outcome), C(clean), the finding codes, and the reasons it is not clean.
      type: list
      elements: dict
planned_onprem_users:
  description:
    - In check mode, every on-prem user in scope as the alignment would leave it (the planned addresses), in the
      form O(hybrid.identity.soft_match_check#module:onprem_users) takes, so that a dry run can predict the sync
      of the planned state.
  returned: in check mode
  type: list
  elements: dict
counts:
  description: How many objects were read and how the pairs ended.
  returned: always
  type: dict
  sample: {"onprem_users": 8, "cloud_users": 7, "pairs": 6, "aligned": 5, "unchanged": 0, "already_synced": 0,
           "blocked": 1, "failed": 0}
"""

import dataclasses

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.hybrid.identity.plugins.module_utils.ad._ad import (
    LDAP3_IMPORT_ERROR,
    AdConnectionError,
    AdSession,
    AdSettings,
)
from ansible_collections.hybrid.identity.plugins.module_utils.ad._ad_options import AD_CONNECTION_SPEC
from ansible_collections.hybrid.identity.plugins.module_utils.alignment._alignment import (
    ALIGNED,
    RETURN_RESULTS,
    STATUSES,
    UNCHANGED,
    AlignmentOptions,
    plan_alignment,
    recheck_written,
    returned_results,
    scope_check,
    with_write_outcomes,
)
from ansible_collections.hybrid.identity.plugins.module_utils.alignment._alignment_io import (
    ScopeRead,
    read_cloud_side,
    read_pairs_file,
    read_users_again,
)
from ansible_collections.hybrid.identity.plugins.module_utils.alignment._journal import new_run_id
from ansible_collections.hybrid.identity.plugins.module_utils.alignment._journaled_writes import (
    planned_writes,
    settle,
    write_journaled,
)
from ansible_collections.hybrid.identity.plugins.module_utils.common._addresses import AddressError
from ansible_collections.hybrid.identity.plugins.module_utils.common._anchor import AnchorError
from ansible_collections.hybrid.identity.plugins.module_utils.common._errors import HybridIdentityError
from ansible_collections.hybrid.identity.plugins.module_utils.graph._graph import (
    GRAPH_IMPORT_ERROR,
    GraphClient,
    GraphSettings,
)
from ansible_collections.hybrid.identity.plugins.module_utils.graph._graph_options import GRAPH_AUTH_SPEC
from ansible_collections.hybrid.identity.plugins.module_utils.matching._matching_index import CloudIndex
from ansible_collections.hybrid.identity.plugins.module_utils.matching._pairing import (
    AUTOMATIC_RULES,
    onprem_view,
    pair_users,
    rows_from_records,
)
from ansible_collections.hybrid.identity.plugins.module_utils.matching._soft_match_inputs import onprem_user
from ansible_collections.hybrid.identity.plugins.module_utils.preflight._input_guard import guarded_module
from ansible_collections.hybrid.identity.plugins.module_utils.sync._sync_features import requested_features

ARGUMENT_SPEC = {
    "search_base": {"type": "str"},
    "ldap_filter": {"type": "str"},
    "pairs": {"type": "list", "elements": "dict"},
    "pairs_file": {"type": "path"},
    "pair_by": {"type": "list", "elements": "str", "choices": list(AUTOMATIC_RULES)},
    "domain_map": {"type": "dict", "default": {}},
    "primary": {"type": "str", "default": "cloud", "choices": ["cloud", "onprem"]},
    "fix_immutable_id_mismatch": {"type": "bool", "default": False},
    "journal_path": {"type": "path"},
    "journal_key": {"type": "str", "no_log": True},
    "source_anchor": {
        "type": "str",
        "default": "mS-DS-ConsistencyGuid",
        "choices": ["mS-DS-ConsistencyGuid", "objectGUID"],
    },
    "features": {"type": "dict"},
    "verified_domains": {"type": "list", "elements": "str"},
    "initial_domain": {"type": "str"},
    "admin_role_holders": {"type": "list", "elements": "str"},
    "return_results": {"type": "str", "default": "attention", "choices": list(RETURN_RESULTS)},
}


def explicit_rows(params):
    if params["pairs"] is not None:
        return rows_from_records(params["pairs"])
    return read_pairs_file(params["pairs_file"]) if params["pairs_file"] else []


def pairing_rules(params, rows):
    if params["pair_by"] is not None:
        return params["pair_by"]
    # explicit pairs say which users are meant: the rest of the scope is not paired unless asked
    return [] if rows or params["pairs"] is not None or params["pairs_file"] else list(AUTOMATIC_RULES)


def read_again(ad, params, guids, broken):
    """The users written read back for the re-check, over a new connection when the old one broke (once)."""
    reconnected = False
    try:
        if broken is not None:
            reconnected = True
            ad.reconnect()
        try:
            return read_users_again(ad, guids, params["search_base"], params["ldap_filter"]), None
        except AdConnectionError:
            if reconnected:
                raise
            ad.reconnect()
            return read_users_again(ad, guids, params["search_base"], params["ldap_filter"]), None
    except AdConnectionError as err:
        return None, err


def write_failure(report, unread):
    """The message of a run whose writes did not all happen, and the re-run that completes it."""
    parts = []
    if report.broken is not None or report.not_tried:
        parts.append(f"the connection to the domain controller broke after {len(report.written)} user(s) were "
                     f"written; {len(report.failures())} were not written or not confirmed")
    elif report.failed:
        parts.append(f"{len(report.failed)} user(s) could not be written")
    names = "; ".join(f"{row['distinguished_name']}: {row['msg']}" for row in report.failures())
    if unread is not None:
        parts.append(f"the re-check could not read the users again ({unread})")
    return ", ".join(parts) + f": {names}"


def main():
    module = guarded_module(
        argument_spec=AD_CONNECTION_SPEC | GRAPH_AUTH_SPEC | ARGUMENT_SPEC,
        mutually_exclusive=[("pairs", "pairs_file")],
        supports_check_mode=True,
    )
    for missing, library in ((LDAP3_IMPORT_ERROR, "ldap3"), (GRAPH_IMPORT_ERROR, "msal and requests")):
        if missing is not None:
            module.fail_json(msg=missing_required_lib(library), exception=str(missing))
    params = module.params
    if not module.check_mode and not params["journal_path"]:
        module.fail_json(msg="journal_path is required to align (it is optional in check mode only)",
                         hint="give a file on the controller that the undo journal is appended to")

    report, unread, written = None, None, []
    try:
        params["features"] = requested_features(params["features"])
        rows = explicit_rows(params)
        options = AlignmentOptions(params["primary"], params["fix_immutable_id_mismatch"], params["source_anchor"])
        with AdSession(AdSettings.from_params(params)) as ad:
            # the scope is read (in a child process, forked before any thread starts) while Graph is listed
            with ScopeRead(ad, params["search_base"], params["ldap_filter"]) as scope_read:
                with GraphClient(GraphSettings.from_params(params)) as client:
                    cloud = read_cloud_side(client, params)
                ad_users = scope_read.result()
            index = CloudIndex.build(cloud.records, cloud.objects)
            scope = [onprem_user(user) for user in ad_users]
            pairing = pair_users(scope, cloud.entries, rows, pairing_rules(params, rows), params["domain_map"],
                                 params["source_anchor"])
            check = scope_check(pairing.pairs, scope, index, cloud.tenant, options)
            alignments = plan_alignment(pairing.pairs, scope, index, cloud.tenant, options, check)
            writes = planned_writes({user.object_guid: user for user in ad_users},
                                    [a.request for a in alignments if a.status == ALIGNED])
            run_id = new_run_id()
            after = {a.pair.onprem.object_guid: a.after for a in alignments}
            if module.check_mode:
                written = [w.plan for w in writes]
                now = {a.pair.onprem.object_guid: a.after for a in alignments if a.status == ALIGNED}
            else:
                report = write_journaled(ad, writes, params["journal_path"], run_id, params["journal_key"])
                # only the users written can have changed: they are read back, the rest of the scope stands as read
                read_back, unread = read_again(ad, params, [w.user.object_guid for w in writes], report.broken)
                read_back = None if read_back is None else {user.object_guid: user for user in read_back}
                settle(report, read_back)
                alignments = with_write_outcomes(alignments, report.outcome)
                written = [plan for _guid, plan in report.written]
                originals = {a.pair.onprem.object_guid: a.pair.onprem for a in alignments}
                now = {guid: onprem_user(read_back[guid]) if guid in read_back else originals[guid]
                       for guid in (w.user.object_guid for w in writes)} if read_back is not None else {}
        checked_pairs = [a.pair for a in alignments if a.status in (ALIGNED, UNCHANGED)]
        checked = recheck_written(check, checked_pairs, now, options) if unread is None else []
    except (HybridIdentityError, AddressError, AnchorError) as err:
        written = [plan for _guid, plan in report.written] if report else written
        module.fail_json(msg=str(err), hint=getattr(err, "hint", ""),
                         changed=any(plan.changed for plan in written) or bool(report and report.uncertain),
                         changes=[plan.result for plan in written if plan.changed])

    changes = [plan for plan in written if plan.changed]
    statuses = [a.status for a in alignments]
    recheck_clean = unread is None and all(item["clean"] for item in checked)
    pairs, checked, unpaired = returned_results([a.as_dict() for a in alignments], checked,
                                                [onprem_view(user) for user in pairing.unpaired_onprem],
                                                params["return_results"])
    outcome = {
        "changed": bool(changes) or bool(report and report.uncertain),
        "pairs": pairs,
        "unpaired": {"onprem": unpaired, "cloud_count": len(pairing.unpaired_cloud)},
        "ambiguous": [item.as_dict() for item in pairing.ambiguous],
        "unresolved": [item.as_dict() for item in pairing.unresolved],
        "changes": [plan.result for plan in changes],
        "write_failures": report.failures() if report else [],
        "journal": {"path": None if module.check_mode else params["journal_path"],
                    "run_id": None if module.check_mode else run_id,
                    "records": len(changes) + bool(report and report.uncertain),
                    "appended": report.appended if report else 0},
        "recheck": {"clean": recheck_clean, "pairs": checked}
        | ({"error": str(unread)} if unread is not None else {}),
        "counts": {"onprem_users": len(scope), "cloud_users": len(cloud.records), "pairs": len(pairing.pairs)}
        | {status: statuses.count(status) for status in STATUSES},
    }
    if module._diff:
        # shown only in diff mode: otherwise a copy of every change the controller would carry for nothing
        outcome["diff"] = [plan.diff for plan in changes]
    if module.check_mode:
        outcome["planned_onprem_users"] = [dataclasses.asdict(after.get(user.object_guid, user)) for user in scope]
    for warning in cloud.warnings + (report.warnings if report else []):
        module.warn(warning)
    if report and (report.failures() or unread is not None):
        module.fail_json(msg=write_failure(report, unread),
                         hint="every change is in the journal and nothing written is lost; fix the cause (or wait "
                              "until the domain controller answers) and run the same task again to complete the "
                              "alignment", **outcome)
    module.exit_json(**outcome)


if __name__ == "__main__":
    main()
