"""The bench tenant: on-prem users and their cloud side in the mix an onboarding meets, and what the rows expect."""

from __future__ import annotations

DOMAIN = "contoso.com"
TENANT = {"initial_domain": "contoso.onmicrosoft.com", "verified_domains": [DOMAIN]}
OU = "OU=Bench"
# The mix, one kind per user number modulo 20 (out of 20): mostly clean matches.
MIX = (["clean"] * 10 + ["other_primary"] * 2 + ["cloud_aliases"] * 2 + ["new"] * 2
       + ["hard"] + ["upn_only"] + ["unverified_upn"] + ["duplicate"])
# the kinds whose alignment writes on-prem: the cloud primary or a cloud alias that AD lacks, or no address at all
ALIGNED_KINDS = ("other_primary", "cloud_aliases", "upn_only")
# the kinds a sync joins to an existing cloud user (a duplicate joins too, its alias quarantined)
JOINED_KINDS = ("clean", "other_primary", "cloud_aliases", "hard", "upn_only", "unverified_upn", "duplicate")


def kind_of(number: int) -> str:
    return MIX[number % len(MIX)]


def sam_of(number: int) -> str:
    return f"b{number:06d}"


def tenant_of(size: int) -> dict:
    """A scenario of ``size`` on-prem users and their cloud side, in the lab's scenario format."""
    users, cloud = [], []
    for number in range(size):
        kind = kind_of(number)
        sam = sam_of(number)
        address = f"{sam}@{DOMAIN}"
        onprem = {"sAMAccountName": sam, "ou": OU, "userPrincipalName": address, "mail": address,
                  "proxyAddresses": [f"SMTP:{address}", f"smtp:{sam}.alt@{DOMAIN}"]}
        cloud_user = {"userPrincipalName": address, "mail": address,
                      "proxyAddresses": [f"SMTP:{address}", f"smtp:{sam}.alt@{DOMAIN}"]}
        if kind == "other_primary":      # the cloud primary is an alias on-prem: the sending address changes
            onprem["mail"] = f"{sam}.alt@{DOMAIN}"
            onprem["proxyAddresses"] = [f"SMTP:{sam}.alt@{DOMAIN}", f"smtp:{address}"]
        elif kind == "cloud_aliases":    # an alias only the cloud has: dropped at the join
            cloud_user["proxyAddresses"].append(f"smtp:{sam}.cloud@{DOMAIN}")
        elif kind == "new":
            cloud_user = None
        elif kind == "hard":             # the cloud user carries the on-prem anchor
            cloud_user["onPremisesImmutableId"] = f"@ad:{sam}"
        elif kind == "upn_only":         # no mail on-prem: only the UPN can match
            del onprem["mail"], onprem["proxyAddresses"]
        elif kind == "unverified_upn":
            onprem["userPrincipalName"] = f"{sam}@contoso.local"
        elif kind == "duplicate":        # an alias another cloud user already holds
            onprem["proxyAddresses"].append(f"smtp:b{(number + 1) % size:06d}@{DOMAIN}")
        users.append(onprem)
        if cloud_user is not None:
            cloud.append(cloud_user)
    return {"tenant": TENANT, "ad": {"users": users}, "cloud": {"users": cloud}}


def cloud_count(size: int) -> int:
    return sum(1 for number in range(size) if kind_of(number) != "new")


# --- smtp_align: the writes an alignment with primary: cloud makes, as LDIF ---------------


def _alignment(number: int) -> list[tuple[str, list[str], list[str]]]:
    """(attribute, values deleted, values added) that carry the cloud user's addresses on-prem, per rule of the mix."""
    sam = sam_of(number)
    address, alias = f"{sam}@{DOMAIN}", f"{sam}.alt@{DOMAIN}"
    kind = kind_of(number)
    if kind == "other_primary":   # the cloud primary becomes the primary, the old one stays a secondary
        return [("proxyAddresses", [f"SMTP:{alias}", f"smtp:{address}"], [f"SMTP:{address}", f"smtp:{alias}"]),
                ("mail", [alias], [address])]
    if kind == "cloud_aliases":   # the alias only the cloud has is added
        return [("proxyAddresses", [], [f"smtp:{sam}.cloud@{DOMAIN}"])]
    if kind == "upn_only":        # nothing on-prem: the cloud's addresses and mail are given
        return [("proxyAddresses", [], [f"SMTP:{address}", f"smtp:{alias}"]), ("mail", [], [address])]
    return []


def _ldif_record(dn: str, changes: list[tuple[str, list[str], list[str]]]) -> str:
    lines = [f"dn: {dn}", "changetype: modify"]
    for attribute, deleted, added in changes:
        for operation, values in (("delete", deleted), ("add", added)):
            if values:
                lines += [f"{operation}: {attribute}", *(f"{attribute}: {value}" for value in values), "-"]
    return "\n".join(lines) + "\n\n"


def alignment_ldif(size: int, search_base: str) -> tuple[str, str, int]:
    """The forward and the reverse LDIF of the whole scope's alignment, and how many users they change."""
    forward, reverse, changed = [], [], 0
    for number in range(size):
        changes = _alignment(number)
        if not changes:
            continue
        dn = f"CN={sam_of(number)},{search_base}"
        forward.append(_ldif_record(dn, changes))
        reverse.append(_ldif_record(dn, [(attribute, added, deleted) for attribute, deleted, added in changes]))
        changed += 1
    return "".join(forward), "".join(reverse), changed


# --- directory_sync_verify: the pairs a sync would have joined ----------------------------


def expected_joins(size: int, anchors: dict[str, str], cloud_ids: dict[str, str]) -> list[dict]:
    """One expected pair per user the sync joins to its cloud user: anchor, cloud id, UPN and primary after the join.

    ``anchors`` maps sAMAccountName to the on-prem source anchor, ``cloud_ids`` a cloud UPN to its object id.
    """
    pairs = []
    for number in range(size):
        kind = kind_of(number)
        if kind not in JOINED_KINDS:
            continue
        sam = sam_of(number)
        address = f"{sam}@{DOMAIN}"
        pair = {"label": sam, "source_anchor": anchors[sam], "cloud_id": cloud_ids[address.lower()]}
        if kind != "upn_only":         # the on-prem primary is what the cloud user shows after the join
            pair["primary_smtp"] = f"{sam}.alt@{DOMAIN}" if kind == "other_primary" else address
        if kind != "unverified_upn":   # an unverified suffix is replaced by the initial domain's: not checked here
            pair["user_principal_name"] = address
        pairs.append(pair)
    return pairs
