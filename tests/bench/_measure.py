"""What every end-to-end row measures with: the memory sampler, the playbook runner and the floors' raw reads.

The floors are what a script would do without the collection: OpenLDAP's ``ldapsearch`` and
``ldapmodify`` against the domain controller, and a raw ``requests`` paging of Graph's ``/users``.
"""

from __future__ import annotations

import base64
import os
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import requests
import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / ".build" / "collections"))

from ansible_collections.hybrid.identity.plugins.module_utils.ad._ad import USER_FILTER  # noqa: E402
from ansible_collections.hybrid.identity.plugins.module_utils.matching._soft_match_inputs import (  # noqa: E402
    CLOUD_USER_SELECT,
    ONPREM_ATTRIBUTES,
)

SAMPLE_SECONDS = 0.02
CONNECTION = ("ad_server", "ad_username", "ad_password", "ad_ca_cert", "tenant_id", "client_id", "client_secret",
              "authority_host", "graph_endpoint", "graph_ca_cert")
GRAPH_CONNECTION = tuple(name for name in CONNECTION if not name.startswith("ad_"))
# what an alignment may write, and the anchor it must not touch: compared after the module and after the floor
ALIGNED_ATTRIBUTES = ("userPrincipalName", "mail", "proxyAddresses", "mS-DS-ConsistencyGuid")


# --- memory and playbooks -----------------------------------------------------------------


@dataclass
class Peak:
    """The largest resident sets seen while a process tree ran (sums of RSS: pages a forked child still shares
    with its parent count twice, so the figures never understate)."""

    module_mib: float = 0.0
    tree_mib: float = 0.0
    samples: int = 0


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", encoding="ascii", errors="replace") as stat:
                parent = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        tree.setdefault(parent, []).append(int(entry.name))
    return tree


def _rss_mib(pid: int) -> tuple[float, str]:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as status:
            rss = next((int(line.split()[1]) for line in status if line.startswith("VmRSS:")), 0)
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            command = cmdline.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return 0.0, ""
    return rss / 1024, command


def is_module_process(command: str, module_marker: str) -> bool:
    """Whether a process of the tree is the module: its Python process, or a child it forked (which has the
    same command line), not the shells that start it."""
    return module_marker in command and not command.startswith(("/bin/sh ", "sh "))


def sample(root: int, module_marker: str, peak: Peak, done: threading.Event) -> None:
    """Sample the tree until ``done``; the module's figure adds up its processes (a forked reader counts)."""
    while not done.wait(SAMPLE_SECONDS):
        tree, pending, total, module = _children(), [root], 0.0, 0.0
        while pending:
            pid = pending.pop()
            rss, command = _rss_mib(pid)
            total += rss
            if is_module_process(command, module_marker):
                module += rss
            pending += tree.get(pid, [])
        peak.module_mib = max(peak.module_mib, module)
        peak.tree_mib = max(peak.tree_mib, total)
        peak.samples += 1


def run_playbook(playbook: Path, lab, module_marker: str | None = None,
                 extra_vars: tuple[Path, ...] = ()) -> tuple[float, Peak]:
    """Wall seconds of one ansible-playbook run, and the memory peaks seen while it ran."""
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(REPO / ".build" / "collections"),
               ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false", ANSIBLE_PYTHON_INTERPRETER=sys.executable,
               ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false")
    command = [str(Path(sys.executable).with_name("ansible-playbook")), "-i", "localhost,", "-c", "local",
               "-e", f"@{lab.vars_path}"]
    for path in extra_vars:
        command += ["-e", f"@{path}"]
    command.append(str(playbook))
    peak, done = Peak(), threading.Event()
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    watcher = threading.Thread(target=sample, args=(process.pid, module_marker or "\0", peak, done), daemon=True)
    watcher.start()
    output, _stderr = process.communicate(timeout=3600)
    wall = time.perf_counter() - started
    done.set()
    watcher.join()
    if process.returncode != 0:
        raise RuntimeError(f"{playbook.name} failed ({process.returncode}):\n{output.decode()[-3000:]}")
    return wall, peak


def write_playbook(path: Path, tasks: list[dict]) -> Path:
    path.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "tasks": tasks}]))
    return path


def one_task_playbook(scratch: Path) -> Path:
    """What ansible-playbook costs by itself: subtracted from each module's playbook."""
    return write_playbook(scratch / "one_task.yml", [{"name": "Nothing", "ansible.builtin.debug": {"msg": "baseline"}}])


def connection_args(names=CONNECTION) -> dict:
    """The module options that reach the lab, as templates of the lab_vars.yml variables."""
    return {name: f"{{{{ {name} }}}}" for name in names}


# --- the floors' raw reads and writes -----------------------------------------------------


def _ldap_url(lab_vars: dict) -> str:
    url = urlsplit(lab_vars["ad_server"])
    return f"ldaps://{url.hostname}:{url.port or 636}"


def _ldap_env(lab_vars: dict) -> dict:
    return dict(os.environ, LDAPTLS_CACERT=lab_vars["ad_ca_cert"], LDAPTLS_REQCERT="demand")


def _ldap_bind(lab_vars: dict) -> list[str]:
    return ["-x", "-H", _ldap_url(lab_vars), "-D", lab_vars["ad_username"], "-w", lab_vars["ad_password"]]


def ldapsearch(lab_vars: dict, base: str, attributes, output=subprocess.DEVNULL) -> subprocess.CompletedProcess:
    command = ["ldapsearch", "-LLL", "-o", "ldif-wrap=no", *_ldap_bind(lab_vars), "-b", base,
               "-E", "pr=1000/noprompt", USER_FILTER, *attributes]
    return subprocess.run(command, stdout=output, stderr=subprocess.PIPE, env=_ldap_env(lab_vars), check=True,
                          timeout=3600)


def floor_ldap(lab_vars: dict, base: str) -> float:
    """An ldapsearch dump of the module's attributes of the scope, in pages of 1,000: seconds."""
    started = time.perf_counter()
    ldapsearch(lab_vars, base, (*ONPREM_ATTRIBUTES, "objectGUID", "sAMAccountName"))
    return time.perf_counter() - started


def ldapmodify(lab_vars: dict, ldif: Path) -> float:
    """One ldapmodify applying every change of an LDIF file over one connection: seconds."""
    started = time.perf_counter()
    done = subprocess.run(["ldapmodify", *_ldap_bind(lab_vars), "-f", str(ldif)], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, env=_ldap_env(lab_vars), check=False, timeout=3600)
    if done.returncode != 0:
        raise RuntimeError(f"ldapmodify -f {ldif.name} failed ({done.returncode}): {done.stderr.decode()[-2000:]}")
    return time.perf_counter() - started


def dump_scope(lab_vars: dict, base: str, attributes=ALIGNED_ATTRIBUTES) -> dict[str, dict[str, tuple]]:
    """Each user's DN and values of these attributes (sorted, exact case), read with ldapsearch."""
    return scope_from_ldif(ldapsearch(lab_vars, base, attributes, output=subprocess.PIPE).stdout.decode())


def scope_from_ldif(text: str) -> dict[str, dict[str, tuple]]:
    """Entries of unwrapped LDIF (ldapsearch -LLL -o ldif-wrap=no) as DN -> attribute -> sorted values."""
    users: dict[str, dict[str, list]] = {}
    current: dict[str, list] | None = None
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _colon, value = line.partition(":")
        if value.startswith(":"):  # name:: base64
            value = base64.b64decode(value[1:].strip()).decode("utf-8", errors="backslashreplace")
        else:
            value = value.strip()
        if name == "dn":
            current = users.setdefault(value, {})
        elif current is not None:
            current.setdefault(name, []).append(value)
    return {dn: {name: tuple(sorted(values)) for name, values in found_values.items()}
            for dn, found_values in users.items()}


def differences(expected: dict, actual: dict, limit: int = 5) -> list[str]:
    """The users whose values differ between two dumps, a few of them spelled out."""
    names = sorted(set(expected) | set(actual))
    differing = [dn for dn in names if expected.get(dn) != actual.get(dn)]
    return [f"{dn}: expected {expected.get(dn)}, found {actual.get(dn)}" for dn in differing[:limit]] + (
        [f"... and {len(differing) - limit} more"] if len(differing) > limit else [])


def _token(session: requests.Session, lab_vars: dict) -> str:
    return session.post(f"{lab_vars['authority_host']}/{lab_vars['tenant_id']}/oauth2/v2.0/token", data={
        "grant_type": "client_credentials", "client_id": lab_vars["client_id"],
        "client_secret": lab_vars["client_secret"], "scope": f"{lab_vars['graph_endpoint']}/.default"},
        timeout=60, verify=lab_vars["graph_ca_cert"]).json()["access_token"]


def graph_pages(lab_vars: dict, select: str):
    """The pages of a raw paging of /users with this $select and $top=999, token included."""
    verify = lab_vars["graph_ca_cert"]  # on each call: REQUESTS_CA_BUNDLE would win over the session's
    with requests.Session() as session:
        token = _token(session, lab_vars)
        url = f"{lab_vars['graph_endpoint']}/v1.0/users?$select={select}&$top=999"
        while url:
            page = session.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=120,
                               verify=verify).json()
            yield page["value"]
            url = page.get("@odata.nextLink")


def floor_graph(lab_vars: dict) -> tuple[float, int]:
    """A raw paging of /users with the module's $select, as a script would do it: (seconds, users)."""
    started = time.perf_counter()
    users = sum(len(page) for page in graph_pages(lab_vars, CLOUD_USER_SELECT))
    return time.perf_counter() - started, users


# --- a row's figures ----------------------------------------------------------------------


@dataclass
class Rounds:
    """The interleaved rounds of one path at one size: floor, one-task playbook, module playbook."""

    size: int
    load_s: float
    floor: list[float] = field(default_factory=list)
    baseline: list[float] = field(default_factory=list)
    ours: list[float] = field(default_factory=list)
    module_mib: float = 0.0
    tree_mib: float = 0.0

    def add(self, floor_s: float, baseline_s: float, wall_s: float, peak: Peak) -> None:
        self.floor.append(floor_s)
        self.baseline.append(baseline_s)
        self.ours.append(wall_s)
        self.module_mib = max(self.module_mib, peak.module_mib)
        self.tree_mib = max(self.tree_mib, peak.tree_mib)

    def median(self, name: str) -> float:
        return statistics.median(getattr(self, name))

    @property
    def cost(self) -> float:
        return max(self.median("ours") - self.median("baseline"), 0.0)

    @property
    def ratio(self) -> float:
        return self.cost / self.median("floor")

    def as_dict(self) -> dict:
        return {"size": self.size, "load_s": round(self.load_s, 1), "floor_s": round(self.median("floor"), 2),
                "baseline_s": round(self.median("baseline"), 2), "ours_s": round(self.cost, 2),
                "ratio": round(self.ratio, 2), "module_peak_mib": round(self.module_mib, 1),
                "tree_peak_mib": round(self.tree_mib, 1), "rounds": len(self.ours)}


def verdict(targets: dict, rounds: Rounds) -> str:
    """ok or MISSED against the size's target (ratio, module MiB, tree MiB; None: no memory target), or -."""
    target = targets.get(rounds.size)
    if target is None:
        return "-"
    ratio, module_mib, tree_mib = target
    ok = (rounds.ratio <= ratio and (module_mib is None or rounds.module_mib <= module_mib)
          and (tree_mib is None or rounds.tree_mib <= tree_mib))
    memory = "".join(f", {name} <= {mib} MiB" for name, mib in (("module", module_mib), ("tree", tree_mib))
                     if mib is not None)
    return f"{'ok' if ok else 'MISSED'} (<= {ratio}x{memory})"
