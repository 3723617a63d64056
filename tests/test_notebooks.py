"""Checks on the chapters as stored: what nbval compares and what readers see.

nbval itself (run by `make test` over chapters/) re-executes every chapter and
compares its outputs with the stored ones. These tests make sure that check
has something to compare, and that it actually fails when a stored number
is wrong.
"""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import metaopt

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))
APPENDIX = sorted((ROOT / "appendix").glob("*.ipynb"))
NOTEBOOKS = CHAPTERS + APPENDIX  # hygiene checks cover both; the chapter structure checks only chapters
UNSTABLE = re.compile(r"0x[0-9a-f]{6,}|/tmp/|/root/|/home/|/work/|np\.float64\(|ipykernel_\d+")


def load(path):
    return json.loads(path.read_text(encoding="utf-8"))


def code_cells(nb):
    return [c for c in nb["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]


def toc_files():
    text = (ROOT / "_toc.yml").read_text(encoding="utf-8")
    return re.findall(r"^\s*(?:-\s*)?(?:file|root):\s*(\S+)", text, flags=re.M)


def test_chapters_in_toc_in_order():
    files = toc_files()
    assert files[0] == "intro"
    chapters = [f for f in files if f.startswith("chapters/")]
    assert chapters == [f"chapters/{p.stem}" for p in CHAPTERS], "every chapter in the TOC, in file order"
    for name in files:
        assert any((ROOT / f"{name}{ext}").exists() for ext in (".md", ".ipynb")), f"_toc.yml names missing {name}"


def test_appendix_in_toc_after_the_chapters():
    files = toc_files()
    appendix = [f for f in files if f.startswith("appendix/")]
    assert appendix == [f"appendix/{p.stem}" for p in APPENDIX], "every appendix page in the TOC, in file order"
    assert files.index(appendix[0]) > max(files.index(f) for f in files if f.startswith("chapters/"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_chapter_stored_executed_in_order(path):
    """nbval compares only cells stored with an execution count: unexecuted cells check nothing."""
    cells = code_cells(load(path))
    assert cells, f"{path.name} has no code cells"
    counts = [c["execution_count"] for c in cells]
    assert None not in counts, f"{path.name}: cells stored unexecuted; run `make execute`"
    assert counts == list(range(1, len(cells) + 1)), f"{path.name}: not executed top to bottom in one run"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_chapter_outputs_clean_and_stable(path):
    for i, cell in enumerate(code_cells(load(path))):
        for out in cell["outputs"]:
            assert out["output_type"] != "error", f"{path.name} cell {i} stores an error"
            assert out.get("name") != "stderr", f"{path.name} cell {i} stores stderr: {out.get('text')}"
            for mime, value in out.get("data", {}).items():
                if "image/" in mime:
                    continue
                text = value if isinstance(value, str) else "".join(value)
                match = UNSTABLE.search(text)
                assert not match, f"{path.name} cell {i} {mime}: machine-specific text {match.group(0)!r}"


def shown_lines(nb):
    """Each line a reader sees in a code block: code cells' sources and their plain-text outputs."""
    for index, cell in enumerate(code_cells(nb)):
        tags = set(cell["metadata"].get("tags", []))
        if "remove-cell" in tags:
            continue
        texts = [] if "remove-input" in tags else ["".join(cell["source"])]
        for output in [] if "remove-output" in tags else cell.get("outputs", []):
            if output.get("output_type") == "stream":
                texts.append("".join(output["text"]))
            elif set(output.get("data", {})) == {"text/plain"}:
                texts.append("".join(output["data"]["text/plain"]))
        for text in texts:
            for line in text.splitlines():
                yield index, line


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_code_lines_fit_the_content_column(path):
    """At most CODE_COLUMNS characters a line: what the book's style fits at 1280 px (the browser test measures it)."""
    from booktools.sphinx_ext import CODE_COLUMNS

    long = [(i, len(line), line[:60]) for i, line in shown_lines(load(path)) if len(line) > CODE_COLUMNS]
    assert not long, f"{path.name}: lines longer than {CODE_COLUMNS} characters (code cell, length, start): {long}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_figure_has_caption_and_alt_text(path):
    for i, cell in enumerate(code_cells(load(path))):
        if not any("image/png" in out.get("data", {}) for out in cell["outputs"]):
            continue
        meta = cell["metadata"].get("mystnb", {})
        assert meta.get("figure", {}).get("caption"), f"{path.name} cell {i}: figure without caption"
        assert meta.get("figure", {}).get("name"), f"{path.name} cell {i}: figure without a name to cite"
        assert meta.get("image", {}).get("alt"), f"{path.name} cell {i}: figure without alt text"


# --- the prose quotes computed numbers through glue, never retyped ------------------------

# The document's inputs define the problem; the prose may state them.
INPUTS = {abs(float(v)) for v in (*metaopt.PHI_OLD, *metaopt.ASSUMED_GRADIENT, metaopt.THETA0,
                                  metaopt.THETA_STAR, metaopt.STEPS, metaopt.ETA, metaopt.ETA_TRAIN)}
GLUE_ROLE = re.compile(r"\{glue(?::\w+)?\}`[^`]*`")


def glued_results(notebooks=CHAPTERS):
    """Every number the chapters glue, except the document's inputs."""
    values = set()
    for path in notebooks:
        for cell in code_cells(load(path)):
            for out in cell["outputs"]:
                text = out.get("data", {}).get("application/papermill.record/text/plain")
                if text is None:
                    continue
                for token in re.findall(r"-?\d+\.\d+(?:e-?\d+)?", text):
                    value = float(token)
                    if abs(value) not in INPUTS:
                        values.add(abs(value))
    return values


def prose(notebooks=CHAPTERS, landing_page=True):
    """Markdown cells, figure captions and alt texts of every chapter, and the landing page."""
    for path in notebooks:
        for i, cell in enumerate(load(path)["cells"]):
            if cell["cell_type"] == "markdown":
                yield f"{path.name} cell {i}", "".join(cell["source"])
            meta = cell["metadata"].get("mystnb", {})
            for text in (meta.get("figure", {}).get("caption"), meta.get("image", {}).get("alt")):
                if text:
                    yield f"{path.name} cell {i} (figure)", text
    if landing_page:
        yield "intro.md", (ROOT / "intro.md").read_text(encoding="utf-8")


def renderings(value):
    """The ways prose could quote ``value``: its repr, and roundings within 2 % of it."""
    forms = {repr(value)}
    for digits in range(1, 6):
        for text in (f"{value:.{digits}f}", f"{value:.{digits}g}"):
            close = abs(float(text) - value) <= 0.02 * value
            if close and "." in text and "e" not in text and float(text) not in INPUTS:
                forms.add(text)
    return forms


#: The "원문 (the document)" boxes quote the document and translate it: their numbers are the
#: document's own (test_document_box_numbers_are_the_documents checks that), not the book's results.
DOCUMENT_BOX = re.compile(r"^(:{3,})\{dropdown\} 원문 \(the document\)\n.*?^\1[ \t]*$", re.S | re.M)


def typed_results(text, results):
    """Computed values quoted in ``text`` outside glue roles and outside the quoted document."""
    text = DOCUMENT_BOX.sub(" ", GLUE_ROLE.sub(" ", text))
    numbers = set(re.findall(r"(?<![\w.])\d+\.\d+(?![\w.])", text))
    return {form for value in results for form in numbers & renderings(value)}


def test_typed_results_detector_bites():
    results = glued_results()
    assert typed_results("the meta-loss is 7.29 here", results) == {"7.29"}
    assert typed_results("a step below 0.0035 helps", results) == {"0.0035"}
    assert typed_results("the meta-loss is {glue:text}`meta_loss:.2f` here", results) == set()
    assert typed_results("with eta = 0.01 and phi1 = 0.1", results) == set()  # the document's inputs


def test_document_box_numbers_are_the_documents():
    """Every number in a "원문 (the document)" box, Korean or English, occurs in the document itself."""
    seed = (ROOT / "seed" / "worked-example.ko.md").read_text(encoding="utf-8")
    in_seed = set(re.findall(r"\d+(?:\.\d+)?", seed))
    boxes = 0
    for where, text in prose():
        for match in DOCUMENT_BOX.finditer(text):
            boxes += 1
            numbers = set(re.findall(r"(?<![\w.])\d+(?:\.\d+)?", match.group(0)))
            assert numbers <= in_seed, f"{where}: numbers {sorted(numbers - in_seed)} are not the document's"
    assert boxes >= 4, "expected the document's box in chapters 1 to 4"


def test_document_box_is_skipped_only_inside_the_box():
    results = glued_results()
    box = "::::{dropdown} 원문 (the document)\n7.29\n::::\n"
    assert typed_results(box, results) == set()
    assert typed_results(box + "after the box, 7.29", results) == {"7.29"}


def test_results_are_glued_not_typed():
    """A chapter's prose may quote its own results and earlier chapters', never typed by hand.

    (A later chapter's result is not a number an earlier chapter could have retyped: chapter 6's
    step size 0.004, an input there, is not chapter 11's result that rounds to it.)
    """
    assert len(glued_results()) > 20, "expected the chapters to glue their results"
    for k, path in enumerate(CHAPTERS):
        results = glued_results(CHAPTERS[:k + 1])
        for where, text in prose([path], landing_page=False):
            typed = typed_results(text, results)
            assert not typed, f"{where}: computed values {typed} typed by hand; glue them instead"
    for where, text in [("intro.md", (ROOT / "intro.md").read_text(encoding="utf-8"))]:
        typed = typed_results(text, glued_results())
        assert not typed, f"{where}: computed values {typed} typed by hand; glue them instead"


def test_typed_results_check_sees_earlier_chapters():
    """The per-chapter rule still catches a later chapter retyping an earlier chapter's result."""
    meta_loss = 7.29  # chapter 3's meta-loss, glued there
    assert meta_loss in glued_results(CHAPTERS[:3]) or any(abs(v - meta_loss) < 1e-9 for v in glued_results(CHAPTERS[:3]))
    assert typed_results("as chapter 3 found, 7.29", glued_results(CHAPTERS[:4])) == {"7.29"}


def test_appendix_results_are_glued_not_typed():
    """The appendix's measured numbers change with every `make bench`: typed, they would go stale."""
    results = glued_results(NOTEBOOKS)
    assert len(glued_results(APPENDIX)) >= 10, "expected the appendix to glue its measurements"
    for where, text in prose(APPENDIX, landing_page=False):
        typed = typed_results(text, results)
        assert not typed, f"{where}: computed values {typed} typed by hand; glue them instead"


# --- nbval bites: a wrong stored number fails the check -----------------------------------

def run_nbval(*notebooks: Path, rootdir: Path):
    return subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval", "--nbval-current-env", "-p", "no:cacheprovider",
         "-q", "-rf", "-o", "addopts=", "--rootdir", str(rootdir), *map(str, notebooks)],
        capture_output=True, text=True, cwd=rootdir, timeout=300,
    )


def test_nbval_fails_when_a_stored_number_changes(tmp_path):
    """One nbval run over two copies of chapter 2: the intact one passes, the one with a changed number fails."""
    source = ROOT / "chapters" / "02_inner_loop.ipynb"
    intact = tmp_path / "intact" / source.name
    altered = tmp_path / "altered" / source.name
    for copy in (intact, altered):
        copy.parent.mkdir()
        shutil.copy(source, copy)

    nb = load(altered)
    changed = 0
    for cell in code_cells(nb):
        for out in cell["outputs"]:
            plain = out.get("data", {}).get("text/plain")
            if plain and any("7.7" in line for line in plain):
                out["data"]["text/plain"] = [line.replace("7.7", "7.8") for line in plain]
                changed += 1
    assert changed, "expected the stored table of chapter 2 to show theta_2 = 7.7"
    altered.write_text(json.dumps(nb), encoding="utf-8")

    run = run_nbval(intact, altered, rootdir=tmp_path)
    failed = re.findall(r"^FAILED (\S+?)::", run.stdout, flags=re.M)
    assert run.returncode == 1 and failed, "nbval did not notice a changed stored number:\n" + run.stdout[-2000:]
    assert set(failed) == {"altered/" + source.name}, "the unaltered chapter should pass nbval:\n" + run.stdout[-2000:]
    assert "7.8" in run.stdout
    passed = int(re.search(r"(\d+) passed", run.stdout).group(1))
    assert passed >= len(code_cells(load(intact))), "the intact copy's cells did not all run:\n" + run.stdout[-2000:]


# --- a chapter a course can use: objectives, summary, exercises with solutions ---------------

EXERCISE = re.compile(r"```\{exercise\}\s*(?P<title>[^\n]*)\n(?P<options>(?::[\w-]+:[^\n]*\n)*)")
SOLUTION = re.compile(r"```\{solution(?:-start)?\}\s*(?P<label>[\w-]+)")
KINDS = {"by-hand": "By hand:", "code": "Code:", "predict": "Predict, then check:"}


def markdown(path):
    return ["".join(c["source"]) for c in load(path)["cells"] if c["cell_type"] == "markdown"]


def exercises(path):
    """(label, kind, title) of every exercise in a chapter, and the labels that have a solution."""
    found, solved = [], set()
    for text in markdown(path):
        for match in EXERCISE.finditer(text):
            options = dict(re.findall(r":([\w-]+):\s*([^\n]*)", match["options"]))
            found.append((options.get("label"), options.get("class"), match["title"].strip()))
        solved.update(SOLUTION.findall(text))
    return found, solved


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_has_objectives_and_summary(path):
    cells = markdown(path)
    assert cells[0].startswith("# "), f"{path.name}: first cell is not the title"
    assert ":::{admonition} Learning objectives" in cells[0], f"{path.name}: no learning objectives at the top"
    headings = [line for text in cells for line in text.splitlines() if line.startswith("## ")]
    assert "## Summary" in headings, f"{path.name}: no summary section"
    assert headings[-2:] == ["## Summary", "## Exercises"], f"{path.name}: end with Summary, then Exercises"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_exercises_have_solutions_and_mix_kinds(path):
    found, solved = exercises(path)
    assert len(found) >= 3, f"{path.name}: {len(found)} exercises, want at least 3"
    labels = [label for label, _, _ in found]
    assert None not in labels and len(set(labels)) == len(labels), f"{path.name}: exercise labels missing or repeated"
    for label, kind, title in found:
        assert kind in KINDS, f"{path.name} {label}: :class: must be one of {sorted(KINDS)}"
        assert title.startswith(KINDS[kind]), f"{path.name} {label}: title should start {KINDS[kind]!r}"
        assert label in solved, f"{path.name}: exercise {label} has no solution"
    assert {kind for _, kind, _ in found} == set(KINDS), f"{path.name}: want one exercise of each kind"
    assert solved <= set(labels), f"{path.name}: solutions to unknown exercises {solved - set(labels)}"


def test_exercise_checks_bite():
    text = "```{exercise} Code: x\n:label: ex-a\n:class: code\n\nDo it.\n```\n"
    found = EXERCISE.search(text)
    assert found and dict(re.findall(r":([\w-]+):\s*([^\n]*)", found["options"])) == {"label": "ex-a", "class": "code"}
    assert SOLUTION.findall("```{solution-start} ex-a\n:class: dropdown\n```") == ["ex-a"]
    assert SOLUTION.findall("```{solution} ex-b\n") == ["ex-b"]
