# The course's commands. Each creates the virtual environment .venv on first use.
#   make run    execute every notebook in quick mode into build/ and print the summary
#   make test   unit tests + every notebook under nbval (quick mode)
#   make lab    JupyterLab on notebooks/
#   make lint   ruff over helpers, tests and notebooks

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYTHONWARNINGS ?= ignore::DeprecationWarning

.PHONY: run test unit notebooks lab lint report clean

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

run: $(STAMP)
	LAB_MODE=quick $(PY) -m helpers run

# pytest exits 5 when it collects nothing: that is a failure here, never a silent pass.
test: $(STAMP)
	LAB_MODE=quick LAB_RESULTS=$(CURDIR)/build/test-results $(PY) -m pytest -v --durations=15 \
		--nbval-lax --nbval-cell-timeout=900 tests notebooks; \
	status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; \
	exit $$status

unit: $(STAMP)
	$(PY) -m pytest -v tests

lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks/

lint: $(STAMP)
	$(VENV)/bin/ruff check helpers tests benchmarks notebooks

report: $(STAMP)
	$(PY) -m helpers report

clean:
	rm -rf build
