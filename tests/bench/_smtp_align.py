"""The smtp_align row: aligning the whole scope, as a ratio to writing the same changes with ldapmodify.

Floor: the reads the module needs (the ldapsearch dump of the scope and the raw /users listing, as
for soft_match_check) plus one ldapmodify applying the alignment's changes from one LDIF, written
from the mix. Every round starts from the loaded state: a reverse LDIF undoes the floor's changes
and then the module's, and a dump of the scope proves each revert. The module must make exactly
the floor's changes: the scope's addresses, UPNs and anchors after it are compared with those after
the floor's LDIF, and any difference stops the bench.
"""

from __future__ import annotations

from tests.bench._measure import (
    Rounds,
    connection_args,
    differences,
    dump_scope,
    floor_graph,
    floor_ldap,
    ldapmodify,
    run_playbook,
    verdict,
    write_playbook,
)
from tests.bench._tenant import alignment_ldif, cloud_count

NAME = "smtp_align"
TITLE = "smtp_align through ansible-playbook, the whole scope aligned (medians of interleaved rounds)"
# ratio to the floor at 10,000 changed users or more (the mix changes a quarter of the users: 12,500 at 50,000)
TARGETS = {50_000: (1.5, None, None)}
COLUMNS = (("size", "users", 7, ""), ("changed_users", "changed", 8, ""), ("floor_s", "floor s", 8, ".2f"),
           ("baseline_s", "1-task s", 9, ".2f"), ("ours_s", "ours s", 7, ".2f"), ("ratio", "ratio", 6, ".2f"),
           ("module_peak_mib", "module MiB", 11, ".1f"), ("tree_peak_mib", "tree MiB", 9, ".1f"),
           ("ms_per_changed_user", "ms/changed", 11, ".3f"))


class AlignmentMismatch(RuntimeError):
    """The directory after a run is not what the floor's LDIF leaves, or a revert did not restore it."""


def _check(expected: dict, actual: dict, what: str) -> None:
    wrong = differences(expected, actual)
    if wrong:
        raise AlignmentMismatch(f"{what}:\n  " + "\n  ".join(wrong))


def measure(bench, rounds: int) -> dict:
    lab_vars, base = bench.lab_vars, bench.search_base
    forward_text, reverse_text, planned = alignment_ldif(bench.size, base)
    forward, reverse = bench.scratch / "align.ldif", bench.scratch / "align-reverse.ldif"
    forward.write_text(forward_text)
    reverse.write_text(reverse_text)
    align = write_playbook(bench.scratch / "smtp_align.yml", [
        {"name": "Align", "hybrid.identity.smtp_align": connection_args() | {
            "search_base": base, "journal_path": "{{ bench_journal }}"}, "register": "alignment"},
        {"name": "Counts", "ansible.builtin.debug": {"var": "alignment.counts"}}])

    loaded = dump_scope(lab_vars, base)
    aligned = None
    result = Rounds(bench.size, bench.load_s)
    for number in range(rounds):
        ldap_s = floor_ldap(lab_vars, base)
        graph_s, listed = floor_graph(lab_vars)
        if listed != cloud_count(bench.size):
            raise RuntimeError(f"the raw listing read {listed} users")
        write_s = ldapmodify(lab_vars, forward)
        by_floor = dump_scope(lab_vars, base)
        changed = sum(1 for dn in loaded if loaded[dn] != by_floor.get(dn))
        if changed != planned or set(by_floor) != set(loaded):
            raise AlignmentMismatch(f"the floor's LDIF changed {changed} users, {planned} planned")
        if aligned is not None:
            _check(aligned, by_floor, "the floor's LDIF left another state than in the first round")
        aligned = by_floor
        ldapmodify(lab_vars, reverse)
        _check(loaded, dump_scope(lab_vars, base), "the reverse LDIF did not restore the loaded state after the floor")

        baseline_s = run_playbook(bench.one_task, bench.lab)[0]
        journal = bench.scratch / f"journal-{number}.jsonl"
        extra = bench.scratch / f"round-{number}.yml"
        extra.write_text(f"bench_journal: {journal}\n")
        wall, peak = run_playbook(align, bench.lab, module_marker="AnsiballZ_smtp_align", extra_vars=(extra,))
        _check(aligned, dump_scope(lab_vars, base), "smtp_align did not make exactly the floor's changes")
        ldapmodify(lab_vars, reverse)
        _check(loaded, dump_scope(lab_vars, base), "the reverse LDIF did not restore the loaded state after smtp_align")
        result.add(ldap_s + graph_s + write_s, baseline_s, wall, peak)
    return result.as_dict() | {"changed_users": planned, "equal_to_floor": True,
                               "ms_per_changed_user": round(1000 * result.cost / max(planned, 1), 3),
                               "target": verdict(TARGETS, result)}
