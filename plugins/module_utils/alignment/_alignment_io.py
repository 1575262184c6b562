# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reads for smtp_align and ad_user_restore (internal to the collection; no stable API).

I/O only: one paged LDAP search for the scope, one paged Graph listing for the tenant. The
journaled writes are in `_journaled_writes`; the decisions live in `_pairing`, `_alignment`
and `_journal`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial

from ansible_collections.hybrid.identity.plugins.module_utils.ad._ad import (
    USER_ATTRIBUTES,
    AdSession,
    AdUser,
    batched_scan_of_new_session,
)
from ansible_collections.hybrid.identity.plugins.module_utils.common._anchor import guid_bytes
from ansible_collections.hybrid.identity.plugins.module_utils.common._child_batches import ChildBatches, can_fork
from ansible_collections.hybrid.identity.plugins.module_utils.common._errors import ConfigurationError
from ansible_collections.hybrid.identity.plugins.module_utils.common._option_files import read_option_file
from ansible_collections.hybrid.identity.plugins.module_utils.matching._pairing import (
    CloudEntry,
    PairRow,
    rows_from_csv,
    rows_from_records,
)
from ansible_collections.hybrid.identity.plugins.module_utils.matching._soft_match_inputs import (
    ONPREM_ATTRIBUTES,
    CloudReader,
    merge_tenant,
    read_cloud_users,
    with_admin_roles,
)

try:
    import yaml

    YAML_IMPORT_ERROR = None
except ImportError as import_error:  # only a YAML pairs_file needs it
    yaml = None
    YAML_IMPORT_ERROR = import_error

SCOPE_ATTRIBUTES = tuple(dict.fromkeys(USER_ATTRIBUTES + ONPREM_ATTRIBUTES))
GUIDS_PER_SEARCH = 100
PAIRS_SHAPE = "a list of {onprem: <identity>, cloud: <identity>} mappings, bare or under the key pairs"


def read_scope(ad: AdSession, search_base: str | None, ldap_filter: str | None) -> list[AdUser]:
    """Every user in scope, in one paged search, with what planning, writing and predicting need."""
    return list(ad.scan(SCOPE_ATTRIBUTES, search_base=search_base or ad.base_dn, ldap_filter=ldap_filter))


class ScopeRead:
    """`read_scope` started now and received while the caller lists Graph; `result` waits for it.

    Where the platform forks, the search runs in a child process with an AD session of its own (bound again to
    the domain controller ``ad`` found), so that ldap3's decoding runs on another core: make it before starting
    any thread. Elsewhere the scope is read by `result`, in the caller's thread. Closing stops the child.
    """

    def __init__(self, ad: AdSession, search_base: str | None, ldap_filter: str | None) -> None:
        self._ad, self._base, self._filter = ad, search_base or ad.base_dn, ldap_filter
        self._child = None
        self._received = None
        if can_fork():
            self._child = ChildBatches(partial(batched_scan_of_new_session, ad.settings, SCOPE_ATTRIBUTES, self._base,
                                               ldap_filter), f"the read of {self._base}")
            self._received = self._child.drained()

    def result(self) -> list[AdUser]:
        """Every user in scope, or the error the search met."""
        if self._received is None:
            return read_scope(self._ad, self._base, self._filter)
        return self._received.result()

    def close(self) -> None:
        if self._child is not None:
            self._child.close()

    def __enter__(self) -> ScopeRead:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def _guid_filter(guids: Sequence[str]) -> str:
    # objectGUID is matched on its 16 stored bytes, each escaped as \hh (RFC 4515)
    terms = ["(objectGUID=" + "".join(f"\\{byte:02x}" for byte in guid_bytes(guid)) + ")" for guid in guids]
    return f"(|{''.join(terms)})"


def guid_filters(guids: Iterable[str], ldap_filter: str | None = None) -> list[str]:
    """The LDAP filters that find these objectGUIDs (within ldap_filter when given), a hundred per filter."""
    wanted = list(dict.fromkeys(guids))
    chunks = [_guid_filter(wanted[start:start + GUIDS_PER_SEARCH]) for start in range(0, len(wanted), GUIDS_PER_SEARCH)]
    return [f"(&{ldap_filter}{chunk})" if ldap_filter else chunk for chunk in chunks]


def users_by_guid(ad: AdSession, guids: Iterable[str], attributes: Sequence[str] = USER_ATTRIBUTES,
                  search_base: str | None = None, ldap_filter: str | None = None) -> dict[str, AdUser]:
    """The users with these objectGUIDs (anywhere in the domain, unless base and filter say), a few searches."""
    found = {}
    for query in guid_filters(guids, ldap_filter):
        for user in ad.scan(attributes, search_base=search_base or ad.base_dn, ldap_filter=query):
            found[user.object_guid] = user
    return found


def read_users_again(ad: AdSession, guids: Iterable[str], search_base: str | None,
                     ldap_filter: str | None) -> list[AdUser]:
    """These users of the scope as they are now, with what `read_scope` reads: a few searches, not one per user."""
    return list(users_by_guid(ad, guids, SCOPE_ATTRIBUTES, search_base, ldap_filter).values())


# --- the pairs file -------------------------------------------------------------------------


def read_pairs_file(path: str) -> list[PairRow]:
    """The explicit pairs of a CSV, JSON or YAML file; whatever is wrong with the file is said, not raised raw."""
    text = _pairs_text(path)
    if not text.strip():
        raise ConfigurationError(f"pairs_file {path} is empty",
                                 hint="list the pairs in it, or leave pairs_file out to pair automatically")
    if path.lower().endswith(".csv"):
        return rows_from_csv(text)
    if path.lower().endswith(".json"):
        try:
            loaded = json.loads(text)
        except ValueError as err:
            raise ConfigurationError(
                f"pairs_file {path} is not valid JSON: {err.msg} at line {err.lineno}, column {err.colno}",
                hint=f"the file may be cut short or hand-edited; it must hold {PAIRS_SHAPE}",
            ) from err
    else:
        loaded = _pairs_yaml(path, text)
    return rows_from_records(_pair_list(path, loaded))


def _pairs_text(path: str) -> str:
    raw = read_option_file(path, "pairs_file", "give the path of the pairs file on the controller")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ConfigurationError(
            f"pairs_file {path} is not UTF-8 text (byte 0x{raw[err.start]:02x} at offset {err.start})",
            hint="save it as UTF-8 (a spreadsheet's \"CSV UTF-8\" export), or give the pairs in the pairs option",
        ) from err
    if "\x00" in text:
        raise ConfigurationError(f"pairs_file {path} holds NUL bytes: it is not a text file",
                                 hint=f"give a CSV, JSON or YAML file holding {PAIRS_SHAPE}")
    return text


def _pairs_yaml(path: str, text: str):
    if yaml is None:
        raise ConfigurationError(f"reading {path} needs PyYAML", hint="pip install pyyaml, or give the pairs as CSV")
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or "not YAML"
        raise ConfigurationError(
            f"pairs_file {path} is not valid YAML{where}: {problem}",
            hint=f"the file may be cut short or hand-edited; it must hold {PAIRS_SHAPE}",
        ) from err


def _pair_list(path: str, loaded) -> list:
    """The list of pairs, given bare or under the key `pairs`."""
    if isinstance(loaded, Mapping):
        unknown = sorted(str(key) for key in loaded if key != "pairs")
        if unknown or "pairs" not in loaded:
            raise ConfigurationError(f"pairs_file {path} holds the key(s) {', '.join(unknown) or 'none'}, not pairs",
                                     hint=f"it must hold {PAIRS_SHAPE}")
        loaded = loaded["pairs"]
    if not isinstance(loaded, list):
        raise ConfigurationError(f"pairs_file {path} holds {type(loaded).__name__ if loaded is not None else 'nothing'}"
                                 ", not a list of pairs", hint=f"it must hold {PAIRS_SHAPE}")
    if not loaded:
        raise ConfigurationError(f"pairs_file {path} lists no pairs",
                                 hint="list the pairs in it, or leave pairs_file out to pair automatically")
    return loaded


# --- the cloud ------------------------------------------------------------------------------


@dataclass(slots=True)
class CloudSide:
    entries: list[CloudEntry]
    records: list[dict]
    objects: list[dict]
    tenant: dict
    warnings: list[str] = field(default_factory=list)


def read_cloud_side(client, params: Mapping) -> CloudSide:
    """The whole tenant in one paged listing, with roles, groups and contacts, joined locally (rule book §8)."""
    reader = CloudReader(client)
    records = with_admin_roles(read_cloud_users(client, "warn", reader.warnings), reader.admin_roles(),
                               params.get("admin_role_holders"))
    objects = reader.mail_objects()
    given_domains = params.get("verified_domains") and params.get("initial_domain")
    domains = None if given_domains else reader.domains()
    tenant = merge_tenant(params, domains, reader.features())
    return CloudSide([CloudEntry.of(record) for record in records], records, objects, tenant, reader.warnings)
