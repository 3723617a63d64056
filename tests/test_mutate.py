"""The mutation tester itself (booktools.mutate, ``make mutate``): does it make the mutants it says?"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from booktools import mutate

SOURCE = '''"""A module docstring: not mutated."""
LIMIT = 10


def f(x, y):
    """A docstring: not mutated."""
    if x < 2 and not y:
        raise ValueError(f"x must be >= 2, got {x}")
    g(x, y)
    return -x * 2
'''


def test_the_mutants_of_a_small_module():
    found = list(mutate.mutants_of("toy", SOURCE))
    whats = [m["what"] for m in found]
    assert whats == ["10 -> 11", "and -> or", "#0 < -> <=", "2 -> 3", "drop not", "delete the raise",
                     "delete the call", "swap the first two arguments", "* -> /", "drop unary -", "2 -> 3"]
    by_what = {m["what"]: m["source"] for m in found}
    assert "LIMIT = 11" in by_what["10 -> 11"]
    assert "if x < 2 or not y:" in by_what["and -> or"]
    assert "raise" not in by_what["delete the raise"] and "pass" in by_what["delete the raise"]
    assert "g(y, x)" in by_what["swap the first two arguments"]
    assert "return x * 2" in by_what["drop unary -"]
    for m in found:  # every mutant is valid Python, differs from the original, and keeps the docstrings
        compile(m["source"], "toy.py", "exec")
        assert "A docstring: not mutated." in m["source"]
        assert ("x must be >= 2" in m["source"]) == (m["what"] != "delete the raise")  # messages are not mutated
    assert len({m["key"] for m in found}) == len(found)  # the keys name one mutant each


def test_the_results_and_the_equivalents_are_well_formed():
    """tests/mutation.json has a score per module; every listed equivalent has its reason."""
    root = Path(__file__).resolve().parents[1]
    results = json.loads((root / "tests" / "mutation.json").read_text())
    assert set(results) <= set(mutate.MODULES)
    for module, r in results.items():
        assert r["killed"] + len(r["surviving"]) + r["equivalent"] == r["mutants"], module
        assert abs(r["score"] - r["killed"] / max(r["mutants"] - r["equivalent"], 1)) < 1e-4, module
    equivalent = json.loads((root / "tests" / "mutation_equivalent.json").read_text())
    assert all(isinstance(reason, str) and len(reason) > 20 for reason in equivalent.values())
    assert all(key.split(".")[0] in mutate.MODULES for key in equivalent)


def test_every_test_named_for_a_module_exists():
    """A misspelt file or test in MODULES would make pytest exit 4 or 5 on every mutant."""
    root = Path(__file__).resolve().parents[1]
    for module, tests in mutate.MODULES.items():
        assert (root / "lib" / "metaopt" / f"{module}.py").exists(), module
        for test in [*tests, *mutate.WALKS]:
            path, _, name = test.partition("::")
            assert (root / path).exists(), test
            assert not name or f"def {name}(" in (root / path).read_text(), test


def test_survivors_rerun_refuses_a_changed_module(tmp_path, monkeypatch):
    """--survivors counts the last run's kills as still killed: only true of the very source that run
    mutated, so a stored hash that differs (or none) stops the tool before it runs anything."""
    results = tmp_path / "mutation.json"
    results.write_text(json.dumps({"dynamics": {"source": "0" * 16, "surviving": [], "killed": 1, "mutants": 1,
                                                "equivalent": 0, "timeouts": 0, "seconds": 1}}))
    monkeypatch.setattr(mutate, "RESULTS", results)
    with pytest.raises(SystemExit, match="needs a full run of this very source"):
        mutate.main(["--survivors", "dynamics"])
    with pytest.raises(SystemExit, match="needs a full run of this very source"):
        mutate.main(["--survivors", "tasks"])  # no run of tasks stored at all
