# Scaling Casebook — `make book` renders the book from committed records; `make test` is what CI runs.
# Every target creates .venv and installs what is missing (a stamp file keeps reruns fast).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.scalelab-installed
SCALE ?= cpu
NB ?=
# Published data the fits are checked against; never copied into the repository.
SCALELAB_ANCHORS_DIR ?= ../shared/anchors/data
export SCALELAB_ANCHORS_DIR := $(abspath $(SCALELAB_ANCHORS_DIR))
# Reproducible hashing in every process (the kernel inherits it).
export PYTHONHASHSEED := 0
export PYDEVD_DISABLE_FILE_VALIDATION := 1

MATHJAX := book/_static/mathjax
MATHJAX_STAMP := $(MATHJAX)/tex-chtml.js

.PHONY: help install constraints book chapter test lint unit hygiene notebooks-smoke notebooks-cpu stage html status clean
.DEFAULT_GOAL := help

help:  ## this list
	@echo "Scaling Casebook"
	@echo "  make book                    render the book from committed records (never trains) -> book/_build/html"
	@echo "  make test                    lint, unit tests, every notebook at smoke scale, records-only, build, render checks"
	@echo "  make chapter NB=03 SCALE=cpu run one chapter at a scale, training the records it is missing"
	@echo "  make status                  records per chapter and scale (runs, devices, torch, seconds)"
	@echo "  make install                 create .venv and install the package with its book and dev extras"
	@echo "  make constraints             refresh constraints.txt (exact versions) from what .venv has installed"
	@echo "  make clean                   remove build outputs (_build, book/_build, staged chapters); keeps .venv and results/"

# constraints.txt pins every dependency to the version CI used, so an upgrade (numpy, scipy, torch) cannot move a
# fit or flip a verdict unnoticed; `make constraints` rewrites it from .venv after a deliberate upgrade.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[book,dev]'
	# mup is only a reference the tests compare against; its pinned requirements are stale.
	$(BIN)/python -m pip install --quiet --no-deps mup
	@touch $(STAMP)

install: $(STAMP)

constraints:
	@test -x $(BIN)/python || { echo "no $(VENV): run make install first"; exit 2; }
	@{ echo "# Exact versions of every installed dependency (pip install -c constraints.txt), written by"; \
	   echo "# \`make constraints\` from .venv; scalelab itself and mup (installed --no-deps) are left out."; \
	   echo "# Local build labels (torch 2.13.0+cpu) are dropped: ==2.13.0 matches that build and PyPI's alike."; \
	   $(BIN)/python -m pip freeze --exclude-editable | grep -v -i -E '^(scalelab|mup)[=@ ]' \
	     | sed -E 's/^([^=]+==[^+]+)\+.*/\1/'; } > constraints.txt
	@echo "constraints.txt: $$(grep -c '^[^#]' constraints.txt) pinned packages"

# MathJax served from the book itself so pages render offline.
$(MATHJAX_STAMP):
	@mkdir -p _build/npm $(MATHJAX)
	cd _build/npm && npm install --silent --no-audit --no-fund --prefix . mathjax@3
	cp -r _build/npm/node_modules/mathjax/es5/output _build/npm/node_modules/mathjax/es5/input \
	      _build/npm/node_modules/mathjax/es5/ui _build/npm/node_modules/mathjax/es5/a11y $(MATHJAX)/
	cp _build/npm/node_modules/mathjax/LICENSE $(MATHJAX)/
	# the entry point last: it is the stamp, so an interrupted copy is redone
	cp _build/npm/node_modules/mathjax/es5/tex-chtml.js $(MATHJAX)/

lint: $(STAMP)
	$(BIN)/ruff check src tests

unit: $(STAMP)
	@$(BIN)/python -m pytest -q tests/unit; rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "error: pytest collected no tests in tests/unit"; exit 1; fi; exit $$rc

# Static notebook checks (one parameters cell, no outputs, citations exist): seconds, so they run before
# the notebooks execute; `make test` runs them again with the rest of tests/notebooks at the end.
hygiene: $(STAMP)
	$(BIN)/python -m pytest -q tests/notebooks/test_hygiene.py tests/notebooks/test_citations.py

notebooks-smoke: $(STAMP)
	$(BIN)/python -m scalelab.book run --scale smoke

notebooks-cpu: $(STAMP)
	$(BIN)/python -m scalelab.book run --scale cpu --records-only

stage: $(STAMP)
	$(BIN)/python -m scalelab.book stage --scale cpu

html: $(STAMP) $(MATHJAX_STAMP)
	$(BIN)/jupyter-book build book -W -n --keep-going
	@echo "The book is built: open file://$(CURDIR)/book/_build/html/index.html"

test: $(STAMP) $(MATHJAX_STAMP)
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory unit
	$(MAKE) --no-print-directory hygiene
	$(MAKE) --no-print-directory notebooks-smoke
	$(MAKE) --no-print-directory notebooks-cpu
	$(MAKE) --no-print-directory stage
	$(MAKE) --no-print-directory html
	@SCALELAB_REQUIRE_EXECUTED=1 $(BIN)/python -m pytest -q tests/notebooks; rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "error: pytest collected no tests in tests/notebooks"; exit 1; fi; exit $$rc

# Renders from committed records only: a chapter whose cpu plan is not fully recorded is executed at smoke
# scale and carries a banner with its progress and the command that makes the missing records.
book: $(STAMP) $(MATHJAX_STAMP)
	$(BIN)/python -m scalelab.book run --scale cpu --records-only --fallback-smoke --reuse
	$(BIN)/python -m scalelab.book stage --scale cpu
	$(MAKE) --no-print-directory html

chapter: $(STAMP)
	@test -n "$(NB)" || { echo "usage: make chapter NB=03 SCALE=cpu"; exit 2; }
	$(BIN)/python -m scalelab.book run --scale $(SCALE) --only $(NB)

status: $(STAMP)
	$(BIN)/python -m scalelab.book status

clean:
	rm -rf _build book/_build book/chapters book/_generated
