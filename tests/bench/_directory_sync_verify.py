"""The directory_sync_verify row: one expected pair per user a sync joins, as a ratio to one raw listing of /users.

The bench tenant is not synchronized, so the module runs in check mode: one poll, which past
2,000 pairs is one listing of the tenant matched locally, and a result per pair that lists what
differs (every pair differs: the sync has not run). The pairs reach the module as an
``expected_file``, the way for tens of thousands of pairs; the ``expected`` option passes them
through the controller's templating and module arguments. The size of the module's JSON result, written
by a separate run after the timed rounds, shows a return shape that does not scale.
"""

from __future__ import annotations

import json

from tests.bench._measure import (
    GRAPH_CONNECTION,
    Rounds,
    connection_args,
    floor_graph,
    graph_pages,
    run_playbook,
    verdict,
    write_playbook,
)
from tests.bench._tenant import cloud_count, expected_joins

NAME = "directory_sync_verify"
TITLE = "directory_sync_verify through ansible-playbook, check mode, one pair per joined user (medians)"
# ratio to one raw listing at 100,000 users (90,000 pairs: all but the new users); no memory target yet
TARGETS = {100_000: (1.5, None, None)}
COLUMNS = (("size", "users", 7, ""), ("pairs", "pairs", 7, ""), ("floor_s", "floor s", 8, ".2f"),
           ("baseline_s", "1-task s", 9, ".2f"), ("ours_s", "ours s", 7, ".2f"), ("ratio", "ratio", 6, ".2f"),
           ("module_peak_mib", "module MiB", 11, ".1f"), ("tree_peak_mib", "tree MiB", 9, ".1f"),
           ("ms_per_pair", "ms/pair", 8, ".3f"), ("result_bytes", "result B", 11, ""),
           ("bytes_per_pair", "B/pair", 7, ".0f"))


def _expected(bench) -> list[dict]:
    anchors = {sam: identity.source_anchor for sam, identity in bench.lab.ad_identities().items()}
    cloud_ids = {user["userPrincipalName"].lower(): user["id"]
                 for page in graph_pages(bench.lab_vars, "id,userPrincipalName") for user in page}
    return expected_joins(bench.size, anchors, cloud_ids)


def measure(bench, rounds: int) -> dict:
    pairs = _expected(bench)
    expected = bench.scratch / "expected.json"
    expected.write_text(json.dumps({"expected": pairs}))
    task = {"name": "Verify", "hybrid.identity.directory_sync_verify": connection_args(GRAPH_CONNECTION) | {
        "expected_file": str(expected)}, "check_mode": True, "register": "verification"}
    verify = write_playbook(bench.scratch / "directory_sync_verify.yml", [
        task, {"name": "Summary", "ansible.builtin.debug": {"var": "verification.summary"}}])
    result = Rounds(bench.size, bench.load_s)
    for _round in range(rounds):
        graph_s, listed = floor_graph(bench.lab_vars)
        if listed != cloud_count(bench.size):
            raise RuntimeError(f"the raw listing read {listed} users")
        baseline_s = run_playbook(bench.one_task, bench.lab)[0]
        wall, peak = run_playbook(verify, bench.lab, module_marker="AnsiballZ_directory_sync_verify")
        result.add(graph_s, baseline_s, wall, peak)

    # untimed: what the module hands back, as JSON, and that it checked every pair
    written = bench.scratch / "verification.json"
    write_playbook(bench.scratch / "directory_sync_verify_result.yml", [task, {
        "name": "Write the result", "ansible.builtin.copy": {"content": "{{ verification | to_json }}",
                                                             "dest": str(written), "mode": "0600"}}])
    run_playbook(bench.scratch / "directory_sync_verify_result.yml", bench.lab)
    returned = json.loads(written.read_text())
    if returned["summary"]["pairs"] != len(pairs) or len(returned["results"]) != len(pairs):
        raise RuntimeError(f"directory_sync_verify checked {returned['summary']['pairs']} of {len(pairs)} pairs")
    size = written.stat().st_size
    return result.as_dict() | {"pairs": len(pairs), "ms_per_pair": round(1000 * result.cost / max(len(pairs), 1), 3),
                               "result_bytes": size, "bytes_per_pair": round(size / max(len(pairs), 1), 1),
                               "verified_ok": returned["summary"]["ok"], "target": verdict(TARGETS, result)}
