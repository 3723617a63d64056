"""The book's reference pages: the glossary and the bibliography are complete and used."""

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TERM_ROLE = re.compile(r"\{term\}`(?:[^`<]*<)?([^`<>]+?)>?`")

# The document's Korean terms that the glossary must explain (issue: a course needs them).
KOREAN = ["내부 루프", "외부 루프", "메타 손실", "메타 그래디언트", "은닉 상태", "학습률", "역전파",
          "피최적화 모델", "최적화 모델", "메타 학습률", "연쇄 법칙", "경사 하강법"]
# Terms the chapters link with {term}: the glossary must have them under exactly these headwords.
LINKED_HEADWORDS = ["spectral radius", "Hessian", "sharpness", "adjoint", "Adam", "dead-beat",
                    "first-order meta-gradient", "trajectory-summed meta-loss"]
# Each entry says whose its Korean term is: the document's own, or a translation the book chose.
DOCUMENTS_TERM = "(문서 용어 / the document's term)"
BOOKS_TERM = "(책의 번역어 / the book's translation)"
SEED = ROOT / "seed" / "worked-example.ko.md"
HANGUL = re.compile(r"[\uac00-\ud7a3]")


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


def glossary_definitions():
    """Each entry of the glossary directive as (its term lines, its definition text)."""
    text = (ROOT / "glossary.md").read_text(encoding="utf-8")
    block = text.split("```{glossary}", 1)[1].split("\n```", 1)[0]
    entries, terms, definition = [], [], []
    for line in block.splitlines() + [""]:
        if line.strip() and not line.startswith(" "):
            if definition:
                entries.append((terms, " ".join(definition)))
                terms, definition = [], []
            terms.append(line.strip())
        elif line.startswith("  ") and terms:
            definition.append(line.strip())
        elif not line.strip() and definition:
            entries.append((terms, " ".join(definition)))
            terms, definition = [], []
    return entries


def mark_errors(entries, seed):
    """What is wrong with the marks: each entry needs exactly one, at the start of its definition,
    and it must be true of the seed (a term marked as the document's occurs in it, a term
    marked as the book's does not)."""
    errors = []
    for terms, definition in entries:
        korean = [t for t in terms if HANGUL.search(t)]
        marks = [m for m in (DOCUMENTS_TERM, BOOKS_TERM) if m in definition]
        if len(marks) != 1 or not definition.startswith(marks[0]):
            errors.append(f"{terms[0]}: want exactly one mark, first in the definition; found {marks}")
            continue
        for term in korean:
            if marks[0] == DOCUMENTS_TERM and term not in seed:
                errors.append(f"{terms[0]}: {term!r} is marked as the document's but is not in the seed")
            if marks[0] == BOOKS_TERM and term in seed:
                errors.append(f"{terms[0]}: {term!r} is marked as the book's but the seed uses it")
    return errors


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
    """From the chapters and pages, not from the glossary itself (its entries point at each other)."""
    linked = {name for page, text in book_sources() if page != "glossary.md" for name in TERM_ROLE.findall(text)}
    for entry in glossary_entries():
        assert linked & set(entry), f"glossary entry {entry[0]!r} is never linked with {{term}}"


def test_glossary_parser_agrees_with_the_term_lines():
    assert [terms for terms, _ in glossary_definitions()] == glossary_entries()
    assert all(definition for _, definition in glossary_definitions())


def test_glossary_marks_whose_korean_term_it_is():
    entries = glossary_definitions()
    assert not mark_errors(entries, SEED.read_text(encoding="utf-8"))
    documents = {terms[0] for terms, definition in entries if definition.startswith(DOCUMENTS_TERM)}
    assert {"inner loop", "meta-loss", "chain rule"} <= documents
    # both kinds are explained where a reader sees them
    intro = (ROOT / "glossary.md").read_text(encoding="utf-8").split("```{glossary}", 1)[0]
    assert DOCUMENTS_TERM in intro and BOOKS_TERM in intro


def test_glossary_mark_check_bites():
    seed = "### 설정\n은닉 상태와 내부 루프"
    good = [(["hidden state", "은닉 상태"], DOCUMENTS_TERM + " memory"),
            (["momentum", "모멘텀"], BOOKS_TERM + " heavy ball")]
    assert mark_errors(good, seed) == []
    assert mark_errors([(["momentum", "모멘텀"], DOCUMENTS_TERM + " x")], seed)  # not in the seed
    assert mark_errors([(["inner loop", "내부 루프"], BOOKS_TERM + " x")], seed)  # the seed uses it
    assert mark_errors([(["inner loop", "내부 루프"], "no mark")], seed)
    assert mark_errors([(["inner loop", "내부 루프"], DOCUMENTS_TERM + BOOKS_TERM)], seed)


def test_glossary_has_the_headwords_the_chapters_link():
    entries = glossary_definitions()
    headwords = {terms[0] for terms, _ in entries}
    for word in LINKED_HEADWORDS:
        assert word in headwords, f"glossary lacks the entry {word!r}"
    books = {terms[0] for terms, definition in entries if definition.startswith(BOOKS_TERM)}
    assert set(LINKED_HEADWORDS) <= books, "the new entries' Korean terms are the book's translations"


def test_meta_loss_entry_defines_both_forms():
    [(_, meta_loss)] = [(t, d) for t, d in glossary_definitions() if t[0] == "meta-loss"]
    assert "L(\\theta_T)" in meta_loss, "the document's form, the final loss"
    assert "\\sum_{t=1}^{T} w_t" in meta_loss and "w_t = 1" in meta_loss, "the trajectory-summed form"
    assert "{term}`trajectory-summed meta-loss`" in meta_loss


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
