# The two set-up commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.run-installed
DEV_STAMP := $(VENV)/.dev-installed
export FLASK_APP := wsgi.py

.PHONY: run test translations lint bench extract

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(RUN_STAMP): requirements.txt | $(VENV)/bin/python
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(DEV_STAMP): requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@ $(RUN_STAMP)

# Compile every area's English catalogue (translations/<area>/en/LC_MESSAGES/messages.po).
translations: $(RUN_STAMP)
	@for d in translations/*/; do \
	  if [ -f "$$d/en/LC_MESSAGES/messages.po" ]; then $(BIN)/pybabel -q compile -d "$$d" -l en || exit 1; fi; \
	done

run: $(RUN_STAMP) translations
	$(BIN)/flask db upgrade
	$(BIN)/flask seed --demo
	$(BIN)/flask run --host 127.0.0.1 --port 5000

# axe-core for the browser tests (from the npm registry, pinned in package-lock.json).
node_modules/axe-core/axe.min.js: package.json package-lock.json
	@if command -v npm >/dev/null; then npm ci --no-audit --no-fund --silent; else echo "WARNING: npm missing: accessibility checks will be skipped"; fi

# The S3-compatible server of the tests (moto's standalone server) in its own virtualenv (tests/s3_server.py).
S3_VENV := .venv-s3
S3_STAMP := $(S3_VENV)/.installed
$(S3_STAMP): requirements-s3server.txt
	$(PYTHON) -m venv $(S3_VENV)
	$(S3_VENV)/bin/pip install -q -r requirements-s3server.txt
	touch $@

test: $(DEV_STAMP) $(S3_STAMP) translations node_modules/axe-core/axe.min.js
	bash scripts/test.sh

# Benchmarks on PostgreSQL + Redis (not part of `make test`); each prints its figures next to its targets,
# and `scripts/bench_results.py` prints all of this run's figures in one table at the end.
# 1. intake under load (wrk, gunicorn, rq worker, upload memory; database bench_intake);
# 2. staff queues and search on a generated history of BENCH_APPEALS appeals (database bench_history);
# 3. the bulletin's import and rollup on the same generated history (same size and seed) in its own database
#    (bench_bulletin), because the import adds records that would change the queues of the next run.
# 4. phone sign-in: the same time for a number with appeals and one without (database bench_sign_in).
# 5. (last) a 20 MB upload to S3-compatible storage vs the local folder, and the database size per 100,000 appeals
#    (scripts/bench_storage.py; moto from .venv-s3).
# Each history is generated once (about 10 minutes for a million appeals) and kept for later runs.
BENCH_APPEALS ?= 1000000
bench: $(DEV_STAMP) $(S3_STAMP)
	@command -v wrk >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null)
	@rm -f artifacts/bench/results.jsonl
	-$(BIN)/python scripts/bench_intake.py
	-$(BIN)/python scripts/bench_api.py --url postgresql+psycopg://postgres@127.0.0.1:5432/bench_api
	-$(BIN)/python scripts/bench_queues.py --reuse --appeals $(BENCH_APPEALS)
	-$(BIN)/python scripts/bench_bulletin.py --reuse --appeals $(BENCH_APPEALS)
	-$(BIN)/python scripts/bench_sign_in.py
	-$(BIN)/python scripts/bench_storage.py
	$(BIN)/python scripts/bench_results.py

lint: $(DEV_STAMP)
	$(BIN)/ruff check .

# Extract the messages of one area into its catalogue: make extract AREA=public
extract: $(DEV_STAMP)
	$(BIN)/pybabel -q extract -F babel.cfg -k _l -o translations/$(AREA)/messages.pot $(PATHS)
	@if [ -f translations/$(AREA)/en/LC_MESSAGES/messages.po ]; then \
	  $(BIN)/pybabel -q update -i translations/$(AREA)/messages.pot -d translations/$(AREA) -l en; \
	else $(BIN)/pybabel -q init -i translations/$(AREA)/messages.pot -d translations/$(AREA) -l en; fi
	$(BIN)/python scripts/catalogues.py  # messages shared with another area move to translations/core
