"""The book's reference pages: the glossary and the bibliography are complete and used."""

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TERM_ROLE = re.compile(r"\{term\}`(?:[^`<]*<)?([^`<>]+?)>?`")

# The document's Korean terms that the glossary must explain (issue: a course needs them).
KOREAN = ["내부 루프", "외부 루프", "메타 손실", "메타 그래디언트", "은닉 상태", "학습률", "역전파",
          "피최적화 모델", "최적화 모델", "메타 학습률", "연쇄 법칙", "경사 하강법"]


def glossary_entries():
    """Each entry of the glossary directive as the list of its term lines."""
    text = (ROOT / "glossary.md").read_text(encoding="utf-8")
    block = text.split("```{glossary}", 1)[1].split("\n```", 1)[0]
    entries, current = [], []
    for line in block.splitlines():
        if line.strip() and not line.startswith(" "):
            current.append(line.strip())
        elif line.startswith("  ") and current:
            entries.append(current)
            current = []
    return [e for i, e in enumerate(entries) if i == 0 or e != entries[i - 1]]


def book_sources():
    """The text of every page a reader sees: Markdown pages and the notebooks' Markdown cells."""
    for path in sorted(ROOT.glob("*.md")) + sorted(ROOT.glob("chapters/*.ipynb")) + sorted(ROOT.glob("appendix/*.ipynb")):
        if path.name in {"README.md", "CONTRIBUTING.md"}:
            continue
        if path.suffix == ".ipynb":
            cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
            yield path.name, "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
        else:
            yield path.name, path.read_text(encoding="utf-8")


def test_glossary_has_the_documents_terms_with_english_names():
    entries = glossary_entries()
    assert len(entries) >= 15
    names = {name for entry in entries for name in entry}
    for term in KOREAN:
        assert term in names, f"glossary lacks the document's term {term}"
    for entry in entries:
        assert any(re.search(r"[\uac00-\ud7a3]", n) for n in entry), f"{entry}: no Korean term"
        assert any(re.fullmatch(r"[A-Za-z][A-Za-z -]*", n) for n in entry), f"{entry}: no English term"


def test_every_glossary_term_is_linked_from_the_text():
    linked = {name for _, text in book_sources() for name in TERM_ROLE.findall(text)}
    for entry in glossary_entries():
        assert linked & set(entry), f"glossary entry {entry[0]!r} is never linked with {{term}}"


def test_term_role_pattern_bites():
    assert TERM_ROLE.findall("a {term}`meta-loss` and {term}`unrolled <unroll>` x") == ["meta-loss", "unroll"]


def test_every_reference_is_cited():
    keys = re.findall(r"^@\w+\{([^,]+),", (ROOT / "references.bib").read_text(encoding="utf-8"), flags=re.M)
    cited = set()
    for _, text in book_sources():
        for group in re.findall(r"\{cite(?::\w+)?\}`([^`]+)`", text):
            cited.update(key.strip() for key in group.split(","))
    assert len(keys) == len(set(keys)), "duplicate keys in references.bib"
    assert cited <= set(keys), f"cited but not in references.bib: {cited - set(keys)}"
    assert set(keys) <= cited, f"in references.bib but never cited: {set(keys) - cited}"


def test_glued_numbers_read_like_math():
    """In the built book (the strict build runs before pytest) no glued number is myst-nb's bold
    ASCII ``pasted-text``: booktools.sphinx_ext turns it into ``glued-number`` with a real minus."""
    import pytest

    pages = sorted((ROOT / "_build" / "html" / "chapters").glob("*.html"))
    if not pages:
        pytest.skip("the book is not built (make test builds it first)")
    glued = []
    for page in pages:
        html = page.read_text(encoding="utf-8")
        assert 'class="pasted-text"' not in html, page.name
        glued += re.findall(r'<span class="glued-number">([^<]*)</span>', html)
    assert len(glued) > 50
    assert not [g for g in glued if re.search(r"(?<![\w.])-(?=\.?\d)", g)], "an ASCII minus in a glued number"
    assert any("\u2212" in g for g in glued)
