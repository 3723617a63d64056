"""Shared setup for the metaopt test suite.

The independent reference implementation lives in ``reference.py`` next to this
file; this conftest only makes it importable (``tests/`` is not a package).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
