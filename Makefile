# Two entry points: `make run` (the main job) and `make test` (lint, types, tests).
# Both build and reuse a local virtual environment in .venv.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
SEED   ?= 7
SCENARIO ?= primary-dies-async
PYTEST_ARGS ?=

.PHONY: run test lint typecheck browser bench bench-scale clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	@touch $@

run: $(STAMP)
	$(BIN)/replisim run $(SCENARIO) --seed $(SEED)

lint: $(STAMP)
	$(BIN)/ruff check .

# mypy resolves modules from paths, and this repository's root *is* the `replisim` package,
# so give it a directory in which the root is reachable under that name.
typecheck: $(STAMP)
	@mkdir -p $(VENV)/typecheck && ln -sfn "$(CURDIR)" $(VENV)/typecheck/replisim
	cd $(VENV)/typecheck && MYPYPATH=. ../bin/mypy --config-file "$(CURDIR)/pyproject.toml" -p replisim

# The report test opens a report in Debian's Chromium; this installs it when it is missing.
browser:
	@bash tests/setup-chromium.sh

test: lint typecheck browser
	$(BIN)/python -m pytest -q -rs $(PYTEST_ARGS)

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
	rm -rf $(VENV) build *.egg-info
