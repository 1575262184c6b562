# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A test: whether the controller can resolve a module or action by name."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible.plugins.loader import action_loader, module_loader


def action_available(name):
    if not isinstance(name, str) or not name:
        raise AnsibleFilterError(f"action_available: expected a module name such as ansible.windows.win_powershell, "
                                 f"got {name!r}")
    # A task naming an unresolvable action fails the whole play when its file is loaded; this asks first.
    return any(loader.find_plugin_with_context(name).resolved for loader in (action_loader, module_loader))


class TestModule:
    def tests(self):
        return {"action_available": action_available}
