"""The end-to-end benchmark: modules through ansible-playbook against the lab, as ratios to the floor.

For each size it generates a tenant with the mix an onboarding meets, loads it into the lab
(Samba and the Entra emulator) once, then measures each row (``--paths``), interleaved, round
after round:

- the floor: what doing the same work without the collection costs, in the same run, with
  ``ldapsearch``, ``ldapmodify`` and a raw ``requests`` paging of ``/users`` (each row says which);
- a one-task playbook (``ansible.builtin.debug``): what ansible-playbook costs by itself;
- the module: a playbook running it over the bench scope; its cost is its wall time minus the
  one-task playbook's.

Rows: ``soft_match_check`` (the prediction of the scope), ``smtp_align`` (the whole scope aligned,
each round reverted with a reverse LDIF, the module's changes compared with the floor's), and
``directory_sync_verify`` (one expected pair per joined user, one poll in check mode).

Memory is sampled from /proc every 20 ms while the module's playbook runs: the peak resident set
of the module's process, and the peak of the whole ansible-playbook process tree.

Absolute times on a shared 2-core machine are noise; the ratio to the floor measured in the
same run is the figure. Exit status 1 when a size with a target misses it.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import uuid
from pathlib import Path

from tests.bench import _directory_sync_verify, _smtp_align, _soft_match_check
from tests.bench._size import BenchSize
from tests.bench._tenant import MIX, tenant_of
from tests.lab import Lab

__all__ = ["MIX", "PATHS", "main", "tenant_of"]

PATHS = {row.NAME: row for row in (_soft_match_check, _smtp_align, _directory_sync_verify)}


def header(row) -> str:
    return " ".join(f"{title:>{width}}" for _key, title, width, _format in row.COLUMNS) + "  target"


def line(row, figures: dict) -> str:
    return " ".join(f"{figures[key]:>{width}{shape}}" for key, _title, width, shape in row.COLUMNS) \
        + f"  {figures['target']}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.e2e", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000, 100_000])
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of floor and module (median)")
    parser.add_argument("--paths", nargs="+", choices=list(PATHS), default=list(PATHS),
                        help="the rows to measure (default: all)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file, one list per row")
    arguments = parser.parse_args(argv)
    rows = [PATHS[name] for name in dict.fromkeys(arguments.paths)]
    lab = Lab.from_env()
    lab.up()
    figures: dict[str, list[dict]] = {row.NAME: [] for row in rows}
    with tempfile.TemporaryDirectory() as scratch:
        for size in arguments.sizes:
            bench = BenchSize.loaded(lab, size, Path(scratch))
            print(f"{size} users loaded in {bench.load_s:.1f} s", flush=True)
            for row in rows:
                figures[row.NAME].append(row.measure(bench, arguments.rounds) | {"load_s": round(bench.load_s, 1)})
                print(f"{row.TITLE}\n{header(row)}\n{line(row, figures[row.NAME][-1])}", flush=True)
    if len(arguments.sizes) > 1:
        for row in rows:
            print(f"\n{row.TITLE}\n{header(row)}")
            print("\n".join(line(row, shown) for shown in figures[row.NAME]))
    if arguments.json:
        arguments.json.write_text(json.dumps(figures | {"run": str(uuid.uuid4())}, indent=2))
    missed = sum("MISSED" in shown["target"] for rows_figures in figures.values() for shown in rows_figures)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
