# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The on-prem users a source-of-authority transfer would create, as soft_match_check's onprem_users data."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

# A planned user has no objectGUID yet; a name-based one stands in, stable between runs and unlike any real one.
PLANNED_GUID_NAMESPACE = uuid.UUID("6f6e626f-6172-6465-6470-6c616e6e6564")


def planned_transfers(created):
    planned = []
    for position, item in enumerate(created or ()):
        if not isinstance(item, Mapping) or not isinstance(item.get("attributes"), Mapping):
            raise AnsibleFilterError(f"planned_transfers: created[{position}] is not an entry of ad_user_from_cloud's "
                                     "created list (it needs distinguished_name and attributes)")
        dn = item.get("distinguished_name")
        planned.append(dict(item["attributes"]) | {
            "distinguishedName": dn, "objectGUID": str(uuid.uuid5(PLANNED_GUID_NAMESPACE, str(dn).casefold()))})
    return planned


class FilterModule:
    def filters(self):
        return {"planned_transfers": planned_transfers}
