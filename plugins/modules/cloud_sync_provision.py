#!/usr/bin/python
# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: cloud_sync_provision
short_description: Provision Active Directory users on demand through Microsoft Entra Cloud Sync
version_added: 0.1.0
description:
  - Syncs the Active Directory users named by O(distinguished_names) now, one C(provisionOnDemand) call each,
    instead of waiting for the next Cloud Sync cycle (every 2 minutes).
  - Finds the Cloud Sync job first. Its service principal is O(service_principal_id), or found among the
    tenant's Cloud Sync service principals (by O(service_principal_name) when there are several). The job is
    O(job_id), or the one made from O(template_id). The synchronization rule for users is read from the job's schema
    unless O(rule_id) is given.
  - Sends at most 5 calls in any 10 seconds, Microsoft's limit for this call, and still waits as long as
    C(Retry-After) says when Graph throttles.
  - Reports each object's result (V(Success), V(Skipped), V(Failure)), what it came to (RV(results[].outcome)),
    the action taken and the provisioning steps. A skip because source and target already match
    (C(RedundantExport)) is told apart from a skip because the object is out of scope (C(NotEffectivelyEntitled),
    or a scoping step that did not pass), which was not provisioned.
  - Fails after trying every object when any of them failed, was out of scope or was skipped without a reason.
  - Reports C(changed) only when Cloud Sync exported at least one object, or the job was started.
  - Starts a paused or quarantined job once, before provisioning, only when O(resume_paused_job=true); a running
    job is never started.
author:
  - hybrid.identity maintainers (@hybrid-identity)
extends_documentation_fragment:
  - hybrid.identity.graph_auth
  - hybrid.identity.attributes
attributes:
  check_mode:
    support: full
    description: Finds the job and its rule, and sends nothing; reports C(changed) when there are objects to send.
  diff_mode:
    support: none
    description: The change happens in Microsoft Entra ID; see RV(results) for what it did.
options:
  distinguished_names:
    description:
      - The distinguished names of the Active Directory users to provision, for example the users whose addresses
        were just aligned.
    type: list
    elements: str
    required: true
  service_principal_id:
    description:
      - The object ID of the service principal of the Cloud Sync configuration.
      - When not set, the tenant's Cloud Sync service principals (application
        C(1a4721b3-e57f-4451-ae87-ef078703ec94)) are listed, which needs C(Application.Read.All).
      - Mutually exclusive with O(service_principal_name).
    type: str
  service_principal_name:
    description:
      - The display name of the Cloud Sync configuration's service principal, the AD domain name when the portal
        created it. Needed when the tenant has several configurations.
    type: str
  job_id:
    description:
      - The ID of the synchronization job. When not set, the job made from O(template_id) is used.
    type: str
  template_id:
    description:
      - The template of the job to use when O(job_id) is not set.
    type: str
    default: AD2AADProvisioning
  rule_id:
    description:
      - The synchronization rule to run. When not set, the rule that maps users is read from the job's schema.
    type: str
  wait_out_window:
    description:
      - Wait one window of Microsoft's limit (10 seconds) before the first call, as if 5 calls had just been made.
      - For a batch that follows another one at once, whose calls still count against the limit; the
        role C(hybrid.identity.directory_sync) sets it for every batch but the first.
    type: bool
    default: false
  resume_paused_job:
    description:
      - Start the job once when it is paused or quarantined (C(POST .../start)). A job in quarantine is usually
        there for a reason the portal shows; fix it first.
      - When V(false), a paused or quarantined job gets a warning and the objects are still provisioned.
    type: bool
    default: false
notes:
  - Needs the Microsoft Graph application permission C(Synchronization.ReadWrite.All), and
    C(Application.Read.All) when O(service_principal_id) is not given.
seealso:
  - name: "synchronizationJob: provisionOnDemand"
    description: The call, its limits and its answer.
    link: https://learn.microsoft.com/graph/api/synchronization-synchronizationjob-provisionondemand
  - module: hybrid.identity.directory_sync_verify
    description: Check afterwards that the cloud shows the expected joins.
"""

EXAMPLES = r"""
- name: Provision the aligned users now
  hybrid.identity.cloud_sync_provision:
    tenant_id: contoso.onmicrosoft.com
    client_id: 00000000-0000-0000-0000-000000000000
    client_secret: "{{ vault_graph_secret }}"
    service_principal_name: contoso.com
    distinguished_names:
      - CN=Alice Smith,OU=Staff,DC=contoso,DC=com
      - CN=Bob Jones,OU=Staff,DC=contoso,DC=com
  register: provisioning

- name: Name the job exactly, and start it once if it is paused
  hybrid.identity.cloud_sync_provision:
    service_principal_id: 3e916d82-dd59-4944-824d-93092908fd8d
    job_id: AD2AADProvisioning.fd1c9b9e8077402c8bc03a7186c8f976.55a6f8c2-25a5-4c4b-8e5d-1e2b0f3c4d5e
    resume_paused_job: true
    distinguished_names: "{{ changed_dns }}"
"""

RETURN = r"""
job:
  description: The job used.
  returned: success
  type: dict
  contains:
    service_principal_id:
      description: The object ID of its service principal.
      type: str
      sample: 3e916d82-dd59-4944-824d-93092908fd8d
    id:
      description: The job ID.
      type: str
      sample: AD2AADProvisioning.fd1c9b9e8077402c8bc03a7186c8f976.55a6f8c2-25a5-4c4b-8e5d-1e2b0f3c4d5e
    template_id:
      description: The template the job was made from.
      type: str
      sample: AD2AADProvisioning
    status:
      description: The job's status code when it was read (V(Active), V(Paused), V(Quarantine) ...).
      type: str
      sample: Active
rule_id:
  description: The synchronization rule the objects were provisioned with.
  returned: success
  type: str
  sample: 6c409270-f78a-4bc6-af23-7cf3ab6482fe
job_started:
  description: True when the paused or quarantined job was started (in check mode, would be).
  returned: success
  type: bool
  sample: false
results:
  description: One entry per distinguished name, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    distinguished_name:
      description: The AD user.
      type: str
      sample: CN=Alice Smith,OU=Staff,DC=contoso,DC=com
    sent:
      description: False in check mode.
      type: bool
      sample: true
    result:
      description: V(Success), V(Skipped) or V(Failure); null when not sent.
      type: str
      sample: Success
    outcome:
      description:
        - What the answer came to. V(exported) when Cloud Sync exported the object (a V(Success)).
        - V(unchanged) for a skip because source and target already match (C(RedundantExport)).
        - V(out_of_scope) for a skip because the object is out of the job's scope (C(NotEffectivelyEntitled), or a
          scoping step that did not pass); it was not provisioned.
        - V(skipped) for a skip whose answer gives no reason; V(failed) for a V(Failure) or a call Graph refused.
        - Null when not sent.
      type: str
      choices: [exported, unchanged, out_of_scope, skipped, failed]
      sample: exported
    ok:
      description: True when RV(results[].outcome) is V(exported) or V(unchanged); null when not sent.
      type: bool
      sample: true
    action:
      description: What Cloud Sync did (V(Create), V(Update), V(Other) ...).
      type: str
      sample: Update
    target_id:
      description: The object ID of the cloud user.
      type: str
      sample: 87cb2512-8e7f-4543-a9c9-e7cf8756a3ad
    reportable_identifier:
      description: How Cloud Sync names the object, usually its user principal name.
      type: str
      sample: alice@contoso.com
    error_code:
      description: Cloud Sync's error code, or for a skip its reason (from the answer's details or the skipping
        step's C(SkipReason)).
      type: str
      sample: RedundantExport
    error_message:
      description: What went wrong, from the answer's details, its status or its failed step.
      type: str
      sample: null
    steps:
      description: The provisioning steps, each with C(name), C(type), C(status) and C(description).
      type: list
      elements: dict
      sample: [{"name": "EntryImportAdd", "type": "Import", "status": "Success", "description": "Received user"}]
summary:
  description: Counts of objects per result.
  returned: success
  type: dict
  sample: {"Success": 2, "Skipped": 1}
outcomes:
  description: Counts of objects per RV(results[].outcome); objects not sent count as C(not_sent).
  returned: success
  type: dict
  sample: {"exported": 2, "unchanged": 1}
"""

import time

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.hybrid.identity.plugins.module_utils.common._errors import HybridIdentityError
from ansible_collections.hybrid.identity.plugins.module_utils.graph._graph import (
    GRAPH_IMPORT_ERROR,
    GraphClient,
    GraphSettings,
)
from ansible_collections.hybrid.identity.plugins.module_utils.graph._graph_options import GRAPH_AUTH_SPEC
from ansible_collections.hybrid.identity.plugins.module_utils.preflight._input_guard import guarded_module
from ansible_collections.hybrid.identity.plugins.module_utils.sync._cloud_sync import (
    EXPORTED,
    ON_DEMAND_CALLS,
    CallWindow,
    count_by,
    find_job,
    find_service_principal,
    not_provisioned_message,
    not_sent,
    outcome_counts,
    provision_on_demand,
    read_rule_id,
    start_job,
)

ARGUMENT_SPEC = {
    "distinguished_names": {"type": "list", "elements": "str", "required": True},
    "service_principal_id": {"type": "str"},
    "service_principal_name": {"type": "str"},
    "job_id": {"type": "str"},
    "template_id": {"type": "str", "default": "AD2AADProvisioning"},
    "rule_id": {"type": "str"},
    "resume_paused_job": {"type": "bool", "default": False},
    "wait_out_window": {"type": "bool", "default": False},
}


def paced_window(wait_out_window: bool) -> CallWindow:
    """Microsoft's limit as a window; full from the start when the calls of a batch just before still count."""
    window = CallWindow()
    if wait_out_window:
        started = time.monotonic()
        for _call in range(ON_DEMAND_CALLS):
            window.record(started)
    return window


def main():
    module = guarded_module(argument_spec=GRAPH_AUTH_SPEC | ARGUMENT_SPEC,
                            mutually_exclusive=[("service_principal_id", "service_principal_name")],
                            supports_check_mode=True)
    if GRAPH_IMPORT_ERROR is not None:
        module.fail_json(msg=missing_required_lib("msal and requests"), exception=str(GRAPH_IMPORT_ERROR))
    params = module.params
    names = list(dict.fromkeys(name.strip() for name in params["distinguished_names"] if name.strip()))

    try:
        with GraphClient(GraphSettings.from_params(params)) as graph:
            principal_id = params["service_principal_id"] or find_service_principal(
                graph, params["service_principal_name"])
            job = find_job(graph, principal_id, params["job_id"], params["template_id"])
            rule_id = params["rule_id"] or read_rule_id(graph, job)
            start = job.resumable and params["resume_paused_job"]
            if job.resumable and not start:
                module.warn(f"Cloud Sync job {job.job_id} is {job.status_code}: its scheduled cycles do not run. "
                            "Set resume_paused_job: true to start it once, after fixing why it stopped.")
            if module.check_mode:
                results = [not_sent(name) for name in names]
            else:
                if start:
                    start_job(graph, job)
                results = provision_on_demand(graph, job, rule_id, names, paced_window(params["wait_out_window"]))
    except HybridIdentityError as err:
        module.fail_json(msg=str(err), hint=err.hint)

    # Check mode can't know what Cloud Sync would do: every object it would send may change the tenant.
    exported = bool(names) if module.check_mode else any(result["outcome"] == EXPORTED for result in results)
    outcome = {"changed": exported or start, "job": job.as_dict(), "rule_id": rule_id, "job_started": start,
               "results": results, "summary": count_by(results, "result", "not sent"),
               "outcomes": outcome_counts(results)}
    message = not_provisioned_message(results)
    if message:
        module.fail_json(msg=message, hint="fix what each message says in AD (an object out of scope: its OU or the "
                                           "job's scoping filter), then run again for those objects", **outcome)
    module.exit_json(**outcome)


if __name__ == "__main__":
    main()
