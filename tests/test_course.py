"""The course guide's counts (booktools.course): on text counted by hand, and against the built pages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from booktools import course
from booktools.course import Measure, measure

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "_build" / "html"


@pytest.mark.parametrize("markdown, expected", [
    ("Two words.", Measure(words=2, formulas=0, equations=0, code_lines=0)),
    # a formula is not a word; a glued number and inline code are one word each
    ("Take $\\phi_1 = 0.1$ and {glue:text}`eta:.2f` with `meta_gradient(phi)`.",
     Measure(words=5, formulas=1, equations=0, code_lines=0)),
    # a {math} block and $$...$$ are displayed equations; their TeX is not counted as words
    ("Before\n```{math}\n:label: eq-x\n\\theta_1 = \\theta_0 + g_0\n```\n$$ a + b $$ after",
     Measure(words=2, formulas=0, equations=2, code_lines=0)),
    # a code fence: its non-blank lines are code, not words
    ("Run\n```bash\nmake book\n\nmake test\n```\nthen read.", Measure(words=3, formulas=0, equations=0, code_lines=2)),
    # a directive holds prose, its title included (its options dropped), also nested, also with colons
    (":::{admonition} Learning objectives\n:class: tip\nAfter this chapter\n````{dropdown} 원문\n내부 루프 학습\n```python\nx = 1\n```\n````\n:::",
     Measure(words=9, formulas=0, equations=0, code_lines=1)),
    # a link counts its text, not its target
    ("See [the paper](https://example.org/a/b/c) now.", Measure(words=4, formulas=0, equations=0, code_lines=0)),
])
def test_measure_counts_what_a_reader_reads(markdown, expected):
    assert measure(markdown) == expected


def test_reading_rates_are_the_stated_ones():
    m = Measure(words=150, formulas=30, equations=1, code_lines=1)
    assert course.reading_words(m) == 150 + 30 + 10 + 10
    exercise = course.Exercise("ex", "code", "Code: x", statement=m, solution=Measure(0, 0, 0, 0))
    assert exercise.minutes == pytest.approx(5 * 200 / 200)
    assert course.minutes(0.1) == 5 and course.minutes(5.0) == 5 and course.minutes(5.01) == 10


@pytest.fixture(scope="module")
def book():
    return course.chapters(ROOT)


def test_every_exercise_of_the_built_pages_is_counted_in_order(book):
    if not (SITE / "intro.html").is_file():
        pytest.skip("the book is not built (make test builds it first)")
    pattern = re.compile(r'<div class="exercise (by-hand|code|predict) admonition" id="([^"]+)"')
    for chapter in book:
        page = (SITE / "chapters" / f"{chapter.name}.html").read_text(encoding="utf-8")
        assert [(e.kind, e.label) for e in chapter.exercises] == [(k, i) for k, i in pattern.findall(page)], chapter.name


def test_every_exercise_has_its_solution_measured(book):
    for chapter in book:
        assert chapter.exercises, chapter.name
        for e in chapter.exercises:
            assert e.statement.words > 0, e.label
            assert e.solution.words + e.solution.code_lines > 0, f"{e.label}: no solution found"


def test_the_plan_of_sessions_covers_every_chapter_once(book):
    plan = course.sessions(book)
    names = [c.name for _, chapters in plan for c in chapters]
    assert sorted(names) == sorted(c.name for c in book) and len(names) == len(set(names))
    with pytest.raises(ValueError, match="plan of sessions"):
        course.sessions(book + [book[0].__class__("12_new", "12. New", book[0].prose, ())])
