"""The report writer: JSON, CSV and the self-contained HTML page, from plain data."""

import csv
import json
import os
import re
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ansible_collections.hybrid.identity.plugins.module_utils.report._report import (
    CSV_COLUMNS,
    ReportError,
    write_reports,
)

SCRIPT = "<script>alert(1)</script>"
META = {
    "generated_at": "2025-01-31T09:30:00+00:00",
    "tenant": "contoso.onmicrosoft.com",
    "scope": "OU=Staff,DC=contoso,DC=com (&(objectClass=user)(mail=*))",
    "collection_version": "1.0.0",
}


def finding(code, severity="warning", message="", attribute=None, value=None):
    return {"code": code, "severity": severity, "message": message or f"{code} explained",
            "attribute": attribute, "value": value}


def result(sam, outcome, findings=(), cloud=True, predicted=None, upn=None, dn=None):
    upn = upn or f"{sam}@contoso.com"
    return {
        "onprem": {"distinguished_name": dn or f"CN={sam},OU=Staff,DC=contoso,DC=com", "sam_account_name": sam,
                   "user_principal_name": upn, "primary_smtp": f"{sam}@contoso.com",
                   "source_anchor": "KtN+mrQKRk2qSC19JzM09g=="},
        "cloud": {"id": f"id-{sam}", "user_principal_name": f"{sam}@contoso.onmicrosoft.com",
                  "primary_smtp": f"{sam}.cloud@contoso.com", "on_premises_immutable_id": None,
                  "on_premises_sync_enabled": None} if cloud else None,
        "outcome": outcome,
        "findings": list(findings),
        "predicted": predicted,
    }


def summary_of(results):
    outcomes, findings = {}, {}
    for item in results:
        outcomes[item["outcome"]] = outcomes.get(item["outcome"], 0) + 1
        for entry in item["findings"]:
            findings[entry["code"]] = findings.get(entry["code"], 0) + 1
    return {"outcomes": dict(sorted(outcomes.items())), "findings": dict(sorted(findings.items()))}


@pytest.fixture
def results():
    return [
        result("alice", "soft_match_smtp", [finding("primary_smtp_will_change", message="alice.cloud@ becomes alice@")],
               predicted={"primary_smtp": "alice@contoso.com", "user_principal_name": "alice@contoso.com",
                          "proxy_addresses": ["SMTP:alice@contoso.com"]}),
        result("bob", "blocked", [finding("admin_role", "error", "Global Administrator"),
                                  finding("soft_match_blocked", "error", "cloud user holds an admin role")]),
        result("carol", "new_user", cloud=False),
        result("mallory", "conflict", [finding("duplicate_proxy_address", "error", f"taken by {SCRIPT}")],
               upn=f"{SCRIPT}@contoso.com", dn=f"CN={SCRIPT},OU=Staff,DC=contoso,DC=com"),
        result("=cmd|' /C calc'!A0", "invalid", [finding("invalid_upn", "error", "=HYPERLINK(\"x\")")]),
        result("müller", "already_synced"),
    ]


def write(tmp_path, results, formats, meta=None):
    return write_reports(results, summary_of(results), str(tmp_path / "reports"), formats, meta or META)


def html_page(tmp_path, results, meta=None):
    return Path(write(tmp_path, results, ["html"], meta)["html"]).read_text(encoding="utf-8")


def embedded_json(page):
    return re.search(r'<script type="application/json" id="report-data">(.*?)</script>', page, re.S).group(1)


# --- JSON -------------------------------------------------------------------------


def test_json_round_trips(tmp_path, results):
    path = write(tmp_path, results, ["json"])["json"]
    with open(path, encoding="utf-8") as stream:
        document = json.load(stream)
    assert document == {"meta": META, "summary": summary_of(results), "results": results}


def test_json_is_stable_between_runs(tmp_path, results):
    first = Path(write(tmp_path, results, ["json"])["json"]).read_bytes()
    second = Path(write(tmp_path, results, ["json"])["json"]).read_bytes()
    assert first == second
    assert first.index(b'"meta"') < first.index(b'"results"') < first.index(b'"summary"')
    assert "müller".encode() in first


def test_paths_are_absolute_one_per_format_in_order(tmp_path, results):
    written = write(tmp_path, results, ("csv", "json", "html", "csv"))
    assert list(written) == ["csv", "json", "html"]
    for report_format, path in written.items():
        assert os.path.isabs(path)
        assert path.endswith(f".{report_format}")
        assert os.path.isfile(path)


# --- CSV --------------------------------------------------------------------------


def csv_rows(tmp_path, results):
    path = write(tmp_path, results, ["csv"])["csv"]
    with open(path, encoding="utf-8-sig", newline="") as stream:
        return list(csv.DictReader(stream))


def test_csv_has_one_row_per_user_with_the_columns(tmp_path, results):
    rows = csv_rows(tmp_path, results)
    assert tuple(rows[0]) == CSV_COLUMNS
    assert len(rows) == len(results)
    bob = rows[1]
    assert bob["sam_account_name"] == "bob"
    assert bob["outcome"] == "blocked"
    assert bob["cloud_id"] == "id-bob"
    assert bob["finding_codes"] == "admin_role;soft_match_blocked"
    assert bob["messages"] == "Global Administrator | cloud user holds an admin role"
    assert rows[0]["predicted_primary_smtp"] == "alice@contoso.com"
    assert rows[2]["cloud_upn"] == ""
    assert rows[5]["sam_account_name"] == "müller"


def test_csv_neutralises_formulas(tmp_path, results):
    rows = csv_rows(tmp_path, results)
    assert rows[4]["sam_account_name"] == "'=cmd|' /C calc'!A0"
    assert rows[4]["messages"] == "'=HYPERLINK(\"x\")"


@pytest.mark.parametrize("value", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"])
def test_csv_neutralises_every_formula_start(tmp_path, value):
    rows = csv_rows(tmp_path, [result("user", "new_user", cloud=False, upn=value)])
    assert rows[0]["onprem_upn"] == "'" + value


# --- HTML -------------------------------------------------------------------------


def page_data(page):
    return json.loads(embedded_json(page))


def shown_rows(page):
    """The users as the page's script reads them: one dict per compact row, outcome and codes by name."""
    data = page_data(page)
    shown = []
    for row in data["rows"]:
        named = dict(zip(data["columns"], row, strict=True))
        named["outcome"] = data["outcomes"][named["outcome"]][0]
        named["findings"] = [(*data["codes"][code], message) for code, message in named["findings"]]
        shown.append(named)
    return shown


def test_html_escapes_directory_values(tmp_path, results):
    page = html_page(tmp_path, results, META | {"scope": f"OU={SCRIPT}"})
    assert SCRIPT not in page
    assert "OU=&lt;script&gt;alert(1)&lt;/script&gt;" in page  # the scope, rendered by Jinja2
    mallory = next(row for row in shown_rows(page) if row["sam_account_name"] == "mallory")
    assert mallory["onprem_upn"] == f"{SCRIPT}@contoso.com"  # the page's script sets it as text
    assert mallory["findings"] == [("duplicate_proxy_address", "error", f"taken by {SCRIPT}")]
    assert len(re.findall(r"<script\b", page)) == 2  # the embedded data and the table code, nothing injected
    assert "innerHTML" not in page and "insertAdjacentHTML" not in page


def test_html_embedded_json_is_safe_inside_script(tmp_path, results):
    page = html_page(tmp_path, results, META | {"scope": f"OU={SCRIPT} & (mail=*)"})
    embedded = embedded_json(page)
    assert "<" not in embedded and ">" not in embedded and "&" not in embedded
    assert "\\u003cscript\\u003e" in embedded
    assert json.loads(embedded)["meta"]["scope"] == f"OU={SCRIPT} & (mail=*)"


def test_html_needs_no_network(tmp_path, results):
    page = html_page(tmp_path, results)
    assert "http://" not in page and "https://" not in page
    assert not re.search(r"\bsrc\s*=", page)
    assert "@import" not in page and "url(" not in page
    assert all(target.startswith("#") for target in re.findall(r'\bhref="([^"]*)"', page))


def test_html_links_the_csv_written_beside_it(tmp_path, results):
    written = write(tmp_path, results, ["html", "csv"])
    page = Path(written["html"]).read_text(encoding="utf-8")
    assert '<a class="download" id="csv-link" href="soft_match_report.csv" download>' in page
    assert os.path.dirname(written["csv"]) == os.path.dirname(written["html"])
    assert "csv-link" not in html_page(tmp_path, results)  # no CSV asked for: no dead link


def test_html_shows_summary_and_every_user(tmp_path, results):
    page = html_page(tmp_path, results)
    assert len(shown_rows(page)) == len(results)
    assert page_data(page)["total"] == len(results)
    for outcome in ("soft_match_smtp", "blocked", "new_user", "conflict", "invalid", "already_synced"):
        assert f'<a href="#outcome={outcome}"' in page
    assert '<a href="#finding=admin_role">admin_role</a>' in page
    assert "contoso.onmicrosoft.com" in page
    assert "2025-01-31T09:30:00+00:00" in page
    carol = next(row for row in shown_rows(page) if row["sam_account_name"] == "carol")
    assert carol["cloud_upn"] is None  # the page says "no cloud user"


def test_html_lists_who_needs_a_person_first_in_a_stable_order(tmp_path, results):
    rows = shown_rows(html_page(tmp_path, results))
    assert [row["sam_account_name"] for row in rows] == [
        "bob", "mallory", "=cmd|' /C calc'!A0",  # blocked, conflict, invalid: a person must act
        "alice",                                   # a visible change to accept
        "carol", "müller",                         # fine, by outcome: new_user before already_synced
    ]
    assert [row["attention"] for row in rows] == [0, 0, 0, 1, 2, 2]
    assert rows == shown_rows(html_page(tmp_path, list(reversed(results))))


def test_html_lists_errors_before_warnings_within_a_user(tmp_path):
    page = html_page(tmp_path, [result("dora", "blocked", [finding("primary_smtp_will_change"),
                                                           finding("admin_role", "error")])])
    assert [code for code, _severity, _message in shown_rows(page)[0]["findings"]] == [
        "admin_role", "primary_smtp_will_change"]


def test_html_takes_an_outcome_the_contract_does_not_list(tmp_path):
    page = html_page(tmp_path, [result("newcomer", "some_future_outcome")])
    assert shown_rows(page)[0]["outcome"] == "some_future_outcome"
    assert '<a href="#outcome=some_future_outcome"' in page


def test_html_holds_rows_as_compact_data(tmp_path):
    many = [result(f"user{number:05d}", "soft_match_smtp" if number % 7 else "blocked",
                   [finding("primary_smtp_will_change")] if number % 3 else []) for number in range(20000)]
    started = time.monotonic()
    page = html_page(tmp_path, many)
    assert time.monotonic() - started < 10
    assert len(page_data(page)["rows"]) == 20000
    assert "<tr" not in page.split('id="report-data"')[0].split('id="user-rows"')[1]  # no row in the markup
    assert "\n" not in embedded_json(page)  # one compact line of JSON
    assert len(page) < 20000 * 300


def test_reports_read_a_generator_once(tmp_path, results):
    reads = []

    def rows():
        for item in results:
            reads.append(item["onprem"]["sam_account_name"])
            yield item

    written = write_reports(rows(), summary_of(results), str(tmp_path / "reports"), ["json", "csv", "html"], META)
    assert len(reads) == len(results)
    assert len(json.loads(Path(written["json"]).read_text())["results"]) == len(results)
    assert len(shown_rows(Path(written["html"]).read_text())) == len(results)


def test_json_has_one_user_per_line(tmp_path, results):
    lines = Path(write(tmp_path, results, ["json"])["json"]).read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(results) + 2
    assert [json.loads(line.rstrip(","))["onprem"]["sam_account_name"] for line in lines[1:-1]] == [
        item["onprem"]["sam_account_name"] for item in results]


def test_a_failing_row_leaves_the_old_reports_and_no_temporary(tmp_path, results):
    written = write(tmp_path, results, ["json", "csv", "html"])
    before = {path: Path(path).read_bytes() for path in written.values()}

    def rows():
        yield results[0]
        raise RuntimeError("the directory went away")

    with pytest.raises(RuntimeError):
        write_reports(rows(), summary_of(results), str(tmp_path / "reports"), ["json", "csv", "html"], META)
    assert {path: Path(path).read_bytes() for path in written.values()} == before
    assert sorted(os.listdir(tmp_path / "reports")) == sorted(os.path.basename(path) for path in written.values())


# --- files and errors -------------------------------------------------------------


def test_files_are_0600_in_a_new_0700_directory(tmp_path, results):
    report_dir = tmp_path / "nested" / "reports"
    written = write_reports(results, summary_of(results), str(report_dir), ["json", "csv", "html"], META)
    assert stat.S_IMODE(report_dir.stat().st_mode) == 0o700
    for path in written.values():
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_rewriting_replaces_the_file_and_leaves_no_temporary(tmp_path, results):
    write(tmp_path, results, ["json", "csv"])
    path = write(tmp_path, results[:1], ["json", "csv"])["json"]
    assert len(json.loads(Path(path).read_text())["results"]) == 1
    assert sorted(os.listdir(tmp_path / "reports")) == ["soft_match_report.csv", "soft_match_report.json"]


def test_unknown_format_names_the_allowed_ones(tmp_path, results):
    with pytest.raises(ValueError, match=r"unknown report format 'pdf': allowed are json, csv, html"):
        write(tmp_path, results, ["json", "pdf"])
    assert not (tmp_path / "reports").exists()


def test_report_dir_that_is_a_file(tmp_path, results):
    occupied = tmp_path / "reports"
    occupied.write_text("not a directory")
    with pytest.raises(ReportError, match="is a file, not a directory") as caught:
        write(tmp_path, results, ["json"])
    assert caught.value.hint


def test_json_and_csv_need_no_jinja2(tmp_path):
    code = (
        "import sys\n"
        "sys.modules['jinja2'] = None\n"
        "sys.modules['markupsafe'] = None\n"
        "from ansible_collections.hybrid.identity.plugins.module_utils.report._report import write_reports\n"
        "print(sorted(write_reports([], {'outcomes': {}, 'findings': {}}, sys.argv[1], ['json', 'csv'], {})))\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=False,
                          env=os.environ | {"PYTHONPATH": os.pathsep.join(sys.path)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['csv', 'json']"
