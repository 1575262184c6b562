# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  tenant_id:
    description:
      - The Microsoft Entra tenant, as its ID (a GUID) or one of its verified domains.
      - If not set, the environment variable E(AZURE_TENANT_ID) is used.
    type: str
    required: true
  client_id:
    description:
      - The application (client) ID of the app registration the module signs in as.
      - The app needs Microsoft Graph B(application) permissions with admin consent; each module says which.
      - If not set, the environment variable E(AZURE_CLIENT_ID) is used.
    type: str
    required: true
  client_secret:
    description:
      - A client secret of the app registration, its value (not its ID).
      - Give exactly one of O(client_secret) and O(client_certificate).
      - If not set, the environment variable E(AZURE_CLIENT_SECRET) is used.
    type: str
  client_certificate:
    description:
      - The path of a PEM file on the controller holding the unencrypted private key and the certificate
        that is uploaded to the app registration.
      - The module signs its token request with the key; the secret never leaves the controller.
      - Give exactly one of O(client_secret) and O(client_certificate).
      - If not set, the environment variable E(AZURE_CLIENT_CERTIFICATE_PATH) is used.
    type: path
  authority_host:
    description:
      - The Microsoft identity platform of the tenant's cloud, scheme and host only.
      - V(https://login.microsoftonline.com) for the global cloud, V(https://login.microsoftonline.us)
        for US Government, V(https://login.chinacloudapi.cn) for the cloud operated by 21Vianet in China.
      - Set it together with O(graph_endpoint); both must name the same cloud.
      - If not set, the environment variable E(AZURE_AUTHORITY_HOST) is used.
    type: str
    default: https://login.microsoftonline.com
  graph_endpoint:
    description:
      - The Microsoft Graph service root of the tenant's cloud, scheme and host only (no V(/v1.0)).
      - V(https://graph.microsoft.com) for the global cloud, V(https://graph.microsoft.us) for US Government
        L4 (GCC High; V(https://dod-graph.microsoft.us) for L5, DoD), V(https://microsoftgraph.chinacloudapi.cn)
        for the cloud operated by 21Vianet in China.
      - The token is requested for this host's C(/.default) scope.
      - If not set, the environment variable E(HYBRID_GRAPH_ENDPOINT) is used.
    type: str
    default: https://graph.microsoft.com
  graph_ca_cert:
    description:
      - A PEM file with the CA certificates that vouch for O(authority_host) and O(graph_endpoint), for example
        those of a TLS-inspecting proxy.
      - When not set, the controller's default trust store is used (or E(REQUESTS_CA_BUNDLE) when set).
      - A file that does not exist or holds no PEM certificate fails the task before any request.
      - If not set, the environment variable E(HYBRID_GRAPH_CA_CERT) is used.
    type: path
  graph_validate_certs:
    description:
      - Check the certificates of O(authority_host) and O(graph_endpoint).
      - Turning this off exposes the credential and the tokens to anyone who can intercept the connection; every
        task that turns it off warns so. It has no environment variable, so that it is always visible in the play.
    type: bool
    default: true
requirements:
  - msal >= 1.35 and requests on the controller
notes:
  - The options can be set once for a play with C(module_defaults) and the action group
    C(group/hybrid.identity.graph).
  - Requests that Graph throttles (429) or that fail for a moment (503, 504, dropped connections) are
    retried a bounded number of times, after the wait Graph asks for in C(Retry-After), else after an
    exponential backoff with jitter.
"""
