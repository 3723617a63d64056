"""The built book as a reader's browser shows it, with no internet.

``_build/html`` is served on 127.0.0.1 and every page is opened in headless
Chromium (Debian's ``chromium``, driven by Playwright). Every request to any
other host is blocked, and a page that even tries one fails: the book must
work offline (MathJax included). For every page we check: no console
errors, no blocked or failed requests, every formula typeset by MathJax (no
raw TeX left, no MathJax error), every image loaded with alt text and a caption, shown
at a legible size inside the content column and sharp on a 2x screen (two image pixels per
CSS pixel), every code block fitting the column at 1280 px without scrolling, every internal link (and its
#anchor) resolving, every exercise followed by its solution, which a click
reveals. Every page is opened again at 400 px wide: nothing makes the page wider than the
screen, no equation, table, code block or image is cut off (scrolling inside its own box is
fine), no equation number sits over its formula. Then: the search page finds glossary terms, each chapter offers its
``.ipynb`` download, no template leftovers, no made-up launch buttons.

The checks are also run on deliberately broken copies of a page (MathJax
from a CDN, a solution removed, an image missing) to show that they fail.

Screenshots of the landing page, chapter 3 and chapter 1 are left in
``_build/screenshots/`` for a human walkthrough: the first screen always, the whole
page and the page with its solutions opened when ``BOOK_SCREENSHOTS=1``.

The crawl keeps a few pages loading at once in the one browser (``CRAWL_AHEAD``) while
it inspects each in turn: page loads and MathJax run in the browser's processes, so
this uses both cores.

Without a browser the tests are skipped with a message saying how to enable
them; with ``CI=true`` a missing browser is a failure.
"""

from __future__ import annotations

import functools
import html
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import yaml

from booktools import edition, i18n
from booktools.browser import (
    HOW_TO_ENABLE, MATH_ERRORS, RAW_TEX, WAIT_FOR_MATH, Server, block_other_hosts, browser_problem, launch,
)
from test_book_pages import glossary_entries

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "_build" / "html"
SHOTS = ROOT / "_build" / "screenshots"
VIEWPORT = {"width": 1280, "height": 900}
# Folders of the built site that hold assets, not pages.
ASSET_DIRS = {"_static", "_sources", "_images", "mathjax", "_downloads"}
# A content image shown at less than this fraction of its intended width has text too small to read:
# the book style draws 11 pt text at 100 dpi (15 px), so 75 % keeps it above 11 px.
MIN_SCALE = 0.75
# Figures are stored at twice the pixels of their intended size ("retina", metaopt.plotting), so a
# raster image needs at least this many image pixels per CSS pixel to be sharp on a 2x screen.
MIN_DENSITY = 1.9
INTENDED_DENSITY = 2.0
# The narrow screen every page is also opened at (a small phone held upright).
NARROW = {"width": 400, "height": 900}
# How many pages the crawl keeps loading while it inspects one.
CRAWL_AHEAD = 3
# Whole-page screenshots (several seconds each for a long chapter) only when asked for:
# BOOK_SCREENSHOTS=1 make test. The first screen of each page below is always kept.
FULL_SCREENSHOTS = os.environ.get("BOOK_SCREENSHOTS", "").strip() not in ("", "0")
# Pages of which the walkthrough keeps screenshots.
SCREENSHOT_PAGES = {"intro.html": "landing", "chapters/03_outer_loop.html": "03_outer_loop",
                    "chapters/01_setup.html": "01_setup"}

CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))


def edition_of(page: str) -> tuple[str, str]:
    """``("ko", "chapters/01_setup.html")`` for a page of the Korean edition, ``("en", page)`` otherwise."""
    head, _, rest = page.partition("/")
    return (head, rest) if head in i18n.LANGUAGES else ("en", page)


def edition_title(language: str) -> str:
    return CONFIG["title"] if language == "en" else i18n.EDITION_CONFIG[language]["html_title"]


#: The footer's author line in each edition (the Korean theme string is booktools' own: sphinx.po).
def edition_byline(language: str) -> str:
    if language == "en":
        return f"By {CONFIG['author']}"
    return f"지은이: {i18n.EDITION_CONFIG[language]['author']}"


#: The run box's title in each edition.
RUN_BOX_TITLE = {"en": "Run this chapter yourself", "ko": "이 장을 직접 실행하기"}


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def require_browser():
    """Skip (or, under CI=true, fail) when there is no browser to run."""
    problem = browser_problem()
    if problem:
        if in_ci():
            pytest.fail(f"browser tests cannot run: {problem}. CI=true requires them: {HOW_TO_ENABLE}.")
        pytest.skip(f"browser tests skipped: {problem}. To enable them, {HOW_TO_ENABLE}.")


def ensure_site():
    """The built book; built strictly here if `make test` did not build it first."""
    if (SITE / "intro.html").is_file() and (SITE / "mathjax" / "tex-chtml.js").is_file():
        return SITE
    jb = Path(sys.executable).parent / "jupyter-book"
    run = subprocess.run(
        [str(jb), "build", str(ROOT), "--builder", "html", "-W", "-n", "--keep-going"],
        capture_output=True, text=True, cwd=ROOT,
    )
    if run.returncode != 0 or not (SITE / "intro.html").is_file():
        pytest.fail("_build/html is missing and building it failed:\n" + (run.stdout + run.stderr)[-3000:])
    return SITE


def site_pages(site: Path) -> list[str]:
    """Every HTML page of the built site, as paths relative to its root."""
    pages = []
    for path in sorted(site.rglob("*.html")):
        rel = path.relative_to(site)
        if not set(rel.parts[:2]) & set(ASSET_DIRS):  # the Korean edition's under ko/ too
            pages.append(rel.as_posix())
    return pages


# --- what a page looks like in the browser ------------------------------------------------

INSPECT = """() => {
  const text = (el) => (el ? el.textContent.replace(/\\s+/g, ' ').trim() : '');
  const article = document.querySelector('article.bd-article') || document.querySelector('main') || document.body;
  const column = article.getBoundingClientRect();
  const images = Array.from(document.images).map((img) => {
    const r = img.getBoundingClientRect();
    const figure = img.closest('figure');
    const caption = figure && figure.querySelector('figcaption');
    return {src: img.getAttribute('src'), url: img.currentSrc || img.src, alt: img.getAttribute('alt'),
            caption: caption ? caption.textContent.trim() : '',
            complete: img.complete, naturalWidth: img.naturalWidth, naturalHeight: img.naturalHeight,
            width: r.width, left: r.left, right: r.right, inArticle: article.contains(img),
            columnLeft: column.left, columnRight: column.right};
  });
  const mathNodes = Array.from(document.querySelectorAll('.math'));
  const solutions = Array.from(document.querySelectorAll('div.solution')).map((s) => {
    const a = s.querySelector('.admonition-title a[href^="#"]');
    return {id: s.id, target: a ? decodeURIComponent(a.getAttribute('href').slice(1)) : null};
  });
  return {
    title: document.title,
    math: mathNodes.length,
    math_untypeset: mathNodes.filter((e) => !e.querySelector('mjx-container')).slice(0, 5).map(text),
    math_typeset: document.querySelectorAll('mjx-container').length,
    images: images,
    links: Array.from(document.querySelectorAll('a[href]')).map((a) => a.href),
    exercises: Array.from(document.querySelectorAll('div.exercise')).map((e) => e.id),
    solutions: solutions,
    downloads: Array.from(document.querySelectorAll('.dropdown-download-buttons a[href]'))
                 .map((a) => a.href),
    launch: Array.from(document.querySelectorAll('.dropdown-launch-buttons a[href], a[href*="mybinder"], a[href*="colab.research"]'))
              .map((a) => a.href),
    footer: Array.from(document.querySelectorAll('footer')).map(text).join(' '),
    lang: document.documentElement.lang,
    switch: Array.from(document.querySelectorAll('.book-language-switch a')).map((a) => {
      const r = a.getBoundingClientRect();
      return {href: a.href, hreflang: a.hreflang, text: text(a), visible: r.width > 0 && r.height > 0};
    }),
    headings: Array.from(document.querySelectorAll('h1, h2')).map(text),
    search_fields: Array.from(document.querySelectorAll('.search-button-field'))
      .filter((e) => e.offsetParent !== null && e.getBoundingClientRect().width > 0)
      .map((e) => {
        const r = e.getBoundingClientRect();
        const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
        return {where: e.parentElement.className, top: r.top, covered: !(hit && (hit === e || e.contains(hit)))};
      }),
    code_scroll: Array.from(article.querySelectorAll('pre'))
      .filter((p) => p.clientWidth > 0 && p.scrollWidth > p.clientWidth + 1)
      .map((p) => p.textContent.split('\\n').reduce((a, b) => (b.length > a.length ? b : a), '').slice(0, 80)),
    run_box: Array.from(document.querySelectorAll('.run-this-chapter')).map(text),
    run_links: Array.from(document.querySelectorAll('.run-this-chapter a[href]')).map((a) => a.href),
    // Every label, tooltip and placeholder, once the page's scripts have run; not a citation's
    // tooltip (the entry it cites, in the language of the work).
    labels: Array.from(document.querySelectorAll('[aria-label], [title], [placeholder]'))
      .filter((e) => !e.matches('a.reference.internal[href*="references.html#"]'))
      .flatMap((e) => ['aria-label', 'title', 'placeholder'].map((k) => e.getAttribute(k)).filter(Boolean)),
  };
}"""

# Reveal one solution as a reader would (click its title) and report what becomes visible.
REVEAL = """(id) => {
  const s = document.getElementById(id);
  const content = () => Array.from(s.children).filter((c) => !c.classList.contains('admonition-title'));
  const visible = (c) => c.offsetParent !== null && getComputedStyle(c).visibility !== 'hidden'
                         && c.getBoundingClientRect().height > 0;
  const shown = () => content().filter((c) => visible(c) && c.textContent.trim()).length;
  const before = shown();
  s.querySelector('.admonition-title').click();
  return {before: before, after: shown(), text: content().map((c) => c.textContent).join(' ').trim().length};
}"""


REDIRECT = re.compile(r'<meta[^>]+http-equiv="refresh"', re.I)
REDIRECT_TARGET = re.compile(r'<meta[^>]+http-equiv="refresh"[^>]+content="\d+;\s*url=([^"]+)"', re.I)


def open_page(context, server: Server, rel: str) -> tuple:
    """Start loading one page; return it with the record its listeners fill. The browser loads
    and typesets it while Python goes on (``crawl`` keeps several pages loading at once)."""
    record = {"page": rel, "console": [], "blocked": [], "failed": []}
    page = context.new_page()
    page.on("console", lambda msg: msg.type == "error" and record["console"].append(msg.text))
    page.on("pageerror", lambda err: record["console"].append(f"uncaught: {err}"))
    page.on("response", lambda r: r.status >= 400 and record["failed"].append(f"{r.status} {r.url}"))
    page.on("requestfailed", lambda r: record["failed"].append(f"{r.failure} {r.url}"))
    block_other_hosts(page, server, record["blocked"])
    page.goto(server.url + rel, wait_until="commit")
    return page, record


def inspect_page(page, record: dict, server: Server, screenshot: str | None = None, reveal: bool = True,
                 narrow: bool = False) -> dict:
    """Wait until the page has loaded and MathJax is done, record everything the checks need, close it;
    with ``narrow``, then its layout on a narrow screen too (``record["narrow"]``: :func:`narrow_layout`)."""
    rel = record["page"]
    page.wait_for_load_state("load")
    if REDIRECT.search((server.root / rel).read_text(encoding="utf-8", errors="replace")):
        page.wait_for_url(lambda url: not url.endswith(rel))  # index.html -> the landing page
        page.wait_for_load_state("load")
    page.evaluate(WAIT_FOR_MATH)
    record.update(page.evaluate(INSPECT))
    record["raw_tex"] = page.evaluate(RAW_TEX)
    record["math_errors"] = page.evaluate(MATH_ERRORS)
    record["final_url"] = page.url
    if screenshot:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{screenshot}-top.png"))
        if FULL_SCREENSHOTS:
            page.screenshot(path=str(SHOTS / f"{screenshot}.png"), full_page=True)
    record["revealed"] = {}
    if reveal:
        for solution in record["solutions"]:
            record["revealed"][solution["id"]] = page.evaluate(REVEAL, solution["id"])
        if screenshot and record["solutions"] and FULL_SCREENSHOTS:
            page.screenshot(path=str(SHOTS / f"{screenshot}-solutions.png"), full_page=True)
    if narrow:
        record["narrow"] = narrow_layout(page)
    # Blocked requests show up as failed too; keep each problem in one place.
    record["failed"] = [f for f in record["failed"] if not any(b in f for b in record["blocked"])]
    page.close()
    return record


def visit(context, server: Server, rel: str, screenshot: str | None = None, reveal: bool = True) -> dict:
    """Open one page and record everything the checks need."""
    page, record = open_page(context, server, rel)
    return inspect_page(page, record, server, screenshot=screenshot, reveal=reveal)


# --- the checks: each returns a list of problems (empty = fine) ---------------------------

def console_problems(r):
    return [f"console error: {msg}" for msg in r["console"]]


def offline_problems(r):
    return [f"request to another host: {url}" for url in r["blocked"]] + \
           [f"failed request: {f}" for f in r["failed"]]


def math_problems(r):
    problems = [f"raw TeX on the page: ...{snippet}..." for snippet in r["raw_tex"]]
    problems += [f"formula not typeset: {t[:60]}" for t in r["math_untypeset"]]
    problems += [f"MathJax error: {e}" for e in r["math_errors"]]
    return problems


def image_problems(r):
    problems = []
    for img in r["images"]:
        name = img["src"]
        if not (img["complete"] and img["naturalWidth"] > 0):
            problems.append(f"image does not load: {name}")
            continue
        if not img["inArticle"]:
            continue
        if not (img["alt"] or "").strip():
            problems.append(f"image without alt text: {name}")
        if not img["caption"]:
            problems.append(f"image without a caption: {name}")
        if img["width"] > 0:  # visible (not inside a closed dropdown)
            if not name.lower().endswith(".svg"):  # vector images are sharp at any density
                density = img["naturalWidth"] / img["width"]
                if density < MIN_DENSITY:
                    problems.append(f"image at {density:.2f} pixels per CSS pixel, blurry on a 2x screen: {name}")
                scale = INTENDED_DENSITY / density
                if scale < MIN_SCALE:
                    problems.append(f"image shrunk to {scale:.0%} of its intended size, text too small: {name}")
            if img["right"] > img["columnRight"] + 1 or img["left"] < img["columnLeft"] - 1:
                problems.append(f"image overflows the content column: {name}")
    return problems


@functools.lru_cache(maxsize=None)
def anchors(path: Path) -> frozenset:
    text = path.read_text(encoding="utf-8", errors="replace")
    return frozenset(html.unescape(a) for a in re.findall(r'\b(?:id|name)="([^"]+)"', text))


def link_problems(r, server: Server, site: Path):
    problems = []
    for url in sorted(set(r["links"])):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or parts.netloc != server.netloc:
            continue  # external links are not followed offline
        target = site / unquote(parts.path).lstrip("/")
        if target.is_dir():
            target = target / "index.html"
        if not target.is_file():
            problems.append(f"link to a missing file: {url}")
        elif parts.fragment and target.suffix == ".html" and unquote(parts.fragment) not in anchors(target):
            problems.append(f"link to a missing anchor: {url}")
    return problems


def exercise_problems(r):
    problems = []
    solved = {s["target"] for s in r["solutions"]}
    for ex in r["exercises"]:
        if ex not in solved:
            problems.append(f"exercise {ex} has no solution")
    for s in r["solutions"]:
        if s["target"] not in r["exercises"]:
            problems.append(f"solution {s['id']} does not point at an exercise on this page")
        shown = r["revealed"].get(s["id"])
        if shown is None:
            continue
        if shown["before"]:
            problems.append(f"solution {s['id']} is visible before the reader opens it")
        if not shown["after"] or not shown["text"]:
            problems.append(f"solution {s['id']} shows nothing when opened")
    return problems


def code_problems(r):
    """At 1280 px every code block (and text output) fits the column: no line needs scrolling."""
    return [f"code block scrolls sideways at {VIEWPORT['width']} px: {line!r}" for line in r["code_scroll"]]


CHECKS = {
    "console": console_problems,
    "offline": offline_problems,
    "math": math_problems,
    "images": image_problems,
    "exercises": exercise_problems,
    "code": code_problems,
}

# What a narrow screen shows: the page wider than the screen; an equation, table, code block or image
# past the content column and not inside a box that scrolls; an equation number over its formula.
LAYOUT = r"""() => {
  const article = document.querySelector('article.bd-article') || document.body;
  const col = article.getBoundingClientRect();
  const label = (e) => e.tagName.toLowerCase() + ': ' + (e.textContent || e.getAttribute('src') || '').trim().slice(0, 50);
  const scroller = (e) => {
    for (let a = e.parentElement; a && a !== article.parentElement; a = a.parentElement) {
      const o = getComputedStyle(a).overflowX;
      if (o === 'auto' || o === 'scroll') return a;
      if (o === 'hidden' || o === 'clip') return null;
    }
    return null;
  };
  const scrolls = (e) => ['auto', 'scroll'].includes(getComputedStyle(e).overflowX);
  const inside = (e) => { const r = e.getBoundingClientRect(); return r.right <= col.right + 1 && r.left >= col.left - 1; };
  const cut = [];
  for (const e of article.querySelectorAll('mjx-container[display="true"], table, pre, img')) {
    if (e.getBoundingClientRect().width === 0) continue;
    const wider = e.scrollWidth > e.clientWidth + 1;  // its content is wider than its box
    if (inside(e) && !wider) continue;
    if (scrolls(e) && inside(e)) continue;  // the reader scrolls inside it
    const box = scroller(e);
    if (!box || !inside(box)) cut.push(label(e));
  }
  const overlap = [];
  for (const eq of article.querySelectorAll('div.math')) {
    const no = eq.querySelector('.eqno'), m = eq.querySelector('mjx-container');
    if (!no || !m) continue;
    const a = no.getBoundingClientRect(), c = m.getBoundingClientRect();
    const f = (m.querySelector('mjx-math') || m).getBoundingClientRect();
    const b = {left: Math.max(c.left, f.left), right: Math.min(c.right, f.right),
               top: Math.max(c.top, f.top), bottom: Math.min(c.bottom, f.bottom)};
    if (a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom) overlap.push(no.textContent.trim());
  }
  const wide = Array.from(document.querySelectorAll('body *')).filter((e) => {
    if (e.getBoundingClientRect().right <= window.innerWidth + 1) return false;
    for (let a = e.parentElement; a; a = a.parentElement) if (getComputedStyle(a).overflowX !== 'visible') return false;
    return true;
  }).slice(0, 3).map(label);
  return {overflow: document.documentElement.scrollWidth - window.innerWidth, wide: wide, cut: cut, overlap: overlap};
}"""


def layout_problems(r):
    problems = []
    if r["overflow"] > 0:
        problems.append(f"the page is {r['overflow']} px wider than a {NARROW['width']} px screen: {r['wide']}")
    problems += [f"cut off at {NARROW['width']} px (past the column, not in a scrolling box): {e}" for e in r["cut"]]
    problems += [f"equation number {n} over its formula at {NARROW['width']} px" for n in r["overlap"]]
    return problems


#: The explorables' plots (plotly, ``responsive``) redraw within their boxes after a resize; this
#: resolves when they have (or after 5 s: the layout check then says what is too wide), and the
#: next frame is drawn.
SETTLED = """async () => {
  const fit = () => Array.from(document.querySelectorAll('div.explorable .ex-plot')).every((box) => {
    const svg = box.querySelector('.main-svg');
    return !svg || svg.getBoundingClientRect().width <= box.getBoundingClientRect().width + 0.5;
  });
  for (let waited = 0; !fit() && waited < 5000; waited += 50) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
}"""


def narrow_layout(page) -> dict:
    """The loaded page's layout on a 400 px wide screen: the window narrowed to it, in place of
    loading the page again at that width (the theme lays pages out with CSS media queries, MathJax 3
    breaks no lines by width, and the plots redraw on a resize: ``SETTLED``). The solutions the
    1280 px inspection opened stay open, so they are checked at 400 px too."""
    page.set_viewport_size(NARROW)
    page.evaluate(SETTLED)
    return page.evaluate(LAYOUT)


# --- fixtures -----------------------------------------------------------------------------

@pytest.fixture(scope="session")
def site():
    return ensure_site()


@pytest.fixture(scope="session")
def browser():
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


@pytest.fixture(scope="session")
def server(site):
    s = Server(site)
    yield s
    s.close()


@pytest.fixture(scope="session")
def context(browser):
    # A fresh profile per run: launch() starts Chromium with a new temporary user-data-dir.
    ctx = browser.new_context(viewport=VIEWPORT, service_workers="block")
    yield ctx
    ctx.close()


def crawl_site(site, server, context, inspect) -> dict:
    """Every page of the built book (not the pages that only redirect: see test_redirects), each
    passed to ``inspect(page, record)`` once loaded. Several pages load and typeset at once in the
    one browser while each is inspected in turn (page loads and MathJax run in the browser's own
    processes, on every core)."""
    pages = [rel for rel in site_pages(site) if not REDIRECT.search((site / rel).read_text(encoding="utf-8"))]
    loading, records = [], {}

    def finish_oldest():
        page, record = loading.pop(0)
        records[record["page"]] = inspect(page, record)

    for rel in pages:
        loading.append(open_page(context, server, rel))
        if len(loading) > CRAWL_AHEAD:
            finish_oldest()
    while loading:
        finish_oldest()
    return records


@pytest.fixture(scope="session")
def crawl(site, server, context):
    """Every page of the built book, visited once: at 1280 px, then narrowed to 400 px."""
    return crawl_site(site, server, context, lambda page, record: inspect_page(
        page, record, server, screenshot=SCREENSHOT_PAGES.get(record["page"]), narrow=True))


def report(problems_by_page):
    return "\n".join(f"{page}: {p}" for page, problems in problems_by_page.items() for p in problems)


# --- the tests ----------------------------------------------------------------------------

def test_redirects(site, crawl):
    """index.html sends the reader to the landing page, which the crawl visited."""
    redirects = {rel: REDIRECT_TARGET.search((site / rel).read_text(encoding="utf-8"))
                 for rel in site_pages(site) if rel not in crawl}
    assert "index.html" in redirects
    for rel, target in redirects.items():
        assert target and (Path(rel).parent / target.group(1)).as_posix() in crawl, f"{rel} redirects nowhere"


def test_every_page_found(site, crawl):
    pages = set(crawl)
    toc = re.findall(r"^\s*(?:-\s*)?(?:file|root):\s*(\S+)", (ROOT / "_toc.yml").read_text(encoding="utf-8"), re.M)
    for name in toc:
        assert f"{name}.html" in pages, f"{name} from _toc.yml was not built"
    assert {"search.html", "genindex.html"} <= pages
    assert (SHOTS / "landing-top.png").is_file() and (SHOTS / "03_outer_loop-top.png").is_file()
    if FULL_SCREENSHOTS:
        assert (SHOTS / "landing.png").is_file() and (SHOTS / "03_outer_loop.png").is_file()


@pytest.mark.parametrize("check", CHECKS)
def test_every_page(check, crawl):
    problems = {page: CHECKS[check](r) for page, r in crawl.items()}
    problems = {page: p for page, p in problems.items() if p}
    assert not problems, f"{check} problems:\n" + report(problems)


def test_every_page_reads_on_a_narrow_screen(crawl):
    problems = {page: layout_problems(r["narrow"]) for page, r in crawl.items()}
    assert not any(problems.values()), report(problems)


def test_internal_links_resolve(crawl, server, site):
    problems = {page: link_problems(r, server, site) for page, r in crawl.items()}
    problems = {page: p for page, p in problems.items() if p}
    assert not problems, "broken internal links:\n" + report(problems)


def test_math_is_typeset_where_the_book_has_math(crawl):
    """Guard against a vacuous pass: the chapters do contain math, and MathJax typeset all of it."""
    chapters = {page: r for page, r in crawl.items() if page.startswith("chapters/")}
    assert sum(r["math"] for r in chapters.values()) > 100
    for page, r in crawl.items():
        assert r["math_typeset"] >= r["math"], f"{page}: {r['math']} formulas, {r['math_typeset']} typeset"


def test_exercises_found(crawl):
    """Guard against a vacuous pass: the exercise checks saw exercises, and opened their solutions."""
    exercises = sum(len(r["exercises"]) for r in crawl.values())
    revealed = sum(len(r["revealed"]) for r in crawl.values())
    assert exercises >= 3 and revealed >= exercises


def test_figures_found(crawl):
    figures = [img for r in crawl.values() for img in r["images"] if img["inArticle"]]
    assert len(figures) >= 3, "expected the chapters' figures on the pages"


def test_book_identity_no_template_leftovers(crawl):
    year = str(CONFIG["copyright"])
    leftovers = re.compile(r"Jupyter Book community|Jupyter Book Community|My sample book|Executable Books Project",
                           re.I)
    for page, r in crawl.items():
        language, _ = edition_of(page)
        assert r["title"].endswith(edition_title(language)), f"{page}: <title> {r['title']!r}"
        assert edition_byline(language) in r["footer"] and year in r["footer"], f"{page}: footer {r['footer']!r}"
        assert not leftovers.search(r["title"] + r["footer"]), f"{page}: template text {r['footer']!r}"
    for path in site_pages(SITE):
        text = (SITE / path).read_text(encoding="utf-8")
        assert not leftovers.search(text), f"{path}: template leftover text"


def test_every_page_switches_to_the_same_page_in_the_other_edition(crawl, server):
    """The language switch (booktools.edition): one link, visible, to this page in the other edition."""
    for page, r in crawl.items():
        language, rest = edition_of(page)
        assert r["lang"] == language, f"{page}: <html lang={r['lang']!r}>"
        others = [other for other in edition.EDITIONS if other != language]
        assert [link["hreflang"] for link in r["switch"]] == others, f"{page}: switch {r['switch']}"
        for link in r["switch"]:
            assert link["visible"], f"{page}: the switch is not in view"
            assert link["text"] == edition.EDITIONS[link["hreflang"]], link
            target = edition.edition_prefix(link["hreflang"]) + rest
            assert link["href"] == server.url + target, f"{page}: switch to {link['href']}, not {target}"
            assert target in crawl, f"{page}: the switch points at {target}, which is not a page of the site"


def test_korean_pages_label_everything_in_korean(crawl):
    """The labels a screen reader reads and the tooltips, as the browser has them once every script
    has run (sphinx-togglebutton labels its buttons then; booktools.edition translates them)."""
    from test_i18n import ALLOWED

    korean = {page: r for page, r in crawl.items() if edition_of(page)[0] == "ko"}
    assert korean, "no Korean page was crawled"
    problems = {page: [label for label in r["labels"] if re.search(r"[A-Za-z]{3,}", ALLOWED.sub("", label))]
                for page, r in korean.items()}
    assert not any(problems.values()), report({p: v for p, v in problems.items() if v})
    interface = i18n.translations()
    shown = {label for r in korean.values() for label in r["labels"]}
    for _, english, _ in edition.script_labels():
        assert interface[english] in shown, f"the translation of {english!r} is on no Korean page"


def test_the_switch_is_clicked_both_ways(context, server):
    """A click on the switch goes to the same page in the other edition and back. On the lightest
    page, and without waiting for its images and scripts (the click needs only the document; on a
    chapter with explorables its three full loads took 30 s under make test): every page's switch
    target is checked in the crawl (test_every_page_switches_to_the_same_page_in_the_other_edition)."""
    page = context.new_page()
    blocked = []
    block_other_hosts(page, server, blocked)
    page.goto(server.url + "references.html", wait_until="domcontentloaded")
    page.click(".book-language-switch a[hreflang=ko]")
    page.wait_for_url(server.url + "ko/references.html", wait_until="domcontentloaded")
    assert page.evaluate("document.documentElement.lang") == "ko"
    page.click(".book-language-switch a[hreflang=en]")
    page.wait_for_url(server.url + "references.html", wait_until="domcontentloaded")
    assert page.evaluate("document.documentElement.lang") == "en"
    page.close()
    assert not blocked, blocked


def test_landing_page_has_run_it_yourself(crawl):
    assert any("Run it yourself" in h for h in crawl["intro.html"]["headings"])


def test_chapters_download_as_ipynb(crawl, server, context):
    chapters = [page for page in crawl if (SITE / "_sources" / page).with_suffix(".ipynb").is_file()]
    assert len(chapters) >= 4
    for page in chapters:
        ipynb = [u for u in crawl[page]["downloads"] if u.endswith(".ipynb")]
        assert ipynb, f"{page}: no .ipynb in the download menu"
        response = context.request.get(ipynb[0])
        assert response.ok, f"{page}: {ipynb[0]} -> {response.status}"
        nb = json.loads(response.body())
        assert nb["nbformat"] == 4 and any(c["cell_type"] == "code" for c in nb["cells"])


def test_every_chapter_page_says_how_to_run_it(crawl, server):
    chapters = [page for page in crawl if edition_of(page)[1].startswith("chapters/")]
    editions = 1 + len(i18n.LANGUAGES)
    assert len(chapters) == editions * len(list((ROOT / "chapters").glob("*.ipynb")))
    for page, r in crawl.items():
        if page not in chapters:
            assert not r["run_box"], f"{page}: a run box outside the chapters"
            continue
        language, chapter = edition_of(page)
        prefix = edition.edition_prefix(language)
        assert len(r["run_box"]) == 1, f"{page}: {len(r['run_box'])} boxes 'Run this chapter yourself'"
        box = r["run_box"][0]
        assert box.startswith(RUN_BOX_TITLE[language]), box
        assert f"jupyter lab {chapter.removesuffix('.html')}.ipynb" in box, box
        assert "python -m pip install -r requirements.txt" in box, box
        # one bundle for both editions, in the site's downloads/
        assert f"{server.url}downloads/metaopt-notebooks.zip" in r["run_links"], r["run_links"]
        assert f"{server.url}{prefix}intro.html#run-it-yourself" in r["run_links"], r["run_links"]


def test_one_search_box_in_view(crawl):
    """The theme's sidebar repeated the header's search box, partly under the header: one is kept."""
    for page, r in crawl.items():
        fields = r["search_fields"]
        assert len(fields) == 1, f"{page}: {len(fields)} search boxes in view: {fields}"
        assert fields[0]["top"] >= 0 and not fields[0]["covered"], f"{page}: the search box is hidden: {fields}"


def test_the_notebooks_bundle_downloads_from_the_site(server, context, tmp_path):
    page = context.new_page()
    blocked = []
    block_other_hosts(page, server, blocked)
    page.goto(server.url + "intro.html")
    with page.expect_download() as info:
        page.click("#run-it-yourself a.book-download[href$='metaopt-notebooks.zip']")
    saved = tmp_path / "bundle.zip"
    info.value.save_as(saved)
    page.close()
    assert not blocked
    with zipfile.ZipFile(saved) as archive:
        names = set(archive.namelist())
        for path in sorted((ROOT / "chapters").glob("*.ipynb")):
            assert archive.read(f"metaopt-notebooks/chapters/{path.name}") == path.read_bytes(), path.name
        for path in sorted((ROOT / "train").glob("*_params.npz")):
            assert archive.read(f"metaopt-notebooks/train/{path.name}") == path.read_bytes(), path.name
    wheels = [n for n in names if n.endswith(".whl")]
    assert len(wheels) == 1 and wheels[0].startswith("metaopt-notebooks/metaopt-"), wheels
    for name in ("README.md", "requirements.txt", "constraints.txt"):
        assert f"metaopt-notebooks/{name}" in names


def test_launch_buttons_only_with_a_real_repository(crawl):
    launch = CONFIG.get("launch_buttons", {}) or {}
    repo = (CONFIG.get("repository", {}) or {}).get("url", "")
    configured = repo and (launch.get("binderhub_url") or launch.get("colab_url"))
    for page, r in crawl.items():
        if configured:
            continue
        assert not r["launch"], f"{page}: launch buttons without a configured repository: {r['launch']}"


# --- search -------------------------------------------------------------------------------

# Sphinx adds the hits one by one (a timer per hit) and writes its summary after the last one.
SEARCH_DONE = """() => {
  const summary = document.querySelector('#search-results .search-summary');
  return !!summary && /did not match|Search finished|검색이 완료|일치하는 문서가 없습니다/i.test(summary.textContent);
}"""


# What the search page does with the address's ?q= (Sphinx's searchtools.js, Search.init), for
# another term in the same page: its index is parsed once, not again for every term.
SEARCH_AGAIN = """(term) => {
  document.getElementById('search-results').replaceChildren();
  Search.performSearch(term);
}"""


def search_many(context, server, terms, edition="") -> dict[str, list[str]]:
    """The pages found for each term: the first searched as a reader's search box sends it
    (``search.html?q=``), each next one in the same page through the function that address calls
    (``SEARCH_AGAIN``), every hit's summary fetched and shown as for the first."""
    record = {"console": [], "blocked": []}
    page = context.new_page()
    page.on("console", lambda msg: msg.type == "error" and record["console"].append(msg.text))
    block_other_hosts(page, server, record["blocked"])
    found = {}
    for k, term in enumerate(terms):
        if k == 0:
            page.goto(server.url + edition + "search.html?q=" + term, wait_until="load")
        else:
            page.evaluate(SEARCH_AGAIN, term)
        page.wait_for_function(SEARCH_DONE, timeout=15000)
        hits = page.eval_on_selector_all("#search-results ul.search li a", "els => els.map(a => a.href)")
        found[term] = [urlsplit(h).path.lstrip("/") for h in hits]
    page.close()
    assert not record["console"] and not record["blocked"], record
    return found


def search(context, server, term, edition=""):
    return search_many(context, server, [term], edition)[term]


def glossary_terms():
    """(English, Korean) names of the first glossary entry, as test_book_pages reads the glossary."""
    entry = glossary_entries()[0]
    english = next(n for n in entry if not re.search(r"[\uac00-\ud7a3]", n))
    korean = next(n for n in entry if re.search(r"[\uac00-\ud7a3]", n))
    return english, korean


def test_search_finds_an_english_glossary_term(context, server):
    english = glossary_terms()[0]  # "optimizee"
    hits = search(context, server, english)
    assert "glossary.html" in hits, f"searching {english!r} found {hits}"


def test_search_finds_a_korean_glossary_term(context, server):
    korean = glossary_terms()[1]  # "피최적화 모델"
    hits = search(context, server, korean)
    assert "glossary.html" in hits, f"searching {korean!r} found {hits}"


HANGUL = re.compile(r"[\uac00-\ud7a3]+")


def korean_glossary_terms():
    return [name for entry in glossary_entries() for name in entry if HANGUL.search(name)]


def test_korean_search_finds_every_korean_glossary_term(context, server):
    """In the Korean edition (its own search language, booktools.edition.SearchKorean)."""
    terms = korean_glossary_terms()
    found = search_many(context, server, terms, edition="ko/")
    assert list(found) == terms
    missed = {term: hits for term, hits in found.items() if "ko/glossary.html" not in hits}
    assert not missed, f"not found on the Korean glossary page: {missed}"


def article_text(path: Path) -> str:
    html = path.read_text(encoding="utf-8")
    body = html.split('<article class="bd-article"', 1)[-1].split("</article>", 1)[0]
    return re.sub(r"<[^>]+>", " ", re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", body, flags=re.S))


#: Stems of words the Korean pages use with particles and in compounds (학습률, 메타학습을, 손실을).
KOREAN_STEMS = ("학습", "손실", "그래디언트", "역전파")


@pytest.mark.parametrize("stem", KOREAN_STEMS)
def test_korean_search_finds_a_stem_inside_longer_words(context, server, site, stem):
    """Every Korean page whose text uses the stem inside a longer word is found by the stem alone."""
    pages = {rel for rel in site_pages(site) if rel.startswith("ko/") and rel not in ("ko/search.html", "ko/genindex.html")
             and not REDIRECT.search((site / rel).read_text(encoding="utf-8"))}
    inside = {rel for rel in pages
              if any(stem in word and word != stem for word in HANGUL.findall(article_text(site / rel)))}
    assert inside, f"no Korean page uses {stem!r} inside a longer word: the test would prove nothing"
    hits = set(search(context, server, stem, edition="ko/"))
    assert inside <= hits, f"searching {stem!r} missed {sorted(inside - hits)}"
    assert hits <= pages, f"searching {stem!r} found pages outside the Korean edition: {sorted(hits - pages)}"


def test_korean_search_does_not_find_what_is_not_there(context, server):
    assert search(context, server, "없는낱말입니다", edition="ko/") == []


# --- the checks fail on a broken page -----------------------------------------------------

def tamper(site: Path, tmp: Path, page: str, replace) -> str:
    """A copy of the site (MathJax linked, not copied) where ``page`` is changed by ``replace``."""
    copy = tmp / "site"
    if not copy.exists():
        shutil.copytree(site, copy, ignore=lambda d, names: ["mathjax"] if Path(d) == site else [])
        (copy / "mathjax").symlink_to(site / "mathjax", target_is_directory=True)
    source = (site / page).read_text(encoding="utf-8")
    changed = replace(source)
    assert changed != source, "the tampering did not change the page"
    name = f"{Path(page).stem}-broken-{len(list(copy.rglob('*-broken-*.html')))}.html"
    (copy / page).with_name(name).write_text(changed, encoding="utf-8")
    return (Path(page).parent / name).as_posix()


def visit_copy(context, tmp: Path, page: str) -> dict:
    """Visit ``page`` of the tampered copy made by :func:`tamper`, served on its own."""
    with Server(tmp / "site") as server:
        return visit(context, server, page)


def page_with(crawl, what):
    for page, r in crawl.items():
        if r[what] and (what != "images" or any(i["inArticle"] for i in r["images"])):
            return page
    pytest.fail(f"no page with {what} to tamper with")


def test_checks_fail_when_math_comes_from_a_cdn(crawl, site, context, tmp_path):
    page = page_with(crawl, "exercises")
    cdn = "https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js"
    broken = tamper(site, tmp_path, page, lambda t: re.sub(r'src="[^"]*mathjax/tex-chtml\.js[^"]*"', f'src="{cdn}"', t))
    r = visit_copy(context, tmp_path, broken)
    assert cdn in r["blocked"], r["blocked"]
    assert offline_problems(r)
    assert math_problems(r), "math from a blocked CDN should leave raw TeX"


def test_checks_fail_when_a_solution_is_lost(crawl, site, context, tmp_path):
    page = page_with(crawl, "exercises")
    broken = tamper(site, tmp_path, page, lambda t: t.replace('class="solution ', 'class="note ', 1))
    r = visit_copy(context, tmp_path, broken)
    assert any("has no solution" in p for p in exercise_problems(r)), exercise_problems(r)


def test_checks_fail_when_an_image_breaks(crawl, site, context, tmp_path):
    page = page_with(crawl, "images")
    broken = tamper(site, tmp_path, page,
                    lambda t: re.sub(r'(<img[^>]*src=")[^"]*_images/[^"]+"', r'\1../_images/missing.png"', t, count=1))
    r = visit_copy(context, tmp_path, broken)
    assert any("does not load" in p for p in image_problems(r)), image_problems(r)


def test_checks_fail_when_an_image_is_not_sharp(crawl, site, context, tmp_path):
    page = page_with(crawl, "images")
    # A figure stored at 1x, as before the retina figures: the first figure of the page at half its pixels.
    from PIL import Image

    src = next(i["src"] for i in crawl[page]["images"] if i["inArticle"] and i["width"] > 0 and i["src"].endswith(".png"))
    broken = tamper(site, tmp_path, page, lambda t: t.replace(f'src="{src}"', f'src="{src[:-4]}-1x.png"', 1))
    original = (site / page).parent / src
    with Image.open(original) as image:
        image.resize((image.width // 2, image.height // 2)).save(
            (tmp_path / "site" / page).parent / src.replace(".png", "-1x.png"))
    r = visit_copy(context, tmp_path, broken)
    assert any("blurry on a 2x screen" in p for p in image_problems(r)), image_problems(r)


def test_checks_fail_when_code_does_not_fit(crawl, site, context, tmp_path):
    page = "chapters/02_inner_loop.html"
    long_line = "x = " + " + ".join(["theta"] * 30)
    broken = tamper(site, tmp_path, page, lambda t: t.replace("<pre>", f"<pre>{long_line}\n", 1))
    r = visit_copy(context, tmp_path, broken)
    assert any(long_line[:40] in p for p in code_problems(r)), code_problems(r)


def test_checks_fail_on_a_page_too_wide_for_a_narrow_screen(site, server, context, tmp_path):
    page = "chapters/03_outer_loop.html"
    # Formulas that no longer scroll (MathJax's container clips instead) and a wide unbreakable line.
    wide = '<p style="white-space: nowrap">' + "wide " * 40 + "</p>"
    broken = tamper(site, tmp_path, page, lambda t: t.replace("</head>", "<style>div.math mjx-container "
                                                               "{overflow: hidden !important}</style></head>", 1)
                    .replace('<section id="', wide + '<section id="', 1))
    with Server(tmp_path / "site") as copy:
        opened, record = open_page(context, copy, broken)
        problems = layout_problems(inspect_page(opened, record, copy, narrow=True)["narrow"])
    assert any("wider than" in p for p in problems), problems
    assert any("cut off" in p for p in problems), problems


def test_checks_fail_when_the_theme_script_is_declared_twice(crawl, site, context, tmp_path):
    """The duplicate THEBE_JS_URL declaration that booktools.sphinx_ext removes is a console error."""
    page = "intro.html"
    script = re.compile(r"<script>const THEBE_JS_URL = [^<]*</script>")
    broken = tamper(site, tmp_path, page, lambda t: script.sub(lambda m: m.group(0) * 2, t, count=1))
    r = visit_copy(context, tmp_path, broken)
    assert any("THEBE_JS_URL" in p for p in console_problems(r)), console_problems(r)


def test_link_check_finds_missing_files_and_anchors(server, site):
    r = {"links": [server.url + "no-such-page.html", server.url + "intro.html#no-such-anchor",
                   server.url + "intro.html#run-it-yourself", "https://example.org/elsewhere"]}
    problems = link_problems(r, server, site)
    assert sorted(problems) == [f"link to a missing anchor: {server.url}intro.html#no-such-anchor",
                                f"link to a missing file: {server.url}no-such-page.html"], problems
