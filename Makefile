# The course's commands. Each creates its virtual environment on first use.
#   make run    execute every notebook in quick mode into build/ (two at a time on a CPU with
#               2 cores or more) and print the summary
#   make test   on TensorFlow (.venv): unit tests + every notebook under nbval in quick mode;
#               on JAX in an environment without TensorFlow (.venv-jax): the unit tests that
#               compute with Keras + every notebook's rehearsal (the dry run, LAB_DRYRUN: full
#               mode at its real shapes, one step per fit, on tests/rehearsal.py's files in the
#               real layouts, so the notebooks' real-data and ImageNet branches run)
#   make test-jax-notebooks
#               every notebook under nbval in quick mode on JAX (.venv-jax), reusing the data
#               cache's stand-ins and backbones; CI runs it after make test
#   make dryrun the dry run of every notebook on TensorFlow
#   make lab    JupyterLab on notebooks/
#   make lint   ruff over helpers, tests, benchmarks and notebooks

PYTHON   ?= python3
VENV     := .venv
PY       := $(VENV)/bin/python
STAMP    := $(VENV)/.installed
VENV_JAX := .venv-jax
PY_JAX   := $(VENV_JAX)/bin/python
STAMP_JAX:= $(VENV_JAX)/.installed

export PYTHONWARNINGS ?= ignore::DeprecationWarning

.PHONY: run test test-tensorflow test-jax test-tensorflow-notebooks test-jax-dryrun \
	test-tensorflow-units test-jax-units test-jax-notebooks dryrun lab lint report clean

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

$(STAMP_JAX): requirements-jax.txt pyproject.toml
	test -x $(PY_JAX) || $(PYTHON) -m venv $(VENV_JAX)
	$(PY_JAX) -m pip install --quiet --upgrade pip
	$(PY_JAX) -m pip install --quiet -r requirements-jax.txt
	$(PY_JAX) -m pip install --quiet --no-deps -e .
	touch $@

# Without ImageNet's weights, the course-pretrained backbones first, two at once on 2 cores
# (the notebooks would train them one at a time on first use).
run: $(STAMP)
	LAB_MODE=quick $(PY) -m helpers pretrain --where-needed
	LAB_MODE=quick $(PY) -m helpers run

# One pytest run per backend; pytest's exit 5 (it collected nothing) is a failure here, never a
# silent pass. Each run keeps its own build folder (checkpoints, sweeps) and results folder, so
# neither replays the other's runs, nor those of `make run`.
define pytest_run
	$(1) -m pytest -v --durations=10 --nbval-lax --nbval-cell-timeout=900 $(2); \
	status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; \
	exit $$status
endef

# make test runs four parts, two at a time (separate environments and build folders; the two
# TensorFlow parts share the data cache, whose builds and downloads take turns between
# processes): much of each is single-threaded (tracing, XLA compilation, Python), so on 2 cores
# two together take less time than one after the other. make starts them in the order listed,
# longest first, and gives a free slot to the next, so the two slots end close together (the
# TensorFlow notebooks, which pretrain the backbones on first use, beside the JAX dry run; then
# the TensorFlow unit tests and the JAX unit tests). Each part's output is printed whole when it
# ends. `make test-tensorflow` and `make test-jax` run one backend's two parts.
# The last line adds the parts' CPU seconds (user + system, from the shell's `times`) and that
# over the cores: no order or overlap of the same work takes less wall time.
TEST_PARTS := test-tensorflow-notebooks test-jax-dryrun test-tensorflow-units test-jax-units

test: $(STAMP) $(STAMP_JAX)
	rm -rf $(JAX_TEST_CACHE)
	@start=$$(date +%s); \
	$(MAKE) --no-print-directory -j2 --output-sync=target $(TEST_PARTS); \
	status=$$?; \
	times_file=$$(mktemp); times > $$times_file; \
	cpu=$$(awk 'NR == 2 { for (i = 1; i <= 2; i++) { split($$i, t, /[ms]/); \
		s += t[1] * 60 + t[2] } printf "%.0f", s }' $$times_file); rm -f $$times_file; \
	cores=$$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1); \
	echo "make test: the four parts took $$(( $$(date +%s) - start )) s (CPU $${cpu:-0} s;" \
		"over $$cores cores at least $$(( $${cpu:-0} / cores )) s), exit status $$status"; \
	exit $$status

test-tensorflow: test-tensorflow-units test-tensorflow-notebooks
test-jax: test-jax-units test-jax-dryrun

test-tensorflow-units: $(STAMP)
	rm -rf build/test-units
	LAB_MODE=quick LAB_BUILD=$(CURDIR)/build/test-units \
		LAB_RESULTS=$(CURDIR)/build/test-units/results $(call pytest_run,$(PY),tests)

test-tensorflow-notebooks: $(STAMP)
	rm -rf build/test
	LAB_MODE=quick LAB_BUILD=$(CURDIR)/build/test LAB_RESULTS=$(CURDIR)/build/test/results \
		$(call pytest_run,$(PY),notebooks)

# No prerequisite shared by two parts: make would then queue the parts out of their order.
define no_tensorflow_in_jax
	@$(PY_JAX) -c "import importlib.util, sys; \
		sys.exit('TensorFlow is installed in $(VENV_JAX): the JAX run must not have it' \
		if importlib.util.find_spec('tensorflow') else 0)"
endef

# The JAX half runs the unit tests that compute with Keras (not those marked backend_agnostic in
# tests/conftest.py) and the rehearsal instead of the quick notebooks: every cell still runs on
# JAX, the full-mode paths (sizes, grids, memory) are checked once, within CI's time, and so are
# the branches taken with the real data and ImageNet weights (the quick notebooks on TensorFlow
# take the stand-ins and random weights).
test-jax-units: $(STAMP_JAX)
	$(no_tensorflow_in_jax)
	rm -rf build/test-jax
	LAB_MODE=quick KERAS_BACKEND=jax LAB_BACKEND=jax XLA_FLAGS="$(JAX_TEST_XLA_FLAGS)" \
		JAX_COMPILATION_CACHE_DIR=$(JAX_TEST_CACHE) \
		LAB_BUILD=$(CURDIR)/build/test-jax LAB_RESULTS=$(CURDIR)/build/test-jax/results \
		LAB_CACHE=$(CURDIR)/build/test-jax/cache \
		$(call pytest_run,$(PY_JAX),-m "not backend_agnostic" tests)

test-jax-dryrun: $(STAMP_JAX)
	$(no_tensorflow_in_jax)
	rm -rf build/dryrun-jax build/rehearsal-jax
	KERAS_BACKEND=jax LAB_BACKEND=jax $(PY_JAX) -m tests.rehearsal $(CURDIR)/build/rehearsal-jax
	KERAS_BACKEND=jax LAB_BACKEND=jax XLA_FLAGS="$(JAX_TEST_XLA_FLAGS)" \
		JAX_COMPILATION_CACHE_DIR=$(JAX_TEST_CACHE) \
		$(call rehearsal,$(PY_JAX),dryrun-jax,rehearsal-jax)

# The quick notebooks on JAX under nbval: each lesson's quick path as it runs without TensorFlow
# (a lesson's JAX-only fault shows here, and its verdicts are asserted on JAX too). Not a part of
# `make test`: on 2 cores it would take make test well past 20 minutes (issue 24's closing notes
# have the figures); CI runs it after make test. It shares the data cache with the TensorFlow
# notebooks: their stand-ins and course-pretrained backbones (a file trained on TensorFlow loads
# on JAX), pretraining on JAX only what is missing (one process at a time per recipe); its own
# build and results folders; the notebooks' default XLA options (JAX_TEST_XLA_FLAGS would slow
# their longer fits) and an empty JAX compilation cache.
test-jax-notebooks: $(STAMP_JAX)
	$(no_tensorflow_in_jax)
	rm -rf build/test-jax-notebooks
	LAB_MODE=quick KERAS_BACKEND=jax LAB_BACKEND=jax \
		JAX_COMPILATION_CACHE_DIR=$(CURDIR)/build/test-jax-notebooks/jax-cache \
		LAB_BUILD=$(CURDIR)/build/test-jax-notebooks \
		LAB_RESULTS=$(CURDIR)/build/test-jax-notebooks/results \
		$(call pytest_run,$(PY_JAX),notebooks)

# Full mode's real image sizes, models and grids, one step per fit, stand-ins and random weights,
# nothing recorded: a wrong shape, a missing scope or a memory blow-up fails here, not on Colab.
# The unit tests' small models and the dry run's single steps run each compiled function a few
# times, so the JAX half turns XLA's slower code optimisations off: that shortened the
# compile-bound work (the unit tests, 05, 06's EfficientNets) more than it lengthened the
# forward-bound cells (07's passes at 520 px).
JAX_TEST_XLA_FLAGS := --xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true
# JAX's persistent compilation cache, shared by the JAX half's unit tests and its rehearsal: a
# model built again with the same shapes (a sweep's runs, 06's ensemble members) loads its
# compiled steps instead of compiling them; what is traced is still traced.
JAX_TEST_CACHE := $(CURDIR)/build/jax-cache
define dry_run
	LAB_DRYRUN=1 LAB_MODE=full LAB_OFFLINE=1 LAB_BUILD=$(CURDIR)/build/$(2) \
		LAB_RESULTS=$(CURDIR)/build/$(2)/results $(call pytest_run,$(1),notebooks)
endef

# The rehearsal: the dry run on real-kind data and imagenet-kind weights: small archives in each
# dataset's published layout and random weight files in Keras's, built into build/$(3) by
# `python -m tests.rehearsal` beforehand, downloaded from there (LAB_DATA_MIRROR, so downloads
# stay on: no LAB_OFFLINE) and verified by their own digests (LAB_REHEARSAL); its cache and
# Keras home stay inside build/$(3).
define rehearsal
	LAB_REHEARSAL=$(CURDIR)/build/$(3) LAB_DATA_MIRROR=$(CURDIR)/build/$(3)/mirror \
		LAB_CACHE=$(CURDIR)/build/$(3)/cache KERAS_HOME=$(CURDIR)/build/$(3)/keras \
		LAB_DRYRUN=1 LAB_MODE=full LAB_BUILD=$(CURDIR)/build/$(2) \
		LAB_RESULTS=$(CURDIR)/build/$(2)/results $(call pytest_run,$(1),notebooks)
endef

dryrun: $(STAMP)
	rm -rf build/dryrun-test
	$(call dry_run,$(PY),dryrun-test)

lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks/

lint: $(STAMP)
	$(VENV)/bin/ruff check helpers tests benchmarks notebooks

report: $(STAMP)
	$(PY) -m helpers report

clean:
	rm -rf build
