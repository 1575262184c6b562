"""The end-to-end benchmark: soft_match_check through ansible-playbook against the lab, as ratios to the floor.

For each size it generates a tenant with the mix an onboarding meets, loads it into the lab
(Samba and the Entra emulator), then measures, interleaved, round after round:

- the floor: what just reading the same data costs, in the same run. ``ldapsearch`` dumping the
  module's attributes of the scope in pages of 1,000, plus a raw ``requests`` paging of
  ``/users`` with the module's ``$select`` and ``$top=999`` (token included);
- a one-task playbook (``ansible.builtin.debug``): what ansible-playbook costs by itself;
- the module: a playbook running ``hybrid.identity.soft_match_check`` over the scope, with its
  default ``return_results``; its cost is its wall time minus the one-task playbook's.

Memory is sampled from /proc every 20 ms while the module's playbook runs: the peak resident set
of the module's process, and the peak of the whole ansible-playbook process tree.

Absolute times on a shared 2-core machine are noise; the ratio to the floor measured in the
same run is the figure. Exit status 1 when a size with a target misses it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
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
from tests.lab import Lab  # noqa: E402

DOMAIN = "contoso.com"
TENANT = {"initial_domain": "contoso.onmicrosoft.com", "verified_domains": [DOMAIN]}
OU = "OU=Bench"
# ratio to the floor, module peak MiB, process-tree peak MiB (issue targets at enterprise size)
TARGETS = {100_000: (1.5, 600, 1024)}
SAMPLE_SECONDS = 0.02
# The mix, one kind per user number modulo 20 (out of 20): mostly clean matches.
MIX = (["clean"] * 10 + ["other_primary"] * 2 + ["cloud_aliases"] * 2 + ["new"] * 2
       + ["hard"] + ["upn_only"] + ["unverified_upn"] + ["duplicate"])


def tenant_of(size: int) -> dict:
    """A scenario of ``size`` on-prem users and their cloud side, in the lab's scenario format."""
    users, cloud = [], []
    for number in range(size):
        kind = MIX[number % len(MIX)]
        sam = f"b{number:06d}"
        address = f"{sam}@{DOMAIN}"
        onprem = {"sAMAccountName": sam, "ou": OU, "userPrincipalName": address, "mail": address,
                  "proxyAddresses": [f"SMTP:{address}", f"smtp:{sam}.alt@{DOMAIN}"]}
        cloud_user = {"userPrincipalName": address, "mail": address,
                      "proxyAddresses": [f"SMTP:{address}", f"smtp:{sam}.alt@{DOMAIN}"]}
        if kind == "other_primary":      # the cloud primary is an alias on-prem: the sending address changes
            onprem["mail"] = f"{sam}.alt@{DOMAIN}"
            onprem["proxyAddresses"] = [f"SMTP:{sam}.alt@{DOMAIN}", f"smtp:{address}"]
        elif kind == "cloud_aliases":    # an alias only the cloud has: dropped at the join
            cloud_user["proxyAddresses"].append(f"smtp:{sam}.cloud@{DOMAIN}")
        elif kind == "new":
            cloud_user = None
        elif kind == "hard":             # the cloud user carries the on-prem anchor
            cloud_user["onPremisesImmutableId"] = f"@ad:{sam}"
        elif kind == "upn_only":         # no mail on-prem: only the UPN can match
            del onprem["mail"], onprem["proxyAddresses"]
        elif kind == "unverified_upn":
            onprem["userPrincipalName"] = f"{sam}@contoso.local"
        elif kind == "duplicate":        # an alias another cloud user already holds
            onprem["proxyAddresses"].append(f"smtp:b{(number + 1) % size:06d}@{DOMAIN}")
        users.append(onprem)
        if cloud_user is not None:
            cloud.append(cloud_user)
    return {"tenant": TENANT, "ad": {"users": users}, "cloud": {"users": cloud}}


# --- measuring ----------------------------------------------------------------------------


@dataclass
class Peak:
    """The largest resident sets seen while a process tree ran."""

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


def sample(root: int, module_marker: str, peak: Peak, done: threading.Event) -> None:
    while not done.wait(SAMPLE_SECONDS):
        tree, pending, total = _children(), [root], 0.0
        while pending:
            pid = pending.pop()
            rss, command = _rss_mib(pid)
            total += rss
            if module_marker in command:
                peak.module_mib = max(peak.module_mib, rss)
            pending += tree.get(pid, [])
        peak.tree_mib = max(peak.tree_mib, total)
        peak.samples += 1


def run_playbook(playbook: Path, lab: Lab, module_marker: str | None = None) -> tuple[float, Peak]:
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(REPO / ".build" / "collections"),
               ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false", ANSIBLE_PYTHON_INTERPRETER=sys.executable,
               ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false")
    command = [str(Path(sys.executable).with_name("ansible-playbook")), "-i", "localhost,", "-c", "local",
               "-e", f"@{lab.vars_path}", str(playbook)]
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


def floor_ldap(lab_vars: dict, base: str) -> float:
    url = urlsplit(lab_vars["ad_server"])
    command = ["ldapsearch", "-LLL", "-x", "-H", f"ldaps://{url.hostname}:{url.port or 636}",
               "-D", lab_vars["ad_username"], "-w", lab_vars["ad_password"], "-b", base,
               "-E", "pr=1000/noprompt", USER_FILTER, *ONPREM_ATTRIBUTES, "objectGUID", "sAMAccountName"]
    env = dict(os.environ, LDAPTLS_CACERT=lab_vars["ad_ca_cert"], LDAPTLS_REQCERT="demand")
    started = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, check=True, timeout=3600)
    return time.perf_counter() - started


def floor_graph(lab_vars: dict) -> tuple[float, int]:
    """A raw paging of /users with the module's $select, as a script would do it: (seconds, users)."""
    started = time.perf_counter()
    verify = lab_vars["graph_ca_cert"]  # on each call: REQUESTS_CA_BUNDLE would win over the session's
    with requests.Session() as session:
        token = session.post(f"{lab_vars['authority_host']}/{lab_vars['tenant_id']}/oauth2/v2.0/token", data={
            "grant_type": "client_credentials", "client_id": lab_vars["client_id"],
            "client_secret": lab_vars["client_secret"], "scope": f"{lab_vars['graph_endpoint']}/.default"},
            timeout=60, verify=verify).json()["access_token"]
        url = f"{lab_vars['graph_endpoint']}/v1.0/users?$select={CLOUD_USER_SELECT}&$top=999"
        users = 0
        while url:
            page = session.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=120,
                               verify=verify).json()
            users += len(page["value"])
            url = page.get("@odata.nextLink")
    return time.perf_counter() - started, users


def playbooks(scratch: Path, search_base: str) -> tuple[Path, Path]:
    one_task = scratch / "one_task.yml"
    one_task.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "Nothing", "ansible.builtin.debug": {"msg": "baseline"}}]}]))
    check = scratch / "soft_match_check.yml"
    connection = {name: f"{{{{ {name} }}}}" for name in (
        "ad_server", "ad_username", "ad_password", "ad_ca_cert", "tenant_id", "client_id", "client_secret",
        "authority_host", "graph_endpoint", "graph_ca_cert")}
    check.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "Predict", "hybrid.identity.soft_match_check": connection | {"search_base": search_base},
         "register": "prediction"},
        {"name": "Counts", "ansible.builtin.debug": {"var": "prediction.counts"}}]}]))
    return one_task, check


@dataclass
class SizeResult:
    size: int
    load_s: float
    floor: list[float] = field(default_factory=list)
    baseline: list[float] = field(default_factory=list)
    ours: list[float] = field(default_factory=list)
    module_mib: float = 0.0
    tree_mib: float = 0.0

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
                "tree_peak_mib": round(self.tree_mib, 1), "ms_per_user": round(1000 * self.cost / self.size, 3),
                "rounds": len(self.ours)}


def measure(lab: Lab, size: int, rounds: int, scratch: Path) -> SizeResult:
    started = time.perf_counter()
    lab.load(tenant_of(size))
    result = SizeResult(size, time.perf_counter() - started)
    lab_vars = lab.vars
    search_base = f"{OU},{lab_vars['lab_scenario_ou']}"
    one_task, check = playbooks(scratch, search_base)
    for _round in range(rounds):
        ldap_s = floor_ldap(lab_vars, search_base)
        graph_s, listed = floor_graph(lab_vars)
        if listed != sum(1 for number in range(size) if MIX[number % len(MIX)] != "new"):
            raise RuntimeError(f"the raw listing read {listed} users")
        result.floor.append(ldap_s + graph_s)
        result.baseline.append(run_playbook(one_task, lab)[0])
        wall, peak = run_playbook(check, lab, module_marker="AnsiballZ_soft_match_check")
        result.ours.append(wall)
        result.module_mib = max(result.module_mib, peak.module_mib)
        result.tree_mib = max(result.tree_mib, peak.tree_mib)
    return result


def verdict(result: SizeResult) -> str:
    target = TARGETS.get(result.size)
    if target is None:
        return "-"
    ratio, module_mib, tree_mib = target
    ok = result.ratio <= ratio and result.module_mib <= module_mib and result.tree_mib <= tree_mib
    return f"{'ok' if ok else 'MISSED'} (<= {ratio}x, module <= {module_mib} MiB, tree <= {tree_mib} MiB)"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench e2e", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000, 100_000])
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of floor and module (median)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    arguments = parser.parse_args(argv)
    lab = Lab.from_env()
    lab.up()
    figures, missed = [], 0
    print("soft_match_check through ansible-playbook (medians of interleaved rounds)")
    print(f"{'users':>7} {'load s':>7} {'floor s':>8} {'1-task s':>9} {'ours s':>7} {'ratio':>6} "
          f"{'module MiB':>11} {'tree MiB':>9} {'ms/user':>8}  target")
    with tempfile.TemporaryDirectory() as scratch:
        for size in arguments.sizes:
            result = measure(lab, size, arguments.rounds, Path(scratch))
            shown = result.as_dict()
            figures.append(shown | {"target": verdict(result)})
            missed += "MISSED" in figures[-1]["target"]
            print(f"{size:>7} {shown['load_s']:>7.1f} {shown['floor_s']:>8.2f} {shown['baseline_s']:>9.2f} "
                  f"{shown['ours_s']:>7.2f} {shown['ratio']:>6.2f} {shown['module_peak_mib']:>11.1f} "
                  f"{shown['tree_peak_mib']:>9.1f} {shown['ms_per_user']:>8.3f}  {figures[-1]['target']}",
                  flush=True)
    if arguments.json:
        arguments.json.write_text(json.dumps({"soft_match_check": figures, "run": str(uuid.uuid4())}, indent=2))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
