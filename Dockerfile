# dinet on Debian 12 with the same Debian packages as a developer machine.
#   make image        (docker or podman, whichever works here; docs/docker.md)
#   docker run --rm -v "$PWD/asserts:/work/asserts" dinet data_processing.py --all
# The published script names (data_processing.py, train_DINet_frame.py, train_DINet_clip.py,
# inference.py, run_inference.py, run_evaluate.py) are mapped to dinet verbs by the entry point.
# A CUDA image: see docs/cuda.md (same sources, a CUDA LibTorch found through Torch_DIR).
FROM debian:12
COPY scripts/install-deps.sh /tmp/install-deps.sh
# Only what dinet needs to build and run: no optional test tools (browser, python3-torch).
RUN DINET_DEPS=required sh /tmp/install-deps.sh && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb
COPY . /src/dinet
# ccache in a cache mount: a rebuild after a source change recompiles only what changed.
# Its settings are the Makefile's, with the base directory of this tree.
RUN --mount=type=cache,id=dinet-ccache,target=/root/.ccache \
    cd /src/dinet && export CCACHE_DIR=/root/.ccache CCACHE_BASEDIR=/src/dinet \
      CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime \
    && cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DDINET_BUILD_TESTS=OFF -DDINET_BUILD_BENCH=OFF \
    && cmake --build build -j "$(nproc)" && ccache -s \
    && cmake --install build --prefix /usr/local \
    && install -m 755 scripts/docker-entrypoint.sh /usr/local/bin/dinet-entrypoint \
    && rm -rf /src/dinet/build
WORKDIR /work
ENTRYPOINT ["dinet-entrypoint"]
