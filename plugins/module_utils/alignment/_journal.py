# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The undo journal: one digest-signed JSON line per user, forced to disk before its write.

Internal to the hybrid.identity collection: not a public API, it may change without notice.

The undo journal: one JSON line per user a run is about to write, appended and forced to disk
(flush and fsync) before the write, holding the run id, the time, the user's objectGUID and DN,
its values before and after (proxyAddresses, mail, userPrincipalName, mailNickname and
mS-DS-ConsistencyGuid as an ImmutableId), and a digest of all that.

The digest is SHA-256, or HMAC-SHA256 when a key is given, over the record's canonical JSON
(keys sorted, no spaces, the digest left out). It tells a valid record from a torn or corrupted
one, and with a key, from one someone without the key edited. Version 1 records (before the
digest) are still read; `read_journal` says how far they can be trusted.

A run killed while appending leaves half a line. The write it describes never happened (the
journal is forced to disk before any write), so the next append closes the line first, and
reading reports it as torn rather than refusing the journal.

`append_records` and `read_journal` touch the file; the rest is pure.
"""

from __future__ import annotations

import datetime
import fcntl
import hashlib
import hmac
import json
import os
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from ansible_collections.hybrid.identity.plugins.module_utils.common._anchor import immutable_id
from ansible_collections.hybrid.identity.plugins.module_utils.common._errors import HybridIdentityError

JOURNAL_VERSION = 2
READABLE_VERSIONS = (1, 2)
STATE_KEYS = ("proxyAddresses", "mail", "userPrincipalName", "consistency_guid", "mailNickname")
# The LDAP attribute each state key is written to.
ATTRIBUTES = {"proxyAddresses": "proxyAddresses", "mail": "mail", "userPrincipalName": "userPrincipalName",
              "consistency_guid": "mS-DS-ConsistencyGuid", "mailNickname": "mailNickname"}
PLAIN_DIGEST = "sha256"
KEYED_DIGEST = "hmac-sha256"
_RECORD_KEYS = frozenset({"version", "object_guid", "distinguished_name", "run_id", "time", "before", "after",
                          "digest"})
# What a damaged line may still show of the user it was about (the identity is written first).
_NAMED_GUID = re.compile(r'"object_guid":\s*"([^"]*)"')
_NAMED_DN = re.compile(r'"distinguished_name":\s*"((?:[^"\\]|\\.)*)"')


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


def same_state(left: dict, right: dict) -> bool:
    """Exact values, proxyAddresses in any order: the directory does not keep their order."""
    return differences(left, right) == []


def differences(left: dict, right: dict) -> list[str]:
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


# --- records --------------------------------------------------------------------------------


def digest_of(fields: dict, key: str | None) -> str:
    """`sha256:<hex>`, or `hmac-sha256:<hex>` with a key, over the canonical JSON of the record's fields."""
    canonical = json.dumps({name: value for name, value in fields.items() if name != "digest"}, sort_keys=True,
                           separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    if key:
        return f"{KEYED_DIGEST}:{hmac.new(key.encode('utf-8'), canonical, hashlib.sha256).hexdigest()}"
    return f"{PLAIN_DIGEST}:{hashlib.sha256(canonical).hexdigest()}"


@dataclass(frozen=True, slots=True)
class JournalRecord:
    run_id: str
    time: str
    distinguished_name: str
    object_guid: str
    before: dict
    after: dict
    line: int = field(default=0, compare=False)

    @property
    def changes_nothing(self) -> bool:
        """A record whose before is its after: the run found nothing to write (another writer did it)."""
        return same_state(self.before, self.after)

    def fields(self) -> dict:
        # the identity first: a torn line still names its user
        return {"version": JOURNAL_VERSION, "object_guid": self.object_guid,
                "distinguished_name": self.distinguished_name, "run_id": self.run_id, "time": self.time,
                "before": self.before, "after": self.after}

    def as_json(self, key: str | None = None) -> str:
        fields = self.fields()
        return json.dumps(fields | {"digest": digest_of(fields, key)}, ensure_ascii=False)


def record_for(run_id: str, plan, object_guid: str, time: str | None = None) -> JournalRecord:
    """The record of one user's plan (a UserPlan), to append before it is written."""
    return JournalRecord(run_id, time or utc_now(), plan.distinguished_name, object_guid, dict(plan.before),
                         dict(plan.after))


def nothing_written(run_id: str, plan, object_guid: str) -> JournalRecord:
    """The record that supersedes a user's earlier record of this run when its write did not happen."""
    return JournalRecord(run_id, utc_now(), plan.distinguished_name, object_guid, dict(plan.before),
                         dict(plan.before))


class _Damaged(ValueError):
    """A line that is not a valid record; `torn` when it is the start of one, cut off."""

    def __init__(self, reason: str, torn: bool = False) -> None:
        super().__init__(reason)
        self.torn = torn


def _parse(text: str, number: int, key: str | None) -> tuple[JournalRecord, bool]:
    """(the record, whether it carries a digest) or raises _Damaged saying what is wrong."""
    try:
        fields = json.loads(text)
    except ValueError as err:
        torn = text.lstrip().startswith("{") and not text.rstrip().endswith("}")
        raise _Damaged("it is cut off: a run stopped while appending it, before writing what it describes"
                       if torn else f"it is not JSON ({err})", torn=torn) from err
    if not isinstance(fields, dict):
        raise _Damaged("it is not a JSON object")
    version = fields.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version not in READABLE_VERSIONS:
        raise _Damaged(f"its version is {version!r}; this collection reads versions "
                       f"{', '.join(map(str, READABLE_VERSIONS))}")
    unknown = sorted(set(fields) - _RECORD_KEYS)
    if unknown:
        raise _Damaged(f"it holds {', '.join(unknown)}, which no journal record holds")
    for name in ("run_id", "time", "distinguished_name", "object_guid"):
        if not isinstance(fields.get(name), str) or not fields[name]:
            raise _Damaged(f"its {name} is missing or not a string")
    try:
        guid = str(uuid.UUID(fields["object_guid"]))
    except ValueError as err:
        raise _Damaged(f"its object_guid {fields['object_guid']!r} is not a GUID "
                       "(xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)") from err
    record = JournalRecord(fields["run_id"], fields["time"], fields["distinguished_name"], guid,
                           _state(fields.get("before"), "before"), _state(fields.get("after"), "after"), number)
    return record, _check_digest(fields, key)


def _check_digest(fields: dict, key: str | None) -> bool:
    digest = fields.get("digest")
    if digest is None:
        if fields["version"] >= 2:
            raise _Damaged("it carries no digest, which every version 2 record does")
        if key:
            raise _Damaged("it carries no digest (a version 1 record), and journal_key asks for signed records")
        return False
    kind = digest.partition(":")[0] if isinstance(digest, str) else None
    if kind == KEYED_DIGEST and not key:
        raise _Damaged("it is signed with a key: give the journal_key it was written with")
    if kind == PLAIN_DIGEST and key:
        raise _Damaged("it is not signed with journal_key (it carries a plain SHA-256 digest)")
    if kind not in (PLAIN_DIGEST, KEYED_DIGEST):
        raise _Damaged(f"its digest {digest!r} is not one this collection writes")
    if not hmac.compare_digest(digest, digest_of(fields, key)):
        cause = "or journal_key is not the key it was written with" if key else "or corrupted"
        raise _Damaged(f"its digest does not match its content: it was changed after it was written, {cause}")
    return True


def _state(value: object, name: str) -> dict:
    if not isinstance(value, dict):
        raise _Damaged(f"its {name} is missing or not an object")
    unknown = sorted(set(value) - set(STATE_KEYS))
    if unknown:
        raise _Damaged(f"its {name} holds {', '.join(unknown)}, which a journal never holds "
                       f"(only {', '.join(STATE_KEYS)})")
    for key, held in value.items():
        if key == "proxyAddresses":
            if not isinstance(held, list) or not all(isinstance(item, str) for item in held):
                raise _Damaged(f"its {name}.proxyAddresses is not a list of strings")
        elif held is not None and not isinstance(held, str):
            raise _Damaged(f"its {name}.{key} is not a string or null")
    # a key an older journal did not record stays absent, and is neither compared nor restored
    return dict(value)


@dataclass(frozen=True, slots=True)
class DamagedLine:
    """A line that is not a valid record, and what it still shows of its user."""

    line: int
    reason: str
    torn: bool
    object_guid: str | None
    distinguished_name: str | None

    def as_dict(self) -> dict:
        return {"line": self.line, "reason": self.reason, "torn": self.torn, "object_guid": self.object_guid,
                "distinguished_name": self.distinguished_name}


def _named(text: str, pattern: re.Pattern) -> str | None:
    found = pattern.search(text)
    if not found:
        return None
    try:
        return json.loads(f'"{found.group(1)}"')
    except ValueError:
        return None


def _damaged(number: int, text: str, reason: str, torn: bool) -> DamagedLine:
    guid = _named(text, _NAMED_GUID)
    try:
        guid = str(uuid.UUID(guid)) if guid else None
    except ValueError:
        guid = None
    return DamagedLine(number, reason, torn, guid, _named(text, _NAMED_DN))


@dataclass(slots=True)
class JournalReading:
    path: str
    records: list[JournalRecord] = field(default_factory=list)
    damaged: list[DamagedLine] = field(default_factory=list)
    unsigned: int = 0  # version 1 records, which carry no digest

    @property
    def warnings(self) -> list[str]:
        warnings = [f"{self.path} line {line.line} was skipped: {line.reason}" for line in self.damaged if line.torn]
        if self.unsigned:
            warnings.append(f"{self.unsigned} record(s) of {self.path} carry no digest (written by an older "
                            "version): a corrupted or edited one can't be told from a valid one. Set journal_key "
                            "to refuse such records.")
        return warnings


def read_journal(path: str, key: str | None = None) -> JournalReading:
    """Every line judged: the valid records, and the damaged lines with what they still show."""
    try:
        with open(path, "rb") as journal:
            raw = journal.read()
    except OSError as err:
        raise JournalError(f"could not read the undo journal {path}: {err}",
                           hint="give the journal_path the alignment wrote") from err
    reading = JournalReading(path)
    lines = raw.split(b"\n")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as err:
            reading.damaged.append(DamagedLine(number, f"it is not UTF-8 text (byte {line[err.start]:#04x} at "
                                                       f"column {err.start + 1})", False, None, None))
            continue
        try:
            record, signed = _parse(text, number, key)
        except _Damaged as err:
            # the last line without its newline is a torn append, whatever it holds
            torn = err.torn or (number == len(lines) and not raw.endswith(b"\n"))
            reading.damaged.append(_damaged(number, text, str(err), torn))
            continue
        reading.records.append(record)
        reading.unsigned += not signed
    if not reading.records and reading.damaged and not all(line.torn for line in reading.damaged):
        first = next(line for line in reading.damaged if not line.torn)
        raise JournalError(f"{path} holds no valid journal record: line {first.line}: {first.reason}",
                           hint="give the journal_path smtp_align wrote, unedited (JSON lines in UTF-8)")
    return reading


# --- the file -------------------------------------------------------------------------------


def append_records(path: str, records: Sequence[JournalRecord], key: str | None = None) -> str | None:
    """Append and force to disk before returning: no write may happen that the journal does not hold.

    Returns a warning when the journal ended in a torn line, which is closed first.
    """
    if not records:
        return None
    directory = os.path.dirname(os.path.abspath(path))
    created = not os.path.exists(path)
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        # the journal holds addresses of people: readable by its owner only
        descriptor = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(descriptor, "r+b") as journal:
            # another run appending at the same time must not see its half-written batch as a torn tail
            fcntl.flock(journal.fileno(), fcntl.LOCK_EX)
            torn = _ends_torn(journal)
            text = ("\n" if torn else "") + "".join(record.as_json(key) + "\n" for record in records)
            journal.write(text.encode("utf-8"))
            journal.flush()
            os.fsync(journal.fileno())
        if created:
            _sync_directory(directory)
    except OSError as err:
        raise JournalError(f"could not write the undo journal {path}: {err}",
                           hint="give a journal_path in a directory the controller user can write to") from err
    if torn:
        return (f"{path} ended in an incomplete record, left by a run stopped while appending; it was closed "
                "before this run's records. Restoring skips it: the write it describes never happened.")
    return None


def _ends_torn(journal) -> bool:
    """Whether the file's last byte is not a newline: the tail of an append that was cut off."""
    size = journal.seek(0, os.SEEK_END)
    if size == 0:
        return False
    journal.seek(size - 1)
    return journal.read(1) != b"\n"


def _sync_directory(directory: str) -> None:
    """A new file's name is durable only once its directory is synced."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
