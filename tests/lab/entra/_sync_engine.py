"""The lab's sync engine: plays Entra Connect / Cloud Sync between the lab AD and the emulator (internal).

An independent model of docs/soft-match-rules.md (it shares no code with the collection):
a run reads the scope over LDAPS (`_sync_connector`), decides per user whether it is
excluded (§9.5), invalid (§1, §9.2), already synced, or exported for the first time, in
which case matching follows §3 with every refusal; the export itself (§2, §4) comes from
`_sync_export`. Every run is logged; `drop_join` makes a run claim what it did not write.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ._cloud_scenario import now_text
from ._directory import Directory
from ._sync_cloud import CloudView, has_mailbox
from ._sync_connector import AdConnector, ConnectorError
from ._sync_export import plan_export
from ._sync_onprem import OnPremUser, excluded_reason, smtp_address_problem, upn_problem

MAX_RUNS = 50
# §1: "approximately 300 addresses" is the safe limit Microsoft gives for proxyAddresses
MAX_PROXY_ADDRESSES = 300
MODES = ("full", "delta")
ACTIONS = ("joined_hard", "joined_smtp", "joined_upn", "created", "updated", "quarantined", "export_error",
           "excluded", "unchanged")


class SyncFailed(Exception):
    """A run that could not read AD; carries the logged run."""

    def __init__(self, run: dict):
        super().__init__(run["error"])
        self.run = run


@dataclass
class ObjectResult:
    """One object's line in the run log: what happened, by which rule, and why."""

    dn: str
    sAMAccountName: str
    source_anchor: str
    action: str
    rule: str
    reason: str
    error: str | None = None
    cloud_user_id: str | None = None
    cloud_upn: str | None = None
    quarantined: list[dict] = field(default_factory=list)
    dropped: list[dict] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)


@dataclass
class Decision:
    """What happens to an object: update its synced user, or (§3) join a candidate, create a user, refuse."""

    kind: str                         # "update", "join", "create" or "refuse"
    rule: str
    reason: str
    action: str = ""                  # joined_hard / joined_smtp / joined_upn for joins
    candidate: dict | None = None
    error: str | None = None
    restore: bool = False             # §9.12: the candidate is soft-deleted; the export restores it first


class SyncEngine:
    def __init__(self, directory: Directory, lab_dir: Path):
        self.directory = directory
        self.cloud = CloudView(directory)
        self.connector = AdConnector(lab_dir)
        self._run_lock = threading.Lock()
        self._lock = threading.Lock()
        self.runs: deque = deque(maxlen=MAX_RUNS)
        self._run_counter = 0
        self.search_base: str | None = None       # None: the lab's scenario OU
        self.drop_join: list[str] = []
        self._watermarks: dict[str, int] = {}     # highest uSNChanged seen, per search base (delta runs)
        self._retry: set[str] = set()             # DNs whose export failed: every delta retries them

    # --- lab state ------------------------------------------------------------------------

    def scenario_loaded(self) -> None:
        """A new scenario: the next delta run reads everything again, and no faults stay."""
        with self._lock:
            self._watermarks.clear()
            self._retry.clear()
            self.drop_join = []

    def reset(self) -> None:
        self.scenario_loaded()
        with self._lock:
            self.runs.clear()
            self.search_base = None

    def faults(self) -> dict:
        return {"drop_join": list(self.drop_join)}

    def set_faults(self, drop_join: list[str]) -> dict:
        self.drop_join = [str(name) for name in drop_join]
        return self.faults()

    def recent_runs(self, limit: int | None = None, objects: bool = True) -> list[dict]:
        with self._lock:
            runs = list(reversed(self.runs))[:limit]
        return runs if objects else [{k: v for k, v in run.items() if k != "objects"} for run in runs]

    # --- runs -----------------------------------------------------------------------------

    def run(self, mode: str = "delta", search_base: str | None = None, trigger: str = "manual") -> dict:
        """One cycle over the scope; returns the logged run. SyncFailed when AD can't be read."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        with self._run_lock:
            started, clock = now_text(), time.monotonic()
            base = search_base
            try:
                base = base or self.search_base or self.connector.settings().scenario_ou
                users = self.connector.read_scope(base)
            except ConnectorError as err:
                raise SyncFailed(self._log(mode, trigger, base, started, clock, [], 0, str(err))) from err
            users.sort(key=lambda user: (user.usn_changed, user.dn.lower()))
            with self._lock:
                watermark = self._watermarks.get(base.lower(), -1) if mode == "delta" else -1
                retry = set(self._retry)
            chosen = [u for u in users if u.usn_changed > watermark or u.dn.lower() in retry]
            results = self._sync_all(chosen)
            with self._lock:
                if users:
                    self._watermarks[base.lower()] = max(u.usn_changed for u in users)
                self._remember_failures(results)
            return self._log(mode, trigger, base, started, clock, results, len(users))

    def run_one(self, dn: str, trigger: str = "provisionOnDemand") -> tuple[dict, OnPremUser | None]:
        """Sync one AD object by DN (provisionOnDemand); the run has no result when no user has that DN."""
        with self._run_lock:
            started, clock = now_text(), time.monotonic()
            try:
                user = self.connector.read_one(dn)
            except ConnectorError as err:
                raise SyncFailed(self._log("on_demand", trigger, dn, started, clock, [], 0, str(err))) from err
            results = self._sync_all([user] if user else [])
            with self._lock:
                self._remember_failures(results)
            return self._log("on_demand", trigger, dn, started, clock, results, 1 if user else 0), user

    def _sync_all(self, users: list[OnPremUser]) -> list[ObjectResult]:
        # In order (uSNChanged, then DN): of two users holding one value, the first exported keeps it (§4).
        with self.directory.lock:
            return [self._sync(user) for user in users]

    def _remember_failures(self, results: list[ObjectResult]) -> None:
        for result in results:
            if result.action == "export_error":
                self._retry.add(result.dn.lower())
            else:
                self._retry.discard(result.dn.lower())

    def _log(self, mode: str, trigger: str, base: str | None, started: str, clock: float,
             results: list[ObjectResult], read: int, error: str | None = None) -> dict:
        counts = Counter(result.action for result in results)
        with self._lock:
            self._run_counter += 1
            run = {
                "id": self._run_counter,
                "mode": mode,
                "trigger": trigger,
                "search_base": base,
                "started": started,
                "finished": now_text(),
                "duration_ms": round((time.monotonic() - clock) * 1000, 1),
                "status": "failed" if error else ("completed_with_errors" if counts["export_error"] else "success"),
                "error": error,
                "read": read,
                "processed": len(results),
                "summary": {action: counts[action] for action in ACTIONS if counts[action]},
                "faults": self.faults(),
                "objects": [asdict(result) for result in results],
            }
            self.runs.append(run)
        return run

    # --- one object -----------------------------------------------------------------------

    def _sync(self, user: OnPremUser) -> ObjectResult:
        def result(action: str, rule: str, reason: str, **extra) -> ObjectResult:
            return ObjectResult(user.dn, user.sam_account_name, user.source_anchor, action, rule, reason, **extra)

        why_excluded = excluded_reason(user)
        if why_excluded:
            return result("excluded", "§9.5", f"system account left out: {why_excluded}")
        invalid = _invalid_because(user)
        if invalid:
            return result("export_error", invalid[0], invalid[1], error=invalid[2])
        synced = [u for u in self.cloud.users_with_anchor(user.source_anchor) if u.get("onPremisesSyncEnabled")]
        if synced:
            return self._export(user, synced[0], Decision("update", "§2", "already synced: on-prem wins"), result)
        decision = self._match(user)
        if decision.kind == "refuse":
            return result("export_error", decision.rule, decision.reason, error=decision.error)
        return self._export(user, decision.candidate, decision, result)

    def _match(self, user: OnPremUser) -> Decision:
        """§3 in order: hard match, soft match on SMTP, soft match on UPN, else a new user."""
        features = self.cloud.features
        hard = self.cloud.users_with_anchor(user.source_anchor)
        if hard:
            candidate = hard[0]
            if self.cloud.has_admin_role(candidate["id"]):
                return Decision("refuse", "§3, §9.3", f"hard match onto {candidate['userPrincipalName']} refused: "
                                "it holds a directory admin role", error="ExistingAdminRoleConflict")
            if features.get("blockCloudObjectTakeoverThroughHardMatchEnabled"):
                return Decision("refuse", "§3", f"hard match onto cloud-only {candidate['userPrincipalName']} "
                                "refused: blockCloudObjectTakeoverThroughHardMatchEnabled", error="InvalidHardMatch")
            return Decision("join", "§3.1", "source anchor equals the cloud user's onPremisesImmutableId",
                            action="joined_hard", candidate=candidate)
        deleted = self.cloud.deleted_user_with_anchor(user.source_anchor)
        if deleted is not None:
            # §9.12 ("Enable AD recycle bin"; "Troubleshoot errors during synchronization", InvalidHardMatch)
            if features.get("blockCloudObjectTakeoverThroughHardMatchEnabled"):
                return Decision("refuse", "§3, §9.12", f"hard match onto soft-deleted {deleted['userPrincipalName']} "
                                "refused: blockCloudObjectTakeoverThroughHardMatchEnabled", error="InvalidHardMatch")
            return Decision("join", "§9.12", f"source anchor equals the onPremisesImmutableId of soft-deleted "
                            f"{deleted['userPrincipalName']}: restored", action="joined_hard", candidate=deleted,
                            restore=True)
        notes = []
        primary = user.primary_smtp
        if primary and smtp_address_problem(primary):
            # §9.10 (KB 3190357): a malformed primary is discarded before the cloud sees it, so it matches nothing
            notes.append(f"primary {primary} is dropped ({smtp_address_problem(primary)})")
            primary = None
        if primary:
            wrong_type = self.cloud.other_holders_of_smtp(primary)
            if wrong_type:
                bucket, holder = wrong_type[0]
                kind = "group" if bucket == "groups" else "contact"
                return Decision("refuse", "§3, §9.1", f"{primary} is held by the {kind} "
                                f"{holder.get('displayName') or holder['id']}", error="ObjectTypeMismatch")
            for candidate in self.cloud.users_with_smtp_proxy(primary):
                if has_mailbox(candidate):
                    return self._soft_match(user, candidate, "joined_smtp", "§3.2, §9.1", primary)
                notes.append(f"{candidate['userPrincipalName']} holds {primary} without a mailbox (KB 2641663)")
        upn = user.user_principal_name
        if upn and features.get("softMatchOnUpnEnabled"):
            candidate = self.cloud.user_with_upn(upn)
            if candidate is not None:
                return self._soft_match(user, candidate, "joined_upn", "§3.3", upn)
        reason = "no cloud user matches: a new one"
        return Decision("create", "§3.4", "; ".join([reason, *notes]))

    def _soft_match(self, user: OnPremUser, candidate: dict, action: str, rule: str, value: str) -> Decision:
        """A soft match and its refusals (§3): tenant switch, admin role, another ImmutableId."""
        name = candidate["userPrincipalName"]
        if self.cloud.features.get("blockSoftMatchEnabled"):
            return Decision("create", "§3, §6", f"soft match on {value} with {name} refused by "
                            "blockSoftMatchEnabled: a new user, duplicates quarantined (§4)")
        if self.cloud.has_admin_role(candidate["id"]):
            return Decision("create", "§3, §9.3", f"{name} holds a directory admin role: the incoming user becomes "
                            "a quarantined duplicate", error="ExistingAdminRoleConflict")
        immutable_id = candidate.get("onPremisesImmutableId")
        if immutable_id and immutable_id != user.source_anchor:
            # §9.7 ("Troubleshoot errors during synchronization"): with duplicate attribute resiliency a new object
            # gets no InvalidSoftMatch; it is created and the values the candidate holds are quarantined.
            switch = ("quarantineUponProxyAddressesConflictEnabled" if action == "joined_smtp"
                      else "quarantineUponUpnConflictEnabled")
            if not self.cloud.features.get(switch, True):
                return Decision("refuse", "§3, §9.7", f"{name} (matched on {value}) already has the "
                                f"onPremisesImmutableId {immutable_id} and {switch} is off", error="InvalidSoftMatch")
            return Decision("create", "§3, §9.7", f"{name} (matched on {value}) already has the onPremisesImmutableId "
                            f"{immutable_id}: a new user, duplicates quarantined (§4)")
        return Decision("join", rule, f"matched {name} on {value}", action=action, candidate=candidate)

    def _export(self, user: OnPremUser, current: dict | None, decision: Decision, result) -> ObjectResult:
        if decision.restore and not self._dropped(user):
            current = self.cloud.restore(current["id"])
        plan = plan_export(user, self.cloud, current)
        if plan.error:
            return result("export_error", "§4, §6", plan.error[1], error=plan.error[0])
        record = plan.record
        if decision.kind == "create":
            action = "quarantined" if plan.conflicts or decision.error else "created"
        elif decision.kind == "update":
            action = "updated" if plan.changed else "unchanged"
        else:
            action = decision.action
        if plan.changed and not self._dropped(user):
            self.cloud.store(record)
        return result(action, decision.rule, decision.reason, error=decision.error, cloud_user_id=record["id"],
                      cloud_upn=record["userPrincipalName"],
                      quarantined=[{"property": prop, "value": value} for prop, value in plan.conflicts],
                      dropped=[{"value": value, "why": why} for value, why in plan.dropped],
                      changed=plan.changed)

    def _dropped(self, user: OnPremUser) -> bool:
        """The drop_join fault: the run claims the export, the cloud never sees it."""
        names = {name.casefold() for name in self.drop_join}
        return user.sam_account_name.casefold() in names or user.dn.casefold() in names


def _invalid_because(user: OnPremUser) -> tuple[str, str, str] | None:
    """§1, §9.2, §9.11: objects the cloud refuses outright, as (rule, reason, export error)."""
    primaries = user.primary_smtps()
    if len(primaries) > 1:
        return "§9.2", f"several primary SMTP addresses: {', '.join(primaries)}", "IdentityDataValidationFailed"
    if len(user.proxy_addresses) > MAX_PROXY_ADDRESSES:
        # "Troubleshoot errors during synchronization": about 300 addresses fill the object (LargeObject)
        return "§1", f"{len(user.proxy_addresses)} proxy addresses exceed the object size limit", "LargeObject"
    upn = user.user_principal_name
    problem = upn_problem(upn) if upn else None
    if problem:
        # §9.11: the troubleshooting page's IdentityDataValidationFailed, not the UPN page's recalculation
        return "§9.11", f"userPrincipalName {upn} {problem}", "IdentityDataValidationFailed"
    return None
