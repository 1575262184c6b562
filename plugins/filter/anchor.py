# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that convert between objectGUID and ImmutableId."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.hybrid.identity.plugins.module_utils.common._anchor import (
    AnchorError,
)
from ansible_collections.hybrid.identity.plugins.module_utils.common._anchor import (
    immutable_id as _immutable_id,
)
from ansible_collections.hybrid.identity.plugins.module_utils.common._anchor import (
    object_guid as _object_guid,
)


def immutable_id(value):
    try:
        return _immutable_id(value)
    except AnchorError as err:
        raise AnsibleFilterError(f"immutable_id: {err}. {err.hint}".strip()) from err


def object_guid(value):
    try:
        return _object_guid(value)
    except AnchorError as err:
        raise AnsibleFilterError(f"object_guid: {err}. {err.hint}".strip()) from err


class FilterModule:
    def filters(self):
        return {"immutable_id": immutable_id, "object_guid": object_guid}
