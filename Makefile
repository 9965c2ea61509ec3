# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# test files run in parallel, a file to a process: most of an integration test is waiting on its broker and workers
TEST_WORKERS ?= 2
PYTEST := $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile

.PHONY: run test test-fast system-deps check bench bench-cpu bench-event-time bench-eval bench-restart bench-readmodel bench-simulate bench-quote lint \
	schemas clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)  ## embedded broker + one worker + demo feed, live console (Ctrl-C stops all)
	$(BIN)/memberflow run

system-deps:  ## Debian packages the tests need (installed when missing)
	scripts/system-deps

check: $(STAMP)  ## lint and the dependency layers (a back-edge between packages fails here)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

test: $(STAMP) system-deps check  ## everything: unit, agent, tool, deployment and integration tests (brokers on loopback)
	$(PYTEST)

test-fast: $(STAMP) check  ## the fast tiers only: no broker, no worker processes
	$(PYTEST) -m "not integration"

bench: $(STAMP)  ## throughput/latency benchmark against the embedded broker (prints figures)
	$(BIN)/python -m benchmarks.engine

bench-cpu: $(STAMP)  ## the members agent's work per event without the broker (prints µs/event per phase)
	$(BIN)/python -m benchmarks.engine_cpu

bench-event-time: $(STAMP)  ## the worker with and without event time, alternated in one run (prints the ratio)
	$(BIN)/python -m benchmarks.event_time_worker

bench-eval: $(STAMP)  ## periodic evaluation of 1,000,000 members on one worker's RocksDB (prints figures)
	$(BIN)/python -m benchmarks.evaluation

bench-restart: $(STAMP)  ## a SIGKILLed worker restarted: seconds until it processes again (prints figures)
	$(BIN)/python -m benchmarks.restart

bench-readmodel: $(STAMP)  ## member search over 1,000,000 members in PostgreSQL, and the projector (prints figures)
	$(BIN)/python -m benchmarks.readmodel

bench-quote: $(STAMP)  ## the checkout quote over HTTP on a warm worker beside its member lookup (prints p50/p99)
	$(BIN)/python -m benchmarks.quote

bench-simulate: $(STAMP)  ## what-if simulation of 1,000,000 demo events vs the plain replay (prints events/s)
	$(BIN)/python -m benchmarks.simulate

lint: check

schemas: $(STAMP)  ## re-export JSON Schemas from the pydantic contracts
	$(BIN)/memberflow schemas --out schemas

clean:
	rm -rf $(VENV) data run .pytest_cache
