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
      - The application (client) ID of the app registration the module signs in as; with
        O(managed_identity=user), the client ID of the user-assigned managed identity.
      - The app needs Microsoft Graph B(application) permissions with admin consent; each module says which.
      - Required, except with O(managed_identity=system).
      - If not set, the environment variable E(AZURE_CLIENT_ID) is used.
    type: str
  client_secret:
    description:
      - A client secret of the app registration, its value (not its ID).
      - Give exactly one of O(client_secret), O(client_certificate), O(federated_token_file) and
        O(managed_identity).
      - If not set, the environment variable E(AZURE_CLIENT_SECRET) is used.
    type: str
  client_certificate:
    description:
      - The path of a file on the controller holding the private key and the certificate that is uploaded to
        the app registration, either PEM (key and certificate in one file) or PKCS#12 (C(.pfx), C(.p12)); the
        content decides which.
      - The key must be RSA. When it is encrypted (an encrypted PEM key, or a PKCS#12 file with a password),
        give its password in O(client_certificate_password).
      - The module signs its token request with the key; the key never leaves the controller.
      - If not set, the environment variable E(AZURE_CLIENT_CERTIFICATE_PATH) is used.
    type: path
  client_certificate_password:
    description:
      - The password of the private key in O(client_certificate).
      - If not set, the environment variable E(AZURE_CLIENT_CERTIFICATE_PASSWORD) is used.
    type: str
  federated_token_file:
    description:
      - Workload identity federation. The path of a file holding a token from an issuer the app registration
        trusts through a federated identity credential (the service account token of AKS workload identity,
        the OIDC token of a CI system); it is sent as the client assertion instead of a secret.
      - The file is read again for every token request, since the platform replaces it before it expires.
      - On AKS with workload identity, the platform sets E(AZURE_FEDERATED_TOKEN_FILE), E(AZURE_CLIENT_ID),
        E(AZURE_TENANT_ID) and E(AZURE_AUTHORITY_HOST), so no option needs to be given.
      - If not set, the environment variable E(AZURE_FEDERATED_TOKEN_FILE) is used.
    type: path
  managed_identity:
    description:
      - Sign in as the managed identity of the host the module runs on (the controller, or the execution
        environment's node), with no secret at all.
      - V(system) uses the host's system-assigned identity; V(user) a user-assigned identity, named by its
        client ID in O(client_id).
      - The endpoint comes from the environment, as the Azure SDKs find it; E(IDENTITY_ENDPOINT) and
        E(IDENTITY_HEADER) where the platform sets them (App Service, Functions, Container Apps), else the
        instance metadata service of an Azure VM.
      - The token's tenant must be O(tenant_id) when that is a GUID.
      - If not set, the environment variable E(HYBRID_GRAPH_MANAGED_IDENTITY) is used.
    type: str
    choices: [system, user]
  cloud:
    description:
      - The Microsoft cloud of the tenant; it sets O(authority_host) and O(graph_endpoint) together.
      - V(public) is C(https://login.microsoftonline.com) and C(https://graph.microsoft.com);
        V(usgovernment) (L4, GCC High) C(https://login.microsoftonline.us) and C(https://graph.microsoft.us);
        V(usgovernment_dod) (L5, DoD) C(https://login.microsoftonline.us) and C(https://dod-graph.microsoft.us);
        V(china) (operated by 21Vianet) C(https://login.chinacloudapi.cn) and
        C(https://microsoftgraph.chinacloudapi.cn).
      - O(authority_host) and O(graph_endpoint), when given (or set in their environment variables), win over it.
      - When neither is given, the public cloud.
      - If not set, the environment variable E(HYBRID_GRAPH_CLOUD) is used.
    type: str
    choices: [public, usgovernment, usgovernment_dod, china]
  authority_host:
    description:
      - The Microsoft identity platform of the tenant's cloud, scheme and host only; a bare host such as
        C(login.microsoftonline.us) (the form of azure-identity's constants) is taken as https.
      - When not set, the one of O(cloud).
      - Set it together with O(graph_endpoint); both must name the same cloud.
      - If not set, the environment variable E(AZURE_AUTHORITY_HOST) is used.
    type: str
  graph_endpoint:
    description:
      - The Microsoft Graph service root of the tenant's cloud, scheme and host only (no V(/v1.0)); a bare host
        is taken as https.
      - When not set, the one of O(cloud).
      - The token is requested for this host's C(/.default) scope.
      - If not set, the environment variable E(HYBRID_GRAPH_ENDPOINT) is used.
    type: str
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
