# The map of the project: `make run`, `make test`, `make bench`, and what ops need.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
export PYTHONPATH := $(CURDIR)
# Creates stores and signs tokens. A development value; set your own anywhere else.
HELPDESK_PLATFORM_KEY ?= dev-platform-key-change-me
export HELPDESK_PLATFORM_KEY

.PHONY: help venv infra migrate run stop status lint test test-unit test-integration bench \
        test-e2e relay dlq-list dlq-show dlq-replay logs mail clean rebuild-projections openapi

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s $$'\t'

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required"' \
		|| { echo "Python 3.11 is required (set PYTHON=/path/to/python3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $@

venv: $(VENV)/.installed  ## create the virtualenv with the pinned dependencies

infra: venv  ## find, start or install PostgreSQL and RabbitMQ
	deploy/local/infra.sh ensure

migrate: infra  ## create the database, migrate every schema, declare exchanges and queues
	$(PY) -m seedwork migrate

run: migrate  ## bring the whole system up (each service its own process, a dev SMTP sink), with a demo store
	deploy/local/services.sh start
	$(PY) deploy/local/demo.py http://$${GATEWAY_HOST:-127.0.0.1}:$${GATEWAY_PORT:-8000}

openapi: venv  ## regenerate docs/openapi.json from the gateway's routes and schemas
	$(PY) -m services.gateway openapi > docs/openapi.json

rebuild-projections: migrate  ## rebuild every read model (the ticket list; teams, topics, agents' profiles; read marks, inbox counts; routing marks; the reports' metrics and rollups) from the events
	$(PY) -m services.tickets rebuild-projections
	$(PY) -m services.reports rebuild-projections

stop:  ## stop the services, the SMTP sink, and the servers `make run` started
	deploy/local/services.sh stop
	deploy/local/infra.sh stop

status:  ## what runs
	deploy/local/services.sh status
	deploy/local/infra.sh status

logs:  ## follow every service log
	tail -F var/log/*.log

mail: venv  ## the latest mail the development SMTP sink kept (var/mail/); one message: make mail N=3
	@if [[ -n "$(N)" ]]; then $(PY) -m deploy.local.smtp_sink show $(N); else $(PY) -m deploy.local.smtp_sink list; fi

test: test-unit test-integration test-e2e  ## unit tests, then integration and end-to-end tests against the real servers

test-unit: venv  ## only the pure tests: no server needed
	$(PY) -m pytest -q tests/unit

test-integration: infra  ## one service at a time, in process (under eventlet), on the real PostgreSQL and RabbitMQ
	$(PY) -m tests.support.green -q tests/integration

test-e2e: infra  ## every service as a process, through HTTP
	$(PY) -m pytest -q tests/e2e

lint: venv  ## ruff, and the import contracts that keep services apart (pyproject.toml)
	$(VENV)/bin/ruff check seedwork services tests bench deploy examples
	$(VENV)/bin/lint-imports

$(VENV)/.bench: requirements-bench.txt $(VENV)/.installed
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-bench.txt
	@touch $@

bench: infra $(VENV)/.bench  ## throughput and latency against raw PostgreSQL / RabbitMQ
	$(PY) -m bench

relay:  ## run one outbox relay in the foreground: make relay SERVICE=tickets
	$(PY) -m seedwork relay $(SERVICE)

dlq-list: venv  ## dead-letter queues and their depth
	$(PY) -m seedwork dlq list

dlq-show: venv  ## dead-lettered messages: make dlq-show QUEUE=seed.notifications.on_ticket_event
	$(PY) -m seedwork dlq show $(QUEUE)

dlq-replay: venv  ## move dead-lettered messages back: make dlq-replay QUEUE=...
	$(PY) -m seedwork dlq replay $(QUEUE)

clean: stop
	rm -rf $(VENV) var
