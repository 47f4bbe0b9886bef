# vulnpipe: the two commands a new machine needs are `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEVSTAMP := $(VENV)/.installed-dev

.PHONY: demo test bench fuzz clean sample

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(DEVSTAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP) $@

demo: $(STAMP)
	$(BIN)/python -m vulnpipe.demo

test: $(DEVSTAMP)
	$(BIN)/python -m pytest -n 2 -q

bench: $(DEVSTAMP)
	$(BIN)/python benchmarks/run.py

sample: $(STAMP)
	$(BIN)/python sample_data/make_sample.py

clean:
	rm -rf out $(VENV) build *.egg-info
