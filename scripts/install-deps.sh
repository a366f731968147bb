#!/bin/sh
# Installs the Debian packages dinet needs, only those missing; silent when all are present.
set -e
# libgloo-dev: headers of the Gloo that LibTorch links, for distributed training on CPUs.
PACKAGES="build-essential cmake pkg-config ccache libtorch-dev libopencv-dev
libavformat-dev libavcodec-dev libswscale-dev libswresample-dev libavutil-dev
libdlib-dev libdlib-data libcli11-dev nlohmann-json3-dev libgtest-dev
libprotobuf-dev protobuf-compiler libgloo-dev
libboost-dev libespeak-ng-dev
libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstreamer-plugins-bad1.0-dev
gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-nice"
# libboost-dev: Beast (HTTP, WebSocket) for `dinet serve`; GStreamer's webrtcbin for its live
# sessions; espeak-ng for their text to speech.
# Optional: python3-torch lets the tests check that torch.load reads our checkpoints.
# chromium, chromium-driver, python3-selenium: the tests that drive the server's page in a real
# browser (they skip, saying so, where these are missing). clang: its libFuzzer runs `make fuzz`.
OPTIONAL="python3-torch python3-numpy chromium chromium-driver python3-selenium clang"
# DINET_DEPS=required (the image): none of the optional ones.
[ "${DINET_DEPS:-}" = required ] && OPTIONAL=""

missing=""
for p in $PACKAGES $OPTIONAL; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
  echo "dinet: missing Debian packages:$missing" >&2
  echo "dinet: run 'make deps' as root, or: sudo apt-get install$missing" >&2
  exit 1
fi
echo "dinet: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq $missing > /tmp/dinet-apt.log 2>&1 || {
  tail -20 /tmp/dinet-apt.log >&2; exit 1; }
