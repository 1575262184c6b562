"""How the Graph client sets msal up for the public cloud and for any other authority (rule book §8).

No network: the client's own requests session gets a transport that writes down each URL
msal asks for and answers none, so what msal would contact first is seen, and nothing leaves.
"""

import pytest
import requests

from ansible_collections.hybrid.identity.plugins.module_utils.graph._graph import GraphClient, GraphSettings
from ansible_collections.hybrid.identity.plugins.module_utils.graph._graph_auth import msal_options
from ansible_collections.hybrid.identity.plugins.module_utils.graph._graph_errors import GraphUnreachable

CONNECTION = {"tenant_id": "contoso.onmicrosoft.com", "client_id": "app-1", "client_secret": "s"}
PRIVATE = {"authority_host": "https://login.lab.example:8443", "graph_endpoint": "https://graph.lab.example:8443"}


class Offline(requests.adapters.BaseAdapter):
    """A transport with no network behind it: it notes each URL asked for and fails the request."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[str] = []

    def send(self, request, **kwargs):
        self.asked.append(request.url)
        raise requests.exceptions.ConnectionError("offline")

    def close(self) -> None:
        pass


def first_contact(options: dict) -> list[str]:
    """The URLs msal asked for while setting itself up for a token, with nothing answering."""
    offline = Offline()
    with GraphClient(GraphSettings.from_params(CONNECTION | options)) as client:
        client._session.mount("https://", offline)
        with pytest.raises(GraphUnreachable, match="no answer from the identity platform"):
            client.token()
    return offline.asked


@pytest.mark.parametrize(("options", "discovery"), [
    ({}, True),
    ({"authority_host": "https://LOGIN.microsoftonline.com/"}, True),
    ({"authority_host": "https://login.microsoftonline.us", "graph_endpoint": "https://graph.microsoft.us"}, False),
    ({"authority_host": "https://login.chinacloudapi.cn",
      "graph_endpoint": "https://microsoftgraph.chinacloudapi.cn"}, False),
    (PRIVATE, False),
], ids=["public", "public-written-in-capitals", "us-government", "china", "private"])
def test_rule_8_instance_discovery_only_for_the_public_cloud(options, discovery):
    settings = GraphSettings.from_params(CONNECTION | options)
    assert msal_options(settings) == {"authority": f"{settings.authority_host}/contoso.onmicrosoft.com",
                                      "instance_discovery": discovery}


def test_rule_8_a_private_authority_is_the_only_host_msal_contacts():
    assert first_contact(PRIVATE) == [
        "https://login.lab.example:8443/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration"]


def test_the_public_authority_is_asked_for_the_tenant_configuration_through_the_clients_session():
    assert first_contact({}) == [
        "https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration"]


def test_host_names_are_kept_in_lower_case():
    settings = GraphSettings.from_params(CONNECTION | {"graph_endpoint": "https://Graph.Microsoft.COM"})
    assert settings.graph_endpoint == "https://graph.microsoft.com"
