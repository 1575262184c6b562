# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The checks every module makes on its options before it reads or writes anything.

Internal to the collection; no stable API. ``control_characters`` and ``insecure_tls_warnings``
are pure; ``guard_input`` applies both to an AnsibleModule: it warns, or fails the task.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Mapping

from ansible_collections.hybrid.identity.plugins.module_utils._errors import HybridIdentityError

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


def _is_control(char: str) -> bool:
    # C0 (NUL, TAB, LF, CR ...) and DEL: no identity, address or lookup value holds one
    return ord(char) < 32 or ord(char) == 127


def _character_name(char: str) -> str:
    names = {0: "NUL", 9: "TAB", 10: "LF", 13: "CR", 127: "DEL"}
    return f"U+{ord(char):04X} {names.get(ord(char)) or unicodedata.name(char, 'control character')}"


def _walk(value, path: str, spec: Mapping | None) -> Iterator[tuple[str, str, int]]:
    """(option path, character, position) of each control character, secrets (no_log) left out."""
    if isinstance(value, str):
        for position, char in enumerate(value):
            if _is_control(char):
                yield path, char, position
                return
    elif isinstance(value, Mapping):
        for key, item in value.items():
            option = (spec or {}).get(key) or {}
            if option.get("no_log"):
                continue
            name = f"{path}.{key}" if path else str(key)
            if isinstance(key, str):
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


def guard_input(module) -> None:
    """Warn about TLS verification switched off; fail the task on a control character in any option."""
    for warning in insecure_tls_warnings(module.params):
        module.warn(warning)
    try:
        refuse_control_characters(module.params, module.argument_spec)
    except ControlCharacter as err:
        module.fail_json(msg=str(err), hint=err.hint)
