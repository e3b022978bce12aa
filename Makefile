# Quick start targets: everything installs into .venv from PyPI.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
JOBS   ?= 2

.PHONY: demo test bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev,train,nir,boards,bench,sweep]"
	$(BIN)/python -m pip install -q --no-deps norse nirtorch
	touch $@

demo: $(BIN)/.installed
	$(BIN)/spikeforge demo

test: $(BIN)/.installed
	$(BIN)/python -m pytest -n $(JOBS) -q

bench: $(BIN)/.installed
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) build sim_build* .pytest_cache .hypothesis
