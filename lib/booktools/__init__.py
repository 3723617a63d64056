"""booktools: the tools that build, check and print the book. Readers of the book never need them.

The book's library is ``metaopt`` (numpy and sympy only); this package holds
what the build and the tests use around it, and is installed beside it from
the same distribution (``pip install "metaopt[tools]"`` adds its dependencies;
``requirements.txt`` installs everything):

- ``booktools.sphinx_ext``: the Sphinx extension listed in ``_config.yml``
  (MathJax served by the book itself, no duplicated scripts, the single-page builder);
- ``booktools.browser``: headless Chromium on the built book, offline
  (shared by ``tests/test_browser.py`` and ``make pdf``);
- ``booktools.pdf``: ``make pdf``, the whole book as one PDF;
- ``booktools.execute``: ``make execute``, re-run the notebooks and store their outputs.

Nothing in ``metaopt`` imports this package.
"""
