"""The sync engine, its Cloud Sync job and its schedule, wired together for the admin and Graph routes (internal).

The schedule is off until an interval is set (`/_lab/sync/schedule`, or HYBRID_LAB_SYNC_INTERVAL
at `up`). Scheduled runs skip while the job is paused or in quarantine, as Cloud Sync's do.
"""

from __future__ import annotations

import sys
import threading
import traceback
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ._directory import Directory
from ._sync_connector import ConnectorError
from ._sync_engine import MODES, SyncEngine, SyncFailed
from ._sync_export import dns_domain_of
from ._sync_job import SyncJob


class SyncScheduler:
    def __init__(self, service: SyncService):
        self.service = service
        self.interval = 0
        self.mode = "delta"
        self.started = 0
        self.skipped = 0
        self.next_run: str | None = None
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def configure(self, interval_seconds: int | float, mode: str = "delta") -> dict:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        if not isinstance(interval_seconds, int | float) or isinstance(interval_seconds, bool) or interval_seconds < 0:
            raise ValueError("interval_seconds must be 0 (off) or a positive number of seconds")
        with self._lock:
            self.interval, self.mode = interval_seconds, mode
            if not interval_seconds:
                self.next_run = None
            if interval_seconds and self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="lab-sync-schedule", daemon=True)
                self._thread.start()
        self._wake.set()    # a new interval counts from now
        return self.status()

    def status(self) -> dict:
        return {"interval_seconds": self.interval, "mode": self.mode, "next_run": self.next_run,
                "runs_started": self.started, "runs_skipped": self.skipped}

    def _loop(self) -> None:
        while True:
            self._wake.clear()
            interval = self.interval
            if not interval:
                self.next_run = None
                self._wake.wait()
                continue
            self.next_run = (datetime.now(UTC) + timedelta(seconds=interval)).strftime("%Y-%m-%dT%H:%M:%SZ")
            if self._wake.wait(interval):
                continue
            if self.service.job.code != "Active":
                self.skipped += 1
                continue
            self.started += 1
            try:
                self.service.run(self.mode, trigger="schedule")
            except SyncFailed as err:
                print(f"scheduled sync failed: {err}", file=sys.stderr, flush=True)
            except Exception:   # an engine bug is logged; the schedule keeps running
                traceback.print_exc(file=sys.stderr)


class SyncService:
    def __init__(self, directory: Directory, lab_dir: Path, tenant_id: str):
        self.engine = SyncEngine(directory, lab_dir)
        self.job = SyncJob(tenant_id)
        self.scheduler = SyncScheduler(self)

    def run(self, mode: str = "delta", search_base: str | None = None, trigger: str = "manual") -> dict:
        try:
            run = self.engine.run(mode, search_base, trigger)
        except SyncFailed as failed:
            self.job.record(failed.run)
            raise
        self.job.record(run)
        return run

    def run_one(self, dn: str):
        run, user = self.engine.run_one(dn)
        self.job.record(run)
        return run, user

    def scenario_loaded(self) -> None:
        self.engine.scenario_loaded()
        self.job.scenario_loaded()

    def reset(self) -> None:
        self.engine.reset()
        self.job.reset()
        self.scheduler.configure(0)

    def search_base(self) -> str | None:
        """The scope runs read: the configured one, else the lab's scenario OU (None while AD is unknown)."""
        if self.engine.search_base:
            return self.engine.search_base
        try:
            return self.engine.connector.settings().scenario_ou
        except ConnectorError:
            return None

    def ad_domain_name(self) -> str:
        """The AD domain's DNS name: Cloud Sync names its configuration after it."""
        try:
            return dns_domain_of(self.engine.connector.settings().base_dn) or "Active Directory"
        except ConnectorError:
            return "Active Directory"

    def job_view(self) -> dict:
        return self.job.job(int(self.scheduler.interval), self.search_base())
