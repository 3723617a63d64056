"""The student edition: the same book with every solution removed, for assigning the exercises.

``make book-student`` runs ``python -m booktools.student``. It copies the book's sources
(:data:`SOURCES`) into ``_build/student/source``, removes every solution from the copy
(:func:`strip_notebook`: the ``{solution}`` blocks and everything from a ``{solution-start}``
to its ``{solution-end}``, code cells included), sets ``book_edition: student`` (which
``booktools.sphinx_ext`` turns into the Sphinx tag ``student``, for the few sentences that
say where the solutions are: ``{only} student`` / ``{only} not student``) and builds it
into ``_build/student/_build/html``. The solutions are not hidden there but absent: from the
pages, from the search index, from the pages' ``.ipynb`` sources and from the notebooks
bundle (built from the stripped copy). The full edition (``make book``) keeps them, and
``make test`` runs their code.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: What the book is built from (the notebooks bundle's inputs included).
SOURCES = ("_config.yml", "_toc.yml", "intro.md", "glossary.md", "references.md", "references.bib",
           "chapters", "appendix", "benchmarks/results.json", "train", "lib/metaopt", "pyproject.toml",
           "README.md", "constraints.txt")
OUTPUT = ROOT / "_build" / "student"
EDITION = "student"

#: A fence that opens a solution: ```{solution} label, ```{solution-start} label (backticks or colons).
OPENS = re.compile(r"^(?P<fence>`{3,}|:{3,})\{(?P<kind>solution|solution-start|solution-end)\}")


def _closes(line: str, fence: str) -> bool:
    stripped = line.strip()
    return len(stripped) >= len(fence) and set(stripped) == {fence[0]}


class _Stripper:
    """Reads the book's markdown line by line, cell after cell, and keeps what is not a solution."""

    def __init__(self) -> None:
        self.between = False  # after a {solution-start} block, before its {solution-end}
        self.fence = None     # inside a solution directive's own fenced block, closed by this fence
        self.kind = None
        self.label = None     # the exercise whose solution is being read
        #: Each solution's markdown and code, by its exercise's label: {label: {"markdown": [...], "code": [...]}}.
        self.solutions: dict[str, dict[str, list[str]]] = {}

    @property
    def removed(self) -> int:
        """How many solutions were removed."""
        return len(self.solutions)

    def record(self, kind: str, text: str) -> None:
        self.solutions[self.label][kind].append(text)

    def markdown(self, text: str) -> str:
        kept = []
        for line in text.splitlines(keepends=True):
            if self.fence is not None:
                if _closes(line, self.fence):
                    if self.kind == "solution-start":
                        self.between = True
                    elif self.kind == "solution-end":
                        self.between = False
                    self.fence = self.kind = None
                elif self.kind == "solution":
                    self.record("markdown", line)
                continue
            match = OPENS.match(line)
            if match:
                kind = match["kind"]
                if kind == "solution-end" and not self.between:
                    raise ValueError(f"a {{solution-end}} without its {{solution-start}}: {line.strip()!r}")
                if kind in ("solution", "solution-start"):
                    if self.between:
                        raise ValueError(f"a solution inside another solution: {line.strip()!r}")
                    self.label = line[match.end():].strip()
                    if not self.label or self.label in self.solutions:
                        raise ValueError(f"a solution needs its exercise's label, once: {line.strip()!r}")
                    self.solutions[self.label] = {"markdown": [], "code": []}
                self.fence, self.kind = match["fence"], kind
                continue
            if self.between:
                self.record("markdown", line)
            else:
                kept.append(line)
        return "".join(kept)


def _strip(nb: dict) -> tuple[dict, _Stripper]:
    stripper = _Stripper()
    cells = []
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            text = stripper.markdown("".join(cell["source"]))
            if text.strip():
                cells.append({**cell, "source": text.strip("\n").splitlines(keepends=True)})
        elif stripper.between:
            stripper.record("code", "".join(cell["source"]))
        else:
            cells.append(cell)
    if stripper.between or stripper.fence is not None:
        raise ValueError("a solution is not closed before the notebook ends")
    return {**nb, "cells": cells}, stripper


def strip_notebook(nb: dict) -> tuple[dict, int]:
    """``nb`` without its solutions, and how many were removed. Cells left empty are dropped."""
    stripped, stripper = _strip(nb)
    return stripped, stripper.removed


def solutions(nb: dict) -> dict[str, dict[str, list[str]]]:
    """Each solution of ``nb`` by its exercise's label: its markdown lines and its code cells' sources."""
    return _strip(nb)[1].solutions


def strip_markdown(text: str) -> tuple[str, int]:
    """A markdown page without its solutions, and how many were removed."""
    stripper = _Stripper()
    kept = stripper.markdown(text)
    if stripper.between or stripper.fence is not None:
        raise ValueError("a solution is not closed before the page ends")
    return kept, stripper.removed


def prepare(source: Path, root: Path = ROOT) -> int:
    """Copy the book's sources into ``source``, without solutions; return how many were removed."""
    if source.exists():
        shutil.rmtree(source)
    for name in SOURCES:
        src, dst = root / name, source / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
        else:
            shutil.copy(src, dst)
    removed = 0
    for path in sorted(source.rglob("*.ipynb")):
        nb, n = strip_notebook(json.loads(path.read_text(encoding="utf-8")))
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        removed += n
    for path in sorted(source.glob("*.md")):
        text, n = strip_markdown(path.read_text(encoding="utf-8"))
        path.write_text(text, encoding="utf-8")
        removed += n
    config = source / "_config.yml"
    text = config.read_text(encoding="utf-8")
    if "\n  config:\n" not in text:
        raise ValueError("_config.yml has no sphinx.config section to add book_edition to")
    config.write_text(text.replace("\n  config:\n", f"\n  config:\n    book_edition: {EDITION}\n", 1),
                      encoding="utf-8")
    return removed


def build(output: Path = OUTPUT, root: Path = ROOT, strict: bool = False) -> Path:
    """Prepare the stripped sources in ``output/source`` and build them; return the HTML folder."""
    source = output / "source"
    removed = prepare(source, root)
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    command = [str(jupyter_book), "build", str(source), "--builder", "html", "--path-output", str(output)]
    if strict:
        command += ["-W", "-n", "--keep-going"]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"the student edition did not build:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
    html = output / "_build" / "html"
    print(f"student edition: {removed} solutions removed, built into {html}")
    return html


def main(argv: list[str]) -> int:
    if argv and argv != ["--strict"]:
        print("usage: python -m booktools.student [--strict]   (the student edition into _build/student/_build/html)",
              file=sys.stderr)
        return 2
    build(strict=bool(argv))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
