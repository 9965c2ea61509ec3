# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench bench-cpu bench-eval lint schemas clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)  ## embedded broker + one worker + demo feed, live console (Ctrl-C stops all)
	$(BIN)/memberflow run

test: $(STAMP)  ## unit, agent and integration tests (starts its own brokers on loopback)
	$(BIN)/python -m pytest -q

bench: $(STAMP)  ## throughput/latency benchmark against the embedded broker (prints figures)
	$(BIN)/python -m benchmarks.engine

bench-cpu: $(STAMP)  ## the members agent's work per event without the broker (prints µs/event per phase)
	$(BIN)/python -m benchmarks.engine_cpu

bench-eval: $(STAMP)  ## periodic evaluation of 1,000,000 members on one worker's RocksDB (prints figures)
	$(BIN)/python -m benchmarks.evaluation

lint: $(STAMP)
	$(BIN)/ruff check .

schemas: $(STAMP)  ## re-export JSON Schemas from the pydantic contracts
	$(BIN)/memberflow schemas --out schemas

clean:
	rm -rf $(VENV) data run .pytest_cache
