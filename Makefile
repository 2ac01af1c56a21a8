# The two commands of the README: `make run` and `make test`. Everything else is for developers.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export FLASK_APP := wsgi

.PHONY: run test fuzz lint bench bench-fanout bench-screens bench-shiftstart browser worker clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

PORT ?= 5000
WORKER ?= 0

## Start the API on 127.0.0.1:$(PORT) with a SQLite file, the embedded Redis, the shipped content and demo data.
## WORKER=1 runs the background worker beside it (pushes, reminders, deliveries); Ctrl-C stops both.
run: $(STAMP)
	$(BIN)/flask db upgrade
	$(BIN)/flask content import content
	$(BIN)/flask demo seed
ifeq ($(WORKER),1)
	@# The worker starts first and brings up the embedded Redis; the API joins it a moment later
	@# (two processes starting the embedded server at the same instant could each start one).
	$(BIN)/flask worker & worker=$$!; trap 'kill $$worker 2>/dev/null; wait $$worker' EXIT; \
		sleep 2; $(BIN)/flask run --host 127.0.0.1 --port $(PORT)
else
	$(BIN)/flask run --host 127.0.0.1 --port $(PORT)
endif

## The whole test suite: PostgreSQL/Redis from DATABASE_URL/REDIS_URL when set, else SQLite and the embedded Redis.
## The browser tests use Debian's Chromium (installed here when missing and running as root; else they skip).
test: $(STAMP) browser
	$(BIN)/pytest $(PYTEST_ARGS)

## Debian's chromium and chromium-driver for the browser tests (tests/browser/), when root and missing.
browser:
	@{ [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; } || [ "$$(id -u)" != 0 ] \
		|| ! command -v apt-get >/dev/null 2>&1 \
		|| DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium chromium-driver >/dev/null 2>&1 \
		|| { apt-get update -q >/dev/null 2>&1 \
			&& DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium chromium-driver >/dev/null 2>&1; } \
		|| echo "chromium could not be installed: the browser tests will skip (and fail under CI=true)"

## A longer fuzz of every operation as each role (tests/api/test_fuzz.py; `make test` runs a short one).
fuzz: $(STAMP)
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-50} $(BIN)/pytest tests/api/test_fuzz.py $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## Load benchmarks (not tests): gunicorn on a throwaway PostgreSQL db and Redis db 10, see benchmarks/README.md.
## wrk is installed with apt-get when missing and running as root; else a Python load generator runs.
bench: $(STAMP)
	@command -v wrk >/dev/null 2>&1 || [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1 \
		|| apt-get install -y -q wrk >/dev/null 2>&1 \
		|| { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q wrk >/dev/null 2>&1; } \
		|| echo "wrk could not be installed: using the Python load generator"
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

## Store screens: the API's throughput with and without 500 TVs on event streams (or polling), in one run; see benchmarks/README.md.
bench-screens: $(STAMP)
	@command -v wrk >/dev/null 2>&1 || [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1 \
		|| apt-get install -y -q wrk >/dev/null 2>&1 \
		|| { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q wrk >/dev/null 2>&1; } \
		|| echo "wrk could not be installed: using the Python load generator"
	$(BIN)/python benchmarks/screens.py $(SCREENS_ARGS)

## Shift start: learners opening the app within a minute at rising rates, until p99 passes 250 ms; see benchmarks/README.md.
bench-shiftstart: $(STAMP)
	@command -v wrk >/dev/null 2>&1 || [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1 \
		|| apt-get install -y -q wrk >/dev/null 2>&1 \
		|| { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q wrk >/dev/null 2>&1; } \
		|| echo "wrk could not be installed: using the Python load generator"
	$(BIN)/python benchmarks/shiftstart.py $(SHIFTSTART_ARGS)

## Push fan-out (issue 6): one burst worker, real firebase-admin, the fake FCM; see benchmarks/README.md.
bench-fanout: $(STAMP)
	$(BIN)/python benchmarks/fanout.py $(FANOUT_ARGS)

worker: $(STAMP)
	$(BIN)/flask worker

clean:
	rm -rf $(VENV) instance/*.sqlite3 instance/redis
