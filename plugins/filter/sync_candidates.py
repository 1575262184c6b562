# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The users of a soft_match_check prediction that a careful sync takes, with what to verify afterwards."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.hybrid.identity.plugins.module_utils.common._errors import ConfigurationError
from ansible_collections.hybrid.identity.plugins.module_utils.sync._sync_candidates import (
    sync_candidates as _sync_candidates,
)


def sync_candidates(results, accept=None, new_users=True):
    try:
        new_users = boolean(new_users, strict=True)  # "false" from -e is false, as Ansible reads a bool
    except TypeError as err:
        raise AnsibleFilterError(f"sync_candidates: new_users must be a boolean, not {new_users!r}") from err
    try:
        return _sync_candidates(results, accept or (), new_users)
    except ConfigurationError as err:
        raise AnsibleFilterError(f"sync_candidates: {err}. {err.hint}".strip()) from err


class FilterModule:
    def filters(self):
        return {"sync_candidates": sync_candidates}
