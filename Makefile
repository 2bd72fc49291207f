# Development entry points. `make demo` and `make test` work on a fresh Debian/Ubuntu machine
# with Python 3.9+ and a C++17 compiler: they create .venv and install what they need.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
# torch is only the peer in benchmarks and the oracle in tests: the CPU build, pinned.
# scikit-learn ships the digits data the pruning tests train on; tqdm and matplotlib serve
# pyprune.prune; torch-pruning is the pruning benchmarks' peer, installed without its
# dependencies so that it cannot replace the pinned torch.
DEV_PACKAGES := torch==2.13.0 numpy pytest hypothesis pytest-benchmark \
                scikit-build-core pybind11 cmake ninja safetensors \
                scikit-learn bitarray dahuffman tqdm matplotlib
DEV_NO_DEPS_PACKAGES := torch-pruning

.PHONY: install demo bench test test-aarch64 test-asan clean

$(BIN)/.dev-packages: Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q $(DEV_PACKAGES)
	$(BIN)/pip install --disable-pip-version-check -q --no-deps $(DEV_NO_DEPS_PACKAGES)
	touch $@

# Always rebuilds (incrementally): the package must match the sources.
install: $(BIN)/.dev-packages
	$(BIN)/pip install --disable-pip-version-check -q --no-build-isolation --no-deps .

demo: install
	$(BIN)/pyprune demo

bench: install
	$(BIN)/pyprune bench

test: install
	$(BIN)/pytest tests -q

# The aarch64 wheel, cross-built and tested under QEMU (needs root for apt on first run).
test-aarch64:
	bash scripts/build-aarch64-wheel.sh
	bash scripts/test-aarch64.sh

# Kernel tests against a build with AddressSanitizer and UBSan.
test-asan:
	bash scripts/test-asan.sh

clean:
	rm -rf build dist $(VENV)
