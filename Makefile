# Every target sets itself up: a fresh clone with Python 3.11 and pip is enough.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test check lint serve clean fuzz bench browser postgres cxx

# Debian packages a target needs, installed quietly: one line says what, apt's own output goes
# to $(APT_LOG) (read it when an install fails).
APT_LOG := /tmp/tradewire-apt.log
apt = (echo "installing Debian packages: $(1) (apt's output in $(APT_LOG))" && \
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(1)) \
  >$(APT_LOG) 2>&1 && echo "installed: $(1)")

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff format --check src tests examples fuzzing benchmarks
	$(BIN)/ruff check src tests examples fuzzing benchmarks
	$(BIN)/mypy --strict src examples/article

# The dashboard's tests drive a real browser: Debian's chromium and its driver.
browser:
	@command -v chromedriver >/dev/null || $(call apt,chromium chromium-driver) || \
	  echo "warning: could not install chromium (not root?): the dashboard browser test is skipped (fails under CI)"

# The MQL5 shim tests compile the Include files and run the EAs with g++ (Debian's g++).
cxx:
	@command -v g++ >/dev/null || $(call apt,g++) || \
	  echo "warning: could not install g++ (not root?): the MQL5 shim tests are skipped (fail under CI)"

# The PostgreSQL tick store's tests run a real server: Debian's postgresql (initdb and pg_ctl;
# the tests start their own cluster in a temporary folder on a free port).
postgres:
	@ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || $(call apt,postgresql) || \
	  echo "warning: could not install postgresql (not root?): the PostgreSQL tests are skipped (fail under CI)"

# Everything, four tests at a time: most of them wait on sockets and subprocesses, so four
# workers fit two cores (make test took 8 min in one process, 3.5 min in four).
test: lint browser postgres cxx
	$(BIN)/pytest -q -n 4

# The fast ring, for every edit: lint, and the tests that start no hub: the units, the services
# driven frame by frame (tests/services/fakes.py), the stores,
# the bus and the broker conformance suites (about 30 s).
check: lint postgres
	$(BIN)/pytest -q -n 4 tests/unit tests/services tests/store tests/bus tests/brokers

demo: $(STAMP)
	$(BIN)/tradewire demo

serve: $(STAMP)
	$(BIN)/tradewire serve

# Benchmarks against nats-server, Redis and a plain asyncio server; outside `make test`.
# Writes benchmarks/results/*.json, benchmarks/RESULTS.md and PNG plots.
bench: $(STAMP) postgres
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	@command -v redis-server >/dev/null || $(call apt,redis-server)
	@command -v strace >/dev/null || $(call apt,strace) || \
	  echo "warning: could not install strace: fanout.py counts no system calls"
	cd benchmarks && ../$(BIN)/python fanout.py
	cd benchmarks && ../$(BIN)/python copy_latency.py
	cd benchmarks && ../$(BIN)/python copy_engine.py --profile results/profiles
	cd benchmarks && ../$(BIN)/python ticks.py
	cd benchmarks && ../$(BIN)/python connections.py
	cd benchmarks && ../$(BIN)/python ban_reload.py
	cd benchmarks && ../$(BIN)/python services.py
	cd benchmarks && ../$(BIN)/python history.py
	cd benchmarks && ../$(BIN)/python attacks.py
	cd benchmarks && ../$(BIN)/python report.py

# Coverage-guided fuzzing (atheris) of every parser, FUZZ_RUNS inputs each; outside `make test`.
FUZZ_RUNS ?= 1000000
FUZZ_HARNESSES := frames signals template ticks mt5csv
fuzz: $(STAMP)
	$(BIN)/python -m pip install --quiet 'atheris>=2.3'
	$(BIN)/python fuzzing/seeds.py .fuzz-corpus
	@mkdir -p fuzzing/results
	@for h in $(FUZZ_HARNESSES); do \
	  echo "== $$h: $(FUZZ_RUNS) inputs"; \
	  (cd fuzzing && ../$(BIN)/python fuzz.py $$h -runs=$(FUZZ_RUNS) -print_final_stats=1 \
	    -artifact_prefix=results/$$h- ../.fuzz-corpus/$$h > results/$$h.log 2>&1) \
	    || { tail -40 fuzzing/results/$$h.log; echo "fuzzing $$h failed: see fuzzing/results/"; exit 1; }; \
	  grep -E "^Done|stat::number_of_executed_units|stat::peak_rss_mb" fuzzing/results/$$h.log; \
	done

clean:
	rm -rf $(VENV) tradewire-data .pytest_cache .mypy_cache .ruff_cache .fuzz-corpus
