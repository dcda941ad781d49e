# Each target makes its own virtual environment when it is missing or stale.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
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

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) demo-workspace build dist .pytest_cache .mypy_cache .ruff_cache
