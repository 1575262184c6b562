"""Entra Cloud Sync as Graph shows it: the provisioning agent's service principal, its one job, the schema (internal).

Ids derive from the tenant id, so they survive restarts and `EntraEmulator.vars()` can name
them without asking the server. provisionOnDemand is limited to 5 calls per 10 s per job
(rule book §7).
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass

from ._cloud_scenario import now_text

# The AD2AAD provisioning application that Cloud Sync configurations are instances of.
PROVISIONING_APP_ID = "1a4721b3-e57f-4451-ae87-ef078703ec94"
TEMPLATE_ID = "AD2AADProvisioning"
STATUS_CODES = ("Active", "Paused", "Quarantine")
ON_DEMAND_CALLS = 5
ON_DEMAND_WINDOW = 10.0
DEFAULT_INTERVAL = 120      # §7: scheduled cycles every 2 minutes


@dataclass(frozen=True)
class SyncIds:
    service_principal_id: str
    job_id: str
    rule_id: str


def sync_ids(tenant_id: str) -> SyncIds:
    def derived(name: str) -> uuid.UUID:
        return uuid.uuid5(uuid.UUID(tenant_id), f"lab-cloud-sync/{name}")

    return SyncIds(str(derived("service-principal")),
                   f"{TEMPLATE_ID}.{derived('job').hex}.{derived('job-instance')}",
                   str(derived("rule")))


class SyncJob:
    def __init__(self, tenant_id: str):
        self.tenant_id = tenant_id
        self.ids = sync_ids(tenant_id)
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.code = "Active"
            self.quarantine: dict | None = None
            self.last_execution: dict | None = None
            self.last_successful: dict | None = None
            self.last_with_exports: dict | None = None
            self._on_demand_calls: deque = deque()

    def scenario_loaded(self) -> None:
        """A new scenario starts with an active job and no on-demand calls counted (lab decision)."""
        self.reset()

    # --- state ------------------------------------------------------------------------------

    def set_status(self, code: str, reason: str | None = None) -> None:
        if code not in STATUS_CODES:
            raise ValueError(f"status must be one of {STATUS_CODES}")
        with self._lock:
            self.code = code
            self.quarantine = None if code != "Quarantine" else {
                "currentBegan": now_text(), "nextAttempt": now_text(), "reason": "EncounteredQuarantineException",
                "seriesBegan": now_text(), "seriesCount": 1,
                "error": {"code": "QuarantineByLab", "message": reason or "Quarantined through the lab knob.",
                          "tenantActionable": True}}

    def start(self) -> None:
        """Graph `start`: resumes a paused job and clears a quarantine."""
        self.set_status("Active")

    def pause(self) -> None:
        self.set_status("Paused")

    def record(self, run: dict) -> None:
        summary = run["summary"]
        exported = sum(summary.get(a, 0) for a in ("joined_hard", "joined_smtp", "joined_upn", "created",
                                                   "updated", "quarantined"))
        execution = {
            "activityIdentifier": str(run["id"]),
            "countEntitled": run["processed"],
            "countEntitledForProvisioning": run["processed"] - summary.get("excluded", 0),
            "countEscrowed": summary.get("export_error", 0),
            "countEscrowedRaw": summary.get("export_error", 0),
            "countExported": exported,
            "countExports": exported,
            "countImported": run["read"],
            "countImportedDeltas": run["processed"],
            "countImportedReferenceDeltas": 0,
            "state": "Failed" if run["status"] == "failed" else "Succeeded",
            "timeBegan": run["started"],
            "timeEnded": run["finished"],
            "error": {"code": "ImportFailed", "message": run["error"], "tenantActionable": True}
            if run["error"] else None,
        }
        with self._lock:
            self.last_execution = execution
            if run["status"] == "success":
                self.last_successful = execution
                if exported:
                    self.last_with_exports = execution

    def take_on_demand_slot(self) -> int:
        """0 when a provisionOnDemand call may proceed, else the seconds to wait (Retry-After)."""
        now = time.monotonic()
        with self._lock:
            calls = self._on_demand_calls
            while calls and now - calls[0] >= ON_DEMAND_WINDOW:
                calls.popleft()
            if len(calls) >= ON_DEMAND_CALLS:
                return max(1, math.ceil(ON_DEMAND_WINDOW - (now - calls[0])))
            calls.append(now)
            return 0

    # --- Graph shapes -------------------------------------------------------------------------

    def service_principal(self, display_name: str) -> dict:
        return {
            "id": self.ids.service_principal_id,
            "accountEnabled": True,
            "appDisplayName": "Active Directory to Azure Active Directory Provisioning",
            "appId": PROVISIONING_APP_ID,
            "appOwnerOrganizationId": None,
            "createdDateTime": "2016-01-01T00:00:00Z",
            "displayName": display_name,
            "servicePrincipalNames": [PROVISIONING_APP_ID],
            "servicePrincipalType": "Application",
            "tags": [],
        }

    def job(self, interval_seconds: int, search_base: str | None) -> dict:
        with self._lock:
            return {
                "id": self.ids.job_id,
                "templateId": TEMPLATE_ID,
                "schedule": {"expiration": None, "interval": f"PT{interval_seconds or DEFAULT_INTERVAL}S",
                             "state": "Active" if self.code == "Active" else "Disabled"},
                "status": {
                    "code": self.code,
                    "countSuccessiveCompleteFailures": 0,
                    "escrowsPruned": False,
                    "lastExecution": self.last_execution,
                    "lastSuccessfulExecution": self.last_successful,
                    "lastSuccessfulExecutionWithExports": self.last_with_exports,
                    "progress": [],
                    "quarantine": self.quarantine,
                    "steadyStateFirstAchievedTime": "0001-01-01T00:00:00Z",
                    "steadyStateLastAchievedTime": "0001-01-01T00:00:00Z",
                    "synchronizedEntryCountByType": [],
                    "troubleshootingUrl": None,
                },
                "synchronizationJobSettings": [{"name": "IncludedContainers", "value": search_base or ""}],
            }

    def schema(self, search_base: str | None) -> dict:
        def mapping(source: str, target: str, priority: int = 0) -> dict:
            return {"defaultValue": "", "exportMissingReferences": False, "flowBehavior": "FlowWhenChanged",
                    "flowType": "Always", "matchingPriority": priority,
                    "source": {"expression": f"[{source}]", "name": source, "type": "Attribute", "parameters": []},
                    "targetAttributeName": target}

        return {
            "id": self.ids.job_id,
            "version": "Date:2024-01-01T00:00:00Z;Version:1",
            "synchronizationRules": [{
                "id": self.ids.rule_id,
                "name": "USER_GROUP_INBOUND",
                "editable": True,
                "priority": 1,
                "sourceDirectoryName": "Active Directory",
                "targetDirectoryName": "Azure Active Directory",
                "containerFilter": {"includedContainers": [search_base] if search_base else []},
                "groupFilter": {"includedGroups": []},
                "metadata": [],
                "objectMappings": [{
                    "name": "Provision Active Directory users",
                    "enabled": True,
                    "flowTypes": "Add, Update, Delete",
                    "sourceObjectName": "user",
                    "targetObjectName": "User",
                    "scope": None,
                    "metadata": [],
                    # §3: the anchor hard-matches; SMTP and UPN soft-match, in that order.
                    "attributeMappings": [mapping("mS-DS-ConsistencyGuid", "SourceAnchor", 1),
                                          mapping("proxyAddresses", "ProxyAddresses", 2),
                                          mapping("userPrincipalName", "UserPrincipalName", 3),
                                          mapping("mail", "Mail"), mapping("mailNickname", "MailNickname"),
                                          mapping("displayName", "DisplayName")],
                }],
            }],
            "directories": [{"id": "ActiveDirectory", "name": "Active Directory", "objects": []},
                            {"id": "AzureActiveDirectory", "name": "Azure Active Directory", "objects": []}],
        }
