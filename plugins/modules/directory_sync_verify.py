#!/usr/bin/python
# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: directory_sync_verify
short_description: Wait until Microsoft Entra ID shows the joins a directory sync was expected to make
version_added: 0.1.0
description:
  - For each expected pair of an on-premises user and its cloud user, checks through Microsoft Graph that the cloud
    user shows the join. It must sync (C(onPremisesSyncEnabled) true) and carry the source anchor in
    C(onPremisesImmutableId). It must show the predicted user principal name and primary SMTP address, hold the
    listed proxy addresses, and have no C(onPremisesProvisioningErrors).
  - Polls every O(poll_interval) seconds until every pair shows its join or O(timeout) passes, then fails naming
    each pair that differs and how (attribute, expected, actual).
  - Reads in bulk. Each poll is one lookup for every pair still pending (object IDs 15 to an C(in) filter,
    source anchors one filter each, all in C($batch) requests of 20), never one call per user. Past 2,000
    pending pairs a poll is one listing of the tenant instead, matched locally, and compared with Graph's
    count of the users (a warning when they differ).
  - Read-only.
author:
  - hybrid.identity maintainers (@hybrid-identity)
extends_documentation_fragment:
  - hybrid.identity.graph_auth
  - hybrid.identity.attributes.READ_ONLY
attributes:
  check_mode:
    support: full
    description:
      - Polls once without waiting and reports what it sees, without failing, since a sync that check mode did not
        force can't have happened yet. A warning says how many pairs differ now.
options:
  expected:
    description:
      - The pairs to verify, usually the clean matches the prediction (M(hybrid.identity.soft_match_check)) gave.
      - Each needs O(expected[].source_anchor) or O(expected[].cloud_id), or both.
      - Exactly one of O(expected) and O(expected_file) is required.
    type: list
    elements: dict
    suboptions:
      source_anchor:
        description:
          - The on-prem user's source anchor, the ImmutableId (base64) the cloud user must carry. Compared
            case-sensitively, as a hard match compares it.
          - Without O(expected[].cloud_id), the cloud user is found by this value.
        type: str
      cloud_id:
        description:
          - The object ID of the cloud user the on-prem user should join, for a soft match onto an existing user.
        type: str
      user_principal_name:
        description:
          - The user principal name the cloud user must show (rule book 2), compared case-insensitively.
        type: str
      primary_smtp:
        description:
          - The address the cloud user's C(SMTP:) value must hold, bare or with its prefix, compared
            case-insensitively.
        type: str
      proxy_addresses_include:
        description:
          - Proxy addresses the cloud user must hold, primary or secondary. Bare addresses are SMTP addresses;
            other types are written with their prefix (C(X500:...)).
        type: list
        elements: str
      label:
        description:
          - A name for the pair in results and messages. Defaults to the user principal name, else the anchor.
        type: str
  expected_file:
    description:
      - A JSON file on the managed node holding the pairs to verify, as a list of mappings with the keys of
        O(expected), bare or under the key C(expected). Each value is a string (C(proxy_addresses_include) a list of
        strings) or null.
      - For tens of thousands of pairs. The pairs do not pass through the controller's templating and module
        arguments, which at 90,000 pairs cost more than the verification itself.
      - The file must be UTF-8 JSON. A file that is missing, empty, cut short, or holds anything else fails the
        task before Graph is asked, naming the entry and key that are wrong.
      - Mutually exclusive with O(expected).
    type: path
  timeout:
    description:
      - Seconds to keep polling. No poll starts after it has passed.
    type: int
    default: 600
  poll_interval:
    description:
      - Seconds between two polls.
    type: int
    default: 15
  return_results:
    description:
      - Which pairs RV(results) lists. RV(summary) always counts every pair, and a failure message names every
        pair that differs, whatever this says.
      - V(attention) lists only the pairs that do not show their join. At tens of thousands of pairs this keeps the
        result small for the controller.
      - V(all) lists every pair, as the onboarding playbook's before/after table needs.
      - V(none) lists no pair.
    type: str
    choices: [all, attention, none]
    default: attention
notes:
  - Needs the Microsoft Graph application permission C(User.Read.All).
seealso:
  - name: onPremisesProvisioningError resource type
    description: The conflicts Microsoft Entra ID records on a synced user.
    link: https://learn.microsoft.com/graph/api/resources/onpremisesprovisioningerror
"""

EXAMPLES = r"""
- name: Wait for the sync to join these users, then stop on any difference
  hybrid.identity.directory_sync_verify:
    tenant_id: contoso.onmicrosoft.com
    client_id: 00000000-0000-0000-0000-000000000000
    client_secret: "{{ vault_graph_secret }}"
    expected:
      - label: alice
        source_anchor: KtN+mrQKRk2qSC19JzM09g==
        cloud_id: 4c3a1f5e-8d2b-4f6a-9c1e-2b7d5e8f0a13
        user_principal_name: alice@contoso.com
        primary_smtp: alice.smith@contoso.com
        proxy_addresses_include: [alice@contoso.com]
    timeout: 900
    poll_interval: 30
  register: verification

- name: Show what the tenant shows now, without waiting (check mode polls once and never fails)
  hybrid.identity.directory_sync_verify:
    expected: "{{ onboarding_pairs }}"
  check_mode: true
  register: current_state
"""

RETURN = r"""
results:
  description:
    - One entry per expected pair that O(return_results) asks for (by default those that do not show their join),
      in the order given, as the last poll saw it.
  returned: always
  type: list
  elements: dict
  contains:
    label:
      description: The pair's label.
      type: str
      sample: alice
    ok:
      description: True when the cloud user shows everything expected.
      type: bool
      sample: false
    differences:
      description:
        - What differs, each with C(attribute), C(expected) and C(actual). C(attribute) is one of
          V(id) or V(onPremisesImmutableId) (no such cloud user; C(actual) null), V(onPremisesSyncEnabled),
          V(userPrincipalName), V(primary_smtp), V(proxyAddresses) (C(actual) null when missing),
          V(onPremisesProvisioningErrors).
      type: list
      elements: dict
      sample: [{"attribute": "primary_smtp", "expected": "alice.smith@contoso.com", "actual": "alice@contoso.com"}]
    provisioning_errors:
      description: The cloud user's C(onPremisesProvisioningErrors), as Graph gives them.
      type: list
      elements: dict
      sample: []
    source_anchor:
      description: The expected source anchor.
      type: str
      sample: KtN+mrQKRk2qSC19JzM09g==
    cloud_id:
      description: The object ID of the cloud user found, else the expected one.
      type: str
      sample: 4c3a1f5e-8d2b-4f6a-9c1e-2b7d5e8f0a13
    user_principal_name:
      description: The cloud user's user principal name; null when no user was found.
      type: str
      sample: alice@contoso.com
    primary_smtp:
      description: The cloud user's primary SMTP address.
      type: str
      sample: alice.smith@contoso.com
    on_premises_sync_enabled:
      description: The cloud user's C(onPremisesSyncEnabled).
      type: bool
      sample: true
    on_premises_last_sync:
      description: The cloud user's C(onPremisesLastSyncDateTime).
      type: str
      sample: "2025-01-31T08:15:00Z"
summary:
  description: How many pairs were checked, showed their join, and did not.
  returned: always
  type: dict
  sample: {"pairs": 40, "ok": 39, "failed": 1}
polls:
  description: How many polls were made.
  returned: always
  type: int
  sample: 3
elapsed:
  description: Seconds from the first poll to the last.
  returned: always
  type: float
  sample: 31.2
"""

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.hybrid.identity.plugins.module_utils.common._errors import HybridIdentityError
from ansible_collections.hybrid.identity.plugins.module_utils.common._option_files import read_option_file
from ansible_collections.hybrid.identity.plugins.module_utils.graph._cloud_users import find_cloud_users
from ansible_collections.hybrid.identity.plugins.module_utils.graph._graph import (
    GRAPH_IMPORT_ERROR,
    GraphClient,
    GraphSettings,
)
from ansible_collections.hybrid.identity.plugins.module_utils.graph._graph_options import GRAPH_AUTH_SPEC
from ansible_collections.hybrid.identity.plugins.module_utils.preflight._input_guard import guarded_module
from ansible_collections.hybrid.identity.plugins.module_utils.sync._sync_verify import (
    ExpectedJoin,
    expected_from_json,
    failure_message,
    verify_joins,
)

ARGUMENT_SPEC = {
    "expected": {
        "type": "list",
        "elements": "dict",
        "options": {
            "source_anchor": {"type": "str"},
            "cloud_id": {"type": "str"},
            "user_principal_name": {"type": "str"},
            "primary_smtp": {"type": "str"},
            "proxy_addresses_include": {"type": "list", "elements": "str"},
            "label": {"type": "str"},
        },
    },
    "expected_file": {"type": "path"},
    "timeout": {"type": "int", "default": 600},
    "poll_interval": {"type": "int", "default": 15},
    "return_results": {"type": "str", "choices": ["all", "attention", "none"], "default": "attention"},
}


def read_users(graph, request, warnings: list[str]) -> list[dict]:
    """One poll's users: filters, or past a few thousand pairs one listing of the tenant (checked against its count)."""
    found = find_cloud_users(graph, request)
    warnings.extend(found.warnings)
    return found.users


def returned_checks(checks, which: str) -> list[dict]:
    """The pairs ``return_results`` asks for, as results rows."""
    if which == "none":
        return []
    return [check.as_dict() for check in checks if which == "all" or not check.ok]


def main():
    module = guarded_module(argument_spec=GRAPH_AUTH_SPEC | ARGUMENT_SPEC, supports_check_mode=True,
                            mutually_exclusive=[("expected", "expected_file")],
                            required_one_of=[("expected", "expected_file")])
    if GRAPH_IMPORT_ERROR is not None:
        module.fail_json(msg=missing_required_lib("msal and requests"), exception=str(GRAPH_IMPORT_ERROR))
    timeout, poll_interval = module.params["timeout"], module.params["poll_interval"]
    if timeout < 0 or poll_interval < 1:
        module.fail_json(msg="timeout must be 0 or more and poll_interval 1 or more seconds",
                         hint="set timeout: 600 and poll_interval: 15, for example")

    try:
        if module.params["expected_file"]:
            path = module.params["expected_file"]
            raw = read_option_file(path, "expected_file", "give the path of the JSON file of pairs on the managed node")
            expected = expected_from_json(raw, f"expected_file {path}")
        else:
            expected = [ExpectedJoin.from_param(entry, position)
                        for position, entry in enumerate(module.params["expected"])]
        warnings: list[str] = []
        with GraphClient(GraphSettings.from_params(module.params)) as graph:
            verification = verify_joins(lambda request: read_users(graph, request, warnings), expected,
                                        timeout, poll_interval, once=module.check_mode)
    except HybridIdentityError as err:
        module.fail_json(msg=str(err), hint=err.hint)
    for warning in dict.fromkeys(warnings):  # each poll may warn the same
        module.warn(warning)

    failed = verification.failed
    outcome = {
        "changed": False,
        "results": returned_checks(verification.checks, module.params["return_results"]),
        "summary": {"pairs": len(verification.checks), "ok": len(verification.checks) - len(failed),
                    "failed": len(failed)},
        "polls": verification.polls,
        "elapsed": round(verification.elapsed, 1),
    }
    if failed and module.check_mode:
        module.warn(f"{len(failed)} of {len(verification.checks)} expected joins do not show yet; check mode polls "
                    "once and forces no sync, so this is what the tenant shows now.")
    elif failed:
        module.fail_json(msg=failure_message(verification, timeout),
                         hint="run hybrid.identity.soft_match_check on these users to see why the sync did not "
                              "join them as predicted, or give the sync more time with timeout",
                         **outcome)
    module.exit_json(**outcome)


if __name__ == "__main__":
    main()
