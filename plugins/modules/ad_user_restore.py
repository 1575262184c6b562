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
    searches; each restored user is written with one LDAP modify addressed by its objectGUID, which deletes the
    exact current values. A change made meanwhile makes that modify fail instead of being overwritten.
  - Every record is checked before it is used. Its digest must match (a torn, corrupted or edited record is
    refused). Its C(before) must pass the checks M(hybrid.identity.ad_user_smtp) applies to what it writes.
    It may hold no address the user does not hold now in any case, since an alignment never removes one. A new
    C(mail), C(mailNickname) or UPN must be well formed, and a UPN in a domain the user holds. It may hold only
    the values a journal holds. A user with a refused record is not restored at all and is listed under
    RV(not_restored); the others are still restored.
  - Like M(hybrid.identity.ad_user_smtp), the restore does not refuse a problem the user held already. A user
    whose values before the alignment held two primary SMTP addresses, which the alignment fixed, gets them
    back with a warning.
  - A torn last record, left by an alignment killed while appending, describes a write that never happened.
    It is skipped with a warning and blocks nothing.
  - Journals written before records carried a digest are read with a warning, unless O(journal_key) is set.
  - The task fails when a user could not be restored for any reason other than a change made since, that is a
    refused record, a directory that refused the write, or a connection that broke. Users written before the break stay
    restored; running the restore again restores the rest and leaves the restored ones alone.
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
  journal_key:
    description:
      - The key the journal was signed with (O(hybrid.identity.smtp_align#module:journal_key)). Every record must
        then carry an HMAC-SHA256 digest made with it; records without one, or with a plain digest, are refused.
      - Keep it in a vaulted variable.
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
    journal_key: "{{ vault_journal_key }}"
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
    journaled_dn:
      description: The user's DN as the newest record names it (it differs after a rename or move).
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
    warnings:
      description:
        - What the restored values break that the user broke before the alignment too, such as two primary SMTP
          addresses the alignment had fixed. They are restored as they were, and each is also a task warning.
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
not_restored:
  description:
    - Users left as they are for another reason than a change made since, each with C(object_guid),
      C(distinguished_name) and C(reason). The reason says whether a re-run restores them (the connection broke)
      or the journal must be mended first (a damaged, edited or unsigned record, or values that fail the address
      rules). The task fails when there are any.
  returned: always
  type: list
  elements: dict
damaged:
  description:
    - Journal lines that are not valid records, each with C(line), C(reason), C(torn) (cut off by a run stopped
      while appending; skipped, since its write never happened) and the C(object_guid) and C(distinguished_name)
      it still shows, or null.
  returned: always
  type: list
  elements: dict
unchanged:
  description: The DNs of users already as they were before (never written, or restored already).
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.hybrid.identity.plugins.module_utils.ad._ad import (
    LDAP3_IMPORT_ERROR,
    AdConnectionError,
    AdSession,
    AdSettings,
    ConcurrentChange,
)
from ansible_collections.hybrid.identity.plugins.module_utils.ad._ad_options import AD_CONNECTION_SPEC
from ansible_collections.hybrid.identity.plugins.module_utils.alignment._alignment_io import users_by_guid
from ansible_collections.hybrid.identity.plugins.module_utils.alignment._journal import read_journal
from ansible_collections.hybrid.identity.plugins.module_utils.alignment._journal_restore import plan_restore
from ansible_collections.hybrid.identity.plugins.module_utils.alignment._journaled_writes import (
    current_states,
    write_restore,
)
from ansible_collections.hybrid.identity.plugins.module_utils.common._errors import HybridIdentityError
from ansible_collections.hybrid.identity.plugins.module_utils.preflight._input_guard import guarded_module

ARGUMENT_SPEC = {
    "journal_path": {"type": "path", "required": True},
    "run_id": {"type": "str"},
    "journal_key": {"type": "str", "no_log": True},
}


def restore_users(ad, restores, check_mode):
    """(restored, refused, not restored): write each user back; a broken connection stops the writing."""
    done, refused, not_restored = [], [], []
    broken = None
    for restore in restores:
        if restore.problem:
            not_restored.append(restore.as_dict())
        elif restore.refusal:
            refused.append(restore.as_dict())
        elif not restore.changed:
            continue
        elif broken is not None:
            not_restored.append(restore.as_dict() | {
                "reason": f"not written: the connection to the domain controller broke before its turn ({broken}); "
                          "run the restore again to restore it"})
        elif check_mode:
            done.append(restore)
        else:
            try:
                write_restore(ad, restore.object_guid, restore.changes)
                done.append(restore)
            except ConcurrentChange as err:
                # changed while restoring: refused like any other change made since the journal
                refused.append(restore.as_dict() | {"reason": f"{restore.distinguished_name} changed while it was "
                                                              f"restored: {err}", "after": restore.current,
                                                    "changed": False})
            except AdConnectionError as err:
                broken = err
                not_restored.append(restore.as_dict() | {
                    "reason": f"the connection broke while it was written ({err}); the write may or may not have been "
                              "applied: run the restore again, which restores it or finds it restored"})
            except HybridIdentityError as err:
                not_restored.append(restore.as_dict() | {"reason": f"the directory refused the write: {err}"})
    return done, refused, not_restored


def failure_hint(not_restored, unnamed):
    hints = []
    if any("run the restore again" in row["reason"] for row in not_restored):
        hints.append("when the domain controller answers again, run the same restore again: it restores the users "
                     "listed and leaves those restored already alone")
    if unnamed or any(row["reason"].startswith("journal line") for row in not_restored):
        hints.append("the journal lines named are damaged, edited or fail the address rules, so those users were "
                     "left as they are: put them back by hand from a trusted copy of the journal")
    if any(row["reason"].startswith("the directory refused") for row in not_restored):
        hints.append("grant write access to the attributes named, then run the restore again")
    return "; ".join(hints)


def main():
    module = guarded_module(argument_spec=AD_CONNECTION_SPEC | ARGUMENT_SPEC, supports_check_mode=True)
    if LDAP3_IMPORT_ERROR is not None:
        module.fail_json(msg=missing_required_lib("ldap3"), exception=str(LDAP3_IMPORT_ERROR))
    params = module.params

    done = []
    try:
        reading = read_journal(params["journal_path"], params["journal_key"])
        if params["run_id"] and not any(record.run_id == params["run_id"] for record in reading.records):
            raise HybridIdentityError(f"run {params['run_id']} is not in {params['journal_path']}",
                                      hint="give a run_id the journal holds, or none to replay every run")
        with AdSession(AdSettings.from_params(params)) as ad:
            named = [record.object_guid for record in reading.records]
            named += [line.object_guid for line in reading.damaged if line.object_guid]
            current = current_states(users_by_guid(ad, named))
            restores = plan_restore(reading.records, current, params["run_id"], reading.damaged)
            done, refused, not_restored = restore_users(ad, restores, module.check_mode)
    except HybridIdentityError as err:
        module.fail_json(msg=str(err), hint=err.hint, changed=bool(done),
                         restored=[restore.as_dict() for restore in done])

    for warning in reading.warnings:
        module.warn(warning)
    for restore in done:
        for warning in restore.warnings:
            module.warn(f"{restore.distinguished_name}: {warning}")
    result = {
        "changed": bool(done),
        "restored": [restore.as_dict() for restore in done],
        "refused": refused,
        "not_restored": not_restored,
        "damaged": [line.as_dict() for line in reading.damaged],
        "unchanged": [restore.distinguished_name for restore in restores
                      if not restore.changed and not restore.refusal and not restore.problem],
        "diff": [restore.diff for restore in done],
    }
    # a damaged line that names nobody may hide a user: the restore can't say it is complete
    unnamed = [line for line in reading.damaged if not line.torn and not line.object_guid]
    if not_restored or unnamed:
        names = [f"{row['distinguished_name'] or row['object_guid']}: {row['reason']}" for row in not_restored]
        names += [f"journal line {line.line} names no user we can read: {line.reason}" for line in unnamed]
        module.fail_json(msg=f"{len(not_restored)} user(s) were not restored ({len(done)} restored, {len(refused)} "
                             f"refused as changed since): {'; '.join(names)}",
                         hint=failure_hint(not_restored, unnamed), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
