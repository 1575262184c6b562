"""The Graph application permissions each module needs, against a token's roles."""

from __future__ import annotations

import pytest

from ansible_collections.hybrid.identity.plugins.module_utils.preflight._permissions import (
    MODULE_PERMISSIONS,
    held,
    readiness,
)


@pytest.mark.parametrize(("permission", "roles"), [
    ("User.Read.All", ["User.Read.All"]),
    ("User.Read.All", ["User.ReadWrite.All"]),
    ("User.Read.All", ["Directory.Read.All"]),
    ("User.ReadWrite.All", ["Directory.ReadWrite.All"]),
    ("Domain.Read.All", ["Directory.ReadWrite.All"]),
    ("RoleManagement.Read.Directory", ["RoleManagement.ReadWrite.Directory"]),
    ("RoleManagement.Read.Directory", ["Directory.Read.All"]),
    ("OnPremDirectorySynchronization.Read.All", ["OnPremDirectorySynchronization.ReadWrite.All"]),
    ("Application.Read.All", ["Application.ReadWrite.All"]),
])
def test_a_broader_permission_covers_a_narrower_one(permission, roles):
    assert held(permission, roles)


@pytest.mark.parametrize(("permission", "roles"), [
    ("User.ReadWrite.All", ["User.Read.All"]),
    ("User.ReadWrite.All", ["Directory.Read.All"]),
    ("User.Read.All", ["Group.Read.All", "User.Read"]),
    ("Synchronization.ReadWrite.All", ["Directory.ReadWrite.All"]),
    ("OnPremDirectorySynchronization.Read.All", ["Directory.Read.All"]),
    ("User.Read.All", []),
])
def test_a_narrower_or_other_permission_does_not(permission, roles):
    assert not held(permission, roles)


def test_readiness_names_what_is_missing_and_what_for():
    ready = readiness("cloud_user_lookup", ["User.Read.All"])
    assert ready.as_dict() == {"ready": True, "missing": [],
                               "missing_optional": {"RoleManagement.Read.Directory": "include_roles"}}
    lacking = readiness("soft_match_check", ["Domain.Read.All"])
    assert not lacking.ready and lacking.missing == ("User.Read.All",)
    assert "Domain.Read.All" not in lacking.missing_optional


def test_every_graph_module_is_listed():
    assert sorted(MODULE_PERMISSIONS) == ["ad_user_from_cloud", "cloud_sync_provision", "cloud_user_lookup",
                                          "directory_sync_features", "directory_sync_verify", "smtp_align",
                                          "soft_match_check"]
