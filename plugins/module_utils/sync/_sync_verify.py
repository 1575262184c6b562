# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check that the cloud shows the joins a sync was expected to make (rule book §7, last step).

Internal to the collection; no stable API. Parsing the expected pairs, comparing a pair
with a cloud user and wording the failure are pure functions; ``verify_joins`` polls
through a ``read_users`` callable (``find_cloud_users`` over Graph), one bulk round per
poll for every pair still pending, never one call per user.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from ansible_collections.hybrid.identity.plugins.module_utils.common._addresses import (
    AddressError,
    ProxyAddress,
    validate_smtp_address,
)
from ansible_collections.hybrid.identity.plugins.module_utils.common._errors import ConfigurationError
from ansible_collections.hybrid.identity.plugins.module_utils.graph._cloud_users import LookupRequest, primary_smtp

MISSING = None  # the ``actual`` of a value the cloud user does not hold at all


@dataclass(frozen=True)
class ExpectedJoin:
    """One on-prem user and what its cloud user must show after the sync."""

    label: str
    source_anchor: str | None = None
    cloud_id: str | None = None
    user_principal_name: str | None = None
    primary_smtp: str | None = None
    proxy_addresses_include: tuple[ProxyAddress, ...] = ()

    @classmethod
    def from_param(cls, entry: Mapping, position: int, where: str | None = None) -> ExpectedJoin:
        where = where or f"expected[{position}]"
        anchor = _text(entry.get("source_anchor"))
        cloud_id = _text(entry.get("cloud_id"))
        if not anchor and not cloud_id:
            raise ConfigurationError(f"{where} names neither source_anchor nor cloud_id",
                                     hint="give the on-prem user's source anchor (ImmutableId), the cloud user's "
                                          "object ID, or both")
        if cloud_id:
            try:
                cloud_id = str(uuid.UUID(cloud_id))
            except ValueError:
                raise ConfigurationError(f"{where}.cloud_id {cloud_id!r} is not a GUID",
                                         hint="give the object ID of the cloud user") from None
        primary = _text(entry.get("primary_smtp"))
        if primary:
            primary = _bare_smtp(primary, f"{where}.primary_smtp")
        included = tuple(_proxy_address(value, f"{where}.proxy_addresses_include")
                         for value in entry.get("proxy_addresses_include") or ())
        upn = _text(entry.get("user_principal_name"))
        label = _text(entry.get("label")) or upn or anchor or cloud_id
        return cls(label, anchor, cloud_id, upn, primary, included)


@dataclass(frozen=True)
class Difference:
    """One attribute the cloud user does not show as expected."""

    attribute: str
    expected: object
    actual: object

    def as_dict(self) -> dict:
        return {"attribute": self.attribute, "expected": self.expected, "actual": self.actual}

    def describe(self) -> str:
        if self.attribute == "proxyAddresses":
            return f"proxyAddresses lacks {self.expected}"
        if self.attribute == "onPremisesProvisioningErrors":
            return f"onPremisesProvisioningErrors shows {_errors_text(self.actual)}"
        if self.actual is MISSING and self.attribute in ("onPremisesImmutableId", "id"):
            return f"no cloud user has {self.attribute} {self.expected}"
        # JSON spelling (null, true, "text"): what a playbook author reads elsewhere in the result.
        return f"{self.attribute} is {json.dumps(self.actual)}, expected {json.dumps(self.expected)}"


@dataclass(frozen=True)
class JoinCheck:
    """A pair as the last poll saw it."""

    expected: ExpectedJoin
    user: Mapping | None
    differences: tuple[Difference, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not self.differences

    def as_dict(self) -> dict:
        user = self.user or {}
        return {
            "label": self.expected.label,
            "source_anchor": self.expected.source_anchor,
            "cloud_id": user.get("id") or self.expected.cloud_id,
            "ok": self.ok,
            "differences": [difference.as_dict() for difference in self.differences],
            "provisioning_errors": list(user.get("onPremisesProvisioningErrors") or []),
            "user_principal_name": user.get("userPrincipalName"),
            "primary_smtp": primary_smtp(user) if user else None,
            "on_premises_sync_enabled": user.get("onPremisesSyncEnabled"),
            "on_premises_last_sync": user.get("onPremisesLastSyncDateTime"),
        }


@dataclass(frozen=True)
class Verification:
    checks: tuple[JoinCheck, ...]
    polls: int
    elapsed: float

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def failed(self) -> list[JoinCheck]:
        return [check for check in self.checks if not check.ok]


EXPECTED_KEYS = ("source_anchor", "cloud_id", "user_principal_name", "primary_smtp", "proxy_addresses_include",
                 "label")
EXPECTED_SHAPE = ("a JSON list of mappings with source_anchor and/or cloud_id (and user_principal_name, primary_smtp, "
                  "proxy_addresses_include, label), bare or under the key expected")


def expected_from_json(raw: bytes, where: str) -> list[ExpectedJoin]:
    """The pairs a JSON file holds, each entry checked as the expected option's suboptions; errors name the entry."""
    try:
        loaded = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as err:
        raise ConfigurationError(f"{where} is not UTF-8 text (byte 0x{raw[err.start]:02x} at offset {err.start})",
                                 hint=f"write it as UTF-8; it must hold {EXPECTED_SHAPE}") from err
    except json.JSONDecodeError as err:
        said = f"is not valid JSON: {err.msg} at line {err.lineno}, column {err.colno}" if raw.strip() else "is empty"
        hint = f"the file may be cut short or hand-edited; it must hold {EXPECTED_SHAPE}"
        raise ConfigurationError(f"{where} {said}", hint=hint) from err
    if isinstance(loaded, dict):
        if list(loaded) != ["expected"]:
            raise ConfigurationError(f"{where} holds the key(s) {', '.join(sorted(map(str, loaded))) or 'none'}, "
                                     "not expected", hint=f"it must hold {EXPECTED_SHAPE}")
        loaded = loaded["expected"]
    if not isinstance(loaded, list):
        raise ConfigurationError(f"{where} holds {_json_kind(loaded)}, not a list of pairs",
                                 hint=f"it must hold {EXPECTED_SHAPE}")
    return [ExpectedJoin.from_param(_checked_entry(entry, f"{where}, entry {position}"), position,
                                    f"{where}, entry {position}")
            for position, entry in enumerate(loaded)]


def _checked_entry(entry, where: str) -> dict:
    """An entry with the types the expected option's suboptions give, so that it reads as a module option does."""
    if not isinstance(entry, dict):
        raise ConfigurationError(f"{where} is {_json_kind(entry)}, not a mapping",
                                 hint=f"it must hold {EXPECTED_SHAPE}")
    unknown = sorted(str(key) for key in entry if key not in EXPECTED_KEYS)
    if unknown:
        raise ConfigurationError(f"{where} has the unknown key(s) {', '.join(unknown)}",
                                 hint=f"the keys are {', '.join(EXPECTED_KEYS)}")
    for key, value in entry.items():
        if key == "proxy_addresses_include":
            if value is not None and not (isinstance(value, list) and all(isinstance(item, str) for item in value)):
                raise ConfigurationError(f"{where}.{key} is {_json_kind(value)}, not a list of strings",
                                         hint='write it as ["smtp:alias@contoso.com", ...]')
        elif value is not None and not isinstance(value, str):
            raise ConfigurationError(f"{where}.{key} is {_json_kind(value)}, not a string", hint="quote the value")
    return entry


def _json_kind(value) -> str:
    if value is None:
        return "null"
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean"}.get(type(value), "a number")


def _text(value) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


def _bare_smtp(value: str, where: str) -> str:
    parsed = _proxy_address(value, where) if ":" in value else ProxyAddress.smtp(value)
    if not parsed.is_smtp:
        raise ConfigurationError(f"{where} {value!r} is not an SMTP address", hint="give the address bare")
    violations = validate_smtp_address(parsed.address)
    if violations:
        # a malformed expectation would otherwise be waited for until the timeout
        raise ConfigurationError(f"{where} {value!r}: {violations[0].message}", hint="give the address the cloud "
                                 "user must show as its primary, as name@domain")
    return parsed.address


def _proxy_address(value, where: str) -> ProxyAddress:
    """A typed value as given (``X500:...``), or a bare address as an SMTP address."""
    text = _text(value)
    if text is None:
        raise ConfigurationError(f"{where} holds an empty value", hint="leave it out or give an address")
    if "@" in text and ":" not in text.split("@", 1)[0]:
        return ProxyAddress.smtp(text)
    try:
        return ProxyAddress.parse(text)
    except AddressError as err:
        raise ConfigurationError(f"{where}: {err}", hint="give smtp:alias@contoso.com or a bare address") from None


def _errors_text(errors) -> str:
    shown = []
    for error in errors or ():
        if isinstance(error, Mapping):
            shown.append(f"{error.get('category') or 'error'} on {error.get('propertyCausingError') or '?'} "
                         f"{error.get('value') or ''}".strip())
        else:
            shown.append(str(error))
    return "; ".join(shown) or "errors"


# --- comparing ----------------------------------------------------------------------------


def lookup_for(pending: Sequence[ExpectedJoin]) -> LookupRequest:
    """One bulk lookup for every pending pair: by object ID where known, else by source anchor."""
    object_ids = tuple(dict.fromkeys(join.cloud_id for join in pending if join.cloud_id))
    anchors = tuple(dict.fromkeys(join.source_anchor for join in pending if not join.cloud_id))
    return LookupRequest(immutable_id=anchors, object_id=object_ids)


class CloudUsers:
    """The users one poll read, by object ID and by ImmutableId, so each pair finds its user in one look-up."""

    def __init__(self, users: Sequence[Mapping]) -> None:
        self.by_id: dict[str, Mapping] = {}
        self.by_anchor: dict[str, Mapping] = {}
        for user in users:
            self.by_id.setdefault(str(user.get("id") or "").casefold(), user)
            anchor = user.get("onPremisesImmutableId")
            if isinstance(anchor, str):
                self.by_anchor.setdefault(anchor, user)  # rule book §3: the ImmutableId compares with case


def user_for(expected: ExpectedJoin, users: CloudUsers | Sequence[Mapping]) -> Mapping | None:
    """The cloud user the pair is about: by object ID, else the one carrying the anchor (first of the listing)."""
    index = users if isinstance(users, CloudUsers) else CloudUsers(users)
    if expected.cloud_id:
        return index.by_id.get(expected.cloud_id.casefold())
    return index.by_anchor.get(expected.source_anchor or "")


def differences(expected: ExpectedJoin, user: Mapping | None) -> tuple[Difference, ...]:
    """What the cloud user shows unlike the expected join (rule book §3 after the join, §2, §4)."""
    if user is None:
        if expected.cloud_id:
            return (Difference("id", expected.cloud_id, MISSING),)
        return (Difference("onPremisesImmutableId", expected.source_anchor, MISSING),)
    found = []
    # rule book §3: after the join the user syncs and carries the source anchor.
    if user.get("onPremisesSyncEnabled") is not True:
        found.append(Difference("onPremisesSyncEnabled", True, user.get("onPremisesSyncEnabled")))
    if expected.source_anchor and user.get("onPremisesImmutableId") != expected.source_anchor:
        found.append(Difference("onPremisesImmutableId", expected.source_anchor, user.get("onPremisesImmutableId")))
    upn = user.get("userPrincipalName")
    if expected.user_principal_name and str(upn or "").casefold() != expected.user_principal_name.casefold():
        found.append(Difference("userPrincipalName", expected.user_principal_name, upn))
    # rule book §1: addresses compare case-insensitively.
    actual_primary = primary_smtp(user)
    if expected.primary_smtp and (actual_primary is None
                                  or ProxyAddress.smtp(actual_primary) != ProxyAddress.smtp(expected.primary_smtp)):
        found.append(Difference("primary_smtp", expected.primary_smtp, actual_primary))
    held = set()
    for value in user.get("proxyAddresses") or ():
        try:
            held.add(ProxyAddress.parse(value))
        except AddressError:
            continue
    for wanted in expected.proxy_addresses_include:
        if wanted not in held:
            found.append(Difference("proxyAddresses", str(wanted), MISSING))
    # rule book §4: a quarantined value shows in onPremisesProvisioningErrors.
    errors = list(user.get("onPremisesProvisioningErrors") or [])
    if errors:
        found.append(Difference("onPremisesProvisioningErrors", [], errors))
    return tuple(found)


def check_join(expected: ExpectedJoin, users: CloudUsers | Sequence[Mapping]) -> JoinCheck:
    user = user_for(expected, users)
    return JoinCheck(expected, user, differences(expected, user))


def failure_message(verification: Verification, timeout: float) -> str:
    """Each pair that differs, and how, in one message."""
    failed = verification.failed
    lines = [f"{check.expected.label}: {'; '.join(d.describe() for d in check.differences)}" for check in failed]
    return (f"{len(failed)} of {len(verification.checks)} expected joins did not show in Microsoft Entra ID "
            f"after {verification.elapsed:.0f} s ({verification.polls} polls, timeout {timeout:g} s): "
            + " | ".join(lines))


# --- polling ------------------------------------------------------------------------------


def verify_joins(read_users: Callable[[LookupRequest], list[dict]], expected: Sequence[ExpectedJoin],
                 timeout: float, poll_interval: float, once: bool = False,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> Verification:
    """Poll until every pair shows its join, or the next poll would start after ``timeout`` seconds.

    A pair that showed its join once is not asked for again; each poll is one bulk lookup
    of the pairs still pending. ``once`` polls a single time (check mode).
    """
    if not expected:
        return Verification((), 0, 0.0)
    started = clock()
    latest: dict[int, JoinCheck] = {}
    pending = list(range(len(expected)))
    polls = 0
    while True:
        users = CloudUsers(read_users(lookup_for([expected[index] for index in pending])))
        polls += 1
        for index in pending:
            latest[index] = check_join(expected[index], users)
        pending = [index for index in pending if not latest[index].ok]
        elapsed = clock() - started
        if not pending or once or elapsed + poll_interval > timeout:
            return Verification(tuple(latest[index] for index in range(len(expected))), polls, elapsed)
        sleep(poll_interval)
