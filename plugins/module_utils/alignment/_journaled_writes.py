# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Journaled writes of smtp_align and the writes of ad_user_restore (internal to the collection; no stable API).

I/O only: every change is journaled before it is written, one LDAP modify per user over one
connection. What each user's write came to is kept apart, because the task must say it truly:
written; found done by another writer (nothing written); refused by the directory; under way when
the connection broke (settled by reading the user again); or not tried after the break.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from ansible_collections.hybrid.identity.plugins.module_utils.ad._ad import (
    USER_ATTRIBUTES,
    AdConnectionError,
    AdSession,
    AdUser,
    AttributeChange,
    ConcurrentChange,
)
from ansible_collections.hybrid.identity.plugins.module_utils.alignment._ad_apply import WRITE_ATTEMPTS, write_plan
from ansible_collections.hybrid.identity.plugins.module_utils.alignment._journal import (
    append_records,
    nothing_written,
    record_for,
    same_state,
    state_of,
)
from ansible_collections.hybrid.identity.plugins.module_utils.alignment._user_plan import (
    UserPlan,
    UserRequest,
    plan_user,
)
from ansible_collections.hybrid.identity.plugins.module_utils.common._errors import HybridIdentityError

NOT_TRIED_HINT = ("nothing was sent for this user; when the domain controller answers again, run the same task "
                  "again: it completes the alignment")


@dataclass(frozen=True, slots=True)
class PlannedWrite:
    user: AdUser
    request: UserRequest
    plan: UserPlan


@dataclass(slots=True)
class WriteReport:
    journal_path: str
    run_id: str
    key: str | None = None
    written: list[tuple[str, UserPlan]] = field(default_factory=list)
    done_already: list[tuple[str, UserPlan]] = field(default_factory=list)  # another writer aligned it meanwhile
    failed: list[tuple[str, UserPlan, HybridIdentityError]] = field(default_factory=list)
    uncertain: tuple[str, UserPlan, AdConnectionError] | None = None
    not_tried: list[tuple[str, UserPlan]] = field(default_factory=list)
    appended: int = 0  # journal lines appended: plans, re-plans and the records of writes that did not happen
    warnings: list[str] = field(default_factory=list)

    @property
    def broken(self) -> AdConnectionError | None:
        return self.uncertain[2] if self.uncertain else None

    def journal(self, records: Sequence) -> None:
        warning = append_records(self.journal_path, records, self.key)
        if warning:
            self.warnings.append(warning)
        self.appended += len(records)

    def outcome(self, guid: str) -> str | None:
        """written, done_already, failed, uncertain or not_tried; None for a user this run did not plan."""
        for name in ("written", "done_already", "failed", "not_tried"):
            if any(item[0] == guid for item in getattr(self, name)):
                return name
        return "uncertain" if self.uncertain and self.uncertain[0] == guid else None

    def failures(self) -> list[dict]:
        rows = [{"distinguished_name": plan.distinguished_name, "msg": str(err), "hint": err.hint, "written": False}
                for _guid, plan, err in self.failed]
        if self.uncertain:
            _guid, plan, err = self.uncertain
            rows.append({"distinguished_name": plan.distinguished_name, "written": None,
                         "msg": f"the connection broke while this user was written, and it could not be read "
                                f"again to see whether the write was applied: {err}",
                         "hint": "run the same task again: it finds the user aligned, or aligns it"})
        rows += [{"distinguished_name": plan.distinguished_name, "written": False,
                  "msg": "not written: the connection to the domain controller broke before its turn",
                  "hint": NOT_TRIED_HINT} for _guid, plan in self.not_tried]
        return rows


def planned_writes(users: Mapping[str, AdUser], requests: Iterable[dict]) -> list[PlannedWrite]:
    """Each request planned against the user as read (requests name users by objectGUID)."""
    planned = []
    for params in requests:
        request = UserRequest.from_params(params)
        user = users[params["identity"]]
        planned.append(PlannedWrite(user, request, plan_user(user, request)))
    return planned


def write_journaled(ad: AdSession, writes: Sequence[PlannedWrite], journal_path: str, run_id: str,
                    key: str | None = None) -> WriteReport:
    """Journal every change first, then write them one modify per user.

    One user's refusal stops no other; a broken connection stops the writing, since every later
    modify would wait for the same unreachable server.
    """
    report = WriteReport(journal_path, run_id, key)
    report.journal([record_for(run_id, w.plan, w.user.object_guid) for w in writes if w.plan.changed])
    for position, write in enumerate(writes):
        guid = write.user.object_guid
        try:
            plan = _write_one(ad, write, report)
        except _Broken as broken:
            report.uncertain = (guid, broken.plan, broken.error)
            report.not_tried = [(w.user.object_guid, w.plan) for w in writes[position + 1:]]
            break
        except _Failed as failure:
            report.failed.append((guid, failure.plan, failure.error))
            continue
        if plan.changed:
            report.written.append((guid, plan))
        elif write.plan.changed:
            report.done_already.append((guid, plan))
    return report


class _Failed(Exception):
    """A user's write refused; `plan` is the last one tried."""

    def __init__(self, plan: UserPlan, error: HybridIdentityError) -> None:
        super().__init__(str(error))
        self.plan = plan
        self.error = error


class _Broken(_Failed):
    """The connection broke during a user's write; `plan` is the one under way."""


def _write_one(ad: AdSession, write: PlannedWrite, report: WriteReport) -> UserPlan:
    """Write; when the user changed since it was read, read it again, re-plan, journal the new plan, retry."""
    user, plan = write.user, write.plan
    for attempt in range(1, WRITE_ATTEMPTS + 1):
        try:
            return write_plan(ad, user, write.request, plan, attempts=1)
        except AdConnectionError as err:
            raise _Broken(plan, err) from err
        except ConcurrentChange as err:
            if attempt == WRITE_ATTEMPTS:
                raise _Failed(plan, ConcurrentChange(
                    f"{plan.distinguished_name} kept changing while it was written ({WRITE_ATTEMPTS} attempts): {err}",
                    hint="find what else writes proxyAddresses on this user (a script, Exchange) and run again",
                )) from err
        except HybridIdentityError as err:
            raise _Failed(plan, err) from err
        try:
            user = ad.find_user(user.object_guid, USER_ATTRIBUTES)
        except AdConnectionError as err:
            raise _Broken(plan, err) from err
        plan = plan_user(user, write.request)
        if plan.changed:
            # the re-planned write supersedes the first record of this run for the user
            report.journal([record_for(report.run_id, plan, user.object_guid)])
    return plan


def settle(report: WriteReport, read_back: Mapping[str, AdUser] | None) -> None:
    """Settle the write under way at the break from the users read again, and journal the writes that did not happen.

    Each such user gets a record whose before is its after; it supersedes the run's first record,
    so the journal holds what the run really changed. `read_back` is None when the users could not
    be read again: the write under way then stays uncertain, and its record stands.
    """
    if report.uncertain and read_back is not None:
        guid, plan, err = report.uncertain
        user = read_back.get(guid)
        if user is not None and same_state(state_of(user), plan.after):
            report.written.append((guid, plan))
            report.uncertain = None
        elif user is not None:
            report.failed.append((guid, plan, AdConnectionError(
                f"not written: the connection broke while {plan.distinguished_name} was written ({err})",
                hint=NOT_TRIED_HINT)))
            report.uncertain = None
    unwritten = report.done_already + [(guid, plan) for guid, plan, _err in report.failed] + report.not_tried
    report.journal([nothing_written(report.run_id, plan, guid) for guid, plan in unwritten])


# --- restore ----------------------------------------------------------------------------------


def write_restore(ad: AdSession, object_guid: str, changes: Iterable[tuple]) -> None:
    """One exact delete+add modify of the object with this objectGUID, whatever its DN is now.

    A user changed in the meantime makes it fail, not get overwritten.
    """
    ad.modify(f"<GUID={object_guid}>", [AttributeChange(*change) for change in changes])


def current_states(users: Mapping[str, AdUser]) -> dict[str, tuple[str, dict]]:
    return {guid: (user.distinguished_name, state_of(user)) for guid, user in users.items()}
