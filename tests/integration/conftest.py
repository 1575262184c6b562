"""Fixtures for tests against the lab: brought up once per session, a healthy lab reused."""

import pytest

from tests.integration._graph_lab import graph, graph_lab  # noqa: F401  # pylint: disable=unused-import
from tests.lab import Lab


@pytest.fixture(scope="session")
def lab() -> Lab:
    """The running lab ($HYBRID_LAB_DIR, default .lab); left running after the session."""
    lab = Lab.from_env()
    lab.up()
    return lab


@pytest.fixture(scope="session")
def lab_vars(lab: Lab) -> dict:
    """lab_vars.yml as a dict: the module options (ad_*, graph ...) that reach the lab."""
    return lab.vars


def pytest_collection_modifyitems(items):
    """Bulk tests last: the next scenario load would wait for Samba to delete their thousands of users."""
    items.sort(key=lambda item: item.get_closest_marker("bulk") is not None)
