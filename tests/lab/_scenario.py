"""Reading scenario files and checking their keys, shared by every lab service."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from pathlib import Path

import yaml

from tests.lab._errors import LabError

# The sections of a scenario (tests/lab/README.md, "Scenarios"); each service reads its own.
# `expect` holds what the tests assert (predictions, cloud state after a sync); the lab ignores it.
SECTIONS = ("description", "rule", "tenant", "cloud", "ad", "expect")


class ScenarioError(LabError, ValueError):
    pass


def read_scenario(source: str | Path | Mapping) -> dict:
    """A scenario as a dict, from a YAML file path or a dict given directly."""
    if isinstance(source, Mapping):
        scenario = dict(source)
        where = "scenario"
    else:
        where = str(source)
        try:
            scenario = yaml.safe_load(Path(source).read_text())
        except OSError as err:
            raise ScenarioError(f"cannot read scenario {where}: {err}") from err
        except yaml.YAMLError as err:
            raise ScenarioError(f"{where} is not valid YAML: {err}") from err
    if scenario is None:
        scenario = {}
    if not isinstance(scenario, dict):
        raise ScenarioError(f"{where}: a scenario is a mapping with keys {', '.join(SECTIONS)}")
    check_keys(scenario, SECTIONS, where)
    return scenario


def check_keys(mapping: Mapping, allowed: Iterable[str], where: str) -> None:
    """Fail on a key that is not allowed, suggesting the closest allowed one (typos)."""
    allowed = list(allowed)
    for key in mapping:
        if key in allowed:
            continue
        same_but_case = [name for name in allowed if name.lower() == str(key).lower()]
        hint = same_but_case or difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
        suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
        raise ScenarioError(
            f"{where}: unknown key {key!r}{suggestion}; allowed keys: {', '.join(sorted(allowed))}"
        )


def require_mapping(value, where: str) -> dict:
    if not isinstance(value, Mapping):
        raise ScenarioError(f"{where}: expected a mapping, got {type(value).__name__}")
    return dict(value)


def require_list(value, where: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ScenarioError(f"{where}: expected a list, got {type(value).__name__}")
    return value
