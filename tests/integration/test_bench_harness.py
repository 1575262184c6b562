"""The end-to-end benchmark's harness at a small size: it loads a tenant, measures, and prints its table.

No timing is asserted (make bench checks the ratios at enterprise size); this only proves that
the harness runs, its floor reads the whole tenant, and its figures are there.
"""

import json
import subprocess
import sys

from tests.integration._ansible import REPO, ansible_env


def test_the_end_to_end_bench_runs_at_a_small_size(lab, tmp_path):
    figures = tmp_path / "bench.json"
    done = subprocess.run([sys.executable, "-m", "tests.bench.e2e", "--sizes", "100", "--rounds", "1",
                           "--json", str(figures)], cwd=REPO, capture_output=True, text=True, env=ansible_env(),
                          timeout=600, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ratio" in done.stdout and "module MiB" in done.stdout
    [row] = json.loads(figures.read_text())["soft_match_check"]
    assert row["size"] == 100 and row["rounds"] == 1 and row["target"] == "-"
    assert row["floor_s"] > 0 and row["baseline_s"] > 0
    assert 0 < row["module_peak_mib"] < row["tree_peak_mib"]
