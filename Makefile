# The two commands a user needs: `make test` and `make demo`. Everything they need is installed here.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
# uv resolves and downloads in parallel: a fresh install takes ~30 s where pip takes minutes.
# pip stays the fallback if uv cannot be installed or fails.
UV := $(VENV)/bin/uv
INSTALL = if [ -x $(UV) ]; then $(UV) pip install -q --python $(PY) $(1) || $(PIP) install $(1); else $(PIP) install $(1); fi
export TZ := UTC
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1

.PHONY: test demo install install-demo lint types unit synth bench clean

$(VENV)/.created:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install uv || true
	touch $@

# Runtime + what the demo's in-process AWS emulator needs (moto): fast first install.
$(VENV)/.demo: $(VENV)/.created pyproject.toml
	$(call INSTALL,-e '.[demo]')
	touch $@

# Everything the tests need: dev tools, CDK libraries, notebook runner.
$(VENV)/.dev: $(VENV)/.created pyproject.toml
	$(call INSTALL,-e '.[dev]')
	touch $@ $(VENV)/.demo

install: $(VENV)/.dev
install-demo: $(VENV)/.demo

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check functions tests bench infra

types: $(VENV)/.dev
	$(VENV)/bin/mypy

test: lint types
	$(VENV)/bin/pytest -n 2 -q

demo: $(VENV)/.demo
	$(VENV)/bin/trailhound demo

bench: $(VENV)/.dev
	$(PY) bench/bench_ingest.py

# The CDK app into cdk.out with cdk-nag's AwsSolutions pack (no AWS account or credentials needed;
# the Lambda and notebook assets fetch their wheels from PyPI). The cdk CLI is pinned in package-lock.json.
synth: $(VENV)/.dev
	@[ -d node_modules ] || npm ci --no-audit --no-fund
	CDK_DISABLE_CLI_TELEMETRY=true JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 \
	  npx --no-install cdk synth --no-notices -q

clean:
	rm -rf $(VENV) .trailhound cdk.out node_modules .pytest_cache .mypy_cache .ruff_cache
