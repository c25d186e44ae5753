# Two set-up commands for a fresh machine with only Python 3.11 and pip:
#   make up     install from the lock and start the platform (Dagster, MLflow, simulator)
#   make test   install from the lock and run lint and the whole test suite (`dg check defs` in it)
# `make test-fast` skips the slow end-to-end tests; `make bench` prints the benchmarks.
# The `stores` tests need MLOPS_TEST_POSTGRES (`scripts/postgres.sh start` prints it) and the
# browser test Debian's chromium + chromium-driver; without them they are skipped (CI: they run).

SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
# Compiled bytecode halves every start-up (Great Expectations imports in ~4 s instead of ~9 s);
# UV_COMPILE_BYTECODE=0 in the environment leaves it to Python, module by module as imported.
export UV_COMPILE_BYTECODE ?= 1
export OMP_NUM_THREADS ?= 1

.PHONY: up test test-fast lint style bench bench-mlserver-env install uv docs

uv:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 \
		|| python3 -m pip install --quiet "uv==0.13.8"

install: uv
	$(UV) sync --frozen

up: install
	$(UV) run --frozen mlops up

style: install
	$(UV) lock --check
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .

lint: style
	$(UV) run --frozen dg check defs

# `dg check defs` runs once, in the suite (tests/test_dg_project.py: on a copy of the project with
# a scaffolded asset, a superset of the definitions). pytest's exit status 5 (no test collected)
# fails the target like any other non-zero status. Three workers on two cores: waits on the
# servers a test started are filled by the third; a fourth was no faster (the CPU is busy, see
# README, Development).
test: style
	$(UV) run --frozen pytest -n 3 --dist loadfile --no-loadscope-reorder --durations=15

test-fast: install
	$(UV) run --frozen pytest -m "not slow"

# MLServer, a peer in bench/bench_serving.py: its pins cannot share uv.lock (bench/peers/mlserver.in
# says why), so it gets an environment of its own, with this project installed without dependencies
bench-mlserver-env: uv
	$(UV) venv --allow-existing --python 3.11 .venv-mlserver
	$(UV) pip install --python .venv-mlserver/bin/python -r bench/peers/mlserver.txt
	$(UV) pip install --python .venv-mlserver/bin/python --no-deps -e .

docs: install
	$(UV) run --frozen python -m mlops_assets.commands.docs

bench: install
	$(UV) run --frozen python bench/bench_ingest.py
	$(UV) run --frozen python bench/bench_binning.py
	$(UV) run --frozen python bench/bench_models.py
	$(UV) run --frozen python bench/bench_decisions.py
	$(UV) run --frozen python bench/bench_gates.py
	$(UV) run --frozen python bench/bench_first_model.py
	$(UV) run --frozen python bench/bench_real_data.py
