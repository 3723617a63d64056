"""What the course guide says of each chapter, counted from the chapters themselves.

The course guide (``appendix/course_guide.ipynb``) shows these counts; the inputs typed by
hand are the plan of 90-minute sessions (:data:`SESSIONS`, a teacher's choice), what each kind
of exercise suits (:data:`SUITS`) and the three rates it states (:data:`WORDS_PER_MINUTE`,
:data:`WORDS_PER_CODE_LINE`, :data:`WORKING_FACTOR`).

- **Prose** is the text of a chapter's markdown cells without its exercises and their
  solutions (:func:`measure`): words (runs of letters, Korean included, or of digits; a glued
  number counts as one word), inline formulas, displayed equations, and lines of code: the
  non-blank lines of code blocks in the text and the non-blank, non-comment lines of the code cells a reader sees (not tagged ``remove-cell`` or
  ``remove-input``).
- **Exercises** are the ``{exercise}`` directives: label, kind (``by-hand``, ``code``,
  ``predict``), title, and the same measure of the statement and of the solution (its
  markdown and its code cells, as :func:`booktools.student.solutions` finds them).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, replace
from pathlib import Path

from booktools.student import solutions, strip_notebook

ROOT = Path(__file__).resolve().parents[2]
#: A reading speed: myst-parser's own default (``words_per_minute``), stated, not measured. A formula in
#: the text reads as one word, a displayed equation or a line of code as WORDS_PER_CODE_LINE words.
WORDS_PER_MINUTE = 200
WORDS_PER_CODE_LINE = 10
#: A rule of thumb, stated as one: working an exercise takes this many times as long as reading
#: its statement and its solution.
WORKING_FACTOR = 5
#: The exercise kinds (their ``:class:``), what a course can use each for, and their names in the book.
KINDS = {"by-hand": "By hand", "code": "Code", "predict": "Predict, then check"}
SUITS = {"by-hand": "class, exams", "code": "homework, labs", "predict": "class (discuss before running)"}
#: A plan of 90-minute sessions: which chapters, in order (a teacher's choice; the times are computed).
SESSIONS = (
    ("The worked example by hand", ("01_setup", "02_inner_loop")),
    ("The meta-gradient: the chain rule through time", ("03_outer_loop", "04_summary")),
    ("The optimizer as momentum", ("05_momentum",)),
    ("Choosing the meta step size", ("06_meta_step_size",)),
    ("Long horizons", ("07_long_horizons",)),
    ("Across tasks", ("08_across_tasks",)),
    ("Autodiff in JAX", ("09_autodiff",)),
    ("The paper's LSTM optimizer", ("10_lstm_optimizer", "11_digits")),
)

EXERCISE = re.compile(r"^(?P<fence>`{3,}|:{3,})\{exercise\}[ \t]*(?P<title>[^\n]*)\n(?P<body>.*?)^(?P=fence)[ \t]*$",
                      re.M | re.S)
FENCE = re.compile(r"^\s*(?P<fence>`{3,}|:{3,})(?P<info>.*)$")
OPTION = re.compile(r"^:[\w-]+:")
DISPLAY_MATH = re.compile(r"\$\$.*?\$\$", re.S)
INLINE_MATH = re.compile(r"(?<!\\)\$[^$\n]+\$")
ROLE = re.compile(r"\{[\w:-]+\}`[^`]*`")
WORD = re.compile(r"[^\W\d_][\w'’-]*|\d[\d.,]*\d|\d")


@dataclass(frozen=True)
class Measure:
    """What a piece of the book's markdown holds: words of prose, displayed equations, lines of code."""

    words: int
    formulas: int
    equations: int
    code_lines: int


def measure(markdown: str) -> Measure:
    """Split markdown into prose, displayed math (``{math}`` blocks, ``$$ ... $$``) and code blocks, and count each.

    Directive blocks (``{note}``, ``{dropdown}``, ...) hold prose: their titles and text are counted,
    their fences and options are not. Inline math is counted apart from the words, as formulas; a role (a glued
    number, a cross-reference) and inline code count as one word each.
    """
    prose, equations, code, stack = [], 0, 0, []  # stack: (fence, kind) of the open blocks
    for line in markdown.splitlines():
        match = FENCE.match(line)
        if match and stack and not match["info"].strip() and match["fence"][0] == stack[-1][0][0] \
                and len(match["fence"]) >= len(stack[-1][0]):
            stack.pop()
            continue
        inside = stack[-1][1] if stack else "directive"
        if match and inside == "directive" and (match["info"].strip() or match["fence"][0] == "`"):
            info = match["info"].strip()
            kind = "math" if info.startswith("{math}") else "directive" if info.startswith("{") else "code"
            equations += kind == "math"
            if kind == "directive":
                prose.append(info.split("}", 1)[1])  # its title ("Learning objectives")
            stack.append((match["fence"], kind))
            continue
        if inside == "code":
            code += bool(line.strip())
        elif inside == "directive" and not OPTION.match(line):
            prose.append(line)
    text = "\n".join(prose)
    equations += len(DISPLAY_MATH.findall(text))
    text = DISPLAY_MATH.sub(" ", text)
    formulas = len(INLINE_MATH.findall(text))
    text = INLINE_MATH.sub(" ", text)
    text = ROLE.sub(" 0 ", text)               # a glued number or a cross-reference: one word
    text = re.sub(r"\]\([^)]*\)", "]", text)  # a link's target
    text = re.sub(r"`[^`]*`", " 0 ", text)     # inline code: one word
    return Measure(words=len(WORD.findall(text)), formulas=formulas, equations=equations, code_lines=code)


def reading_words(m: Measure) -> int:
    """What reading ``m`` costs, in words: a formula in the text counts as one, a displayed equation
    and a line of code as :data:`WORDS_PER_CODE_LINE`."""
    return m.words + m.formulas + WORDS_PER_CODE_LINE * (m.equations + m.code_lines)


@dataclass(frozen=True)
class Exercise:
    label: str
    kind: str
    title: str
    statement: Measure
    solution: Measure

    @property
    def asks(self) -> str:
        """The title without its kind ("By hand: the chain rule" asks "the chain rule")."""
        return self.title.split(":", 1)[-1].strip()

    @property
    def minutes(self) -> float:
        """Working time by the stated rule: :data:`WORKING_FACTOR` times reading statement and solution."""
        return WORKING_FACTOR * (reading_words(self.statement) + reading_words(self.solution)) / WORDS_PER_MINUTE


@dataclass(frozen=True)
class Chapter:
    name: str
    title: str
    prose: Measure  # without the exercises and their solutions; code: the lines a reader sees
    exercises: tuple[Exercise, ...]

    @property
    def reading_minutes(self) -> float:
        return reading_words(self.prose) / WORDS_PER_MINUTE

    @property
    def exercise_minutes(self) -> float:
        return sum(e.minutes for e in self.exercises)


def _code_lines(source: str) -> int:
    return sum(1 for line in source.splitlines() if line.strip() and not line.strip().startswith("#"))


def read_chapter(path: Path) -> Chapter:
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    found = solutions(nb)
    # The prose without the solutions (booktools.student's reading of them) and without the exercises.
    stripped, _ = strip_notebook(nb)
    prose = "\n\n".join("".join(c["source"]) for c in stripped["cells"] if c["cell_type"] == "markdown")
    exercises = []
    for match in EXERCISE.finditer(prose):
        body = match["body"]
        label = re.search(r"^:label:\s*(\S+)", body, re.M)
        kind = re.search(r"^:class:\s*(\S+)", body, re.M)
        if not label or not kind or kind[1] not in KINDS:
            raise ValueError(f"{Path(path).name}: an exercise needs a :label: and a :class: of {', '.join(KINDS)}")
        solution = found.get(label[1], {"markdown": [], "code": []})
        written = measure("".join(solution["markdown"]))
        code = written.code_lines + sum(_code_lines(source) for source in solution["code"])
        exercises.append(Exercise(label=label[1], kind=kind[1], title=match["title"].strip(),
                                  statement=measure(body), solution=replace(written, code_lines=code)))
    text = measure(EXERCISE.sub(" ", prose))
    title = re.search(r"^# (.+)$", prose, re.M)
    shown = [c for c in stripped["cells"] if c["cell_type"] == "code"
             and not {"remove-cell", "remove-input"} & set(c["metadata"].get("tags", []))]
    shown_lines = sum(_code_lines("".join(c["source"])) for c in shown)
    return Chapter(name=Path(path).stem, title=title[1].strip() if title else Path(path).stem,
                   prose=replace(text, code_lines=text.code_lines + shown_lines), exercises=tuple(exercises))


def chapters(root: Path = ROOT) -> list[Chapter]:
    return [read_chapter(p) for p in sorted((root / "chapters").glob("*.ipynb"))]


def sessions(book: list[Chapter]) -> list[tuple[str, list[Chapter]]]:
    """:data:`SESSIONS` with their chapters; every chapter in exactly one session."""
    by_name = {c.name: c for c in book}
    planned = [name for _, names in SESSIONS for name in names]
    if sorted(planned) != sorted(by_name):
        raise ValueError(f"the plan of sessions covers {planned}, the book has {sorted(by_name)}")
    return [(title, [by_name[n] for n in names]) for title, names in SESSIONS]


def minutes(x: float) -> int:
    """Minutes rounded up to the next 5."""
    return 5 * math.ceil(x / 5)
