# Espoo employment-services assistant. `make help` lists the targets.
# Every target uses the Python 3.10 virtual environment .venv (Rasa 3.6 needs 3.10).

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
# python3.10 from the PATH, else from pyenv's versions folder (its shim fails unless 3.10 is selected).
PYTHON310 ?= $(shell for p in python3.10 $$HOME/.pyenv/versions/3.10*/bin/python3.10 /usr/bin/python3.10 /usr/local/bin/python3.10; do \
	$$p -c 'import sys; assert sys.version_info[:2] == (3, 10)' >/dev/null 2>&1 && { echo $$p; break; }; done)
STAMP := $(VENV)/.installed

.PHONY: help venv browsers train run chat test test-fast lint bench validate lock migrate clean content content-check

help:
	@echo "make run    - train if needed, start the Rasa server (5005) and action server (5055)"
	@echo "make chat   - chat with the running assistant in the terminal"
	@echo "make test   - lint, data validation and the whole test suite"
	@echo "make test-fast - the tests that need no model, servers, browser or Telegram (a few minutes)"
	@echo "make train  - train the model into models/ (only when its inputs changed)"
	@echo "make bench  - accuracy, language-detection and latency figures"
	@echo "make content - regenerate the topic answers (domain/responses/topics_*.yml) from content/"
	@echo "make content-check - which topic answers are due for a re-check (review age, catalogue changes)"
	@echo "make migrate - upgrade the gateway's database (DATABASE_URL, else config/gateway.yml) to the latest schema"

venv: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	@test -n "$(PYTHON310)" || { echo "Python 3.10 not found: install it (e.g. pyenv install 3.10) and retry"; exit 1; }
	@test -x $(PY) || $(PYTHON310) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip<24.1"
	$(PY) -m pip install --quiet -r requirements.lock
	touch $(STAMP)

lock: ## re-resolve every dependency together from pyproject.toml
	rm -rf .lockenv && $(PYTHON310) -m venv .lockenv
	.lockenv/bin/pip install --quiet --upgrade "pip<24.1"
	.lockenv/bin/pip install --quiet ".[dev]"
	.lockenv/bin/pip freeze --all --exclude-editable | grep -v "^espoo-employment-assistant\|^pip==" > requirements.lock
	rm -rf .lockenv

# Debian's Chromium for the browser tests (Playwright drives it; no browser download), and
# Debian's nginx for the proxy in front of two gateways (tests/test_scaleout.py runs it itself),
# and Debian's docker-compose to validate docker-compose.yml (tests/test_deployment.py).
browsers:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	@command -v nginx >/dev/null 2>&1 || test -x /usr/sbin/nginx || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null; }
	@command -v docker-compose >/dev/null 2>&1 || docker compose version >/dev/null 2>&1 || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null; }

train: $(STAMP)
	$(PY) -m scripts.train

run: train
	$(VENV)/bin/honcho -f Procfile start

migrate: $(STAMP)
	$(PY) -m bot migrate

chat: $(STAMP)
	$(PY) -m scripts.chat

validate: $(STAMP)
	$(VENV)/bin/rasa data validate --config config/config.yml --domain domain --data data

lint: $(STAMP)
	$(VENV)/bin/ruff check .

# -ra lists every skipped test with its reason (e.g. PostgreSQL or Redis not running);
# the last line counts them ("N passed, M skipped").
# The content check is a report here, never a failure.
test: $(STAMP) browsers
	$(VENV)/bin/ruff check .
	-$(PY) -m scripts.content_check --summary
	$(PY) -m scripts.train
	$(PY) -m pytest -ra

# For working: no model, no Rasa, no browser, no Telegram, no fault injection.
test-fast: $(STAMP)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -ra -m "not model and not servers and not browser and not telegram and not faults"

content: $(STAMP)
	$(PY) -m scripts.build_content

content-check: $(STAMP)
	$(PY) -m scripts.content_check

bench: train
	$(PY) -m scripts.bench

clean:
	rm -rf models .rasa results .pytest_cache .ruff_cache
