"""Bad input to every module, against the lab: each case is refused with a message that says what to fix.

Every case runs the real module through ansible-playbook, all of them in one playbook (one task
each, errors ignored, results registered), so the corpus costs one Ansible start. Each refusal
must carry no Python exception text, and the whole run must write nothing: the DC's
highestCommittedUSN and the emulator's state are the same before and after. The cases that are
not errors (a quoted OData value matching nobody, an empty list) are asserted as such.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.integration._ansible import run_module, run_playbook
from tests.integration._ldif import highest_committed_usn

SCENARIO = Path(__file__).with_name("files") / "bad_input.yml"
MODULES = Path(__file__).resolve().parents[2] / "plugins" / "modules"
AD = ("ad_server", "ad_username", "ad_password", "ad_ca_cert")
GRAPH = ("tenant_id", "client_id", "client_secret", "authority_host", "graph_endpoint", "graph_ca_cert")
CONNECTION = {
    "ad_user_smtp": AD,
    "ad_user_restore": AD,
    "soft_match_check": AD + GRAPH,
    "smtp_align": AD + GRAPH,
    "ad_user_from_cloud": AD + GRAPH,
    "cloud_user_lookup": GRAPH,
    "directory_sync_features": GRAPH,
    "directory_sync_verify": GRAPH,
    "cloud_sync_provision": GRAPH,
    "connection_check": AD + GRAPH,
}
FILES = "@FILES@"  # replaced by the directory the corpus files are written into
BASE = "@BASE@"  # replaced by the lab's base DN
# What no message may show: a traceback, or a Python or ldap3 exception class name.
EXCEPTION_TEXT = re.compile(r"Traceback|\b[A-Z]\w*(?:Error|Exception)\b|\bLDAP[A-Z]\w*Result\b|File \"/")
# Ansible's own argument checks: they say what to fix without a hint.
SPEC_REFUSAL = "spec"


@dataclass(frozen=True)
class Case:
    id: str
    module: str
    args: dict
    refused: str | None = None  # a regular expression the failure's msg must match; None: not an error
    check: Callable[[dict], object] | None = None  # for cases that are not errors: what the result must show
    hint: bool = True  # typed refusals carry a hint; Ansible's argument checks carry none
    task: dict = field(default_factory=dict)  # task keywords (check_mode)


def refused(case_id, module, args, pattern, **task):
    return Case(case_id, module, args, refused=pattern, task=task)


def spec(case_id, module, args, pattern):
    return Case(case_id, module, args, refused=pattern, hint=False)


def fine(case_id, module, args, check, **task):
    return Case(case_id, module, args, check=check, task=task)


def alice(**args):
    return {"identity": "alice"} | args


LONG_LOCAL = "a" * 65 + "@contoso.com"
LONG_ADDRESS = "a" * 60 + "." + "b" * 60 + "@" + ("c" * 60 + ".") * 2 + "contoso.com"  # 257 characters
LONG_UPN = "u" * 60 + "@" + "d" * 50 + ".com"
MANY_SECONDARIES = [f"alias{number:03d}@contoso.com" for number in range(400)]

AD_USER_SMTP = [
    refused("smtp-whitespace", "ad_user_smtp", alice(primary_smtp="alice smith@contoso.com"), "whitespace"),
    refused("smtp-two-ats", "ad_user_smtp", alice(primary_smtp="alice@@contoso.com"), "alice@@contoso.com"),
    refused("smtp-no-domain", "ad_user_smtp", alice(primary_smtp="alice@"), "alice@"),
    refused("smtp-unroutable-domain", "ad_user_smtp", alice(primary_smtp="alice@contoso.local"), "contoso.local"),
    refused("smtp-over-long", "ad_user_smtp", alice(primary_smtp=LONG_ADDRESS), "256|long"),
    refused("smtp-local-part-over-64", "ad_user_smtp", alice(primary_smtp=LONG_LOCAL), "64"),
    refused("smtp-non-ascii", "ad_user_smtp", alice(primary_smtp="zoë@contoso.com"), "non-ASCII"),
    refused("smtp-angle-brackets", "ad_user_smtp", alice(primary_smtp="<alice@contoso.com>"), "'<'"),
    refused("smtp-ldap-metacharacters", "ad_user_smtp", alice(primary_smtp="al(ice)@contoso.com"), r"'\('"),
    refused("smtp-comma", "ad_user_smtp", alice(secondary_smtp={"add": ["a,b@contoso.com"]}), "','"),
    refused("smtp-ldap-wildcard", "ad_user_smtp", alice(secondary_smtp={"add": ["*"]}), r"'\*'"),
    refused("smtp-not-an-address", "ad_user_smtp", alice(secondary_smtp={"add": ["not-an-address"]}), "not-an-address"),
    refused("smtp-primary-as-secondary", "ad_user_smtp", alice(secondary_smtp={"add": ["SMTP:x@contoso.com"]}),
            "primar"),
    refused("smtp-two-sip-primaries", "ad_user_smtp",
            alice(other_addresses={"add": ["SIP:a@contoso.com", "SIP:b@contoso.com"]}), "primar"),
    refused("smtp-smtp-in-other-addresses", "ad_user_smtp", alice(other_addresses={"add": ["smtp:x@contoso.com"]}),
            "SMTP|smtp"),
    refused("smtp-other-without-type", "ad_user_smtp", alice(other_addresses={"add": ["no-type-here"]}), "type"),
    refused("smtp-add-and-remove-one-address", "ad_user_smtp",
            alice(secondary_smtp={"add": ["x@contoso.com"], "remove": ["X@contoso.com"]}), "x@contoso.com"),
    refused("smtp-remove-the-primary", "ad_user_smtp", alice(secondary_smtp={"remove": ["alice@contoso.com"]}),
            "primary"),
    refused("smtp-too-many-addresses", "ad_user_smtp", alice(secondary_smtp={"add": MANY_SECONDARIES}), "300"),
    refused("upn-whitespace", "ad_user_smtp", alice(user_principal_name="alice smith@contoso.com"), "whitespace"),
    refused("upn-over-long", "ad_user_smtp", alice(user_principal_name=LONG_UPN), "113|48|long"),
    refused("upn-non-ascii", "ad_user_smtp", alice(user_principal_name="zoë@contoso.com"), "non-ASCII"),
    refused("upn-forbidden-character", "ad_user_smtp", alice(user_principal_name="al/ice@contoso.com"), "'/'"),
    refused("upn-without-at", "ad_user_smtp", alice(user_principal_name="alice"), "@"),
    refused("upn-held-by-another-user", "ad_user_smtp", alice(user_principal_name="bob@contoso.com"),
            "already held by CN=bob,"),
    refused("anchor-not-base64", "ad_user_smtp", alice(consistency_guid="not-an-anchor"), "ImmutableId"),
    refused("anchor-wrong-length", "ad_user_smtp", alice(consistency_guid="AAAA"), "ImmutableId|16"),
    refused("nickname-with-space", "ad_user_smtp", alice(mail_nickname="has space"), "mail_nickname"),
    refused("identity-wildcard", "ad_user_smtp", {"identity": "al*"}, "no user matches"),
    refused("identity-filter-injection", "ad_user_smtp", {"identity": "alice)(|(sAMAccountName=*"},
            "no user matches"),
    refused("identity-upn-wildcard", "ad_user_smtp", {"identity": "*@contoso.com"}, "no user matches"),
    refused("identity-empty", "ad_user_smtp", {"identity": ""}, "empty"),
    refused("identity-bad-dn-syntax", "ad_user_smtp", {"identity": f"CN=a+sn=b,OU=Staff,{BASE}"},
            "as a distinguished name"),
    refused("identity-dn-of-an-ou", "ad_user_smtp", {"identity": f"OU=Staff,OU=HybridLab,{BASE}"},
            "is not a user object"),
    refused("identity-unknown-guid", "ad_user_smtp", {"identity": "00000000-0000-0000-0000-000000000000"},
            "no user matches"),
    refused("control-nul-in-identity", "ad_user_smtp", {"identity": "bob\x00@contoso.com"}, "U\\+0000 NUL"),
    refused("control-cr-in-primary", "ad_user_smtp", alice(primary_smtp="alice@contoso.com\r"), "U\\+000D CR"),
    refused("control-lf-in-secondary", "ad_user_smtp", alice(secondary_smtp={"add": ["x@contoso.com\ny"]}),
            r"secondary_smtp\.add\[0\] holds control characters"),
    refused("control-tab-in-users-item", "ad_user_smtp", {"users": [{"identity": "bob"}, {"identity": "al\tice"}]},
            r"users\[1\]\.identity"),
    refused("control-del-in-upn", "ad_user_smtp", alice(user_principal_name="alice\x7f@contoso.com"), "DEL"),
    refused("control-escape-in-x500", "ad_user_smtp", alice(other_addresses={"add": ["X500:/o=\x1b[31m"]}),
            "U\\+001B"),
    refused("address-held-by-group", "ad_user_smtp", alice(secondary_smtp={"add": ["team@contoso.com"]}),
            "already held by CN=Sales Team,OU=Groups,"),
    refused("address-held-by-contact", "ad_user_smtp", alice(primary_smtp="frank@fabrikam.com"),
            "already held by CN=Partner Frank,OU=Contacts,"),
    refused("address-held-by-user", "ad_user_smtp", alice(secondary_smtp={"add": ["Robert@Contoso.com"]}),
            "already held by CN=bob,"),
    refused("one-new-address-for-two-users", "ad_user_smtp", {"users": [
        {"identity": "alice", "secondary_smtp": {"add": ["desk@contoso.com"]}},
        {"identity": "bob", "secondary_smtp": {"add": ["desk@contoso.com"]}}]}, "already held by CN=bob,"),
    refused("huge-list-naming-one-user", "ad_user_smtp", {"users": [{"identity": "alice"}] * 1000},
            "name the same user"),
    refused("plaintext-without-the-switch", "ad_user_smtp",
            {"identity": "alice", "ad_server": "localhost", "ad_tls": "none"}, "clear text"),
    refused("server-scheme-and-tls-disagree", "ad_user_smtp", {"identity": "alice", "ad_tls": "none"},
            "ad_server uses ldaps:// but ad_tls is none"),
    refused("server-not-ldap", "ad_user_smtp", {"identity": "alice", "ad_server": "ftp://localhost"},
            "not a host name or an ldap"),
    refused("ca-cert-missing-file", "ad_user_smtp", {"identity": "alice", "ad_ca_cert": f"{FILES}/missing.pem"},
            "ad_ca_cert .*missing.pem does not exist"),
    refused("ca-cert-binary-file", "ad_user_smtp", {"identity": "alice", "ad_ca_cert": f"{FILES}/binary.bin"},
            "ad_ca_cert .*binary.bin holds no PEM certificate"),
    refused("ca-cert-truncated-file", "ad_user_smtp", {"identity": "alice", "ad_ca_cert": f"{FILES}/truncated.pem"},
            "ad_ca_cert .*truncated.pem holds no PEM certificate"),
    refused("ca-cert-a-directory", "ad_user_smtp", {"identity": "alice", "ad_ca_cert": FILES}, "is not a file"),
    spec("unknown-option", "ad_user_smtp", alice(primary_smpt="alice@contoso.com"),
         "Unsupported parameters.*primary_smpt"),
    spec("unknown-sub-option", "ad_user_smtp", alice(secondary_smtp={"append": ["x@contoso.com"]}),
         "Unsupported parameters.*append"),
    spec("unknown-option-in-users", "ad_user_smtp", {"users": [{"identity": "alice", "primary": "x@contoso.com"}]},
         "Unsupported parameters.*primary"),
    spec("bool-maybe", "ad_user_smtp", alice(keep_old_primary="maybe"), "keep_old_primary.*bool"),
    spec("dict-given-a-string", "ad_user_smtp", alice(secondary_smtp="x@contoso.com"), "dictionary requested"),
    spec("list-of-dicts-given-a-number", "ad_user_smtp", {"users": [42]}, "'users' must be a list"),
    spec("identity-and-users", "ad_user_smtp", {"identity": "alice", "users": [{"identity": "bob"}]},
         "mutually exclusive"),
    spec("neither-identity-nor-users", "ad_user_smtp", {"primary_smtp": "x@contoso.com"}, "one of the following"),
    spec("timeout-not-a-number", "ad_user_smtp", {"identity": "alice", "ad_timeout": "soon"}, "ad_timeout.*int"),
    spec("auth-not-a-choice", "ad_user_smtp", {"identity": "alice", "ad_auth": "basic"}, "ad_auth.*one of"),
    fine("empty-users-list", "ad_user_smtp", {"users": []},
         lambda result: result["changed"] is False and result["results"] == []),
    fine("tls-off-warns", "ad_user_smtp", {"identity": "alice", "ad_validate_certs": False},
         lambda result: any("ad_validate_certs is false" in warning for warning in result["warnings"])),
    fine("duplicates-allowed-in-check-mode", "ad_user_smtp",
         alice(secondary_smtp={"add": ["team@contoso.com"]}, allow_duplicate_addresses=True),
         lambda result: result["changed"] and "already held by CN=Sales Team" in result["results"][0]["warnings"][0],
         check_mode=True),
]

SCOPE = f"OU=HybridLab,{BASE}"
SOFT_MATCH_CHECK = [
    refused("search-base-missing", "soft_match_check", {"search_base": f"OU=Nope,{BASE}"}, "does not exist"),
    refused("search-base-not-a-dn", "soft_match_check", {"search_base": "Staff"}, "is not a distinguished name"),
    refused("search-base-metacharacters", "soft_match_check", {"search_base": "OU=Staff)(objectClass=*"},
            "is not a distinguished name|does not exist"),
    refused("search-base-other-domain", "soft_match_check", {"search_base": "DC=fabrikam,DC=com"},
            "not under the domain's base"),
    refused("ldap-filter-unbalanced", "soft_match_check", {"search_base": SCOPE, "ldap_filter": "(mail=*"},
            "not a valid LDAP filter"),
    refused("features-unknown-switch", "soft_match_check", {"search_base": SCOPE,
                                                            "features": {"blockSoftMatch": False}}, "unknown switch"),
    refused("features-maybe", "soft_match_check", {"search_base": SCOPE,
                                                   "features": {"blockSoftMatchEnabled": "maybe"}},
            "not true or false"),
    refused("features-null", "soft_match_check", {"search_base": SCOPE, "features": {"blockSoftMatchEnabled": None}},
            "not true or false"),
    refused("features-a-list", "soft_match_check", {"search_base": SCOPE,
                                                    "features": {"blockSoftMatchEnabled": [True]}},
            "not true or false"),
    refused("control-in-onprem-data", "soft_match_check",
            {"onprem_users": [{"userPrincipalName": "a\x00@contoso.com"}]}, r"onprem_users\[0\]\.userPrincipalName"),
    refused("control-in-role-holder", "soft_match_check", {"search_base": SCOPE,
                                                           "admin_role_holders": ["alice@contoso.com\n"]},
            r"admin_role_holders\[0\]"),
    refused("report-dir-is-a-file", "soft_match_check", {"search_base": SCOPE, "report_dir": f"{FILES}/binary.bin"},
            "could not write the reports"),
    spec("anchor-not-a-choice", "soft_match_check", {"search_base": SCOPE, "source_anchor": "guid"},
         "source_anchor.*one of"),
    spec("report-format-not-a-choice", "soft_match_check", {"search_base": SCOPE, "report_formats": ["pdf"]},
         "report_formats must be one or more of"),
    spec("data-and-search-base", "soft_match_check", {"search_base": SCOPE, "onprem_users": []},
         "mutually exclusive"),
    spec("data-given-numbers", "soft_match_check", {"onprem_users": [1, 2]}, "onprem_users.*dict"),
    spec("unknown-option-check", "soft_match_check", {"serch_base": SCOPE}, "Unsupported parameters.*serch_base"),
    spec("features-not-a-dict", "soft_match_check", {"search_base": SCOPE, "features": "on"}, "features.*dict"),
]

QUOTED_NOBODY = "nobody' or userPrincipalName ne '@contoso.com"
CLOUD_USER_LOOKUP = [
    refused("lookup-nul-in-upn", "cloud_user_lookup", {"upn": ["alice\x00@contoso.com"]}, "U\\+0000 NUL"),
    refused("lookup-lf-in-smtp", "cloud_user_lookup", {"smtp": ["alice@contoso.com\nx"]}, "U\\+000A LF"),
    refused("lookup-cr-in-object-id", "cloud_user_lookup", {"object_id": ["\r"]}, "U\\+000D CR"),
    refused("lookup-empty-value", "cloud_user_lookup", {"upn": [" "]}, "empty"),
    refused("lookup-nothing-asked", "cloud_user_lookup", {}, "nothing to look up"),
    refused("lookup-all-and-values", "cloud_user_lookup", {"all": True, "upn": ["alice@contoso.com"]},
            "all: true"),
    refused("lookup-smtp-of-another-type", "cloud_user_lookup", {"smtp": ["SIP:alice@contoso.com"]},
            "not an SMTP address"),
    refused("lookup-endpoint-not-https", "cloud_user_lookup",
            {"upn": ["alice@contoso.com"], "graph_endpoint": "ftp://graph.example"}, "graph_endpoint|https"),
    refused("lookup-certificate-missing", "cloud_user_lookup",
            {"upn": ["alice@contoso.com"], "client_secret": None, "client_certificate": f"{FILES}/missing.pem"},
            "can't read client_certificate .*missing.pem: No such file"),
    refused("lookup-certificate-binary", "cloud_user_lookup",
            {"upn": ["alice@contoso.com"], "client_secret": None, "client_certificate": f"{FILES}/binary.bin"},
            "binary.bin is not a PEM text file"),
    refused("lookup-certificate-truncated", "cloud_user_lookup",
            {"upn": ["alice@contoso.com"], "client_secret": None, "client_certificate": f"{FILES}/truncated.pem"},
            "truncated.pem holds no PEM private key"),
    refused("lookup-ca-missing", "cloud_user_lookup",
            {"upn": ["alice@contoso.com"], "graph_ca_cert": f"{FILES}/missing.pem"},
            "graph_ca_cert .*missing.pem does not exist"),
    refused("lookup-ca-binary", "cloud_user_lookup",
            {"upn": ["alice@contoso.com"], "graph_ca_cert": f"{FILES}/binary.bin"},
            "graph_ca_cert .*binary.bin holds no PEM certificate"),
    refused("lookup-nul-in-tenant", "cloud_user_lookup", {"upn": ["alice@contoso.com"], "tenant_id": "contoso\x00"},
            "tenant_id holds control"),
    spec("lookup-unknown-option", "cloud_user_lookup", {"upns": ["alice@contoso.com"]}, "Unsupported parameters"),
    spec("lookup-all-maybe", "cloud_user_lookup", {"all": "maybe"}, "all.*bool"),
    fine("lookup-quoted-upn-found", "cloud_user_lookup", {"upn": ["o'brien@contoso.com"]},
         lambda result: [user["userPrincipalName"] for user in result["users"]] == ["o'brien@contoso.com"]),
    fine("lookup-odata-injection-matches-nobody", "cloud_user_lookup", {"upn": [QUOTED_NOBODY]},
         lambda result: result["users"] == [] and result["not_found"]["upn"] == [QUOTED_NOBODY]),
    fine("lookup-odata-metacharacters-match-nobody", "cloud_user_lookup",
         {"smtp": ["a&b@contoso.com", "c#d@contoso.com", "e%27f@contoso.com", "g+h@contoso.com"]},
         lambda result: result["users"] == [] and len(result["not_found"]["smtp"]) == 4),
    fine("lookup-huge-list", "cloud_user_lookup", {"upn": [f"nobody{number:04d}@contoso.com" for number in range(300)]},
         lambda result: result["users"] == [] and len(result["not_found"]["upn"]) == 300),
    fine("lookup-tls-off-warns", "cloud_user_lookup", {"upn": ["alice@contoso.com"], "graph_validate_certs": False},
         lambda result: any("graph_validate_certs is false" in warning for warning in result["warnings"])),
]

DIRECTORY_SYNC_FEATURES = [
    refused("features-unknown", "directory_sync_features", {"features": {"blockSoftMatch": True}}, "unknown switch"),
    refused("features-value-maybe", "directory_sync_features", {"features": {"blockSoftMatchEnabled": "maybe"}},
            "not true or false"),
    refused("features-upn-match-off", "directory_sync_features", {"features": {"softMatchOnUpnEnabled": False}},
            "does not allow turning it off"),
    refused("features-password-writeback", "directory_sync_features",
            {"features": {"passwordWritebackEnabled": True}}, "can't be changed through Microsoft Graph"),
    refused("features-control-in-name", "directory_sync_features", {"features": {"blockSoftMatchEnabled\n": True}},
            r"features\['blockSoftMatchEnabled\\n'\] \(its key\) holds control characters"),
    spec("features-a-string", "directory_sync_features", {"features": "blockSoftMatchEnabled"}, "features.*dict"),
    spec("features-unknown-option", "directory_sync_features", {"feature": {}}, "Unsupported parameters"),
]

GUID = "9a7ed32a-0ab4-4d46-aa48-2d7d273334f6"
DIRECTORY_SYNC_VERIFY = [
    refused("verify-nothing-named", "directory_sync_verify", {"expected": [{"label": "x"}]},
            "names neither source_anchor nor cloud_id"),
    refused("verify-cloud-id-not-a-guid", "directory_sync_verify", {"expected": [{"cloud_id": "42"}]},
            "is not a GUID"),
    refused("verify-primary-malformed", "directory_sync_verify",
            {"expected": [{"cloud_id": GUID, "primary_smtp": "not an address"}], "timeout": 0}, "primary_smtp"),
    refused("verify-negative-timeout", "directory_sync_verify", {"expected": [{"cloud_id": GUID}], "timeout": -1},
            "timeout must be 0 or more"),
    refused("verify-zero-poll", "directory_sync_verify", {"expected": [{"cloud_id": GUID}], "poll_interval": 0},
            "poll_interval"),
    refused("verify-nul-in-anchor", "directory_sync_verify", {"expected": [{"source_anchor": "KtN+\x00"}]},
            r"expected\[0\]\.source_anchor"),
    spec("verify-unknown-sub-option", "directory_sync_verify", {"expected": [{"cloud_id": GUID, "upn": "x"}]},
         "Unsupported parameters.*upn"),
    spec("verify-missing-expected", "directory_sync_verify", {},
         "one of the following is required: expected, expected_file"),
    spec("verify-expected-and-file", "directory_sync_verify",
         {"expected": [{"cloud_id": GUID}], "expected_file": "/nonexistent/expected.json"},
         "mutually exclusive: expected[|]expected_file"),
    refused("verify-expected-file-missing", "directory_sync_verify", {"expected_file": "/nonexistent/expected.json"},
            "expected_file /nonexistent/expected.json does not exist"),
    refused("verify-expected-file-a-directory", "directory_sync_verify", {"expected_file": "/"},
            "expected_file / is a directory"),
]

CLOUD_SYNC_PROVISION = [
    refused("provision-nul-in-dn", "cloud_sync_provision", {"distinguished_names": [f"CN=alice\x00,{BASE}"]},
            r"distinguished_names\[0\]"),
    refused("provision-lf-in-job", "cloud_sync_provision", {"distinguished_names": [f"CN=alice,{BASE}"],
                                                            "job_id": "job\n"}, "job_id"),
    spec("provision-id-and-name", "cloud_sync_provision", {"distinguished_names": [f"CN=alice,{BASE}"],
                                                           "service_principal_id": GUID,
                                                           "service_principal_name": "x"}, "mutually exclusive"),
    spec("provision-unknown-option", "cloud_sync_provision", {"distinguished_names": [], "resume": True},
         "Unsupported parameters"),
    spec("provision-missing-names", "cloud_sync_provision", {}, "missing required arguments: distinguished_names"),
]


def align(**args):
    return {"search_base": SCOPE, "journal_path": f"{FILES}/journal.jsonl"} | args


SMTP_ALIGN = [
    refused("pairs-file-missing", "smtp_align", align(pairs_file=f"{FILES}/missing.csv"), "does not exist"),
    refused("pairs-file-binary", "smtp_align", align(pairs_file=f"{FILES}/binary.yml"), "is not UTF-8 text"),
    refused("pairs-file-latin-1", "smtp_align", align(pairs_file=f"{FILES}/latin1.csv"), "is not UTF-8 text"),
    refused("pairs-file-nul", "smtp_align", align(pairs_file=f"{FILES}/nul.yml"), "holds NUL bytes"),
    refused("pairs-file-truncated-json", "smtp_align", align(pairs_file=f"{FILES}/truncated.json"),
            "is not valid JSON"),
    refused("pairs-file-truncated-yaml", "smtp_align", align(pairs_file=f"{FILES}/truncated.yml"),
            "is not valid YAML at line"),
    refused("pairs-file-empty", "smtp_align", align(pairs_file=f"{FILES}/empty.yml"), "is empty"),
    refused("pairs-file-scalar", "smtp_align", align(pairs_file=f"{FILES}/scalar.yml"), "not a list of pairs"),
    refused("pairs-file-tampered-key", "smtp_align", align(pairs_file=f"{FILES}/tampered.yml"),
            "holds the key\\(s\\) pair, not pairs"),
    refused("pairs-file-a-directory", "smtp_align", align(pairs_file=FILES), "is a directory"),
    refused("pairs-file-csv-header", "smtp_align", align(pairs_file=f"{FILES}/header.csv"),
            "needs the columns onprem and cloud"),
    spec("pairs-not-mappings", "smtp_align", align(pairs=["alice"]), "Elements value for option 'pairs'.*dict"),
    refused("pairs-file-not-mappings", "smtp_align", align(pairs_file=f"{FILES}/not-mappings.json"),
            "pair 1 is 'alice', not a mapping"),
    refused("pairs-without-cloud", "smtp_align", align(pairs=[{"onprem": "alice"}]), "lacks an onprem or a cloud"),
    refused("align-search-base-missing", "smtp_align", align(search_base=f"OU=Nope,{BASE}"), "does not exist"),
    refused("align-features-maybe", "smtp_align", align(features={"blockSoftMatchEnabled": "maybe"}),
            "not true or false"),
    refused("align-without-journal", "smtp_align", {"search_base": SCOPE}, "journal_path is required"),
    refused("align-control-in-pair", "smtp_align", align(pairs=[{"onprem": "alice", "cloud": "a\x00@contoso.com"}]),
            r"pairs\[0\]\.cloud"),
    refused("align-control-in-domain-map", "smtp_align", align(domain_map={"contoso.com": "fabrikam.com\r"}),
            r"domain_map\.contoso\.com"),
    spec("align-rule-not-a-choice", "smtp_align", align(pair_by=["mail"]), "pair_by must be one or more of"),
    spec("align-primary-not-a-choice", "smtp_align", align(primary="both"), "primary.*one of"),
    spec("align-pairs-and-file", "smtp_align", align(pairs=[], pairs_file=f"{FILES}/empty.yml"),
         "mutually exclusive"),
    spec("align-domain-map-a-string", "smtp_align", align(domain_map="contoso.com"), "domain_map.*dict"),
]

RESTORE = [
    refused("restore-journal-missing", "ad_user_restore", {"journal_path": f"{FILES}/missing.jsonl"},
            "missing.jsonl"),
    refused("restore-run-id-unknown", "ad_user_restore", {"journal_path": f"{FILES}/empty.jsonl", "run_id": "nope"},
            "is not in"),
    refused("restore-control-in-run-id", "ad_user_restore", {"journal_path": f"{FILES}/empty.jsonl",
                                                             "run_id": "run\x00"}, "run_id holds control"),
    spec("restore-missing-journal-option", "ad_user_restore", {}, "missing required arguments: journal_path"),
    spec("restore-unknown-option", "ad_user_restore", {"journal_path": f"{FILES}/empty.jsonl", "journal": "x"},
         "Unsupported parameters.*journal"),
]

FROM_CLOUD = [
    refused("from-cloud-nul-in-user", "ad_user_from_cloud", {"users": ["alice\x00@contoso.com"],
                                                             "ou": f"OU=Staff,OU=HybridLab,{BASE}"},
            r"users\[0\]"),
    refused("from-cloud-lf-in-filter", "ad_user_from_cloud", {"graph_filter": "startswith(mail,'a')\n",
                                                              "ou": f"OU=Staff,OU=HybridLab,{BASE}"},
            "graph_filter holds control"),
    refused("from-cloud-features-maybe", "ad_user_from_cloud", {"users": ["alice@contoso.com"], "ou": SCOPE,
                                                                "features": {"blockSoftMatchEnabled": "maybe"}},
            "not true or false"),
    refused("from-cloud-search-base-missing", "ad_user_from_cloud",
            {"users": ["alice@contoso.com"], "ou": SCOPE, "search_base": f"OU=Nope,{BASE}"}, "does not exist"),
    spec("from-cloud-users-and-filter", "ad_user_from_cloud", {"users": ["a@contoso.com"], "graph_filter": "x",
                                                               "ou": SCOPE}, "mutually exclusive"),
    spec("from-cloud-missing-ou", "ad_user_from_cloud", {"users": ["a@contoso.com"]}, "missing required arguments: ou"),
    spec("from-cloud-unknown-option", "ad_user_from_cloud", {"users": ["a@contoso.com"], "ou": SCOPE, "o": 1},
         "Unsupported parameters"),
]

CONNECTION_CHECK = [
    spec("check-side-unknown", "connection_check", {"sides": ["ldap"]}, "sides must be one or more of"),
    spec("check-module-unknown", "connection_check", {"modules": ["soft_match"]}, "modules must be one or more"),
    spec("check-unknown-option", "connection_check", {"require_writes": True},
         "Unsupported parameters.*require_writes"),
    refused("check-nul-in-search-base", "connection_check", {"search_base": f"OU=Staff\x00,{BASE}"},
            "search_base holds control characters"),
    refused("check-ca-binary", "connection_check", {"ad_ca_cert": f"{FILES}/binary.bin"},
            "ad_ca_cert .*binary.bin holds no PEM certificate"),
]

CASES = (AD_USER_SMTP + SOFT_MATCH_CHECK + CLOUD_USER_LOOKUP + DIRECTORY_SYNC_FEATURES + DIRECTORY_SYNC_VERIFY
         + CLOUD_SYNC_PROVISION + SMTP_ALIGN + RESTORE + FROM_CLOUD + CONNECTION_CHECK)

# A PEM cut in the middle of its base64, and bytes that are no text at all.
TRUNCATED_PEM = "-----BEGIN CERTIFICATE-----\nMIIDazCCAlOgAwIBAgIUX1xu\n"
BINARY = bytes(range(256)) * 4


def write_files(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "binary.bin").write_bytes(BINARY)
    (directory / "binary.yml").write_bytes(b"\x89PNG\r\n\x1a\n" + BINARY)
    (directory / "truncated.pem").write_text(TRUNCATED_PEM)
    (directory / "latin1.csv").write_bytes("onprem,cloud\nZo\xeb,zoe@contoso.com\n".encode("latin-1"))
    (directory / "nul.yml").write_bytes(b"- {onprem: alice,\x00 cloud: alice@contoso.com}\n")
    (directory / "truncated.json").write_text(json.dumps([{"onprem": "alice", "cloud": "alice@contoso.com"}])[:25])
    (directory / "truncated.yml").write_text("pairs:\n  - {onprem: alice, cloud: alic")
    (directory / "empty.yml").write_text("")
    (directory / "empty.jsonl").write_text("")
    (directory / "scalar.yml").write_text("alice is paired with alice@contoso.com\n")
    (directory / "tampered.yml").write_text("pair:\n  - {onprem: alice, cloud: alice@contoso.com}\n")
    (directory / "header.csv").write_text("user,target\nalice,alice@contoso.com\n")
    (directory / "not-mappings.json").write_text(json.dumps(["alice"]))


def _resolved(value, files: str, base: str):
    if isinstance(value, str):
        return value.replace(FILES, files).replace(BASE, base)
    if isinstance(value, dict):
        return {key: _resolved(item, files, base) for key, item in value.items()}
    if isinstance(value, list):
        return [_resolved(item, files, base) for item in value]
    return value


def task_for(number: int, case: Case, files: str, base: str) -> dict:
    connection = {name: f"{{{{ {name} }}}}" for name in CONNECTION[case.module]}
    args = connection | _resolved(case.args, files, base)
    args = {name: value for name, value in args.items() if value is not None}
    return {"name": case.id, f"hybrid.identity.{case.module}": args, "register": f"case_{number}",
            "ignore_errors": True} | case.task


SLICES = 3  # the cases run on this many inventory hosts at once, each a local connection


def play_for(cases: list[Case], files: Path, base: str) -> dict:
    """One play over SLICES local hosts: each runs every SLICES-th case, then keeps its results in a file."""
    tasks = []
    for number, case in enumerate(cases):
        task = task_for(number, case, str(files), base)
        tasks.append(task | {"when": f"inventory_hostname == 'slice{number % SLICES}'"})
    kept = ", ".join(f"'{case.id}': case_{number}" for number, case in enumerate(cases))
    tasks.append({"name": "Keep the results of this slice",
                  "ansible.builtin.copy": {"content": "{{ {" + kept + "} | dict2items | rejectattr('value.skipped', "
                                                      "'defined') | items2dict | to_json }}",
                                           "dest": f"{files}/results-{{{{ inventory_hostname }}}}.json"},
                  "check_mode": False})
    return {"name": "Bad input to every module", "hosts": "all", "gather_facts": False, "strategy": "free",
            "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}", "ansible_connection": "local"},
            "tasks": tasks}


@pytest.fixture(scope="module")
def corpus(lab, lab_vars, tmp_path_factory):
    """Every case in one playbook; the results by case id, and the lab's state before and after."""
    lab.load(SCENARIO)
    files = tmp_path_factory.mktemp("bad_input")
    write_files(files)
    emulator = lab.service("entra").emulator
    before = (highest_committed_usn(lab_vars), emulator.state())

    inventory = ",".join(f"slice{number}" for number in range(SLICES)) + ","
    completed = run_playbook([play_for(CASES, files, lab_vars["ad_base_dn"])], extra_vars_files=(lab.vars_path,),
                             inventory=inventory, forks=SLICES)
    results = {}
    for number in range(SLICES):
        kept = files / f"results-slice{number}.json"
        if not kept.exists():
            raise AssertionError(f"the corpus kept no results:\n{completed.stdout[-5000:]}\n{completed.stderr[-5000:]}")
        results.update(json.loads(kept.read_text()))
    after = (highest_committed_usn(lab_vars), emulator.state())
    return {"results": results, "before": before, "after": after, "output": completed.stdout + completed.stderr,
            "files": files}


def test_the_corpus_covers_every_module_with_at_least_a_hundred_cases():
    modules = {path.stem for path in MODULES.glob("*.py") if not path.stem.startswith("_")}
    assert {case.module for case in CASES} == modules == set(CONNECTION)
    assert len(CASES) >= 100
    assert len({case.id for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_case(corpus, case):
    result = corpus["results"][case.id]
    shown = json.dumps(result)
    if case.refused is None:
        assert not result.get("failed"), result
        assert case.check(result), result
        return
    assert result.get("failed"), result
    message = result.get("msg", "")
    assert re.search(case.refused, message), f"{message!r} does not match {case.refused!r}"
    assert not EXCEPTION_TEXT.search(message), message
    assert not EXCEPTION_TEXT.search(shown), shown  # nor anywhere else in the result (module_stderr, exception)
    if case.hint:
        assert result.get("hint"), result
    assert not result.get("changed"), result


def test_nothing_was_written_to_the_dc_or_the_tenant(corpus):
    (usn_before, state_before), (usn_after, state_after) = corpus["before"], corpus["after"]
    assert usn_after == usn_before
    assert state_after == state_before
    assert not (corpus["files"] / "journal.jsonl").exists()


def test_no_traceback_anywhere_in_the_output(corpus):
    assert "Traceback" not in corpus["output"]


def test_secrets_never_show(corpus, lab_vars):
    assert lab_vars["ad_password"] not in corpus["output"]
    assert lab_vars["client_secret"] not in corpus["output"]
    assert base64.b64encode(lab_vars["ad_password"].encode()).decode() not in corpus["output"]


def test_a_control_character_in_a_lookup_sends_nothing_to_graph(lab, lab_vars):
    """Measured at the emulator: not even a token request precedes the refusal."""
    emulator = lab.service("entra").emulator
    before = emulator.requests(log=False)["counts"]
    status, result, _output = run_module("cloud_user_lookup", {name: lab_vars[name] for name in GRAPH}
                                         | {"upn": ["alice\x00@contoso.com", "bob@contoso.com"]})

    assert status == "FAILED" and "upn[0] holds control characters, first U+0000 NUL" in result["msg"], result
    assert emulator.requests(log=False)["counts"] == before
