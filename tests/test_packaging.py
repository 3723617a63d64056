"""The reader's library installs and works on its own: numpy and sympy, nothing of the book's stack.

A fresh virtual environment is made in a temporary folder outside the checkout
(``python -m venv --without-pip`` with the Python running the tests, whose pip
installs into it with ``--python``). pip installs numpy and sympy into it, pinned by ``constraints.txt`` (which also pins their dependency
mpmath), then this repository's distribution with ``--no-deps``: a regular,
non-editable install, built (with setuptools from PyPI, in pip's build
isolation) from a temporary copy of ``pyproject.toml``, ``README.md`` and
``lib/``, so that the build writes nothing into the working tree.

In that environment, with ``python -I`` from the temporary folder (so neither
the checkout nor ``PYTHONPATH`` can be imported from), every submodule of the
installed ``metaopt`` found by ``pkgutil`` imports, except the modules of an optional
extra (``NEEDS_EXTRA``: ``metaopt.plotting`` needs ``[book]``, the Part III modules
such as ``metaopt.autodiff`` need ``[jax]``), each of which must fail with an
ImportError saying ``pip install "metaopt[<its extra>]"``; every docstring example
in the other modules passes (and there are some); and neither Sphinx, matplotlib,
JAX, Playwright, IPython nor anything else of the book's stack is installed.
Separately, an AST scan of ``lib/metaopt`` shows that
nothing in it imports ``booktools`` or the tools' own dependencies.

Marked ``packaging``: ``pytest -m packaging`` runs only these, ``-m "not packaging"``
everything else. It needs pip to reach PyPI (or its cache).
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.packaging

ROOT = Path(__file__).resolve().parent.parent
LIBRARY = ROOT / "lib" / "metaopt"
# What the reader's library needs, and all the fresh environment holds.
DEPENDENCIES = ("numpy", "sympy", "mpmath")
ALLOWED_DISTRIBUTIONS = {"metaopt", *DEPENDENCIES}
# Proof that the environment is minimal: the book's stack and the tools' dependencies are absent.
ABSENT = ("sphinx", "matplotlib", "jax", "jaxlib", "playwright", "IPython", "myst_nb", "nbclient", "nbformat",
          "mathjax")
# What metaopt must never import: the build's tools and their dependencies.
FORBIDDEN_IMPORTS = {"booktools", "sphinx", "playwright", "nbclient"}
# The modules of an optional extra, and the extra each one's ImportError must name
# (test_the_table_lists_every_optional_module finds them in lib/metaopt).
NEEDS_EXTRA = {"metaopt.plotting": "book", "metaopt.autodiff": "jax", "metaopt.lstm": "jax", "metaopt.digits": "digits"}

# Runs inside the fresh environment; prints one JSON object.
CHECK = r'''
import contextlib, doctest, importlib, importlib.metadata, importlib.util, io, json, pkgutil, sys, sysconfig
import traceback

import metaopt

out = {"metaopt_file": metaopt.__file__, "purelib": sysconfig.get_paths()["purelib"],
       "distributions": sorted({d.metadata["Name"].lower() for d in importlib.metadata.distributions()}),
       "versions": {n: importlib.metadata.version(n) for n in %(deps)r},
       "direct_url": importlib.metadata.distribution("metaopt").read_text("direct_url.json"),
       "modules": {}, "import_errors": {}, "doctest_failures": {}}
names = ["metaopt"] + sorted(m.name for m in pkgutil.walk_packages(metaopt.__path__, "metaopt."))
for name in names:
    if name in %(extra)r:
        continue
    try:
        module = importlib.import_module(name)
    except Exception:
        out["import_errors"][name] = traceback.format_exc()
        continue
    report = io.StringIO()
    with contextlib.redirect_stdout(report):  # doctest prints each failure
        failed, attempted = doctest.testmod(module, optionflags=doctest.ELLIPSIS)  # pytest's default flags
    out["modules"][name] = {"attempted": attempted, "failed": failed}
    if failed:
        out["doctest_failures"][name] = report.getvalue()
out["tools_imported"] = sorted(m for m in sys.modules if m.split(".")[0] == "booktools")
out["extra_errors"] = {}
for name in %(extra)r:
    try:
        importlib.import_module(name)
    except ImportError as err:
        out["extra_errors"][name] = {"type": type(err).__name__, "message": str(err),
                                     "chained": type(err.__cause__).__name__ if err.__cause__ else None}
    else:
        out["extra_errors"][name] = None
out["present"] = [n for n in %(absent)r if importlib.util.find_spec(n) is not None]
print(json.dumps(out))
''' % {"deps": DEPENDENCIES, "extra": sorted(NEEDS_EXTRA), "absent": ABSENT}


def pinned(names) -> list[str]:
    """``name==version`` for each name, as constraints.txt pins it."""
    pins = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        m = re.fullmatch(r"([A-Za-z0-9_.-]+)==(\S+)", line.split("#")[0].strip())
        if m:
            pins[re.sub(r"[-_.]+", "-", m.group(1)).lower()] = m.group(2)
    missing = [n for n in names if n not in pins]
    assert not missing, f"constraints.txt pins none of {missing}"
    return [f"{n}=={pins[n]}" for n in names]


def run(command, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(command, capture_output=True, text=True, **kwargs)
    assert done.returncode == 0, f"{' '.join(map(str, command))} failed:\n{(done.stdout + done.stderr)[-4000:]}"
    return done


@pytest.fixture(scope="module")
def fresh():
    """The JSON report of CHECK, run in a fresh venv holding numpy, sympy, mpmath and metaopt."""
    tmp = Path(tempfile.mkdtemp(prefix="metaopt-packaging-"))
    assert ROOT not in tmp.parents, "the temporary folder must be outside the checkout"
    try:
        # The distribution's sources only: pip builds in its source folder (build/, *.egg-info).
        src = tmp / "src"
        src.mkdir()
        for name in ("pyproject.toml", "README.md"):
            shutil.copy2(ROOT / name, src / name)
        shutil.copytree(ROOT / "lib", src / "lib",
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build"))
        venv = tmp / "venv"
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
        env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
        # Without pip of its own (ensurepip's pip and setuptools would double the time):
        # the running Python's pip installs into it (--python). No .pyc files: fewer to write.
        run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp, env=env)
        python = venv / "bin" / "python"
        pip = [sys.executable, "-m", "pip", "--python", str(python)]
        install = pip + ["install", "--quiet", "--no-input", "--no-compile"]
        run(install + pinned(DEPENDENCIES), cwd=tmp, env=env)
        run(install + ["--no-deps", str(src)], cwd=tmp, env=env)
        run(pip + ["check"], cwd=tmp, env=env)
        done = run([str(python), "-I", "-c", CHECK], cwd=tmp, env=env)
        yield json.loads(done.stdout)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_the_installed_package_is_used_not_the_checkout(fresh):
    installed = Path(fresh["metaopt_file"])
    assert Path(fresh["purelib"]) in installed.parents, installed
    assert ROOT not in installed.parents, installed
    assert '"editable": true' not in (fresh["direct_url"] or ""), fresh["direct_url"]


def test_only_numpy_and_sympy_installed(fresh):
    assert set(fresh["distributions"]) == ALLOWED_DISTRIBUTIONS, fresh["distributions"]
    assert [f"{n}=={v}" for n, v in fresh["versions"].items()] == pinned(DEPENDENCIES)
    assert fresh["present"] == [], f"should not be importable in a numpy + sympy environment: {fresh['present']}"


def test_every_module_imports_except_the_optional_ones(fresh):
    assert fresh["import_errors"] == {}, "\n".join(fresh["import_errors"].values())
    assert "metaopt" in fresh["modules"] and len(fresh["modules"]) > 1, fresh["modules"]
    assert not set(NEEDS_EXTRA) & set(fresh["modules"])
    assert fresh["tools_imported"] == [], f"metaopt imported the build's tools: {fresh['tools_imported']}"


def test_every_docstring_example_passes(fresh):
    assert fresh["doctest_failures"] == {}, "\n".join(fresh["doctest_failures"].values())
    attempted = sum(m["attempted"] for m in fresh["modules"].values())
    assert attempted > 0, "no docstring examples found: the check would pass vacuously"


@pytest.mark.parametrize("module", sorted(NEEDS_EXTRA))
def test_optional_modules_say_what_to_install(fresh, module):
    error = fresh["extra_errors"][module]
    assert error is not None, f"{module} imported without its [{NEEDS_EXTRA[module]}] extra"
    assert error["type"] in ("ImportError", "ModuleNotFoundError"), error
    assert f'pip install "metaopt[{NEEDS_EXTRA[module]}]"' in error["message"], error
    assert error["chained"] is not None, "the ImportError should be chained from the missing package's"


def guarded_imports(path: Path) -> bool:
    """True if ``path`` has a top-level ``try: import ... except ImportError:``: an optional dependency."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return any(
        isinstance(node, ast.Try)
        and any(isinstance(h.type, ast.Name) and h.type.id in ("ImportError", "ModuleNotFoundError")
                for h in node.handlers)
        for node in tree.body
    )


def test_the_table_lists_every_optional_module():
    """NEEDS_EXTRA is the list of modules with an optional dependency, and pyproject.toml defines each extra."""
    optional = {f"metaopt.{p.stem}" for p in sorted(LIBRARY.glob("*.py")) if guarded_imports(p)}
    assert optional == set(NEEDS_EXTRA), f"modules guarding an import: {sorted(optional)}"
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    for extra in sorted(set(NEEDS_EXTRA.values())):
        assert re.search(rf"^{extra} = \[", text, flags=re.M), f"pyproject.toml defines no extra [{extra}]"


def imports(path: Path):
    """(line, top-level module) for every absolute import in ``path``, and every
    ``import_module("...")``/``__import__("...")`` of a literal name, at any depth."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, a.name.split(".")[0]) for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module.split(".")[0]
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)
              and getattr(node.func, "attr", getattr(node.func, "id", None)) in ("import_module", "__import__")):
            yield node.lineno, node.args[0].value.split(".")[0]


def test_metaopt_does_not_import_the_tools():
    files = sorted(LIBRARY.rglob("*.py"))
    assert files, f"no sources under {LIBRARY}"
    found = [f"{p.relative_to(ROOT)}:{line}: imports {name}"
             for p in files for line, name in imports(p) if name in FORBIDDEN_IMPORTS]
    assert found == [], "metaopt must not need the build's tools:\n" + "\n".join(found)


def test_the_scan_sees_imports_anywhere(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("import os\nfrom . import core\ndef f():\n    from booktools.pdf import main\n"
                      "    import sphinx.util as su\n    importlib.import_module('playwright.sync_api')\n")
    assert sorted(name for _, name in imports(sample)) == ["booktools", "os", "playwright", "sphinx"]
