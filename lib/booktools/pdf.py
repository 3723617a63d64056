"""Print the whole book to one PDF: ``python -m booktools.pdf [SITE] [OUT]``.

This is what ``make pdf`` runs, after building the single-page HTML book
(``jupyter-book build . --builder singlehtml`` into ``_build/singlehtml``).
The page is served on 127.0.0.1 and opened in headless Chromium with every
other host blocked; once MathJax has typeset every formula, the solutions are
opened (as the browser's own print would do) and the page is printed to A4
with page numbers. It refuses to print a page with raw TeX, a MathJax error,
a broken image or a request to another host, and checks the PDF it wrote.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from booktools.browser import (
    HOW_TO_ENABLE, MATH_ERRORS, RAW_TEX, WAIT_FOR_MATH, Server, block_other_hosts, browser_problem, launch,
)

BROKEN_IMAGES = "() => Array.from(document.images).filter((i) => !(i.complete && i.naturalWidth > 0)).map((i) => i.src)"
# Print layout: each chapter on a new page, no heading alone at a page's foot, long code
# lines wrapped instead of cut off, figures, tables and boxes kept whole where they fit.
PRINT_CSS = """@media print {
  .bd-container, .bd-container__inner, .bd-main, .bd-content, .bd-article-container, .bd-article {
    display: block !important; }  /* forced page breaks do not work inside flex boxes */
  .cell_input, div.highlight { break-inside: avoid; }
  pre { white-space: pre-wrap !important; overflow-wrap: anywhere; }
  h1, h2, h3, .admonition-title, .caption { break-after: avoid; }
  figure, table, .admonition, .cell_output, mjx-container[display="true"] { break-inside: avoid; }
}"""
# Sphinx's single page marks where each document starts with <span id="document-NAME">.
NEW_PAGE_PER_CHAPTER = """() => document.querySelectorAll('span[id^="document-"]').forEach((span) => {
  const start = span.nextElementSibling;
  if (start) start.style.breakBefore = 'page';
})"""
#: How long the single page may take to load (milliseconds).
LOAD_TIMEOUT_MS = 300_000
FOOTER = ('<div style="font-size:8px; width:100%; text-align:center; color:#555;">'
          '<span class="pageNumber"></span> / <span class="totalPages"></span></div>')


def find_page(site: Path) -> Path:
    """The single page of a singlehtml build (the root document; index.html only redirects)."""
    pages = [p for p in site.glob("*.html") if p.name not in ("index.html", "genindex.html", "search.html")]
    if len(pages) != 1:
        raise SystemExit(f"expected one book page in {site}, found {[p.name for p in pages]}; "
                         "build it with: jupyter-book build . --builder singlehtml")
    return pages[0]


def pdf_pages(path: Path) -> int:
    """Number of pages of a PDF written by Chromium (its page objects)."""
    return len(re.findall(rb"/Type\s*/Page(?![s\w])", path.read_bytes()))


def print_book(site: Path, out: Path) -> int:
    problem = browser_problem()
    if problem:
        raise SystemExit(f"make pdf needs a browser: {problem}; {HOW_TO_ENABLE}")
    from playwright.sync_api import sync_playwright

    page_file = find_page(site)
    out.parent.mkdir(parents=True, exist_ok=True)
    errors, blocked = [], []
    with Server(site) as server, sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("pageerror", lambda err: errors.append(str(err)))
        block_other_hosts(page, server, blocked)
        # The whole book on one page, every figure with it: on 2 busy cores its load took more than
        # Playwright's default 30 s (make test, beside the browser crawl).
        page.goto(server.url + page_file.name, wait_until="load", timeout=LOAD_TIMEOUT_MS)
        page.evaluate(WAIT_FOR_MATH)
        raw, math_errors, broken = page.evaluate(RAW_TEX), page.evaluate(MATH_ERRORS), page.evaluate(BROKEN_IMAGES)
        problems = ([f"request to another host: {u}" for u in blocked] + [f"script error: {e}" for e in errors]
                    + [f"raw TeX: ...{s}..." for s in raw] + [f"MathJax error: {e}" for e in math_errors]
                    + [f"broken image: {u}" for u in broken])
        if problems:
            browser.close()
            raise SystemExit("not printing, the page is not right:\n  " + "\n  ".join(problems))
        page.evaluate("() => window.dispatchEvent(new Event('beforeprint'))")  # opens the solutions
        page.add_style_tag(content=PRINT_CSS)
        page.evaluate(NEW_PAGE_PER_CHAPTER)
        page.emulate_media(media="print")
        page.pdf(path=str(out), format="A4", print_background=True, display_header_footer=True,
                 header_template="<div></div>", footer_template=FOOTER,
                 margin={"top": "16mm", "bottom": "16mm", "left": "14mm", "right": "14mm"})
        browser.close()
    n = pdf_pages(out)
    size = out.stat().st_size
    if not out.read_bytes().startswith(b"%PDF") or n < 5 or size < 50_000:
        raise SystemExit(f"{out}: does not look like the book ({n} pages, {size} bytes)")
    print(f"wrote {out}: {n} pages, {size // 1024} KiB")
    return 0


def main(argv: list[str]) -> int:
    site = Path(argv[0]) if argv else Path("_build/singlehtml")
    out = Path(argv[1]) if len(argv) > 1 else Path("_build/pdf/book.pdf")
    return print_book(site, out)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
