# The two commands of the README: `make demo` and `make test`.
# Each creates/updates .venv from requirements.txt and pyproject.toml, and is
# quick when nothing changed (the stamp file is newer than both).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test bench attack gpu-check release-check oldest-check clean-venv

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is required (the pinned numpy, nbgrader and ipykernel need it); $(PYTHON) is " + sys.version.split()[0] + ": run make with PYTHON=python3.12 (or another 3.11+)")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/cs7150 demo

test: $(STAMP)
	$(VENV)/bin/lint-imports
	$(PY) -m pytest

bench: $(STAMP)
	$(VENV)/bin/cs7150 bench

# The whole hostile-submission corpus, every disruption variant of the blank releases and the route matrix
# (make test runs a fast subset of each); they write docs/attack-table.md.
attack: $(STAMP)
	$(PY) -m pytest -m slow tests/autograder/test_attacks.py tests/autograder/test_disruption.py tests/autograder/test_routes.py -q

# The GPU path measured once (benchmarks/gpu_check.py; docs/benchmarks.md). It needs only a Python with
# torch, numpy, pytest and tqdm: this .venv where there is one, else $(PYTHON) as it is (a GPU machine).
gpu-check:
	$(if $(wildcard $(PY)),$(PY),$(PYTHON)) benchmarks/gpu_check.py

# Each release copied alone to a fresh folder, with a fresh venv from its own requirements.txt (minutes).
release-check: $(STAMP)
	$(PY) -m pytest -m alone tests/autograder/release/test_release_alone.py -q

# The same, with the oldest numpy and torch the READMEs claim (Colab's, whose students do not install the pins)
# installed over the release's pins. Where no wheel of that torch is at hand, name one that is:
# make oldest-check TORCH_OLDEST=2.13.0 (docs: README, "Supported versions").
NUMPY_OLDEST ?= 2.1.3
TORCH_OLDEST ?= 2.11.0
oldest-check: $(STAMP)
	CS7150_OLDEST="numpy==$(NUMPY_OLDEST) torch==$(TORCH_OLDEST)" $(PY) -m pytest -m alone tests/autograder/release/test_release_alone.py -q

clean-venv:
	rm -rf $(VENV)
