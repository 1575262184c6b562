"""The lab's Active Directory: a Samba AD domain controller on loopback with verified LDAPS.

Provisioned once into <lab dir>/samba, then started and stopped as one daemon whose
pid file and log live there too. Only LDAP(S) and the KDC run; nothing binds beyond lo.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import stat
import subprocess
import time
from pathlib import Path

import ldap3
from ldap3.core.exceptions import LDAPException

from tests.lab import _apt, _ca, _state
from tests.lab._ad_loader import load_ad_section, parse_ad_section
from tests.lab._errors import LabError

REALM = "LAB.CONTOSO.TEST"
NETBIOS_DOMAIN = "LAB"
DC_NAME = "LABDC"
BASE_DN = "DC=lab,DC=contoso,DC=test"
SCENARIO_OU = f"OU=HybridLab,{BASE_DN}"
ADMIN_UPN = f"Administrator@{REALM.lower()}"
# ldap3 2.9 cannot match an IP address SAN on Python >= 3.12, so clients use the name.
LDAPS_HOST = "localhost"
LDAPS_PORT = 636
START_TIMEOUT = 60.0

# Attributes of Exchange's schema that scenarios set: (lDAPDisplayName, attributeID, cn).
EXCHANGE_ATTRIBUTES = (("mailNickname", "1.2.840.113556.1.2.447", "ms-Exch-Mail-Nickname"),)


LOAD_TIMEOUT = 600  # seconds for one LDAP answer while loading
# A scenario of this many users is a big tenant (a benchmark's). Samba adds 50 to 150 users a second
# whichever way they arrive and deletes slower still, so a big tenant is never deleted object by object
# (the domain is provisioned afresh, keeping its password), and the directory is kept as a snapshot for
# the next load of the same section.
BIG_SCENARIO = 2000
# The bench's three sizes fit; past that, the snapshot that was quickest to load goes first (see `pruned`).
SNAPSHOTS_KEPT = 3


class SambaError(LabError):
    pass


def pruned(load_seconds: dict[str, float], newest: str, kept: int = SNAPSHOTS_KEPT) -> list[str]:
    """The snapshots to delete so that ``kept`` remain: the quickest to load again go first, never ``newest``.

    A 100,000-user tenant takes this Samba most of an hour to load and a 10,000-user one a minute: kept by
    age alone, a run over the three bench sizes would evict the one that is dearest to rebuild.
    """
    others = sorted((name for name in load_seconds if name != newest), key=lambda name: (load_seconds[name], name))
    return others[:max(0, len(load_seconds) - kept)]


def _load_seconds(snapshot: Path) -> float:
    """How long the snapshot's load took (0 when its record can't be read: such a snapshot goes first)."""
    try:
        return float(json.loads((snapshot / "load.json").read_text())["summary"].get("seconds", 0))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return 0.0


class SambaDC:
    """One lab domain controller; `up`, `down`, `status` and `load` are the lab's service hooks."""

    name = "ad"

    def __init__(self, lab_dir: Path | str):
        self.lab_dir = Path(lab_dir).resolve()
        self.root = self.lab_dir / "samba"
        self.conf_path = self.root / "etc" / "smb.conf"
        self.pid_path = self.root / "run" / "samba.pid"
        self.log_path = self.root / "log" / "samba.log"
        self.krb5_conf_path = self.root / "krb5.conf"
        self.meta_path = self.root / "lab-ad.json"

    # --- service hooks ------------------------------------------------------------

    def up(self) -> dict:
        """Make the DC run and answer verified LDAPS; return its lab_vars entries."""
        _apt.ensure_samba_installed()
        provisioned = self._is_provisioned()
        if provisioned and self._running_pid() and self._conf_is_current() and self.healthy():
            return self.lab_vars()
        self.stop()
        self._ensure_port_free()
        if provisioned:
            try:
                self.start()
                return self.lab_vars()
            except SambaError:
                pass  # a broken provision: start again from nothing
        self.provision()
        return self.lab_vars()

    def down(self, purge: bool = False) -> None:
        self.stop()
        if purge:
            shutil.rmtree(self.snapshots, ignore_errors=True)
        if purge and self.root.exists():
            shutil.rmtree(self.root)

    def status(self) -> tuple[bool, str]:
        pid = self._running_pid()
        if not self._is_provisioned():
            return False, "not provisioned"
        if not pid:
            return False, "stopped"
        if not self.healthy():
            return False, f"running (pid {pid}) but LDAPS does not answer a verified bind"
        return True, f"running (pid {pid}), LDAPS verified on {self.ldap_url}"

    def check(self, scenario: dict) -> None:
        """Fail on a bad `ad:` section before any service changes anything."""
        parse_ad_section(scenario.get("ad"), SCENARIO_OU)

    def load(self, scenario: dict) -> dict:
        """Replace what an earlier scenario loaded with the scenario's `ad:` section.

        A big section comes from its snapshot when one was kept; after a big scenario the domain
        is provisioned afresh rather than emptied object by object.
        """
        section = scenario.get("ad") or {}
        users = len(section.get("users") or ())
        previous = _state.read_section(self.lab_dir, self.name)
        key = self._snapshot_key(section) if users >= BIG_SCENARIO else None
        if key is not None:
            restored = self._restore_snapshot(key)
            if restored is not None:
                return restored
        if max(len(previous.get("users") or ()), previous.get("loading_users", 0)) >= BIG_SCENARIO:
            self.provision(password=self.admin_password)
        summary = self._load_over_ldap(section, users)
        if key is not None:
            self._take_snapshot(key, summary)
        return summary

    def _load_over_ldap(self, section: dict, users: int) -> dict:
        try:
            # Samba tree-deletes a large earlier scenario (thousands of users) for minutes.
            connection = self.connect(timeout=LOAD_TIMEOUT)
        except (LDAPException, OSError) as err:
            raise SambaError(f"the lab AD does not answer ({err}): run `python -m tests.lab up`") from err
        # Until this load succeeds, no state from the previous scenario may be trusted; how big it was to be
        # is kept, so that a failed big load is not emptied object by object either.
        _state.write_section(self.lab_dir, self.name, {"loading_users": users} if users >= BIG_SCENARIO else {})
        with connection:
            state, summary = load_ad_section(connection, SCENARIO_OU, section)
        _state.write_section(self.lab_dir, self.name, state)
        return summary

    # --- snapshots of big scenarios ---------------------------------------------------

    @property
    def snapshots(self) -> Path:
        return self.lab_dir / "snapshots"

    def _snapshot_key(self, section: dict) -> str:
        """The section, the domain's password and the loader's code: a snapshot is reused only for all three."""
        digest = hashlib.sha256(json.dumps(section, sort_keys=True, default=str).encode())
        digest.update(self.admin_password.encode())
        digest.update(Path(load_ad_section.__code__.co_filename).read_bytes())
        return digest.hexdigest()[:24]

    def _take_snapshot(self, key: str, summary: dict) -> None:
        """Copy the stopped domain's files and the load's state under snapshots/ad-<key>; keep the newest few."""
        target = self.snapshots / f"ad-{key}"
        partial = self.snapshots / f".ad-{key}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        self.stop()
        try:
            shutil.copytree(self.root, partial / "samba", ignore=_not_copied)
        finally:
            self.start()
        (partial / "load.json").write_text(json.dumps({"state": _state.read_section(self.lab_dir, self.name),
                                                       "summary": summary}))
        shutil.rmtree(target, ignore_errors=True)
        partial.rename(target)
        for old in pruned({path.name: _load_seconds(path) for path in self.snapshots.glob("ad-*")}, target.name):
            shutil.rmtree(self.snapshots / old, ignore_errors=True)

    def _restore_snapshot(self, key: str) -> dict | None:
        """The domain as the snapshot holds it, and the summary of its load; None without a snapshot."""
        source = self.snapshots / f"ad-{key}"
        if not (source / "load.json").exists():
            return None
        started = time.monotonic()
        saved = json.loads((source / "load.json").read_text())
        self.stop()
        _state.write_section(self.lab_dir, self.name, {})
        shutil.rmtree(self.root)
        shutil.copytree(source / "samba", self.root)
        self.start()
        _state.write_section(self.lab_dir, self.name, saved["state"])
        os.utime(source)  # the newest used is the last pruned
        return saved["summary"] | {"restored_from_snapshot": True, "seconds": round(time.monotonic() - started, 2)}

    # --- connection -----------------------------------------------------------------

    @property
    def ldap_url(self) -> str:
        return f"ldaps://{LDAPS_HOST}:{LDAPS_PORT}"

    @property
    def admin_password(self) -> str:
        return self._meta()["admin_password"]

    def lab_vars(self) -> dict:
        return {
            "ad_server": self.ldap_url,
            "ad_username": ADMIN_UPN,
            "ad_password": self.admin_password,
            "ad_ca_cert": str(_ca.ca_cert_path(self.lab_dir)),
            "ad_base_dn": BASE_DN,
            "lab_scenario_ou": SCENARIO_OU,
            "lab_ad_realm": REALM,
            "lab_ad_netbios_domain": NETBIOS_DOMAIN,
            "lab_krb5_conf": str(self.krb5_conf_path),
        }

    def connect(self, ca_file: Path | str | None = None, timeout: int = 10) -> ldap3.Connection:
        """A bound admin connection over LDAPS, the server certificate verified against the lab CA."""
        tls = ldap3.Tls(
            validate=ssl.CERT_REQUIRED, ca_certs_file=str(ca_file or _ca.ca_cert_path(self.lab_dir))
        )
        server = ldap3.Server(
            LDAPS_HOST, port=LDAPS_PORT, use_ssl=True, tls=tls, get_info=ldap3.NONE, connect_timeout=timeout
        )
        # check_names off: rootDSE modifies (empty DN) and schema names unknown to ldap3.
        return ldap3.Connection(
            server,
            ADMIN_UPN,
            self.admin_password,
            auto_bind=True,
            raise_exceptions=True,
            check_names=False,
            receive_timeout=timeout,
        )

    def healthy(self) -> bool:
        try:
            with self.connect(timeout=3) as connection:
                return connection.bound
        except (LDAPException, OSError, KeyError, ValueError):
            return False

    # --- lifecycle ----------------------------------------------------------------

    def provision(self, password: str | None = None) -> None:
        """Create a fresh domain in the lab directory, start it and prepare it for scenarios.

        ``password`` keeps the administrator's password of the domain it replaces, so lab_vars.yml stays true.
        """
        self.stop()
        self._ensure_port_free()
        if self.root.exists():
            shutil.rmtree(self.root)
        self.root.mkdir(parents=True)
        _state.write_section(self.lab_dir, self.name, {})  # the old domain's objects are gone
        password = password or "Lab1-" + secrets.token_urlsafe(15)
        # An empty config file keeps the host's /etc/samba/smb.conf out of the provision.
        empty_conf = self.root / "provision.conf"
        empty_conf.write_text("")
        self._run(
            [
                _apt.find_command("samba-tool"), "domain", "provision",
                f"--configfile={empty_conf}", f"--targetdir={self.root}",
                f"--realm={REALM}", f"--domain={NETBIOS_DOMAIN}", "--server-role=dc",
                "--dns-backend=NONE", f"--host-name={DC_NAME.lower()}", "--host-ip=127.0.0.1",
                "--backend-store=mdb", f"--adminpass={password}",
                "--option=interfaces=lo", "--option=bind interfaces only=yes",
                "--option=ldb:nosync=true",
            ],
            what="samba-tool domain provision",
        )
        self._write_meta({"admin_password": password, "provisioned": False})
        self.start()
        try:
            with self.connect() as connection:
                _prepare_directory(connection)
        except LDAPException as err:
            raise SambaError(f"preparing the new domain failed: {err}\n{self._log_tail()}") from err
        self._write_meta({"admin_password": password, "provisioned": True})

    def start(self) -> None:
        cert, key = self._server_cert()
        self._ensure_port_free()
        for sub in ("run", "log"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self.conf_path.write_text(self._render_conf(cert, key))
        self.krb5_conf_path.write_text(_krb5_conf())
        self.log_path.write_text("")
        self.pid_path.unlink(missing_ok=True)
        # One process serves every service: quick to start, one pid to stop.
        self._run([_apt.find_command("samba"), "-D", "-M", "single", "-s", str(self.conf_path)], what="samba")
        self._wait_until_healthy()

    def stop(self) -> None:
        pids = set(self._lab_samba_pids())
        pid = self._running_pid()
        if pid:
            pids.add(pid)
        for pid in pids:
            _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
            time.sleep(0.1)
        for pid in pids:
            if _alive(pid):
                _signal(pid, signal.SIGKILL)
        self.pid_path.unlink(missing_ok=True)

    # --- internals ------------------------------------------------------------------

    def _wait_until_healthy(self) -> None:
        started = time.monotonic()
        while time.monotonic() < started + START_TIMEOUT:
            if self.healthy():
                return
            # Gone: it wrote its pid file and died, or never got that far.
            pid_file_due = self.pid_path.exists() or time.monotonic() > started + 10
            if pid_file_due and not self._running_pid() and not self._lab_samba_pids():
                raise SambaError(f"samba exited during start-up\n{self._log_tail()}")
            time.sleep(0.2)
        raise SambaError(f"no verified LDAPS bind within {START_TIMEOUT:.0f} s\n{self._log_tail()}")

    def _render_conf(self, cert: Path, key: Path) -> str:
        root, run = self.root, self.root / "run"
        settings = {
            "netbios name": DC_NAME,
            "workgroup": NETBIOS_DOMAIN,
            "realm": REALM,
            "server role": "active directory domain controller",
            "server services": "ldap, kdc",
            "interfaces": "lo",
            "bind interfaces only": "yes",
            "private dir": root / "private",
            "lock directory": root,
            "state directory": root / "state",
            "cache directory": root / "cache",
            "binddns dir": root / "bind-dns",
            "pid directory": run,
            "ncalrpc dir": run / "ncalrpc",
            "winbindd socket directory": run / "winbindd",
            "ntp signd socket directory": run / "ntp_signd",
            "log file": self.log_path,
            "logging": "file",
            "tls enabled": "yes",
            "tls keyfile": key,
            "tls certfile": cert,
            "tls cafile": _ca.ca_cert_path(self.lab_dir),
            # Like AD's default: simple binds without TLS work, so `ad_tls: none` can be tested.
            "ldap server require strong auth": "no",
            "ldb:nosync": "true",
            "dsdb:schema update allowed": "true",
        }
        # The certificate's digest makes a reissued certificate count as a changed config.
        digest = hashlib.sha256(Path(cert).read_bytes()).hexdigest()
        lines = ["# Written by tests.lab on every start; edits are lost.", f"# certificate {digest}", "[global]"]
        lines += [f"\t{name} = {value}" for name, value in settings.items()]
        return "\n".join(lines) + "\n"

    def _server_cert(self) -> tuple[Path, Path]:
        # OpenLDAP clients check a "localhost" URL against this machine's own name instead.
        names = dict.fromkeys([*_ca.DEFAULT_SANS, socket.gethostname(), socket.getfqdn()])
        return _ca.issue_server_cert(self.lab_dir, "ldaps", tuple(name for name in names if name))

    def _conf_is_current(self) -> bool:
        cert, key = self._server_cert()
        return self.conf_path.exists() and self.conf_path.read_text() == self._render_conf(cert, key)

    def _is_provisioned(self) -> bool:
        try:
            return bool(self._meta().get("provisioned"))
        except (OSError, ValueError):
            return False

    def _meta(self) -> dict:
        return json.loads(self.meta_path.read_text())

    def _write_meta(self, meta: dict) -> None:
        self.meta_path.write_text(json.dumps(meta, indent=2) + "\n")
        os.chmod(self.meta_path, 0o600)

    def _running_pid(self) -> int | None:
        try:
            pid = int(self.pid_path.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        return pid if _alive(pid) and _is_samba(pid) else None

    def _lab_samba_pids(self) -> list[int]:
        """Samba processes holding files of this lab's directory (none of any other instance)."""
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and _is_samba(int(entry.name)) and self._holds_lab_files(entry):
                found.append(int(entry.name))
        return found

    def _holds_lab_files(self, proc: Path) -> bool:
        prefix = str(self.root) + os.sep
        try:
            return any(os.readlink(fd).startswith(prefix) for fd in (proc / "fd").iterdir())
        except OSError:
            return False

    def _ensure_port_free(self) -> None:
        with socket.socket() as probe:
            probe.settimeout(1)
            in_use = probe.connect_ex(("127.0.0.1", LDAPS_PORT)) == 0
        if in_use:
            raise SambaError(
                f"127.0.0.1:{LDAPS_PORT} is already in use: another lab (HYBRID_LAB_DIR) or"
                " LDAP server runs; stop it first (python -m tests.lab down there)"
            )

    def _log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return f"(no log at {self.log_path})"
        return f"--- last lines of {self.log_path} ---\n" + "\n".join(text.splitlines()[-lines:])

    def _run(self, command: list[str], what: str) -> None:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            output = "\n".join((done.stdout + done.stderr).splitlines()[-30:])
            raise SambaError(f"{what} failed ({done.returncode}):\n{output}\n{self._log_tail()}")


def _not_copied(directory: str, names: list[str]) -> set[str]:
    """What a snapshot leaves out: the run and log folders, and sockets (the daemon makes them anew)."""
    left_out = {"run", "log"} & set(names)
    for name in names:
        with contextlib.suppress(OSError):
            if stat.S_ISSOCK(os.lstat(os.path.join(directory, name)).st_mode):
                left_out.add(name)
    return left_out


def create_service(lab_dir: Path | str) -> SambaDC:
    """The lab's hook: tests.lab builds its services through each module's create_service."""
    return SambaDC(lab_dir)


def _prepare_directory(connection: ldap3.Connection) -> None:
    """One-time changes after provisioning: Exchange attributes, a lax password policy, SPNs."""
    schema = f"CN=Schema,CN=Configuration,{BASE_DN}"
    for display_name, oid, cn in EXCHANGE_ATTRIBUTES:
        connection.add(
            f"CN={cn},{schema}",
            "attributeSchema",
            {
                "attributeID": oid,
                "lDAPDisplayName": display_name,
                "adminDisplayName": cn,
                "attributeSyntax": "2.5.5.12",
                "oMSyntax": 64,
                "isSingleValued": "TRUE",
                "rangeLower": 1,
                "rangeUpper": 64,
                "searchFlags": 1,
                "isMemberOfPartialAttributeSet": "TRUE",
            },
        )
    _reload_schema(connection)
    # Users, groups and contacts all take mail attributes through the Mail-Recipient class.
    connection.modify(
        f"CN=Mail-Recipient,{schema}",
        {"mayContain": [(ldap3.MODIFY_ADD, [name for name, _oid, _cn in EXCHANGE_ATTRIBUTES])]},
    )
    _reload_schema(connection)
    # Scenario passwords are short and reused; an expiring admin password would break the lab.
    connection.modify(
        BASE_DN,
        {
            "pwdProperties": [(ldap3.MODIFY_REPLACE, ["0"])],
            "minPwdLength": [(ldap3.MODIFY_REPLACE, ["0"])],
            "pwdHistoryLength": [(ldap3.MODIFY_REPLACE, ["0"])],
            "minPwdAge": [(ldap3.MODIFY_REPLACE, ["0"])],
            "maxPwdAge": [(ldap3.MODIFY_REPLACE, ["-9223372036854775808"])],
        },
    )
    # Kerberos clients connect to "localhost"; let the KDC issue tickets for that name.
    connection.modify(
        f"CN={DC_NAME},OU=Domain Controllers,{BASE_DN}",
        {"servicePrincipalName": [(ldap3.MODIFY_ADD, ["ldap/localhost", "HOST/localhost"])]},
    )
    connection.add(SCENARIO_OU, "organizationalUnit", {"description": "Loaded by tests.lab scenarios"})


def _reload_schema(connection: ldap3.Connection) -> None:
    connection.modify("", {"schemaUpdateNow": [(ldap3.MODIFY_REPLACE, ["1"])]})


def _krb5_conf() -> str:
    return (
        "[libdefaults]\n"
        f"\tdefault_realm = {REALM}\n"
        "\tdns_lookup_realm = false\n\tdns_lookup_kdc = false\n\trdns = false\n"
        "[realms]\n"
        f"\t{REALM} = {{\n\t\tkdc = 127.0.0.1\n\t\tadmin_server = 127.0.0.1\n\t}}\n"
        "[domain_realm]\n"
        f"\tlocalhost = {REALM}\n\t.{REALM.lower()} = {REALM}\n"
    )


def _alive(pid: int) -> bool:
    """True for a live process; a zombie (exited, not yet reaped) counts as gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def _is_samba(pid: int) -> bool:
    try:
        return os.path.basename(os.readlink(f"/proc/{pid}/exe")) == "samba"
    except OSError:
        return False


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # it exited meanwhile
        os.kill(pid, signum)
