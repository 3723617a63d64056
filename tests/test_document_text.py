"""The book quotes the Korean document exactly.

``seed/worked-example.ko.md`` is the repository's copy of the document. It has four
``### `` sections, and each Part I chapter mirrors one of them: chapters 1-4 each carry
the whole section, verbatim, in a dropdown "원문 (the document)" beside the book's
translation. Inside that box the document's ``###``/``####`` heading lines are written
as bold lines (a Markdown heading there would break the chapter's heading structure),
and its ``---`` separator lines may be left out; everything else is the document's text.
"""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "seed" / "worked-example.ko.md"
# Where the original may be on the machines the book is written on; CI may have neither.
ORIGINALS = [Path("/work/shared/seed/worked-example.ko.md"),
             ROOT.parent / "shared" / "seed" / "worked-example.ko.md"]

# The document's four sections, in order, and the chapter that mirrors each.
CHAPTERS = {
    "설정: 모델 정의": "01_setup",
    "1단계: 내부 루프 (Inner Loop) - Optimizee 최적화 과정": "02_inner_loop",
    "2단계: 외부 루프 (Outer Loop) - Optimizer 학습 과정": "03_outer_loop",
    "요약 및 결론": "04_summary",
}


def sections(text):
    """The document's ``### `` sections as {title: text}, each text from its heading line on."""
    found, title = {}, None
    for line in text.splitlines():
        if line.startswith("### "):
            title = line[4:].strip()
            found[title] = []
        if title is not None:
            found[title].append(line)
    return {name: "\n".join(lines) for name, lines in found.items()}


def normalize(text):
    """Text as compared: ``---`` lines dropped, heading markers and ``**`` removed, whitespace collapsed."""
    lines = [line for line in text.splitlines() if line.strip() != "---"]
    lines = [re.sub(r"^\s*#+\s+", "", line) for line in lines]
    return " ".join(" ".join(lines).replace("**", "").split())


def quotes(section, page):
    """Whether ``page`` contains ``section`` verbatim, up to the differences :func:`normalize` removes."""
    return normalize(section) in normalize(page)


def first_missing_line(section, page):
    """The first line of ``section`` that ``page`` lacks, for a readable failure message."""
    page = normalize(page)
    for line in section.splitlines():
        if normalize(line) and normalize(line) not in page:
            return line
    return None


def chapter_markdown(stem):
    path = ROOT / "chapters" / f"{stem}.ipynb"
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")


def boxed(section):
    """``section`` as the chapters write it: headings as bold lines, no ``---`` lines."""
    out = []
    for line in section.splitlines():
        if line.strip() == "---":
            continue
        heading = re.match(r"^#{3,4} (.*)$", line)
        if heading:
            title = heading[1].strip()
            line = title if title.startswith("**") and title.endswith("**") else f"**{title}**"
        out.append(line)
    return "\n".join(out)


def seed_text():
    return SEED.read_text(encoding="utf-8")


def test_seed_has_the_four_sections_in_order():
    assert list(sections(seed_text())) == list(CHAPTERS)


@pytest.mark.parametrize("title", list(CHAPTERS), ids=list(CHAPTERS.values()))
def test_chapter_quotes_its_section_verbatim(title):
    section = sections(seed_text())[title]
    page = chapter_markdown(CHAPTERS[title])
    assert quotes(section, page), (
        f"chapters/{CHAPTERS[title]}.ipynb does not quote the document's section {title!r} verbatim; "
        f"first line not found (or not in order): {first_missing_line(section, page)!r}"
    )


@pytest.mark.parametrize("title", list(CHAPTERS), ids=list(CHAPTERS.values()))
def test_the_documents_headings_are_not_markdown_headings_in_the_chapter(title):
    """The box writes the document's heading lines in bold: as Markdown headings they would
    enter the chapter's table of contents and break its heading levels."""
    headings = {line.strip() for line in sections(seed_text())[title].splitlines() if line.startswith("#")}
    page_lines = {line.strip() for line in chapter_markdown(CHAPTERS[title]).splitlines()}
    assert not headings & page_lines, f"{CHAPTERS[title]}: the document's headings as Markdown headings"


def test_repository_copy_is_the_original():
    originals = [path for path in ORIGINALS if path.is_file()]
    if not originals:
        pytest.skip("the original document is not on this machine (looked in "
                    + ", ".join(str(p) for p in ORIGINALS) + ")")
    for path in originals:
        assert SEED.read_bytes() == path.read_bytes(), f"seed/ differs from {path}"


def test_the_check_bites():
    """The check accepts the boxed form of each section and rejects a copy with one character changed."""
    for title, section in sections(seed_text()).items():
        page = "Some prose.\n\n" + boxed(section) + "\n\nMore prose."
        assert quotes(section, page), title
        assert "\n#" not in "\n" + boxed(section)  # no heading line is left in the box
        # one character changed, at the start, in the middle and at the end of the section
        body = boxed(section)
        for where in (len(body) // 10, len(body) // 2, len(body) - 2):
            while body[where].isspace() or body[where] == "*":
                where += 1
            changed = body[:where] + ("X" if body[where] != "X" else "Y") + body[where + 1:]
            assert not quotes(section, changed), f"{title}: a changed character at {where} went unnoticed"
        # a number of the document changed, and a line left out
        numbers = re.findall(r"\d+\.\d+", body)
        if numbers:
            assert not quotes(section, body.replace(numbers[-1], numbers[-1] + "1", 1)), title
        lines = [line for line in body.splitlines() if line.strip()]
        assert not quotes(section, body.replace(lines[len(lines) // 2], "", 1)), title
    assert quotes("### A\n\n**b** c", "A b\n  c")
    assert not quotes("### A\n\nb c", "A c b")
    assert first_missing_line("x\ny\nz", "x z") == "y"
