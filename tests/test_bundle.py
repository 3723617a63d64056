"""A downloaded chapter runs outside this repository (booktools.bundle).

The wheel and the notebooks bundle are built here, into a temporary folder, by the
functions the book build uses. The bundle is checked file by file against the
repository, then unpacked into a temporary folder outside the checkout, where a fresh
virtual environment (``python -m venv --without-pip``; the running Python's pip installs
into it with ``--python``) gets exactly what the bundle's README says to install
(``pip install -r requirements.txt``, from the unpacked folder). There nbval runs two
downloaded chapters: chapter 2 (Part I) and chapter 10 (JAX, and the trained parameters
it reads from the bundle's ``train/``). Before anything is installed, the first cells of those two
chapters are run in that bare environment: each must stop and say what to install.

Marked ``packaging`` (it needs pip to reach PyPI or its cache), like tests/test_packaging.py.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from booktools import bundle

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))
#: The downloaded chapters run under nbval in the fresh environment.
RUN_THERE = ["chapters/02_inner_loop.ipynb", "chapters/10_lstm_optimizer.ipynb"]


def notebook(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def first_code_cell(nb: dict) -> dict:
    return next(c for c in nb["cells"] if c["cell_type"] == "code")


def needs(cell: dict) -> list[str]:
    """The packages a guard cell checks, read off its ``_needs = [...]`` line."""
    match = re.search(r"^_needs = (\[.*\])$", "".join(cell["source"]), re.M)
    assert match, "no _needs line in the first code cell"
    return json.loads(match.group(1))


# --- the guard cell ------------------------------------------------------------------------

@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_chapter_starts_with_its_guard(path):
    nb = notebook(path)
    cell = first_code_cell(nb)
    assert "remove-cell" in cell["metadata"].get("tags", []), "the guard is hidden in the book"
    assert cell["outputs"] == []
    # What the chapter imports, read with a regular expression rather than bundle's AST walk.
    imported = set()
    for c in nb["cells"][1:]:
        if c["cell_type"] == "code":
            imported.update(re.findall(r"^\s*(?:from|import)\s+([A-Za-z_]\w*)", "".join(c["source"]), re.M))
    third_party = imported - set(sys.stdlib_module_names)
    assert "metaopt" in third_party
    assert set(needs(cell)) == third_party, f"{path.name}: the guard checks {needs(cell)}"


@pytest.mark.parametrize("missing", [["metaopt"], ["metaopt", "matplotlib"], ["sympy"]])
def test_the_guard_stops_and_says_what_to_install(monkeypatch, missing):
    cell = first_code_cell(notebook(ROOT / "chapters" / "02_inner_loop.ipynb"))
    for name in missing:
        monkeypatch.setitem(sys.modules, name, None)  # find_spec then reports it missing
    with pytest.raises(ModuleNotFoundError) as err:
        exec("".join(cell["source"]), {})
    message = str(err.value)
    assert message.startswith(f"This chapter needs {', '.join(missing)}. ")
    assert "metaopt-notebooks.zip" in message
    assert "python -m pip install -r requirements.txt" in message


def test_the_guard_is_silent_when_everything_is_there():
    namespace = {}
    exec("".join(first_code_cell(notebook(ROOT / "chapters" / "09_autodiff.ipynb"))["source"]), namespace)
    assert set(namespace) - {"__builtins__"} == {"importlib"}, "the guard leaves only its import behind"


# --- the bundle ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return bundle.ensure(tmp_path_factory.mktemp("downloads"))


def test_the_bundle_holds_every_chapter_the_wheel_and_the_training_files(built):
    with zipfile.ZipFile(built["bundle"]) as archive:
        names = archive.namelist()
        folder = "metaopt-notebooks/"
        assert all(name.startswith(folder) for name in names)
        inside = {name[len(folder):] for name in names}
        training = {f"train/{p.name}" for p in (ROOT / "train").iterdir() if p.suffix in (".npz", ".json")}
        assert inside == {"README.md", "requirements.txt", "constraints.txt", built["wheel"].name,
                          *(f"chapters/{p.name}" for p in CHAPTERS), *training}
        for path in CHAPTERS:
            assert archive.read(folder + f"chapters/{path.name}") == path.read_bytes(), path.name
        assert archive.read(folder + "constraints.txt") == (ROOT / "constraints.txt").read_bytes()
        assert archive.read(folder + built["wheel"].name) == built["wheel"].read_bytes()
        requirements = archive.read(folder + "requirements.txt").decode()
        readme = archive.read(folder + "README.md").decode()
    assert f"./{built['wheel'].name}[book,jax,digits]" in requirements.splitlines()
    assert "-c constraints.txt" in requirements.splitlines()
    assert "python -m pip install -r requirements.txt" in readme and "jupyter lab chapters/" in readme


def test_the_wheel_is_the_library_and_nothing_else(built):
    library = {p.relative_to(ROOT / "lib").as_posix() for p in (ROOT / "lib" / "metaopt").rglob("*.py")}
    with zipfile.ZipFile(built["wheel"]) as wheel:
        names = set(wheel.namelist())
        assert {n for n in names if not n.startswith("metaopt-")} == library
        for name in library:
            assert wheel.read(name) == (ROOT / "lib" / name).read_bytes(), name
        metadata = wheel.read(f"metaopt-{bundle.version()}.dist-info/METADATA").decode()
    assert not any("booktools" in n for n in names)
    for extra in ("book", "jax", "digits"):
        assert f"Provides-Extra: {extra}" in metadata


def test_the_bundle_is_built_again_only_when_an_input_changes(built, tmp_path):
    before = built["bundle"].stat().st_mtime_ns
    assert bundle.ensure(built["bundle"].parent) == built
    assert built["bundle"].stat().st_mtime_ns == before, "nothing changed: nothing rebuilt"
    stamp = built["bundle"].parent / ".fingerprint"
    stamp.write_text("an older input", encoding="utf-8")
    again = bundle.ensure(built["bundle"].parent)
    assert again["bundle"].read_bytes() == built["bundle"].read_bytes(), "the same inputs, the same bytes"
    assert stamp.read_text(encoding="utf-8") == bundle.fingerprint()


def test_the_site_offers_the_same_bundle(built):
    site = ROOT / "_build" / "html" / "downloads"
    if not (site / bundle.BUNDLE).is_file():
        pytest.skip("the book is not built (make test builds it first)")
    assert (site / bundle.BUNDLE).read_bytes() == built["bundle"].read_bytes()


# --- a downloaded chapter, in a fresh environment outside the checkout ---------------------

def run(command, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(command, capture_output=True, text=True, **kwargs)
    assert done.returncode == 0, f"{command} failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done


@pytest.mark.packaging
def test_a_downloaded_chapter_runs_in_a_fresh_environment(built, tmp_path):
    assert not tmp_path.is_relative_to(ROOT)
    with zipfile.ZipFile(built["bundle"]) as archive:
        archive.extractall(tmp_path)
    folder = tmp_path / bundle.FOLDER
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "JUPYTER"))}
    env.update(MPLCONFIGDIR=str(tmp_path / "mpl"), PIP_NO_INPUT="1")
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp_path, env=env)
    python = str(venv / "bin" / "python")

    # Nothing installed yet: the first cell of each chapter run here stops and says what to install.
    for path in RUN_THERE:
        cell = first_code_cell(notebook(folder / path))
        bare = subprocess.run([python, "-I", "-c", "".join(cell["source"])], capture_output=True, text=True,
                              cwd=folder, env=env)
        assert bare.returncode == 1
        assert f"ModuleNotFoundError: This chapter needs {', '.join(needs(cell))}." in bare.stderr
        assert "python -m pip install -r requirements.txt" in bare.stderr

    # The README's command, from the unpacked folder.
    run([sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--no-compile",
         "-r", "requirements.txt"], cwd=folder, env=env)
    where = run([python, "-I", "-c", "import metaopt; print(metaopt.__file__)"], cwd=tmp_path, env=env)
    assert Path(where.stdout.strip()).is_relative_to(venv), where.stdout

    # The chapters as downloaded, under nbval, in that environment.
    done = subprocess.run([python, "-I", "-m", "pytest", "--nbval-current-env", "--nbval", "-p", "no:cacheprovider",
                           "-q", *RUN_THERE], capture_output=True, text=True, cwd=folder, env=env)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert re.search(r"\b\d+ passed\b", done.stdout) and "failed" not in done.stdout
