# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The proxyAddresses value model (rule book §1): parse, validate, compare the AD way and plan exact changes.

Internal to the hybrid.identity collection: not a public API, it may change without notice.

The proxyAddresses value model of the rule book (§1): parse values, validate them with the
rules Microsoft 365 directory synchronization and IdFix apply, compare them the way Active
Directory does (case-insensitively), keep one primary per type, and plan a change as the
exact stored values to delete and the values to add in one LDAP modify.

Pure: standard library only, no Ansible, no I/O.

Decisions beyond the rule book, each written where it is applied:
- SMTP addresses follow the RFC 5322 dot-atom form only: no quoted local parts, no
  comments, no domain literals (their characters are forbidden in §1 anyway).
- "Routable" is checked by syntax plus a deny list of suffixes that never resolve on the
  internet, not by an allow list of top-level domains, which goes stale.
- X500 and X400 values follow IdFix 2.3 and later: spaces and parentheses are part of
  legacy Exchange DNs and are valid there; tabs, line breaks, `[ ] "` are not.
- The apostrophe is valid everywhere (RFC 5322 atext, Entra UPN character set), although
  IdFix 2.2 and later flag it.
- X500 values have no primary: Exchange keeps every former legacyExchangeDN as an X500
  value, so several upper-case `X500:` values are normal and their prefix case is cosmetic.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

SMTP = "SMTP"
X500 = "X500"
X400 = "X400"

MAX_VALUE_LENGTH = 256
MAX_VALUES = 300
SMTP_PREFIX_LENGTH = len("smtp:")
MAX_SMTP_ADDRESS_LENGTH = MAX_VALUE_LENGTH - SMTP_PREFIX_LENGTH
MAX_LOCAL_PART_LENGTH = 64
MAX_DOMAIN_LENGTH = 253
MAX_LABEL_LENGTH = 63
MAX_UPN_LENGTH = 113
MAX_UPN_PREFIX_LENGTH = 64
MAX_UPN_SUFFIX_LENGTH = 48

SMTP_FORBIDDEN = frozenset('<>();,[]"')
# ';' separates the fields of X.400 and EUM addresses, so only SMTP forbids it (as IdFix does).
OTHER_TYPE_FORBIDDEN = frozenset('<>(),[]"')
DN_TYPE_FORBIDDEN = frozenset('[]"')
UPN_FORBIDDEN = frozenset('\\%&*+/=?{}|<>();:,[]"')
# Types whose values are directory names: a plain space and parentheses belong to them.
DN_TYPES = frozenset({X500, X400})

# Suffixes that never resolve on the internet: private-use names in wide use (.local,
# .lan, .corp, .home, .internal ...) and the names RFC 2606 and RFC 6761 reserve.
NON_ROUTABLE_SUFFIXES = frozenset({
    "local", "localdomain", "localhost", "lan", "home", "corp", "mail", "internal",
    "intranet", "intra", "private", "priv", "loc", "test", "example", "invalid", "onion",
    "alt", "arpa",
})

_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_DOT_ATOM = re.compile(rf"{_ATEXT}+(?:\.{_ATEXT}+)*")
_ATEXT_CHARS = re.compile(_ATEXT)
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?")
_TOP_LEVEL_DOMAIN = re.compile(r"[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59}")
_TYPED_VALUE = re.compile(r"([A-Za-z0-9]+):(.*)", re.DOTALL)

HINTS = {
    "empty_address": "Give the address, or leave the entry out.",
    "max_length": "Shorten it to fit the limit.",
    "whitespace": "Remove the spaces, tabs and line breaks.",
    "forbidden_character": "Remove the characters listed or replace them, for example with '-' or '_'.",
    "non_ascii": "Replace accented and other non-ASCII characters with plain ASCII letters.",
    "missing_at": "Write it as local-part@domain.",
    "addr_spec": "Use letters, digits and ! # $ % & ' * + - / = ? ^ _ ` { | } ~ with single dots "
    "between them before the '@', and dot-separated labels of letters, digits and hyphens after it.",
    "unroutable_domain": "Use an address in an internet domain that is verified in the tenant.",
    "prefix_too_long": "Shorten the part before the '@'.",
    "suffix_too_long": f"Use a UPN suffix of at most {MAX_UPN_SUFFIX_LENGTH} characters.",
    "prefix_ends_with_dot": "Remove the dot before the '@'.",
    "empty_prefix": "Put the user's name before the '@'.",
    "empty_suffix": "Put a domain after the '@'.",
    "multiple_at": "Keep exactly one '@'.",
    "no_type": "Prefix the value with its type, for example 'smtp:', 'X500:' or 'SIP:'.",
    "two_primaries": "Keep one upper-case prefix per type; write the others with a lower-case "
    "prefix (for example 'smtp:') or remove them.",
    "duplicate_value": "Keep one of them: Active Directory compares values case-insensitively.",
    "too_many_addresses": f"Remove addresses that are no longer needed, to stay within {MAX_VALUES}.",
    "not_smtp": "Give an SMTP address, bare or with the 'smtp:' prefix.",
    "smtp_in_other_addresses": "Manage SMTP addresses with primary_smtp and secondary_smtp.",
    "remove_primary": "Name another primary in primary_smtp first, or leave the address in place.",
    "conflicting_request": "Name the address in add or in remove, not in both.",
    "not_a_list": "Give a list of strings.",
    "not_a_string": "Give the value as a string.",
}


class AddressError(ValueError):
    """Bad input: carries .rule (the rule broken), .value (the value or None) and .hint (what to do)."""

    def __init__(self, rule: str, value: str | None, problem: str, hint: str | None = None):
        self.rule = rule
        self.value = value
        self.problem = problem
        self.hint = hint if hint is not None else HINTS.get(rule, "")
        super().__init__(f"{problem} (rule {rule}).")


@dataclass(frozen=True, slots=True)
class Violation:
    """One rule broken by one value: `code` is the finding code, `rule` the rule broken."""

    code: str
    rule: str
    value: str
    message: str


# --- values ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class ProxyAddress:
    """One proxyAddresses value: `kind` upper-cased, `address` as written, `primary` from the prefix case."""

    kind: str
    address: str
    primary: bool = False
    # what Active Directory compares: the whole value, case-insensitively (rule book §1); computed once, as
    # every index, comparison and hash reads it
    key: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        kind = self.kind.upper()
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "key", f"{kind}:{self.address}".lower())

    @classmethod
    def parse(cls, value: str) -> ProxyAddress:
        if isinstance(value, str):
            prefix, colon, address = value.partition(":")
            # the type is ASCII letters and digits before the first ':'
            if colon and prefix.isascii() and prefix.isalnum():
                # rule book §1: an upper-case type marks the primary address of that type
                return cls(prefix, address, prefix.isupper())
        raise AddressError("no_type", value, f"Proxy address {value!r} has no type prefix such as 'smtp:'")

    @classmethod
    def smtp(cls, address: str, primary: bool = False) -> ProxyAddress:
        return cls(SMTP, address, primary)

    @property
    def is_smtp(self) -> bool:
        return self.kind == SMTP

    def as_primary(self) -> ProxyAddress:
        return self if self.primary else ProxyAddress(self.kind, self.address, True)

    def as_secondary(self) -> ProxyAddress:
        return ProxyAddress(self.kind, self.address, False) if self.primary else self

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ProxyAddress):
            return NotImplemented
        return self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)

    def __str__(self) -> str:
        prefix = self.kind if self.primary else self.kind.lower()
        return f"{prefix}:{self.address}"


def parse_or_none(value: str) -> ProxyAddress | None:
    """One proxyAddresses value parsed, or None when it has no type prefix (validation reports it)."""
    try:
        return ProxyAddress.parse(value)
    except AddressError:
        return None


# --- validation -----------------------------------------------------------------------------
# The checks return (rule, problem) pairs; the public validators turn them into Violations
# and request checks into AddressErrors, so both say the same thing.

Problem = tuple[str, str]


def _shown(chars: Iterable[str]) -> str:
    return " ".join(repr(c) for c in sorted(set(chars)))


# Printable ASCII without (or with) the space: no whitespace, control or non-ASCII character can be in it.
_PRINTABLE = re.compile(r"[!-~]*")
_PRINTABLE_OR_SPACE = re.compile(r"[ -~]*")


def _is_control(char: str) -> bool:
    """ASCII control characters other than whitespace (whitespace has its own rule)."""
    return (ord(char) < 32 or ord(char) == 127) and not char.isspace()


def _character_problems(value: str, subject: str, forbidden: frozenset[str],
                        space_allowed: bool = False) -> list[Problem]:
    """Whitespace, non-ASCII and forbidden characters (rule book §1, IdFix's character rules)."""
    if (_PRINTABLE_OR_SPACE if space_allowed else _PRINTABLE).fullmatch(value) and forbidden.isdisjoint(value):
        return []  # the common case, decided without looking at each character in Python
    problems = []
    spaces = [c for c in value if c.isspace() and not (space_allowed and c == " ")]
    if spaces:
        problems.append(("whitespace", f"{subject} contains whitespace ({_shown(spaces)})"))
    non_ascii = [c for c in value if ord(c) > 127]
    if non_ascii:
        problems.append(("non_ascii", f"{subject} contains non-ASCII characters ({_shown(non_ascii)})"))
    bad = [c for c in value if c in forbidden or _is_control(c)]
    if bad:
        problems.append(("forbidden_character", f"{subject} contains characters that are not allowed "
                                                f"({_shown(bad)})"))
    return problems


def _local_part_problem(local: str) -> str | None:
    """RFC 5322 dot-atom: atext runs separated by single dots (quoted local parts are not accepted)."""
    if not local:
        return "has nothing before the '@'"
    if local.startswith(".") or local.endswith(".") or ".." in local:
        return "has a dot at the start or end of the local part, or two dots in a row"
    if not _DOT_ATOM.fullmatch(local):
        bad = [c for c in local if c != "." and not _ATEXT_CHARS.fullmatch(c)]
        return f"has characters the local part can't hold ({_shown(bad)})"
    return None


# A tenant's users share a few domains: each is checked once (bounded, as the values are anyone's input)
@functools.lru_cache(maxsize=4096)
def _domain_problem(domain: str) -> str | None:
    """A host name: dot-separated letter-digit-hyphen labels (RFC 5322 dot-atom, RFC 1035 labels)."""
    if not domain:
        return "has nothing after the '@'"
    if len(domain) > MAX_DOMAIN_LENGTH:
        return f"has a domain longer than {MAX_DOMAIN_LENGTH} characters"
    for label in domain.split("."):
        if not label:
            return f"has an empty label in domain {domain!r} (a dot at the start or end, or two in a row)"
        if len(label) > MAX_LABEL_LENGTH:
            return f"has a domain label longer than {MAX_LABEL_LENGTH} characters"
        if not _LABEL.fullmatch(label):
            return f"has domain label {label!r}, which is not letters, digits and inner hyphens"
    return None


@functools.lru_cache(maxsize=4096)
def _unroutable_reason(domain: str) -> str | None:
    """Rule book §1: the domain must be routable (not single-label, not .local, .lan, .corp ...)."""
    labels = domain.lower().split(".")
    top = labels[-1]
    if not top:
        return None  # empty or dotted wrongly: the domain syntax check reports it
    if len(labels) == 1:
        return f"has the single-label domain {domain!r}, which is not routable on the internet"
    if all(label.isdigit() for label in labels):
        return f"has {domain!r}, an IP address rather than a domain name"
    if top in NON_ROUTABLE_SUFFIXES:
        return f"has domain {domain!r}; the suffix '.{top}' is private or reserved and not routable on the internet"
    if not _TOP_LEVEL_DOMAIN.fullmatch(top):
        return f"has domain {domain!r}, whose top-level domain '.{top}' does not exist on the internet"
    return None


def _smtp_address_problems(address: str, subject: str, check_length: bool = True) -> list[Problem]:
    """Rule book §1 for an SMTP address: characters, RFC 5322 addr-spec, routable domain."""
    if not address:
        return [("empty_address", f"{subject} is empty")]
    problems = []
    if check_length and len(address) > MAX_SMTP_ADDRESS_LENGTH:
        problems.append(("max_length", f"{subject} has {len(address)} characters; with its 'smtp:' prefix "
                                       f"it must fit in {MAX_VALUE_LENGTH}"))
    character_problems = _character_problems(address, subject, SMTP_FORBIDDEN)
    problems += character_problems
    local, at, domain = address.rpartition("@")
    if not at:
        problems.append(("missing_at", f"{subject} has no '@'"))
        return problems
    if not character_problems:  # a bad character already explains why the syntax fails
        syntax = _local_part_problem(local) or _domain_problem(domain)
        if syntax:
            problems.append(("addr_spec", f"{subject} is not an RFC 5322 address: it {syntax}"))
    if len(local) > MAX_LOCAL_PART_LENGTH:
        # RFC 5321 §4.5.3.1.1: a local part holds at most 64 characters
        problems.append(("prefix_too_long", f"{subject} has {len(local)} characters before the '@'; "
                                            f"at most {MAX_LOCAL_PART_LENGTH} are allowed"))
    unroutable = _unroutable_reason(domain)
    if unroutable:
        problems.append(("unroutable_domain", f"{subject} {unroutable}"))
    return problems


def _proxy_value_problems(value: str, proxy: ProxyAddress | None = None) -> list[Problem]:
    """Rule book §1 for one typed value; the character rules depend on its type. `proxy`: the value parsed."""
    subject = f"Proxy address {value!r}"
    problems = []
    if len(value) > MAX_VALUE_LENGTH:
        problems.append(("max_length", f"{subject} has {len(value)} characters, more than {MAX_VALUE_LENGTH}"))
    if proxy is None:
        try:
            proxy = ProxyAddress.parse(value)
        except AddressError as err:
            return [*problems, (err.rule, err.problem)]
    if not proxy.address:
        return [*problems, ("empty_address", f"{subject} has no address after its type")]
    if proxy.is_smtp:
        return problems + _smtp_address_problems(proxy.address, subject, check_length=False)
    if proxy.kind in DN_TYPES:
        # IdFix 2.3+: X500/X400 DNs hold spaces and parentheses ("(FYDIBOHF23SPDLT)")
        return problems + _character_problems(proxy.address, subject, DN_TYPE_FORBIDDEN, space_allowed=True)
    return problems + _character_problems(proxy.address, subject, OTHER_TYPE_FORBIDDEN)


def _upn_problems(upn: str) -> list[Problem]:
    """Rule book §1 for userPrincipalName (IdFix's UPN rules, without its apostrophe check)."""
    subject = f"User principal name {upn!r}"
    if not upn:
        return [("missing_at", "User principal name is empty")]
    problems = []
    if len(upn) > MAX_UPN_LENGTH:
        problems.append(("max_length", f"{subject} has {len(upn)} characters, more than {MAX_UPN_LENGTH}"))
    problems += _character_problems(upn, subject, UPN_FORBIDDEN)
    prefix, at, suffix = upn.partition("@")
    if not at:
        return [*problems, ("missing_at", f"{subject} has no '@'")]
    if not prefix:
        problems.append(("empty_prefix", f"{subject} starts with the '@'"))
    if "@" in suffix:
        problems.append(("multiple_at", f"{subject} has more than one '@'"))
    if len(prefix) > MAX_UPN_PREFIX_LENGTH:
        problems.append(("prefix_too_long", f"{subject} has {len(prefix)} characters before the '@', "
                                            f"more than {MAX_UPN_PREFIX_LENGTH}"))
    if len(suffix) > MAX_UPN_SUFFIX_LENGTH:
        problems.append(("suffix_too_long", f"{subject} has {len(suffix)} characters after the '@', "
                                            f"more than {MAX_UPN_SUFFIX_LENGTH}"))
    if prefix.endswith("."):
        problems.append(("prefix_ends_with_dot", f"{subject} has a dot right before the '@'"))
    if not suffix:
        problems.append(("empty_suffix", f"{subject} has nothing after the '@'"))
    return problems


def _violations(code: str, value: str, problems: list[Problem]) -> list[Violation]:
    return [Violation(code, rule, value, f"{problem}. {HINTS[rule]}") for rule, problem in problems]


def validate_smtp_address(address: str) -> list[Violation]:
    """Rule book §1 for a bare SMTP address (a `mail` value, or what follows 'smtp:')."""
    return _violations("invalid_proxy_address", address,
                       _smtp_address_problems(address, f"SMTP address {address!r}"))


def validate_proxy_address(value: str) -> list[Violation]:
    """Rule book §1 for one typed proxyAddresses value; SMTP values are also checked as addresses."""
    return _violations("invalid_proxy_address", value, _proxy_value_problems(value))


def validate_mail_nickname(nickname: str) -> str | None:
    """What is wrong with an Exchange alias (mailNickname), or None: a local part of at most 64 characters."""
    if len(nickname) > 64:
        return "is longer than 64 characters"
    if "@" in nickname:
        return "holds an '@'; give the part before it"
    return _local_part_problem(nickname)


def validate_upn(upn: str) -> list[Violation]:
    """Rule book §1 for a userPrincipalName. Suffix routability is left to verified-domain checks (§2)."""
    return _violations("invalid_upn", upn, _upn_problems(upn))


def _primaries_by_kind(values: Iterable[str]) -> dict[str, list[str]]:
    """Upper-case values per type; X500 has no primary, so it is left out."""
    primaries: dict[str, list[str]] = {}
    for value in values:
        proxy = parse_or_none(value)
        if proxy is not None and proxy.primary and proxy.kind != X500:
            primaries.setdefault(proxy.kind, []).append(value)
    return primaries


def _two_primaries_violation(kind: str, values: list[str]) -> Violation:
    if kind == SMTP:
        # rule book §9.2: several SMTP: values make the object invalid for matching
        return Violation("multiple_primary_smtp", "two_primaries", ", ".join(values),
                         f"There are {len(values)} primary SMTP addresses ({', '.join(values)}); exactly one "
                         f"'SMTP:' value is expected. {HINTS['two_primaries']}")
    return Violation("invalid_proxy_address", "two_primaries", ", ".join(values),
                     f"There are {len(values)} primary {kind} addresses ({', '.join(values)}). "
                     f"{HINTS['two_primaries']}")


def _too_many_violation(count: int) -> Violation:
    return Violation("too_many_addresses", "too_many_addresses", str(count),
                     f"The user has {count} proxy addresses; with more than {MAX_VALUES} the export fails "
                     f"for size. {HINTS['too_many_addresses']}")


def validate_proxy_addresses(values: Iterable[str],
                             parsed: Iterable[ProxyAddress | None] | None = None) -> list[Violation]:
    """Rule book §1 for a whole proxyAddresses attribute: each value, one primary per type, size.

    `parsed`: the values already parsed (`parse_or_none`, in the same order), so none is parsed twice."""
    values = list(values)
    proxies = list(map(parse_or_none, values)) if parsed is None else list(parsed)
    violations = []
    seen: dict[str, str] = {}
    duplicates = []
    primaries: dict[str, list[str]] = {}
    for value, proxy in zip(values, proxies, strict=True):
        if proxy is None:
            violations += _violations("invalid_proxy_address", value, _proxy_value_problems(value))
            key = value.lower()
        else:
            violations += _violations("invalid_proxy_address", value, _proxy_value_problems(value, proxy))
            key = proxy.key
            if proxy.primary and proxy.kind != X500:
                # X500 has no primary (see the module docstring)
                primaries.setdefault(proxy.kind, []).append(value)
        if key in seen:
            duplicates.append(Violation("invalid_proxy_address", "duplicate_value", value,
                                        f"Proxy address {value!r} repeats {seen[key]!r}. "
                                        f"{HINTS['duplicate_value']}"))
        else:
            seen[key] = value
    violations += duplicates
    violations += [_two_primaries_violation(kind, found) for kind, found in primaries.items() if len(found) > 1]
    if len(values) > MAX_VALUES:
        violations.append(_too_many_violation(len(values)))
    return violations


def _key_of(value: str) -> str:
    proxy = parse_or_none(value)
    return proxy.key if proxy is not None else value.lower()


# --- the request ----------------------------------------------------------------------------


def _raise_first(option: str, value: str, problems: list[Problem]) -> None:
    if problems:
        rule, problem = problems[0]
        raise AddressError(rule, value, f"{option}: {problem}")


def _as_strings(values: object, option: str) -> tuple[str, ...]:
    if values is None:
        return ()
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise AddressError("not_a_list", repr(values), f"{option} must be a list, not {values!r}")
    for value in values:
        if not isinstance(value, str):
            raise AddressError("not_a_string", repr(value), f"{option} holds {value!r}, which is not a string")
    return tuple(values)


@dataclass(frozen=True, slots=True)
class ListChange:
    """A multi-valued option as in microsoft.ad: add, remove, or set (authoritative when not None)."""

    add: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()
    set: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "add", _as_strings(self.add, "add"))
        object.__setattr__(self, "remove", _as_strings(self.remove, "remove"))
        if self.set is not None:
            object.__setattr__(self, "set", _as_strings(self.set, "set"))

    @classmethod
    def from_param(cls, param: Mapping | None, option: str) -> ListChange:
        """An Ansible suboption dict (keys add, remove, set; each a list or None) or None."""
        if param is None:
            return cls()
        if not isinstance(param, Mapping):
            raise AddressError("not_a_list", repr(param), f"{option} must be a dict with add, remove or set")
        wanted = param.get("set")
        return cls(add=_as_strings(param.get("add"), f"{option}.add"),
                   remove=_as_strings(param.get("remove"), f"{option}.remove"),
                   set=None if wanted is None else _as_strings(wanted, f"{option}.set"))

    @property
    def empty(self) -> bool:
        return not self.add and not self.remove and self.set is None


def _bare_smtp(value: str, option: str, primary_allowed: bool) -> str:
    """An SMTP entry given bare or with an 'smtp:' prefix, as its bare address."""
    match = _TYPED_VALUE.fullmatch(value)
    if match is None:
        return value
    prefix, address = match.groups()
    if prefix.upper() != SMTP:
        raise AddressError("not_smtp", value, f"{option}: {value!r} has the type prefix '{prefix}:', not 'smtp:'")
    if prefix.isupper() and not primary_allowed:
        # rule book §1: exactly one SMTP: value; the primary is chosen with primary_smtp only
        raise AddressError("two_primaries", value, f"{option}: {value!r} is written as a primary ('SMTP:'); "
                                                   "secondary addresses take 'smtp:' or no prefix",
                           "Name the primary in primary_smtp and write secondaries in lower case or bare.")
    return address


def _smtp_key(address: str) -> str:
    return ProxyAddress.smtp(address).key


def _unique(values: Iterable[str], key=_smtp_key) -> tuple[str, ...]:
    found: dict[str, str] = {}
    for value in values:
        found.setdefault(key(value), value)
    return tuple(found.values())


def _requested_smtp(values: tuple[str, ...], option: str, validate: bool) -> tuple[str, ...]:
    """Bare addresses, checked against rule book §1 unless they are only to be removed."""
    addresses = []
    for value in values:
        address = _bare_smtp(value, option, primary_allowed=False)
        if validate:
            _raise_first(option, value, _smtp_address_problems(address, f"SMTP address {address!r}"))
        elif not address:
            raise AddressError("empty_address", value, f"{option}: an entry is empty")
        addresses.append(address)
    return _unique(addresses)


def _refuse_conflicts(add: Iterable[str], remove: Iterable[str], option: str, key) -> None:
    removed = {key(value) for value in remove}
    for value in add:
        if key(value) in removed:
            raise AddressError("conflicting_request", value, f"{option}: {value!r} is both in add and in remove")


def _requested_primary(value: str | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise AddressError("not_a_string", repr(value), f"primary_smtp is {value!r}, not a string")
    address = _bare_smtp(value, "primary_smtp", primary_allowed=True)
    _raise_first("primary_smtp", value, _smtp_address_problems(address, f"SMTP address {address!r}"))
    return address


def _requested_secondaries(change: ListChange, primary: str | None) -> ListChange:
    option = "secondary_smtp"
    add = _requested_smtp(change.add, f"{option}.add", validate=True)
    # removal entries are matched, not validated, so that malformed stored values can be cleaned up
    remove = _requested_smtp(change.remove, f"{option}.remove", validate=False)
    wanted = None if change.set is None else _requested_smtp(change.set, f"{option}.set", validate=True)
    _refuse_conflicts(add, remove, option, key=_smtp_key)
    if primary is not None and _smtp_key(primary) in {_smtp_key(a) for a in remove}:
        raise AddressError("remove_primary", primary,
                           f"{option}.remove: {primary!r} is the requested primary_smtp and can't be removed")
    return ListChange(add, remove, wanted)


def _requested_typed(values: tuple[str, ...], option: str, validate: bool) -> tuple[str, ...]:
    """Full typed non-SMTP values, written canonically (prefix upper when primary, lower when not)."""
    proxies = []
    for value in values:
        try:
            proxy = ProxyAddress.parse(value)
        except AddressError as err:
            raise AddressError(err.rule, value, f"{option}: {err.problem}") from None
        if proxy.is_smtp:
            raise AddressError("smtp_in_other_addresses", value,
                               f"{option}: {value!r} is an SMTP address; other_addresses holds other types")
        if validate:
            _raise_first(option, value, _proxy_value_problems(value))
        proxies.append(proxy)
    values = _unique((str(p) for p in proxies), key=_key_of)
    if validate:
        for kind, found in _primaries_by_kind(values).items():
            if len(found) > 1:
                raise AddressError("two_primaries", ", ".join(found),
                                   f"{option}: {', '.join(found)} are all primary {kind} values")
    return values


def _requested_others(change: ListChange) -> ListChange:
    option = "other_addresses"
    add = _requested_typed(change.add, f"{option}.add", validate=True)
    remove = _requested_typed(change.remove, f"{option}.remove", validate=False)
    wanted = None if change.set is None else _requested_typed(change.set, f"{option}.set", validate=True)
    _refuse_conflicts(add, remove, option, key=_key_of)
    return ListChange(add, remove, wanted)


@dataclass(frozen=True, slots=True)
class AddressRequest:
    """What the caller wants; built values are normalized and validated, bad input raises AddressError.

    primary_smtp is kept as a bare address; secondary_smtp entries as bare addresses;
    other_addresses entries as canonical typed values. As in microsoft.ad, `set` takes
    precedence over add and remove when given.
    """

    primary_smtp: str | None = None
    keep_old_primary: bool = True
    secondary_smtp: ListChange = ListChange()
    other_addresses: ListChange = ListChange()

    def __post_init__(self) -> None:
        primary = _requested_primary(self.primary_smtp)
        object.__setattr__(self, "primary_smtp", primary)
        object.__setattr__(self, "keep_old_primary", bool(self.keep_old_primary))
        object.__setattr__(self, "secondary_smtp", _requested_secondaries(self.secondary_smtp, primary))
        object.__setattr__(self, "other_addresses", _requested_others(self.other_addresses))

    @classmethod
    def from_params(cls, params: Mapping) -> AddressRequest:
        """From module params: primary_smtp, keep_old_primary, secondary_smtp, other_addresses."""
        keep = params.get("keep_old_primary")
        return cls(primary_smtp=params.get("primary_smtp"),
                   keep_old_primary=True if keep is None else keep,
                   secondary_smtp=ListChange.from_param(params.get("secondary_smtp"), "secondary_smtp"),
                   other_addresses=ListChange.from_param(params.get("other_addresses"), "other_addresses"))

    @property
    def empty(self) -> bool:
        return self.primary_smtp is None and self.secondary_smtp.empty and self.other_addresses.empty


# --- the plan -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AddressPlan:
    """The change as one LDAP modify: delete `to_delete` (exact stored strings), then add `to_add`."""

    before: tuple[str, ...]
    after: tuple[str, ...]
    to_delete: tuple[str, ...]
    to_add: tuple[str, ...]
    primary_smtp: str | None
    warnings: tuple[Violation, ...]

    @property
    def changed(self) -> bool:
        return bool(self.to_delete or self.to_add)


@dataclass(frozen=True, slots=True)
class _Stored:
    """A current value: the exact stored string and, when it has a type, its parsed form."""

    raw: str
    proxy: ProxyAddress | None

    @property
    def key(self) -> str:
        return self.proxy.key if self.proxy is not None else self.raw.lower()

    @property
    def kind(self) -> str | None:
        return self.proxy.kind if self.proxy is not None else None

    def holds(self, wanted: ProxyAddress) -> bool:
        """True when this stored value already is `wanted`: same value, and same primary flag where it matters."""
        if self.proxy != wanted:
            return False
        # the prefix case is what makes a value primary, except for X500, which has no primary
        return self.proxy.primary == wanted.primary or wanted.kind == X500


def _stored_values(current: tuple[str, ...]) -> list[_Stored]:
    """The current values once each: AD can't hold two values that differ only in case (§1)."""
    found: dict[str, _Stored] = {}
    for raw in current:
        stored = _Stored(raw, parse_or_none(raw))
        found.setdefault(stored.key, stored)
    return list(found.values())


def _refuse_removing_primary(primaries: list[_Stored], request: AddressRequest) -> None:
    """Without a new primary_smtp, removing the current SMTP: value would leave none (rule book §1)."""
    if request.primary_smtp is not None or request.secondary_smtp.set is not None:
        return
    removed = {_smtp_key(a) for a in request.secondary_smtp.remove}
    for stored in primaries:
        if stored.key in removed:
            raise AddressError("remove_primary", stored.proxy.address,
                               f"secondary_smtp.remove: {stored.proxy.address!r} is the current primary SMTP "
                               "address and can't be removed")


def _plan_primary(primaries: list[_Stored], wanted_address: str | None) -> tuple[list[str], list[ProxyAddress]]:
    """The SMTP: values of the result, and the current primaries they displace."""
    if wanted_address is None:
        return [s.raw for s in primaries], []
    wanted = ProxyAddress.smtp(wanted_address, primary=True)
    # already the primary in any case of the address: leave the stored value as it is
    kept = next((s.raw for s in primaries if s.proxy == wanted), str(wanted))
    return [kept], [s.proxy for s in primaries if s.proxy != wanted]


def _plan_secondaries(secondaries: list[_Stored], displaced: list[ProxyAddress], primary_keys: set[str],
                      request: AddressRequest) -> list[str]:
    """The smtp: values of the result: kept in their order, then demoted primaries, then new ones."""
    change = request.secondary_smtp
    existing = {s.key: s.raw for s in secondaries}
    # rule book §1: a primary is demoted by deleting SMTP:x and adding smtp:x, address case kept
    demoted = {p.key: str(p.as_secondary()) for p in displaced}

    def value_for(address: str) -> str:
        key = _smtp_key(address)
        return existing.get(key) or demoted.get(key) or str(ProxyAddress.smtp(address))

    if change.set is not None:
        wanted = [a for a in change.set if _smtp_key(a) not in primary_keys]
        wanted_keys = {_smtp_key(a) for a in wanted}
        kept = [raw for key, raw in existing.items() if key in wanted_keys]
        return kept + [value_for(a) for a in wanted if _smtp_key(a) not in existing]

    removed = {_smtp_key(a) for a in change.remove}
    dropped = removed | primary_keys  # removed, or promoted to primary
    kept = [raw for key, raw in existing.items() if key not in dropped]
    carried = [raw for key, raw in demoted.items() if request.keep_old_primary and key not in removed]
    present = {_key_of(v) for v in kept + carried} | primary_keys
    added = [value_for(a) for a in change.add if _smtp_key(a) not in present]
    return list(_unique(kept + carried + added, key=_key_of))


def _plan_others(others: list[_Stored], change: ListChange) -> list[str]:
    """Non-SMTP values (and untyped junk): untouched unless other_addresses names them."""
    if change.set is not None:
        wanted = [ProxyAddress.parse(v) for v in change.set]
        kept = [s.raw for s in others if any(s.holds(w) for w in wanted)]
        return kept + [str(w) for w in wanted if not any(s.holds(w) for s in others)]
    removed = {_key_of(v) for v in change.remove}
    additions = [ProxyAddress.parse(v) for v in change.add]
    # a value asked for with the other prefix case is rewritten: its case is its primary flag
    retyped = {w.key for w in additions if not any(s.holds(w) for s in others)}
    dropped = removed | retyped
    kept = [s.raw for s in others if s.key not in dropped]
    return kept + [str(w) for w in additions if not any(s.holds(w) for s in others)]


def _check_result(after: tuple[str, ...], to_add: tuple[str, ...], current_count: int) -> list[Violation]:
    """Rule book §1 on the whole result: problems the request creates raise, old ones warn.

    Requested values were validated already, so any value found invalid here comes from the
    current values (kept as they are, or an invalid old primary demoted to smtp:).
    """
    added = set(to_add)
    warnings = [v for value in after for v in validate_proxy_address(value)]
    for kind, found in _primaries_by_kind(after).items():
        if len(found) < 2:
            continue
        if added.intersection(found):
            raise AddressError("two_primaries", ", ".join(found),
                               f"other_addresses: the result would hold {len(found)} primary {kind} values "
                               f"({', '.join(found)})")
        warnings.append(_two_primaries_violation(kind, found))
    if len(after) > MAX_VALUES:
        if len(after) > current_count:
            raise AddressError("too_many_addresses", str(len(after)),
                               f"The result would hold {len(after)} proxy addresses, more than {MAX_VALUES}")
        warnings.append(_too_many_violation(len(after)))
    return warnings


def plan_addresses(current: Iterable[str], request: AddressRequest) -> AddressPlan:
    """Turn a request into the exact values to delete and add (rule book §1).

    The result lists the primary SMTP first, then the smtp secondaries, then the other
    types; in each group current values keep their order and new ones are appended.
    Values the request does not name are never rewritten, not even re-cased.
    """
    before = tuple(current)
    stored = _stored_values(before)
    primaries = [s for s in stored if s.kind == SMTP and s.proxy.primary]
    secondaries = [s for s in stored if s.kind == SMTP and not s.proxy.primary]
    others = [s for s in stored if s.kind != SMTP]

    _refuse_removing_primary(primaries, request)
    primary_values, displaced = _plan_primary(primaries, request.primary_smtp)
    primary_keys = {_key_of(v) for v in primary_values}
    secondary_values = _plan_secondaries(secondaries, displaced, primary_keys, request)
    other_values = _plan_others(others, request.other_addresses)

    after = _unique(primary_values + secondary_values + other_values, key=_key_of)
    kept = set(after)
    unchanged = {s.raw for s in stored}
    to_delete = tuple(s.raw for s in stored if s.raw not in kept)
    to_add = tuple(v for v in after if v not in unchanged)
    warnings = _check_result(after, to_add, len(stored))
    primary = ProxyAddress.parse(primary_values[0]).address if len(primary_values) == 1 else None
    return AddressPlan(before, after, to_delete, to_add, primary, tuple(warnings))
