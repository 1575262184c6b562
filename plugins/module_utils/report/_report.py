# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The report writer of soft_match_check: JSON, CSV and a self-contained HTML page, streamed, mode 0600.

Internal to the hybrid.identity collection: not a public API, it may change without notice.

The one report writer of soft_match_check: JSON, CSV and a self-contained HTML page from
its ``results`` and ``summary`` (docs/architecture.md, "Contracts"). Reports hold directory data, so every
file is written atomically with mode 0600 in a directory created 0700.

Standard library only, but for Jinja2, imported when an HTML report is asked for.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from typing import TextIO

from ansible_collections.hybrid.identity.plugins.module_utils.common._errors import HybridIdentityError
from ansible_collections.hybrid.identity.plugins.module_utils.report._attention import (
    NEEDS_PERSON,
    attention,
    urgency_key,
    worst_findings_first,
)
from ansible_collections.hybrid.identity.plugins.module_utils.report._report_template import (
    HTML_TEMPLATE,
    ONBOARD_TEMPLATE,
    OUTCOME_STYLES,
    PAGE_SIZES,
    UNKNOWN_OUTCOME_STYLE,
)

FORMATS = ("json", "csv", "html")
REPORT_NAME = "soft_match_report"
CSV_COLUMNS = (
    "sam_account_name", "distinguished_name", "onprem_upn", "onprem_primary_smtp", "outcome", "cloud_id",
    "cloud_upn", "cloud_primary_smtp", "predicted_primary_smtp", "finding_codes", "messages",
)
# Spreadsheets run a cell starting with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
JOINING = ("already_synced", "hard_match", "soft_match_smtp", "soft_match_upn")
SEVERITY_RANK = {"error": 0, "warning": 1, "info": 2}
CHART_LABEL_WIDTH = 130
CHART_BAR_SPACE = 360
CHART_ROW_HEIGHT = 26


class ReportError(HybridIdentityError, ValueError):
    """Report options that can't work: an unknown format, a report_dir that is no directory."""


def write_reports(results: Iterable[dict], summary: dict, report_dir: str, formats: Iterable[str],
                  meta: dict) -> dict[str, str]:
    """Write one report per format into report_dir; return format -> absolute path written.

    results may be any iterable of dicts, a generator too: it is read once, and every row goes
    straight into each report's temporary file, so no report is ever one big string in memory.
    """
    wanted = checked_formats(formats)
    directory = report_directory(report_dir)
    paths = {report_format: os.path.join(directory, f"{REPORT_NAME}.{report_format}") for report_format in wanted}
    csv_name = os.path.basename(paths["csv"]) if "csv" in paths else None
    with contextlib.ExitStack() as files:
        writers = [
            WRITERS[report_format](files.enter_context(atomic_file(path, ENCODINGS[report_format])),
                                   summary, meta, csv_name)
            for report_format, path in paths.items()
        ]
        for result in results:
            for writer in writers:
                writer.add(result)
        for writer in writers:
            writer.finish()
    return paths


def checked_formats(formats: Iterable[str]) -> list[str]:
    """The formats asked for, each once, in order; all checked before anything is written."""
    asked = [formats] if isinstance(formats, str) else list(formats)
    unknown = [name for name in asked if name not in FORMATS]
    if unknown:
        raise ReportError(f"unknown report format {', '.join(map(repr, unknown))}: allowed are {', '.join(FORMATS)}",
                          hint=f"set report_formats to a list of {', '.join(FORMATS)}")
    return list(dict.fromkeys(asked))


def report_directory(report_dir: str) -> str:
    """report_dir as an absolute path, created 0700 when missing."""
    directory = os.path.abspath(os.path.expanduser(report_dir))
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise ReportError(f"report_dir {directory} is a file, not a directory",
                          hint="give report_dir a directory path (it is created when missing)")
    os.makedirs(directory, mode=0o700, exist_ok=True)
    return directory


@contextlib.contextmanager
def atomic_file(path: str, encoding: str) -> Iterator[TextIO]:
    """A 0600 temporary text file beside path, renamed over path when the block ends without error."""
    handle, temporary = tempfile.mkstemp(dir=os.path.dirname(path), prefix=f".{os.path.basename(path)}.")
    try:
        os.fchmod(handle, 0o600)
        # newline="": the csv module writes its own line ends, and JSON and HTML want none translated
        with os.fdopen(handle, "w", encoding=encoding, newline="") as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


class JsonWriter:
    """Everything, keys sorted and one user per line, so two runs over the same directory compare line by line."""

    def __init__(self, stream: TextIO, summary: dict, meta: dict, csv_name: str | None) -> None:
        self.stream = stream
        self.summary = summary
        self.separator = "\n"
        stream.write('{"meta": ' + json_text(meta) + ', "results": [')

    def add(self, result: dict) -> None:
        self.stream.write(self.separator + json_text(result))
        self.separator = ",\n"

    def finish(self) -> None:
        self.stream.write('\n], "summary": ' + json_text(self.summary) + "}\n")


def json_text(value: object) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


class CsvWriter:
    """One row per user; UTF-8 with a byte order mark (the utf-8-sig encoding) so Excel reads accents right."""

    def __init__(self, stream: TextIO, summary: dict, meta: dict, csv_name: str | None) -> None:
        self.writer = csv.writer(stream)
        self.writer.writerow(CSV_COLUMNS)

    def add(self, result: dict) -> None:
        flat = flat_row(result)
        self.writer.writerow([neutralised(flat[column]) for column in CSV_COLUMNS])

    def finish(self) -> None:
        pass


def flat_row(result: dict) -> dict[str, str]:
    """A result as the flat strings the CSV columns show."""
    onprem = result.get("onprem") or {}
    cloud = result.get("cloud") or {}
    predicted = result.get("predicted") or {}
    findings = result.get("findings") or []
    return {
        "sam_account_name": text_of(onprem.get("sam_account_name")),
        "distinguished_name": text_of(onprem.get("distinguished_name")),
        "onprem_upn": text_of(onprem.get("user_principal_name")),
        "onprem_primary_smtp": text_of(onprem.get("primary_smtp")),
        "outcome": text_of(result.get("outcome")),
        "cloud_id": text_of(cloud.get("id")),
        "cloud_upn": text_of(cloud.get("user_principal_name")),
        "cloud_primary_smtp": text_of(cloud.get("primary_smtp")),
        "predicted_primary_smtp": text_of(predicted.get("primary_smtp")),
        "finding_codes": ";".join(text_of(finding.get("code")) for finding in findings),
        "messages": " | ".join(text_of(finding.get("message")) for finding in findings),
    }


def text_of(value: object) -> str:
    return "" if value is None else str(value)


def neutralised(cell: str) -> str:
    """A leading quote makes a spreadsheet show the cell as text instead of running it."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


class HtmlWriter:
    """One self-contained page: the summary rendered by Jinja2, the users as one compact JSON array that the
    page's script filters, sorts and shows a page at a time, so 100,000 users never become 100,000 DOM rows.

    Each user is a short array (HTML_ROW_FIELDS); outcomes and finding codes are numbers into the page's tables.
    Rows are kept compact in memory until the end, because the page lists them by urgency.
    """

    def __init__(self, stream: TextIO, summary: dict, meta: dict, csv_name: str | None) -> None:
        self.stream = stream
        self.summary = summary
        self.meta = meta
        self.csv_name = csv_name
        self.outcomes: dict[str, int] = {}
        self.codes: dict[tuple[str, str], int] = {}
        self.keyed_rows: list[tuple[tuple, list]] = []

    def add(self, result: dict) -> None:
        self.keyed_rows.append((urgency_key(result), self.compact_row(result)))

    def compact_row(self, result: dict) -> list:
        onprem = result.get("onprem") or {}
        cloud = result.get("cloud")
        predicted = result.get("predicted") or {}
        outcome = text_of(result.get("outcome"))
        findings = [[self.number((text_of(finding.get("code")), text_of(finding.get("severity"))), self.codes),
                     text_of(finding.get("message"))]
                    for finding in worst_findings_first(result.get("findings") or ())]
        return [
            text_of(onprem.get("sam_account_name")), text_of(onprem.get("distinguished_name")),
            text_of(onprem.get("user_principal_name")), text_of(onprem.get("primary_smtp")),
            self.number(outcome, self.outcomes),
            # null: no cloud user at all, which the page says in words
            text_of(cloud.get("user_principal_name")) if cloud else None,
            text_of(cloud.get("primary_smtp")) if cloud else None,
            text_of(predicted.get("primary_smtp")), findings, attention(result),
        ]

    @staticmethod
    def number(name, table: dict) -> int:
        return table.setdefault(name, len(table))

    def finish(self) -> None:
        import jinja2  # Ansible ships it; JSON and CSV reports don't need it
        from markupsafe import Markup

        self.keyed_rows.sort(key=lambda keyed: keyed[0])
        rows = [row for _key, row in self.keyed_rows]
        self.keyed_rows = []
        total = len(rows)
        outcomes = self.summary.get("outcomes") or {}
        environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
                                         lstrip_blocks=True)
        page_data = {
            "meta": self.meta, "total": total, "columns": HTML_ROW_FIELDS,
            "outcomes": [[name, outcome_style(name)[0]] for name in self.outcomes],
            "codes": [list(code) for code in self.codes],
            "rows": rows,
        }
        template = environment.from_string(HTML_TEMPLATE)
        # safe: script_json escapes <, > and & itself, and autoescaping would break the JSON
        for chunk in template.generate(
            meta=self.meta,
            total=total,
            csv_name=self.csv_name,
            tiles=totals_tiles(outcomes, total, sum(1 for row in rows if row[-1] == NEEDS_PERSON)),
            chart=outcome_chart(outcomes),
            finding_counts=finding_table(self.summary.get("findings") or {}, self.codes),
            page_sizes=PAGE_SIZES,
            report_json=Markup(script_json(page_data)),  # noqa: S704
        ):
            self.stream.write(chunk)


HTML_ROW_FIELDS = ("sam_account_name", "distinguished_name", "onprem_upn", "onprem_primary_smtp", "outcome",
                   "cloud_upn", "cloud_primary_smtp", "predicted_primary_smtp", "findings", "attention")
WRITERS = {"json": JsonWriter, "csv": CsvWriter, "html": HtmlWriter}
ENCODINGS = {"json": "utf-8", "csv": "utf-8-sig", "html": "utf-8"}


def script_json(value: object) -> str:
    """Compact JSON that can't end its <script> element or open a comment inside it."""
    encoded = json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":"))
    return encoded.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def outcome_style(outcome: str) -> tuple[str, str]:
    """(colour, meaning) of an outcome; one the contract doesn't list yet shows in grey."""
    return OUTCOME_STYLES.get(outcome, UNKNOWN_OUTCOME_STYLE)


def totals_tiles(outcomes: dict, total: int, need_a_person: int) -> list[dict]:
    return [
        {"label": "users in scope", "count": total, "colour": "#1c2b3a", "link": ""},
        {"label": "join a cloud user", "count": sum(outcomes.get(name, 0) for name in JOINING),
         "colour": OUTCOME_STYLES["soft_match_smtp"][0], "link": ""},
        {"label": "new cloud users", "count": outcomes.get("new_user", 0), "colour": OUTCOME_STYLES["new_user"][0],
         "link": "#outcome=new_user"},
        {"label": "need a person (conflict, blocked, invalid or an error)", "count": need_a_person,
         "colour": OUTCOME_STYLES["blocked"][0], "link": "#attention=1"},
    ]


def outcome_chart(outcomes: dict) -> dict:
    """Bars of a horizontal chart: every contract outcome (zeros too), then any other."""
    names = list(OUTCOME_STYLES) + sorted(name for name in outcomes if name not in OUTCOME_STYLES)
    largest = max(outcomes.values(), default=0) or 1
    total = sum(outcomes.values()) or 1
    bars = []
    for position, name in enumerate(names):
        count = outcomes.get(name, 0)
        colour, meaning = outcome_style(name)
        # a count of one among thousands still gets a visible sliver
        width = max(round(CHART_BAR_SPACE * count / largest), 2) if count else 0
        bars.append({"outcome": name, "count": count, "percent": round(100 * count / total), "width": width,
                     "y": position * CHART_ROW_HEIGHT, "colour": colour, "meaning": meaning})
    return {"bars": bars, "label_width": CHART_LABEL_WIDTH, "bar_space": CHART_BAR_SPACE,
            "width": CHART_LABEL_WIDTH + CHART_BAR_SPACE + 90, "height": len(names) * CHART_ROW_HEIGHT + 4}


def finding_table(finding_counts: dict, codes: Iterable[tuple[str, str]]) -> list[dict]:
    """Finding codes with severity and count, errors first, then the most frequent."""
    severities = {}
    for code, severity in codes:
        severities.setdefault(code, severity)
    table = [{"code": code, "count": count, "severity": severities.get(code, "")}
             for code, count in finding_counts.items()]
    return sorted(table, key=lambda row: (SEVERITY_RANK.get(row["severity"], 3), -row["count"], row["code"]))


ONBOARD_TILES = (  # count key, label, colour
    ("users", "users in scope", "#1c2b3a"),
    ("joined", "joined their cloud user", OUTCOME_STYLES["already_synced"][0]),
    ("created", "created on-prem from a cloud user", OUTCOME_STYLES["hard_match"][0]),
    ("aligned", "addresses aligned", OUTCOME_STYLES["soft_match_smtp"][0]),
    ("to sync", "to sync", OUTCOME_STYLES["new_user"][0]),
    ("nothing to do", "nothing to do", OUTCOME_STYLES["excluded"][0]),
    ("left alone", "left alone", OUTCOME_STYLES["blocked"][0]),
)


def onboard_page(rows: Iterable[dict], counts: dict, meta: dict) -> str:
    """The before/after page of one onboarding (rows and counts of _onboard_summary), self-contained."""
    import jinja2  # Ansible ships it

    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
                                     lstrip_blocks=True)
    shown = [row | {"before_colour": outcome_style(row["before"] or "new_user")[0],
                    "after_colour": outcome_style(row["after"])[0]} for row in rows]
    return environment.from_string(ONBOARD_TEMPLATE).render(
        meta={"scope": "", "run_id": None, "generated_at": "", "check_mode": False, "collection_version": "",
              "reports_before": None, "reports_after": None} | meta,
        tiles=[{"key": key, "label": label, "colour": colour, "count": counts.get(key, 0)}
               for key, label, colour in ONBOARD_TILES],
        why=list((counts.get("left_alone_why") or {}).items()),
        rows=shown,
    )
