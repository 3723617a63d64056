# Two commands do everything on a fresh clone:
#   make book   build the HTML book into _build/html
#   make test   build the book strictly, then run every test: library, notebooks (nbval),
#               and the built book in a headless browser (tests/test_browser.py)
# Both create the virtual environment .venv from requirements.txt when needed.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# pytest workers for make test (pytest-xdist): one per core; JOBS=0 runs them in this process, one at a time
JOBS   ?= auto
CHAPTERS := $(wildcard chapters/*.ipynb)
APPENDIX := $(wildcard appendix/*.ipynb)

PORT   ?= 8000

.PHONY: book book-ko catalogs book-student test execute strict-build lab venv clean clean-venv help serve pdf bench mutate

help:
	@echo "make book      build the HTML book into _build/html (from the stored notebook outputs), the Korean edition into _build/html/ko"
	@echo "make test      strict book build, then every test: library, nbval over the chapters, browser tests"
	@echo "make catalogs  after changing a page: update the Korean catalogs locales/ko/LC_MESSAGES/*.po (then translate)"
	@echo "make book-student  the student edition, every solution removed: _build/student/_build/html"
	@echo "make serve     build, then preview the book at http://127.0.0.1:$(PORT)/ (PORT=... to change)"
	@echo "make pdf       the whole book as one printable PDF: _build/pdf/book.pdf (Korean: book-ko.pdf)"
	@echo "make lab       open the chapters in JupyterLab, to run and change them"
	@echo "make execute   re-run every chapter and store its fresh outputs (after changing lib/ or a chapter)"
	@echo "make clean     remove _build/"
	@echo "make bench     measure speed (library beside JAX and plain Python, closed form, pages, make test; ~8 min),"
	@echo "               write benchmarks/results.json and refresh the appendix that shows it"
	@echo "make mutate    mutation testing of the library (booktools.mutate; about three hours for all modules,"
	@echo "               MODULES=\"core dynamics\" for some): writes tests/mutation.json (committed)"
	@echo "make train     meta-train chapter 10's LSTM and linear RNN and chapter 11's LSTM from fixed seeds"
	@echo "               (about 11 min on 2 cores; see the logs), write train/*_params.npz and train/*_log.json (committed)"

# The environment is rebuilt whenever requirements.txt, constraints.txt, pyproject.toml or
# package-lock.json change. npm installs plotly.js, the explorables' plotting library, into
# node_modules/ from package-lock.json (exact version and checksum; booktools.explorables).
$(STAMP): requirements.txt constraints.txt pyproject.toml package.json package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "npm not found: install Node.js and npm (Debian: apt-get install nodejs npm); it installs plotly.js for the book's interactive figures"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.txt
	npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	touch $(STAMP)

venv: $(STAMP)

# Incremental: Sphinx reads again only the pages whose sources changed (and the references page,
# which lists what the others cite: booktools.sphinx_ext). `make clean book` rebuilds everything.
book: $(STAMP)
	$(BIN)/jupyter-book build . --builder html
	$(MAKE) book-ko

# The Korean edition (booktools.i18n): the same sources with language ko, translated from
# locales/ko/LC_MESSAGES/, into _build/html/ko/ (after the English edition, whose MathJax and
# downloads it shares). Incremental like the English one; a changed interface catalog
# (locales/ko/LC_MESSAGES/sphinx.po) or template makes it a fresh build (booktools.i18n.build).
book-ko: $(STAMP)
	$(BIN)/python -m booktools.i18n build

# After changing a page: extract its messages again and update the Korean catalogs (sphinx-intl).
# A new message arrives untranslated, a changed one fuzzy; `make test` fails until both are translated
# (python -m booktools.i18n status lists them, todo/fill store translations).
catalogs: $(STAMP)
	$(BIN)/python -m booktools.i18n update
	$(BIN)/python -m booktools.i18n status || true

# The same book without solutions (absent, not hidden), for assigning the exercises: booktools.student
# copies the sources to _build/student/source, removes the solutions, builds strictly.
book-student: $(STAMP)
	$(BIN)/python -m booktools.student --strict

# Strict: any warning (a broken glue key, a missing reference, a file outside the TOC) fails.
# --all re-reads every page, so a warning in an unchanged page is reported again.
strict-build: $(STAMP)
	$(BIN)/jupyter-book build . --builder html -W -n --keep-going --all
	$(BIN)/python -m booktools.i18n build --strict

# The strict build comes first: the browser tests (tests/test_browser.py) open _build/html.
# Without chromium they are skipped with a message saying how to enable them (CI=true: they fail).
test: $(STAMP)
	$(MAKE) strict-build
	$(BIN)/python -m pytest -rfEs -n $(JOBS) --dist loadfile --no-loadscope-reorder

# Preview the built book on this machine only (127.0.0.1); Ctrl-C stops it.
serve: book
	@echo "serving _build/html at http://127.0.0.1:$(PORT)/  (Ctrl-C to stop)"
	$(BIN)/python -m http.server $(PORT) --bind 127.0.0.1 --directory _build/html

# One printable PDF: the single-page book, printed by headless Chromium once MathJax is done.
pdf: $(STAMP)
	$(BIN)/jupyter-book build . --builder singlehtml -W -n --keep-going --all
	$(BIN)/python -m booktools.pdf _build/singlehtml _build/pdf/book.pdf
	$(BIN)/python -m booktools.i18n pdf

execute: $(STAMP)
	$(BIN)/python -m booktools.execute $(CHAPTERS) $(APPENDIX)

lab: $(STAMP)
	$(BIN)/jupyter lab chapters/

clean:
	rm -rf _build

clean-venv:
	rm -rf $(VENV) node_modules

# Benchmarks: prints seven figures with their goals and peers, writes benchmarks/results.json (committed),
# then re-executes the appendix page that shows them. BENCH_ARGS=--skip-book keeps the stored
# make test / rebuild timings (they take minutes to measure).
bench: $(STAMP)
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)
	$(BIN)/python -m booktools.execute appendix/performance.ipynb

# Chapters 10 and 11's meta-training (JAX, float64, fixed seeds): the chapters load what this writes, and
# tests/test_lstm.py and tests/test_digits.py re-run its first epochs against the stored logs.
.PHONY: train
train: $(STAMP)
	$(BIN)/python train/train_lstm.py

# Mutation testing (issue 16): each small change to a module must make its tests fail. Not part of
# make test (about three hours on 2 cores); MODULES="dynamics tasks" runs some. Writes tests/mutation.json.
MODULES ?=
mutate: $(STAMP)
	$(BIN)/python -m booktools.mutate $(MODULES)
