"""Resource schemas: properties, default `$select`, and what `$filter` supports (internal).

`compile_filter` turns a parsed `$filter` into a predicate over stored records and an
index hint, checking each clause against Graph's rules: some work by default, some only
as advanced queries (`ConsistencyLevel: eventual` + `$count=true`), the rest are refused.
String comparisons are case-insensitive, as in the directory.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from . import _odata as odata
from ._errors import GraphError, bad_request, unsupported_query

# Capabilities a property can have in $filter.
EQ, NE, IN, STARTS, ENDS, EQ_NULL, ANY_EQ, ANY_STARTS, ANY_ENDS = (
    "eq", "ne", "in", "startsWith", "endsWith", "eq null", "any eq", "any startsWith", "any endsWith")
NOT = "not"

_EDM = {"string": "Edm.String", "bool": "Edm.Boolean", "strings": "Collection(Edm.String)",
        "datetime": "Edm.DateTimeOffset", "object": "Edm.ComplexType", "objects": "Collection(Edm.ComplexType)"}


@dataclass(frozen=True)
class PropertySpec:
    name: str
    kind: str = "string"                       # string, bool, strings, datetime, object, objects
    default_ops: frozenset[str] = frozenset()  # work in a plain request
    advanced_ops: frozenset[str] = frozenset()  # need ConsistencyLevel: eventual and $count=true
    selected_by_default: bool = False


def _p(name, kind="string", default=(), advanced=(), selected=False) -> PropertySpec:
    return PropertySpec(name, kind, frozenset(default), frozenset(advanced), selected)


_TEXT_DEFAULT = (EQ, IN, STARTS)
_TEXT_ADVANCED = (NE, ENDS, EQ_NULL)


@dataclass(frozen=True)
class CompiledFilter:
    predicate: Callable[[dict], bool]
    hint: tuple | None      # ("keys" | "prefix", property, folded values | prefix) / ("and"|"or", hint, hint) / None
    advanced: bool          # uses something that needs an advanced query


class ResourceSchema:
    def __init__(self, type_name: str, title: str, properties: list[PropertySpec]):
        self.type_name = type_name                 # microsoft.graph.user
        self.title = title                         # User, as Graph's messages name it
        self.properties = {spec.name.lower(): spec for spec in properties}
        self.order = [spec.name for spec in properties]
        self.properties_by_name = {spec.name: spec.name for spec in properties}

    def resolve(self, name: str) -> PropertySpec:
        spec = self.properties.get(name.lower())
        if spec is None:
            raise bad_request(f"Could not find a property named '{name}' on type '{self.type_name}'.")
        return spec

    # --- $select --------------------------------------------------------------------

    def select(self, text: str | None) -> list[PropertySpec]:
        if text is None:
            return [spec for spec in self.properties.values() if spec.selected_by_default]
        chosen: list[PropertySpec] = []
        for raw in text.split(","):
            name = raw.strip()
            if not name:
                continue
            if name == "*":
                return list(self.properties.values())
            spec = self.properties.get(name.lower())
            if spec is None:
                raise bad_request("Parsing OData Select and Expand failed: Could not find a property named "
                                  f"'{name}' on type '{self.type_name}'.")
            if spec not in chosen:
                chosen.append(spec)
        return chosen or [spec for spec in self.properties.values() if spec.selected_by_default]

    @staticmethod
    def project(record: dict, specs: list[PropertySpec]) -> dict:
        return {spec.name: record.get(spec.name) for spec in specs}

    # --- $filter --------------------------------------------------------------------

    def compile_filter(self, text: str, advanced_request: bool) -> CompiledFilter:
        try:
            tree = odata.parse_filter(text)
        except odata.FilterSyntaxError as exc:
            raise bad_request(str(exc)) from exc
        compiler = _FilterCompiler(self, advanced_request)
        predicate, hint = compiler.compile(tree)
        return CompiledFilter(predicate, hint, compiler.used_advanced)

    def unsupported(self, spec_name: str) -> GraphError:
        return unsupported_query(f"Unsupported or invalid query filter clause specified for property "
                                 f"'{spec_name}' of resource '{self.title}'.")


def fold(value):
    """Directory strings compare case-insensitively."""
    return value.casefold() if isinstance(value, str) else value


class _FilterCompiler:
    def __init__(self, schema: ResourceSchema, advanced_request: bool):
        self.schema = schema
        self.advanced_request = advanced_request
        self.used_advanced = False

    def require(self, spec: PropertySpec, capability: str) -> None:
        if capability in spec.default_ops:
            return
        if capability in spec.advanced_ops:
            self.used_advanced = True
            if not self.advanced_request:
                raise self.schema.unsupported(spec.name)
            return
        raise self.schema.unsupported(spec.name)

    def compile(self, node) -> tuple[Callable[[dict], bool], tuple | None]:
        if isinstance(node, odata.And):
            left, left_hint = self.compile(node.left)
            right, right_hint = self.compile(node.right)
            hint = ("and", left_hint, right_hint) if left_hint or right_hint else None
            return (lambda record: left(record) and right(record)), hint
        if isinstance(node, odata.Or):
            left, left_hint = self.compile(node.left)
            right, right_hint = self.compile(node.right)
            hint = ("or", left_hint, right_hint) if left_hint and right_hint else None
            return (lambda record: left(record) or right(record)), hint
        if isinstance(node, odata.Not):
            self.used_advanced = True
            if not self.advanced_request:
                raise unsupported_query("Unsupported query: the 'not' operator needs an advanced query "
                                        "(ConsistencyLevel: eventual and $count=true).")
            inner = self.compile(node.operand)[0]
            return (lambda record: not inner(record)), None
        if isinstance(node, odata.Compare):
            return self.comparison(node)
        if isinstance(node, odata.In):
            return self.membership(node)
        if isinstance(node, odata.Call):
            spec, function, literal = self.string_function(node, element=False)
            self.require(spec, function)
            hint = ("prefix", spec.name, literal) if function == STARTS else None
            return _string_test(spec.name, function, literal), hint
        if isinstance(node, odata.Lambda):
            return self.lambda_(node)
        if isinstance(node, odata.Property):
            spec = self.schema.resolve(node.name)
            raise self.schema.unsupported(spec.name)
        raise unsupported_query()

    def property_of(self, node) -> PropertySpec:
        if not isinstance(node, odata.Property):
            raise unsupported_query("Unsupported Query. The left operand must be a property.")
        return self.schema.resolve(node.name)

    def literal_for(self, spec: PropertySpec, node, operator: str):
        if not isinstance(node, odata.Literal):
            raise unsupported_query("Unsupported Query. The right operand must be a literal value.")
        value = node.value
        if value is None:
            return None
        expected = {"string": str, "bool": bool}.get(spec.kind)
        if expected is None or not isinstance(value, expected) or (expected is str and isinstance(value, bool)):
            found = {bool: "Edm.Boolean", str: "Edm.String", int: "Edm.Int32", float: "Edm.Double"}[type(value)]
            raise bad_request(f"A binary operator with incompatible types was detected. Found operand types "
                              f"'{_EDM.get(spec.kind, spec.kind)}' and '{found}' for operator kind '{operator}'.")
        return value

    def comparison(self, node: odata.Compare):
        spec = self.property_of(node.left)
        if spec.kind not in ("string", "bool"):
            raise self.schema.unsupported(spec.name)
        operator_name = {"eq": "Equal", "ne": "NotEqual"}.get(node.operator, node.operator)
        value = self.literal_for(spec, node.right, operator_name)
        if node.operator == "eq":
            self.require(spec, EQ_NULL if value is None else EQ)
            wanted = fold(value)
            name = spec.name
            hint = ("keys", name, (wanted,)) if value is not None else None
            return (lambda record: fold(record.get(name)) == wanted), hint
        if node.operator == "ne":
            self.require(spec, NE)
            wanted = fold(value)
            name = spec.name
            return (lambda record: fold(record.get(name)) != wanted), None
        raise self.schema.unsupported(spec.name)

    def membership(self, node: odata.In):
        spec = self.property_of(node.operand)
        if spec.kind not in ("string", "bool"):
            raise self.schema.unsupported(spec.name)
        self.require(spec, IN)
        values = tuple(fold(self.literal_for(spec, literal, "In")) for literal in node.values)
        wanted = frozenset(values)
        name = spec.name
        return (lambda record: fold(record.get(name)) in wanted), ("keys", name, values)

    def string_function(self, node: odata.Call, element: bool):
        function = {"startswith": STARTS, "endswith": ENDS}.get(node.function.lower())
        if function is None or len(node.arguments) != 2:
            raise unsupported_query(f"Unsupported Query. The function '{node.function}' is not supported.")
        subject, argument = node.arguments
        if element:
            if not isinstance(subject, odata.RangeVariable):
                raise unsupported_query()
            spec = None
        else:
            spec = self.property_of(subject)
            if spec.kind != "string":
                raise self.schema.unsupported(spec.name)
        if not isinstance(argument, odata.Literal) or not isinstance(argument.value, str):
            raise bad_request(f"Invalid filter clause: the second argument of '{node.function}' must be a string.")
        return spec, function, fold(argument.value)

    def lambda_(self, node: odata.Lambda):
        spec = self.schema.resolve(node.collection.name)
        if spec.kind != "strings" or node.quantifier != "any" or node.body is None:
            raise self.schema.unsupported(spec.name)
        body = node.body
        name = spec.name
        if isinstance(body, odata.Compare) and isinstance(body.left, odata.RangeVariable) and body.operator == "eq":
            self.require(spec, ANY_EQ)
            if not isinstance(body.right, odata.Literal) or not isinstance(body.right.value, str):
                raise bad_request("A binary operator with incompatible types was detected.")
            wanted = fold(body.right.value)
            return (lambda record: any(fold(v) == wanted for v in record.get(name) or ())), \
                ("keys", name, (wanted,))
        if isinstance(body, odata.In) and isinstance(body.operand, odata.RangeVariable):
            self.require(spec, ANY_EQ)
            values = tuple(fold(literal.value) for literal in body.values if isinstance(literal.value, str))
            wanted_set = frozenset(values)
            return (lambda record: any(fold(v) in wanted_set for v in record.get(name) or ())), \
                ("keys", name, values)
        if isinstance(body, odata.Call):
            function, prefix = self.string_function(body, element=True)[1:]
            self.require(spec, ANY_STARTS if function == STARTS else ANY_ENDS)
            if function == STARTS:
                return (lambda record: any(fold(v).startswith(prefix) for v in record.get(name) or ())), None
            return (lambda record: any(fold(v).endswith(prefix) for v in record.get(name) or ())), None
        raise self.schema.unsupported(spec.name)


def _string_test(name: str, function: str, argument: str) -> Callable[[dict], bool]:
    if function == STARTS:
        return lambda record: isinstance(record.get(name), str) and fold(record[name]).startswith(argument)
    return lambda record: isinstance(record.get(name), str) and fold(record[name]).endswith(argument)


# --- the resources ---------------------------------------------------------------------

USER = ResourceSchema("microsoft.graph.user", "User", [
    # Graph's default property set for users, in Graph's order
    _p("businessPhones", "strings", selected=True),
    _p("displayName", default=_TEXT_DEFAULT, advanced=_TEXT_ADVANCED, selected=True),
    _p("givenName", default=_TEXT_DEFAULT, advanced=_TEXT_ADVANCED, selected=True),
    _p("jobTitle", default=_TEXT_DEFAULT, advanced=_TEXT_ADVANCED, selected=True),
    _p("mail", default=_TEXT_DEFAULT, advanced=_TEXT_ADVANCED, selected=True),
    _p("mobilePhone", default=(EQ, IN, STARTS), advanced=(NE, EQ_NULL), selected=True),
    _p("officeLocation", default=(EQ, IN, STARTS), advanced=(NE, EQ_NULL), selected=True),
    _p("preferredLanguage", default=(EQ,), advanced=(NE, IN, EQ_NULL), selected=True),
    _p("surname", default=_TEXT_DEFAULT, advanced=_TEXT_ADVANCED, selected=True),
    _p("userPrincipalName", default=_TEXT_DEFAULT, advanced=(NE, ENDS), selected=True),
    _p("id", default=(EQ, IN), advanced=(NE,), selected=True),
    # returned only when selected
    _p("accountEnabled", "bool", default=(EQ,), advanced=(NE, IN, EQ_NULL)),
    _p("assignedLicenses", "objects"),
    _p("assignedPlans", "objects"),
    _p("companyName", default=_TEXT_DEFAULT, advanced=_TEXT_ADVANCED),
    _p("createdDateTime", "datetime"),
    _p("deletedDateTime", "datetime"),
    _p("department", default=_TEXT_DEFAULT, advanced=_TEXT_ADVANCED),
    _p("employeeHireDate", "datetime"),
    _p("employeeId", default=_TEXT_DEFAULT, advanced=(NE, EQ_NULL)),
    _p("employeeType", default=(EQ, IN, STARTS), advanced=(NE, EQ_NULL)),
    _p("identities", "objects"),
    _p("lastPasswordChangeDateTime", "datetime"),
    _p("mailNickname", default=_TEXT_DEFAULT, advanced=(NE, ENDS)),
    _p("onPremisesDistinguishedName"),
    _p("onPremisesDomainName"),
    _p("onPremisesExtensionAttributes", "object"),
    # rule book §8: filtering on the ImmutableId is an advanced query
    _p("onPremisesImmutableId", advanced=(EQ, IN, NE, STARTS, EQ_NULL)),
    _p("onPremisesLastSyncDateTime", "datetime"),
    _p("onPremisesProvisioningErrors", "objects"),
    _p("onPremisesSamAccountName", advanced=(EQ, IN, STARTS)),
    _p("onPremisesSecurityIdentifier", default=(EQ, IN)),
    _p("onPremisesSyncEnabled", "bool", default=(EQ,), advanced=(NE, IN, EQ_NULL)),
    _p("onPremisesUserPrincipalName", advanced=(EQ, IN, STARTS)),
    _p("otherMails", "strings", default=(ANY_EQ, ANY_STARTS), advanced=(ANY_ENDS,)),
    _p("passwordPolicies"),
    _p("provisionedPlans", "objects"),
    _p("proxyAddresses", "strings", default=(ANY_EQ, ANY_STARTS), advanced=(ANY_ENDS,)),
    _p("usageLocation", default=(EQ,), advanced=(NE, IN, EQ_NULL)),
    _p("userType", default=(EQ, IN), advanced=(NE, EQ_NULL)),
])

GROUP = ResourceSchema("microsoft.graph.group", "Group", [
    _p("id", default=(EQ, IN), advanced=(NE,), selected=True),
    _p("createdDateTime", "datetime", selected=True),
    _p("description", default=(EQ, STARTS), advanced=(NE, EQ_NULL), selected=True),
    _p("displayName", default=_TEXT_DEFAULT, advanced=_TEXT_ADVANCED, selected=True),
    _p("groupTypes", "strings", default=(ANY_EQ,), selected=True),
    _p("mail", default=_TEXT_DEFAULT, advanced=_TEXT_ADVANCED, selected=True),
    _p("mailEnabled", "bool", default=(EQ,), advanced=(NE, EQ_NULL), selected=True),
    _p("mailNickname", default=_TEXT_DEFAULT, advanced=(NE, ENDS), selected=True),
    _p("onPremisesLastSyncDateTime", "datetime", selected=True),
    _p("onPremisesSecurityIdentifier", default=(EQ, IN), selected=True),
    _p("onPremisesSyncEnabled", "bool", default=(EQ,), advanced=(NE, IN, EQ_NULL), selected=True),
    _p("proxyAddresses", "strings", default=(ANY_EQ, ANY_STARTS), advanced=(ANY_ENDS,), selected=True),
    _p("securityEnabled", "bool", default=(EQ,), advanced=(NE, EQ_NULL), selected=True),
    _p("visibility", selected=True),
])

CONTACT = ResourceSchema("microsoft.graph.orgContact", "OrgContact", [
    _p("id", default=(EQ, IN), advanced=(NE,), selected=True),
    _p("companyName", default=_TEXT_DEFAULT, advanced=_TEXT_ADVANCED, selected=True),
    _p("displayName", default=_TEXT_DEFAULT, advanced=_TEXT_ADVANCED, selected=True),
    _p("givenName", default=_TEXT_DEFAULT, advanced=_TEXT_ADVANCED, selected=True),
    _p("mail", default=_TEXT_DEFAULT, advanced=_TEXT_ADVANCED, selected=True),
    _p("mailNickname", default=_TEXT_DEFAULT, advanced=(NE, ENDS), selected=True),
    _p("onPremisesLastSyncDateTime", "datetime", selected=True),
    _p("onPremisesSyncEnabled", "bool", default=(EQ,), advanced=(NE, IN, EQ_NULL), selected=True),
    _p("proxyAddresses", "strings", default=(ANY_EQ, ANY_STARTS), advanced=(ANY_ENDS,), selected=True),
    _p("surname", default=_TEXT_DEFAULT, advanced=_TEXT_ADVANCED, selected=True),
])

ROLE_ASSIGNMENT = ResourceSchema("microsoft.graph.unifiedRoleAssignment", "UnifiedRoleAssignment", [
    _p("id", default=(EQ,), selected=True),
    _p("principalId", default=(EQ, IN), selected=True),
    _p("roleDefinitionId", default=(EQ, IN), selected=True),
    _p("directoryScopeId", default=(EQ,), selected=True),
    _p("appScopeId", default=(EQ,), selected=True),
])

ROLE_DEFINITION = ResourceSchema("microsoft.graph.unifiedRoleDefinition", "UnifiedRoleDefinition", [
    _p("id", default=(EQ, IN), selected=True),
    _p("description", selected=True),
    _p("displayName", default=(EQ, IN, STARTS), selected=True),
    _p("isBuiltIn", "bool", default=(EQ,), selected=True),
    _p("isEnabled", "bool", default=(EQ,), selected=True),
    _p("resourceScopes", "strings", selected=True),
    _p("templateId", default=(EQ, IN), selected=True),
    _p("version", selected=True),
    _p("rolePermissions", "objects", selected=True),
])

DOMAIN = ResourceSchema("microsoft.graph.domain", "Domain", [
    _p("authenticationType", selected=True),
    _p("availabilityStatus", selected=True),
    _p("id", selected=True),
    _p("isAdminManaged", "bool", selected=True),
    _p("isDefault", "bool", selected=True),
    _p("isInitial", "bool", selected=True),
    _p("isRoot", "bool", selected=True),
    _p("isVerified", "bool", selected=True),
    _p("supportedServices", "strings", selected=True),
    _p("passwordValidityPeriodInDays", "object", selected=True),
    _p("passwordNotificationWindowInDays", "object", selected=True),
    _p("state", "object", selected=True),
])
