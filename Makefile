# Each target makes its own virtual environment when it is missing or stale.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

LOCK := requirements.lock

.PHONY: demo test bench lint lock clean

# Every machine installs the exact versions (and hashes) in $(LOCK), the ones CI
# tested; `make lock` refreshes it after a dependency changes in pyproject.toml.
$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/pip install --quiet --no-deps -e .
	@$(BIN)/pip check >/dev/null || { $(BIN)/pip check; \
	  echo "$(LOCK) lacks a dependency of pyproject.toml: run 'make lock'"; exit 1; }
	# The bounce tests read the sample bounces shipped in flufl.bounce's sdist.
	$(BIN)/pip download --quiet --no-deps --no-binary :all: -d $(VENV)/sdists \
	  "flufl.bounce==$$($(BIN)/python -c 'import flufl.bounce as b; print(b.__version__)')"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/mailer demo

# axe-core (npm) for the console's accessibility test, injected by Playwright.
AXE := $(VENV)/axe-core/package/axe.min.js
$(AXE):
	mkdir -p $(VENV)/axe-core
	cd $(VENV)/axe-core && npm pack --silent axe-core@4.14.1 >/dev/null && tar xzf axe-core-*.tgz

test: $(STAMP) $(AXE)
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/import_bench.py
	$(BIN)/python benchmarks/render_bench.py
	$(BIN)/python benchmarks/send_bench.py
	$(BIN)/python benchmarks/scale_bench.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Resolve pyproject.toml (with the dev extra) afresh, pinned with hashes. Run it
# after adding or changing a dependency (or after merging branches that did);
# pins already in the lock stay unless `make lock LOCK_FLAGS=--upgrade`.
lock:
	test -x $(BIN)/pip-compile || { $(PYTHON) -m venv $(VENV) && $(BIN)/pip install --quiet pip-tools; }
	$(BIN)/pip-compile --quiet $(LOCK_FLAGS) --generate-hashes --allow-unsafe --strip-extras \
	  --extra dev --no-emit-index-url --no-emit-find-links --output-file $(LOCK) pyproject.toml
	@echo "$(LOCK) refreshed; 'make .venv/.installed' installs it"

clean:
	rm -rf $(VENV) demo-workspace build dist .pytest_cache .mypy_cache .ruff_cache
