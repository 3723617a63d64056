"""The Korean edition (booktools.i18n, booktools.edition): complete, in step, and well-formed.

- Every message of the English source has a Korean translation in its page's catalog that is
  neither fuzzy nor stale, and no catalog keeps a message the source no longer has: an English
  edit cannot silently leave the Korean edition behind (the messages are extracted afresh from
  the sources here, with Sphinx's gettext builder, not read from a stored template).
- Every translation keeps its source's math, code, link addresses and cross-references.
- The checker itself catches what it is for (a dropped formula, a changed target), and lets
  through what a translation may change (a reference's title, the words around them).
- Korean search indexes the runs of syllables of each word; the language switch's addresses.
- The built Korean pages (from ``make test``'s strict build): ``<html lang="ko">``, and no English
  in the interface around the article (the theme's strings, the book's run box).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from booktools import edition, i18n

ROOT = Path(__file__).resolve().parents[1]
KO_SITE = ROOT / "_build" / "html" / "ko"


@pytest.fixture(scope="module")
def report():
    return i18n.status("ko")


def test_every_page_has_a_catalog(report):
    pages = {entry.page for entry in report}
    sources = {p.relative_to(ROOT).with_suffix("").as_posix()
               for folder in ("chapters", "appendix") for p in (ROOT / folder).glob("*.ipynb")}
    assert sources | {"intro", "glossary", "references", i18n.INTERFACE_CATALOG} <= pages


@pytest.mark.parametrize("kind", ["untranslated", "fuzzy", "stale", "obsolete"])
def test_every_message_is_translated_and_in_step(report, kind):
    left = {entry.page: getattr(entry, kind) for entry in report if getattr(entry, kind)}
    shown = "\n".join(f"{page}: {len(ids)}, first {ids[0][:100]!r}" for page, ids in left.items())
    assert not left, (f"{kind} messages in the Korean catalogs (update them with `make catalogs`, "
                      f"translate with `python -m booktools.i18n todo/fill`):\n{shown}")


def test_every_translation_keeps_its_markup():
    problems = i18n.check("ko")
    assert not problems, "\n".join(problems[:40])


# --- the markup checker ------------------------------------------------------------------

SOURCE = (r"The gradient {glue:text}`grad0:.1f` of $L(\theta)$ at $\theta_0$, see {eq}`eq-rnn` and "
          r"{term}`Backpropagation <backpropagation>`; `metaopt.unroll` runs [it](https://example.org/x).")
GOOD = (r"$\theta_0$에서 $L(\theta)$의 그래디언트는 {glue:text}`grad0:.1f`입니다. {eq}`eq-rnn`과 "
        r"{term}`역전파 <backpropagation>`를 보십시오. `metaopt.unroll`이 [그것](https://example.org/x)을 실행합니다.")


def test_a_faithful_translation_passes():
    assert i18n.markup_problems(SOURCE, GOOD) == []


@pytest.mark.parametrize("broken, found", [
    (GOOD.replace(r"$\theta_0$", r"$\theta_1$"), r"$\theta_0$"),          # a formula changed
    (GOOD.replace(r"$L(\theta)$의 ", ""), r"$L(\theta)$"),                  # a formula dropped
    (GOOD.replace("grad0:.1f", "grad0:.2f"), "grad0:.1f"),                 # a glued value's format
    (GOOD.replace("<backpropagation>", "<역전파>"), "backpropagation"),    # a term's target
    (GOOD.replace("`metaopt.unroll`", "metaopt.unroll"), "metaopt.unroll"),  # code lost its marks
    (GOOD.replace("https://example.org/x", "https://example.org/y"), "example.org/x"),
    (GOOD.replace("{eq}`eq-rnn`과 ", ""), "eq-rnn"),
])
def test_the_checker_finds_a_broken_translation(broken, found):
    problems = i18n.markup_problems(SOURCE, broken)
    assert any(found in p for p in problems), problems


@pytest.mark.parametrize("translation", ["2. 1단계: 내부 루프", "- 목록처럼 읽힘", "# 제목처럼 읽힘"])
def test_a_translation_that_is_not_a_paragraph_is_refused(translation):
    """Sphinx would silently keep the English: a heading "2. ..." reads as a list on its own."""
    assert i18n.markup_problems("2. The inner loop", translation)


def test_a_numbered_heading_escapes_its_period():
    assert i18n.markup_problems("2. The inner loop", "2\\. 1단계: 내부 루프") == []


def test_a_term_without_title_may_get_one():
    assert i18n.markup_problems("the {term}`optimizee`", "{term}`피최적화 모델 <optimizee>`") == []


def test_fill_refuses_a_broken_translation_and_writes_nothing(tmp_path):
    root = tmp_path
    catalog = root / i18n.LOCALES / "ko" / "LC_MESSAGES" / "page.po"
    catalog.parent.mkdir(parents=True)
    catalog.write_text(f'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
                       f'msgid "{SOURCE.replace(chr(92), chr(92) * 2)}"\nmsgstr ""\n', encoding="utf-8")
    before = catalog.read_bytes()
    problems = i18n.fill("page", [{"id": SOURCE, "str": GOOD.replace(r"$\theta_0$", "")}], root=root)
    assert problems and catalog.read_bytes() == before
    assert i18n.fill("page", [{"id": SOURCE, "str": GOOD}], root=root) == []
    assert i18n.todo("page", root=root) == []


# --- Korean search and the switch --------------------------------------------------------

def test_korean_words_are_indexed_with_their_runs_of_syllables():
    korean = edition.SearchKorean({})
    words = korean.split("메타학습을 위한 학습률, gradients")
    assert {"메타학습을", "학습", "메타학습", "학습률", "학습을"} <= set(words)
    assert "gradients" in words and korean.stem("gradients") == "gradient"
    assert korean.stem("학습률") == "학습률"
    # every run, and nothing shorter than two syllables
    assert sorted(edition.hangul_runs("가나다")) == sorted(["가나", "가나다", "나다"])


@pytest.mark.parametrize("page, here, there, expected", [
    ("intro", "en", "ko", "ko/intro.html"),
    ("chapters/03_outer_loop", "en", "ko", "../ko/chapters/03_outer_loop.html"),
    ("intro", "ko", "en", "../intro.html"),
    ("chapters/03_outer_loop", "ko", "en", "../../chapters/03_outer_loop.html"),
])
def test_the_switch_points_at_the_same_page(page, here, there, expected):
    assert edition.switch_target(page, here, there) == expected


# --- the built Korean pages --------------------------------------------------------------

class _Interface(HTMLParser):
    """The text a reader sees outside the article, and the labels and tooltips of the page."""

    LABELS = ("title", "aria-label", "placeholder")

    def __init__(self):
        super().__init__()
        self.depth, self.skip, self.text, self.html_lang = 0, 0, [], None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "html":
            self.html_lang = attrs.get("lang")
        if tag in ("script", "style", "article", "pre", "code", "title"):
            self.skip += 1
        if not self.skip:
            self.text += [attrs[k] for k in self.LABELS if attrs.get(k)]

    def handle_endtag(self, tag):
        if tag in ("script", "style", "article", "pre", "code", "title"):
            self.skip -= 1

    def handle_data(self, data):
        if not self.skip and data.strip():
            self.text.append(data.strip())


#: English a Korean page may show around its article: names (the document's own Optimizer and
#: Optimizee in its headings), the switch back, key names, the run box's commands, formulas.
ALLOWED = re.compile(r"(?<![A-Za-z])(English|Ctrl|K|metaopt|JAX|LSTM|RNN|Adam|PDF|MiB|ipynb|pdf|Python|python|"
                     r"pip|install|requirements|txt|jupyter|lab|chapters|constraints|Copyright|BPTT|ES|"
                     r"sympy|numpy|float|detach|JavaScript|Optimizer|Optimizee)(?![A-Za-z])|\\\(.*?\\\)")


def korean_pages():
    if not (KO_SITE / "intro.html").is_file():
        pytest.skip("the Korean edition is not built: `make test` builds it (python -m booktools.i18n build)")
    return sorted(p for p in KO_SITE.rglob("*.html")
                  if p.relative_to(KO_SITE).parts[0] not in ("_static", "_sources")
                  and 'http-equiv="refresh"' not in p.read_text(encoding="utf-8").lower())  # index.html: a redirect


def test_korean_pages_say_they_are_korean():
    pages = korean_pages()
    for path in pages:
        parser = _Interface()
        parser.feed(path.read_text(encoding="utf-8"))
        assert parser.html_lang == "ko", f"{path.relative_to(KO_SITE)}: <html lang={parser.html_lang!r}>"


def test_the_run_box_links_the_first_page_by_its_korean_title():
    """The run box's link text (the interface catalog) is the first page's heading (its catalog)."""
    interface, intro = i18n.translations(), i18n.translations("intro")
    assert interface["Run it yourself"] == intro["Run it yourself"]


def test_korean_chapter_titles_are_translated():
    """Sphinx drops a translation silently when it does not read as a paragraph: the titles."""
    for path in korean_pages():
        rel = path.relative_to(KO_SITE).as_posix()
        if rel.startswith(("chapters/", "appendix/")):
            title = re.search(r"<h1>(.*?)<", path.read_text(encoding="utf-8")).group(1)
            assert re.search(r"[\uac00-\ud7a3]", title) and not re.search(r"[A-Za-z]{4,}", title), (rel, title)


def test_korean_pages_show_no_english_interface():
    problems = []
    for path in korean_pages():
        parser = _Interface()
        parser.feed(path.read_text(encoding="utf-8"))
        for text in parser.text:
            if re.search(r"[A-Za-z]{3,}", ALLOWED.sub("", text)):
                problems.append(f"{path.relative_to(KO_SITE)}: {text[:90]!r}")
    assert not problems, f"{len(problems)} English strings, e.g.:\n" + "\n".join(sorted(set(problems))[:40])


def test_the_book_layout_is_the_theme_s_but_for_its_label():
    """templates/layout.html overrides sphinx-book-theme's to translate one hard-coded label; an
    update of the theme that changes its layout shows here (copy it again, keep the label)."""
    import sphinx_book_theme

    theme = Path(sphinx_book_theme.__file__).parent / "theme" / "sphinx_book_theme" / "layout.html"
    ours = (Path(edition.TEMPLATES) / "layout.html").read_text(encoding="utf-8")
    ours = re.sub(r"\A\{#-.*?-#\}\n", "", ours, flags=re.S)  # its own comment
    translatable = "aria-label=\"{{ _('Page') }}\""
    assert translatable in ours
    assert ours.replace(translatable, 'aria-label="Page"') == theme.read_text(encoding="utf-8")


# --- the figures' words ------------------------------------------------------------------

def figure_cells():
    """Every figure cell of the notebooks: (notebook, figure name, cell)."""
    import json

    for path in sorted([*(ROOT / "chapters").glob("*.ipynb"), *(ROOT / "appendix").glob("*.ipynb")]):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            name = cell.get("metadata", {}).get("mystnb", {}).get("figure", {}).get("name")
            if name:
                yield path, name, cell


def test_every_figure_glues_its_korean_twin():
    """Each figure cell draws its figure again with Korean words, under its own figure's name."""
    cells = list(figure_cells())
    assert len(cells) >= 20
    for path, name, cell in cells:
        assert f'korean_twin(plt.gcf(), "{name}")' in "".join(cell["source"]), f"{path.name}: {name}"
        glued = [o for o in cell.get("outputs", [])
                 if o.get("metadata", {}).get("scrapbook", {}).get("name") == edition.twin_key(name, "ko")]
        assert glued and "application/papermill.record/image/png" in glued[0]["data"], f"{path.name}: {name}"


def test_the_korean_pages_show_the_korean_figures():
    """On every Korean page, each notebook figure is its glued Korean twin, byte for byte."""
    import base64
    import json

    twins = {}
    for path, name, cell in figure_cells():
        for output in cell.get("outputs", []):
            if output.get("metadata", {}).get("scrapbook", {}).get("name") == edition.twin_key(name, "ko"):
                twins[(path.relative_to(ROOT).with_suffix(".html").as_posix(), name)] = base64.b64decode(
                    output["data"]["application/papermill.record/image/png"])
    korean_pages()
    for (page, name), png in twins.items():
        html = (KO_SITE / page).read_text(encoding="utf-8")
        figure = re.search(rf'<figure[^>]*id="{re.escape(name)}".*?</figure>', html, re.S)
        assert figure, f"{page}: no figure {name}"
        src = re.search(r'<img[^>]*src="([^"]+)"', figure.group(0)).group(1)
        assert (KO_SITE / page).parent.joinpath(src).resolve().read_bytes() == png, f"{page}: {name} is not its twin"


def test_korean_twin_draws_the_words_and_puts_the_english_back(monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import metaopt.book
    from metaopt import plotting

    glued = {}
    monkeypatch.setattr(metaopt.book, "glue_image", lambda key, png: glued.update({key: png}))
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1], label=r"meta-loss $L(\theta_2)$")
    ax.set_xlabel(r"$\eta$")  # a formula alone needs no words
    ax.legend()
    png = plotting.korean_twin(fig, "fig-test", words={r"meta-loss $L(\theta_2)$": r"메타 손실 $L(\theta_2)$"})
    assert glued == {"fig-test_ko": png} and png[:4] == b"\x89PNG"
    assert ax.get_legend().get_texts()[0].get_text() == r"meta-loss $L(\theta_2)$"  # put back
    with pytest.raises(KeyError, match="step size"):
        ax.set_title("step size")
        plotting.korean_twin(fig, "fig-test", words={r"meta-loss $L(\theta_2)$": "메타 손실"})
    plt.close(fig)
