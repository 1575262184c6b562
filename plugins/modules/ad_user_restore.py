#!/usr/bin/python
# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ad_user_restore
short_description: Undo address alignments by replaying an undo journal backwards
version_added: 0.1.0
description:
  - Reads the undo journal that M(hybrid.identity.smtp_align) wrote and puts each journaled user back as it
    was before. This covers C(proxyAddresses), C(mail), C(mailNickname), C(userPrincipalName) and
    C(mS-DS-ConsistencyGuid). A record from a journal that did not hold one of them leaves that one alone.
  - Replays backwards, the newest run first. Within a run, the last record of each user counts (a write
    re-planned after a concurrent change supersedes the first one).
  - A user whose values are what the journal says was written is restored. One whose values are already
    what was there before is left alone. A user changed since (neither) is refused and reported under
    RV(refused), never overwritten; the other users are still restored.
  - Users are found by objectGUID, so a renamed or moved user is still restored. They are read in a few bulk
    searches; each restored user is written with one LDAP modify that deletes the exact current values.
    A change made meanwhile makes that modify fail instead of being overwritten.
author:
  - hybrid.identity maintainers (@hybrid-identity)
extends_documentation_fragment:
  - hybrid.identity.ad_connection
  - hybrid.identity.attributes
options:
  journal_path:
    description:
      - The undo journal to replay.
    type: path
    required: true
  run_id:
    description:
      - Replay only this run of the journal (C(journal.run_id) of an M(hybrid.identity.smtp_align) result).
      - By default every run in the journal is replayed, newest first, back to the state before the oldest.
    type: str
notes:
  - Restoring users that have been synchronized since the alignment changes their cloud users too. The next sync
    sends the restored values to Microsoft Entra ID, because the on-prem side wins from the first sync on; the
    primary SMTP address and the aliases the alignment carried over change in the cloud.
seealso:
  - module: hybrid.identity.smtp_align
"""

EXAMPLES = r"""
- name: Put every user the journal holds back as it was before the alignment
  hybrid.identity.ad_user_restore:
    ad_server: ldaps://dc01.contoso.com
    ad_username: svc-hybrid@contoso.com
    ad_password: "{{ vault_ad_password }}"
    journal_path: /srv/hybrid/journal/align.jsonl
  register: restore

- name: Undo only the last alignment run, and show what changes first
  hybrid.identity.ad_user_restore:
    journal_path: /srv/hybrid/journal/align.jsonl
    run_id: "{{ alignment.journal.run_id }}"
  check_mode: true
  diff: true
"""

RETURN = r"""
restored:
  description: Users restored (or to be restored in check mode).
  returned: always
  type: list
  elements: dict
  contains:
    object_guid:
      description: The user's objectGUID.
      type: str
    distinguished_name:
      description: The user's DN now.
      type: str
    before:
      description: >-
        Its C(proxyAddresses), C(mail), C(mailNickname), C(userPrincipalName) and C(consistency_guid) before the
        restore.
      type: dict
    after:
      description: The same values after the restore, as the journal holds them from before the alignment.
      type: dict
    runs:
      description: The runs undone, newest first.
      type: list
      elements: str
refused:
  description: Users left as they are because they changed since the journal's run wrote them, or were not found.
  returned: always
  type: list
  elements: dict
  contains:
    object_guid:
      description: The user's objectGUID.
      type: str
    distinguished_name:
      description: The user's DN.
      type: str
    reason:
      description: What differs, and what to do.
      type: str
    refused_run:
      description: The run whose record no longer matches the user.
      type: str
unchanged:
  description: The DNs of users already as they were before (never written, or restored already).
  returned: always
  type: list
  elements: str
"""

import dataclasses

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.hybrid.identity.plugins.module_utils._ad import LDAP3_IMPORT_ERROR, AdSession, AdSettings
from ansible_collections.hybrid.identity.plugins.module_utils._ad_options import AD_CONNECTION_SPEC
from ansible_collections.hybrid.identity.plugins.module_utils._alignment_io import (
    current_states,
    users_by_guid,
    write_restore,
)
from ansible_collections.hybrid.identity.plugins.module_utils._errors import HybridIdentityError
from ansible_collections.hybrid.identity.plugins.module_utils._input_guard import guarded_module
from ansible_collections.hybrid.identity.plugins.module_utils._journal import plan_restore, read_journal

ARGUMENT_SPEC = {
    "journal_path": {"type": "path", "required": True},
    "run_id": {"type": "str"},
}


def main():
    module = guarded_module(argument_spec=AD_CONNECTION_SPEC | ARGUMENT_SPEC, supports_check_mode=True)
    if LDAP3_IMPORT_ERROR is not None:
        module.fail_json(msg=missing_required_lib("ldap3"), exception=str(LDAP3_IMPORT_ERROR))
    params = module.params

    done = []
    try:
        records, skipped = read_journal(params["journal_path"])
        if params["run_id"] and not any(record.run_id == params["run_id"] for record in records):
            raise HybridIdentityError(f"run {params['run_id']} is not in {params['journal_path']}",
                                      hint="give a run_id the journal holds, or none to replay every run")
        with AdSession(AdSettings.from_params(params)) as ad:
            current = current_states(users_by_guid(ad, [record.object_guid for record in records]))
            restores = plan_restore(records, current, params["run_id"])
            refused = [restore for restore in restores if restore.refusal]
            for restore in restores:
                if restore.changed and not restore.refusal:
                    if not module.check_mode:
                        try:
                            write_restore(ad, restore.distinguished_name, restore.changes)
                        except HybridIdentityError as err:
                            # changed while restoring: refused like any other change made since the journal
                            refused.append(dataclasses.replace(restore, refusal=str(err), target=restore.current,
                                                               changes=()))
                            continue
                    done.append(restore)
    except HybridIdentityError as err:
        module.fail_json(msg=str(err), hint=err.hint, changed=bool(done),
                         restored=[restore.as_dict() for restore in done])

    for warning in skipped:
        module.warn(warning)
    module.exit_json(
        changed=bool(done),
        restored=[restore.as_dict() for restore in done],
        refused=[restore.as_dict() for restore in refused],
        unchanged=[restore.distinguished_name for restore in restores if not restore.changed and not restore.refusal],
        diff=[restore.diff for restore in done],
    )


if __name__ == "__main__":
    main()
