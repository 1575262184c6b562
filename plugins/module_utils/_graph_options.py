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
    "client_id": {"type": "str", "required": True, "fallback": (env_fallback, ["AZURE_CLIENT_ID"])},
    "client_secret": {"type": "str", "no_log": True, "fallback": (env_fallback, ["AZURE_CLIENT_SECRET"])},
    "client_certificate": {"type": "path", "fallback": (env_fallback, ["AZURE_CLIENT_CERTIFICATE_PATH"])},
    "authority_host": {
        "type": "str",
        "default": "https://login.microsoftonline.com",
        "fallback": (env_fallback, ["AZURE_AUTHORITY_HOST"]),
    },
    "graph_endpoint": {
        "type": "str",
        "default": "https://graph.microsoft.com",
        "fallback": (env_fallback, ["HYBRID_GRAPH_ENDPOINT"]),
    },
    "graph_ca_cert": {"type": "path", "fallback": (env_fallback, ["HYBRID_GRAPH_CA_CERT"])},
    # No environment fallback on purpose: switching TLS verification off must be visible in the play.
    "graph_validate_certs": {"type": "bool", "default": True},
}
