# Quickstart:  make run   (set up, then run the baseline scenario)
#              make test  (set up, then run the test suite)
# Both create the virtual environment .venv on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint setup browser app classroom golden docs experiments sweeps benchmarks clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else "retailsim needs Python >= 3.12 (Mesa 3.5); found " + sys.version.split()[0] + ". Install 3.12 or run: make PYTHON=python3.12 ...")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	$(BIN)/python -m sim.fastchoice  # compile the numba engine once; it is cached on disk
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/retailsim run scenarios/baseline.toml --out runs/baseline

classroom: $(STAMP)
	$(BIN)/retailsim run scenarios/classroom.toml --out runs/classroom

# The browser test drives Debian's Chromium: Playwright's own browser download cannot be reached here.
browser:
	@command -v chromium >/dev/null 2>&1 || { echo "installing Debian's chromium for the browser test"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
		|| echo "could not install chromium: the browser test will be skipped"

test: $(STAMP) browser
	$(BIN)/ruff check sim tests scripts benchmarks experiments
	$(BIN)/python -m pytest -q

app: $(STAMP)
	$(BIN)/retailsim app scenarios/classroom.toml

experiments: $(STAMP)  # every declared experiment, 20 replications each (highstreet_flows: 10 seeds); see the README for times
	for e in $$(ls experiments/*.py | xargs -n1 basename | grep -v '^_' | sed 's/\.py$$//'); do \
		$(BIN)/retailsim experiment $$e --quiet || exit 1; done

sweeps: $(STAMP)  # sensitivity analyses and both calibrations (about 40 minutes on 2 cores)
	$(BIN)/retailsim sweep sensitivity_morris --quiet
	$(BIN)/retailsim sweep sensitivity_sobol --quiet
	$(BIN)/retailsim calibrate calibrate_online_uk --quiet
	$(BIN)/retailsim sweep calibrate_flows --quiet

benchmarks: $(STAMP)
	$(BIN)/python benchmarks/bench_scenarios.py --repeat 3
	$(BIN)/python benchmarks/bench_scale.py
	$(BIN)/python benchmarks/bench_sweep.py
	$(BIN)/python benchmarks/bench_app.py

golden: $(STAMP)
	$(BIN)/python scripts/refresh_golden.py

docs: $(STAMP)
	$(BIN)/python scripts/make_docs.py

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache
