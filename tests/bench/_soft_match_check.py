"""The soft_match_check row: the prediction of the whole scope, as a ratio to reading the same data.

Floor: ldapsearch of the module's attributes plus a raw paging of /users with its $select.
"""

from __future__ import annotations

from tests.bench._measure import Rounds, connection_args, floor_graph, floor_ldap, run_playbook, verdict, write_playbook
from tests.bench._tenant import cloud_count

NAME = "soft_match_check"
TITLE = "soft_match_check through ansible-playbook (medians of interleaved rounds)"
# ratio to the floor, module peak MiB, process-tree peak MiB (issue targets at enterprise size)
TARGETS = {100_000: (1.5, 600, 1024)}
COLUMNS = (("size", "users", 7, ""), ("load_s", "load s", 7, ".1f"), ("floor_s", "floor s", 8, ".2f"),
           ("baseline_s", "1-task s", 9, ".2f"), ("ours_s", "ours s", 7, ".2f"), ("ratio", "ratio", 6, ".2f"),
           ("module_peak_mib", "module MiB", 11, ".1f"), ("tree_peak_mib", "tree MiB", 9, ".1f"),
           ("ms_per_user", "ms/user", 8, ".3f"))


def measure(bench, rounds: int) -> dict:
    check = write_playbook(bench.scratch / "soft_match_check.yml", [
        {"name": "Predict", "hybrid.identity.soft_match_check": connection_args() | {"search_base": bench.search_base},
         "register": "prediction"},
        {"name": "Counts", "ansible.builtin.debug": {"var": "prediction.counts"}}])
    result = Rounds(bench.size, bench.load_s)
    for _round in range(rounds):
        ldap_s = floor_ldap(bench.lab_vars, bench.search_base)
        graph_s, listed = floor_graph(bench.lab_vars)
        if listed != cloud_count(bench.size):
            raise RuntimeError(f"the raw listing read {listed} users")
        baseline_s = run_playbook(bench.one_task, bench.lab)[0]
        wall, peak = run_playbook(check, bench.lab, module_marker="AnsiballZ_soft_match_check")
        result.add(ldap_s + graph_s, baseline_s, wall, peak)
    return result.as_dict() | {"ms_per_user": round(1000 * result.cost / bench.size, 3),
                               "target": verdict(TARGETS, result)}
