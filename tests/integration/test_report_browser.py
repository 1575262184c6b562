"""The HTML report in a real browser: headless Chromium runs its JS, dumps the DOM and a screenshot.

The screenshot stays in tests/output/report_browser/ for a person to look at.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from ansible_collections.hybrid.identity.plugins.module_utils._report import write_reports

OUTPUT = Path(__file__).resolve().parents[1] / "output" / "report_browser"
SCRIPT = "<script>alert(1)</script>"
META = {
    "generated_at": "2025-01-31T09:30:00+00:00",
    "tenant": "contoso.onmicrosoft.com",
    "scope": "OU=Staff,DC=contoso,DC=com (&(objectClass=user)(proxyAddresses=smtp:*))",
    "collection_version": "1.0.0",
}
# outcome: (users, findings each of them carries)
POPULATION = {
    "soft_match_smtp": (8, [("primary_smtp_will_change", "warning", "the cloud primary {cloud} becomes {onprem}")]),
    "already_synced": (5, []),
    "soft_match_upn": (3, [("upn_will_change", "warning", "the cloud UPN follows the on-prem UPN")]),
    "hard_match": (2, [("cloud_addresses_will_be_dropped", "warning", "smtp:old@contoso.com is not on-prem")]),
    "new_user": (4, [("no_mailbox", "warning", "no mail attribute: no address to match on")]),
    "conflict": (2, [("duplicate_proxy_address", "error", "{onprem} is held by another cloud object")]),
    "blocked": (3, [("admin_role", "error", "the cloud user is a Global Administrator"),
                    ("soft_match_blocked", "error", "soft match refused for admin accounts")]),
    "invalid": (2, [("invalid_upn", "error", "the UPN has a space in its prefix")]),
    "excluded": (1, []),
}
EXPORTED = ("already_synced", "hard_match", "soft_match_smtp", "soft_match_upn", "new_user", "conflict")
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars",
]


def population() -> list[dict]:
    """30 users over every outcome; the first one carries script text in its UPN, DN and message."""
    results = [
        user(f"{outcome.replace('_', '')[:8]}{number:02d}", outcome, findings)
        for outcome, (count, findings) in POPULATION.items()
        for number in range(count)
    ]
    hostile = results[0]
    hostile["onprem"]["distinguished_name"] = f"CN={SCRIPT},OU=Staff,DC=contoso,DC=com"
    hostile["onprem"]["user_principal_name"] = f"{SCRIPT}@contoso.com"
    hostile["findings"][0]["message"] = f"display name {SCRIPT} is not an address"
    return results


def user(sam: str, outcome: str, findings: list[tuple[str, str, str]]) -> dict:
    onprem, cloud = f"{sam}@contoso.com", f"{sam}.cloud@contoso.com"
    has_cloud = outcome not in ("new_user", "excluded", "invalid")
    return {
        "onprem": {"distinguished_name": f"CN={sam},OU=Staff,DC=contoso,DC=com", "sam_account_name": sam,
                   "user_principal_name": onprem, "primary_smtp": onprem, "source_anchor": "KtN+mrQKRk2qSC19JzM09g=="},
        "cloud": {"id": f"id-{sam}", "user_principal_name": cloud, "primary_smtp": cloud,
                  "on_premises_immutable_id": None, "on_premises_sync_enabled": None} if has_cloud else None,
        "outcome": outcome,
        "findings": [{"code": code, "severity": severity, "message": message.format(cloud=cloud, onprem=onprem),
                      "attribute": None, "value": None} for code, severity, message in findings],
        "predicted": {"primary_smtp": onprem, "user_principal_name": onprem, "proxy_addresses": [f"SMTP:{onprem}"]}
        if outcome in EXPORTED else None,
    }


def summary_of(results: list[dict]) -> dict:
    outcomes: dict[str, int] = {}
    findings: dict[str, int] = {}
    for result in results:
        outcomes[result["outcome"]] = outcomes.get(result["outcome"], 0) + 1
        for finding in result["findings"]:
            findings[finding["code"]] = findings.get(finding["code"], 0) + 1
    return {"outcomes": outcomes, "findings": findings}


@pytest.fixture(scope="session")
def chromium() -> str:
    """Chromium from Debian, installed with apt-get when missing (CI runs as root)."""
    if shutil.which("chromium") is None:
        if os.geteuid() != 0:
            pytest.skip("chromium is missing; as root run: apt-get install -y chromium")
        env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "chromium"]
        if subprocess.run(install, env=env, capture_output=True, check=False).returncode != 0:
            subprocess.run(["apt-get", "update"], env=env, capture_output=True, check=True)
            subprocess.run(install, env=env, capture_output=True, check=True)
    return shutil.which("chromium")


@pytest.fixture(scope="module")
def report() -> Path:
    results = population()
    written = write_reports(results, summary_of(results), str(OUTPUT), ["html"], META)
    return Path(written["html"])


@pytest.fixture(scope="module")
def profile(tmp_path_factory) -> Path:
    """A throwaway browser profile, so no state of another run leaks in."""
    return tmp_path_factory.mktemp("chromium-profile")


@pytest.fixture(scope="module")
def full_page(chromium, report, profile) -> RenderedReport:
    return rendered(chromium, report, profile)


def run_chromium(chromium: str, profile: Path, *arguments: str) -> str:
    done = subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *arguments],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def rendered(chromium: str, report: Path, profile: Path, fragment: str = "") -> RenderedReport:
    """The DOM after the page's JS ran, opened at report + fragment (a #hash or a ?query)."""
    page = RenderedReport()
    page.feed(run_chromium(chromium, profile, "--dump-dom", report.as_uri() + fragment))
    return page


class RenderedReport(HTMLParser):
    """What a dumped DOM shows: user rows and whether hidden, chart counts, scripts, text."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict] = []
        self.chart_counts: dict[str, str] = {}
        self.scripts = 0
        self.hidden_ids: set[str] = set()
        self.shown_count = ""
        self._bar = None
        self._capture = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attributes = dict(attrs)
        if "hidden" in attributes and "id" in attributes:
            self.hidden_ids.add(attributes["id"])
        if tag == "script":
            self.scripts += 1
        elif tag == "tr" and "data-outcome" in attributes:
            self.rows.append({"outcome": attributes["data-outcome"], "hidden": "hidden" in attributes, "text": ""})
        elif tag == "a" and "outcome-bar" in (attributes.get("class") or ""):
            self._bar = attributes["data-outcome"]
        elif tag == "text" and attributes.get("class") == "count" and self._bar:
            self._capture = "bar"
        elif attributes.get("id") == "shown-count":
            self._capture = "shown"

    def handle_endtag(self, tag: str) -> None:
        if tag in ("text", "b"):
            self._capture = None
        if tag == "a":
            self._bar = None

    def handle_data(self, data: str) -> None:
        if self.rows:
            self.rows[-1]["text"] += data
        if self._capture == "bar":
            self.chart_counts[self._bar] = self.chart_counts.get(self._bar, "") + data
        elif self._capture == "shown":
            self.shown_count += data

    def visible_outcomes(self) -> list[str]:
        return [row["outcome"] for row in self.rows if not row["hidden"]]


def test_full_report_renders_summary_and_rows(full_page):
    page = full_page
    assert len(page.rows) == 30
    assert not any(row["hidden"] for row in page.rows)
    for outcome, (count, _findings) in POPULATION.items():
        assert page.chart_counts[outcome].split()[0] == str(count), outcome
    assert "filters" not in page.hidden_ids  # the JS ran and showed the filter bar
    assert page.shown_count == "30"


def test_script_text_shows_as_text(full_page):
    page = full_page
    assert page.scripts == 2  # the embedded data and the filter code: nothing injected
    hostile = page.rows[0]["text"]
    assert f"{SCRIPT}@contoso.com" in hostile
    assert f"display name {SCRIPT} is not an address" in hostile


def test_outcome_in_the_fragment_filters_on_load(chromium, report, profile):
    page = rendered(chromium, report, profile, "#outcome=blocked")
    assert page.visible_outcomes() == ["blocked"] * POPULATION["blocked"][0]
    assert page.shown_count == str(POPULATION["blocked"][0])


def test_finding_and_search_in_the_query_filter_on_load(chromium, report, profile):
    page = rendered(chromium, report, profile, "?finding=primary_smtp_will_change&q=softmatc03")
    assert [row["text"].split()[0] for row in page.rows if not row["hidden"]] == ["softmatc03"]
    assert "no-match" in page.hidden_ids


def test_screenshot(chromium, report, profile):
    screenshot = OUTPUT / "report.png"
    screenshot.unlink(missing_ok=True)
    run_chromium(chromium, profile, f"--screenshot={screenshot}", "--window-size=1400,1000",
                 report.as_uri())
    assert screenshot.stat().st_size > 10_000
