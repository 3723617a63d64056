"""The book's Sphinx extension, booktools.sphinx_ext, piece by piece.

The browser tests check its effect on the built book (math offline, no
console error, the PDF builds); these check each piece on its own.
"""

import filecmp
from types import SimpleNamespace

from sphinx.builders.html._assets import _JavaScript

from booktools import sphinx_ext


def test_duplicate_inline_scripts_dropped_first_kept():
    # Sphinx registers an inline script once with filename None and once with "".
    scripts = [
        _JavaScript("doctools.js"),
        _JavaScript(None, body="const THEBE_JS_URL = 1"),
        _JavaScript("a.js", **{"async": "async"}),
        _JavaScript("", body="const THEBE_JS_URL = 1"),
        _JavaScript("a.js"),  # same file, other attributes: kept
        _JavaScript("doctools.js", priority=200),  # same file, other priority: a duplicate
    ]
    context = {"script_files": list(scripts)}
    sphinx_ext.drop_duplicate_scripts(None, "page", "page.html", context, None)
    assert context["script_files"] == [scripts[0], scripts[1], scripts[2], scripts[4]]


def test_mathjax_copied_once_with_licence(tmp_path):
    source = sphinx_ext.mathjax_source()
    target = sphinx_ext.copy_mathjax(tmp_path)
    assert target == tmp_path / "mathjax"
    assert filecmp.cmp(source / "tex-chtml.js", target / "tex-chtml.js", shallow=False)
    assert (target / "output" / "chtml" / "fonts" / "woff-v2").is_dir(), "MathJax's fonts must come along"
    assert "Apache" in (target / "LICENSE").read_text(encoding="utf-8")
    marker = target / "marker"
    marker.write_text("left alone")
    sphinx_ext.copy_mathjax(tmp_path)  # same version already there: nothing copied again
    assert marker.exists()
    (target / ".source").write_text("another version")
    sphinx_ext.copy_mathjax(tmp_path)  # another version: replaced
    assert not marker.exists() and (target / "tex-chtml.js").is_file()


def test_mathjax_path_local_unless_set_locally():
    cdn = SimpleNamespace(mathjax_path="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js")
    sphinx_ext.use_local_mathjax(None, cdn)
    assert cdn.mathjax_path == "../mathjax/tex-chtml.js"
    own = SimpleNamespace(mathjax_path="../my/mathjax.js")
    sphinx_ext.use_local_mathjax(None, own)
    assert own.mathjax_path == "../my/mathjax.js"


def test_other_html_builders_get_the_html_visitors():
    html = {"A": ("visit_a", "depart_a"), "B": ("visit_b", "depart_b")}
    single = {"B": ("own_b", "own_depart_b")}
    registry = SimpleNamespace(translation_handlers={"html": html, "singlehtml": single})
    app = SimpleNamespace(builder=SimpleNamespace(name="singlehtml", format="html"), registry=registry)
    sphinx_ext.inherit_html_visitors(app)
    assert single == {"A": ("visit_a", "depart_a"), "B": ("own_b", "own_depart_b")}
    assert html == {"A": ("visit_a", "depart_a"), "B": ("visit_b", "depart_b")}


def test_references_page_read_again_when_any_page_changes():
    """An incremental build re-reads the pages holding a bibliography whenever some page changed
    (they list what the others cite), and nothing when nothing changed."""
    from sphinxcontrib.bibtex.directives import BibliographyKey

    keys = {BibliographyKey(docname="references", id_="bibliography-id0"): None,
            BibliographyKey(docname="appendix/more", id_="bibliography-id1"): None}
    env = SimpleNamespace(domaindata={"cite": {"bibliographies": keys}})
    reread = sphinx_ext.reread_back_matter
    assert reread(None, env, set(), set(), set()) == []
    assert reread(None, env, set(), {"chapters/03_outer_loop"}, set()) == ["appendix/more", "references"]
    assert reread(None, env, {"chapters/12_new"}, set(), set()) == ["appendix/more", "references"]
    assert reread(None, env, set(), set(), {"appendix/more"}) == ["references"]
    assert reread(None, SimpleNamespace(domaindata={}), set(), {"intro"}, set()) == []
