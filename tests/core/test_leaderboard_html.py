"""The HTML leaderboard: render_html on its own (held-out marks, shared ranks, determinism, no remote
references), then the page of every committed record opened in a real headless chromium (a row per
record, sortable columns, a screenshot, no console error and no network request).

The browser tests never skip: without chromium they fail, saying what to install (CI installs it). They are
marked slow (a browser started twice, about 3 s, and an apt package): plain `python3 -m pytest` leaves them
out, CI runs them in its `python3 -m pytest -m slow` step."""
from __future__ import annotations

import copy
import json
import random
import re
from pathlib import Path
from urllib.parse import unquote

import pytest

from adrs_bench.leaderboard import load_records
from adrs_bench.leaderboard_html import render_html
from browser import Browser, BrowserError, find_chromium

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "leaderboard" / "results"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 16  # the signature is all render_html checks
REMOTE = re.compile(r"""(?:src|href|action|srcset|poster|data)\s*=\s*["']?\s*(?:https?:)?//|url\(|@import""", re.I)


@pytest.fixture(scope="module")
def records() -> list[dict]:
    return load_records(RESULTS)


def key(record: dict) -> tuple[str, str, str]:
    return record["task"]["id"], record["set"]["name"], record["submission"]["label"]


def variant(record: dict, label: str, score: float, **submission) -> dict:
    r = copy.deepcopy(record)
    r["submission"].update(label=label, **submission)
    r["aggregate"].update(score=score, ci90=[score - 0.1, score + 0.1])
    r["_file"] = f"{label}.json"
    return r


def groups_of(page: str) -> list[str]:
    return page.split('<div class="group"')[1:]


# --- render_html alone ------------------------------------------------------------------------------

def test_held_out_tables_are_marked(records):
    page = render_html(records, "leaderboard/results/")
    held = {(r["task"]["id"], r["set"]["name"]) for r in records if r["set"]["held_out"]}
    assert held, "the committed records have held-out sets"
    seen = set()
    for group in groups_of(page):
        heading = group.split("</h3>")[0]
        task, set_name = re.search(r'<table class="board" data-task="([^"]+)"[^>]* data-set="([^"]+)"', group).groups()
        marked = ">held out</span>" in heading
        assert marked == ((task, set_name) in held), (task, set_name)
        assert f'data-held-out="{str(marked).lower()}"' in group
        if marked:
            seen.add((task, set_name))
    assert seen == held


def test_ties_share_a_rank(records):
    base = records[0]
    members = [variant(base, "c", 0.7), variant(base, "b", 0.5), variant(base, "a", 0.5), variant(base, "d", 0.1)]
    page = render_html(members, "x/")
    ranks = re.findall(r'data-label="(\w)"[^>]*data-rank="(\d+)"', page)
    direction = base["metric"]["direction"]
    expected = [("c", "1"), ("a", "2"), ("b", "2"), ("d", "4")] if direction == "maximize" else \
        [("d", "1"), ("a", "2"), ("b", "2"), ("c", "4")]
    assert ranks == expected
    # and in the committed records: equal scores share a rank, different ones do not
    ties = 0
    for group in groups_of(render_html(records, "leaderboard/results/")):
        rows = [(re.search(r'data-rank="(\d+)"', row).group(1), re.findall(r'<td[^>]*data-sort="([^"]*)"', row)[2])
                for row in re.findall(r"<tr data-task.*?</tr>", group)]
        for rank, score in rows:
            assert {r for r, s in rows if s == score} == {rank}
            assert all(r != rank for r, s in rows if s != score)
        ties += len(rows) - len({score for _, score in rows})
    assert ties, "the committed records have equal scores in some table"


def test_deterministic_whatever_the_input_order(records):
    page = render_html(records, "leaderboard/results/")
    shuffled = list(records)
    random.Random(1).shuffle(shuffled)
    assert render_html(shuffled, "leaderboard/results/") == page == render_html(records, "leaderboard/results/")


def test_nothing_remote_and_text_escaped(records):
    hostile = variant(records[0], "x<script>alert(1)</script>", 0.3, path="https://example.org/evil.py",
                      meta={"author": "A <b>bold</b> one", "url": "https://example.org/paper"})
    hostile["_file"] = "javascript:alert(1).json"
    page = render_html([*records, hostile], "leaderboard/results/")
    assert REMOTE.search(page) is None, REMOTE.search(page)
    assert 'href="javascript' not in page.lower() and "<b>bold" not in page and "<script>alert" not in page
    assert "url: https://example.org/paper" in page  # metadata shown as text
    assert "author: A &lt;b&gt;bold&lt;/b&gt; one" in page
    assert '<meta http-equiv="Content-Security-Policy" content="default-src \'none\';' in page
    assert '<link rel="icon" href="data:,">' in page


def test_images_go_under_their_task(records):
    name = records[0]["task"]["name"]
    page = render_html(records, "leaderboard/results/", {name: PNG})
    section = re.search(rf'<section data-task-name="{name}".*?</section>', page, re.S).group(0)
    assert section.index('<img alt=') > section.rindex("</table>")
    assert page.count("data:image/png;base64,") == 1
    with pytest.raises(ValueError, match="expected PNG bytes"):
        render_html(records, "x/", {name: b"GIF89a"})


# --- the page in a real browser ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def page(records, tmp_path_factory):
    """The page of every committed record at <tmp>/leaderboard/index.html, with results/ beside it and
    the repository's tasks/ one level up, so every link on it resolves as it does in a checkout."""
    try:
        find_chromium()
    except BrowserError as e:
        pytest.fail(str(e), pytrace=False)
    root = tmp_path_factory.mktemp("site")
    (root / "leaderboard").mkdir()
    (root / "leaderboard" / "results").symlink_to(RESULTS)
    (root / "tasks").symlink_to(ROOT / "tasks")
    path = root / "leaderboard" / "index.html"
    path.write_text(render_html(records, "leaderboard/results/"))
    with Browser() as browser:
        browser.navigate(path.as_uri())
        yield browser, root


@pytest.mark.slow
def test_every_record_has_a_row(page, records):
    browser, _ = page
    rows = browser.evaluate("""Array.from(document.querySelectorAll("table.board tbody tr"),
        r => [r.dataset.task, r.dataset.set, r.dataset.label])""")
    assert sorted(map(tuple, rows)) == sorted(key(r) for r in records)


@pytest.mark.slow
def test_links_resolve_to_local_files(page, records):
    browser, root = page
    links = browser.evaluate('Array.from(document.querySelectorAll("a[href]"), a => a.href)')
    files = [link for link in links if link.startswith("file://")]
    assert len(files) == 2 * len(records) + len({r["task"]["name"] for r in records})  # nav links are #anchors
    for link in files:
        if "#" not in link:
            assert Path(unquote(link.removeprefix("file://"))).is_file(), link
    assert {Path(link).name for link in files if "/results/" in link} == {r["_file"] for r in records}


COLUMN = """(([t, c]) => { const table = document.querySelectorAll("table.board")[t];
    return Array.from(table.tBodies[0].rows, r => [r.dataset.label, r.cells[c].dataset.sort]); })"""
CLICK = """(([t, c]) => { const th = document.querySelectorAll("table.board")[t].tHead.rows[0].cells[c];
    th.click(); return th.getAttribute("aria-sort"); })"""
HEADS = """Array.from(document.querySelectorAll("table.board"),
    t => Array.from(t.tHead.rows[0].cells, th => [th.textContent, th.dataset.type]))"""


def column(browser, t: int, c: int) -> list[list[str]]:
    return browser.evaluate(f"{COLUMN}({json.dumps([t, c])})")


def click(browser, t: int, c: int) -> str:
    return browser.evaluate(f"{CLICK}({json.dumps([t, c])})")


def assert_sorted(values: list[str], kind: str, descending: bool) -> None:
    present = [v for v in values if v != ""]
    assert values == present + [""] * (len(values) - len(present)), "empty cells sort last"
    keys = [float(v) for v in present] if kind == "num" else present
    assert keys == sorted(keys, reverse=descending), (kind, descending, values)


@pytest.mark.slow
def test_clicking_a_header_sorts_its_table(page):
    browser, _ = page
    heads = browser.evaluate(HEADS)
    # The first table's submission column: rank order is not alphabetical, so a click must change it.
    t, c = 0, [h[0] for h in heads[0]].index("submission")
    before = column(browser, t, c)
    assert click(browser, t, c) == "ascending"
    ascending = column(browser, t, c)
    assert ascending != before and [v for _, v in ascending] == sorted(v for _, v in before)
    assert click(browser, t, c) == "descending"
    assert column(browser, t, c) == ascending[::-1]
    # Every column of every table, clicked twice: sorted one way, then the other (numbers as numbers).
    numeric_seen = False
    for t, table in enumerate(heads):
        for c, (title, kind) in enumerate(table):
            states = []
            for _ in range(2):
                states.append(click(browser, t, c))
                values = [v for _, v in column(browser, t, c)]
                assert_sorted(values, kind, states[-1] == "descending")
                numeric_seen |= kind == "num" and sorted(values) != sorted(values, key=lambda v: float(v or "inf"))
            assert sorted(states) == ["ascending", "descending"], (t, title, states)
    assert numeric_seen, "some column whose text order differs from its numeric order was checked"


@pytest.mark.slow
def test_screenshot_and_a_quiet_page(page, tmp_path):
    browser, _ = page
    png = browser.screenshot()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000
    (tmp_path / "leaderboard.png").write_bytes(png)
    assert browser.errors == []
    assert browser.requests == []


@pytest.mark.slow
def test_the_browser_sees_errors_and_requests(tmp_path):
    """The two checks above are not vacuous: a page that logs an error and fetches over the network
    (from loopback port 9, refused at once) is caught by both."""
    try:
        find_chromium()
    except BrowserError as e:
        pytest.fail(str(e), pytrace=False)
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><img src="http://127.0.0.1:9/x.png"><script>console.error("boom")</script>')
    with Browser() as browser:
        browser.navigate(bad.as_uri())
        assert any("boom" in e for e in browser.errors)
        assert "http://127.0.0.1:9/x.png" in browser.requests
