#!/usr/bin/python
# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: directory_sync_features
short_description: Read and set the tenant's directory synchronization switches
version_added: 0.1.0
description:
  - Reads the tenant's directory synchronization switches (C(GET /directory/onPremisesSynchronization)), such as
    C(blockSoftMatchEnabled) and C(blockCloudObjectTakeoverThroughHardMatchEnabled), and returns all of them.
  - Changes a switch only when O(features) names it. Only the switches that differ from the tenant are sent, in
    one C(PATCH); a second run with the same O(features) changes nothing.
  - Opens and closes a matching window. Microsoft recommends keeping both block switches on; turn
    C(blockSoftMatchEnabled) off for the sync that should soft-match, and on again afterwards (the
    C(hybrid.identity.directory_sync) role does both, closing the window whatever happened).
author:
  - hybrid.identity maintainers (@hybrid-identity)
extends_documentation_fragment:
  - hybrid.identity.graph_auth
  - hybrid.identity.attributes
options:
  features:
    description:
      - The switches to set, each by its Graph name with V(true) or V(false), for example C(blockSoftMatchEnabled)
        with V(false) to open a matching window.
      - Switches left out are never changed. An unknown name is refused, and the message lists the valid ones.
      - Valid names are C(blockCloudObjectTakeoverThroughHardMatchEnabled), C(blockSoftMatchEnabled),
        C(bypassDirSyncOverridesEnabled), C(cloudPasswordPolicyForPasswordSyncedUsersEnabled),
        C(concurrentCredentialUpdateEnabled), C(concurrentOrgIdProvisioningEnabled), C(deviceWritebackEnabled),
        C(directoryExtensionsEnabled), C(fopeConflictResolutionEnabled), C(groupWriteBackEnabled),
        C(passwordSyncEnabled), C(passwordWritebackEnabled), C(quarantineUponProxyAddressesConflictEnabled),
        C(quarantineUponUpnConflictEnabled), C(softMatchOnUpnEnabled), C(synchronizeUpnForManagedUsersEnabled),
        C(unifiedGroupWritebackEnabled), C(userForcePasswordChangeOnLogonEnabled), C(userWritebackEnabled).
      - C(softMatchOnUpnEnabled) can't be turned off once on, and C(passwordWritebackEnabled) can't be changed
        through Graph; asking for either is refused before anything is sent.
      - Leave it out to only read.
    type: dict
notes:
  - Reading needs the Microsoft Graph permission C(OnPremDirectorySynchronization.Read.All), changing needs
    C(OnPremDirectorySynchronization.ReadWrite.All).
  - Microsoft documents both calls for delegated access by a Global Administrator. Where a tenant refuses them to
    an application, the failure names the permission; set the switches then with Microsoft Graph PowerShell
    (C(Update-MgDirectoryOnPremiseSynchronization)) signed in as a Global Administrator.
seealso:
  - name: onPremisesDirectorySynchronizationFeature resource type
    description: What each switch does.
    link: https://learn.microsoft.com/graph/api/resources/onpremisesdirectorysynchronizationfeature
  - name: "Microsoft Entra Connect: When you have an existing tenant"
    description: Hard and soft matching, and why the block switches should stay on outside a matching window.
    link: https://learn.microsoft.com/entra/identity/hybrid/connect/how-to-connect-install-existing-tenant
"""

EXAMPLES = r"""
- name: Read the tenant's synchronization switches
  hybrid.identity.directory_sync_features:
    tenant_id: contoso.onmicrosoft.com
    client_id: 00000000-0000-0000-0000-000000000000
    client_secret: "{{ vault_graph_secret }}"
  register: tenant_sync

- name: Open the matching window for the next sync
  hybrid.identity.directory_sync_features:
    tenant_id: contoso.onmicrosoft.com
    client_id: 00000000-0000-0000-0000-000000000000
    client_secret: "{{ vault_graph_secret }}"
    features:
      blockSoftMatchEnabled: false

- name: Close it again, and block takeover of cloud-only users by hard match
  hybrid.identity.directory_sync_features:
    tenant_id: contoso.onmicrosoft.com
    client_id: 00000000-0000-0000-0000-000000000000
    client_secret: "{{ vault_graph_secret }}"
    features:
      blockSoftMatchEnabled: true
      blockCloudObjectTakeoverThroughHardMatchEnabled: true
"""

RETURN = r"""
features:
  description:
    - Every switch of the tenant after the task, by its Graph name; in check mode, as it would be.
  returned: success
  type: dict
  sample: {"blockSoftMatchEnabled": true, "blockCloudObjectTakeoverThroughHardMatchEnabled": true,
           "softMatchOnUpnEnabled": true}
changes:
  description: The switches that were (in check mode, would be) sent, with their new values.
  returned: success
  type: dict
  sample: {"blockSoftMatchEnabled": false}
"""

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.hybrid.identity.plugins.module_utils.common._errors import HybridIdentityError
from ansible_collections.hybrid.identity.plugins.module_utils.graph._graph import (
    GRAPH_IMPORT_ERROR,
    GraphClient,
    GraphSettings,
)
from ansible_collections.hybrid.identity.plugins.module_utils.graph._graph_errors import MissingPermission
from ansible_collections.hybrid.identity.plugins.module_utils.graph._graph_options import GRAPH_AUTH_SPEC
from ansible_collections.hybrid.identity.plugins.module_utils.preflight._input_guard import guarded_module
from ansible_collections.hybrid.identity.plugins.module_utils.sync._sync_features import (
    apply_features,
    plan_features,
    read_sync_settings,
    requested_features,
)

ARGUMENT_SPEC = {
    "features": {"type": "dict"},
}
DELEGATED_ONLY = ("Microsoft documents this call for delegated access by a Global Administrator; if the tenant "
                  "refuses it to applications, set the switches with Update-MgDirectoryOnPremiseSynchronization "
                  "signed in as one.")


def main():
    module = guarded_module(argument_spec=GRAPH_AUTH_SPEC | ARGUMENT_SPEC, supports_check_mode=True)
    if GRAPH_IMPORT_ERROR is not None:
        module.fail_json(msg=missing_required_lib("msal and requests"), exception=str(GRAPH_IMPORT_ERROR))

    try:
        requested = requested_features(module.params["features"])
        with GraphClient(GraphSettings.from_params(module.params)) as graph:
            settings = read_sync_settings(graph)
            plan = plan_features(settings.features, requested)
            if plan.changed and not module.check_mode:
                apply_features(graph, settings, plan.changes)
    except MissingPermission as err:
        module.fail_json(msg=str(err), hint=f"{err.hint} {DELEGATED_ONLY}")
    except HybridIdentityError as err:
        module.fail_json(msg=str(err), hint=err.hint)

    result = {"changed": plan.changed, "features": plan.after, "changes": plan.changes}
    if module._diff:
        result["diff"] = {"before": {"features": plan.before}, "after": {"features": plan.after}}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
