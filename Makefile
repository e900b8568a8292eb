# Two entry points: `make run` (the main job) and `make test` (lint, types, tests).
# Both build and reuse a local virtual environment in .venv.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
CINDER_STAMP := $(VENV)/.cinder-extra-stamp
SEED   ?=  # empty: the scenario's own seed
SCENARIO ?= primary-dies-async
PYTEST_ARGS ?=

CINDER_VENV ?= .venv-cinder29
ARGS ?=

.PHONY: run test lint typecheck browser cinder29 differential bench bench-scale clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	@touch $@

# The cinder extra (about 100 packages, a minute on these machines; it changes none of replisim's
# own pins) for what tests and type-checks: Cinder's driver adapter is tested against real Cinder.
# `make run` does without it.
$(CINDER_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q -e '.[test,cinder]'
	@touch $@

run: $(STAMP)
	$(BIN)/replisim run $(SCENARIO) $(if $(SEED),--seed $(SEED))

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# mypy resolves modules from paths, and this repository's root *is* the `replisim` package,
# so give it a directory in which the root is reachable under that name.
typecheck: $(CINDER_STAMP)
	@mkdir -p $(VENV)/typecheck && ln -sfn "$(CURDIR)" $(VENV)/typecheck/replisim
	cd $(VENV)/typecheck && MYPYPATH=. ../bin/mypy --config-file "$(CURDIR)/pyproject.toml" -p replisim

# The report test opens a report in Debian's Chromium; this installs it when it is missing.
browser:
	@bash tests/setup-chromium.sh

# Real Cinder 29.0.0 for the differential suite, in its own virtual environment; a no-op once
# installed (about 45 s on a bare machine).
cinder29:
	@bash tests/differential/setup-cinder.sh $(CINDER_VENV)

# REPLISIM_REQUIRE_CINDER: a test that needs the cinder extra fails rather than skips without it.
test: lint typecheck browser cinder29
	CINDER_VENV=$(abspath $(CINDER_VENV)) REPLISIM_REQUIRE_CINDER=1 $(BIN)/python -m pytest -q -rs $(PYTEST_ARGS)

# The differential suite's own report: the tally, every differing request's diff, and the cinder
# commands' exit codes. ARGS=--update-known rewrites tests/differential/known_differences.yaml.
differential: $(STAMP) cinder29
	cd tests && CINDER_VENV=$(abspath $(CINDER_VENV)) ../$(BIN)/python -m differential $(ARGS)

bench: $(STAMP)
	$(BIN)/python tests/benchmarks/bench_kernel.py
	$(BIN)/python tests/benchmarks/bench_arrays.py
	$(BIN)/python tests/benchmarks/bench_report.py
	$(BIN)/python tests/benchmarks/bench_live.py
	$(BIN)/python tests/benchmarks/bench_scale.py 1000 10000

# The issue-19 goal: 100,000 volumes on 100 backends for 24 simulated hours (a few minutes).
bench-scale: $(STAMP)
	$(BIN)/python tests/benchmarks/bench_scale.py 100000 --hours 24

clean:
	rm -rf $(VENV) $(CINDER_VENV) build *.egg-info
