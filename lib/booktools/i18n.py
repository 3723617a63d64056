"""The Korean edition (한국어판): the same sources, translated through Sphinx's gettext catalogs.

One source, two editions. The English book is written in the notebooks and markdown pages;
Sphinx's ``gettext`` builder extracts every translatable message (each paragraph, heading,
list item, caption, admonition, exercise and glossary entry, as its MyST source) into one
``.pot`` template per page, and ``sphinx-intl`` keeps one catalog per page,
``locales/ko/LC_MESSAGES/<page>.po``, in step with them. The Korean edition is the same
Sphinx build with ``language: ko``: Sphinx replaces each message by its translation while it
reads the page, so the code cells, their stored outputs and every glued number are shared
with the English edition (nbval checks them once).

Commands (``make`` runs them; see the README):

``python -m booktools.i18n update``
    Extract the messages again (``_build/i18n``) and update the catalogs with
    ``sphinx-intl update``: a new message arrives untranslated, a changed one fuzzy.
``python -m booktools.i18n build [--strict | --fresh]``
    Build the Korean edition into ``_build/html/ko/`` (after the English one, which it
    shares MathJax and the downloads with).
``python -m booktools.i18n pdf``
    The Korean edition as one PDF, ``_build/pdf/book-ko.pdf`` (``make pdf`` prints both).
``python -m booktools.i18n status``
    Per page: messages, translated, untranslated, fuzzy, and messages of the English source
    that the catalog does not have (stale); exit status 1 unless everything is translated.

The interface strings that are not the pages' own (the theme's, and those of this book's
Sphinx extensions) are translated in ``locales/ko/LC_MESSAGES/sphinx.po``, the catalog Sphinx
itself reads before its own and the theme's (pydata-sphinx-theme has no Korean).
"""

from __future__ import annotations

import subprocess
import sys
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: The catalogs, one folder per language: ``locales/<lang>/LC_MESSAGES/<page>.po``.
LOCALES = "locales"
#: The translated editions. English is the source; each of these is built into ``_build/html/<lang>/``.
LANGUAGES = ("ko",)
#: Where the English edition is built, and so where the site's root is.
SITE = Path("_build") / "html"
#: Where the message templates (``.pot``) are extracted to.
TEMPLATES = Path("_build") / "i18n"
#: The catalog of interface strings (the theme's and the book's extensions'), not a page's.
INTERFACE_CATALOG = "sphinx"

#: What differs in each translated edition's configuration, besides ``language``.
EDITION_CONFIG = {
    "ko": {
        "project": "경사 하강법으로 학습하는 법을 학습하기: 한 예제를 정확하게",
        "html_title": "경사 하강법으로 학습하는 법을 학습하기: 한 예제를 정확하게",
        "author": "metaopt 책의 저자들",
        "html_theme_options": {"search_bar_text": "이 책에서 검색..."},
        # myst-nb's toggles of hidden code cells, and sphinx-togglebutton's hints
        "nb_code_prompt_show": "코드 셀 보기",
        "nb_code_prompt_hide": "코드 셀 숨기기",
        "togglebutton_hint": "클릭하여 보기",
        "togglebutton_hint_hide": "클릭하여 숨기기",
    },
}


def edition_dir(language: str, root: Path = ROOT) -> Path:
    """Where an edition's HTML goes: the site's root for English, ``<lang>/`` under it otherwise."""
    return root / SITE if language == "en" else root / SITE / language


def _check_language(language: str) -> None:
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {', '.join(LANGUAGES)}; got {language!r}")


def extract(root: Path = ROOT) -> Path:
    """Run Sphinx's gettext builder over the sources; return the folder of ``.pot`` templates."""
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    output = root / TEMPLATES
    if output.exists():  # a page removed or renamed must not leave its old template behind
        import shutil

        shutil.rmtree(output)
    command = [str(jupyter_book), "build", str(root), "--builder", "custom", "--custom-builder",
               "gettext", "--path-output", str(output), "--all", "-W", "--keep-going"]
    done = subprocess.run(command, capture_output=True, text=True, cwd=root)
    if done.returncode != 0:
        raise RuntimeError(f"extracting the messages failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
    return output / "_build" / "gettext"


def update(root: Path = ROOT, pages: list[str] | None = None) -> Path:
    """Extract the messages and bring every language's page catalogs in step with them.

    ``pages`` (``["chapters/01_setup", ...]``) limits the update to those pages' catalogs. The
    interface catalog (``sphinx.po``) is kept by hand and left alone.
    """
    import shutil
    import tempfile

    templates = extract(root)
    with tempfile.TemporaryDirectory() as folder:
        for pot in templates.rglob("*.pot"):
            page = pot.relative_to(templates).with_suffix("").as_posix()
            if page != INTERFACE_CATALOG and (pages is None or page in pages):
                (Path(folder) / pot.relative_to(templates)).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(pot, Path(folder) / pot.relative_to(templates))
        for language in LANGUAGES:
            command = [sys.executable, "-m", "sphinx_intl", "update", "-p", folder,
                       "-d", str(root / LOCALES), "-l", language, "-w", "0"]
            done = subprocess.run(command, capture_output=True, text=True, cwd=root)
            if done.returncode != 0:
                raise RuntimeError(f"sphinx-intl update failed:\n{done.stdout}\n{done.stderr}")
    return templates


def build(language: str = "ko", root: Path = ROOT, strict: bool = False, fresh: bool = False) -> Path:
    """Build one translated edition into ``_build/html/<language>/``; return that folder.

    ``strict``: every warning is an error, and every page is read again (as ``fresh``).
    """
    _check_language(language)
    from jupyter_book.sphinx import build_sphinx

    output = edition_dir(language, root)
    # Sphinx re-reads a page when its own catalog changed, but rewrites no page when only the
    # interface catalog, a template or the book's extensions changed: those make it a fresh build.
    stamp = root / "_build" / language / ".interface"
    interface = _interface_hash(language, root)
    fresh = fresh or not stamp.is_file() or stamp.read_text(encoding="utf-8") != interface
    overrides = {"language": language, "latex_individualpages": False,
                 **EDITION_CONFIG.get(language, {})}
    if strict:
        overrides["nitpicky"] = True
    result = build_sphinx(root, output, noconfig=True, path_config=str(root / "_config.yml"),
                          confoverrides=overrides, doctreedir=root / "_build" / language / ".doctrees",
                          builder="html", warningiserror=strict, keep_going=strict, freshenv=strict or fresh,
                          quiet=True)
    if result != 0:
        raise RuntimeError(f"the {language} edition did not build (exit status {result}); see the warnings above")
    stamp.write_text(interface, encoding="utf-8")
    return output


def _interface_hash(language: str, root: Path) -> str:
    import hashlib

    from booktools.edition import TEMPLATES

    digest = hashlib.sha256()
    catalog = root / LOCALES / language / "LC_MESSAGES" / f"{INTERFACE_CATALOG}.po"
    # the book's Sphinx extensions too: they translate what Sphinx does not (booktools.edition)
    code = sorted(Path(__file__).parent.glob("*.py")) + sorted((Path(__file__).parent / "static").glob("*"))
    for path in [catalog, *sorted(Path(TEMPLATES).glob("*.html")), *code]:
        digest.update(path.name.encode() + (path.read_bytes() if path.is_file() else b""))
    return digest.hexdigest()


def code_strings() -> list[str]:
    """The interface strings of the book's own code: each ``_("...")`` of the booktools modules
    (read with :mod:`ast`) and every word of the explorables (:func:`booktools.explorables.strings`)."""
    import ast

    from booktools import explorables

    found = []
    for module in sorted(Path(__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "_"
                    and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                found.append(node.args[0].value)
    found += explorables.strings()
    return list(dict.fromkeys(found))


def build_single_page(language: str = "ko", root: Path = ROOT, output: Path | None = None,
                      doctrees: Path | None = None) -> Path:
    """The translated edition as one page (for its PDF), standing alone in ``_build/<lang>/singlehtml``.

    It starts from the edition's HTML build's doctrees (``_build/<lang>/.doctrees``), so it reads
    no page again when they are fresh; the notebooks' outputs are taken from beside them.
    """
    _check_language(language)
    from jupyter_book.sphinx import build_sphinx

    output = output or root / "_build" / language / "singlehtml"
    doctrees = doctrees or root / "_build" / language / ".doctrees"
    overrides = {"language": language, "latex_individualpages": False, "nitpicky": True,
                 "book_site_root": "", **EDITION_CONFIG.get(language, {})}
    result = build_sphinx(root, output, noconfig=True, path_config=str(root / "_config.yml"),
                          confoverrides=overrides, doctreedir=doctrees,
                          builder="singlehtml", warningiserror=True, keep_going=True, quiet=True)
    if result != 0:
        raise RuntimeError(f"the {language} single page did not build (exit status {result})")
    return output


@dataclass
class CatalogStatus:
    """How far one page's catalog is from its English source."""

    page: str
    messages: int = 0
    untranslated: list[str] = field(default_factory=list)
    fuzzy: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)     # in the source, not in the catalog
    obsolete: list[str] = field(default_factory=list)  # in the catalog, no longer in the source

    @property
    def complete(self) -> bool:
        return not (self.untranslated or self.fuzzy or self.stale or self.obsolete)


def _messages(path: Path):
    from babel.messages.pofile import read_po

    with path.open("rb") as handle:
        return read_po(handle)


def translations(page: str = INTERFACE_CATALOG, language: str = "ko", root: Path = ROOT) -> dict[str, str]:
    """Every translated message of one catalog (a page's, or the interface's), English to translation."""
    path = root / LOCALES / language / "LC_MESSAGES" / f"{page}.po"
    return {m.id: m.string for m in _messages(path) if m.id and m.string}


def status(language: str = "ko", root: Path = ROOT, templates: Path | None = None) -> list[CatalogStatus]:
    """Compare every page's template with its catalog (extracting the templates unless given)."""
    _check_language(language)
    templates = templates or extract(root)
    catalogs = root / LOCALES / language / "LC_MESSAGES"
    report = []
    pots = sorted(templates.rglob("*.pot"))
    pages = {pot.relative_to(templates).with_suffix("").as_posix() for pot in pots}
    for pot in pots:
        page = pot.relative_to(templates).with_suffix("").as_posix()
        source = {m.id for m in _messages(pot) if m.id}
        if page == INTERFACE_CATALOG:  # the templates' strings, and those of the book's own code
            source |= set(code_strings())
        entry = CatalogStatus(page, messages=len(source))
        po = catalogs / f"{page}.po"
        translated = _messages(po) if po.is_file() else []
        have = {}
        for message in translated:
            if message.id:
                have[message.id] = message
        for msgid in sorted(source):
            message = have.get(msgid)
            if message is None:
                entry.stale.append(msgid)
            elif message.fuzzy:
                entry.fuzzy.append(msgid)
            elif not message.string:
                entry.untranslated.append(msgid)
        # The interface catalog also translates the theme's strings, which no page template holds.
        entry.obsolete = [] if page == INTERFACE_CATALOG else sorted(set(have) - source)
        report.append(entry)
    for po in sorted(catalogs.rglob("*.po")):
        page = po.relative_to(catalogs).with_suffix("").as_posix()
        if page not in pages and page != INTERFACE_CATALOG:
            report.append(CatalogStatus(page, obsolete=["(the whole catalog: no such page)"]))
    return report


#: An inline role, ``{name}`content```; a title may precede the target: ``{term}`title <target>```.
ROLE = re.compile(r"\{(?P<name>[a-z][\w:-]*)\}`(?P<content>[^`]+)`")
#: Inline math, ``$...$`` or ``$$...$$`` (a ``\$`` inside is a dollar sign, not an end).
MATH = re.compile(r"\$\$.+?\$\$|\$(?:[^$\\]|\\.)+\$", re.S)
#: Inline code, and the address of a markdown link or image.
CODE = re.compile(r"(?<![}`])`[^`]+`")
LINK = re.compile(r"\]\(([^)\s]+)\)")
TITLED = re.compile(r"^(?P<title>.*?)\s*<(?P<target>[^<>]+)>$", re.S)


def preserved(text: str) -> Counter:
    """What a translation must keep exactly: math, code, link addresses, each role with its target.

    A role's title may be translated (``{term}`역전파 <backpropagation>```); its name and target
    may not (a glued value may be its edition's, :func:`_edition_neutral`), and a role without a title keeps its whole content (a glued value's key and format,
    a reference's label). A role without a title whose target is words (``{term}`optimizee```)
    may be given one in the translation: only the target counts.
    """
    found: Counter = Counter()
    rest = text
    for match in ROLE.finditer(text):
        titled = TITLED.match(match["content"])
        target = titled["target"] if titled else match["content"]
        if match["name"].startswith("glue"):
            target = _edition_neutral(target)
        found[f"{{{match['name']}}}`{target}`"] += 1
    rest = ROLE.sub(" ", rest)
    for match in MATH.finditer(rest):
        found[match.group(0)] += 1
    rest = MATH.sub(" ", rest)
    for match in CODE.finditer(rest):
        found[match.group(0)] += 1
    for match in LINK.finditer(rest):
        found[f"]({match.group(1)})"] += 1
    return found


def _edition_neutral(glued: str) -> str:
    """A glued value's key without its edition: ``fwd_word_ko`` stands for ``fwd_word``.

    A notebook glues a word the data chooses (``faster``, ``slower``) once for each edition;
    the Korean translation quotes ``{glue:}`fwd_word_ko``` where the English says ``{glue:}`fwd_word```.
    """
    key, colon, spec = glued.partition(":")
    for language in LANGUAGES:
        key = key.removesuffix(f"_{language}")
    return key + colon + spec


def reads_as_one_paragraph(text: str) -> bool:
    """Whether markdown reads ``text`` as one paragraph, as Sphinx needs a translation to.

    Sphinx parses each translated message on its own and silently keeps the source text when
    the result is not a paragraph: a translated heading "2. 1단계: 내부 루프" reads as a
    numbered list (write ``2\\. 1단계``), a message starting with "- " or "# " as a list or
    a heading.
    """
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").parse(text)
    return bool(tokens) and tokens[0].type == "paragraph_open" and tokens[-1].type == "paragraph_close" \
        and sum(token.type == "paragraph_open" for token in tokens) == 1


def markup_problems(msgid: str, msgstr: str) -> list[str]:
    """How a translation differs from its source in what it must keep (empty when it keeps all)."""
    if not msgstr:
        return []
    if msgstr != msgid and not reads_as_one_paragraph(msgstr):
        return [f"Sphinx would not use it: it does not read as one paragraph (a heading starting "
                f"with a number needs 2\\. ...): {msgstr[:60]!r}"]
    source, translated = preserved(msgid), preserved(msgstr)
    problems = [f"missing «{token}»" + (f" (x{n})" if n > 1 else "")
                for token, n in (source - translated).items()]
    problems += [f"not in the source «{token}»" + (f" (x{n})" if n > 1 else "")
                 for token, n in (translated - source).items()]
    return problems


def catalog_path(page: str, language: str = "ko", root: Path = ROOT) -> Path:
    path = root / LOCALES / language / "LC_MESSAGES" / f"{page}.po"
    if not path.is_file():
        raise FileNotFoundError(f"no catalog {path.relative_to(root)}: run `python -m booktools.i18n update`")
    return path


def _write(catalog, path: Path) -> None:
    from babel.messages.pofile import write_po

    with path.open("wb") as handle:
        write_po(handle, catalog, width=0, omit_header=False)


def todo(page: str, language: str = "ko", root: Path = ROOT) -> list[dict]:
    """The messages of a page still to translate (untranslated or fuzzy), as ``{"id", "str"}``."""
    catalog = _messages(catalog_path(page, language, root))
    return [{"id": m.id, "str": m.string if m.fuzzy else ""} for m in catalog
            if m.id and (m.fuzzy or not m.string)]


def fill(page: str, translations: list[dict], language: str = "ko", root: Path = ROOT) -> list[str]:
    """Store translations (``[{"id": source, "str": translation}, ...]``) in a page's catalog.

    Every translation is checked with :func:`markup_problems` first; nothing is written unless
    all pass and every ``id`` is a message of the page. Returns the problems found.
    """
    path = catalog_path(page, language, root)
    catalog = _messages(path)
    problems = []
    for item in translations:
        message = catalog.get(item["id"])
        if message is None or not item["id"]:
            problems.append(f"not a message of {page}: {item['id'][:80]!r}")
            continue
        problems += [f"{item['id'][:60]!r}: {p}" for p in markup_problems(item["id"], item["str"])]
    if problems:
        return problems
    for item in translations:
        message = catalog.get(item["id"])
        message.string = item["str"]
        message.flags.discard("fuzzy")
        message.previous_id = []
    _write(catalog, path)
    return []


def check(language: str = "ko", root: Path = ROOT) -> list[str]:
    """Every stored translation that does not keep its source's markup (see :func:`preserved`)."""
    problems = []
    for path in sorted((root / LOCALES / language / "LC_MESSAGES").rglob("*.po")):
        page = path.relative_to(root / LOCALES / language / "LC_MESSAGES").with_suffix("").as_posix()
        for message in _messages(path):
            if message.id and message.string:
                problems += [f"{page}: {message.id[:60]!r}: {p}"
                             for p in markup_problems(message.id, message.string)]
    return problems


def main(argv: list[str]) -> int:
    usage = ("usage: python -m booktools.i18n update | build [--strict|--fresh] | pdf | status | check\n"
             "       python -m booktools.i18n todo PAGE > FILE.json   (PAGE: chapters/01_setup, glossary, ...)\n"
             "       python -m booktools.i18n dump PAGE > FILE.json   (every message, translated or not)\n"
             "       python -m booktools.i18n fill PAGE FILE.json")
    if not argv:
        print(usage, file=sys.stderr)
        return 2
    command, options = argv[0], argv[1:]
    if command == "update" and not options:
        templates = update()
        print(f"catalogs updated in {LOCALES}/ from {templates.relative_to(ROOT)}")
        return 0
    if command == "build" and options in ([], ["--strict"], ["--fresh"]):
        for language in LANGUAGES:
            html = build(language, strict=options == ["--strict"], fresh=options == ["--fresh"])
            print(f"{language} edition built into {html.relative_to(ROOT)}")
        return 0
    if command == "pdf" and not options:
        for language in LANGUAGES:
            from booktools import pdf

            out = ROOT / "_build" / "pdf" / f"book-{language}.pdf"
            status_code = pdf.main([str(build_single_page(language)), str(out)])
            if status_code:
                return status_code
        return 0
    if command == "status" and not options:
        complete = True
        for language in LANGUAGES:
            for entry in status(language):
                counts = (f"{entry.messages:4d} messages, {len(entry.untranslated):4d} untranslated, "
                          f"{len(entry.fuzzy):3d} fuzzy, {len(entry.stale):3d} stale, {len(entry.obsolete):3d} obsolete")
                print(f"{language} {entry.page:28s} {counts}")
                complete &= entry.complete
        return 0 if complete else 1
    if command == "check" and not options:
        problems = [p for language in LANGUAGES for p in check(language)]
        print("\n".join(problems) or "every translation keeps its source's math, code, links and roles")
        return 1 if problems else 0
    if command == "dump" and len(options) == 1:
        catalog = _messages(catalog_path(options[0]))
        print(json.dumps([{"id": m.id, "str": m.string} for m in catalog if m.id], ensure_ascii=False, indent=1))
        return 0
    if command == "todo" and len(options) == 1:
        print(json.dumps(todo(options[0]), ensure_ascii=False, indent=1))
        return 0
    if command == "fill" and len(options) == 2:
        items = json.loads(Path(options[1]).read_text(encoding="utf-8"))
        problems = fill(options[0], [item for item in items if item.get("str")])
        if problems:
            print("nothing written; fix these first:\n" + "\n".join(problems), file=sys.stderr)
            return 1
        left = len(todo(options[0]))
        print(f"{options[0]}: {sum(1 for item in items if item.get('str'))} stored, {left} left to translate")
        return 0
    print(usage, file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
