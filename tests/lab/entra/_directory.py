"""The tenant's state: domains, features, users, groups, contacts, role assignments (internal).

One lock guards everything. Users are indexed by id, UPN, mail, every proxy address and
ImmutableId (folded), so lookups don't scan; listings walk ids in sorted order, which
makes a `$skiptoken` (the last id of a page) stable while the state changes.
"""

from __future__ import annotations

import threading
from bisect import bisect_left, bisect_right
from collections.abc import Mapping

from . import _cloud_scenario as scenario
from ._errors import bad_request, not_found
from ._roles import role_definitions
from ._schema import USER, CompiledFilter, fold

USERS, GROUPS, CONTACTS, ROLE_ASSIGNMENTS, ROLE_DEFINITIONS, DOMAINS, DELETED_USERS = (
    "users", "groups", "contacts", "roleAssignments", "roleDefinitions", "domains", "deletedUsers")
USER_INDEXES = ("id", "userPrincipalName", "mail", "proxyAddresses", "onPremisesImmutableId")

# What PATCH /users/{id} may change; the rest of the schema is read-only over Graph.
WRITABLE_USER_PROPERTIES = {
    "accountEnabled", "businessPhones", "companyName", "department", "displayName", "employeeId",
    "givenName", "jobTitle", "mail", "mailNickname", "mobilePhone", "officeLocation", "onPremisesImmutableId",
    "otherMails", "preferredLanguage", "surname", "usageLocation", "userPrincipalName", "userType",
}
# Writable on a synced user too; everything else there is mastered on-premises.
CLOUD_MASTERED_PROPERTIES = {"usageLocation", "preferredLanguage"}

SYNCED_OBJECT_MESSAGE = ("Unable to update the specified properties for on-premises mastered Directory Sync "
                         "objects or objects currently undergoing migration.")


def _is_annotation(name: str) -> bool:
    """An OData instance annotation: `@odata.type`, or `<property>@odata.<term>` (JSON format, §18)."""
    return "@" in name


class Directory:
    def __init__(self, tenant_id: str):
        self.tenant_id = tenant_id
        self.lock = threading.RLock()
        self.reset()

    # --- loading ------------------------------------------------------------------------

    def reset(self) -> None:
        self.load({}, {})

    def load(self, tenant: Mapping | None, cloud: Mapping | None, anchors: scenario.Anchors = None) -> dict:
        """Replace the whole state with a scenario's tenant and cloud parts."""
        settings = scenario.normalize_tenant(tenant)
        objects = scenario.normalize_cloud(cloud, settings, anchors)
        with self.lock:
            self.settings = settings
            self.stores: dict[str, dict[str, dict]] = {
                USERS: {}, GROUPS: {}, CONTACTS: {}, ROLE_ASSIGNMENTS: {},
                DELETED_USERS: {record["id"]: record for record in objects.deleted_users},
                ROLE_DEFINITIONS: {r["id"]: r for r in role_definitions()},
                DOMAINS: {d["id"]: d for d in settings.domains},
            }
            self._sorted: dict[str, list[str] | None] = dict.fromkeys(self.stores)
            self.indexes: dict[str, dict[str, set[str]]] = {name: {} for name in USER_INDEXES}
            self._index_order: dict[str, list[str]] = {}   # an index's keys in order, for startsWith
            for record in objects.users:
                self._add_user(record)
            for bucket, records in ((GROUPS, objects.groups), (CONTACTS, objects.contacts),
                                    (ROLE_ASSIGNMENTS, objects.role_assignments)):
                self.stores[bucket] = {record["id"]: record for record in records}
            # Graph v1.0's onPremisesDirectorySynchronizationConfiguration has this one property (the
            # synchronization interval fields are beta only)
            self.sync_configuration = {
                "accidentalDeletionPrevention": {"synchronizationPreventionType": "enabledForCount",
                                                 "alertThreshold": 500},
            }
        return {"users": len(objects.users), "groups": len(objects.groups), "contacts": len(objects.contacts),
                "roleAssignments": len(objects.role_assignments), "domains": len(settings.domains)}

    # --- users: indexes ---------------------------------------------------------------

    @staticmethod
    def _index_keys(record: dict, name: str) -> list[str]:
        value = record.get(name)
        if name == "proxyAddresses":
            return [fold(v) for v in value or ()]
        return [fold(value)] if isinstance(value, str) else []

    def _add_user(self, record: dict) -> None:
        self.stores[USERS][record["id"]] = record
        self._sorted[USERS] = None
        self._index_order.clear()
        for name in USER_INDEXES:
            for key in self._index_keys(record, name):
                self.indexes[name].setdefault(key, set()).add(record["id"])

    def _remove_user(self, record: dict) -> None:
        self.stores[USERS].pop(record["id"], None)
        self._sorted[USERS] = None
        self._index_order.clear()
        for name in USER_INDEXES:
            for key in self._index_keys(record, name):
                holders = self.indexes[name].get(key)
                if holders:
                    holders.discard(record["id"])
                    if not holders:
                        del self.indexes[name][key]

    def restore_user(self, user_id: str) -> dict:
        """A soft-deleted user back among the users (Graph's deletedItems restore), as it was kept."""
        with self.lock:
            record = dict(self.stores[DELETED_USERS].pop(user_id), deletedDateTime=None)
            self._sorted[DELETED_USERS] = None
            self._add_user(record)
            return record

    def replace_user(self, record: dict) -> None:
        """Store a new version of a user (the record is replaced, never changed in place)."""
        with self.lock:
            old = self.stores[USERS].get(record["id"])
            if old is not None:
                self._remove_user(old)
            self._add_user(record)

    # --- queries ----------------------------------------------------------------------

    def _sorted_ids(self, bucket: str) -> list[str]:
        ids = self._sorted[bucket]
        if ids is None:
            ids = sorted(self.stores[bucket])
            self._sorted[bucket] = ids
        return ids

    def _candidates(self, bucket: str, hint) -> set[str] | None:
        """Ids that can match, from the indexes; None when a scan is needed."""
        if hint is None or bucket != USERS:
            return None
        kind = hint[0]
        if kind == "prefix":
            return self._prefixed(hint[1], hint[2])
        if kind == "keys":
            index = self.indexes.get(hint[1])
            if index is None:
                return None
            found: set[str] = set()
            for key in hint[2]:
                found |= index.get(key, set())
            return found
        left = self._candidates(bucket, hint[1])
        right = self._candidates(bucket, hint[2])
        if kind == "and":
            if left is None:
                return right
            return left if right is None else left & right
        return None if left is None or right is None else left | right

    def _prefixed(self, name: str, prefix: str) -> set[str] | None:
        """Ids whose indexed `name` starts with `prefix` (folded): a range of the index's ordered keys."""
        index = self.indexes.get(name)
        if index is None:
            return None
        keys = self._index_order.get(name)
        if keys is None:
            keys = self._index_order[name] = sorted(index)
        found: set[str] = set()
        for position in range(bisect_left(keys, prefix), len(keys)):
            if not keys[position].startswith(prefix):
                break
            found |= index[keys[position]]
        return found

    def page(self, bucket: str, compiled: CompiledFilter | None, after: str | None, limit: int,
             want_count: bool) -> tuple[list[dict], bool, int | None]:
        """One page of matches in id order after `after`, whether more follow, and the total when asked."""
        with self.lock:
            store = self.stores[bucket]
            candidates = self._candidates(bucket, compiled.hint if compiled else None)
            ids = sorted(candidates) if candidates is not None else self._sorted_ids(bucket)
            predicate = compiled.predicate if compiled else None
            if want_count:
                matches = [store[i] for i in ids if predicate is None or predicate(store[i])]
                start = bisect_right([m["id"] for m in matches], after) if after else 0
                return matches[start:start + limit], start + limit < len(matches), len(matches)
            start = bisect_right(ids, after) if after else 0
            page: list[dict] = []
            for position in range(start, len(ids)):
                record = store[ids[position]]
                if predicate is None or predicate(record):
                    if len(page) == limit:
                        return page, True, None
                    page.append(record)
            return page, False, None

    def get(self, bucket: str, key: str) -> dict | None:
        # Object ids and domain names are kept lower-case; role assignment ids are case-sensitive.
        with self.lock:
            return self.stores[bucket].get(key.lower()) or self.stores[bucket].get(key)

    def get_user(self, key: str) -> dict | None:
        """A user by object id or by userPrincipalName, as `/users/{id | userPrincipalName}`."""
        with self.lock:
            record = self.stores[USERS].get(key.lower())
            if record is None:
                holders = self.indexes["userPrincipalName"].get(fold(key))
                if holders:
                    record = self.stores[USERS][next(iter(holders))]
            return record

    def tenant_names(self) -> set[str]:
        with self.lock:
            return {name for name, domain in self.stores[DOMAINS].items() if domain["isVerified"]}

    def features(self) -> dict:
        with self.lock:
            return dict(self.settings.features)

    def on_premises_sync_enabled(self) -> bool | None:
        with self.lock:
            if self.settings.on_premises_sync_enabled is not None:
                return self.settings.on_premises_sync_enabled
            synced = any(user.get("onPremisesSyncEnabled") for user in self.stores[USERS].values())
            return True if synced else None

    def organization(self) -> dict:
        with self.lock:
            domains = [d for d in self.stores[DOMAINS].values() if d["isVerified"]]
            synced = self.on_premises_sync_enabled()
            last_sync = max((u["onPremisesLastSyncDateTime"] for u in self.stores[USERS].values()
                             if u.get("onPremisesLastSyncDateTime")), default=None)
            return {
                "id": self.tenant_id,
                "businessPhones": [],
                "city": None,
                "country": None,
                "countryLetterCode": "DE",
                "createdDateTime": "2016-01-01T00:00:00Z",
                "displayName": self.settings.display_name,
                "marketingNotificationEmails": [],
                "onPremisesLastSyncDateTime": last_sync if synced else None,
                "onPremisesSyncEnabled": synced,
                "postalCode": None,
                "preferredLanguage": "en",
                "privacyProfile": None,
                "state": None,
                "street": None,
                "technicalNotificationMails": [],
                "tenantType": "AAD",
                "verifiedDomains": [{
                    "capabilities": "Email, OfficeCommunicationsOnline",
                    "isDefault": d["isDefault"],
                    "isInitial": d["isInitial"],
                    "name": d["id"],
                    "type": d["authenticationType"],
                } for d in domains],
            }

    def sync_settings(self) -> dict:
        """The one onPremisesDirectorySynchronization object: configuration and the §6 features."""
        with self.lock:
            return {"id": self.tenant_id, "configuration": dict(self.sync_configuration),
                    "features": dict(self.settings.features)}

    # --- writes -----------------------------------------------------------------------

    def patch_user(self, key: str, changes: dict) -> None:
        with self.lock:
            current = self.get_user(key)
            if current is None:
                raise not_found(key)
            updated = dict(current)
            for name, value in changes.items():
                if _is_annotation(name):
                    continue  # Graph accepts OData instance annotations (@odata.type, property@odata.*) in a body
                spec = USER.properties.get(name.lower())
                if spec is None:
                    raise bad_request(f"Property '{name}' does not exist as a declared property or extension "
                                      "property.")
                if spec.name not in WRITABLE_USER_PROPERTIES:
                    raise bad_request(f"Property '{spec.name}' is read-only and cannot be set.", "Request_BadRequest")
                _check_patch_type(spec, value)
                updated[spec.name] = value
            changed = {name for name in updated if updated[name] != current.get(name)}
            if current.get("onPremisesSyncEnabled") is True and changed - CLOUD_MASTERED_PROPERTIES:
                raise bad_request(SYNCED_OBJECT_MESSAGE, "Request_BadRequest")
            if "userPrincipalName" in changed:
                self._check_upn(updated)
            if "onPremisesImmutableId" in changed:
                self._check_immutable_id(current, updated)
            if changed:
                self.replace_user(updated)

    def _check_upn(self, updated: dict) -> None:
        upn = updated["userPrincipalName"]
        if not isinstance(upn, str) or "@" not in upn:
            raise bad_request("Invalid value specified for property 'userPrincipalName' of resource 'User'.",
                              "Request_BadRequest")
        domain = upn.rsplit("@", 1)[1].lower()
        if domain not in self.tenant_names():
            raise bad_request("The domain portion of the userPrincipalName property is invalid. You must use one "
                              "of the verified domain names in your organization.", "Request_BadRequest")
        holders = self.indexes["userPrincipalName"].get(fold(upn), set()) - {updated["id"]}
        if holders:
            raise bad_request("Another object with the same value for property userPrincipalName already exists.",
                              "Request_BadRequest")

    def _check_immutable_id(self, current: dict, updated: dict) -> None:
        domain = self.stores[DOMAINS].get(current["userPrincipalName"].rsplit("@", 1)[1].lower())
        if domain and domain["authenticationType"] == "Federated":   # rule book §8
            raise bad_request("The onPremisesImmutableId of a user in a federated domain can't be changed; move "
                              "the user to a managed domain first.", "Request_BadRequest")
        value = updated["onPremisesImmutableId"]
        if value is None:
            return
        holders = {uid for uid in self.indexes["onPremisesImmutableId"].get(fold(value), set())
                   if self.stores[USERS][uid]["onPremisesImmutableId"] == value} - {updated["id"]}
        if holders:
            raise bad_request("Another object with the same value for property onPremisesImmutableId already "
                              "exists.", "Request_BadRequest")

    def patch_features(self, features: Mapping | None, configuration: Mapping | None) -> None:
        with self.lock:
            merged = dict(self.settings.features)
            for name, value in dict(features or {}).items():
                if name not in scenario.FEATURE_DEFAULTS:
                    raise bad_request(f"Invalid property '{name}' for onPremisesDirectorySynchronizationFeature.")
                if not isinstance(value, bool):
                    raise bad_request(f"Cannot convert the literal '{value}' to the expected type 'Edm.Boolean'.")
                merged[name] = value
            config = dict(self.sync_configuration)
            for name, value in dict(configuration or {}).items():
                if name not in config:
                    raise bad_request(f"Invalid property '{name}' for onPremisesDirectorySynchronizationConfiguration.")
                config[name] = value
            self.settings.features = merged
            self.sync_configuration = config

    # --- lab view ------------------------------------------------------------------------

    def snapshot(self) -> dict:
        with self.lock:
            roles_by_user: dict[str, list[str]] = {}
            names = {r["id"]: r["displayName"] for r in self.stores[ROLE_DEFINITIONS].values()}
            for assignment in self.stores[ROLE_ASSIGNMENTS].values():
                roles_by_user.setdefault(assignment["principalId"], []).append(
                    names.get(assignment["roleDefinitionId"], assignment["roleDefinitionId"]))
            users = [dict(self.stores[USERS][i], roles=roles_by_user.get(i, [])) for i in self._sorted_ids(USERS)]
            return {
                "tenant": {
                    "id": self.tenant_id,
                    "displayName": self.settings.display_name,
                    "initial_domain": self.settings.initial_domain,
                    "domains": list(self.stores[DOMAINS].values()),
                    "features": dict(self.settings.features),
                    "onPremisesSyncEnabled": self.on_premises_sync_enabled(),
                },
                "users": users,
                "deletedUsers": [self.stores[DELETED_USERS][i] for i in self._sorted_ids(DELETED_USERS)],
                "groups": list(self.stores[GROUPS].values()),
                "contacts": list(self.stores[CONTACTS].values()),
                "roleAssignments": list(self.stores[ROLE_ASSIGNMENTS].values()),
            }


def _check_patch_type(spec, value) -> None:
    if value is None:
        return
    expected = {"string": "Edm.String", "bool": "Edm.Boolean", "strings": "Collection(Edm.String)"}.get(spec.kind)
    valid = ((spec.kind == "string" and isinstance(value, str))
             or (spec.kind == "bool" and isinstance(value, bool))
             or (spec.kind == "strings" and isinstance(value, list) and all(isinstance(v, str) for v in value)))
    if not valid:
        raise bad_request(f"Cannot convert the literal '{value}' to the expected type '{expected}'.")
