"""One size of the bench: the tenant loaded into the lab, and what every row measuring it shares."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from tests.bench._measure import one_task_playbook
from tests.bench._tenant import OU, tenant_of


@dataclass
class BenchSize:
    lab: object
    lab_vars: dict
    size: int
    load_s: float
    search_base: str
    scratch: Path
    one_task: Path

    @classmethod
    def loaded(cls, lab, size: int, scratch: Path) -> BenchSize:
        """Load the tenant of ``size`` users into the lab."""
        started = time.perf_counter()
        lab.load(tenant_of(size))
        load_s = time.perf_counter() - started
        lab_vars = lab.vars
        scratch = scratch / str(size)
        scratch.mkdir(parents=True, exist_ok=True)
        return cls(lab, lab_vars, size, load_s, f"{OU},{lab_vars['lab_scenario_ou']}", scratch,
                   one_task_playbook(scratch))
