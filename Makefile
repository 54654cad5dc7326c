# Two entry points for a fresh machine: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# checkov pins versions that fight the app's (TOOLCHAIN.md): its own virtualenv, for tests/k8s
CHECKOV := .venv-checkov/bin/checkov

.PHONY: run run-distributed test test-fast lint install install-test backends clean

run: $(VENV)/.installed  ## install and start every service in one process on http://127.0.0.1:8000
	$(BIN)/agora up

run-distributed: $(VENV)/.installed  ## one process per service behind a front proxy on :8000, on a real broker
	$(BIN)/python -OO -m compileall -q -o 2 src/agora
	AGORA_BROKER_URL=$${AGORA_BROKER_URL:-$$(scripts/find-broker.sh)} $(BIN)/agora up --distributed

test: $(VENV)/.test-installed $(CHECKOV) backends lint  ## install test needs, provision backends, run the whole suite
	$(BIN)/pytest

test-fast: $(VENV)/.test-installed  ## the suite without provisioning (servers already running)
	$(BIN)/pytest -x -q

lint: $(VENV)/.test-installed
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/lint-imports
	$(BIN)/mypy

backends:  ## start the local servers the tests use when they are not running
	scripts/provision-backends.sh

install: $(VENV)/.installed
install-test: $(VENV)/.test-installed

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# the service processes of `agora up --distributed` run at optimization level 2
# (docs/architecture.md, "Process hygiene"): their libraries' bytecode for that level is compiled
# here, since with PYTHONDONTWRITEBYTECODE set each start would otherwise compile them from source
# (~1 min, once per install). Agora's own modules too: the editable install runs them from src/,
# and sixteen processes compiling them at each start cost ~5 s of CPU (no resident memory:
# benchmarks/footprint.py measured the set the same with and without); run-distributed brings
# their bytecode up to date, a no-op for unchanged files
$(VENV)/.installed: $(VENV)/bin/python pyproject.toml constraints.txt
	$(BIN)/pip install -q -c constraints.txt -e ".[ml]"
	$(BIN)/python -OO -m compileall -q -o 2 $$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))') src/agora
	touch $@

$(VENV)/.test-installed: $(VENV)/.installed
	$(BIN)/pip install -q -c constraints.txt -e ".[test]"
	touch $@

$(CHECKOV):
	$(PYTHON) -m venv .venv-checkov
	.venv-checkov/bin/pip install -q "checkov==3.3.30"

clean:
	rm -rf $(VENV) .venv-checkov var .pytest_cache .ruff_cache
