#!/bin/bash
# checks.sh BUNDLE.tar.xz [OUT_DIR] [VIDEO CSV]: on a GPU machine with CUDA and a CUDA build
# of PyTorch (python3), builds dinet in build-cuda against PyTorch's LibTorch with the Debian
# files of pack-debian-deps.sh, then runs what needs the GPU: the CUDA tests, the inference
# benchmark (on VIDEO with its landmark CSV, when given) and the training benchmark, both
# against the published computation in PyTorch, and the demo. Run from the repository root.
BUNDLE=$(realpath "$1")
OUT=$(realpath -m "${2:-gpu-results}")
VIDEO=$3 CSV=$4
mkdir -p "$OUT"
exec > >(tee "$OUT/log.txt") 2>&1
step() { echo; echo "=== $1 ($SECONDS s)"; }

step "machine"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)' || exit 1
TORCH_CMAKE=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')

step "Debian's files under /opt/deb"
tar -C / -xJf "$BUNDLE" && sh /opt/deb/setup.sh || exit 1
M=x86_64-linux-gnu
export CMAKE_POLICY_VERSION_MINIMUM=3.5  # for Debian 12's older CMake configs under CMake 4
export PKG_CONFIG_PATH=/opt/deb/usr/lib/$M/pkgconfig PKG_CONFIG_SYSROOT_DIR=/opt/deb
# dinet's programs find the libraries there; python3 runs without (its torch has its own).
export LD_LIBRARY_PATH=/opt/deb/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
PY="env -u LD_LIBRARY_PATH python3"

step "configure and build"
cmake -S . -B build-cuda -G Ninja -DCMAKE_BUILD_TYPE=Release -DDINET_USE_CCACHE=OFF \
  -DCMAKE_PREFIX_PATH="$TORCH_CMAKE;/opt/deb/usr" -DPKG_CONFIG_EXECUTABLE=/opt/deb/usr/bin/pkgconf \
  -DOpenCV_DIR=/opt/deb/usr/lib/$M/cmake/opencv4 -Ddlib_DIR=/opt/deb/usr/lib/$M/cmake/dlib \
  -DGTest_DIR=/opt/deb/usr/lib/$M/cmake/GTest -DCLI11_DIR=/opt/deb/usr/share/cmake/CLI11 \
  -Dnlohmann_json_DIR=/opt/deb/usr/share/cmake/nlohmann_json -DProtobuf_INCLUDE_DIR=/opt/deb/usr/include \
  -DProtobuf_LIBRARY=/opt/deb/usr/lib/$M/libprotobuf.so -DProtobuf_PROTOC_EXECUTABLE=/opt/deb/usr/bin/protoc \
  > "$OUT/configure.log" 2>&1 || { tail -20 "$OUT/configure.log"; exit 1; }
ninja -C build-cuda dinet_exe dinet-bench test-infer-generator test-train-step > "$OUT/build.log" 2>&1 \
  || { grep -E "error|FAILED" "$OUT/build.log" | head -40; exit 1; }

step "CUDA tests"
build-cuda/test-infer-generator --gtest_filter='*Cuda*' 2>&1 | tail -4
build-cuda/test-train-step --gtest_filter='*Cuda*' 2>&1 | tail -4

step "inference benchmark"
[ -n "$VIDEO" ] && VIDEO_ARGS="--video $VIDEO" && [ -n "$CSV" ] && VIDEO_ARGS="$VIDEO_ARGS --landmarks $CSV"
build-cuda/dinet-bench infer --device cuda --precision fp32 fp16 bf16 --batch 8 --seconds 8 --baseline_frames 50 \
  --python "$PY" $VIDEO_ARGS 2>&1 | tee "$OUT/bench-infer.md"

step "training benchmark"
build-cuda/dinet-bench train-frame --device cuda --precision fp32 bf16 fp16 --mouth 64 128 256 --batch 32 16 8 \
  -r 10 --python "$PY" 2>&1 | tee "$OUT/bench-train.md"

step "demo"
build-cuda/dinet demo --device cuda --out /tmp/dinet-demo-cuda 2>&1 | tail -30
step "done"
