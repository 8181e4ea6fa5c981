# heplearn: the two commands are `make demo` and `make test`; both set up .venv first.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: venv browser demo test test-fast bench bench-peers lint clean

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[all,dev]"
	touch $(STAMP)

demo: venv
	$(BIN)/heplearn demo

# The report test renders report.html in Debian's headless Chromium. Where apt-get exists
# (CI, Debian/Ubuntu) it is installed and the test is required; elsewhere it is skipped.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@command -v chromium >/dev/null || ! command -v apt-get >/dev/null || { \
	  echo "installing Debian's chromium for the report test"; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

test: venv browser
	@if command -v chromium >/dev/null; then export HEPLEARN_REQUIRE_BROWSER=1; fi; \
	$(BIN)/python -m pytest

# The unit tests only: tests marked slow (a generated Pythia sample, training runs, the
# demo; see tests/conftest.py) are left out. `make test` (CI) runs everything.
test-fast: venv
	$(BIN)/python -m pytest -m "not slow"

bench: venv
	$(BIN)/python -m benchmarks

# heplearn vs weaver-core (ParticleNet-Lite, same jets): builds benchmarks/.venv-weaver
# (torch from local disk first, then weaver-core 0.5.3); larger samples: ARGS="--events 5000"
bench-peers: venv
	$(BIN)/python -m benchmarks.bench_peers $(ARGS)

lint: venv
	$(BIN)/ruff check src tests benchmarks examples docs/generate_*.py
	$(BIN)/ruff format --check src tests benchmarks examples docs/generate_*.py
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
