# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The HTML report's look: outcome colours and meanings, and the page's Jinja2 template.

Internal to the hybrid.identity collection: not a public API, it may change without notice.

The HTML report's look: outcome colours and meanings, and the Jinja2 template of one
self-contained page (inline CSS and JS, no network). A string here rather than a file so
that module_utils ships it and nothing has to find a template path at run time.
"""

from __future__ import annotations

# Chart order and colour per outcome (the outcomes table of docs/soft_match_check.md); joins in greens and blues,
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

PAGE_SIZES = (50, 100, 250, 500)

# The look both pages share: colours, the header, the tiles.
PAGE_STYLE = """:root {
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
  padding: 12px 16px; border-top: 3px solid var(--c, #4a5568); color: inherit; text-decoration: none; }
.tile b { display: block; font-size: 26px; font-weight: 600; line-height: 1.2; }
.tile span { color: var(--muted); font-size: 12px; }
"""

HTML_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="hybrid.identity {{ meta.collection_version }}">
<title>Soft match report &middot; {{ meta.tenant }}</title>
<style>
""" + PAGE_STYLE + """
a.tile:hover { background: #f7fafc; }
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
.users-head { display: flex; flex-wrap: wrap; align-items: baseline; gap: 6px 18px; margin-bottom: 10px; }
.users-head h2 { margin: 0; }
a.download { font-size: 13px; color: #2b6cb0; }
form.filters { display: flex; flex-wrap: wrap; align-items: end; gap: 12px 18px; margin-bottom: 12px; }
form.filters label { display: flex; flex-direction: column; gap: 3px; font-size: 11px; color: var(--muted);
  text-transform: uppercase; letter-spacing: .05em; }
form.filters label.check { flex-direction: row; align-items: center; gap: 6px; align-self: center; }
form.filters select, form.filters input[type=search] { font: inherit; font-size: 13px; padding: 6px 8px;
  min-width: 190px; border: 1px solid #cbd5e0; border-radius: 6px; background: #fff; color: var(--ink); }
form.filters input[type=search] { min-width: 280px; }
button { font: inherit; font-size: 13px; padding: 6px 14px; border: 1px solid #cbd5e0;
  border-radius: 6px; background: #fff; cursor: pointer; color: var(--ink); }
button:hover:not(:disabled) { background: #edf2f7; }
button:disabled { color: #a0aec0; cursor: default; }
.shown { margin-left: auto; color: var(--muted); font-size: 13px; align-self: center; }
.table-wrap { background: var(--card); border: 1px solid var(--line); border-radius: 8px; }
table.users { font-size: 13px; table-layout: fixed; }
table.users th { position: sticky; top: 0; z-index: 1; background: #edf2f7; text-align: left; padding: 0;
  border-bottom: 1px solid #cbd5e0; }
table.users th button { display: block; width: 100%; border: 0; border-radius: 0; background: transparent;
  text-align: left; font-size: 11px; text-transform: uppercase; letter-spacing: .05em; color: #4a5568;
  padding: 8px 10px; }
table.users th[aria-sort=ascending] button::after { content: " \\25b2"; }
table.users th[aria-sort=descending] button::after { content: " \\25bc"; }
table.users td { padding: 7px 10px; border-bottom: 1px solid var(--line); vertical-align: top;
  overflow-wrap: anywhere; }
table.users tbody tr:nth-child(even) { background: #fafbfc; }
table.users tbody tr:hover { background: #f0f5fb; }
table.users tr.person td:first-child { box-shadow: inset 3px 0 0 var(--error); }
.addr { font-family: var(--mono); font-size: 12px; }
.sam { font-weight: 600; }
.dn { color: var(--muted); font-size: 11px; }
.sub { color: var(--muted); }
.none { color: #a0aec0; }
.badge { display: inline-block; font-size: 12px; font-weight: 600; padding: 2px 8px; max-width: 100%;
  border-radius: 999px; color: var(--c); background: #fff; border: 1px solid var(--c); overflow-wrap: anywhere; }
.badge::before { content: ""; display: inline-block; width: 7px; height: 7px; border-radius: 50%;
  background: var(--c); margin-right: 6px; vertical-align: 1px; }
ul.findings { list-style: none; margin: 0; padding: 0; }
ul.findings li + li { margin-top: 4px; }
ul.findings code { display: block; font-family: var(--mono); font-size: 11.5px; font-weight: 600; }
ul.findings .finding-error code { color: var(--error); }
ul.findings .finding-warning code { color: var(--warning); }
ul.findings .message { color: #2d3748; }
p.no-match { padding: 18px; margin: 0; color: var(--muted); }
nav.pages { display: flex; flex-wrap: wrap; align-items: center; gap: 8px 12px; padding: 10px 12px;
  border-top: 1px solid var(--line); font-size: 13px; color: var(--muted); }
nav.pages select { font: inherit; font-size: 13px; padding: 4px 6px; border: 1px solid #cbd5e0; border-radius: 6px; }
footer { color: var(--muted); font-size: 12px; margin-top: 16px; }
@media print { form.filters, .shown, nav.pages { display: none; } }
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
{% if tile.link %}
  <a class="tile" href="{{ tile.link }}" style="--c: {{ tile.colour }}"><b>{{ tile.count }}</b>
    <span>{{ tile.label }}</span></a>
{% else %}
  <div class="tile" style="--c: {{ tile.colour }}"><b>{{ tile.count }}</b><span>{{ tile.label }}</span></div>
{% endif %}
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
  <div class="users-head">
    <h2>Users</h2>
    <span class="sub">who needs a person first, then by outcome and name; click a column to sort</span>
{% if csv_name %}
    <a class="download" id="csv-link" href="{{ csv_name }}" download>every user as CSV ({{ csv_name }})</a>
{% endif %}
  </div>
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
    <label class="check"><input type="checkbox" id="filter-attention"> only who needs a person</label>
    <button type="reset" id="filter-reset">Clear</button>
    <span class="shown"><b id="shown-count">{{ total }}</b> of {{ total }} users shown</span>
  </form>
  <div class="table-wrap">
    <table class="users" id="users">
      <colgroup>
        <col style="width: 15%"><col style="width: 17%"><col style="width: 150px">
        <col style="width: 17%"><col style="width: 14%"><col>
      </colgroup>
      <thead>
        <tr>
          <th data-sort="user"><button type="button">User</button></th>
          <th data-sort="onprem"><button type="button">On-prem UPN / primary SMTP</button></th>
          <th data-sort="outcome"><button type="button">Outcome</button></th>
          <th data-sort="cloud"><button type="button">Cloud UPN / primary SMTP</button></th>
          <th data-sort="predicted"><button type="button">Predicted primary SMTP</button></th>
          <th data-sort="findings"><button type="button">Findings: what to do</button></th>
        </tr>
      </thead>
      <tbody id="user-rows"></tbody>
    </table>
    <noscript><p class="no-match">The user table needs JavaScript{% if csv_name %}; the CSV beside this page
      holds every user{% endif %}.</p></noscript>
    <p class="no-match" id="no-match" hidden>No user matches these filters.</p>
    <nav class="pages" id="pages" hidden aria-label="Pages">
      <button type="button" id="page-first">&laquo; First</button>
      <button type="button" id="page-previous">&lsaquo; Previous</button>
      <span>page <b id="page-number">1</b> of <b id="page-count">1</b> (users <span id="page-range">-</span>)</span>
      <button type="button" id="page-next">Next &rsaquo;</button>
      <button type="button" id="page-last">Last &raquo;</button>
      <label>rows per page
        <select id="page-size">
{% for size in page_sizes %}
          <option value="{{ size }}"{% if size == 100 %} selected{% endif %}>{{ size }}</option>
{% endfor %}
        </select>
      </label>
    </nav>
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
  var rows = report.rows;
  var total = rows.length;
  var SAM = 0, DN = 1, UPN = 2, SMTP = 3, OUTCOME = 4, CLOUD_UPN = 5, CLOUD_SMTP = 6, PREDICTED = 7,
    FINDINGS = 8, ATTENTION = 9;
  var outcomes = report.outcomes;
  var codes = report.codes;
  var form = document.getElementById("filters");
  var outcome = document.getElementById("filter-outcome");
  var finding = document.getElementById("filter-finding");
  var text = document.getElementById("filter-text");
  var onlyPerson = document.getElementById("filter-attention");
  var shownCount = document.getElementById("shown-count");
  var noMatch = document.getElementById("no-match");
  var body = document.getElementById("user-rows");
  var pages = document.getElementById("pages");
  var pageSize = document.getElementById("page-size");
  var headers = Array.prototype.slice.call(document.querySelectorAll("#users th[data-sort]"));

  // Lower-cased once: a search over 100,000 users is then one string scan per user, not a DOM walk.
  var haystacks = new Array(total);
  rows.forEach(function (row, index) {
    var parts = [row[SAM], row[DN], row[UPN], row[SMTP], outcomes[row[OUTCOME]][0], row[CLOUD_UPN] || "",
      row[CLOUD_SMTP] || "", row[PREDICTED]];
    row[FINDINGS].forEach(function (item) { parts.push(codes[item[0]][0], item[1]); });
    haystacks[index] = parts.join("\\n").toLowerCase();
  });

  var sortKeys = {
    user: function (row) { return row[SAM].toLowerCase() + "\\n" + row[DN].toLowerCase(); },
    onprem: function (row) { return row[UPN].toLowerCase(); },
    outcome: function (row) { return outcomes[row[OUTCOME]][0]; },
    cloud: function (row) { return (row[CLOUD_UPN] === null ? "\\uffff" : row[CLOUD_UPN].toLowerCase()); },
    predicted: function (row) { return row[PREDICTED].toLowerCase(); },
    findings: function (row) {
      return row[FINDINGS].map(function (item) { return codes[item[0]][0]; }).join(" ") || "\\uffff";
    }
  };
  var keyCache = {};
  var sortBy = "";      // "": the order of the report, who needs a person first
  var descending = false;
  var order = null;     // indices into rows in the chosen order
  var matching = [];    // the indices of order that pass the filters
  var page = 0;
  var renders = 0;

  function sortedOrder() {
    var indices = new Array(total);
    for (var i = 0; i < total; i += 1) { indices[i] = i; }
    if (!sortBy) { return descending ? indices.reverse() : indices; }
    if (!keyCache[sortBy]) { keyCache[sortBy] = rows.map(sortKeys[sortBy]); }
    var keys = keyCache[sortBy];
    var sign = descending ? -1 : 1;
    // ties keep the report's order, so a sort is stable whichever way it goes
    indices.sort(function (a, b) {
      var left = keys[a], right = keys[b];
      if (left < right) { return -sign; }
      if (left > right) { return sign; }
      return a - b;
    });
    return indices;
  }

  function choose(select, value) {
    var known = Array.prototype.some.call(select.options, function (option) { return option.value === value; });
    select.value = known ? value : "";
  }

  function readLocation() {
    var params = new URLSearchParams(window.location.hash.slice(1) || window.location.search.slice(1));
    choose(outcome, params.get("outcome") || "");
    choose(finding, params.get("finding") || "");
    text.value = params.get("q") || "";
    onlyPerson.checked = params.get("attention") === "1";
    var sort = params.get("sort") || "";
    descending = sort.charAt(0) === "-";
    sort = sort.replace(/^-/, "");
    sortBy = sortKeys.hasOwnProperty(sort) ? sort : "";
    page = Math.max(parseInt(params.get("page") || "1", 10) - 1, 0) || 0;
  }

  function writeLocation() {
    var params = new URLSearchParams();
    if (outcome.value) { params.set("outcome", outcome.value); }
    if (finding.value) { params.set("finding", finding.value); }
    if (text.value) { params.set("q", text.value); }
    if (onlyPerson.checked) { params.set("attention", "1"); }
    if (sortBy || descending) { params.set("sort", (descending ? "-" : "") + sortBy); }
    if (page) { params.set("page", String(page + 1)); }
    var hash = params.toString();
    try {
      history.replaceState(null, "", hash ? "#" + hash : window.location.pathname);
    } catch (err) {
      // Some browsers refuse history changes on file:// pages; the filter still applies.
    }
  }

  function indexOfName(table, name) {
    for (var i = 0; i < table.length; i += 1) { if (table[i][0] === name) { return i; } }
    return -1;
  }

  function filter() {
    var wantOutcome = outcome.value ? indexOfName(outcomes, outcome.value) : null;
    var wantCodes = [];
    if (finding.value) {
      codes.forEach(function (code, index) { if (code[0] === finding.value) { wantCodes.push(index); } });
    }
    var needle = text.value.trim().toLowerCase();
    var person = onlyPerson.checked;
    matching = [];
    for (var i = 0; i < total; i += 1) {
      var index = order[i], row = rows[index];
      if (wantOutcome !== null && row[OUTCOME] !== wantOutcome) { continue; }
      if (person && row[ATTENTION] !== 0) { continue; }
      if (finding.value && !row[FINDINGS].some(function (item) { return wantCodes.indexOf(item[0]) >= 0; })) {
        continue;
      }
      if (needle && haystacks[index].indexOf(needle) < 0) { continue; }
      matching.push(index);
    }
  }

  function cell(tr, className) {
    var td = document.createElement("td");
    if (className) { td.className = className; }
    tr.appendChild(td);
    return td;
  }

  function line(parent, tag, className, value) {
    var element = document.createElement(tag);
    if (className) { element.className = className; }
    element.textContent = value;
    parent.appendChild(element);
    return element;
  }

  function rowElement(row) {
    var tr = document.createElement("tr");
    var name = outcomes[row[OUTCOME]][0];
    tr.setAttribute("data-outcome", name);
    if (row[ATTENTION] === 0) { tr.className = "person"; }
    var user = cell(tr);
    line(user, "div", "sam", row[SAM] || "-");
    line(user, "div", "dn", row[DN]);
    var onprem = cell(tr, "addr");
    onprem.appendChild(document.createTextNode(row[UPN]));
    line(onprem, "div", "sub", row[SMTP]);
    var badge = line(cell(tr), "span", "badge", name);
    badge.style.setProperty("--c", outcomes[row[OUTCOME]][1]);
    if (row[CLOUD_UPN] === null) {
      line(cell(tr), "span", "none", "no cloud user");
    } else {
      var cloud = cell(tr, "addr");
      cloud.appendChild(document.createTextNode(row[CLOUD_UPN]));
      line(cloud, "div", "sub", row[CLOUD_SMTP]);
    }
    cell(tr, "addr").textContent = row[PREDICTED];
    var findings = cell(tr, "findings");
    if (row[FINDINGS].length) {
      var list = line(findings, "ul", "findings", "");
      row[FINDINGS].forEach(function (item) {
        var li = line(list, "li", "finding-" + codes[item[0]][1], "");
        line(li, "code", "", codes[item[0]][0]);
        line(li, "span", "message", item[1]);
      });
    }
    return tr;
  }

  function render() {
    var size = parseInt(pageSize.value, 10) || 100;
    var count = Math.max(Math.ceil(matching.length / size), 1);
    page = Math.min(page, count - 1);
    var first = page * size;
    var shown = matching.slice(first, first + size);
    var fragment = document.createDocumentFragment();
    shown.forEach(function (index) { fragment.appendChild(rowElement(rows[index])); });
    body.textContent = "";
    body.appendChild(fragment);
    shownCount.textContent = String(matching.length);
    noMatch.hidden = matching.length > 0;
    pages.hidden = matching.length <= size;
    document.getElementById("page-number").textContent = String(page + 1);
    document.getElementById("page-count").textContent = String(count);
    document.getElementById("page-range").textContent =
      shown.length ? (first + 1) + "\\u2013" + (first + shown.length) : "-";
    document.getElementById("page-first").disabled = page === 0;
    document.getElementById("page-previous").disabled = page === 0;
    document.getElementById("page-next").disabled = page >= count - 1;
    document.getElementById("page-last").disabled = page >= count - 1;
    headers.forEach(function (header) {
      var key = header.getAttribute("data-sort");
      if (key === sortBy) {
        header.setAttribute("aria-sort", descending ? "descending" : "ascending");
      } else {
        header.removeAttribute("aria-sort");
      }
    });
    document.title = "Soft match report \\u00b7 " + report.meta.tenant +
      (matching.length === total ? "" : " (" + matching.length + " of " + total + ")");
    renders += 1;
    document.body.setAttribute("data-renders", String(renders));
  }

  function refilter() { page = 0; filter(); render(); writeLocation(); }
  function resort() { order = sortedOrder(); refilter(); }
  function turn(to) { page = to; render(); writeLocation(); window.scrollTo(0, body.parentNode.offsetTop); }

  var typing = null;
  outcome.addEventListener("change", refilter);
  finding.addEventListener("change", refilter);
  onlyPerson.addEventListener("change", refilter);
  text.addEventListener("input", function () {
    clearTimeout(typing);
    typing = setTimeout(refilter, 100);
  });
  pageSize.addEventListener("change", function () { page = 0; render(); writeLocation(); });
  document.getElementById("page-first").addEventListener("click", function () { turn(0); });
  document.getElementById("page-previous").addEventListener("click", function () { turn(page - 1); });
  document.getElementById("page-next").addEventListener("click", function () { turn(page + 1); });
  document.getElementById("page-last").addEventListener("click", function () { turn(Infinity); });
  headers.forEach(function (header) {
    header.querySelector("button").addEventListener("click", function () {
      var key = header.getAttribute("data-sort");
      descending = key === sortBy ? !descending : false;
      sortBy = key;
      resort();
    });
  });
  form.addEventListener("submit", function (event) { event.preventDefault(); });
  form.addEventListener("reset", function () {
    setTimeout(function () { sortBy = ""; descending = false; resort(); }, 0);
  });
  window.addEventListener("hashchange", function () {
    var wasSort = (descending ? "-" : "") + sortBy;
    readLocation();
    if (wasSort !== (descending ? "-" : "") + sortBy) { order = sortedOrder(); }
    filter();
    render();
  });

  form.hidden = false;
  readLocation();
  order = sortedOrder();
  var wantedPage = page;
  filter();
  page = wantedPage;
  render();
  document.body.setAttribute("data-ready", "1");
}());
</script>
</body>
</html>
"""

# The before/after page of one onboarding run: what a manager reads. The users are few enough to be rows of
# the page itself (an onboarding runs over a scope, usually an OU); the look is the soft match report's.
ONBOARD_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="hybrid.identity {{ meta.collection_version }}">
<title>Onboarding before and after &middot; {{ meta.scope }}</title>
<style>
""" + PAGE_STYLE + """
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 16px 20px;
  margin-bottom: 18px; }
table { border-collapse: collapse; width: 100%; table-layout: fixed; }
th { text-align: left; font-size: 11px; text-transform: uppercase; letter-spacing: .05em; color: #4a5568;
  background: #edf2f7; padding: 8px 10px; border-bottom: 1px solid #cbd5e0; }
td { padding: 7px 10px; border-bottom: 1px solid var(--line); vertical-align: top; overflow-wrap: anywhere; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.addr { font-family: var(--mono); font-size: 12px; }
.badge { display: inline-block; font-size: 12px; font-weight: 600; padding: 2px 8px; border-radius: 999px;
  color: var(--c); border: 1px solid var(--c); max-width: 100%; overflow-wrap: anywhere; }
.changed { background: #fffbea; }
.arrow { color: var(--muted); }
tr.person td:first-child { box-shadow: inset 3px 0 0 var(--error); }
ul.todo { margin: 4px 0 0; padding-left: 18px; color: #2d3748; }
ul.todo code { font-family: var(--mono); font-size: 11.5px; font-weight: 600; color: var(--error); }
.muted { color: var(--muted); }
footer { color: var(--muted); font-size: 12px; margin-top: 16px; }
</style>
</head>
<body>
<header class="page">
  <h1>Onboarding <span>&middot; every user before and after this run</span></h1>
  <dl>
    <div><dt>Scope</dt><dd>{{ meta.scope }}</dd></div>
    <div><dt>Run</dt><dd id="run-id">{{ meta.run_id or "-" }}</dd></div>
    <div><dt>Generated</dt><dd>{{ meta.generated_at }}</dd></div>
    <div><dt>Mode</dt><dd>{{ "check (a plan: nothing was written)" if meta.check_mode else "run" }}</dd></div>
  </dl>
</header>
<main>
<section class="tiles" aria-label="Counts">
{% for tile in tiles %}
  <div class="tile" style="--c: {{ tile.colour }}" data-count="{{ tile.key }}"><b>{{ tile.count }}</b>
    <span>{{ tile.label }}</span></div>
{% endfor %}
</section>
<section class="card" aria-label="Left alone">
  <h2>Left alone, and why</h2>
{% if why %}
  <table class="why">
    <colgroup><col><col style="width: 120px"></colgroup>
    <thead><tr><th>Reason</th><th>Users</th></tr></thead>
    <tbody>
{% for reason, count in why %}
      <tr><td class="addr">{{ reason }}</td><td class="n">{{ count }}</td></tr>
{% endfor %}
    </tbody>
  </table>
{% else %}
  <p class="muted">The run left nobody alone.</p>
{% endif %}
</section>
<section class="card" aria-label="Users">
  <h2>Users, who needs a person first</h2>
  <table class="users" id="users">
    <colgroup><col style="width: 12%"><col style="width: 20%"><col style="width: 26%"><col></colgroup>
    <thead><tr><th>User</th><th>Outcome before &rarr; after</th><th>Cloud primary before &rarr; now</th>
      <th>What the run did, or why not, and what to do</th></tr></thead>
    <tbody>
{% for row in rows %}
      <tr data-user="{{ row.user }}" data-before="{{ row.before or '' }}" data-after="{{ row.after }}"
          class="{{ 'person' if row.needs_person else '' }}">
        <td><b>{{ row.user }}</b></td>
        <td class="{{ 'changed' if row.before != row.after else '' }}">
          <span class="badge" style="--c: {{ row.before_colour }}">{{ row.before or "new on-prem" }}</span>
          <span class="arrow">&rarr;</span>
          <span class="badge" style="--c: {{ row.after_colour }}">{{ row.after }}</span></td>
        <td class="addr {{ 'changed' if row.cloud_before != row.cloud_now else '' }}">{{ row.cloud_before or "-" }}
          <span class="arrow">&rarr;</span> {{ row.cloud_now or "-" }}</td>
        <td class="verdict">{{ row.verdict }}
{% if row.needs_person %}
          <ul class="todo">
{% for finding in row.findings if finding.severity == "error" %}
            <li><code>{{ finding.code }}</code> {{ finding.message }}</li>
{% endfor %}
          </ul>
{% endif %}
        </td>
      </tr>
{% endfor %}
    </tbody>
  </table>
</section>
<footer>hybrid.identity {{ meta.collection_version }} &middot; onboarding before and after &middot;
  the reports of the predictions: {{ meta.reports_before or "-" }} and {{ meta.reports_after or "-" }}
  &middot; directory data: handle as confidential</footer>
</main>
</body>
</html>
"""
