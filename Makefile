# Two commands do everything on a fresh clone:
#   make book   build the HTML book into _build/html
#   make test   run every test: library, notebooks (nbval), strict book build
# Both create the virtual environment .venv from requirements.txt when needed.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CHAPTERS := $(wildcard chapters/*.ipynb)
APPENDIX := $(wildcard appendix/*.ipynb)

.PHONY: book test execute strict-build lab venv clean clean-venv help bench

help:
	@echo "make book      build the HTML book into _build/html (from the stored notebook outputs)"
	@echo "make test      run every test: library, nbval over the chapters, strict book build"
	@echo "make lab       open the chapters in JupyterLab, to run and change them"
	@echo "make execute   re-run every chapter and store its fresh outputs (after changing lib/ or a chapter)"
	@echo "make clean     remove _build/"
	@echo "make bench     measure speed (library, closed form, make test, rebuild; several minutes),"
	@echo "               write benchmarks/results.json and refresh the appendix that shows it"

# The environment is rebuilt whenever requirements.txt, constraints.txt or pyproject.toml change.
$(STAMP): requirements.txt constraints.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(STAMP)

venv: $(STAMP)

book: $(STAMP)
	$(BIN)/jupyter-book build . --builder html

# Strict: any warning (a broken glue key, a missing reference, a file outside the TOC) fails.
strict-build: $(STAMP)
	$(BIN)/jupyter-book build . --builder html -W -n --keep-going

test: $(STAMP)
	$(BIN)/python -m pytest
	$(MAKE) strict-build

execute: $(STAMP)
	$(BIN)/python -m metaopt._execute $(CHAPTERS) $(APPENDIX)

lab: $(STAMP)
	$(BIN)/jupyter lab chapters/

clean:
	rm -rf _build

clean-venv:
	rm -rf $(VENV)

# Benchmarks: prints four figures with their goals, writes benchmarks/results.json (committed),
# then re-executes the appendix page that shows them. BENCH_ARGS=--skip-book keeps the stored
# make test / rebuild timings (they take minutes to measure).
bench: $(STAMP)
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)
	$(BIN)/python -m metaopt._execute appendix/performance.ipynb
