# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
attributes:
  check_mode:
    support: full
    description: Reads and plans everything, writes nothing, and reports what would change.
  diff_mode:
    support: full
    description: Shows the before and after of each changed object.
  platform:
    support: full
    platforms: posix
    description: Runs on the controller, which talks to the directory over the network.
notes:
  - A control character (NUL, TAB, CR, LF, any other below U+0020, or DEL) in any option value, nested values
    included, fails the task before anything is sent to Active Directory or Microsoft Graph; secrets are not
    looked at.
"""

    READ_ONLY = r"""
attributes:
  check_mode:
    support: full
    description: The module only reads, so check mode runs it in full.
  diff_mode:
    support: none
    description: Nothing changes, so there is nothing to diff.
  platform:
    support: full
    platforms: posix
    description: Runs on the controller, which talks to the services over the network.
notes:
  - A control character (NUL, TAB, CR, LF, any other below U+0020, or DEL) in any option value, nested values
    included, fails the task before anything is sent to Active Directory or Microsoft Graph; secrets are not
    looked at.
"""
