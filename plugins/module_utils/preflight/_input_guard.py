# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The checks every module makes on its options before it reads or writes anything.

Internal to the collection; no stable API. ``control_characters`` and ``insecure_tls_warnings``
are pure; ``ca_file_problems`` reads the CA files named; ``guarded_module`` builds the
AnsibleModule and applies them all: it warns, or fails the task.
"""

from __future__ import annotations

import os
import re
import ssl
import unicodedata
from collections.abc import Iterator, Mapping

from ansible.module_utils import basic

from ansible_collections.hybrid.identity.plugins.module_utils.common._errors import HybridIdentityError

CA_FILE_OPTIONS = ("ad_ca_cert", "graph_ca_cert")

# Switching verification off is visible in the task's output, whichever option does it.
TLS_SWITCHES = {
    "ad_validate_certs": (
        "ad_validate_certs is false: the domain controller's certificate is not verified, so whoever sits between "
        "the controller and it can read the bind credentials and change what is read and written. Set ad_ca_cert "
        "to the CA that issued the certificate and drop ad_validate_certs."
    ),
    "graph_validate_certs": (
        "graph_validate_certs is false: the certificates of Microsoft Graph and the sign-in endpoint are not "
        "verified, so whoever sits in between can read the client secret and the tokens. Set graph_ca_cert to the "
        "CA that vouches for them (an inspecting proxy's CA) and drop graph_validate_certs."
    ),
}


class ControlCharacter(HybridIdentityError):
    """An option value holds a control character: refused before anything is sent to AD or Graph."""


# C0 (NUL, TAB, LF, CR ...) and DEL: no identity, address or lookup value holds one. One search per
# string: the options of a bulk call (thousands of users or pairs) are read in well under a second.
_CONTROL = re.compile("[\x00-\x1f\x7f]")


def _character_name(char: str) -> str:
    names = {0: "NUL", 9: "TAB", 10: "LF", 13: "CR", 127: "DEL"}
    return f"U+{ord(char):04X} {names.get(ord(char)) or unicodedata.name(char, 'control character')}"


def _walk(value, path: str, spec: Mapping | None) -> Iterator[tuple[str, str, int]]:
    """(option path, character, position) of each control character, secrets (no_log) left out."""
    if isinstance(value, str):
        found = _CONTROL.search(value)
        if found:
            yield path, found.group(), found.start()
    elif isinstance(value, Mapping):
        for key, item in value.items():
            option = (spec or {}).get(key) or {}
            if option.get("no_log"):
                continue
            printable = not isinstance(key, str) or not _CONTROL.search(key)
            name = (f"{path}.{key}" if path else str(key)) if printable else f"{path}[{key!r}]"
            if not printable:
                yield from _walk(key, f"{name} (its key)", None)
            yield from _walk(item, name, option.get("options"))
    elif isinstance(value, list | tuple):
        for number, item in enumerate(value):
            yield from _walk(item, f"{path}[{number}]", spec)


def control_characters(params: Mapping, argument_spec: Mapping) -> list[tuple[str, str, int]]:
    """Every option value (nested ones too) holding a C0 control character or DEL; secrets are not looked at."""
    return list(_walk(params, "", argument_spec))


def refuse_control_characters(params: Mapping, argument_spec: Mapping) -> None:
    found = control_characters(params, argument_spec)
    if found:
        path, char, position = found[0]
        more = f" (and {len(found) - 1} other value{'s' if len(found) > 2 else ''})" if len(found) > 1 else ""
        raise ControlCharacter(
            f"{path} holds control characters, first {_character_name(char)} at position {position + 1}{more}; "
            "nothing was sent to Active Directory or Microsoft Graph",
            hint="remove it: identities, addresses and lookup values are printable text (a value pasted from a "
                 "file or a terminal may carry a stray NUL, CR, LF or TAB)",
        )


def insecure_tls_warnings(params: Mapping) -> list[str]:
    """One warning per connection whose certificate verification the options switch off."""
    return [warning for option, warning in TLS_SWITCHES.items() if params.get(option) is False]


def ca_file_problems(params: Mapping) -> list[tuple[str, str]]:
    """(option, problem) for each CA file option naming something that is not a readable PEM bundle."""
    problems = []
    for option in CA_FILE_OPTIONS:
        path = params.get(option)
        if not path:
            continue
        if not os.path.exists(path):
            problems.append((option, f"{option} {path} does not exist"))
        elif not os.path.isfile(path):
            problems.append((option, f"{option} {path} is not a file"))
        else:
            try:
                ssl.create_default_context(cafile=path)
            except (ssl.SSLError, ValueError):
                problems.append((option, f"{option} {path} holds no PEM certificate (it is binary, DER, cut short "
                                         "or not a certificate)"))
            except OSError as err:
                problems.append((option, f"could not read {option} {path}: {err.strerror}"))
    return problems


def guard_input(module) -> None:
    """Warn about TLS verification switched off; fail the task on a control character or an unusable CA file."""
    for warning in insecure_tls_warnings(module.params):
        module.warn(warning)
    try:
        if getattr(module, "control_characters_found", True):  # a guarded module has looked already
            refuse_control_characters(module.params, module.argument_spec)
    except ControlCharacter as err:
        module.fail_json(msg=str(err), hint=err.hint)
    for _option, problem in ca_file_problems(module.params):
        module.fail_json(msg=problem, hint="give a PEM file holding the certificates (-----BEGIN CERTIFICATE----- "
                                           "blocks) of the CA that issued the server's certificate")


class _GuardedModule(basic.AnsibleModule):
    control_characters_found = True   # until _log_invocation has looked

    def _log_invocation(self):
        # syslog refuses a NUL, and AnsibleModule logs the invocation before the module can say why it is refused
        self.control_characters_found = bool(control_characters(self.params, self.argument_spec))
        if not self.control_characters_found:
            super()._log_invocation()


def guarded_module(**kwargs):
    """The module's AnsibleModule, its options checked by ``guard_input`` before anything else happens."""
    module = _GuardedModule(**kwargs)
    guard_input(module)
    return module
