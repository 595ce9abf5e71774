# sgdma — every target bootstraps .venv from pyproject.toml (PyPI only) when it is missing
# or older than pyproject.toml.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test bench bitstream program lint docs clean distclean
BOARD ?= ulx3s

$(STAMP): pyproject.toml
	@echo "== bootstrapping $(VENV) from pyproject.toml"
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[synth,dev]'
	@touch $@

demo: $(STAMP)
	$(PY) -m sgdma.sw.cli demo

test: $(STAMP)
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) -m sgdma.sim.bench

bitstream: $(STAMP)
	$(PY) -m sgdma.boards.build bitstream $(BOARD)

program: $(STAMP)
	$(PY) -m sgdma.boards.build program $(BOARD)

lint: $(STAMP)
	$(VENV)/bin/ruff check rtl sim sw boards tests sgdma

docs: $(STAMP)
	$(PY) -m sgdma.sw.gen

clean:
	rm -rf build

distclean: clean
	rm -rf $(VENV) *.egg-info
