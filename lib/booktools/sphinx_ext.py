"""A small Sphinx extension for the book: math that renders offline, and a clean page head.

Listed in ``_config.yml`` under ``sphinx.extra_extensions`` as ``booktools.sphinx_ext``,
so a plain ``jupyter-book build .`` uses it. It does three things:

1. **MathJax from the book itself, never from a CDN.** Sphinx loads MathJax from
   ``cdn.jsdelivr.net`` by default, so a reader offline sees raw TeX. MathJax 3
   is installed into the environment by ``requirements.txt`` (the PyPI wheel
   ``django-static-mathjax``, which only ships MathJax's files); when an HTML
   build starts, this extension copies MathJax's ``es5/`` folder (and its licence) to
   ``<output>/mathjax/`` and points ``mathjax_path`` at it. ``mathjax_path`` is
   resolved relative to ``_static/``, hence ``../mathjax/tex-chtml.js``. MathJax
   is not put under ``_static/``: Jupyter Book would add every ``.js`` file
   there to every page. Nothing of MathJax is committed to the repository.

2. **No duplicate inline scripts.** Jupyter Book 1.0.4's theme stack registers a
   few inline scripts twice (``const THEBE_JS_URL = ...`` and the togglebutton
   selector), and the second ``const`` declaration is a JavaScript error on every
   page ("Identifier 'THEBE_JS_URL' has already been declared"). Exact duplicates
   (same file or same inline body, same attributes) are dropped from each page's
   script list; the first copy stays where it was. (The cause: Sphinx 7.4 stores
   an inline script added after the builder started once with filename ``None``
   and once with ``""``, so its own de-duplication does not see the pair.)

3. **The single-page book builds** (``--builder singlehtml``, used by ``make pdf``).
   Sphinx looks up node visitors under the builder's name and falls back to the
   ``html`` ones only when nothing is registered under that name; sphinx-exercise
   registers visitors for ``singlehtml``, which hides every other extension's
   ``html`` visitors (myst-nb's hidden code cells fail with "unknown node type").
   The ``html`` visitors are added to any other HTML-format builder's table
   where it has none of its own.

4. **Glued numbers read like the math around them** (:class:`GluedNumbers`): a real
   minus sign, not bold ASCII.

5. **A few style rules of the book's own** (:data:`BOOK_CSS`), written into the built site.

6. **Incremental builds keep the references fresh** (:func:`reread_back_matter`). Without
   ``--all``, Sphinx reads only the pages whose sources changed, and the bibliography page
   lists the works *other* pages cite: when a chapter gains or loses a citation, the
   references page must be read and written again although its own source did not change.

7. **The chapters to take away** (:mod:`booktools.bundle`). When an HTML build starts, the
   library's wheel and the notebooks bundle are built into ``<output>/downloads/`` (again only
   when their inputs changed). The role ``{bookfile}`bundle``` (or ``wheel``; with a title:
   ``{bookfile}`the notebooks <bundle>```) links a page to one of them, and every chapter page
   gets one box, "Run this chapter yourself", saying how (:class:`BookDownloads`).

8. **Two editions** (:func:`set_edition_tag`): ``book_edition: student`` (set by
   :mod:`booktools.student`, which also removes the solutions from its copy of the sources)
   adds the Sphinx tag ``student``, so a page can say ``{only} student`` or ``{only} not student``.
"""

from __future__ import annotations

import posixpath
import re
import shutil
from pathlib import Path

from docutils import nodes
from sphinx.locale import _
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util import logging
from sphinx.util.docutils import ReferenceRole

from booktools import bundle, edition

logger = logging.getLogger(__name__)

#: Where MathJax goes inside the built site, and the entry point the pages load.
MATHJAX_DIR = "mathjax"
MATHJAX_PATH = f"../{MATHJAX_DIR}/tex-chtml.js"  # relative to _static/


def mathjax_source() -> Path:
    """The installed MathJax 3 ``es5/`` folder (from the ``django-static-mathjax`` wheel)."""
    try:
        import mathjax  # the wheel's top-level package: static files only, no Django import
    except ImportError as err:  # pragma: no cover - the environment always has it
        raise RuntimeError(
            "MathJax is not installed: run `make venv` (requirements.txt pins django-static-mathjax)"
        ) from err
    es5 = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"
    if not (es5 / "tex-chtml.js").is_file():
        raise RuntimeError(f"MathJax's tex-chtml.js not found under {es5}")
    return es5


def copy_mathjax(outdir: Path) -> Path:
    """Copy MathJax into ``outdir/mathjax`` unless the same version is already there."""
    source = mathjax_source()
    target = Path(outdir) / MATHJAX_DIR
    stamp = target / ".source"
    version = f"{source} {(source / 'tex-chtml.js').stat().st_size}"
    if stamp.is_file() and stamp.read_text(encoding="utf-8") == version:
        return target
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target)
    licence = source.parent / "LICENSE"
    if licence.is_file():
        shutil.copy(licence, target / "LICENSE")
    stamp.write_text(version, encoding="utf-8")
    return target


def inherit_html_visitors(app) -> None:
    """``builder-inited``: give another HTML-format builder the ``html`` visitors it lacks (3. above)."""
    if app.builder.format != "html" or app.builder.name == "html":
        return
    handlers = app.registry.translation_handlers
    own = handlers.get(app.builder.name)
    if own is not None:
        for node, visitors in handlers.get("html", {}).items():
            own.setdefault(node, visitors)


def site_root(config) -> str:
    """From this build's root up to the site's: ``book_site_root`` if set, else by its language
    (a translated edition shares the English edition's MathJax and downloads: booktools.edition)."""
    chosen = getattr(config, "book_site_root", None)
    return chosen if chosen is not None else edition.site_root(getattr(config, "language", None))


def use_local_mathjax(app, config) -> None:
    """``config-inited``: a ``mathjax_path`` on another host becomes the book's own copy (1. above)."""
    if config.mathjax_path and "://" in config.mathjax_path:
        config.mathjax_path = site_root(config) + MATHJAX_PATH


def _copy_mathjax(app) -> None:
    # Before the pages are written, so that Sphinx finds the file and adds its
    # checksum to the script URL (?v=...): a new MathJax is never a stale cached one.
    if app.builder.format != "html":
        return
    if site_root(app.config):  # a translated edition: the English edition's copy
        shared = Path(app.outdir) / site_root(app.config) / MATHJAX_DIR / "tex-chtml.js"
        if not shared.is_file():
            logger.warning(f"booktools: {shared} is missing: build the English edition first")
        return
    target = copy_mathjax(Path(app.outdir))
    logger.info(f"booktools: MathJax served from {target}")


def _script_key(script):
    # An inline script is registered with filename None by one code path and ""
    # by another (which is why Sphinx's own de-duplication misses it).
    filename = getattr(script, "filename", script) or ""
    attributes = getattr(script, "attributes", {})
    return str(filename), tuple(sorted(attributes.items()))


def drop_duplicate_scripts(app, pagename, templatename, context, doctree) -> None:
    """``html-page-context``: drop exact duplicates from the page's scripts, keeping the first (2. above)."""
    scripts = context.get("script_files")
    if not isinstance(scripts, list):
        return
    seen, unique = set(), []
    for script in scripts:
        key = _script_key(script)
        if key in seen:
            continue
        seen.add(key)
        unique.append(script)
    context["script_files"] = unique


#: A hyphen-minus that is a minus sign: at the start of a number, not inside a word or a range.
ASCII_MINUS = re.compile(r"(?<![\w.])-(?=\.?\d)")


def typeset_number(text: str) -> str:
    """A glued number as the surrounding math shows it: a real minus sign (U+2212) for the ASCII one.

    >>> typeset_number("(-113.4, -5.4, 11.34)")
    '(\u2212113.4, \u22125.4, 11.34)'
    >>> typeset_number("1e-08 and a-b")
    '1e-08 and a-b'
    """
    return ASCII_MINUS.sub("\u2212", text)


class GluedNumbers(SphinxPostTransform):
    """Numbers pasted into the prose by myst-nb's ``{glue:text}`` / ``{glue:}`` read like the math around them.

    myst-nb shows them as ``<span class="pasted-text">``, which its stylesheet sets in
    bold, with an ASCII hyphen for the minus sign. Here the minus becomes U+2212 and
    the class becomes ``glued-number`` (no bold): a glued value looks like any other
    number in the sentence.
    """

    default_priority = 900

    def run(self, **kwargs) -> None:
        for node in list(self.document.findall(nodes.inline)):
            if "pasted-text" not in node["classes"]:
                continue
            text = node.astext()
            node.children = [nodes.Text(typeset_number(text))]
            node["classes"] = [c for c in node["classes"] if c != "pasted-text"] + ["glued-number"]


#: The book's own few style rules, written to ``_static/booktools.css`` of every HTML build.
#: pydata-sphinx-theme clips inline math to its box (``span.math {overflow: hidden}``), so a
#: long formula in a narrow column (the two-column "원문 (the document)" boxes) is cut off:
#: let it scroll instead.
BOOK_CSS = """/* written by booktools.sphinx_ext */
.sd-dropdown span.math, .sd-card span.math { overflow-x: auto; overflow-y: hidden; }
/* Code lines of up to CODE_COLUMNS characters fit the content column at 1280 px (tests/test_browser.py). */
.bd-content div.highlight pre, .bd-content div.cell_output pre { font-size: 0.75rem; padding: 0.75rem; }
/* Figures carry their intended size (half their pixels: retina) as an inline style; where the column
   is narrower they shrink, keeping their proportions. */
.bd-content div.cell_output img { height: auto !important; }
/* A long inline name breaks rather than push a narrow page sideways. */
.bd-article code.docutils.literal, .bd-article code.docutils.literal span.pre { white-space: pre-wrap; overflow-wrap: anywhere; }
/* The language switch (booktools.edition) in the article header. */
.book-language-switch { display: flex; align-items: center; }
.book-language-switch a { font-size: 0.85rem; }
"""
#: The longest code line the book shows (tests/test_notebooks.py), and what BOOK_CSS makes fit at 1280 px.
CODE_COLUMNS = 88


def write_book_css(app, exception) -> None:
    """Write :data:`BOOK_CSS` into the built site (the page heads link it, see :func:`setup`)."""
    if exception is None and app.builder.format == "html":
        static = Path(app.outdir) / "_static"
        static.mkdir(parents=True, exist_ok=True)
        (static / "booktools.css").write_text(BOOK_CSS, encoding="utf-8")


def reread_back_matter(app, env, added, changed, removed):
    """``env-get-outdated``: when any page changed, read the pages holding a bibliography again too."""
    if not (added or changed or removed):
        return []
    cite = env.domaindata.get("cite", {})
    holders = {key.docname for key in cite.get("bibliographies", {})}
    return sorted(holders - set(removed))


#: Where the wheel and the notebooks bundle go inside the built site.
DOWNLOADS = "downloads"
#: The pages that are chapter notebooks, each of which gets the box "Run this chapter yourself".
CHAPTER_PREFIX = "chapters/"
#: The section of the first page that says how to run the chapters.
RUN_PAGE, RUN_ANCHOR = "intro", "run-it-yourself"


def build_downloads(app) -> None:
    """``builder-inited``: the wheel and the notebooks bundle in ``<output>/downloads`` (7. above)."""
    if app.builder.format == "html" and not site_root(app.config):
        built = bundle.ensure(Path(app.outdir) / DOWNLOADS, root=Path(app.srcdir))
        logger.info(f"booktools: {', '.join(p.name for p in built.values())} in {DOWNLOADS}/")


def download_file(target: str) -> str:
    """The file a ``{bookfile}`` target names: ``bundle`` or ``wheel``."""
    files = {"bundle": bundle.BUNDLE, "wheel": bundle.wheel_name()}
    if target not in files:
        raise ValueError(f"{{bookfile}} names {target!r}; it knows {', '.join(files)}")
    return files[target]


class book_download(nodes.Inline, nodes.TextElement):
    """A link to a file of ``<output>/downloads``, made relative to its page by :class:`BookDownloads`."""


class BookFileRole(ReferenceRole):
    """``{bookfile}`bundle``` or ``{bookfile}`title <wheel>```: a link to the bundle or the wheel."""

    def run(self):
        try:
            name = download_file(self.target)
        except ValueError as err:
            return [], [self.inliner.reporter.error(str(err), line=self.lineno)]
        title = self.title if self.has_explicit_title else name
        return [book_download(self.rawtext, "", nodes.literal(title, title) if not self.has_explicit_title
                              else nodes.Text(title), file=name)], []


def _mib(path: Path) -> str:
    return f"{path.stat().st_size / 2**20:.1f} MiB"


class BookDownloads(SphinxPostTransform):
    """Resolve ``{bookfile}`` links per page, and add the box "Run this chapter yourself" to chapter pages."""

    default_priority = 900
    formats = ("html",)

    def _base(self) -> str:
        if self.app.builder.name == "singlehtml":  # one page at the site's top
            return ""
        return posixpath.dirname(self.app.builder.get_target_uri(self.env.docname))

    def _downloads(self) -> str:
        # A translated edition links the English edition's files (one copy in the site).
        return f"{site_root(self.config)}{DOWNLOADS}"

    def _file_uri(self, name: str) -> str:
        return posixpath.relpath(f"{self._downloads()}/{name}", self._base() or ".")

    def _run_uri(self) -> str:
        if self.app.builder.name == "singlehtml":
            return f"#{RUN_ANCHOR}"
        return f"{self.app.builder.get_relative_uri(self.env.docname, RUN_PAGE)}#{RUN_ANCHOR}"

    def _reference(self, name: str, *children) -> nodes.reference:
        path = Path(self.app.outdir) / self._downloads() / name
        if not path.is_file():
            logger.warning(f"booktools: {self._downloads()}/{name} was not built", location=self.document)
        return nodes.reference("", "", *children, refuri=self._file_uri(name), classes=["book-download"])

    def run(self, **kwargs) -> None:
        for node in list(self.document.findall(book_download)):
            node.replace_self(self._reference(node["file"], *node.children))
        if self.env.docname.startswith(CHAPTER_PREFIX):
            self.add_run_box()

    def add_run_box(self) -> None:
        section = next(iter(self.document.findall(nodes.section)), None)
        if section is None:
            return
        notebook = f"{self.env.docname}.ipynb"
        archive = Path(self.app.outdir) / self._downloads() / bundle.BUNDLE
        size = f" ({_mib(archive)})" if archive.is_file() else ""
        box = nodes.admonition("", classes=["tip", "run-this-chapter"])
        box += nodes.title("", _("Run this chapter yourself"))
        box += nodes.paragraph("", "", *fill_template(
            _("Download the {bundle}{size}: every chapter with its outputs, the book's library metaopt, "
              "and a requirements file that installs what they need, pinned by its constraints.txt. "
              "Unzip it and, in its folder, run {install}, then {lab}. More in {more}."),
            bundle=self._reference(bundle.BUNDLE, nodes.Text(_("notebooks bundle"))),
            size=nodes.Text(size),
            install=nodes.literal("", "python -m pip install -r requirements.txt"),
            lab=nodes.literal("", f"jupyter lab {notebook}"),
            more=nodes.reference("", _("Run it yourself"), refuri=self._run_uri(), internal=True),
        ))
        # After the title and the paragraphs that open the chapter, before its first subsection.
        index = next((i for i, child in enumerate(section.children) if isinstance(child, nodes.section)),
                     len(section.children))
        section.insert(index, box)


def fill_template(template: str, **parts: nodes.Node) -> list[nodes.Node]:
    """A sentence from a (translated) template: each ``{name}`` becomes the node ``parts[name]``.

    A translation may put the parts in any order; it must use each exactly once.
    """
    pieces = re.split(r"\{(\w+)\}", str(template))
    names = pieces[1::2]
    if sorted(names) != sorted(parts):
        raise ValueError(f"the template {template!r} must use each of {sorted(parts)} once; it uses {names}")
    result = []
    for index, piece in enumerate(pieces):
        if index % 2:
            result.append(parts[piece])
        elif piece:
            result.append(nodes.Text(piece))
    return result


#: The editions ``book_edition`` (``_config.yml``, ``sphinx.config``) may name; ``student`` is
#: booktools.student's copy without solutions. The edition is a Sphinx tag, for ``{only} student``.
EDITIONS = ("full", "student")


def set_edition_tag(app, config) -> None:
    """``config-inited``: the tag ``student`` in the student edition (8. above)."""
    if config.book_edition not in EDITIONS:
        raise ValueError(f"book_edition must be one of {', '.join(EDITIONS)}; got {config.book_edition!r}")
    if config.book_edition == "student":
        app.tags.add("student")


def setup(app):
    app.add_config_value("book_edition", "full", "env")
    # "" for a build that stands alone (the Korean PDF's single page); unset: by the language
    app.add_config_value("book_site_root", None, "html", types=[str, type(None)])
    app.connect("config-inited", set_edition_tag)
    app.setup_extension("sphinx.ext.mathjax")
    app.setup_extension("booktools.explorables")  # interactive figures, computed in the page
    app.setup_extension("booktools.edition")  # the translated editions: switch, search, titles, alt texts
    app.connect("config-inited", use_local_mathjax)
    # Late priority: after every other extension has added its scripts to the page.
    app.connect("html-page-context", drop_duplicate_scripts, priority=900)
    app.connect("builder-inited", _copy_mathjax)
    app.connect("builder-inited", inherit_html_visitors)
    app.add_post_transform(GluedNumbers)
    app.add_css_file("booktools.css")
    app.connect("build-finished", write_book_css)
    app.connect("env-get-outdated", reread_back_matter)
    app.connect("builder-inited", build_downloads)
    app.add_role("bookfile", BookFileRole())
    app.add_node(book_download)
    app.add_post_transform(BookDownloads)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
