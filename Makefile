# Two commands do everything on a fresh machine: `make demo` and `make test`.
# Each creates the virtualenv and the Pulumi engine first when they are missing.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STATE := .state
TOOLS_BIN := $(CURDIR)/.tools/bin

# Every engine run stays on this machine: file backend, passphrase, no downloads.
export PATH := $(TOOLS_BIN):$(PATH)
export PULUMI_SKIP_UPDATE_CHECK := true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION := true
export PULUMI_DIY_BACKEND_NO_LEGACY_WARNING := true

.PHONY: demo destroy test engine venv clean

$(PY): pyproject.toml
	@echo "setup: creating $(VENV) and installing the package with its test and local extras"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --upgrade pip
	@$(PY) -m pip install --quiet -e '.[test]'
	@touch $(PY)

venv: $(PY)

engine: $(PY)
	@PYTHON=$(CURDIR)/$(PY) bash engine/bootstrap.sh >/dev/null

demo: engine
	@$(PY) examples/demo.py up

destroy: engine
	@$(PY) examples/demo.py destroy

test: engine
	@$(PY) -m pytest

clean:
	rm -rf $(STATE) .pytest_cache
