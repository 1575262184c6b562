# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Internal to the hybrid.identity collection: not a public API, it may change without notice.

The one report writer of soft_match_check: JSON, CSV and a self-contained HTML page from
its ``results`` and ``summary`` (architecture.md). Reports hold directory data, so every
file is written atomically with mode 0600 in a directory created 0700.

Standard library only, but for Jinja2, imported when an HTML report is asked for.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import tempfile
from collections.abc import Iterable

from ansible_collections.hybrid.identity.plugins.module_utils._errors import HybridIdentityError
from ansible_collections.hybrid.identity.plugins.module_utils._report_template import (
    HTML_TEMPLATE,
    OUTCOME_STYLES,
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
NEEDS_ATTENTION = ("conflict", "blocked", "invalid")
SEVERITY_RANK = {"error": 0, "warning": 1, "info": 2}
CHART_LABEL_WIDTH = 130
CHART_BAR_SPACE = 360
CHART_ROW_HEIGHT = 26


class ReportError(HybridIdentityError, ValueError):
    """Report options that can't work: an unknown format, a report_dir that is no directory."""


def write_reports(results: list[dict], summary: dict, report_dir: str, formats: Iterable[str],
                  meta: dict) -> dict[str, str]:
    """Write one report per format into report_dir; return format -> absolute path written."""
    wanted = checked_formats(formats)
    directory = report_directory(report_dir)
    renderers = {"json": json_report, "csv": csv_report, "html": html_report}
    written = {}
    for report_format in wanted:
        path = os.path.join(directory, f"{REPORT_NAME}.{report_format}")
        write_atomically(path, renderers[report_format](results, summary, meta))
        written[report_format] = path
    return written


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


def write_atomically(path: str, content: bytes) -> None:
    """Write to a 0600 temporary file beside path, then rename it over path."""
    handle, temporary = tempfile.mkstemp(dir=os.path.dirname(path), prefix=f".{os.path.basename(path)}.")
    try:
        with os.fdopen(handle, "wb") as stream:
            os.fchmod(stream.fileno(), 0o600)
            stream.write(content)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def json_report(results: list[dict], summary: dict, meta: dict) -> bytes:
    """Everything, sorted keys so two runs over the same directory compare line by line."""
    document = {"meta": meta, "summary": summary, "results": results}
    return (json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n").encode()


def csv_report(results: list[dict], summary: dict, meta: dict) -> bytes:
    """One row per user; UTF-8 with a byte order mark so Excel reads accents right."""
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(CSV_COLUMNS)
    for result in results:
        flat = flat_row(result)
        writer.writerow([neutralised(flat[column]) for column in CSV_COLUMNS])
    return text.getvalue().encode("utf-8-sig")


def flat_row(result: dict) -> dict[str, str]:
    """A result as the flat strings the CSV columns and the HTML table show."""
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


def html_report(results: list[dict], summary: dict, meta: dict) -> bytes:
    """One self-contained page: Jinja2 with autoescaping, every directory value shown as text."""
    import jinja2  # Ansible ships it; JSON and CSV reports don't need it
    from markupsafe import Markup

    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
                                     lstrip_blocks=True)
    outcomes = summary.get("outcomes") or {}
    finding_counts = summary.get("findings") or {}
    page = environment.from_string(HTML_TEMPLATE).render(
        meta=meta,
        total=len(results),
        tiles=totals_tiles(outcomes, len(results)),
        chart=outcome_chart(outcomes),
        finding_counts=finding_table(finding_counts, results),
        rows=[table_row(result) for result in results],
        # safe: script_json escapes <, > and & itself, and autoescaping would break the JSON
        report_json=Markup(script_json({"meta": meta, "summary": summary, "total": len(results)})),  # noqa: S704
    )
    return page.encode()


def script_json(value: object) -> str:
    """JSON that can't end its <script> element or open a comment inside it."""
    encoded = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return encoded.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def outcome_style(outcome: str) -> tuple[str, str]:
    """(colour, meaning) of an outcome; one the contract doesn't list yet shows in grey."""
    return OUTCOME_STYLES.get(outcome, UNKNOWN_OUTCOME_STYLE)


def totals_tiles(outcomes: dict, total: int) -> list[dict]:
    return [
        {"label": "users in scope", "count": total, "colour": "#1c2b3a"},
        {"label": "join a cloud user", "count": sum(outcomes.get(name, 0) for name in JOINING),
         "colour": OUTCOME_STYLES["soft_match_smtp"][0]},
        {"label": "new cloud users", "count": outcomes.get("new_user", 0), "colour": OUTCOME_STYLES["new_user"][0]},
        {"label": "need attention (conflict, blocked, invalid)",
         "count": sum(outcomes.get(name, 0) for name in NEEDS_ATTENTION), "colour": OUTCOME_STYLES["blocked"][0]},
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


def finding_table(finding_counts: dict, results: list[dict]) -> list[dict]:
    """Finding codes with severity and count, errors first, then the most frequent."""
    severities = {}
    for result in results:
        for finding in result.get("findings") or []:
            severities.setdefault(finding.get("code"), text_of(finding.get("severity")))
    table = [{"code": code, "count": count, "severity": severities.get(code, "")}
             for code, count in finding_counts.items()]
    return sorted(table, key=lambda row: (SEVERITY_RANK.get(row["severity"], 3), -row["count"], row["code"]))


def table_row(result: dict) -> dict:
    """One user's row in the HTML table: the CSV's values plus its findings one by one."""
    row = flat_row(result)
    row["colour"] = outcome_style(row["outcome"])[0]
    row["has_cloud"] = bool(result.get("cloud"))
    row["finding_codes"] = [text_of(finding.get("code")) for finding in result.get("findings") or []]
    row["findings"] = [{"code": text_of(finding.get("code")), "severity": text_of(finding.get("severity")),
                        "message": text_of(finding.get("message"))} for finding in result.get("findings") or []]
    return row
