# vulnpipe: the two commands a new machine needs are `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEVSTAMP := $(VENV)/.installed-dev

.PHONY: demo test bench bench-quick bench-big bench-history fuzz clean sample pictures
FUZZ_SECONDS ?= 300
FUZZ_SEEDS ?= ../shared/corpus

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
	$(BIN)/python -m ruff check .
	$(BIN)/python tools/typecheck.py
	$(BIN)/python -m pytest -n 2 -q

# the peers (pyTenable, nessus-file-reader) come from the optional 'bench' extra
bench: $(DEVSTAMP)
	-$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python benchmarks/run.py

bench-quick: $(DEVSTAMP)
	$(BIN)/python benchmarks/run.py --quick

# A year of history (10,000 hosts, 26 and 52 weeks; generated once into benchmarks/.cache or
# $$VULNPIPE_BENCH_CACHE), SQLite and PostgreSQL: results in benchmarks/RESULTS-history.md
bench-history: $(DEVSTAMP)
	$(BIN)/python benchmarks/bench_history.py --out benchmarks/RESULTS-history.md

bench-big: $(DEVSTAMP)
	-$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python benchmarks/run.py --big

fuzz: $(DEVSTAMP)
	$(BIN)/python -m pip install --quiet -e '.[fuzz]'
	mkdir -p fuzz/work-corpus
	-find $(FUZZ_SEEDS) -type f \( -name '*.nessus' -o -name '*.xml' \) -size -2M -exec cp {} fuzz/work-corpus/ \;
	cp tests/fixtures/fuzz-seeds/* fuzz/work-corpus/ 2>/dev/null || true
	cd fuzz && ../$(BIN)/python fuzz_parser.py -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 work-corpus

sample: $(STAMP)
	$(BIN)/python sample_data/make_sample.py

# docs/img: the sample report and the first printed page of its workbooks (Chromium, LibreOffice)
pictures: demo
	$(BIN)/python docs/img/make_pictures.py

clean:
	rm -rf out $(VENV) build *.egg-info
