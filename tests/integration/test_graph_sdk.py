"""Microsoft's own clients against the lab: msgraph-sdk with azure-identity, as a user rehearsing a script.

The SDK (httpx, kiota) and azure-identity (MSAL underneath) reach the emulator over HTTPS with the lab CA
verified, signed in with the app's secret and with its certificate. Each test does what scripts commonly do:
list users with $select through the SDK's page iterator, filter on proxyAddresses, count with
ConsistencyLevel, get a user by id and by UPN, PATCH onPremisesImmutableId (the SDK puts @odata.type in the
body), read the tenant's synchronization switches, and drive Cloud Sync's job and provisionOnDemand.
"""

from __future__ import annotations

import asyncio
import ssl
from importlib.util import find_spec
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlparse

import pytest


def installed(module: str) -> bool:
    try:
        return find_spec(module) is not None
    except ModuleNotFoundError:  # a parent package (azure) is missing
        return False


# msgraph-sdk and azure-identity come from tests/requirements.txt; without them the module is skipped
pytestmark = pytest.mark.skipif(not (installed("msgraph") and installed("azure.identity")),
                                reason="msgraph-sdk and azure-identity (tests/requirements.txt) are not installed")


def sdk() -> SimpleNamespace:
    """The SDK's names, imported when a test runs (the module imports without the SDK)."""
    import httpx
    from azure import identity
    from kiota_abstractions.base_request_configuration import RequestConfiguration
    from kiota_authentication_azure.azure_identity_authentication_provider import AzureIdentityAuthenticationProvider
    from msgraph import GraphRequestAdapter, GraphServiceClient
    from msgraph.generated.models.synchronization_job_application_parameters import (
        SynchronizationJobApplicationParameters,
    )
    from msgraph.generated.models.synchronization_job_subject import SynchronizationJobSubject
    from msgraph.generated.models.user import User
    from msgraph.generated.service_principals.item.synchronization.jobs.item.provision_on_demand import (
        provision_on_demand_post_request_body as on_demand,
    )
    from msgraph.generated.users.item.user_item_request_builder import UserItemRequestBuilder
    from msgraph.generated.users.users_request_builder import UsersRequestBuilder
    from msgraph_core import GraphClientFactory
    from msgraph_core.tasks.page_iterator import PageIterator

    return SimpleNamespace(
        httpx=httpx, identity=identity, RequestConfiguration=RequestConfiguration,
        AzureIdentityAuthenticationProvider=AzureIdentityAuthenticationProvider,
        GraphRequestAdapter=GraphRequestAdapter, GraphServiceClient=GraphServiceClient,
        SynchronizationJobApplicationParameters=SynchronizationJobApplicationParameters,
        SynchronizationJobSubject=SynchronizationJobSubject, User=User,
        ProvisionOnDemandPostRequestBody=on_demand.ProvisionOnDemandPostRequestBody,
        UserItemRequestBuilder=UserItemRequestBuilder, UsersRequestBuilder=UsersRequestBuilder,
        GraphClientFactory=GraphClientFactory, PageIterator=PageIterator)


SCENARIOS = Path(__file__).resolve().parents[1] / "lab" / "scenarios"
SCOPES = ["https://graph.microsoft.com/.default"]


def credential(lab_vars: dict, kind: str):
    """azure-identity's credential for the lab app; instance discovery off, TLS verified against the lab CA."""
    identity = sdk().identity
    common = {"authority": lab_vars["authority_host"], "disable_instance_discovery": True,
              "connection_verify": lab_vars["graph_ca_cert"]}
    if kind == "secret":
        return identity.ClientSecretCredential(lab_vars["tenant_id"], lab_vars["client_id"],
                                               lab_vars["client_secret"], **common)
    return identity.CertificateCredential(lab_vars["tenant_id"], lab_vars["client_id"],
                                          certificate_path=lab_vars["lab_client_certificate"], **common)


def graph_client(lab_vars: dict, kind: str = "secret"):
    """GraphServiceClient whose base URL is the lab's Graph; the lab host is the one token audience allowed."""
    names = sdk()
    provider = names.AzureIdentityAuthenticationProvider(
        credential(lab_vars, kind), scopes=SCOPES, allowed_hosts=[urlparse(lab_vars["graph_endpoint"]).hostname])
    tls = ssl.create_default_context(cafile=lab_vars["graph_ca_cert"])
    http = names.GraphClientFactory.create_with_default_middleware(client=names.httpx.AsyncClient(verify=tls))
    adapter = names.GraphRequestAdapter(provider, client=http)
    adapter.base_url = lab_vars["graph_endpoint"].rstrip("/") + "/v1.0"
    return names.GraphServiceClient(request_adapter=adapter)


def users_query(headers: dict | None = None, **parameters):
    names = sdk()
    config = names.RequestConfiguration(
        query_parameters=names.UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(**parameters))
    for name, value in (headers or {}).items():
        config.headers.add(name, value)
    return config


def run(coroutine):
    return asyncio.run(coroutine)


@pytest.fixture(scope="module")
def demo(lab, lab_vars):
    lab.load(SCENARIOS / "demo.yml")
    return lab


@pytest.mark.parametrize("kind", ["secret", "certificate"])
def test_the_page_iterator_lists_every_user_with_select(demo, lab, lab_vars, kind):
    client = graph_client(lab_vars, kind)
    expected = {user["userPrincipalName"] for user in lab.service("entra").emulator.state()["users"]}

    async def every_user() -> list:
        first = await client.users.get(users_query(select=["id", "userPrincipalName", "proxyAddresses"], top=7))
        assert first.odata_next_link, "the demo tenant fills more than one page of 7"
        found: list = []
        iterator = sdk().PageIterator(first, client.request_adapter)
        await iterator.iterate(lambda user: found.append(user) or True)
        return found

    users = run(every_user())
    assert {user.user_principal_name for user in users} == expected
    assert len(users) == len(expected)
    assert all(user.proxy_addresses is not None and user.display_name is None for user in users)


def test_filter_on_proxy_addresses_and_count_with_consistency_level(demo, lab_vars):
    client = graph_client(lab_vars)
    state_user = next(user for user in demo.service("entra").emulator.state()["users"] if user["proxyAddresses"])
    address = state_user["proxyAddresses"][0].partition(":")[2]

    async def queries():
        held = await client.users.get(users_query(filter=f"proxyAddresses/any(p:p eq 'smtp:{address}')",
                                                  select=["id", "userPrincipalName"]))
        counted = await client.users.get(users_query({"ConsistencyLevel": "eventual"}, count=True,
                                                     filter="endsWith(userPrincipalName,'@contoso.com')",
                                                     select=["id"]))
        return held, counted

    held, counted = run(queries())
    assert [user.id for user in held.value] == [state_user["id"]]
    assert counted.odata_count >= len(counted.value) > 0


def test_orderby_and_search_on_users(demo, lab_vars):
    client = graph_client(lab_vars)
    named = next(user for user in demo.service("entra").emulator.state()["users"] if user["displayName"])
    word = named["displayName"].split()[0]

    async def queries():
        ordered = await client.users.get(users_query(orderby=["displayName"], select=["displayName"], top=999))
        searched = await client.users.get(users_query({"ConsistencyLevel": "eventual"},
                                                      search=f'"displayName:{word}"', select=["id", "displayName"]))
        return ordered, searched

    ordered, searched = run(queries())
    names = [user.display_name for user in ordered.value if user.display_name]
    assert names == sorted(names, key=str.casefold)
    assert named["id"] in {user.id for user in searched.value}
    assert all(word.casefold() in user.display_name.casefold() for user in searched.value)


def test_get_by_id_and_by_upn_and_patch_the_immutable_id(demo, lab_vars):
    client, names = graph_client(lab_vars), sdk()
    cloud_only = next(user for user in demo.service("entra").emulator.state()["users"]
                      if not user["onPremisesSyncEnabled"] and not user["onPremisesImmutableId"]
                      and not user["userPrincipalName"].endswith(".onmicrosoft.com"))
    select = names.UserItemRequestBuilder.UserItemRequestBuilderGetQueryParameters(
        select=["id", "userPrincipalName", "onPremisesImmutableId"])

    async def round_trip():
        config = names.RequestConfiguration(query_parameters=select)
        by_id = await client.users.by_user_id(cloud_only["id"]).get(config)
        by_upn = await client.users.by_user_id(cloud_only["userPrincipalName"]).get(config)
        # the SDK serializes "@odata.type": "#microsoft.graph.user" into the PATCH body
        await client.users.by_user_id(by_id.id).patch(names.User(on_premises_immutable_id="U0RLLXBhdGNoZWQ="))
        patched = await client.users.by_user_id(by_id.id).get(config)
        await client.users.by_user_id(by_id.id).patch(names.User(on_premises_immutable_id=None))
        return by_id, by_upn, patched

    by_id, by_upn, patched = run(round_trip())
    assert by_id.user_principal_name == by_upn.user_principal_name == cloud_only["userPrincipalName"]
    assert by_upn.id == cloud_only["id"]
    assert patched.on_premises_immutable_id == "U0RLLXBhdGNoZWQ="


def test_tenant_switches_and_cloud_sync_provision_on_demand(demo, lab, lab_vars):
    client, names = graph_client(lab_vars), sdk()
    sp_id, job_id = lab_vars["lab_sync_service_principal_id"], lab_vars["lab_sync_job_id"]
    scope = lab_vars["lab_scenario_ou"]
    dn = next(ad_user.dn for ad_user in lab.ad_identities().values() if ad_user.dn.endswith(scope))

    async def sync_calls():
        switches = await client.directory.on_premises_synchronization.get()
        jobs = client.service_principals.by_service_principal_id(sp_id).synchronization.jobs
        listed = await jobs.get()
        schema = await jobs.by_synchronization_job_id(job_id).schema.get()
        body = names.ProvisionOnDemandPostRequestBody(parameters=[names.SynchronizationJobApplicationParameters(
            rule_id=schema.synchronization_rules[0].id,
            subjects=[names.SynchronizationJobSubject(object_id=dn, object_type_name="user")])])
        answer = await jobs.by_synchronization_job_id(job_id).provision_on_demand.post(body)
        return switches, listed, answer

    switches, listed, answer = run(sync_calls())
    features = switches.value[0].features
    assert features.soft_match_on_upn_enabled is not None
    assert features.block_soft_match_enabled is not None
    assert [job.id for job in listed.value] == [job_id]
    assert answer.key and answer.value
