"""The lab's Microsoft Entra emulator: identity platform and Microsoft Graph v1.0 on loopback HTTPS.

Service interface for the lab (`python -m tests.lab up|load|down`):

    emulator = EntraEmulator(lab_dir, port=8443, ca_cert=ca_path)
    emulator.start(cert_path, key_path)     # detached server process, pid and log in lab_dir/entra/
    emulator.healthy()                      # True once it answers over verified TLS
    emulator.vars()                         # lab_vars.yml keys for the Graph connection options
    emulator.load(scenario, anchors)        # the scenario's tenant: and cloud: parts
    emulator.sync_run("full")               # one cycle of the lab's sync engine over the AD scope (run log entry)
    emulator.stop()

State (users, groups, ...) lives in the server process; credentials and the token
signing key live in `lab_dir/entra/` so a restart keeps them. Everything else the
tests need is under `/_lab/` (see `_lab_admin.py`), wrapped here as small helpers.
"""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path

from ._cloud_scenario import AD_REFERENCE, ScenarioError, resolve_anchor
from ._credentials import CREDENTIALS_FILE, Credentials
from ._sync_job import sync_ids
from ._workload import Workload

REPO_ROOT = Path(__file__).resolve().parents[3]
PID_FILE = "entra.pid"
LOG_FILE = "entra.log"
SERVER_FILE = "server.json"

__all__ = ["EmulatorNotRunning", "EntraEmulator", "ScenarioError", "create_service", "resolve_scenario_anchors"]


class EmulatorNotRunning(RuntimeError):
    """The emulator did not start, or does not answer."""


def resolve_scenario_anchors(cloud: Mapping | None,
                             anchors: Mapping[str, str] | Callable[[str], str | None] | None) -> dict:
    """A copy of a scenario's `cloud:` part with every `"@ad:<sAMAccountName>"` replaced by its anchor."""
    cloud = dict(cloud or {})
    for key in ("users", "deleted_users"):   # soft-deleted users keep their ImmutableId too (§9.12)
        users = []
        for index, user in enumerate(cloud.get(key) or []):
            user = dict(user)
            value = user.get("onPremisesImmutableId")
            if isinstance(value, str) and value.startswith(AD_REFERENCE):
                user["onPremisesImmutableId"] = resolve_anchor(value, anchors, f"cloud.{key}[{index}]")
            users.append(user)
        if key in cloud:
            cloud[key] = users
    return cloud


class EntraEmulator:
    def __init__(self, lab_dir: Path | str, port: int = 8443, host: str = "127.0.0.1",
                 ca_cert: Path | str | None = None, token_lifetime: int = 3600):
        self.lab_dir = Path(lab_dir)
        self.home = self.lab_dir / "entra"
        self.host = host
        self.port = port
        self.ca_cert = Path(ca_cert) if ca_cert else None
        self.token_lifetime = token_lifetime
        self._process: subprocess.Popen | None = None

    # --- files ---------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"https://{self.host}:{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.home / PID_FILE

    @property
    def log_file(self) -> Path:
        return self.home / LOG_FILE

    def credentials(self) -> Credentials:
        """The tenant id, app registrations and keys, created on first use."""
        return Credentials.ensure(self.lab_dir)

    def _server_record(self) -> dict:
        try:
            return json.loads((self.home / SERVER_FILE).read_text())
        except (OSError, ValueError):
            return {}

    # --- lifecycle ---------------------------------------------------------------------

    def start(self, cert_path: Path | str, key_path: Path | str, timeout: float = 20.0) -> None:
        """Start the server as a detached process and wait until it answers; a no-op when it already does."""
        self.credentials()
        record = {"host": self.host, "port": self.port, "cert": str(Path(cert_path).resolve()),
                  "key": str(Path(key_path).resolve()),
                  "ca": str(self.ca_cert.resolve()) if self.ca_cert else None}
        (self.home / SERVER_FILE).write_text(json.dumps(record, indent=2))
        if self.healthy():
            return
        self.stop()   # a stale process that no longer answers
        command = [sys.executable, "-m", "tests.lab.entra", "serve", "--lab-dir", str(self.lab_dir.resolve()),
                   "--host", self.host, "--port", str(self.port), "--cert", record["cert"],
                   "--key", record["key"], "--token-lifetime", str(self.token_lifetime)]
        with open(self.log_file, "ab") as log:
            self._process = subprocess.Popen(command, cwd=REPO_ROOT, stdin=subprocess.DEVNULL, stdout=log,
                                             stderr=log, start_new_session=True)
        self.pid_file.write_text(f"{self._process.pid}\n")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                break
            if self.healthy():
                return
            time.sleep(0.1)
        tail = self.log_file.read_text(errors="replace")[-2000:] if self.log_file.exists() else ""
        self.stop()
        raise EmulatorNotRunning(f"the Entra emulator did not come up on {self.base_url}; log {self.log_file}:\n{tail}")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server this lab directory's pid file names (only if it is the emulator)."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            pid = None
        if pid is not None and _is_emulator_process(pid):
            os.kill(pid, signal.SIGTERM)
            if not self._wait_gone(pid, timeout):
                os.kill(pid, signal.SIGKILL)
                self._wait_gone(pid, 5.0)
        self._process = None
        self.pid_file.unlink(missing_ok=True)

    def _wait_gone(self, pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is not None and self._process.pid == pid:
                if self._process.poll() is not None:
                    return True
            elif not _is_emulator_process(pid):
                return True
            time.sleep(0.05)
        return False

    def healthy(self) -> bool:
        try:
            health = self.admin("GET", "/_lab/health", timeout=2.0)
        except (EmulatorNotRunning, OSError, ValueError):
            return False
        return health.get("status") == "ok" and health.get("tenant_id") == self._tenant_id()

    def _tenant_id(self) -> str | None:
        try:
            return json.loads((self.home / CREDENTIALS_FILE).read_text())["tenant_id"]
        except (OSError, ValueError, KeyError):
            return None

    # --- lab_vars ------------------------------------------------------------------------

    def vars(self) -> dict:
        """Keys for lab_vars.yml: the collection's Graph options plus the lab's extra apps."""
        credentials = self.credentials()
        found = {
            "tenant_id": credentials.tenant_id,
            "client_id": credentials.full_app.client_id,
            "client_secret": credentials.full_app.secret,
            "authority_host": self.base_url,
            "graph_endpoint": self.base_url,
            "lab_client_certificate": str(credentials.app_certificate_path.resolve()),
            "lab_client_certificate_thumbprint": credentials.full_app.certificates[0].hex_sha1,
            "lab_low_client_id": credentials.low_app.client_id,
            "lab_low_client_secret": credentials.low_app.secret,
            "lab_reader_client_id": credentials.reader_app.client_id,
            "lab_reader_client_secret": credentials.reader_app.secret,
            "lab_sync_service_principal_id": sync_ids(credentials.tenant_id).service_principal_id,
            "lab_sync_job_id": sync_ids(credentials.tenant_id).job_id,
        }
        found.update(Workload.ensure(self.lab_dir, credentials).vars(self.base_url))
        if self.ca_cert:
            found["graph_ca_cert"] = str(self.ca_cert.resolve())
        return found

    # --- state and knobs ---------------------------------------------------------------

    def load(self, scenario: Mapping, anchors: Mapping[str, str] | Callable[[str], str | None] | None = None) -> dict:
        """Replace the cloud state with the scenario's `tenant:` and `cloud:` parts."""
        body = {"tenant": dict(scenario.get("tenant") or {}),
                "cloud": resolve_scenario_anchors(scenario.get("cloud"), anchors)}
        return self.admin("POST", "/_lab/load", body)

    def reset(self) -> dict:
        return self.admin("POST", "/_lab/reset", {})

    def state(self) -> dict:
        return self.admin("GET", "/_lab/state")

    def set_faults(self, **settings) -> dict:
        """Replace the fault settings (latency_ms, rate_429, rate_503, rate_504, rate_reset, seed, ...)."""
        return self.admin("POST", "/_lab/faults", settings)

    def faults(self) -> dict:
        """The fault settings, the scripted faults still to come, and how many of each were injected."""
        return self.admin("GET", "/_lab/faults")

    def set_throttle(self, **settings) -> dict:
        """Replace the throttle settings (budget, window_seconds, retry_after, ...)."""
        return self.admin("POST", "/_lab/throttle", settings)

    def set_config(self, **settings) -> dict:
        """Change the identity platform's settings (token_lifetime: seconds of each new token)."""
        return self.admin("POST", "/_lab/config", settings)

    # --- the sync engine (see _sync_admin.py) ---------------------------------------------

    def sync_run(self, mode: str = "delta", search_base: str | None = None) -> dict:
        """One sync cycle ("delta" or "full") over the scope (default: the lab's scenario OU); returns the run."""
        body = {"mode": mode, **({"search_base": search_base} if search_base else {})}
        return self.admin("POST", "/_lab/sync/run", body, timeout=120.0)

    def sync_runs(self, limit: int | None = None, objects: bool = True) -> list[dict]:
        """The run log, newest first."""
        query = [f"limit={limit}"] if limit else []
        query += [] if objects else ["objects=false"]
        return self.admin("GET", "/_lab/sync/runs" + ("?" + "&".join(query) if query else ""))["runs"]

    def set_sync_faults(self, drop_join: list[str] | None = None) -> dict:
        """Replace the sync faults: `drop_join` names users (sAMAccountName or DN) whose export is claimed, not done."""
        return self.admin("POST", "/_lab/sync/faults", {"drop_join": list(drop_join or [])})

    def set_sync_schedule(self, seconds: float, mode: str = "delta") -> dict:
        """Run a sync every `seconds` (0: off)."""
        return self.admin("POST", "/_lab/sync/schedule", {"interval_seconds": seconds, "mode": mode})

    def set_sync_scope(self, search_base: str | None) -> dict:
        return self.admin("POST", "/_lab/sync/scope", {"search_base": search_base})

    def sync_job(self) -> dict:
        """The Cloud Sync job's ids (service principal, job, rule) and its Graph view."""
        return self.admin("GET", "/_lab/sync/job")

    def set_sync_job_status(self, status: str, reason: str | None = None) -> dict:
        """Put the Cloud Sync job in Active, Paused or Quarantine."""
        return self.admin("POST", "/_lab/sync/job", {"status": status, **({"reason": reason} if reason else {})})

    def requests(self, log: bool = True) -> dict:
        return self.admin("GET", "/_lab/requests" + ("" if log else "?log=false"))

    def clear_requests(self) -> dict:
        return self.admin("DELETE", "/_lab/requests")

    def admin(self, method: str, path: str, body: dict | None = None, timeout: float = 30.0) -> dict:
        """Call a `/_lab/` endpoint; ValueError carries the lab's error message."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base_url + path, data=data, method=method,  # noqa: S310 - https only
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout, context=self._tls()) as response:  # noqa: S310 - https only
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            try:
                message = json.loads(error.read()).get("error", error.reason)
            except ValueError:
                message = error.reason
            raise ValueError(f"{method} {path}: {error.code} {message}") from error

    def _tls(self) -> ssl.SSLContext:
        if self.ca_cert:
            return ssl.create_default_context(cafile=str(self.ca_cert))
        cert = self._server_record().get("cert")
        if not cert:
            raise EmulatorNotRunning("no CA and no server certificate known: pass ca_cert or start() first")
        # Without the CA, trust the server's own certificate (pinned), still verified.
        context = ssl.create_default_context(cafile=cert)
        context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
        return context


def _is_emulator_process(pid: int) -> bool:
    """True when `pid` runs this emulator's `serve` (so a recycled pid is never signalled)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    if stat.rsplit(")", 1)[-1].split()[0] == "Z":
        return False
    arguments = raw.split(b"\0")
    return b"tests.lab.entra" in arguments and b"serve" in arguments


# The lab's service adapter needs the classes above.
from ._lab_service import create_service  # noqa: E402
