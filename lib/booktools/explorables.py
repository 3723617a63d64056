"""Explorables: figures the reader moves, computed in the static HTML page (no kernel, no network).

A chapter writes, after the static figure that the explorable extends::

    :::{explorable} worked-example
    :parts: full
    :::

and the HTML page gets a hidden ``<div class="explorable">`` holding the explorable's
configuration as JSON, computed from :mod:`metaopt` when the book is built (the document's
values, the learned phi of chapter 5, the book's colours): one source for every number.
``static/explorables.js`` builds the controls, readouts and plots when the page loads, with
the arithmetic of ``static/explorable_math.js`` and plots drawn by plotly.js. plotly.js comes
from npm (``package.json``, installed by ``make venv`` with ``npm ci``) and is copied into the
site's ``_static/explorables/`` at build time; only pages with an explorable load it.

Without JavaScript, and in other builders (the PDF prints the HTML, where print CSS hides the
explorable), the static figure is what the page shows.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.errors import ExtensionError
from sphinx.util.docutils import SphinxDirective

ROOT = Path(__file__).resolve().parents[2]
STATIC = Path(__file__).resolve().parent / "static"
#: plotly.js's cartesian bundle (scatter, heatmap, contour, ...): 1.5 MB, 0.5 MB gzipped.
PLOTLY = ROOT / "node_modules" / "plotly.js-cartesian-dist-min" / "plotly-cartesian.min.js"
#: Where the files go, under the site's ``_static/``, and the order the page loads them in.
FOLDER = "explorables"
SCRIPTS = (PLOTLY.name, "explorable_math.js", "explorables.js")
STYLES = ("explorables.css",)
#: The meta step size ranges of the worked example's eta slider: (top, slider step).
ETA_RANGES = ((0.012, 0.00001), (0.14, 0.0001))
#: Samples of eta per range in the page's search for the intervals that help.
SAMPLES = 2000


def _colors() -> dict:
    from metaopt.plotting import COLORS

    return {key: COLORS[key] for key in ("theta", "true", "assumed", "old", "learned")}


def worked_example(options: dict) -> dict:
    """Chapters 2 and 3: the document's phi, theta0, theta*, T, eta and assumed gradient."""
    from metaopt import ASSUMED_GRADIENT, ETA, PHI_OLD, STEPS, THETA0, THETA_STAR

    return {"parts": options.get("parts", "inner"), "phi": list(PHI_OLD), "theta0": THETA0,
            "thetaStar": THETA_STAR, "steps": STEPS, "eta": ETA, "assumed": list(ASSUMED_GRADIENT),
            "etaRanges": [list(r) for r in ETA_RANGES], "samples": SAMPLES, "colors": _colors()}


def convergence_map(options: dict) -> dict:
    """Chapter 5: phi_old, the learned phi (chapter 4's 100 meta-steps) and the document's one step."""
    from metaopt import ASSUMED_GRADIENT, ETA, ETA_TRAIN, PHI_OLD, STEPS, THETA0, THETA_STAR
    from metaopt import meta_step, meta_train

    learned = meta_train(PHI_OLD, eta=ETA_TRAIN, iterations=100, theta0=THETA0, theta_star=THETA_STAR,
                         steps=STEPS).phi[-1]
    return {"phi": list(PHI_OLD), "learned": [float(p) for p in learned],
            "assumedStep": [float(p) for p in meta_step(PHI_OLD, grad=ASSUMED_GRADIENT, eta=ETA)],
            "theta0": THETA0, "thetaStar": THETA_STAR, "steps": STEPS, "colors": _colors()}


def meta_training(options: dict) -> dict:
    """Chapter 6: meta-training from phi_old, starting at chapter 4's meta step size and 300 meta-steps."""
    from metaopt import ETA_TRAIN, PHI_OLD, STEPS, THETA0, THETA_STAR

    return {"phi": list(PHI_OLD), "eta": ETA_TRAIN, "iterations": 300, "theta0": THETA0, "thetaStar": THETA_STAR,
            "steps": STEPS, "colors": _colors()}


#: A call ``t("...")`` or ``tf("...", {...})`` in explorables.js: the words it shows, in English
#: (a string may be split over lines with ``+``).
_CALL = re.compile(r'\btf?\(\s*("(?:[^"\\]|\\.)*"(?:\s*\+\s*"(?:[^"\\]|\\.)*")*)')
_PIECE = re.compile(r'"(?:[^"\\]|\\.)*"')


def strings() -> list[str]:
    """Every English string the explorables show (each ``t()`` and ``tf()`` of explorables.js)."""
    source = (STATIC / "explorables.js").read_text(encoding="utf-8")
    found = []
    for call in _CALL.finditer(source):
        text = "".join(json.loads(piece) for piece in _PIECE.findall(call.group(1)))
        if text not in found:
            found.append(text)
    return found


def translated_strings() -> dict:
    """The explorables' words in the edition's language (the interface catalog, ``sphinx.po``)."""
    from sphinx.locale import _

    pairs = {english: str(_(english)) for english in strings()}
    return {english: text for english, text in pairs.items() if text != english}


KINDS = {"worked-example": worked_example, "convergence-map": convergence_map, "meta-training": meta_training}


class explorable(nodes.General, nodes.Element):
    """A placeholder the HTML writer turns into the explorable's hidden div."""


class Explorable(SphinxDirective):
    required_arguments = 1
    option_spec = {"parts": lambda value: directives.choice(value, ("inner", "full"))}

    def run(self):
        kind = self.arguments[0]
        if kind not in KINDS:
            raise self.error(f"unknown explorable {kind!r}: one of {', '.join(KINDS)}")
        config = KINDS[kind](self.options)
        if self.config.language != "en":  # the explorables' words in a translated edition
            config["strings"] = translated_strings()
        node = explorable(kind=kind, config=config)
        self.set_source_info(node)
        return [node]


def visit_html(self, node) -> None:
    config = json.dumps(node["config"], separators=(",", ":"))
    self.body.append(f'<div class="explorable" data-explorable="{node["kind"]}" '
                     f'data-config="{self.attval(config)}" hidden></div>\n')
    raise nodes.SkipNode


def skip(self, node) -> None:
    raise nodes.SkipNode


def copy_static(outdir: Path) -> Path:
    """Copy plotly.js and the explorables' own files into ``outdir/_static/explorables``."""
    if not PLOTLY.is_file():
        raise ExtensionError(f"plotly.js is not installed ({PLOTLY.relative_to(ROOT)} is missing): "
                             "run `make venv`, which runs `npm ci` (package.json pins it)")
    target = outdir / "_static" / FOLDER
    target.mkdir(parents=True, exist_ok=True)
    for source in [PLOTLY] + [STATIC / name for name in SCRIPTS[1:] + STYLES]:
        copy = target / source.name
        if not copy.exists() or _digest(copy) != _digest(source):
            shutil.copyfile(source, copy)
    return target


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _copy_static(app) -> None:
    if app.builder.format == "html":
        copy_static(Path(app.outdir))


def add_page_assets(app, pagename, templatename, context, doctree) -> None:
    """Only a page with an explorable loads plotly.js and the explorables' scripts."""
    if doctree is None or doctree.next_node(explorable) is None:
        return
    for name in SCRIPTS:
        app.add_js_file(f"{FOLDER}/{name}")
    for name in STYLES:
        app.add_css_file(f"{FOLDER}/{name}")


def setup(app) -> None:
    app.add_node(explorable, html=(visit_html, None), latex=(skip, None), text=(skip, None),
                 man=(skip, None), texinfo=(skip, None))
    app.add_directive("explorable", Explorable)
    app.connect("builder-inited", _copy_static)
    app.connect("html-page-context", add_page_assets)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
