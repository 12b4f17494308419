# Users API: every command a developer or CI needs. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

ENVIRONMENT ?= dev
# Extra CDK CLI flags, e.g. CDK_ARGS="--require-approval never" in the deploy pipeline.
CDK_ARGS ?=
# Where `make deploy` writes the stack outputs and `make smoke` reads the API URL from.
OUTPUTS_FILE ?= cdk-outputs.json
SMOKE_ARGS ?=
# Before a deploy, scripts/guard_stateful.py reads this change set (then deletes it) and stops if
# it would replace or delete a table, key, log group or topic that -c allowReplace=<logical id>
# does not name; `make diff` runs it read-only on the deployed template.
GUARD_CHANGE_SET := users-api-guard
GUARD = $(VENV)/bin/python scripts/guard_stateful.py --stack UsersApi-$(ENVIRONMENT)
VENV := .venv
ifndef PYTHON313
# Found once; `make install` reports how to get one when there is none.
PYTHON313 := $(shell scripts/find-python313 2>/dev/null)
endif
TOX := $(VENV)/bin/tox
# tox (through tox-uv) builds its environments on this interpreter, and never downloads one.
export PYTHON313
export UV_PYTHON_DOWNLOADS := never
# jsii supports Node 22 and 24 and prints a banner on Node 20: this is the variable it reads.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION ?= 20
export CDK_DISABLE_CLI_TELEMETRY := 1
# Material for MkDocs' end-of-life notice, printed on every build (the pins are ours).
export NO_MKDOCS_2_WARNING := 1

.PHONY: help install test unit lint e2e upgrade-test local watch local-down image synth diff deploy destroy smoke bench docs clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'

$(VENV)/.installed: constraints.txt requirements.txt requirements-dev.txt lambda/requirements.txt
	@test -n "$(PYTHON313)" || { scripts/find-python313; exit 1; }
	$(PYTHON313) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -c constraints.txt -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

install: $(VENV)/.installed node_modules/.installed ## Create .venv (Python 3.13) and install the pinned CLIs

test: install ## Everything CI runs: lint, unit tests, then the e2e suite on LocalStack
	$(TOX) run -e lint,checkov,unit,e2e

unit: install ## Unit tests only (CDK assertions and the handler)
	$(TOX) run -e unit

lint: install ## Static gates: ruff, mypy, the OpenAPI drift check, cdk-nag, cfn-lint, checkov, actionlint, zizmor, the docs site
	$(TOX) run -e lint,checkov

e2e: install ## The e2e suite: deploys into a fresh LocalStack and drives the API
	$(TOX) run -e e2e

upgrade-test: install ## Deploy each supported release (or UPGRADE_FROM=<ref>), write users, deploy this tree over it
	$(TOX) run -e upgrade

local: install ## LocalStack with the stack deployed, API URL and sample calls; when up: deploy what changed
	@$(VENV)/bin/python -m e2e.harness up

watch: install ## While `make local` is up: every saved change under lambda/ is live in about a second
	@$(VENV)/bin/python -m e2e.harness watch

local-down: install ## Stop LocalStack and remove its state
	@$(VENV)/bin/python -m e2e.harness down

image: install ## Docker mode's own LocalStack image from the project's pins (built when its inputs change)
	@$(VENV)/bin/python -m e2e.harness.image

synth: install ## Synthesize the CloudFormation template (no Docker, no AWS credentials)
	npx cdk synth -c environment=$(ENVIRONMENT)

diff: install ## Compare with what is deployed; fails if a stateful resource would be replaced or deleted
	npx cdk diff -c environment=$(ENVIRONMENT) $(CDK_ARGS)
	$(GUARD) --method template

deploy: install ## Deploy to your credentials' account; stops first if a stateful resource would go
	npx cdk deploy -c environment=$(ENVIRONMENT) --no-execute \
		--change-set-name $(GUARD_CHANGE_SET) $(CDK_ARGS)
	$(GUARD) --method change-set --change-set-name $(GUARD_CHANGE_SET)
	npx cdk deploy -c environment=$(ENVIRONMENT) --outputs-file $(OUTPUTS_FILE) $(CDK_ARGS)

destroy: install ## Delete the deployed stack of ENVIRONMENT (asks first; prod keeps its data, see the docs)
	npx cdk destroy -c environment=$(ENVIRONMENT) $(CDK_ARGS)

smoke: install ## Smoke-test the API `make deploy` just deployed (SMOKE_ARGS=--read-only writes nothing)
	$(VENV)/bin/python scripts/smoke.py --outputs $(OUTPUTS_FILE) --stack UsersApi-$(ENVIRONMENT) $(SMOKE_ARGS)

bench: install ## Benchmarks: unit suite, e2e cold cycle, `make local` re-run, edit-to-live under `make watch`
	$(VENV)/bin/python bench/run.py

docs: install ## Serve the documentation site on http://127.0.0.1:8000 (live reload)
	$(VENV)/bin/mkdocs serve

clean: ## Remove environments, caches and build output
	rm -rf $(VENV) .tox node_modules cdk.out .localstack .pytest_cache .mypy_cache .ruff_cache \
	  .hypothesis site $(OUTPUTS_FILE)
