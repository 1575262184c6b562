# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Restore from an undo journal: the plan that brings each user back to its values before a run.

Internal to the hybrid.identity collection: not a public API, it may change without notice.

The restore plan of an undo journal (see `_journal`). Restoring replays a journal backwards:
the newest run first, and in a run the last record of each user (a write re-planned after a
concurrent change, or found done by another writer, supersedes the first plan). A user is
brought from a record's `after` back to its `before` with one exact delete+add; a user whose
values are neither (changed since) is refused and reported, never overwritten.

A record is used only if its `before` passes the checks ad_user_smtp applies to what it writes
(rule book §1): no address the user does not hold now in any case (an alignment never removes
one), well-formed values wherever the restore would write a new one, a UPN in a domain the user
holds. Values the user holds, re-cased into two primaries as the user had them before the
alignment, are restored with a warning, as ad_user_smtp warns of problems a user holds already.
A user with a damaged record (not a torn one) or a record that fails those checks is not
restored at all, and is named.

Pure: standard library only, no Ansible, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ansible_collections.hybrid.identity.plugins.module_utils.alignment._journal import (
    ATTRIBUTES,
    DamagedLine,
    JournalRecord,
    differences,
    same_state,
)
from ansible_collections.hybrid.identity.plugins.module_utils.common._addresses import (
    AddressError,
    ProxyAddress,
    validate_mail_nickname,
    validate_proxy_address,
    validate_proxy_addresses,
    validate_smtp_address,
    validate_upn,
)
from ansible_collections.hybrid.identity.plugins.module_utils.common._anchor import AnchorError, anchor_bytes

# ad_user_smtp's rules on a whole proxyAddresses attribute (one primary per type, no duplicate, the size)
_ATTRIBUTE_RULES = frozenset({"two_primaries", "duplicate_value", "too_many_addresses"})
# a mail in a private domain (.local) is common on-prem; ad_user_smtp keeps one, the sync flags it (rule book §1)
_KEPT_RULES = frozenset({"unroutable_domain"})


@dataclass(frozen=True, slots=True)
class UserRestore:
    """One user's way back: from `current` to `target`, as exact (attribute, delete, add) changes.

    A refused user keeps `target` equal to `current` and has no changes: nothing is written.
    `refusal` is set when the user changed since (or is gone); `problem` when its journal can't be
    trusted, which a re-run does not mend.
    """

    object_guid: str
    distinguished_name: str
    current: dict
    target: dict
    runs: tuple[str, ...]
    refusal: str | None = None
    refused_run: str | None = None
    changes: tuple = field(default=())
    problem: str | None = None
    journaled_dn: str | None = None
    warnings: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.changes)

    def as_dict(self) -> dict:
        return {"object_guid": self.object_guid, "distinguished_name": self.distinguished_name,
                "journaled_dn": self.journaled_dn or self.distinguished_name, "changed": self.changed,
                "before": self.current, "after": self.target, "runs": list(self.runs),
                "refused": self.refusal is not None, "reason": self.refusal or self.problem,
                "refused_run": self.refused_run, "warnings": list(self.warnings)}

    @property
    def diff(self) -> dict:
        return {"before_header": self.distinguished_name, "after_header": self.distinguished_name,
                "before": self.current, "after": self.target}


def records_backwards(records: Iterable[JournalRecord], run_id: str | None = None) -> list[JournalRecord]:
    """Newest run first; in a run the last record of each user only (it supersedes re-planned ones)."""
    runs: dict[str, dict[str, JournalRecord]] = {}
    for record in records:
        if run_id is None or record.run_id == run_id:
            users = runs.setdefault(record.run_id, {})
            users.pop(record.object_guid, None)
            users[record.object_guid] = record
    return [record for users in reversed(runs.values()) for record in reversed(users.values())]


def before_problems(record: JournalRecord) -> tuple[list[str], list[str]]:
    """(why the record's `before` must not be written back, what to warn of when it is), by ad_user_smtp's rules.

    ad_user_smtp refuses a problem its request creates and warns of one the user holds already (rule
    book §1). Here the user holds `after` (the restore writes only when the user holds it exactly), and
    the alignment never removes a value, so a valid record's `before` holds no address `after` lacks in
    any case: such a value is refused, checked as a new one. The same holds for the other values: a
    value the user holds now is not judged again.
    """
    before, after = record.before, record.after
    held = {_proxy_key(value) for value in after.get("proxyAddresses") or ()}
    held_smtp = {key[5:] for key in held if key.startswith("smtp:")} | {
        value.lower() for value in (after.get("mail"),) if value}
    problems = []
    values = before.get("proxyAddresses") or []
    for value in values:
        if _proxy_key(value) not in held:
            checked = [v.message for v in validate_proxy_address(value)]
            problems.append(f"proxyAddresses {value!r} is not held by the user in any case, and an alignment never "
                            f"removes an address{': ' if checked else ''}{' '.join(checked)}")
    whole = [v.message for v in validate_proxy_addresses(values) if v.rule in _ATTRIBUTE_RULES]
    # made of values the user holds, re-cased: as the user was before the alignment, so restored and warned of
    warnings = [f"restored as before the alignment: {message}" for message in whole] if not problems else []
    problems += whole if problems else []
    mail = before.get("mail")
    if mail and mail.lower() not in held_smtp and mail != after.get("mail"):
        problems += [f"mail: {v.message}" for v in validate_smtp_address(mail) if v.rule not in _KEPT_RULES]
    problems += _upn_problems(before.get("userPrincipalName"), after, held_smtp)
    nickname = before.get("mailNickname")
    if nickname and nickname != after.get("mailNickname"):
        problem = validate_mail_nickname(nickname)
        if problem:
            problems.append(f"mailNickname {nickname!r} {problem}")
    anchor = before.get("consistency_guid")
    if anchor and anchor != after.get("consistency_guid"):
        try:
            anchor_bytes(anchor)
        except AnchorError as err:
            problems.append(f"consistency_guid: {err}")
    return problems, warnings


def _upn_problems(upn: str | None, after: Mapping, held_smtp: set[str]) -> list[str]:
    if not upn or upn == after.get("userPrincipalName"):
        return []
    problems = [v.message for v in validate_upn(upn)]
    domain = upn.rpartition("@")[2].lower()
    # a sane domain: one the user holds now, in its UPN or in an SMTP address
    domains = {address.rpartition("@")[2] for address in held_smtp}
    if after.get("userPrincipalName"):
        domains.add(after["userPrincipalName"].rpartition("@")[2].lower())
    if domain and domain not in domains:
        problems.append(f"userPrincipalName {upn!r} is in {domain}, a domain the user holds neither its UPN nor an "
                        "address in")
    return problems


def _proxy_key(value: str) -> str:
    try:
        return ProxyAddress.parse(value).key
    except AddressError:
        return value.lower()


def plan_restore(records: Iterable[JournalRecord], current: Mapping[str, tuple[str, dict]],
                 run_id: str | None = None, damaged: Iterable[DamagedLine] = ()) -> list[UserRestore]:
    """One UserRestore per journaled user, in the order their newest record was written, newest first.

    `current` maps each objectGUID found in the directory to (its DN now, its state now). A user named
    by a damaged line that is not torn is not restored.
    """
    untrusted: dict[str, str] = {}
    for line in damaged:
        if line.object_guid and not line.torn:
            untrusted.setdefault(line.object_guid, f"journal line {line.line} about it is refused: {line.reason}")
    steps: dict[str, list[JournalRecord]] = {}
    warned: dict[str, list[str]] = {}
    for record in records_backwards(records, run_id):
        steps.setdefault(record.object_guid, []).append(record)
        problems, warnings = before_problems(record)
        warned.setdefault(record.object_guid, []).extend(warnings)
        if problems and record.object_guid not in untrusted:
            untrusted[record.object_guid] = (f"journal line {record.line} (run {record.run_id}) would write back "
                                             f"values ad_user_smtp refuses: {' '.join(problems)}")
    plans = [_restore_user(guid, chain, current.get(guid), untrusted.get(guid), tuple(warned[guid]))
             for guid, chain in steps.items()]
    # users only damaged lines name: nothing of theirs can be trusted
    for guid, problem in untrusted.items():
        if guid not in steps:
            found = current.get(guid)
            plans.append(UserRestore(guid, found[0] if found else "", found[1] if found else {},
                                     found[1] if found else {}, (), problem=problem))
    return plans


def _restore_user(guid: str, chain: list[JournalRecord], found: tuple[str, dict] | None,
                  problem: str | None, warnings: tuple[str, ...] = ()) -> UserRestore:
    newest = chain[0]
    if problem:
        dn, now = found if found else (newest.distinguished_name, {})
        return UserRestore(guid, dn, now, now, (), problem=problem, journaled_dn=newest.distinguished_name)
    if found is None:
        return UserRestore(guid, newest.distinguished_name, {}, {}, (), refused_run=newest.run_id,
                           refusal=f"no user with objectGUID {guid} was found; it was deleted or is out of reach")
    dn, now = found
    state, undone = now, []
    for record in chain:
        if record.changes_nothing:
            continue  # the run found this user done already and wrote nothing
        if same_state(state, record.after):
            state = record.before
            undone.append(record.run_id)
        elif same_state(state, record.before):
            continue  # this write never happened, or was undone already
        else:
            changed = ", ".join(differences(state, record.after))
            # refused whole, newer runs included: a person decides what this user should hold
            return UserRestore(guid, dn, now, now, (), refused_run=record.run_id,
                               refusal=f"{dn} was changed since run {record.run_id} wrote it ({changed} differ from "
                                       "what the journal says was written); restore it by hand or leave it",
                               journaled_dn=newest.distinguished_name)
    changes = restore_changes(now, state)
    return UserRestore(guid, dn, now, state, tuple(undone), changes=changes, journaled_dn=newest.distinguished_name,
                       warnings=warnings if changes else ())


def restore_changes(current: Mapping, target: Mapping) -> tuple:
    """(LDAP attribute, exact values to delete, values to add) that turn `current` into `target`."""
    changes = []
    for key in differences(current, target):
        if key == "proxyAddresses":
            old, new = current.get(key) or [], target.get(key) or []
            # exact strings: a value re-cased is deleted and added again (rule book §1)
            changes.append((ATTRIBUTES[key], tuple(v for v in old if v not in new),
                            tuple(v for v in new if v not in old)))
        else:
            old, new = current.get(key), target.get(key)
            changes.append((ATTRIBUTES[key], _values(key, old), _values(key, new)))
    return tuple(changes)


def _values(key: str, value: str | None) -> tuple:
    if not value:
        return ()
    return (anchor_bytes(value),) if key == "consistency_guid" else (value,)
