"""Take the chapters away: the book's library as a wheel, and every chapter in one download.

A chapter's ``.ipynb`` on its own fails at ``import metaopt``: the library lives in this
repository. Every HTML build therefore ships, under ``<site>/downloads/``:

- ``metaopt-<version>-py3-none-any.whl``: the library, built by pip from ``lib/metaopt``
  (and this repository's ``pyproject.toml``), nothing of ``booktools``;
- ``metaopt-notebooks.zip``, the *notebooks bundle*: one folder with every chapter
  notebook (outputs included), the trained parameters chapters 10 and 11 load
  (``train/``), the wheel, a ``requirements.txt`` that installs it with every extra the
  chapters use, the book's ``constraints.txt`` (every package pinned to the version the
  book was checked with) and a README with the two commands that install and open them.

``booktools.sphinx_ext`` calls :func:`ensure` when an HTML build starts; it rebuilds only
when one of the :func:`inputs` changed (a hash of them is stored beside the files).
``python -m booktools.bundle DIR`` builds them into ``DIR`` by hand.

Each chapter's first code cell is :func:`guard_cell`: when a package the chapter imports is
missing, it stops with a message saying what to install, instead of a bare ImportError.
``python -m booktools.bundle --guard chapters/*.ipynb`` writes (or refreshes) that cell.
"""

from __future__ import annotations

import ast
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: The bundle's file name, and the one folder it unpacks into.
BUNDLE = "metaopt-notebooks.zip"
FOLDER = "metaopt-notebooks"
#: The extras of ``metaopt`` the chapters use (pyproject.toml), and what a reader runs them with.
EXTRAS = ("book", "jax", "digits")
READER_TOOLS = ("jupyterlab", "nbval", "pytest")
#: The tag of the guard cell (hidden in the book, kept in the downloaded notebook).
GUARD_TAG = "run-this-chapter-yourself"
#: Zip entries get this date, so the same inputs give the same bytes (zip cannot store 1970).
EPOCH = 315532800  # 1980-01-01 00:00 UTC
ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def version(root: Path = ROOT) -> str:
    """The library's version, from ``pyproject.toml``."""
    with open(root / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]["version"]


def wheel_name(root: Path = ROOT) -> str:
    return f"metaopt-{version(root)}-py3-none-any.whl"


def chapters(root: Path = ROOT) -> list[Path]:
    return sorted((root / "chapters").glob("*.ipynb"))


def training_files(root: Path = ROOT) -> list[Path]:
    """What chapters 10 and 11 load from ``../train``: trained parameters and training logs."""
    train = root / "train"
    return sorted([*train.glob("*_params.npz"), *train.glob("*_log.json")])


def library_files(root: Path = ROOT) -> list[Path]:
    return sorted(p for p in (root / "lib" / "metaopt").rglob("*.py") if "__pycache__" not in p.parts)


def inputs(root: Path = ROOT) -> list[Path]:
    """Every file of the book's sources (``root``) the wheel and the bundle are made from."""
    return [root / "pyproject.toml", root / "README.md", root / "constraints.txt",
            *library_files(root), *chapters(root), *training_files(root)]


def fingerprint(root: Path = ROOT) -> str:
    """A hash of the :func:`inputs` and of this module, which writes the bundle."""
    digest = hashlib.sha256(Path(__file__).read_bytes())
    for path in inputs(root):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def build_wheel(target: Path, root: Path = ROOT) -> Path:
    """Build the library's wheel into ``target`` with pip (no network: the environment's setuptools).

    The build runs in a temporary copy of ``pyproject.toml``, ``README.md`` and ``lib/metaopt``
    (so it writes nothing into the working tree, and ``booktools`` is not in the copy).
    ``SOURCE_DATE_EPOCH`` fixes the dates inside the wheel.
    """
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "source"
        (source / "lib").mkdir(parents=True)
        for name in ("pyproject.toml", "README.md"):
            shutil.copy(root / name, source / name)
        shutil.copytree(root / "lib" / "metaopt", source / "lib" / "metaopt",
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        out = Path(tmp) / "wheel"
        env = {**os.environ, "SOURCE_DATE_EPOCH": str(EPOCH), "PIP_NO_INPUT": "1"}
        done = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
             "--wheel-dir", str(out), str(source)],
            capture_output=True, text=True, env=env, cwd=tmp)
        if done.returncode != 0:
            raise RuntimeError(f"pip wheel failed:\n{done.stdout}\n{done.stderr}")
        built = out / wheel_name(root)
        if not built.is_file():
            raise RuntimeError(f"pip wheel wrote {sorted(p.name for p in out.iterdir())}, not {wheel_name(root)}")
        return Path(shutil.copy(built, target / built.name))


def requirements(root: Path = ROOT) -> str:
    """The bundle's ``requirements.txt``: the wheel with the chapters' extras, and the tools to run them."""
    return (
        "# Everything the chapters need, pinned by constraints.txt to the versions the book was checked with.\n"
        "# Install from this folder:  python -m pip install -r requirements.txt\n"
        "-c constraints.txt\n"
        f"./{wheel_name(root)}[{','.join(EXTRAS)}]\n"
        + "".join(f"{tool}\n" for tool in READER_TOOLS)
    )


def readme(root: Path = ROOT) -> str:
    """The bundle's README: what is inside, and the two commands that install and open it."""
    names = [p.name for p in chapters(root)]
    return f"""# The notebooks of "Learning to Learn by Gradient Descent, One Example Exactly"

Every chapter of the book as a Jupyter notebook, with the outputs the book shows:

- `chapters/`: {names[0]} to {names[-1]}
- `train/`: the trained optimizers chapters 10 and 11 load
- `{wheel_name(root)}`: the book's library, metaopt
- `requirements.txt`, `constraints.txt`: what the chapters need, every package pinned
  to the version the book was checked with

You need Python 3.11. Best in a fresh virtual environment
(`python3.11 -m venv .venv`, then `. .venv/bin/activate`; on Windows `.venv\\Scripts\\activate`).
In this folder, two commands install everything and open the chapters:

```bash
python -m pip install -r requirements.txt
jupyter lab chapters/
```

To check that your machine computes what the book shows (every cell is re-run and
its output compared with the stored one):

```bash
python -m pytest --nbval-current-env --nbval chapters/
```
"""


def _zip_write(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(f"{FOLDER}/{name}", date_time=ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    archive.writestr(info, data)


def build_bundle(target: Path, wheel: Path, root: Path = ROOT) -> Path:
    """Write the notebooks bundle (see the module's docstring) into ``target``; the same inputs give the same bytes."""
    files = {
        "README.md": readme(root).encode(),
        "requirements.txt": requirements(root).encode(),
        "constraints.txt": (root / "constraints.txt").read_bytes(),
        wheel.name: wheel.read_bytes(),
        **{f"chapters/{p.name}": p.read_bytes() for p in chapters(root)},
        **{f"train/{p.name}": p.read_bytes() for p in training_files(root)},
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(files):
            _zip_write(archive, name, files[name])
    path = target / BUNDLE
    path.write_bytes(buffer.getvalue())
    return path


def ensure(target: Path, root: Path = ROOT) -> dict[str, Path]:
    """The wheel and the bundle of the book's sources in ``root`` (this repository, or the student
    edition's copy: booktools.student) in ``target``, rebuilt only when an input changed."""
    target, root = Path(target), Path(root)
    stamp = target / ".fingerprint"
    wheel, bundle = target / wheel_name(root), target / BUNDLE
    current = fingerprint(root)
    fresh = (stamp.is_file() and stamp.read_text(encoding="utf-8") == current
             and wheel.is_file() and bundle.is_file())
    if not fresh:
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        wheel = build_wheel(target, root)
        bundle = build_bundle(target, wheel, root)
        stamp.write_text(current, encoding="utf-8")
    return {"wheel": wheel, "bundle": bundle}


# --- the guard cell ------------------------------------------------------------------------


def code_cells(nb: dict) -> list[dict]:
    return [c for c in nb["cells"] if c["cell_type"] == "code" and GUARD_TAG not in c["metadata"].get("tags", [])]


def imported_packages(nb: dict) -> list[str]:
    """The top-level packages a notebook's code cells import, outside Python's standard library."""
    found = set()
    for cell in code_cells(nb):
        for node in ast.walk(ast.parse("".join(cell["source"]))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                found.add(node.module.split(".")[0])
    return sorted(found - set(sys.stdlib_module_names), key=lambda m: (m != "metaopt", m.lower()))


def guard_cell(packages: list[str]) -> str:
    """The source of a chapter's first code cell: stop early, saying what to install, when a package is missing."""
    return (
        "# Run this chapter yourself: it needs the book's library, metaopt, and the packages below.\n"
        "# The book's notebooks bundle has them all (see \"Run it yourself\" on the book's first page).\n"
        "import importlib.util\n"
        "\n"
        f"_needs = {json.dumps(packages)}\n"
        "_missing = [name for name in _needs if importlib.util.find_spec(name) is None]\n"
        "if _missing:\n"
        "    raise ModuleNotFoundError(\n"
        "        f\"This chapter needs {', '.join(_missing)}. Download the notebooks bundle, \"\n"
        f"        \"{BUNDLE}, from the book's first page (\\\"Run it yourself\\\"), unzip it, \"\n"
        "        \"and in its folder run: python -m pip install -r requirements.txt\")\n"
        "del _needs, _missing"
    )


def with_guard(nb: dict) -> dict:
    """``nb`` with its guard cell first, written from the packages it imports (replacing an older one)."""
    cells = [c for c in nb["cells"] if GUARD_TAG not in c["metadata"].get("tags", [])]
    guard = {"cell_type": "code", "execution_count": None, "id": "run-it-yourself",
             "metadata": {"tags": ["remove-cell", GUARD_TAG]}, "outputs": [],
             "source": guard_cell(imported_packages(nb)).splitlines(keepends=True)}
    return {**nb, "cells": [guard, *cells]}


def main(argv: list[str]) -> int:
    if argv[:1] == ["--guard"] and len(argv) > 1:
        for name in argv[1:]:
            import nbformat  # a tool of the build ([tools]), as booktools.execute uses it

            nb = nbformat.read(name, as_version=4)
            nbformat.write(nbformat.from_dict(with_guard(nb)), name)
            print(f"{name}: guard cell for {', '.join(imported_packages(nb))}")
        return 0
    if len(argv) == 1 and not argv[0].startswith("-"):
        for kind, path in ensure(Path(argv[0])).items():
            print(f"{kind}: {path} ({path.stat().st_size / 2**20:.2f} MiB)")
        return 0
    print("usage: python -m booktools.bundle DIR            build the wheel and the notebooks bundle into DIR\n"
          "       python -m booktools.bundle --guard NB...  write each notebook's guard cell", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
