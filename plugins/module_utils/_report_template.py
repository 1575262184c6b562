# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Internal to the hybrid.identity collection: not a public API, it may change without notice.

The HTML report's look: outcome colours and meanings, and the Jinja2 template of one
self-contained page (inline CSS and JS, no network). A string here rather than a file so
that module_utils ships it and nothing has to find a template path at run time.
"""

from __future__ import annotations

# Chart order and colour per outcome (architecture.md); joins in greens and blues,
# what needs a person in warm colours.
OUTCOME_STYLES = {
    "already_synced": ("#2f855a", "joined already: the cloud user carries this user's source anchor"),
    "hard_match": ("#2c7a7b", "source anchor equals a cloud-only user's ImmutableId: it will be taken over"),
    "soft_match_smtp": ("#2b6cb0", "will join the cloud user holding its primary SMTP address"),
    "soft_match_upn": ("#5a67d8", "will join the cloud user with its UPN"),
    "new_user": ("#718096", "no candidate and no collision: a new cloud user will be created"),
    "conflict": ("#dd6b20", "no match, but a value collides: a quarantined duplicate will be created"),
    "blocked": ("#c53030", "a candidate exists but the join is refused"),
    "invalid": ("#97266d", "the object can't be exported or its match can't be predicted"),
    "excluded": ("#a0aec0", "a well-known system account, left out"),
}
UNKNOWN_OUTCOME_STYLE = ("#4a5568", "")

HTML_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="hybrid.identity {{ meta.collection_version }}">
<title>Soft match report &middot; {{ meta.tenant }}</title>
<style>
:root {
  --ink: #1a202c; --muted: #5f6b7a; --line: #e2e8f0; --page: #f4f6f9; --card: #ffffff;
  --head: #1c2b3a; --error: #c53030; --warning: #b7791f; --info: #4a5568;
  --mono: ui-monospace, "SFMono-Regular", Menlo, Consolas, "Liberation Mono", monospace;
}
* { box-sizing: border-box; }
[hidden] { display: none !important; }
body {
  margin: 0; background: var(--page); color: var(--ink);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
}
header.page { background: var(--head); color: #fff; padding: 20px 32px 18px; }
header.page h1 { margin: 0 0 10px; font-size: 21px; font-weight: 600; letter-spacing: .01em; }
header.page h1 span { color: #a3bdd6; font-weight: 400; }
header.page dl { display: flex; flex-wrap: wrap; gap: 4px 32px; margin: 0; }
header.page dt { color: #a3bdd6; font-size: 11px; text-transform: uppercase; letter-spacing: .06em; }
header.page dd { margin: 0; font-family: var(--mono); font-size: 13px; overflow-wrap: anywhere; }
main { padding: 22px 32px 40px; }
h2 { margin: 0 0 12px; font-size: 15px; font-weight: 600; }
.tiles { display: flex; flex-wrap: wrap; gap: 14px; margin-bottom: 18px; }
.tile { flex: 1 1 160px; background: var(--card); border: 1px solid var(--line); border-radius: 8px;
  padding: 12px 16px; border-top: 3px solid var(--c, #4a5568); }
.tile b { display: block; font-size: 26px; font-weight: 600; line-height: 1.2; }
.tile span { color: var(--muted); font-size: 12px; }
.summary { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 18px; margin-bottom: 18px; }
@media (max-width: 1000px) { .summary { grid-template-columns: 1fr; } }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 16px 20px;
  box-shadow: 0 1px 2px rgba(16, 24, 40, .04); }
svg.chart { width: 100%; height: auto; display: block; }
svg.chart text { font-size: 12px; fill: var(--ink); }
svg.chart text.count { fill: var(--muted); }
svg.chart .track { fill: #edf2f7; }
svg.chart a:hover rect.bar, svg.chart a:focus rect.bar { opacity: .8; }
ul.legend { list-style: none; margin: 12px 0 0; padding: 10px 0 0; border-top: 1px solid var(--line);
  display: grid; grid-template-columns: repeat(auto-fill, minmax(250px, 1fr)); gap: 4px 18px;
  font-size: 12px; color: var(--muted); }
ul.legend b { color: var(--ink); font-weight: 600; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; background: var(--c);
  margin-right: 6px; vertical-align: baseline; }
table { border-collapse: collapse; width: 100%; }
table.counts td, table.counts th { padding: 5px 8px; border-bottom: 1px solid var(--line); text-align: left; }
table.counts td.n, table.counts th.n { text-align: right; font-variant-numeric: tabular-nums; }
table.counts a { color: var(--ink); text-decoration: none; font-family: var(--mono); font-size: 12.5px; }
table.counts a:hover { text-decoration: underline; }
.empty { color: var(--muted); font-style: italic; }
.sev { display: inline-block; font-size: 10.5px; font-weight: 600; text-transform: uppercase;
  letter-spacing: .04em; padding: 1px 6px; border-radius: 3px; color: #fff; background: var(--info); }
.sev-error { background: var(--error); }
.sev-warning { background: var(--warning); }
form.filters { display: flex; flex-wrap: wrap; align-items: end; gap: 12px 18px; margin-bottom: 12px; }
form.filters label { display: flex; flex-direction: column; gap: 3px; font-size: 11px; color: var(--muted);
  text-transform: uppercase; letter-spacing: .05em; }
form.filters select, form.filters input { font: inherit; font-size: 13px; padding: 6px 8px; min-width: 190px;
  border: 1px solid #cbd5e0; border-radius: 6px; background: #fff; color: var(--ink); }
form.filters input[type=search] { min-width: 300px; }
form.filters button { font: inherit; font-size: 13px; padding: 6px 14px; border: 1px solid #cbd5e0;
  border-radius: 6px; background: #fff; cursor: pointer; }
form.filters button:hover { background: #edf2f7; }
.shown { margin-left: auto; color: var(--muted); font-size: 13px; align-self: center; }
.table-wrap { background: var(--card); border: 1px solid var(--line); border-radius: 8px; overflow: auto;
  max-height: 80vh; }
table.users { font-size: 13px; }
table.users th { position: sticky; top: 0; z-index: 1; background: #edf2f7; text-align: left; font-size: 11px;
  text-transform: uppercase; letter-spacing: .05em; color: #4a5568; padding: 8px 10px;
  border-bottom: 1px solid #cbd5e0; white-space: nowrap; }
table.users td { padding: 7px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
table.users tbody tr:nth-child(even) { background: #fafbfc; }
table.users tbody tr:hover { background: #f0f5fb; }
.addr { font-family: var(--mono); font-size: 12px; overflow-wrap: break-word; }
.sam { font-weight: 600; }
.dn { color: var(--muted); font-size: 11px; max-width: 200px; white-space: nowrap; overflow: hidden;
  text-overflow: ellipsis; }
.sub { color: var(--muted); }
.none { color: #a0aec0; }
.badge { display: inline-block; white-space: nowrap; font-size: 12px; font-weight: 600; padding: 2px 8px;
  border-radius: 999px; color: var(--c); background: #fff; border: 1px solid var(--c); }
.badge::before { content: ""; display: inline-block; width: 7px; height: 7px; border-radius: 50%;
  background: var(--c); margin-right: 6px; vertical-align: 1px; }
ul.findings { list-style: none; margin: 0; padding: 0; min-width: 260px; }
ul.findings li + li { margin-top: 4px; }
ul.findings code { display: block; font-family: var(--mono); font-size: 11.5px; font-weight: 600; }
ul.findings .finding-error code { color: var(--error); }
ul.findings .finding-warning code { color: var(--warning); }
ul.findings .message { color: #2d3748; overflow-wrap: anywhere; }
p.no-match { padding: 18px; margin: 0; color: var(--muted); }
footer { color: var(--muted); font-size: 12px; margin-top: 16px; }
@media print { form.filters, .shown { display: none; } .table-wrap { max-height: none; overflow: visible; } }
</style>
</head>
<body>
<header class="page">
  <h1>Soft match prediction <span>&middot; what the next directory sync will do</span></h1>
  <dl>
    <div><dt>Tenant</dt><dd>{{ meta.tenant }}</dd></div>
    <div><dt>Scope</dt><dd>{{ meta.scope }}</dd></div>
    <div><dt>Generated</dt><dd>{{ meta.generated_at }}</dd></div>
    <div><dt>Users</dt><dd>{{ total }}</dd></div>
  </dl>
</header>
<main>
<section class="tiles" aria-label="Totals">
{% for tile in tiles %}
  <div class="tile" style="--c: {{ tile.colour }}"><b>{{ tile.count }}</b><span>{{ tile.label }}</span></div>
{% endfor %}
</section>
<section class="summary">
  <div class="card">
    <h2>Outcomes</h2>
    <svg class="chart" viewBox="0 0 {{ chart.width }} {{ chart.height }}" role="img"
         aria-label="Users per outcome">
{% for bar in chart.bars %}
      <a href="#outcome={{ bar.outcome }}" class="outcome-bar" data-outcome="{{ bar.outcome }}">
        <title>{{ bar.outcome }}: {{ bar.count }} &middot; {{ bar.meaning }}</title>
        <text x="{{ chart.label_width - 10 }}" y="{{ bar.y + 15 }}" text-anchor="end">{{ bar.outcome }}</text>
        <rect class="track" x="{{ chart.label_width }}" y="{{ bar.y + 2 }}" width="{{ chart.bar_space }}"
              height="18" rx="3"></rect>
        <rect class="bar" x="{{ chart.label_width }}" y="{{ bar.y + 2 }}" width="{{ bar.width }}" height="18" rx="3"
              fill="{{ bar.colour }}"></rect>
        <text class="count" x="{{ chart.label_width + chart.bar_space + 10 }}" y="{{ bar.y + 15 }}"
              >{{ bar.count }}{% if bar.count %} ({{ bar.percent }}%){% endif %}</text>
      </a>
{% endfor %}
    </svg>
    <ul class="legend">
{% for bar in chart.bars %}
      <li><span class="swatch" style="--c: {{ bar.colour }}"></span><b>{{ bar.outcome }}</b>
        {% if bar.meaning %}&mdash; {{ bar.meaning }}{% endif %}</li>
{% endfor %}
    </ul>
  </div>
  <div class="card">
    <h2>Findings</h2>
{% if finding_counts %}
    <table class="counts">
      <thead><tr><th>Code</th><th>Severity</th><th class="n">Users</th></tr></thead>
      <tbody>
{% for finding in finding_counts %}
        <tr>
          <td><a href="#finding={{ finding.code }}">{{ finding.code }}</a></td>
          <td><span class="sev sev-{{ finding.severity }}">{{ finding.severity or "-" }}</span></td>
          <td class="n">{{ finding.count }}</td>
        </tr>
{% endfor %}
      </tbody>
    </table>
{% else %}
    <p class="empty">No findings.</p>
{% endif %}
  </div>
</section>
<section aria-label="Users">
  <h2>Users</h2>
  <form class="filters" id="filters" hidden>
    <label>Outcome
      <select id="filter-outcome">
        <option value="">All outcomes</option>
{% for bar in chart.bars if bar.count %}
        <option value="{{ bar.outcome }}">{{ bar.outcome }} ({{ bar.count }})</option>
{% endfor %}
      </select>
    </label>
    <label>Finding
      <select id="filter-finding">
        <option value="">All findings</option>
{% for finding in finding_counts %}
        <option value="{{ finding.code }}">{{ finding.code }} ({{ finding.count }})</option>
{% endfor %}
      </select>
    </label>
    <label>Search
      <input type="search" id="filter-text" placeholder="name, address, DN or message" autocomplete="off">
    </label>
    <button type="reset" id="filter-reset">Clear</button>
    <span class="shown"><b id="shown-count">{{ total }}</b> of {{ total }} users shown</span>
  </form>
  <div class="table-wrap">
    <table class="users" id="users">
      <thead>
        <tr>
          <th>User</th><th>On-prem UPN / primary SMTP</th><th>Outcome</th>
          <th>Cloud UPN / primary SMTP</th><th>Predicted primary SMTP</th><th>Findings</th>
        </tr>
      </thead>
      <tbody>
{% for row in rows %}
        <tr data-outcome="{{ row.outcome }}" data-findings="{{ row.finding_codes | join(' ') }}">
          <td><div class="sam">{{ row.sam_account_name or "-" }}</div>
            <div class="dn" title="{{ row.distinguished_name }}">{{ row.distinguished_name }}</div></td>
          <td class="addr">{{ row.onprem_upn }}<div class="sub">{{ row.onprem_primary_smtp }}</div></td>
          <td><span class="badge" style="--c: {{ row.colour }}">{{ row.outcome }}</span></td>
{% if row.has_cloud %}
          <td class="addr">{{ row.cloud_upn }}<div class="sub">{{ row.cloud_primary_smtp }}</div></td>
{% else %}
          <td><span class="none">no cloud user</span></td>
{% endif %}
          <td class="addr">{{ row.predicted_primary_smtp }}</td>
          <td>
{% if row.findings %}
            <ul class="findings">
{% for finding in row.findings %}
              <li class="finding-{{ finding.severity }}"><code>{{ finding.code }}</code>
                <span class="message">{{ finding.message }}</span></li>
{% endfor %}
            </ul>
{% endif %}
          </td>
        </tr>
{% endfor %}
      </tbody>
    </table>
    <p class="no-match" id="no-match" hidden>No user matches these filters.</p>
  </div>
  <footer>hybrid.identity {{ meta.collection_version }} &middot; soft_match_check report &middot;
    directory data: handle as confidential</footer>
</section>
</main>
<script type="application/json" id="report-data">{{ report_json }}</script>
<script>
(function () {
  "use strict";
  var report = JSON.parse(document.getElementById("report-data").textContent);
  var form = document.getElementById("filters");
  var outcome = document.getElementById("filter-outcome");
  var finding = document.getElementById("filter-finding");
  var text = document.getElementById("filter-text");
  var shownCount = document.getElementById("shown-count");
  var noMatch = document.getElementById("no-match");
  var rows = Array.prototype.slice.call(document.querySelectorAll("#users tbody tr"));
  // Lower-cased once: searching 5,000 rows then costs a string scan, not a DOM walk.
  var haystacks = rows.map(function (row) { return row.textContent.toLowerCase(); });
  var codes = rows.map(function (row) { return row.getAttribute("data-findings").split(" "); });

  function choose(select, value) {
    var known = Array.prototype.some.call(select.options, function (option) { return option.value === value; });
    select.value = known ? value : "";
  }

  function readLocation() {
    var params = new URLSearchParams(window.location.hash.slice(1) || window.location.search.slice(1));
    choose(outcome, params.get("outcome") || "");
    choose(finding, params.get("finding") || "");
    text.value = params.get("q") || "";
  }

  function writeLocation() {
    var params = new URLSearchParams();
    if (outcome.value) { params.set("outcome", outcome.value); }
    if (finding.value) { params.set("finding", finding.value); }
    if (text.value) { params.set("q", text.value); }
    var hash = params.toString();
    try {
      history.replaceState(null, "", hash ? "#" + hash : window.location.pathname);
    } catch (err) {
      // Some browsers refuse history changes on file:// pages; the filter still applies.
    }
  }

  function apply() {
    var wantOutcome = outcome.value;
    var wantFinding = finding.value;
    var needle = text.value.trim().toLowerCase();
    var shown = 0;
    rows.forEach(function (row, index) {
      var visible = (!wantOutcome || row.getAttribute("data-outcome") === wantOutcome) &&
        (!wantFinding || codes[index].indexOf(wantFinding) >= 0) &&
        (!needle || haystacks[index].indexOf(needle) >= 0);
      if (row.hidden === visible) { row.hidden = !visible; }
      if (visible) { shown += 1; }
    });
    shownCount.textContent = String(shown);
    noMatch.hidden = shown > 0;
    document.title = "Soft match report \\u00b7 " + report.meta.tenant +
      (shown === rows.length ? "" : " (" + shown + " of " + report.total + ")");
  }

  var typing = null;
  outcome.addEventListener("change", function () { apply(); writeLocation(); });
  finding.addEventListener("change", function () { apply(); writeLocation(); });
  text.addEventListener("input", function () {
    clearTimeout(typing);
    typing = setTimeout(function () { apply(); writeLocation(); }, 120);
  });
  form.addEventListener("submit", function (event) { event.preventDefault(); });
  form.addEventListener("reset", function () {
    setTimeout(function () { apply(); writeLocation(); }, 0);
  });
  window.addEventListener("hashchange", function () { readLocation(); apply(); });

  form.hidden = false;
  readLocation();
  apply();
}());
</script>
</body>
</html>
"""
