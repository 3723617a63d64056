"""Shared setup for the metaopt test suite.

The independent reference implementation lives in ``reference.py`` next to this
file; this conftest only makes it importable (``tests/`` is not a package).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# The longest files first (seconds from `pytest --durations=0`, 2 cores, 2026-12-02): with
# pytest-xdist's --dist loadfile each file runs whole on one worker, and a long file handed out
# last leaves the other worker idle until it ends (make test passes --no-loadscope-reorder, or
# xdist would hand out the files with the most tests first). Only the order of the files changes.
LONGEST_FIRST = (
    "tests/test_bundle.py",  # ~130 s, most of it pip filling a fresh environment
    "chapters/11_digits.ipynb",  # ~100 s
    "tests/test_browser.py",  # ~70 s (every page at 1280 px and at 400 px)
    "tests/test_explorables.py",  # ~60 s (the explorables operated in the browser; sympy checks intervals)
    "tests/test_pdf.py",  # ~40 s
    "chapters/10_lstm_optimizer.ipynb",  # ~35 s
    "tests/test_digits.py",  # ~35 s
    "tests/test_promise.py",  # ~30 s
    "tests/test_properties.py",  # ~25 s
    "tests/test_fuzz.py",  # ~30 s
    "tests/test_student.py",  # ~25 s (a strict build of the student edition)
    "tests/test_policy.py",
    "tests/test_lstm.py",
    "chapters/09_autodiff.ipynb",
    "tests/test_packaging.py",
)


def pytest_collection_modifyitems(session, config, items):
    rank = {name: k for k, name in enumerate(LONGEST_FIRST)}
    root = str(config.rootpath)

    def file_rank(item):
        rel = os.path.relpath(str(item.path), root).replace(os.sep, "/")
        return rank.get(rel, len(rank))

    items.sort(key=file_rank)  # stable: within a file, and among the rest, the collected order


def _compare_no_glued_image_as_text() -> None:
    """nbval compares no picture as text: ``image/png`` is in its own list of what it skips. A glued
    picture (``metaopt.plotting.korean_twin``: each figure again, with Korean words) has the same
    bytes under a prefixed key, ``application/papermill.record/image/png``, which it skips here too.
    Its text (``<IPython.core.display.Image object>``) is still compared, and the Korean edition's
    pictures are checked in tests/test_i18n.py."""
    try:
        from nbval.plugin import IPyNbFile
    except ImportError:  # pragma: no cover - nbval is in requirements.txt
        return
    if getattr(IPyNbFile.__init__, "booktools", False):
        return
    original = IPyNbFile.__init__

    def __init__(self, *args, **kwargs):
        original(self, *args, **kwargs)
        self.skip_compare = self.skip_compare + ("application/papermill.record/image/png",)

    __init__.booktools = True
    IPyNbFile.__init__ = __init__


_compare_no_glued_image_as_text()
