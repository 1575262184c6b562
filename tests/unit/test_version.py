"""The version reports carry is the one galaxy.yml declares."""

from pathlib import Path

import yaml

from ansible_collections.hybrid.identity.plugins.module_utils.common._version import COLLECTION_VERSION


def test_version_matches_galaxy_yml():
    galaxy = yaml.safe_load((Path(__file__).resolve().parents[2] / "galaxy.yml").read_text())
    assert galaxy["version"] == COLLECTION_VERSION
