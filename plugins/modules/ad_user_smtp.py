#!/usr/bin/python
# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ad_user_smtp
short_description: Manage the SMTP and other proxy addresses of existing Active Directory users
version_added: 0.1.0
description:
  - Makes an existing AD user carry the given primary SMTP address, SMTP secondaries and other
    proxy addresses (X500, SIP), with C(mail) following the primary, so that directory
    synchronization joins it to its cloud user without changing anything the user can see.
  - Updates only; it never creates or deletes users. Exactly one object must match each identity.
  - Writes one LDAP modify per user that deletes the exact old values and adds the new ones. When
    someone else changed the user between read and write, the modify fails; the module then reads
    the user again and plans anew, so the other change is kept.
  - Every user is planned before anything is written, so an unknown user, an ambiguous identity,
    a malformed address, or an address or UPN another object holds anywhere in O(users) fails the
    task with nothing changed.
  - Values are compared as Active Directory compares them, case-insensitively; promoting a
    secondary deletes it and adds its upper-case C(SMTP:) form in the same modify.
author:
  - hybrid.identity maintainers (@hybrid-identity)
extends_documentation_fragment:
  - hybrid.identity.ad_connection
  - hybrid.identity.attributes
options:
  identity:
    description:
      - The user, by sAMAccountName, user principal name, C(mail), distinguished name or objectGUID.
      - Values are escaped before they reach an LDAP filter.
      - Mutually exclusive with O(users).
    type: str
  primary_smtp:
    description:
      - The address that must be the one C(SMTP:) value, with or without the C(SMTP:) prefix.
      - An existing secondary with that address is promoted; the old primary stays as a secondary
        unless O(keep_old_primary=false).
    type: str
  keep_old_primary:
    description:
      - Keep the replaced primary as a C(smtp:) secondary, so mail sent to it is still delivered.
      - Ignored when O(secondary_smtp.set) is given, which lists the secondaries authoritatively.
    type: bool
    default: true
  secondary_smtp:
    description:
      - SMTP secondary addresses, bare or with the C(smtp:) prefix.
    type: dict
    suboptions:
      add:
        description: Addresses that must be present.
        type: list
        elements: str
      remove:
        description:
          - Addresses that must be absent.
          - Removing the primary that stays (the current one, or O(primary_smtp)) is refused; the old
            primary being replaced may be removed.
        type: list
        elements: str
      set:
        description:
          - The complete list of SMTP secondaries; every other secondary is removed.
          - When given, O(secondary_smtp.add) and O(secondary_smtp.remove) are ignored.
        type: list
        elements: str
  other_addresses:
    description:
      - Proxy addresses of other types, with their prefix, for example V(X500:/o=Contoso/ou=.../cn=alice)
        or V(SIP:alice@contoso.com).
      - SMTP values are refused here; use O(primary_smtp) and O(secondary_smtp).
    type: dict
    suboptions:
      add:
        description: Values that must be present.
        type: list
        elements: str
      remove:
        description: Values that must be absent.
        type: list
        elements: str
      set:
        description:
          - The complete list of non-SMTP values; every other non-SMTP value is removed.
          - When given, O(other_addresses.add) and O(other_addresses.remove) are ignored.
        type: list
        elements: str
  sync_mail:
    description:
      - Set C(mail) to the resulting primary SMTP address.
    type: bool
    default: true
  user_principal_name:
    description:
      - The user principal name the user must have. Refused when another object holds it.
    type: str
  consistency_guid:
    description:
      - The source anchor to write into C(mS-DS-ConsistencyGuid), as an ImmutableId (base64) or a GUID.
      - Writing a cloud user's C(onPremisesImmutableId) here makes the next sync hard-match that cloud user.
    type: str
  mail_nickname:
    description:
      - The C(mailNickname) (Exchange alias) the user must have, the part before the C(@) of an address.
      - The sync derives the cloud user's initial-domain address, C(<mailNickname>@<tenant>.onmicrosoft.com), from
        it; naming the cloud user's current one keeps that address through the first sync.
    type: str
  allow_duplicate_addresses:
    description:
      - Give a user an address (an SMTP proxy address, or C(mail)) that another object of the domain, a user, a
        group or a contact, already holds.
      - By default such a request fails the task before anything is written, naming the object that holds the
        address, because the sync would quarantine the duplicate (rule book §4). Set it when the other object
        gives the address up before the next sync; each such address is then listed in RV(results[].warnings).
      - Applies to every user of the task. A user principal name another object holds is refused either way.
      - The objects holding the requested addresses are found in one search per fifty new values, for all of
        O(users) at once; an address moved from one listed user to another in the same task is no conflict.
    type: bool
    default: false
  users:
    description:
      - Many users in one task over one connection. Each item takes the options above.
      - Mutually exclusive with O(identity).
    type: list
    elements: dict
    suboptions:
      identity:
        description: See O(identity).
        type: str
        required: true
      primary_smtp:
        description: See O(primary_smtp).
        type: str
      keep_old_primary:
        description: See O(keep_old_primary).
        type: bool
        default: true
      secondary_smtp:
        description: See O(secondary_smtp).
        type: dict
        suboptions:
          add:
            description: See O(secondary_smtp.add).
            type: list
            elements: str
          remove:
            description: See O(secondary_smtp.remove).
            type: list
            elements: str
          set:
            description: See O(secondary_smtp.set).
            type: list
            elements: str
      other_addresses:
        description: See O(other_addresses).
        type: dict
        suboptions:
          add:
            description: See O(other_addresses.add).
            type: list
            elements: str
          remove:
            description: See O(other_addresses.remove).
            type: list
            elements: str
          set:
            description: See O(other_addresses.set).
            type: list
            elements: str
      sync_mail:
        description: See O(sync_mail).
        type: bool
        default: true
      user_principal_name:
        description: See O(user_principal_name).
        type: str
      consistency_guid:
        description: See O(consistency_guid).
        type: str
      mail_nickname:
        description: See O(mail_nickname).
        type: str
seealso:
  - name: How Entra ID populates proxyAddresses (KB 3190357)
    description: How the cloud derives a synced user's addresses from these values.
    link: https://learn.microsoft.com/troubleshoot/entra/entra-id/user-prov-sync/proxyaddresses-attribute-populate
"""

EXAMPLES = r"""
- name: Make alice@contoso.com the primary address, keeping the old one as an alias
  hybrid.identity.ad_user_smtp:
    ad_server: ldaps://dc01.contoso.com
    ad_username: svc-hybrid@contoso.com
    ad_password: "{{ vault_ad_password }}"
    ad_ca_cert: /etc/pki/contoso-ca.pem
    identity: alice
    primary_smtp: alice@contoso.com
    secondary_smtp:
      add: [alice.smith@contoso.com]

- name: Align several users in one task, with the connection set once for the play
  module_defaults:
    group/hybrid.identity.ad:
      ad_server: dc01.contoso.com
      ad_username: svc-hybrid@contoso.com
      ad_password: "{{ vault_ad_password }}"
  hybrid.identity.ad_user_smtp:
    users:
      - identity: bob@contoso.com
        primary_smtp: bob.jones@contoso.com
        secondary_smtp:
          set: [bob@contoso.com, bjones@contoso.com]
      - identity: CN=Carol,OU=Staff,DC=contoso,DC=com
        other_addresses:
          add: ["X500:/o=Contoso/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=carol"]

- name: Let the next sync hard-match the cloud user that already has this ImmutableId
  hybrid.identity.ad_user_smtp:
    identity: dave
    consistency_guid: KtN+mrQKRk2qSC19JzM09g==
"""

RETURN = r"""
results:
  description: One entry per requested user, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    identity:
      description: The identity as requested.
      type: str
      sample: alice
    distinguished_name:
      description: The user that matched.
      type: str
      sample: CN=Alice,OU=Staff,DC=contoso,DC=com
    changed:
      description: Whether this user was (or in check mode would be) changed.
      type: bool
    before:
      description: C(proxyAddresses), C(mail), C(userPrincipalName), C(consistency_guid) (as ImmutableId) and
        C(mailNickname) before.
      type: dict
      sample:
        proxyAddresses: ["SMTP:alice.old@contoso.com", "smtp:Alice@contoso.com"]
        mail: alice.old@contoso.com
        userPrincipalName: alice@contoso.com
        consistency_guid: null
        mailNickname: alice
    after:
      description: The same values after the change.
      type: dict
      sample:
        proxyAddresses: ["SMTP:alice@contoso.com", "smtp:alice.old@contoso.com"]
        mail: alice@contoso.com
        userPrincipalName: alice@contoso.com
        consistency_guid: null
        mailNickname: alice
    added:
      description: The proxyAddresses values added.
      type: list
      elements: str
      sample: ["SMTP:alice@contoso.com", "smtp:alice.old@contoso.com"]
    removed:
      description: The proxyAddresses values deleted, exactly as they were stored.
      type: list
      elements: str
      sample: ["SMTP:alice.old@contoso.com", "smtp:Alice@contoso.com"]
    warnings:
      description:
        - Rule violations found in values the task left untouched, and the addresses another object holds that
          O(allow_duplicate_addresses) let through.
      type: list
      elements: str
diff:
  description: Before and after of each changed user, for C(--diff).
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.hybrid.identity.plugins.module_utils.ad._ad import (
    LDAP3_IMPORT_ERROR,
    AdSession,
    AdSettings,
)
from ansible_collections.hybrid.identity.plugins.module_utils.ad._ad_options import AD_CONNECTION_SPEC
from ansible_collections.hybrid.identity.plugins.module_utils.alignment._ad_apply import plan_requests, write_plan
from ansible_collections.hybrid.identity.plugins.module_utils.alignment._user_plan import UserRequest
from ansible_collections.hybrid.identity.plugins.module_utils.common._addresses import AddressError
from ansible_collections.hybrid.identity.plugins.module_utils.common._anchor import AnchorError
from ansible_collections.hybrid.identity.plugins.module_utils.common._errors import HybridIdentityError
from ansible_collections.hybrid.identity.plugins.module_utils.preflight._input_guard import guarded_module

_LIST_CHANGE = {
    "type": "dict",
    "options": {
        "add": {"type": "list", "elements": "str"},
        "remove": {"type": "list", "elements": "str"},
        "set": {"type": "list", "elements": "str"},
    },
}
USER_SPEC = {
    "primary_smtp": {"type": "str"},
    "keep_old_primary": {"type": "bool", "default": True},
    "secondary_smtp": _LIST_CHANGE,
    "other_addresses": _LIST_CHANGE,
    "sync_mail": {"type": "bool", "default": True},
    "user_principal_name": {"type": "str"},
    "consistency_guid": {"type": "str"},
    "mail_nickname": {"type": "str"},
}
ARGUMENT_SPEC = USER_SPEC | {
    "identity": {"type": "str"},
    "allow_duplicate_addresses": {"type": "bool", "default": False},
    "users": {
        "type": "list",
        "elements": "dict",
        "options": USER_SPEC | {"identity": {"type": "str", "required": True}},
    },
}


def requested_users(params):
    if params["users"] is not None:
        return [UserRequest.from_params(item) for item in params["users"]]
    return [UserRequest.from_params(params)]


def main():
    module = guarded_module(
        argument_spec=AD_CONNECTION_SPEC | ARGUMENT_SPEC,
        mutually_exclusive=[("identity", "users")],
        required_one_of=[("identity", "users")],
        supports_check_mode=True,
    )
    if LDAP3_IMPORT_ERROR is not None:
        module.fail_json(msg=missing_required_lib("ldap3"), exception=str(LDAP3_IMPORT_ERROR))

    written = []
    try:
        requests = requested_users(module.params)
        with AdSession(AdSettings.from_params(module.params)) as ad:
            planned = plan_requests(ad, requests, module.params["allow_duplicate_addresses"])
            for user, request, plan in planned:
                written.append(plan if module.check_mode else write_plan(ad, user, request, plan))
    except (HybridIdentityError, AddressError, AnchorError) as err:
        module.fail_json(
            msg=str(err),
            hint=getattr(err, "hint", ""),
            changed=any(plan.changed for plan in written),
            results=[plan.result for plan in written],
        )

    for plan in written:
        for notice in plan.notices:
            module.warn(notice)
    module.exit_json(
        changed=any(plan.changed for plan in written),
        results=[plan.result for plan in written],
        diff=[plan.diff for plan in written if plan.changed],
    )


if __name__ == "__main__":
    main()
