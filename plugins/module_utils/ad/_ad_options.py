# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The AD connection options, defined once and merged into each module's spec.

Internal to the collection; documented for users by the ``hybrid.identity.ad_connection``
doc fragment.
"""

from __future__ import annotations

from ansible.module_utils.basic import env_fallback

AD_CONNECTION_SPEC = {
    # Not required: ad_domain finds the DCs instead (AdSettings asks for one of the two).
    "ad_server": {"type": "list", "elements": "str", "fallback": (env_fallback, ["HYBRID_AD_SERVER"])},
    "ad_domain": {"type": "str", "fallback": (env_fallback, ["HYBRID_AD_DOMAIN"])},
    "ad_dns_server": {"type": "str", "fallback": (env_fallback, ["HYBRID_AD_DNS_SERVER"])},
    "ad_username": {"type": "str", "fallback": (env_fallback, ["HYBRID_AD_USERNAME"])},
    "ad_password": {"type": "str", "no_log": True, "fallback": (env_fallback, ["HYBRID_AD_PASSWORD"])},
    "ad_auth": {
        "type": "str",
        "default": "simple",
        "choices": ["simple", "ntlm", "kerberos"],
        "fallback": (env_fallback, ["HYBRID_AD_AUTH"]),
    },
    "ad_tls": {
        "type": "str",
        "default": "ldaps",
        "choices": ["ldaps", "starttls", "none"],
        "fallback": (env_fallback, ["HYBRID_AD_TLS"]),
    },
    "ad_allow_plaintext": {
        "type": "bool",
        "default": False,
        "fallback": (env_fallback, ["HYBRID_AD_ALLOW_PLAINTEXT"]),
    },
    "ad_ca_cert": {"type": "path", "fallback": (env_fallback, ["HYBRID_AD_CA_CERT"])},
    # No environment fallback on purpose, as for graph_validate_certs: switching TLS verification off must be
    # visible in the play.
    "ad_validate_certs": {"type": "bool", "default": True},
    "ad_base_dn": {"type": "str", "fallback": (env_fallback, ["HYBRID_AD_BASE_DN"])},
    "ad_timeout": {"type": "int", "default": 30, "fallback": (env_fallback, ["HYBRID_AD_TIMEOUT"])},
}
