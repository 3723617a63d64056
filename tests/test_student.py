"""The student edition (booktools.student): every exercise, no solution, anywhere.

The student edition is built here, strictly, into a temporary folder, and compared with
the full edition of ``_build/html`` (built by ``make test`` first, or here). "No solution
text" is checked three ways, none of which uses the stripping code under test:

- **pages**: the text of every solution of the full edition's pages (``div.solution``,
  read with an HTML parser), cut into runs of eight words; no run that occurs only in
  solutions of the full edition occurs anywhere in the student edition's pages;
- **search index**: the word stems (Sphinx's own English stemmer) that occur in the full
  edition's search index and only inside its solutions are absent from the student index;
- **downloads**: no page source (``_sources/*.ipynb``) and no notebook of the student
  notebooks bundle contains a solution directive.

The exercises themselves are all still there, and no kept code cell uses a name that only a
removed solution defined (a static check: the student notebooks are not re-run).
"""

from __future__ import annotations

import ast
import builtins
import json
import re
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import pytest

from booktools import i18n, student
from booktools.student import strip_markdown, strip_notebook

ROOT = Path(__file__).resolve().parent.parent
FULL = ROOT / "_build" / "html"
RUN = 8  # words per run of solution text


# --- reading the built pages ---------------------------------------------------------------

class Texts(HTMLParser):
    """The text of a page's article, split into the parts inside a ``div.solution`` and the rest."""

    SKIP = {"script", "style"}

    def __init__(self):
        super().__init__()
        self.inside, self.outside = [], []
        self.stack = []  # (tag, is_solution, is_skip)
        self.solutions = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("br", "img", "meta", "link", "input", "hr", "source", "wbr"):
            return
        classes = (dict(attrs).get("class") or "").split()
        solution = tag == "div" and "solution" in classes
        self.solutions += solution
        self.stack.append((tag, solution, tag in self.SKIP))

    def handle_endtag(self, tag):
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data):
        if any(skip for _, _, skip in self.stack):
            return
        (self.inside if any(sol for _, sol, _ in self.stack) else self.outside).append(data)


def page_texts(site: Path) -> dict[str, Texts]:
    texts = {}
    for path in sorted(site.rglob("*.html")):
        rel = path.relative_to(site).as_posix()
        if rel.split("/")[0] in ("_static", "_sources", "mathjax", "genindex.html", "search.html"):
            continue
        if rel.split("/")[0] in i18n.LANGUAGES:  # the student edition is the English edition's
            continue
        parser = Texts()
        parser.feed(path.read_text(encoding="utf-8"))
        texts[rel] = parser
    return texts


def words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def runs(text: str) -> set[tuple]:
    w = words(text)
    return {tuple(w[i:i + RUN]) for i in range(len(w) - RUN + 1)}


def index_stems(site: Path) -> set[str]:
    text = (site / "searchindex.js").read_text(encoding="utf-8")
    data = json.loads(text[text.index("(") + 1:text.rindex(")")])
    return set(data["terms"]) | set(data["titleterms"])


def stems(text: str) -> set[str]:
    from sphinx.search.en import SearchEnglish

    language = SearchEnglish({})
    return {language.stem(w) for w in language.split(text) if language.word_filter(w)}


# --- fixtures ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def full():
    from test_browser import ensure_site

    return ensure_site()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The student edition, built strictly (a warning fails) into a temporary folder."""
    return student.build(output=tmp_path_factory.mktemp("student"), strict=True)


# --- the checks ----------------------------------------------------------------------------

def test_every_exercise_is_there_and_no_solution(full, built):
    full_pages, student_pages = page_texts(full), page_texts(built)
    assert set(full_pages) == set(student_pages)
    assert sum(t.solutions for t in full_pages.values()) >= 30
    assert sum(t.solutions for t in student_pages.values()) == 0
    exercise = re.compile(r'<div class="exercise [^"]*" id="([^"]+)"')
    for page in full_pages:
        ids = exercise.findall((full / page).read_text(encoding="utf-8"))
        assert ids == exercise.findall((built / page).read_text(encoding="utf-8")), page


def test_no_solution_text_reaches_the_student_pages(full, built):
    full_pages, student_pages = page_texts(full), page_texts(built)
    outside = set().union(*(runs(" ".join(t.outside)) for t in full_pages.values()))
    only_in_solutions = set().union(*(runs(" ".join(t.inside)) for t in full_pages.values())) - outside
    assert len(only_in_solutions) > 1000, "the full edition's solutions were not found"
    for page, texts in student_pages.items():
        leaked = runs(" ".join(texts.outside + texts.inside)) & only_in_solutions
        assert not leaked, f"{page}: solution text in the student edition: {sorted(leaked)[:3]}"


def test_no_solution_word_reaches_the_student_search_index(full, built):
    full_pages = page_texts(full)
    outside = stems(" ".join(" ".join(t.outside) for t in full_pages.values()))
    inside = stems(" ".join(" ".join(t.inside) for t in full_pages.values()))
    # Words, not numbers: a number's digits are split differently by the page's markup and by the index.
    indexed = {s for s in inside - outside if s.isalpha()} & index_stems(full)
    assert len(indexed) >= 20, f"too few solution-only words in the full index to check: {sorted(indexed)}"
    leaked = indexed & index_stems(built)
    assert not leaked, f"solution words in the student search index: {sorted(leaked)}"


def test_no_solution_in_the_downloadable_sources(full, built):
    directive = re.compile(r"\{solution(-start|-end)?\}")
    sources = sorted((built / "_sources").rglob("*.ipynb"))
    assert len(sources) >= 11
    for path in sources:
        assert not directive.search(path.read_text(encoding="utf-8")), path.name
    with zipfile.ZipFile(built / "downloads" / "metaopt-notebooks.zip") as archive:
        notebooks = [n for n in archive.namelist() if n.endswith(".ipynb")]
        assert len(notebooks) == len(list((ROOT / "chapters").glob("*.ipynb")))
        for name in notebooks:
            assert not directive.search(archive.read(name).decode()), name
    with zipfile.ZipFile(full / "downloads" / "metaopt-notebooks.zip") as archive:
        assert any(directive.search(archive.read(n).decode()) for n in archive.namelist() if n.endswith(".ipynb"))


def test_the_student_notebooks_use_no_name_only_a_solution_defined():
    known = set(dir(builtins)) | {"display", "get_ipython", "__name__"}
    for path in sorted((ROOT / "chapters").glob("*.ipynb")):
        nb, _ = strip_notebook(json.loads(path.read_text(encoding="utf-8")))
        defined, used = set(known), {}
        for cell in nb["cells"]:
            if cell["cell_type"] != "code":
                continue
            tree = ast.parse("".join(cell["source"]))
            for node in ast.walk(tree):
                if isinstance(node, ast.Name):
                    (defined.add(node.id) if isinstance(node.ctx, ast.Store) else used.setdefault(node.id, cell))
                elif isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
                    defined.add(node.name)
                    defined.update(a.arg for a in ast.walk(node.args) if isinstance(a, ast.arg))
                elif isinstance(node, ast.Lambda):
                    defined.update(a.arg for a in ast.walk(node.args) if isinstance(a, ast.arg))
                elif isinstance(node, (ast.Import, ast.ImportFrom)):
                    defined.update((a.asname or a.name).split(".")[0] for a in node.names)
                elif isinstance(node, ast.ExceptHandler) and node.name:
                    defined.add(node.name)
        missing = sorted(set(used) - defined)
        assert not missing, f"{path.name}: the student notebook uses {missing}, defined only in solutions"


# --- the stripping, on cases written by hand -----------------------------------------------

EXERCISE = "```{exercise} Code: one\n:label: ex-one\n\nDo it.\n```\n"


def test_a_solution_block_is_removed_and_the_text_around_it_kept():
    text = EXERCISE + "\n````{solution} ex-one\n:class: dropdown\n\n```python\nx = 1\n```\nIt is 1.\n````\nAfter.\n"
    kept, removed = strip_markdown(text)
    assert removed == 1 and kept == EXERCISE + "\nAfter.\n"
    colons, removed = strip_markdown(":::{solution} ex-one\nSecret.\n:::\nAfter.\n")
    assert (colons, removed) == ("After.\n", 1)


def test_everything_between_start_and_end_is_removed_code_cells_included():
    def md(text):
        return {"cell_type": "markdown", "metadata": {}, "source": text}

    def code(text):
        return {"cell_type": "code", "metadata": {}, "source": text, "outputs": [], "execution_count": 1}

    nb = {"cells": [
        md("Before.\n\n```{solution-start} ex-one\n:class: dropdown\n```\nSecret words."),
        code("secret = 1"),
        md("More secret.\n\n```{solution-end}\n```\n\n" + EXERCISE),
        code("print('kept')"),
    ]}
    stripped, removed = strip_notebook(nb)
    assert removed == 1
    assert ["".join(c["source"]) for c in stripped["cells"]] == ["Before.", EXERCISE.strip("\n"), "print('kept')"]


@pytest.mark.parametrize("text, message", [
    ("```{solution-start} ex\n```\nnever ended\n", "not closed"),
    ("```{solution-end}\n```\n", "without its"),
    ("```{solution-start} a\n```\n```{solution} b\nx\n```\n```{solution-end}\n```\n", "inside another"),
    ("````{solution} a\nno closing fence\n```\n", "not closed"),
])
def test_malformed_solutions_are_refused(text, message):
    with pytest.raises(ValueError, match=message):
        strip_markdown(text)
