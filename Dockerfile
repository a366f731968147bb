# dinet on Debian 12 with the same Debian packages as a developer machine.
#   docker build -t dinet .
#   docker run --rm -v "$PWD/asserts:/work/asserts" dinet data_processing.py --all
# The published script names (data_processing.py, train_DINet_frame.py, train_DINet_clip.py,
# inference.py, run_inference.py, run_evaluate.py) are mapped to dinet verbs by the entry point.
# A CUDA image: see docs/cuda.md (same sources, a CUDA LibTorch found through Torch_DIR).
FROM debian:12
COPY scripts/install-deps.sh /tmp/install-deps.sh
RUN sh /tmp/install-deps.sh && rm -rf /var/lib/apt/lists/*
COPY . /src/dinet
RUN cd /src/dinet && cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DDINET_BUILD_TESTS=OFF \
    && cmake --build build -j "$(nproc)" && cmake --install build --prefix /usr/local \
    && install -m 755 scripts/docker-entrypoint.sh /usr/local/bin/dinet-entrypoint \
    && rm -rf /src/dinet/build
WORKDIR /work
ENTRYPOINT ["dinet-entrypoint"]
