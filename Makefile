# Quick start on a fresh Debian 12 machine (as root):
#   make demo   installs what is missing, builds, runs the main job on the built-in sample
#   make test   same set-up, then the whole test suite
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

# ccache must accept precompiled headers to be of any use with LibTorch.
MAKEFLAGS += --no-print-directory
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_SLOPPINESS := pch_defines,time_macros,include_file_mtime,include_file_ctime

.PHONY: all deps configure build test demo bench sanitize fuzz image image-test clean

all: build

deps:
	@sh scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) > $(BUILD_DIR).configure.log 2>&1 \
	  || (cat $(BUILD_DIR).configure.log; exit 1)

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 900

demo: build
	@$(BUILD_DIR)/dinet demo --out $(BUILD_DIR)/demo

bench: build
	@$(BUILD_DIR)/dinet-bench

# The whole suite under AddressSanitizer + UndefinedBehaviorSanitizer (build-sanitize/); any
# finding fails its test. Leaks inside Debian's libraries are suppressed (tests/sanitizers/).
SANITIZER_ENV = ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:detect_odr_violation=0 \
  LSAN_OPTIONS=suppressions=$(CURDIR)/tests/sanitizers/lsan.supp:print_suppressions=0 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:suppressions=$(CURDIR)/tests/sanitizers/ubsan.supp
sanitize: deps
	@cmake -S . -B build-sanitize -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDINET_SANITIZE=ON -DDINET_BUILD_BENCH=OFF \
	  $(CMAKE_FLAGS) > build-sanitize.configure.log 2>&1 || (cat build-sanitize.configure.log; exit 1)
	@cmake --build build-sanitize -j $(JOBS)
	@cd build-sanitize && $(SANITIZER_ENV) ctest --output-on-failure -j $(JOBS) --timeout 1800 $(CTEST_FLAGS)

# libFuzzer programs of every parser of outside input (build-sanitize/fuzz/), run for
# FUZZ_SECONDS each or FUZZ_RUNS executions, whichever comes first (docs/security.md).
FUZZ_SECONDS ?= 600
FUZZ_RUNS ?= 1000000
fuzz: deps
	@cmake -S . -B build-sanitize -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDINET_SANITIZE=ON -DDINET_BUILD_BENCH=OFF \
	  $(CMAKE_FLAGS) > build-sanitize.configure.log 2>&1 || (cat build-sanitize.configure.log; exit 1)
	@cmake --build build-sanitize --target fuzz -j $(JOBS)
	@$(SANITIZER_ENV) sh scripts/fuzz.sh build-sanitize $(FUZZ_SECONDS) $(FUZZ_RUNS) $(JOBS)

# The container image (Dockerfile) with docker or podman, whichever works here, and the
# published command forms run inside it on the built-in sample (docs/docker.md).
IMAGE ?= dinet
image:
	@sh scripts/image-build.sh $(IMAGE)

image-test: image
	@sh scripts/image-test.sh $(IMAGE)

clean:
	rm -rf $(BUILD_DIR) $(BUILD_DIR).configure.log build-sanitize build-sanitize.configure.log
