"""The Sphinx side of the translated editions (:mod:`booktools.i18n` builds them).

Registered by :mod:`booktools.sphinx_ext`. Sphinx translates a page's messages while it reads
the page; a few of the book's strings are not messages Sphinx sees, and this module makes
them so:

1. **Exercise titles.** sphinx-exercise builds the title of ``{exercise} By hand: ...`` without
   a source, so Sphinx treats it as built-in text and neither extracts nor translates it.
   :class:`TranslatableExercise` gives it its source text and place.
2. **Alt texts of the figures.** A notebook's figure is its stored output, turned into an image
   only after Sphinx has translated the page; its alt text is in the cell's metadata. The
   gettext builder is handed each alt text as a message of its page (:func:`extract_alt_texts`),
   and the translated editions replace it from the page's catalog (:class:`TranslateAltTexts`).
3. **The language switch** on every page (:func:`language_switch`, the template
   ``language-switch.html`` in the article header): a link to the same page in the other edition.
4. **Korean search** (:class:`SearchKorean`). Sphinx indexes a Korean word with its particles
   attached (경사하강법을), and finds a page only when the query is the whole indexed word, so
   학습 found nothing. Every Hangul word is indexed with each of its runs of two or more
   syllables as well, so 학습 finds 학습률 and 메타학습을; other words are stemmed as in English
   (the pages keep English names such as metaopt and JAX). The query needs no splitting of its
   own: a query word is looked up as it is.
5. **Glued values in translated messages** (:func:`glue_in_translations`): a translation quotes
   ``{glue:text}`eta:.2f``` like its source does, and finds the page's value.
6. **The figures' words** (:class:`TranslatedFigures`): each notebook figure glues a twin drawn
   with Korean words, which the Korean edition shows instead.
7. **Labels the theme's parts write in English.** The templates that hard-code English are
   overridden in ``templates/`` (the author line, the sidebar toggles, the print-only table of
   contents in ``layout.html``); myst-nb writes the label of a hidden code cell's toggle in its
   HTML translator (:func:`translatable_hidden_cells` translates it); sphinx-togglebutton writes
   its buttons' label from its script at run time, and :func:`translate_script_labels` gives
   translated editions a script that replaces it.
"""

from __future__ import annotations

import json
import posixpath
import re
from html import escape as html_escape
from os import path
from pathlib import Path

from docutils import nodes
from sphinx.locale import _
from sphinx.locale import init as init_locale
from sphinx.search import SearchLanguage
from sphinx.search.en import SearchEnglish
from sphinx.transforms import SphinxTransform
from sphinx.util.i18n import docname_to_domain

#: The editions of the book: its source language first, then each translation, with the name
#: a reader of that edition sees on the switch. Translated editions live in ``<lang>/``.
EDITIONS = {"en": "English", "ko": "한국어"}
SOURCE_LANGUAGE = "en"


# 1. Exercise titles ---------------------------------------------------------------------------

def translatable_exercises(app) -> None:
    """Register sphinx-exercise's ``exercise`` and ``exercise-start`` with translatable titles."""
    app.setup_extension("sphinx_exercise")
    from sphinx_exercise.directive import ExerciseDirective, ExerciseStartDirective

    app.add_directive("exercise", _translatable(ExerciseDirective), override=True)
    app.add_directive("exercise-start", _translatable(ExerciseStartDirective), override=True)


def _translatable(base):
    class TranslatableExercise(base):
        """sphinx-exercise's directive whose subtitle is a message Sphinx extracts and translates."""

        def run(self):
            result = super().run()
            if self.arguments:
                source, line = self.state_machine.get_source_and_line(self.lineno)
                for node in result:
                    for subtitle in node.findall(nodes.subtitle):
                        subtitle.rawsource = self.arguments[0]
                        subtitle.source, subtitle.line = source, line
                        break
            return result

    TranslatableExercise.__name__ = f"Translatable{base.__name__}"
    return TranslatableExercise


# 2. Alt texts of the figures ------------------------------------------------------------------

def _alt_holders(doctree):
    """Each notebook cell whose metadata gives its figure an alt text: ``(container, image dict)``."""
    for cell in doctree.findall(nodes.container):
        metadata = cell.get("cell_metadata")
        if not isinstance(metadata, dict):
            continue
        for holder in (metadata.get("image"), metadata.get("mystnb", {}).get("image")):
            if isinstance(holder, dict) and isinstance(holder.get("alt"), str) and holder["alt"]:
                yield cell, holder


def extract_alt_texts(app, doctree, docname) -> None:
    """``doctree-resolved`` in the gettext builder: each figure's alt text and each exercise's
    title are messages of their page (1. and 2. above)."""
    if app.builder.name != "gettext":
        return
    from sphinx.builders.gettext import MsgOrigin

    catalog = app.builder.catalogs[docname_to_domain(docname, app.config.gettext_compact)]
    for cell, holder in _alt_holders(doctree):
        catalog.add(holder["alt"], MsgOrigin(cell.source or docname, cell.line or 0))
    # sphinx-exercise rebuilds its titles after reading (the gettext builder sees only the new
    # nodes, which carry no message id): the exercise titles as read, from the stored doctree.
    for subtitle in app.env.get_doctree(docname).findall(nodes.subtitle):
        if subtitle.rawsource and subtitle.source:
            catalog.add(subtitle.rawsource, MsgOrigin(subtitle.source, subtitle.line or 0))


def page_catalog(transform):
    """The translations of the page a transform works on (``None`` in the source language)."""
    if transform.config.language == SOURCE_LANGUAGE:
        return None
    domain = docname_to_domain(transform.env.docname, transform.config.gettext_compact)
    dirs = [path.join(transform.env.srcdir, directory) for directory in transform.config.locale_dirs]
    catalog, found = init_locale(dirs, transform.config.language, domain)
    return catalog if found else None


class TranslateAltTexts(SphinxTransform):
    """In a translated edition, each figure's alt text from its page's catalog (after Sphinx's own)."""

    default_priority = 21  # just after sphinx.transforms.i18n.Locale

    def apply(self, **kwargs) -> None:
        catalog = page_catalog(self)
        if catalog is None:
            return
        for _cell, holder in _alt_holders(self.document):
            translated = catalog.gettext(holder["alt"])
            if translated:
                holder["alt"] = translated


class TranslateTocCaptions(SphinxTransform):
    """In a translated edition, the captions of the parts of the table of contents.

    Jupyter Book's ``_toc.yml`` becomes toctrees that sphinx-external-toc inserts into the first
    page after Sphinx has translated it; the gettext builder does extract their captions
    ("Part I: The worked example") into that page's catalog, and they are translated here.
    """

    default_priority = 101  # after sphinx_external_toc's InsertToctrees (100)

    def apply(self, **kwargs) -> None:
        from sphinx import addnodes

        catalog = page_catalog(self)
        if catalog is None:
            return
        for toctree in self.document.findall(addnodes.toctree):
            if toctree.get("caption"):
                toctree["caption"] = catalog.gettext(toctree["caption"])
                toctree["rawcaption"] = toctree["caption"]


# 3. The language switch -----------------------------------------------------------------------

def edition_prefix(language: str) -> str:
    """The folder of an edition inside the site: ``""`` for the source language, ``"ko/"`` ..."""
    return "" if language == SOURCE_LANGUAGE else f"{language}/"


def site_root(language: str | None) -> str:
    """From an edition's root up to the site's root: ``""`` for the source language, ``"../"`` ...

    A translated edition shares the source edition's MathJax and downloads (built there first).
    """
    return "../" * edition_prefix(language or SOURCE_LANGUAGE).count("/")


def switch_target(pagename: str, here: str, there: str) -> str:
    """The address of page ``pagename`` of edition ``there``, relative to that page in ``here``."""
    page = f"{edition_prefix(here)}{pagename}.html"
    target = f"{edition_prefix(there)}{pagename}.html"
    return posixpath.relpath(target, posixpath.dirname(page) or ".")


#: The book's own templates (``language-switch.html``).
TEMPLATES = path.join(path.dirname(__file__), "templates")
#: Where the switch goes: the article header, before the theme's buttons (on every page, at every width).
ARTICLE_HEADER_END = ["language-switch.html", "article-header-buttons.html"]


def add_switch_template(app, config) -> None:
    """``config-inited``: the book's templates folder, and the switch in the article header."""
    # First: the theme puts its own components folders on templates_path, and the book overrides some.
    config.templates_path = [TEMPLATES, *config.templates_path]
    options = dict(config.html_theme_options or {})
    options.setdefault("article_header_end", ARTICLE_HEADER_END)
    config.html_theme_options = options


def language_switch(app, pagename, templatename, context, doctree) -> None:
    """``html-page-context``: the links to this page in every other edition, for the template."""
    here = app.config.language or SOURCE_LANGUAGE
    if here not in EDITIONS or app.builder.name != "html":
        return
    context["book_editions"] = [
        {"language": there, "name": name, "url": switch_target(pagename, here, there)}
        for there, name in EDITIONS.items() if there != here
    ]


# 4. Korean search -----------------------------------------------------------------------------

HANGUL = re.compile(r"[\uac00-\ud7a3]+")


def hangul_runs(word: str, shortest: int = 2) -> list[str]:
    """Every run of ``shortest`` or more consecutive syllables of a word, the word itself included."""
    runs = []
    for match in HANGUL.finditer(word):
        syllables = match.group(0)
        for start in range(len(syllables)):
            for end in range(start + shortest, len(syllables) + 1):
                runs.append(syllables[start:end])
    return runs


class SearchKorean(SearchLanguage):
    """Korean: every Hangul word indexed with its runs of syllables, other words as in English."""

    lang = "ko"
    language_name = "Korean"
    js_stemmer_rawcode = ""
    js_stemmer_code = SearchEnglish.js_stemmer_code + """
// booktools.edition.SearchKorean: Hangul is indexed as written (with each run of its
// syllables), so only words without Hangul go through the English stemmer above.
var EnglishStemmer = Stemmer;
Stemmer = function() {
  var english = new EnglishStemmer();
  this.stemWord = function(w) {
    return /[\\uac00-\\ud7a3]/.test(w) ? w : english.stemWord(w);
  };
};
"""

    def init(self, options) -> None:
        self.english = SearchEnglish(options)
        self.stopwords = self.english.stopwords

    def split(self, input: str) -> list[str]:
        words = []
        for word in self._word_re.findall(input):
            words.append(word)
            if HANGUL.search(word):
                words.extend(run for run in hangul_runs(word) if run != word)
        return words

    def stem(self, word: str) -> str:
        return word if HANGUL.search(word) else self.english.stem(word)

    def word_filter(self, word: str) -> bool:
        return bool(HANGUL.search(word)) or self.english.word_filter(word)


# 5. Glued values inside translated messages ---------------------------------------------------

class _KeepRenderer(dict):
    """A document's attributes that keep myst-nb's notebook renderer when myst-nb drops it."""

    kept = None

    def pop(self, key, *default):
        value = super().pop(key, *default)
        if key == "nb_renderer":
            self.kept = value
        return value


def glue_in_translations() -> None:
    """myst-nb's glue roles and directives, finding the page's glued values in a translation.

    Sphinx parses each translated message as a small document of its own, after the page was
    read; myst-nb's glue roles look for the notebook's glued values on the document they are
    in, and find none there ("No key 'eta' found"). The notebook parser is wrapped to keep the
    page's renderer (myst-nb removes it from the page when it is done), and the glue lookup,
    given a document without one, uses the page's.
    """
    from myst_nb import sphinx_ as myst_nb_sphinx
    from myst_nb.ext.glue import directives, roles, utils

    original = utils.retrieve_glue_data
    if getattr(original, "booktools", False):
        return
    parse = myst_nb_sphinx.Parser.parse

    def parse_keeping_the_renderer(self, inputstring, document):
        attributes = document.attributes
        document.attributes = _KeepRenderer(attributes)
        try:
            parse(self, inputstring, document)
        finally:
            kept, document.attributes = document.attributes.kept, dict(document.attributes)
        env = getattr(document.settings, "env", None)
        if env is not None and kept is not None:
            env.temp_data["booktools_nb_renderer"] = kept

    def retrieve_glue_data(document, key):
        if "nb_renderer" in document:
            return original(document, key)
        env = getattr(document.settings, "env", None)
        renderer = env.temp_data.get("booktools_nb_renderer") if env is not None else None
        if renderer is None:
            return original(document, key)
        document["nb_renderer"] = renderer
        try:
            return original(document, key)
        finally:  # the message's nodes join the page, whose pickle must not hold the renderer
            del document["nb_renderer"]

    retrieve_glue_data.booktools = True
    myst_nb_sphinx.Parser.parse = parse_keeping_the_renderer
    for module in (utils, roles, directives):
        module.retrieve_glue_data = retrieve_glue_data


# 6. The figures' words ---------------------------------------------------------------------------

#: The glue key of a figure's twin in a translated edition: ``fig-inner-loop_ko``.
def twin_key(figure: str, language: str) -> str:
    return f"{figure}_{language}"


def _png_size(png: bytes) -> tuple[int, int]:
    if png[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


class TranslatedFigures(SphinxTransform):
    """In a translated edition, each notebook figure drawn with the edition's words.

    A figure cell glues its figure drawn again with Korean words (``metaopt.plotting.korean_twin``,
    key ``<figure name>_ko``, not shown in the English edition); here its picture takes the
    English one's place, at the same displayed size rule (a PNG of twice its pixels). A figure
    without a twin keeps the English picture (tests/test_i18n.py finds none).
    """

    default_priority = 21  # with the alt texts: after Locale, before the images are collected

    def apply(self, **kwargs) -> None:
        import base64
        import hashlib

        language = self.config.language or SOURCE_LANGUAGE
        renderer = self.env.temp_data.get("booktools_nb_renderer")
        if language == SOURCE_LANGUAGE or renderer is None:
            return
        glue = renderer.renderer.nb_client.glue_data
        folder = Path(self.env.mystnb_config.output_folder)
        for figure in self.document.findall(nodes.figure):
            names = figure.get("names") or []
            record = glue.get(twin_key(names[0], language)) if names else None
            image = next(iter(figure.findall(nodes.image)), None)
            if record is None or image is None or "image/png" not in record.get("data", {}):
                continue
            png = base64.b64decode(record["data"]["image/png"])
            path = folder / f"{hashlib.sha256(png).hexdigest()}.png"
            if not path.is_file():
                folder.mkdir(parents=True, exist_ok=True)
                path.write_bytes(png)
            # "/..." is relative to the sources' folder; Sphinx's image collector resolves it next
            uri = "/" + path.resolve().relative_to(Path(self.env.srcdir).resolve()).as_posix()
            width, height = _png_size(png)
            image["uri"] = image["original_uri"] = uri
            image.attributes.pop("candidates", None)
            image["width"], image["height"] = str(width // 2), str(height // 2)
            image["translated"] = True


def notebook_outputs_beside_doctrees(app) -> None:
    """``builder-inited``, after myst-nb: its folder of notebook outputs beside the doctrees.

    myst-nb writes the notebooks' outputs (and the glued values other pages quote) into
    ``<outdir>/../jupyter_execute``. For the English edition (``_build/html``) that is
    ``_build/jupyter_execute``, beside ``_build/.doctrees``; for the Korean edition, built into
    ``_build/html/ko``, it would be ``_build/html/jupyter_execute``, inside the published site
    and away from its doctrees (``_build/ko/.doctrees``), where its single-page build looks.
    """
    config = getattr(app.env, "mystnb_config", None)
    if config is None:
        return
    folder = (Path(app.doctreedir).parent / "jupyter_execute").resolve()
    if Path(config.output_folder) != folder:
        app.env.mystnb_config = config.copy(output_folder=str(folder))


# 7. Labels the theme's scripts write in English ------------------------------------------------

#: Runs after every DOMContentLoaded handler (a task queued from one runs after them all), so
#: after togglebutton.js has added its buttons wherever its script tag stands.
RELABEL = """document.addEventListener("DOMContentLoaded", () => setTimeout(() => {
  for (const [selector, english, label] of %s) {
    for (const el of document.querySelectorAll(selector)) {
      if (el.getAttribute("aria-label") === english) el.setAttribute("aria-label", label);
    }
  }
}, 0));"""


def translatable_hidden_cells(app) -> None:
    """Register myst-nb's hidden code cell with its toggle's label translatable (myst-nb writes
    ``<summary aria-label="Toggle hidden content">`` whatever the language)."""
    app.setup_extension("myst_nb")
    from myst_nb.sphinx_ import HideCodeCellNode, depart_HideCellInput, visit_HideCellInput

    english = 'aria-label="Toggle hidden content"'

    def visit(self, node):
        start = len(self.body)
        visit_HideCellInput(self, node)
        label = f'aria-label="{html_escape(str(_("Toggle hidden content")))}"'
        self.body[start:] = [part.replace(english, label) for part in self.body[start:]]

    app.add_node(HideCodeCellNode, override=True, html=(visit, depart_HideCellInput))


def script_labels() -> list[list[str]]:
    """``[selector, English label, translated label]`` of each label a script of the theme's
    extensions sets in English: sphinx-togglebutton's button on each dropdown (its
    togglebutton.js, at DOMContentLoaded). Each ``_()`` is a literal, so the interface catalog's
    check finds it (:func:`booktools.i18n.code_strings`)."""
    return [["button.toggle-button", "Toggle hidden content", str(_("Toggle hidden content"))]]


def translate_script_labels(app) -> None:
    """``builder-inited``: in a translated edition, the script that translates :func:`script_labels`."""
    if (app.config.language or SOURCE_LANGUAGE) != SOURCE_LANGUAGE:
        app.add_js_file(None, body=RELABEL % json.dumps(script_labels(), ensure_ascii=False))


def setup(app):
    glue_in_translations()
    app.connect("builder-inited", notebook_outputs_beside_doctrees, priority=900)
    app.connect("doctree-resolved", extract_alt_texts)
    app.add_transform(TranslateAltTexts)
    app.add_transform(TranslateTocCaptions)
    app.add_transform(TranslatedFigures)
    app.connect("config-inited", add_switch_template)
    app.connect("html-page-context", language_switch)
    app.connect("builder-inited", translate_script_labels)
    translatable_hidden_cells(app)
    app.add_search_language(SearchKorean)
    translatable_exercises(app)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
