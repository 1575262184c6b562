"""The HTML report's templates and outcome styles, rendered with Jinja2 on plain data as the report writer does."""

import re

import jinja2
import jinja2.meta
import pytest
from markupsafe import Markup

from ansible_collections.hybrid.identity.plugins.module_utils.matching._matching_result import OUTCOMES
from ansible_collections.hybrid.identity.plugins.module_utils.report._report_template import (
    HTML_TEMPLATE,
    ONBOARD_TEMPLATE,
    OUTCOME_STYLES,
    PAGE_SIZES,
    PAGE_STYLE,
    UNKNOWN_OUTCOME_STYLE,
)

SCRIPT = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
COLOUR = re.compile(r"#[0-9a-f]{6}")
# What the report writer passes to each template (_report.HtmlWriter.finish and _report.onboard_page).
HTML_CONTEXT_NAMES = {"meta", "total", "csv_name", "tiles", "chart", "finding_counts", "page_sizes", "report_json"}
ONBOARD_CONTEXT_NAMES = {"meta", "tiles", "why", "rows"}


def environment():
    # the settings of the report writer: autoescaped, and a name the template lacks is an error, not a blank
    return jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
                              lstrip_blocks=True)


def html_context(**changes):
    bars = [{"outcome": name, "count": count, "percent": 50 if count else 0, "width": 180 if count else 0,
             "y": 26 * position, "colour": colour, "meaning": meaning}
            for position, (name, (colour, meaning)) in enumerate(OUTCOME_STYLES.items())
            for count in [2 if name in ("soft_match_smtp", "blocked") else 0]]
    context = {
        "meta": {"collection_version": "0.1.0", "tenant": f"contoso {SCRIPT}", "scope": f"OU={SCRIPT},DC=contoso",
                 "generated_at": "2026-01-01T00:00:00+00:00"},
        "total": 4,
        "csv_name": "soft_match_report.csv",
        "tiles": [{"label": "users in scope", "count": 4, "colour": "#1c2b3a", "link": ""},
                  {"label": f"new {SCRIPT}", "count": 0, "colour": "#718096", "link": "#outcome=new_user"}],
        "chart": {"bars": bars, "label_width": 130, "bar_space": 360, "width": 580, "height": 26 * len(bars) + 4},
        "finding_counts": [{"code": "admin_role", "count": 2, "severity": "error"},
                           {"code": f"code{SCRIPT}", "count": 1, "severity": "warning"}],
        "page_sizes": PAGE_SIZES,
        "report_json": Markup('{"rows":[]}'),  # the writer escapes it itself (script_json)
    }
    return context | changes


def onboard_row(user, before, after, needs_person=False, findings=()):
    return {"user": user, "before": before, "after": after, "cloud_before": "a@contoso.com",
            "cloud_now": "a@contoso.com" if before == after else "b@contoso.com", "verdict": f"verdict of {user}",
            "needs_person": needs_person, "findings": list(findings),
            "before_colour": OUTCOME_STYLES[before or "new_user"][0], "after_colour": OUTCOME_STYLES[after][0]}


def onboard_context(**changes):
    context = {
        "meta": {"scope": f"OU={SCRIPT}", "run_id": "run-1", "generated_at": "now", "check_mode": False,
                 "collection_version": "0.1.0", "reports_before": "/r/before", "reports_after": None},
        "tiles": [{"key": "users", "label": "users in scope", "colour": "#1c2b3a", "count": 3}],
        "why": [(f"held by {SCRIPT}", 1)],
        "rows": [
            onboard_row(f"Adele {SCRIPT}", "new_user", "soft_match_smtp"),
            onboard_row("megan", "blocked", "blocked", needs_person=True, findings=[
                {"code": "admin_role", "severity": "error", "message": f"holds Global Administrator {SCRIPT}"},
                {"code": "no_mailbox", "severity": "warning", "message": "warning only"}]),
            onboard_row("nina", None, "already_synced"),
        ],
    }
    return context | changes


def render(template, context):
    return environment().from_string(template).render(**context)


# --- outcome styles -------------------------------------------------------------------------


def test_every_outcome_has_a_colour_and_a_meaning_in_the_contract_order():
    assert tuple(OUTCOME_STYLES) == OUTCOMES
    for outcome, (colour, meaning) in OUTCOME_STYLES.items():
        assert COLOUR.fullmatch(colour), outcome
        assert meaning.strip(), outcome


def test_outcomes_and_the_unknown_one_are_told_apart_by_colour():
    colours = [colour for colour, _meaning in OUTCOME_STYLES.values()]
    assert len(set(colours)) == len(colours)
    assert COLOUR.fullmatch(UNKNOWN_OUTCOME_STYLE[0]) and UNKNOWN_OUTCOME_STYLE[0] not in colours


def test_the_default_page_size_is_one_the_page_offers():
    page = render(HTML_TEMPLATE, html_context())
    assert 100 in PAGE_SIZES and list(PAGE_SIZES) == sorted(PAGE_SIZES)
    assert re.findall(r'<option value="(\d+)" selected>', page) == ["100"]
    assert re.findall(r'<option value="(\d+)"(?: selected)?>\1</option>', page) == [str(s) for s in PAGE_SIZES]


# --- the names the templates need -----------------------------------------------------------


@pytest.mark.parametrize(("template", "names"), [(HTML_TEMPLATE, HTML_CONTEXT_NAMES),
                                                 (ONBOARD_TEMPLATE, ONBOARD_CONTEXT_NAMES)])
def test_each_template_needs_exactly_what_the_writer_passes(template, names):
    assert jinja2.meta.find_undeclared_variables(environment().parse(template)) == names


def test_a_missing_name_fails_the_rendering_instead_of_leaving_a_blank():
    context = html_context()
    del context["chart"]
    with pytest.raises(jinja2.UndefinedError, match="chart"):
        render(HTML_TEMPLATE, context)


# --- the soft match page --------------------------------------------------------------------


def test_the_page_shows_every_outcome_with_its_colour_and_meaning():
    page = render(HTML_TEMPLATE, html_context())
    for outcome, (colour, meaning) in OUTCOME_STYLES.items():
        assert f'<a href="#outcome={outcome}" class="outcome-bar" data-outcome="{outcome}">' in page
        assert f'fill="{colour}"' in page
        assert f'<span class="swatch" style="--c: {colour}"></span><b>{outcome}</b>' in page
        assert meaning.replace("'", "&#39;") in page
    # the outcome filter offers only outcomes someone has
    offered = re.findall(r'<option value="([a-z_]+)">\1 \((\d+)\)</option>', page)
    assert [name for name, _count in offered if name in OUTCOME_STYLES] == ["soft_match_smtp", "blocked"]


def test_directory_data_in_the_page_is_escaped():
    page = render(HTML_TEMPLATE, html_context())
    assert SCRIPT not in page
    assert f"<dd>contoso {ESCAPED}</dd>" in page and f"<dd>OU={ESCAPED},DC=contoso</dd>" in page
    assert f"<title>Soft match report &middot; contoso {ESCAPED}</title>" in page
    assert f"<span>new {ESCAPED}</span>" in page
    assert f'<a href="#finding=code{ESCAPED}">code{ESCAPED}</a>' in page
    # the only script elements are the page's own: its data and its code
    assert re.findall(r"<script\b[^>]*>", page) == ['<script type="application/json" id="report-data">', "<script>"]


def test_the_embedded_data_goes_in_as_the_writer_made_it_and_anything_else_is_escaped():
    page = render(HTML_TEMPLATE, html_context(report_json=Markup('{"rows":[["a\\u003c"]]}')))
    assert '<script type="application/json" id="report-data">{"rows":[["a\\u003c"]]}</script>' in page
    # a plain string would be escaped, which is why the writer marks its own escaping safe
    plain = render(HTML_TEMPLATE, html_context(report_json='{"rows":["</script>"]}'))
    assert 'id="report-data">{&#34;rows&#34;:[&#34;&lt;/script&gt;&#34;]}</script>' in plain


def test_findings_csv_link_and_empty_states():
    page = render(HTML_TEMPLATE, html_context())
    assert '<td><span class="sev sev-error">error</span></td>' in page
    assert '<a class="download" id="csv-link" href="soft_match_report.csv" download>' in page

    bare = render(HTML_TEMPLATE, html_context(finding_counts=[], csv_name=None))
    assert '<p class="empty">No findings.</p>' in bare
    assert "csv-link" not in bare and "holds every user" not in bare


# --- the onboarding page --------------------------------------------------------------------


def test_the_onboarding_page_escapes_directory_data():
    page = render(ONBOARD_TEMPLATE, onboard_context())
    assert SCRIPT not in page
    assert f"<td><b>Adele {ESCAPED}</b></td>" in page
    assert f'data-user="Adele {ESCAPED}"' in page
    assert f"<li><code>admin_role</code> holds Global Administrator {ESCAPED}</li>" in page
    assert f'<td class="addr">held by {ESCAPED}</td>' in page
    assert f"<title>Onboarding before and after &middot; OU={ESCAPED}</title>" in page
    assert "<script" not in page


def test_the_onboarding_page_lists_only_errors_to_act_on_and_marks_what_changed():
    page = render(ONBOARD_TEMPLATE, onboard_context())
    assert "warning only" not in page
    assert page.count('class="person"') == 1
    rows = re.findall(r'<tr data-user="([^"]*)".*?</tr>', page, re.DOTALL)
    assert rows == [f"Adele {ESCAPED}", "megan", "nina"]
    assert "new on-prem" in page  # the user the run created has no outcome before
    assert page.count('<td class="changed">') == 2  # new_user -> soft_match_smtp, none -> already_synced
    assert f'--c: {OUTCOME_STYLES["soft_match_smtp"][0]}' in page
    assert '<dd id="run-id">run-1</dd>' in page and "/r/before and -" in page


def test_the_onboarding_page_says_when_nothing_was_left_alone_and_when_nothing_was_written():
    page = render(ONBOARD_TEMPLATE, onboard_context(why=[], meta=onboard_context()["meta"] | {"check_mode": True}))
    assert "The run left nobody alone." in page
    assert "<dd>check (a plan: nothing was written)</dd>" in page


# --- no network -----------------------------------------------------------------------------


@pytest.mark.parametrize("template", [HTML_TEMPLATE, ONBOARD_TEMPLATE])
def test_the_templates_reference_nothing_on_the_network(template):
    for text in (template, PAGE_STYLE):
        assert "http://" not in text and "https://" not in text
        assert not re.search(r"\bsrc\s*=", text)
        assert "<link" not in text and "@import" not in text and "url(" not in text


@pytest.mark.parametrize(("template", "context"), [(HTML_TEMPLATE, html_context()),
                                                   (ONBOARD_TEMPLATE, onboard_context())])
def test_rendered_pages_link_only_inside_themselves_or_to_the_csv_beside_them(template, context):
    page = render(template, context)
    targets = re.findall(r'\bhref="([^"]*)"', page)
    assert all(target.startswith("#") or target == "soft_match_report.csv" for target in targets), targets
    assert "http://" not in page and "https://" not in page
