# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Graph connection options, defined once and merged into each module's spec.

Internal to the collection; documented for users by the ``hybrid.identity.graph_auth``
doc fragment.
"""

from __future__ import annotations

from ansible.module_utils.basic import env_fallback

GRAPH_AUTH_SPEC = {
    "tenant_id": {"type": "str", "required": True, "fallback": (env_fallback, ["AZURE_TENANT_ID"])},
    # Not required: a system-assigned managed identity has none to give (GraphSettings checks the rest).
    "client_id": {"type": "str", "fallback": (env_fallback, ["AZURE_CLIENT_ID"])},
    "client_secret": {"type": "str", "no_log": True, "fallback": (env_fallback, ["AZURE_CLIENT_SECRET"])},
    "client_certificate": {"type": "path", "fallback": (env_fallback, ["AZURE_CLIENT_CERTIFICATE_PATH"])},
    "client_certificate_password": {"type": "str", "no_log": True,
                                    "fallback": (env_fallback, ["AZURE_CLIENT_CERTIFICATE_PASSWORD"])},
    "federated_token_file": {"type": "path", "fallback": (env_fallback, ["AZURE_FEDERATED_TOKEN_FILE"])},
    "managed_identity": {"type": "str", "choices": ["system", "user"],
                         "fallback": (env_fallback, ["HYBRID_GRAPH_MANAGED_IDENTITY"])},
    "cloud": {"type": "str", "choices": ["public", "usgovernment", "usgovernment_dod", "china"],
              "fallback": (env_fallback, ["HYBRID_GRAPH_CLOUD"])},
    # No defaults: the cloud gives them, and an endpoint given here or in the environment wins over it.
    "authority_host": {"type": "str", "fallback": (env_fallback, ["AZURE_AUTHORITY_HOST"])},
    "graph_endpoint": {"type": "str", "fallback": (env_fallback, ["HYBRID_GRAPH_ENDPOINT"])},
    "graph_ca_cert": {"type": "path", "fallback": (env_fallback, ["HYBRID_GRAPH_CA_CERT"])},
    # No environment fallback on purpose: switching TLS verification off must be visible in the play.
    "graph_validate_certs": {"type": "bool", "default": True},
}
