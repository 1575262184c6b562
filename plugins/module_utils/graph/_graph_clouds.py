# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Microsoft clouds by name: the identity platform and Microsoft Graph of each (internal to the collection).

Hosts as Microsoft lists them in "National cloud deployments" (Microsoft Graph documentation):
https://learn.microsoft.com/graph/deployments
"""

from __future__ import annotations

from typing import NamedTuple

PUBLIC_AUTHORITY_HOST = "https://login.microsoftonline.com"
PUBLIC_GRAPH_ENDPOINT = "https://graph.microsoft.com"


class Cloud(NamedTuple):
    authority_host: str
    graph_endpoint: str


CLOUDS = {
    "public": Cloud(PUBLIC_AUTHORITY_HOST, PUBLIC_GRAPH_ENDPOINT),
    # US Government L4 (GCC High) and L5 (DoD) share the identity platform; each has its own Graph.
    "usgovernment": Cloud("https://login.microsoftonline.us", "https://graph.microsoft.us"),
    "usgovernment_dod": Cloud("https://login.microsoftonline.us", "https://dod-graph.microsoft.us"),
    # Microsoft Entra ID operated by 21Vianet.
    "china": Cloud("https://login.chinacloudapi.cn", "https://microsoftgraph.chinacloudapi.cn"),
}
