# eduplatform: the README's commands.
#   make demo   install, migrate, load and grade a demo course on the embedded default (SQLite, eager Celery)
#   make test   install, then run the suite; with PostgreSQL + Redis reachable (always in CI) also the
#               integration tests against real `celery worker` processes
#   make bench  benchmarks on ../shared/datasets (tables on stdout, JSON in bench-results/)
#   make chaos  fault injection: API submissions while workers are SIGKILLed and Redis restarts
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
DATASETS ?= ../shared/datasets
PG_TEST_URL ?= postgres://postgres@127.0.0.1:5432/eduplatform
REDIS_TEST_URL ?= redis://127.0.0.1:6379/15
# make chaos: a database and a Redis of its own (the database is dropped and recreated; Redis is
# started on this port and stopped at the end). `make test` runs a short one (CHAOS_CI_ARGS).
CHAOS_DB_URL ?= postgres://postgres@127.0.0.1:5432/eduplatform_chaos
CHAOS_REDIS_URL ?= redis://127.0.0.1:6390/0
CHAOS_ARGS ?= --n 200 --post-seconds 90
CHAOS_CI_ARGS ?= --n 60 --post-seconds 45
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install demo serve test test-unit test-integration browser-deps bench lint chaos schemathesis

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

# A private random key for the local demo (never a fixed one): created once in var/.
SECRET_FILE := var/secret_key
$(SECRET_FILE):
	mkdir -p var && (umask 077 && $(PYTHON) -c "import secrets; print(secrets.token_urlsafe(50))" > $@)

demo: install $(SECRET_FILE)
	DJANGO_SECRET_KEY_FILE=$(SECRET_FILE) $(PY) manage.py migrate --noinput -v0
	DJANGO_SECRET_KEY_FILE=$(SECRET_FILE) $(PY) manage.py demo

# The demo site on http://127.0.0.1:8000/ (embedded mode: SQLite, tasks run in-process).
serve: install $(SECRET_FILE)
	DJANGO_SECRET_KEY_FILE=$(SECRET_FILE) $(PY) manage.py runserver 127.0.0.1:8000

# Debian's Chromium for the browser smoke test (Playwright drives it; it never downloads a browser).
browser-deps:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ]; then (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver) >/dev/null; \
	  else echo "chromium missing and not root: the browser test will be skipped"; fi; fi

# Layers, lint and format first (seconds): a broken import contract fails the build before the tests run.
test: install browser-deps lint
	$(PY) -m pytest -m "not integration" -q
	@if $(PY) .ci/services.py check "$(PG_TEST_URL)" "$(REDIS_TEST_URL)"; then \
	  $(MAKE) --no-print-directory test-integration && \
	  $(MAKE) --no-print-directory chaos CHAOS_ARGS="$(CHAOS_CI_ARGS)"; \
	elif [ "$$CI" = "true" ]; then echo "CI: PostgreSQL/Redis unreachable; integration tests are required" >&2; exit 1; \
	else echo "PostgreSQL/Redis not reachable: integration tests skipped (they run in CI)"; fi

test-integration: install
	DATABASE_URL=$(PG_TEST_URL) REDIS_URL=$(REDIS_TEST_URL) $(PY) -m pytest -m integration -q

chaos: install
	mkdir -p bench-results
	DATABASE_URL=$(CHAOS_DB_URL) REDIS_URL=$(CHAOS_REDIS_URL) \
	  DJANGO_SECRET_KEY=$$($(PY) -c "import secrets; print(secrets.token_urlsafe(50))") \
	  $(PY) manage.py chaos $(CHAOS_ARGS) --json bench-results/chaos.json

# Benchmarks read ../shared/datasets; a bench run needs a key like any other run of the project.
BENCH_ENV := DJANGO_SECRET_KEY_FILE=$(SECRET_FILE)
GRADING := $(DATASETS)/grading
bench: install $(SECRET_FILE)
	mkdir -p bench-results
	$(BENCH_ENV) $(PY) manage.py benchmark_grading --csv $(GRADING)/mohler_short_answers.csv --split both --json bench-results/grading.json
	$(BENCH_ENV) $(PY) manage.py benchmark_grading --csv $(GRADING)/asap_sas_train.csv --split within-question --json bench-results/asap_sas.json
	$(PY) -m multimodal.research.rubric_zero_shot --csv $(GRADING)/asap_sas_train.csv --prompts $(GRADING)/asap_sas_prompts.csv --per-question 400 --json bench-results/asap_rubric_zero_shot.json
	$(BENCH_ENV) $(PY) manage.py benchmark_grading --csv $(GRADING)/semeval2013_train.csv --split both --quiet --json bench-results/semeval.json
	$(BENCH_ENV) $(PY) manage.py benchmark_keypoints --json bench-results/keypoints.json
	$(BENCH_ENV) $(PY) manage.py benchmark_traits --csv $(GRADING)/ell_traits_train.csv --folds 5 --json bench-results/traits.json
	$(BENCH_ENV) $(PY) manage.py benchmark_ocr --dir $(DATASETS)/handwriting/csafe_pages --json bench-results/ocr_csafe.json
	$(BENCH_ENV) $(PY) manage.py benchmark_ocr --dir $(DATASETS)/handwriting/iam_lines --json bench-results/ocr_iam.json
	$(BENCH_ENV) $(PY) manage.py benchmark_ocr --dir $(DATASETS)/handwriting/crohme2014 --math --json bench-results/ocr_crohme.json
	$(BENCH_ENV) $(PY) manage.py benchmark_asr --dir $(DATASETS)/speech --json bench-results/asr.json
	$(BENCH_ENV) $(PY) manage.py benchmark_speaking --dir $(DATASETS)/speech --json bench-results/speaking.json
	$(BENCH_ENV) $(PY) manage.py benchmark_encoders --json bench-results/encoders.json
	$(BENCH_ENV) $(PY) manage.py benchmark_kt --train $(DATASETS)/kt/STATICS_train.csv --test $(DATASETS)/kt/STATICS_test.csv --json bench-results/kt_statics.json
	$(BENCH_ENV) $(PY) manage.py benchmark_kt --train $(DATASETS)/kt/assist2015_train.csv --test $(DATASETS)/kt/assist2015_test.csv --json bench-results/kt_assist2015.json
	$(BENCH_ENV) DATABASE_URL=sqlite:///$(CURDIR)/var/oulad.sqlite3 $(PY) manage.py migrate --noinput -v0
	$(BENCH_ENV) DATABASE_URL=sqlite:///$(CURDIR)/var/oulad.sqlite3 $(PY) manage.py import_oulad $(DATASETS)/oulad_dev
	$(BENCH_ENV) DATABASE_URL=sqlite:///$(CURDIR)/var/oulad.sqlite3 $(PY) manage.py benchmark_risk --cutoff-day 60 --json bench-results/risk.json
	@if $(PY) .ci/services.py check "$(PG_TEST_URL)" "$(REDIS_TEST_URL)"; then \
	  psql -q -h 127.0.0.1 -U postgres -c "CREATE DATABASE eduplatform_bench" 2>/dev/null || true; \
	  $(BENCH_ENV) DATABASE_URL=postgres://postgres@127.0.0.1:5432/eduplatform_bench REDIS_URL=redis://127.0.0.1:6379/14 $(PY) manage.py benchmark_pipeline --n 500 --json bench-results/pipeline.json; fi

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

# The API against its OpenAPI schema (schemathesis, fixed example budget, student and instructor
# tokens): no 5xx, every status/content type/body documented. `make test` runs it too (12 examples
# per operation); this target runs a bigger budget and prints the request counts.
SCHEMATHESIS_EXAMPLES ?= 40
schemathesis: install
	SCHEMATHESIS_EXAMPLES=$(SCHEMATHESIS_EXAMPLES) $(PY) -m pytest -q -s -p no:cacheprovider tests/test_schema.py
