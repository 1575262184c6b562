"""The Entra emulator as Graph tests use it: a small tenant, a client, the lookups through Ansible.

The fixtures `graph_lab` (session) and `graph` (a fresh small tenant per test) are shared by
every test file through conftest.py.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest

from ansible_collections.hybrid.identity.plugins.module_utils.graph._graph import GraphClient, GraphSettings
from ansible_collections.hybrid.identity.plugins.module_utils.graph._graph_retry import RetryPolicy
from tests.integration._ansible import run_module
from tests.integration._private_emulator import private_emulator
from tests.lab import Lab, LabError
from tests.lab.entra import EntraEmulator

SYNCED_ANCHOR = "KtN+mrQKRk2qSC19JzM09g=="
WRONG_SECRET = "Wrong-Secret~9f2c41d7b8e6a0354"
CONNECTION_KEYS = ("tenant_id", "client_id", "client_secret", "authority_host", "graph_endpoint", "graph_ca_cert")
TENANT = {"initial_domain": "contoso.onmicrosoft.com", "verified_domains": ["contoso.com"]}
USERS = [
    {"userPrincipalName": "user.lastname@contoso.com", "mail": "user.lastname@contoso.com",
     "proxyAddresses": ["SMTP:user.lastname@contoso.com", "smtp:user@contoso.com"]},
    {"userPrincipalName": "o'brien@contoso.com", "mail": "O'Brien@contoso.com",
     "proxyAddresses": ["SMTP:O'Brien@contoso.com"]},
    {"userPrincipalName": "admin@contoso.onmicrosoft.com", "mail": "it.admin@contoso.com",
     "proxyAddresses": ["SMTP:it.admin@contoso.com"], "roles": ["Global Administrator", "Exchange Administrator"]},
    {"userPrincipalName": "synced@contoso.com", "mail": "synced@contoso.com",
     "proxyAddresses": ["SMTP:synced@contoso.com"], "onPremisesImmutableId": SYNCED_ANCHOR,
     "onPremisesSyncEnabled": True},
]


def bulk_users(count: int) -> list[dict]:
    return [{"userPrincipalName": f"bulk{n:05d}@contoso.com", "mail": f"bulk{n:05d}@contoso.com",
             "proxyAddresses": [f"SMTP:bulk{n:05d}@contoso.com", f"smtp:b{n:05d}@contoso.com"],
             "onPremisesImmutableId": f"YnVsay0{n:05d}AA=="}
            for n in range(count)]


@dataclass
class GraphLab:
    emulator: EntraEmulator
    settings: dict          # lab_vars: the Graph options plus the lab's extra apps and certificate

    @property
    def connection(self) -> dict:
        return {key: self.settings[key] for key in CONNECTION_KEYS}

    def load(self, users: list[dict]) -> None:
        self.emulator.reset()
        self.emulator.load({"tenant": TENANT, "cloud": {"users": users}})

    def ids(self) -> dict[str, str]:
        return {user["userPrincipalName"]: user["id"] for user in self.emulator.state()["users"]}

    def client(self, retry: RetryPolicy | None = None, **options) -> GraphClient:
        return GraphClient(GraphSettings.from_params(self.connection | options), retry)

    def lookup(self, check: bool = False, **args) -> tuple[str, dict, str]:
        return run_module("cloud_user_lookup", self.connection | args, check=check)

    def requests(self) -> dict:
        return self.emulator.requests()


def _lab_vars_with_graph(request) -> dict | None:
    """The lab's vars when its `up` brings the emulator (graph_endpoint set), else None.

    HYBRID_LAB_PRIVATE_ENTRA=1 asks for an emulator of this session's own even then, so that
    this file can run while someone else's tests load other tenants into the shared lab.
    """
    if os.environ.get("HYBRID_LAB_PRIVATE_ENTRA") == "1":
        return None
    try:
        lab_vars = request.getfixturevalue("lab_vars")
    except LabError:
        return None
    return lab_vars if lab_vars.get("graph_endpoint") else None


@pytest.fixture(scope="session")
def graph_lab(request, tmp_path_factory) -> Iterator[GraphLab]:
    """The lab's emulator when `lab_vars` names one, else an emulator of our own (as test_entra_emulator starts it)."""
    # requests lets REQUESTS_CA_BUNDLE stand in for an unset CA; none of these tests may depend on one.
    with pytest.MonkeyPatch.context() as env:
        env.delenv("REQUESTS_CA_BUNDLE", raising=False)
        env.delenv("CURL_CA_BUNDLE", raising=False)
        lab_vars = _lab_vars_with_graph(request)
        if lab_vars is not None:
            emulator = EntraEmulator(Lab.from_env().lab_dir, port=urlsplit(lab_vars["graph_endpoint"]).port,
                                     ca_cert=lab_vars["graph_ca_cert"])
            try:
                yield GraphLab(emulator, lab_vars)
            finally:
                emulator.set_faults()
                emulator.set_throttle()
            return
        with private_emulator(tmp_path_factory.mktemp("graph-lab")) as (emulator, _ca_path):
            yield GraphLab(emulator, emulator.vars())


@pytest.fixture
def graph(graph_lab: GraphLab) -> GraphLab:
    """The small tenant loaded, no faults, the default throttle, no counts."""
    graph_lab.emulator.set_faults()
    graph_lab.emulator.set_throttle()
    graph_lab.load(USERS)
    graph_lab.emulator.clear_requests()
    return graph_lab


def graph_tries(graph: GraphLab, path: str = "/v1.0/users") -> list[dict]:
    """The emulator's log entries of the wire requests to ``path``, in order."""
    return [entry for entry in graph.requests()["log"] if entry["path"] == path and not entry["inner"]]
