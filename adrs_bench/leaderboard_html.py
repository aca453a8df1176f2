"""Result records -> one self-contained static HTML leaderboard page.

The page has the tables of the Markdown leaderboard (the same grouping and ranking: `leaderboard.groups`
and `leaderboard.table_rows`), each sortable by clicking a column header, with the 90% interval drawn
as a bar scaled within its table. It fetches nothing: CSS, script and images are inline, a CSP meta tag
forbids every other source, and the only links are relative (record files under `results/`, submission
files under `submission_base`). Rendering is deterministic (no clock, sorted inputs), so CI can check
that the committed page is fresh.
"""
from __future__ import annotations

import base64
import html
import math
import re
from typing import Mapping
from urllib.parse import quote

from . import results
from .leaderboard import groups, plugin_columns, superseded_note, table_rows
from .report import fmt, interval_text

CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"

CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5em auto; max-width: 84em; padding: 0 1em; color: #1b1f24; }
h1 { margin-bottom: .2em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #d0d7de; } h3 { margin-bottom: .3em; }
code { background: #f0f2f4; padding: 0 .25em; border-radius: 3px; }
.note { color: #444; } .warn { color: #9a3412; font-weight: 600; }
.held-out { background: #7c2d12; color: #fff; border-radius: 3px; padding: 0 .4em; font-size: .8em; vertical-align: middle; }
table.board { border-collapse: collapse; margin: .4em 0 1em; }
table.board th, table.board td { border: 1px solid #d0d7de; padding: .2em .5em; text-align: left; vertical-align: middle; }
table.board th { background: #f6f8fa; cursor: pointer; user-select: none; white-space: nowrap; }
table.board th:focus { outline: 2px solid #0969da; }
table.board th[aria-sort=ascending]::after { content: " \\25B2"; font-size: .75em; }
table.board th[aria-sort=descending]::after { content: " \\25BC"; font-size: .75em; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.bar { position: relative; width: 9em; height: .9em; background: #eef1f4; border-radius: 2px; }
.bar .ci { position: absolute; top: .2em; height: .5em; min-width: 2px; background: #4c9a6a; }
.bar .pt { position: absolute; top: 0; width: 2px; height: .9em; margin-left: -1px; background: #1b1f24; }
.ci-text { font-size: .8em; color: #555; }
.meta { font-size: .85em; white-space: pre-line; }
.file { font-size: .85em; white-space: nowrap; }
figure.plot img { max-width: 100%; border: 1px solid #d0d7de; }
"""

# Click a header (or press Enter on it) to sort by that column; again to reverse. Cells carry their
# sort value in data-sort ("" for none: always last); ties keep rank order, reversed with the rest.
SCRIPT = """
(function () {
  function sortBy(table, th, col) {
    var dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
    var numeric = th.getAttribute("data-type") === "num";
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    function key(row) {
      var v = row.cells[col].getAttribute("data-sort");
      return v === "" ? null : (numeric ? parseFloat(v) : v);
    }
    function index(row) { return parseInt(row.getAttribute("data-index"), 10); }
    rows.sort(function (a, b) {
      var x = key(a), y = key(b);
      if (x === null || y === null) return ((x === null) - (y === null)) || (index(a) - index(b));
      var c = x < y ? -1 : (x > y ? 1 : 0);
      return dir * (c || (index(a) - index(b)));
    });
    rows.forEach(function (row) { body.appendChild(row); });
    Array.prototype.forEach.call(th.parentNode.cells, function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.board"), function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
      th.addEventListener("click", function () { sortBy(table, th, col); });
      th.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sortBy(table, th, col); }
      });
    });
  });
})();
"""


def esc(value) -> str:
    return html.escape(str(value), quote=True)


def href(path: str) -> str:
    """A relative link: percent-encoded so that no scheme (http:, javascript:) can appear."""
    return esc(quote(path, safe="/._-~"))


def num(value: float) -> str:
    return repr(float(value))


def slug(*parts: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", "--".join(parts))


def meta_lines(meta: Mapping[str, str]) -> list[str]:
    order = list(getattr(results, "META_KEYS", ()))
    keys = sorted(meta, key=lambda k: (order.index(k) if k in order else len(order), k))
    return [f"{k}: {meta[k]}" for k in keys]


def sort_value(value) -> tuple[str, bool]:
    """(data-sort text, is it a number) for a raw summary value."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return num(value), True
    if value is None:
        return "", True
    return str(value), False


def ci_cell(score: float, ci, lo: float, span: float) -> str:
    def pct(v: float) -> str:
        return f"{100 * (v - lo) / span:.2f}%"

    point = f'<span class="pt" style="left:{pct(score)}"></span>'
    if not ci:
        return (f'<td data-sort=""><div class="bar" title="no interval">{point}</div>'
                f'<span class="ci-text">-</span></td>')
    text = interval_text(ci)
    interval = f'<span class="ci" style="left:{pct(ci[0])};width:{100 * (ci[1] - ci[0]) / span:.2f}%"></span>'
    return (f'<td data-sort="{num(ci[0])}"><div class="bar" title="90% interval {text}, score {fmt(score)}">'
            f'{interval}{point}</div><span class="ci-text">{text}</span></td>')


def table_html(key: tuple[str, str, str, str], members: list[dict], submission_base: str) -> str:
    task_id, set_name, sha, evaluator = key
    first = members[0]
    rows = table_rows(members)
    titles = list(rows[0]["columns"])
    keys = dict((title, k) for k, title in plugin_columns(task_id) if title in titles)
    held_out = bool(first["set"].get("held_out"))
    bounds = [r["aggregate"]["score"] for r in members] + [b for r in members for b in (r["aggregate"]["ci90"] or [])]
    lo, hi = min(bounds), max(bounds)
    span = (hi - lo) or 1.0

    # Cells: (data-sort, html) per column; a summary column sorts numerically if all its values are numbers.
    numeric = {title: all(sort_value(r["aggregate"]["extra"].get(keys.get(title)))[1] for r in members)
               for title in titles}
    body = []
    for index, (row, record) in enumerate(zip(rows, members)):
        path = row["path"]
        link = path if path.startswith("/") else submission_base + path
        meta = meta_lines(row["meta"])
        cells = [
            f'<td class="num" data-sort="{row["rank"]}">{row["rank"]}</td>',
            f'<td data-sort="{esc(row["submission"])}"><a href="{href(link)}">{esc(row["submission"])}</a></td>',
            f'<td class="num" data-sort="{num(row["score"])}">{fmt(row["score"])}</td>',
            ci_cell(row["score"], row["ci90"], lo, span),
            f'<td class="num" data-sort="{row["ok"]}">{row["ok"]}/{row["instances"]}</td>',
        ]
        for title in titles:
            value, _ = sort_value(record["aggregate"]["extra"].get(keys.get(title)))
            cells.append(f'<td class="{"num" if numeric[title] else "text"}" data-sort="{esc(value)}">'
                         f'{esc(row["columns"][title])}</td>')
        cells.append(f'<td class="meta" data-sort="{esc("; ".join(meta))}">{esc(chr(10).join(meta)) or "-"}</td>')
        file = row.get("record") or ""
        cells.append(f'<td class="file" data-sort="{esc(file)}">' + (f'<a href="{href("results/" + file)}">{esc(file)}</a>'
                                                         if file else "-") + "</td>")
        body.append(f'<tr data-task="{esc(task_id)}" data-set="{esc(set_name)}" data-label="{esc(row["submission"])}" '
                    f'data-file="{esc(file)}" data-rank="{row["rank"]}" data-index="{index}">{"".join(cells)}</tr>')

    heads = [("rank", "num"), ("submission", "text"), ("score", "num"), ("90% interval", "num"), ("ok", "num")]
    heads += [(title, "num" if numeric[title] else "text") for title in titles]
    heads += [("metadata", "text"), ("record", "text")]
    sorted_by = ' aria-sort="ascending"'  # the rows come in rank order
    head = "".join(f'<th scope="col" tabindex="0" data-type="{kind}"{sorted_by if i == 0 else ""}>{esc(title)}</th>'
                   for i, (title, kind) in enumerate(heads))
    note = superseded_note(first["task"]).replace("**", "").strip()
    metric = first["metric"]
    anchor = slug(task_id, set_name, sha[:12], evaluator[:12])
    return (f'<div class="group" id="{esc(anchor)}">\n'
            f'<h3>{esc(task_id)} · set <code>{esc(set_name)}</code>'
            + (' <span class="held-out" title="held-out set: scored for publication only">held out</span>'
               if held_out else "")
            + f'</h3>\n<p class="note">{first["set"]["cases"]} cases, set sha256 <code>{esc(sha[:12])}</code>, '
              f'evaluator <code>{esc(evaluator[:12])}</code>. Score: {esc(metric["name"])} '
              f'({esc(metric["direction"])}).</p>\n'
            + (f'<p class="warn">{esc(note)}</p>\n' if note else "")
            + f'<table class="board" data-task="{esc(task_id)}" data-task-name="{esc(first["task"]["name"])}" '
              f'data-set="{esc(set_name)}" data-set-sha256="{esc(sha)}" data-evaluator-sha256="{esc(evaluator)}" '
              f'data-held-out="{str(held_out).lower()}">\n<thead><tr>{head}</tr></thead>\n<tbody>\n'
            + "\n".join(body) + "\n</tbody>\n</table>\n</div>")


def render_html(records: list[dict], source: str, images: Mapping[str, bytes] | None = None,
                submission_base: str = "../") -> str:
    """The leaderboard page for `records` (as `leaderboard.load_records` gives them: each may carry its
    file name under `_file`, linked as `results/<file>` relative to the page; without it, no link).
    `source` names the results folder used. `images` maps a task name to PNG bytes shown under that
    task's tables. `submission_base` prefixes each submission's recorded (repository-relative) path in
    its link: "../" for a page in leaderboard/, one level below the repository root."""
    images = images or {}
    by_name: dict[str, list[str]] = {}
    for key, members in groups(sorted(records, key=lambda r: (r.get("_file") or "", r["submission"]["sha256"]))):
        by_name.setdefault(members[0]["task"]["name"], []).append(table_html(key, members, submission_base))
    nav, sections = [], []
    for name in sorted(by_name):
        nav.append(f'<li><a href="#task-{esc(slug(name))}">{esc(name)}</a> ({len(by_name[name])} tables)</li>')
        figure = ""
        if name in images:
            png = bytes(images[name])
            if not png.startswith(b"\x89PNG\r\n\x1a\n"):
                raise ValueError(f"expected PNG bytes for the image of task '{name}', got {png[:8]!r}")
            figure = (f'<figure class="plot" data-task-name="{esc(name)}"><img alt="{esc(name)}: scores compared" '
                      f'src="data:image/png;base64,{base64.b64encode(png).decode()}"></figure>\n')
        sections.append(f'<section data-task-name="{esc(name)}" id="task-{esc(slug(name))}">\n<h2>{esc(name)}</h2>\n'
                        + "\n".join(by_name[name]) + "\n" + figure + "</section>")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>adrs-bench leaderboard</title>
<style>{CSS}</style>
</head>
<body>
<header>
<h1>adrs-bench leaderboard</h1>
<p>Generated by <code>adrs-bench leaderboard --format html</code> from the result records in
<code>{esc(source)}</code>; do not edit by hand. Scores are comparable only within one table (same task
version, instance set sha256 and evaluator). Sets marked <span class="held-out">held out</span> are scored for
publication only: never feed them to a search. Click a column header to sort; click again to reverse.</p>
<ul>
{chr(10).join(nav)}
</ul>
</header>
<main>
{chr(10).join(sections)}
</main>
<script>{SCRIPT}</script>
</body>
</html>
"""
