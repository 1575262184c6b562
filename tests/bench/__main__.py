"""The benchmark: speed and memory of the predictor at tenant sizes, checked against targets.

`make bench` runs it. Each size builds N on-prem and N cloud users (a mix of clean matches,
DirSync primary changes, dropped aliases and new users), then times building the cloud index
and predicting every user, and measures the peak memory Python allocated on the way.
Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / ".build" / "collections"))

from ansible_collections.hybrid.identity.plugins.module_utils.matching._matching import predict
from ansible_collections.hybrid.identity.plugins.module_utils.matching._matching_index import CloudIndex
from ansible_collections.hybrid.identity.plugins.module_utils.matching._matching_result import summarize

TENANT = {"initial_domain": "contoso.onmicrosoft.com", "verified_domains": ["contoso.com"], "features": {}}
# seconds and MiB per size; generous for a 2-core machine, tight enough to catch quadratic work.
TARGETS = {5_000: (5.0, 100), 20_000: (20.0, 400), 50_000: (50.0, 1000)}


def tenant_of(size: int) -> tuple[list[dict], list[dict]]:
    onprem, cloud = [], []
    for number in range(size):
        name = f"user{number:06d}"
        kind = number % 4
        primary = f"{name}@contoso.com" if kind != 1 else f"{name}.short@contoso.com"
        onprem.append(
            {
                "distinguishedName": f"CN={name},OU=Staff,DC=contoso,DC=com",
                "sAMAccountName": name,
                "userPrincipalName": f"{name}@contoso.com",
                "mail": primary,
                "proxyAddresses": [f"SMTP:{primary}", f"X500:/o=Contoso/cn=Recipients/cn={name}"],
                "objectGUID": str(uuid.UUID(int=number + 1)),
            }
        )
        if kind == 3:
            continue  # a new user: nobody in the cloud
        addresses = [f"SMTP:{name}@contoso.com", f"smtp:{name}.short@contoso.com"]
        if kind == 2:
            addresses.append(f"smtp:{name}.alias@contoso.com")  # dropped at the sync
        cloud.append(
            {
                "id": str(uuid.UUID(int=10**9 + number)),
                "userPrincipalName": f"{name}@contoso.com",
                "mail": f"{name}@contoso.com",
                "proxyAddresses": addresses,
            }
        )
    return onprem, cloud


def run_predictor(onprem: list[dict], cloud: list[dict]) -> tuple[float, float, list]:
    started = time.perf_counter()
    index = CloudIndex.build(cloud, ())
    indexed = time.perf_counter()
    results = predict(onprem, index, TENANT)
    [result.as_dict() for result in results]
    return indexed - started, time.perf_counter() - indexed, results


def measure(size: int) -> dict:
    """Times from a plain run; the memory peak from a second run under tracemalloc, which slows it."""
    onprem, cloud = tenant_of(size)
    index_s, predict_s, results = run_predictor(onprem, cloud)
    tracemalloc.start()
    run_predictor(onprem, cloud)
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return {
        "size": size,
        "index_s": index_s,
        "predict_s": predict_s,
        "total_s": index_s + predict_s,
        "peak_mib": peak,
        "outcomes": summarize(results)["outcomes"],
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=sorted(TARGETS))
    arguments = parser.parse_args(argv)
    missed = 0
    print(f"{'users':>7} {'index s':>8} {'predict s':>10} {'total s':>8} {'peak MiB':>9}  target")
    for size in arguments.sizes:
        figures = measure(size)
        seconds, mebibytes = TARGETS.get(size, (None, None))
        ok = seconds is None or (figures["total_s"] <= seconds and figures["peak_mib"] <= mebibytes)
        missed += not ok
        target = "-" if seconds is None else f"{'ok' if ok else 'MISSED'} (<= {seconds:.0f} s, <= {mebibytes} MiB)"
        print(
            f"{size:>7} {figures['index_s']:>8.2f} {figures['predict_s']:>10.2f} {figures['total_s']:>8.2f} "
            f"{figures['peak_mib']:>9.1f}  {target}"
        )
        print(f"        outcomes: {figures['outcomes']}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
