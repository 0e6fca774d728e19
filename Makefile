# SyncHub developer commands. `make demo` and `make test` are the two a newcomer needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SANDBOX_DIR ?= .synchub/sandbox

# Lowest line coverage of hub/core by the unit tests (just under what they reach).
CORE_COVERAGE ?= 97

.DEFAULT_GOAL := help
.PHONY: help install browser control-plane lint format unit coverage integration e2e reliability test demo demo-down bench kubefed clean image

help: ## this list
	@grep -hE '^[a-z][a-z0-9-]*:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  %-14s %s\n", $$1, $$2}'

$(BIN)/synchub: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@

install: $(BIN)/synchub ## virtualenv in .venv with the package and test tools

browser: ## Debian's chromium for the status-page browser test (once)
	@bash scripts/install-browser.sh

control-plane: ## build kube-apiserver, etcd and cert-manager into .cache/bin/, CRDs into .cache/crds/ (once)
	@if $(BIN)/python -c 'from hub.sandbox.binaries import find_binary as f; f("kube-apiserver"); f("etcd")' 2>/dev/null; then \
		echo "control-plane: binaries found"; \
	else bash scripts/build-control-plane.sh; fi
	@if $(BIN)/python -c 'from hub.sandbox import certmanager as c; c.find_cert_manager(); c.cert_manager_crds_file(); c.helmrelease_crd_file()' 2>/dev/null; then \
		echo "control-plane: cert-manager and CRDs found"; \
	else bash scripts/build-cert-manager.sh; fi

kubefed: ## build KubeFed v0.10.0's controller-manager and CRDs into .cache/ for bench/kubefed.py (once; not in CI)
	@bash scripts/build-kubefed.sh >/dev/null && echo "kubefed: controller-manager and CRDs in .cache/"

lint: install ## ruff, mypy --strict, import-linter (the layers) and hadolint
	$(BIN)/ruff check hub tests e2e bench conftest.py
	$(BIN)/ruff format --check hub tests e2e bench conftest.py
	$(BIN)/mypy hub tests e2e bench conftest.py
	$(BIN)/lint-imports
	$(BIN)/hadolint Dockerfile

IMAGE ?= synchub:dev

image: ## container image IMAGE (default synchub:dev; needs a running Docker engine)
	@if ! command -v docker >/dev/null 2>&1; then \
		echo "make image: docker not found; install Docker (or build the Dockerfile with another BuildKit engine)" >&2; exit 1; \
	elif ! docker info >/dev/null 2>&1; then \
		echo "make image: docker is installed but no Docker engine answers (is the daemon running?)" >&2; exit 1; \
	fi
	DOCKER_BUILDKIT=1 docker build -t $(IMAGE) \
		--build-arg VERSION=$$($(BIN)/python -c 'import hub; print(hub.__version__)') \
		--build-arg REVISION=$$(git rev-parse HEAD 2>/dev/null || echo unknown) .

format: install ## ruff format and the fixes ruff can make
	$(BIN)/ruff format hub tests e2e bench conftest.py
	$(BIN)/ruff check --fix hub tests e2e bench conftest.py

unit: install ## the unit tests (pure, fast)
	$(BIN)/pytest -q tests/unit

coverage: install ## the unit tests; fails below CORE_COVERAGE (97) % line coverage of hub/core
	$(BIN)/pytest -q -p no:cacheprovider tests/unit --cov=hub/core \
		--cov-report=term-missing:skip-covered --cov-fail-under=$(CORE_COVERAGE)

integration: install control-plane ## the integration tests (sandbox clusters)
	$(BIN)/pytest -q tests/integration

# Suites whose objects (GitSyncs that poll, ObjectSyncs that fan out) would keep acting under
# later modules' hubs: each runs in a pytest session, and so a sandbox, of its own.
ISOLATED := e2e/test_gitsync.py e2e/test_objectsync.py e2e/test_objectsync_rbac.py
PYTEST := $(BIN)/pytest -q -p no:cacheprovider

e2e: install control-plane browser ## the end-to-end scenarios (the synchub process on sandbox clusters)
	$(PYTEST) e2e $(ISOLATED:%=--ignore=%)
	@for suite in $(ISOLATED); do echo "== $$suite (own sandbox)"; $(PYTEST) $$suite || exit 1; done

# The fault matrix kills and pauses clusters: each module runs in a pytest session (a sandbox)
# of its own, all of them at once; each one's output is shown when it ends.
RELIABILITY := $(wildcard tests/reliability/test_*.py)

reliability: install control-plane ## the fault matrix (tests/reliability), one sandbox per module, in parallel
	@logs=$$(mktemp -d); pids=(); \
	for suite in $(RELIABILITY); do \
		env -u SYNCHUB_TEST_SANDBOX $(PYTEST) $$suite > $$logs/$$(basename $$suite).log 2>&1 & pids+=($$!); \
	done; \
	status=0; i=0; for suite in $(RELIABILITY); do \
		wait $${pids[$$i]} || status=1; i=$$((i + 1)); \
		echo "== $$suite (own sandbox, in parallel)"; cat $$logs/$$(basename $$suite).log; \
	done; rm -rf $$logs; exit $$status

test: install control-plane browser lint coverage ## everything CI runs: lint, unit (with coverage), integration, e2e, reliability
	$(PYTEST) tests/integration e2e $(ISOLATED:%=--ignore=%)
	@for suite in $(ISOLATED); do echo "== $$suite (own sandbox)"; $(PYTEST) $$suite || exit 1; done
	@$(MAKE) --no-print-directory reliability

demo: install control-plane ## local sandbox clusters, then the hub on them
	$(BIN)/python -m hub.cli.demo --dir $(SANDBOX_DIR)

demo-down: ## stop the demo's hub and clusters
	$(BIN)/python -m hub.cli.demo --down --dir $(SANDBOX_DIR)

bench: install control-plane kubefed ## the benchmarks; each prints one JSON object
	@for b in bench/[!_]*.py; do $(BIN)/python $$b; done

clean: ## stop the demo, remove .venv and the caches
	-$(BIN)/python -m hub.cli.demo --down --dir $(SANDBOX_DIR)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage
