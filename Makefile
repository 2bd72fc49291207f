# Development entry points. `make demo` and `make test` work on a fresh Debian/Ubuntu machine
# with the packages the README names (scripts/check-system.sh says which one is missing): they
# create .venv and install what they need.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
# torch is only the peer in benchmarks and the oracle in tests: the CPU build, pinned.
# scikit-learn ships the digits data the pruning tests train on; tqdm and matplotlib serve
# pyprune.prune; pybind11-stubgen checks the extension's stubs; torch-pruning is the pruning
# benchmarks' peer, installed without its dependencies so that it cannot replace the pinned torch.
DEV_PACKAGES := torch==2.13.0 numpy pytest hypothesis pytest-benchmark \
                scikit-build-core pybind11 cmake ninja safetensors \
                scikit-learn bitarray dahuffman tqdm matplotlib pybind11-stubgen
DEV_NO_DEPS_PACKAGES := torch-pruning

.PHONY: install demo bench test test-aarch64 test-asan arm-cost fuzz clean

$(BIN)/.dev-packages: Makefile
	sh scripts/check-system.sh $(PYTHON)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q $(DEV_PACKAGES)
	$(BIN)/pip install --disable-pip-version-check -q --no-deps $(DEV_NO_DEPS_PACKAGES)
	touch $@

# Editable: .venv runs the Python files of pyprune/ with the extension built into .venv, from any
# folder, the repository root included (where pyprune/ would hide a regular install that has the
# extension). Always rebuilds (incrementally): the extension must match the sources. -v shows
# CMake's and Ninja's progress.
install: $(BIN)/.dev-packages
	$(BIN)/pip install --disable-pip-version-check -v --no-build-isolation --no-deps --editable .

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

# What the NEON kernels cost on ARM (instructions per MAC under QEMU, llvm-mca cycles); needs the
# aarch64 wheel of test-aarch64. SECTIONS=depthwise,gemm-loop picks sections (--list names them).
arm-cost: install
	$(BIN)/python scripts/arm_cost.py $(if $(SECTIONS),--sections $(SECTIONS))

# The fuzz targets of the packed-file reader and the Huffman decoders, SECONDS each (default 60).
fuzz: install
	bash scripts/fuzz.sh $(SECONDS)

clean:
	rm -rf build dist $(VENV)
