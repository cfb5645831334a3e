# make demo: run the workflow on the embedded demo dataset.
# make test: format/lint gates and the test suite.
# Both create .venv with every dependency at the exact version of the lock
# (requirements/lock-py$(PYVER)-linux-x86_64.txt, hashes checked) when it is missing.
# make lock: re-resolve the lock from pyproject.toml's ranges and requirements/holds.txt.
# make check-lock: fail, listing the differences, when .venv differs from the lock.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.harfuse-installed
# The Python the lock is for: the one CI runs. `make lock PYVER=3.12` writes another.
PYVER ?= 3.11
LOCK := requirements/lock-py$(PYVER)-linux-x86_64.txt
UV_VERSION := 0.13.9
# What a new .venv takes on disk (6.9 GB measured, torch's CUDA wheels most of it), checked
# before installing: a full disk then stops the install at once with the free space named.
VENV_GB := 8

# make image-env: .venv-image, the GPU node's image imitated for a CPU check (Python 3.12,
# torch 2.11; 2.5 GB of wheels from PyPI): tests/test_image_env.py runs in it when present.
PYTHON312 ?= python3.12
IMAGE_ENV := .venv-image
IMAGE_REQS := requirements/image-py3.12-cpu.txt

.PHONY: demo test lint venv lock check-lock clean image-env gpu-bundle

venv: $(STAMP)

$(LOCK):
	@echo "no lock for CPython $(PYVER) on Linux x86-64 ($(LOCK)): use Python 3.11," \
		"or write one with 'make lock PYVER=$(PYVER)'" >&2; exit 1

# The interpreter checked is .venv's when it exists (an older .venv may have another).
# --sync uninstalls what an older lock installed and this one does not name.
$(STAMP): $(LOCK) pyproject.toml
	@py=$(BIN)/python; test -x $$py || py=$(PYTHON); $$py -c 'import platform, sys; \
	v = "%d.%d" % sys.version_info[:2]; \
	ok = v == "$(PYVER)" and platform.machine() == "x86_64" and sys.platform == "linux"; \
	ok or sys.exit(f"$(LOCK) is for CPython $(PYVER) on Linux x86-64; {sys.executable} is " \
	f"{v} on {sys.platform} {platform.machine()}. Use PYTHON=python$(PYVER) (after rm -rf " \
	f"$(VENV) if that is the one); or PYVER={v}, after `make lock PYVER={v}` if there is " \
	f"no lock for it; or `pip install -e .`.")'
	@test -x $(BIN)/python || $(PYTHON) tools/diskcheck.py $(VENV_GB) $(VENV)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --no-cache-dir --require-hashes --no-deps -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python tools/lockcheck.py --sync $(LOCK)
	touch $(STAMP)

lock:
	test -x $(VENV)-uv/bin/uv || ($(PYTHON) -m venv $(VENV)-uv && \
		$(VENV)-uv/bin/pip install --quiet uv==$(UV_VERSION))
	$(VENV)-uv/bin/uv pip compile pyproject.toml --extra dev \
		--python-version $(PYVER) --python-platform x86_64-manylinux_2_28 \
		--constraints requirements/holds.txt --generate-hashes --upgrade \
		--custom-compile-command 'make lock' --output-file $(LOCK)
	$(PYTHON) tools/envpins.py $(LOCK)

check-lock: $(STAMP)
	$(BIN)/python tools/lockcheck.py $(LOCK)

demo: $(STAMP)
	$(BIN)/snakemake --cores all

lint: $(STAMP)
	$(BIN)/ruff check src tests workflow/scripts tools benchmarks
	$(BIN)/ruff format --check src tests workflow/scripts tools benchmarks
	$(BIN)/snakefmt --check Snakefile workflow/rules
	$(BIN)/snakemake --lint

test: lint
	$(BIN)/pytest

# make gpu-bundle: .gpu-bundle/, what the GPU check needs on an offline node that its
# image cannot make (benchmarks/gpu_bundle.py; BENCHMARKS.md says how to run it there)
gpu-bundle: $(STAMP)
	$(BIN)/python benchmarks/gpu_bundle.py .gpu-bundle

image-env: $(IMAGE_ENV)/.harfuse-installed

# --isolated: this machine's pip config (mirrors, constraints) must not change what the
# image has; --no-deps: the list is complete (see its header)
$(IMAGE_ENV)/.harfuse-installed: $(IMAGE_REQS)
	test -x $(IMAGE_ENV)/bin/python || $(PYTHON312) -m venv $(IMAGE_ENV)
	$(IMAGE_ENV)/bin/python -m pip install --isolated --quiet --no-deps -r $(IMAGE_REQS)
	touch $@

clean:
	rm -rf results logs .snakemake
