"""``make pdf``: the whole book printed to one PDF by headless Chromium, in a temporary folder.

A file of its own, so that pytest-xdist runs it beside the browser crawl of
``tests/test_browser.py`` rather than after it. The single-page build starts from a copy
of the doctrees and glue caches that ``make test``'s strict HTML build has just written (Sphinx then
reads no page again: every page was read, with warnings as errors, by that build), so
it only writes the single page; without them it reads every page itself. Then
``booktools.pdf`` prints the page, refusing raw TeX, MathJax errors, broken images and
requests to other hosts, and the PDF's page count is checked.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from test_browser import require_browser

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "_build"


def print_and_check(single: Path, out: Path) -> None:
    """The single page holds every chapter and the appendix with every reference resolved; printed
    by ``python -m booktools.pdf`` (which refuses raw TeX, MathJax errors, broken images and requests
    to other hosts), it makes a PDF of at least three pages a chapter."""
    from booktools.pdf import pdf_pages

    text = (single / "intro.html").read_text(encoding="utf-8")
    chapters = sorted(p.stem for p in (ROOT / "chapters").glob("*.ipynb"))
    for name in [f"chapters/{c}" for c in chapters] + ["appendix/performance"]:
        assert f'id="document-{name}"' in text, f"{name} missing from the single page"
    assert "??" not in re.sub(r"<[^>]+>", "", text), "an unresolved reference on the single page"
    printed = subprocess.run([sys.executable, "-m", "booktools.pdf", str(single), str(out)],
                             capture_output=True, text=True, cwd=ROOT)
    assert printed.returncode == 0, printed.stdout + printed.stderr
    assert pdf_pages(out) >= 3 * len(chapters)


def test_make_pdf_prints_the_whole_book(tmp_path):
    """What `make pdf` does, into a temporary folder: single-page build, then print."""
    require_browser()
    if (BUILD / ".doctrees" / "environment.pickle").is_file():
        # the read pages, and what they glue (a page may quote another page's glued values)
        for folder in (".doctrees", "jupyter_execute"):
            shutil.copytree(BUILD / folder, tmp_path / "_build" / folder)
    jb = Path(sys.executable).parent / "jupyter-book"
    build = subprocess.run(
        [str(jb), "build", str(ROOT), "--builder", "singlehtml", "-W", "-n", "--keep-going",
         "--path-output", str(tmp_path)],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert build.returncode == 0, "singlehtml build failed:\n" + (build.stdout + build.stderr)[-3000:]
    single = tmp_path / "_build" / "singlehtml"
    print_and_check(single, tmp_path / "book.pdf")


def test_make_pdf_prints_the_korean_edition(tmp_path):
    """The Korean edition's PDF (``make pdf`` prints it after the English one), into a temporary
    folder, from a copy of the strict build's Korean doctrees."""
    from booktools import i18n

    require_browser()
    doctrees = BUILD / "ko" / ".doctrees"
    if (doctrees / "environment.pickle").is_file():
        shutil.copytree(doctrees, tmp_path / ".doctrees")
        shutil.copytree(BUILD / "ko" / "jupyter_execute", tmp_path / "jupyter_execute")
    single = i18n.build_single_page("ko", output=tmp_path / "singlehtml", doctrees=tmp_path / ".doctrees")
    assert '<html lang="ko"' in (single / "intro.html").read_text(encoding="utf-8")
    print_and_check(single, tmp_path / "book-ko.pdf")
