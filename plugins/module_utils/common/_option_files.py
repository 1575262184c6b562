# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read the file a module option names, or say why it can't be read.

Internal to the collection; no stable API. Each failure is a ``ConfigurationError`` naming the
option and the path, so a module refuses a missing file, a directory or an unreadable file
before it reads or writes anything else.
"""

from __future__ import annotations

from ansible_collections.hybrid.identity.plugins.module_utils.common._errors import ConfigurationError


def read_option_file(path: str, option: str, missing_hint: str) -> bytes:
    """The bytes of the file ``option`` names at ``path``."""
    try:
        with open(path, "rb") as named:
            return named.read()
    except FileNotFoundError as err:
        raise ConfigurationError(f"{option} {path} does not exist", hint=missing_hint) from err
    except IsADirectoryError as err:
        raise ConfigurationError(f"{option} {path} is a directory", hint="give the path of the file itself") from err
    except OSError as err:
        raise ConfigurationError(f"could not read {option} {path}: {err.strerror}",
                                 hint="check that the user running the module may read it") from err
