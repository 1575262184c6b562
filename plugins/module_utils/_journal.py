# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Internal to the hybrid.identity collection: not a public API, it may change without notice.

The undo journal: one JSON line per user a run is about to write, appended and forced to disk
(flush and fsync) before the write, holding the run id, the time, the user's DN and
objectGUID, and its values before and after (proxyAddresses, mail, userPrincipalName and
mS-DS-ConsistencyGuid as an ImmutableId).

Restoring replays a journal backwards: the newest run first, and in a run the last record of
each user (a write re-planned after a concurrent change supersedes the first plan). A user is
brought from a record's `after` back to its `before` with one exact delete+add; a user whose
values are neither (changed since) is refused and reported, never overwritten.

`append_records` and `read_journal` touch the file; everything else is pure.
"""

from __future__ import annotations

import datetime
import json
import os
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from ansible_collections.hybrid.identity.plugins.module_utils._anchor import anchor_bytes, immutable_id
from ansible_collections.hybrid.identity.plugins.module_utils._errors import HybridIdentityError

JOURNAL_VERSION = 1
STATE_KEYS = ("proxyAddresses", "mail", "userPrincipalName", "consistency_guid", "mailNickname")
# The LDAP attribute each state key is written to.
ATTRIBUTES = {"proxyAddresses": "proxyAddresses", "mail": "mail", "userPrincipalName": "userPrincipalName",
              "consistency_guid": "mS-DS-ConsistencyGuid", "mailNickname": "mailNickname"}


class JournalError(HybridIdentityError):
    pass


def new_run_id() -> str:
    return uuid.uuid4().hex


def utc_now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def state_of(user) -> dict:
    """The journaled values of an AD user as read (an AdUser: consistency_guid as bytes)."""
    guid = user.consistency_guid
    return {"proxyAddresses": list(user.proxy_addresses), "mail": user.mail,
            "userPrincipalName": user.user_principal_name, "consistency_guid": immutable_id(guid) if guid else None,
            "mailNickname": user.mail_nickname}


def same_state(left: Mapping, right: Mapping) -> bool:
    """Exact values, proxyAddresses in any order: the directory does not keep their order."""
    return differences(left, right) == []


def differences(left: Mapping, right: Mapping) -> list[str]:
    """The state keys whose values differ; a key one side does not hold (an older journal) is not compared."""
    changed = []
    for key in STATE_KEYS:
        if key not in left or key not in right:
            continue
        if key == "proxyAddresses":
            if sorted(left.get(key) or ()) != sorted(right.get(key) or ()):
                changed.append(key)
        elif (left.get(key) or None) != (right.get(key) or None):
            changed.append(key)
    return changed


@dataclass(frozen=True, slots=True)
class JournalRecord:
    run_id: str
    time: str
    distinguished_name: str
    object_guid: str
    before: dict
    after: dict

    def as_json(self) -> str:
        return json.dumps({"version": JOURNAL_VERSION, "run_id": self.run_id, "time": self.time,
                           "distinguished_name": self.distinguished_name, "object_guid": self.object_guid,
                           "before": self.before, "after": self.after}, sort_keys=True)

    @classmethod
    def from_json(cls, line: str) -> JournalRecord:
        record = json.loads(line)
        if not isinstance(record, dict) or record.get("version") != JOURNAL_VERSION:
            raise ValueError(f"not a version {JOURNAL_VERSION} journal record")
        return cls(run_id=record["run_id"], time=record["time"], distinguished_name=record["distinguished_name"],
                   object_guid=record["object_guid"], before=_state(record["before"]), after=_state(record["after"]))


def _state(value: object) -> dict:
    if not isinstance(value, dict):
        raise ValueError("before and after must be objects")
    # a key an older journal did not record stays absent, and is neither compared nor restored
    return {key: value[key] for key in STATE_KEYS if key in value}


def record_for(run_id: str, plan, object_guid: str, time: str | None = None) -> JournalRecord:
    """The record of one user's plan (a UserPlan), to append before it is written."""
    return JournalRecord(run_id, time or utc_now(), plan.distinguished_name, object_guid, dict(plan.before),
                         dict(plan.after))


# --- the file -------------------------------------------------------------------------------


def append_records(path: str, records: Sequence[JournalRecord]) -> None:
    """Append and force to disk before returning: no write may happen that the journal does not hold."""
    if not records:
        return
    directory = os.path.dirname(os.path.abspath(path))
    created = not os.path.exists(path)
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        # the journal holds addresses of people: readable by its owner only
        descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(descriptor, "a", encoding="utf-8") as journal:
            journal.write("".join(record.as_json() + "\n" for record in records))
            journal.flush()
            os.fsync(journal.fileno())
        if created:
            _sync_directory(directory)
    except OSError as err:
        raise JournalError(f"could not write the undo journal {path}: {err}",
                           hint="give a journal_path in a directory the controller user can write to") from err


def _sync_directory(directory: str) -> None:
    """A new file's name is durable only once its directory is synced."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def read_journal(path: str) -> tuple[list[JournalRecord], list[str]]:
    """The records, and warnings (a torn last line, from a run killed while appending, is skipped)."""
    try:
        with open(path, encoding="utf-8") as journal:
            text = journal.read()
    except OSError as err:
        raise JournalError(f"could not read the undo journal {path}: {err}",
                           hint="give the journal_path the alignment wrote") from err
    lines = text.split("\n")
    records, warnings = [], []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            records.append(JournalRecord.from_json(line))
        except (ValueError, KeyError, TypeError) as err:
            if number == len(lines):
                # no newline after it: the run stopped while appending, before writing anything it describes
                warnings.append(f"{path} line {number} is incomplete and was skipped ({err})")
                continue
            raise JournalError(f"{path} line {number} is not a journal record: {err}",
                               hint="restore from an unedited journal written by hybrid.identity.smtp_align") from err
    return records, warnings


# --- the restore plan -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UserRestore:
    """One user's way back: from `current` to `target`, as exact (attribute, delete, add) changes.

    A refused user keeps `target` equal to `current` and has no changes: nothing is written.
    """

    object_guid: str
    distinguished_name: str
    current: dict
    target: dict
    runs: tuple[str, ...]
    refusal: str | None = None
    refused_run: str | None = None
    changes: tuple = field(default=())

    @property
    def changed(self) -> bool:
        return bool(self.changes)

    def as_dict(self) -> dict:
        return {"object_guid": self.object_guid, "distinguished_name": self.distinguished_name,
                "changed": self.changed, "before": self.current, "after": self.target, "runs": list(self.runs),
                "refused": self.refusal is not None, "reason": self.refusal, "refused_run": self.refused_run}

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


def plan_restore(records: Iterable[JournalRecord], current: Mapping[str, tuple[str, dict]],
                 run_id: str | None = None) -> list[UserRestore]:
    """One UserRestore per journaled user, in the order their newest record was written, newest first.

    `current` maps each objectGUID found in the directory to (its DN now, its state now).
    """
    steps: dict[str, list[JournalRecord]] = {}
    for record in records_backwards(records, run_id):
        steps.setdefault(record.object_guid, []).append(record)
    return [_restore_user(guid, chain, current.get(guid)) for guid, chain in steps.items()]


def _restore_user(guid: str, chain: list[JournalRecord], found: tuple[str, dict] | None) -> UserRestore:
    if found is None:
        newest = chain[0]
        return UserRestore(guid, newest.distinguished_name, {}, {}, (), refused_run=newest.run_id,
                           refusal=f"no user with objectGUID {guid} was found; it was deleted or is out of reach")
    dn, now = found
    state, undone = now, []
    for record in chain:
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
                                       "what the journal says was written); restore it by hand or leave it")
    return UserRestore(guid, dn, now, state, tuple(undone), changes=restore_changes(now, state))


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
