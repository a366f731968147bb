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

.PHONY: all deps configure build test demo bench clean

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

clean:
	rm -rf $(BUILD_DIR) $(BUILD_DIR).configure.log
