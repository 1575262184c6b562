"""The end-to-end benchmark's harness at a small size: it loads a tenant, measures every row, and prints its tables.

No timing is asserted (make bench checks the ratios at enterprise size); this only proves that
the harness runs, its floors read the whole tenant, smtp_align made exactly the floor's changes
(the harness stops otherwise) and left the directory as loaded, and the figures are there.
"""

import json
import subprocess
import sys

from tests.bench._measure import dump_scope
from tests.bench._tenant import OU, tenant_of
from tests.integration._ansible import REPO, ansible_env


def test_the_end_to_end_bench_runs_every_row_at_a_small_size(lab, tmp_path):
    figures = tmp_path / "bench.json"
    done = subprocess.run([sys.executable, "-m", "tests.bench.e2e", "--sizes", "100", "--rounds", "2",
                           "--json", str(figures)], cwd=REPO, capture_output=True, text=True, env=ansible_env(),
                          timeout=900, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ratio" in done.stdout and "module MiB" in done.stdout and "result B" in done.stdout
    rows = json.loads(figures.read_text())
    assert set(rows) == {"soft_match_check", "smtp_align", "directory_sync_verify", "run"}
    for name in ("soft_match_check", "smtp_align", "directory_sync_verify"):
        [row] = rows[name]
        assert row["size"] == 100 and row["rounds"] == 2 and row["target"] == "-", name
        assert row["floor_s"] > 0 and row["baseline_s"] > 0, name
        assert 0 < row["module_peak_mib"] < row["tree_peak_mib"], name
    [aligned] = rows["smtp_align"]
    assert aligned["changed_users"] == 25 and aligned["equal_to_floor"] is True  # 5 of every 20 users
    [verified] = rows["directory_sync_verify"]
    assert verified["pairs"] == 90 and verified["verified_ok"] == 0  # every joined user; nothing synced yet
    assert verified["result_bytes"] > 90 * 100

    # each round was reverted: the directory holds what was loaded
    lab_vars = lab.vars
    scope = dump_scope(lab_vars, f"{OU},{lab_vars['lab_scenario_ou']}", ("mail", "proxyAddresses"))
    loaded = {user["sAMAccountName"]: user for user in tenant_of(100)["ad"]["users"]}
    assert len(scope) == 100
    for dn, values in scope.items():
        user = loaded[dn.split(",")[0].removeprefix("CN=")]
        assert values.get("proxyAddresses", ()) == tuple(sorted(user.get("proxyAddresses", ())))
        assert values.get("mail", ()) == ((user["mail"],) if "mail" in user else ())


def test_one_row_can_be_run_alone(lab, tmp_path):
    figures = tmp_path / "bench.json"
    done = subprocess.run([sys.executable, "-m", "tests.bench.e2e", "--sizes", "100", "--rounds", "1",
                           "--paths", "smtp_align", "--json", str(figures)], cwd=REPO, capture_output=True,
                          text=True, env=ansible_env(), timeout=600, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = json.loads(figures.read_text())
    assert set(rows) == {"smtp_align", "run"} and rows["smtp_align"][0]["changed_users"] == 25
