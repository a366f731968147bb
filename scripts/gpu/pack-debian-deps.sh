#!/bin/sh
# pack-debian-deps.sh OUT.tar.xz: on Debian 12 after `make deps`, packs what dinet builds
# against besides LibTorch (headers, CMake and pkg-config files, shared libraries) under
# /opt/deb, for a GPU machine that has CUDA and PyTorch but not these packages (checks.sh
# unpacks it there). Libraries FFmpeg, OpenCV and dlib link but dinet never calls become
# trapping stubs (stub-library.py): about 35 MB instead of 270.
set -e
OUT=$(realpath "$1")
HERE=$(dirname "$(realpath "$0")")
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
D=$WORK/opt/deb
M=x86_64-linux-gnu
L=/usr/lib/$M
mkdir -p $D/usr/include/$M $D/usr/lib/$M/cmake $D/usr/lib/$M/pkgconfig $D/usr/share/cmake $D/usr/bin $D/lib

cp -a /usr/include/opencv4 /usr/include/dlib /usr/include/CLI /usr/include/nlohmann /usr/include/google \
      /usr/include/gtest /usr/include/gmock $D/usr/include/
for p in libavformat libavcodec libswscale libswresample libavutil; do
  cp -a /usr/include/$M/$p $D/usr/include/$M/
  cp $L/pkgconfig/$p.pc $D/usr/lib/$M/pkgconfig/
done
cp -a $L/cmake/opencv4 $L/cmake/dlib $L/cmake/GTest $D/usr/lib/$M/cmake/
cp -a /usr/share/cmake/CLI11 /usr/share/cmake/nlohmann_json $D/usr/share/cmake/
cp -a $L/libgtest*.a $L/libgmock*.a $D/usr/lib/$M/
cp /usr/bin/protoc /usr/bin/pkgconf $D/usr/bin/
ln -sf pkgconf $D/usr/bin/pkg-config
# dlib's and OpenCV's configs name /usr paths; only three OpenCV modules travel.
sed -i "s#/usr/lib/$M#/opt/deb/usr/lib/$M#g; s#/usr/include#/opt/deb/usr/include#g" $D/usr/lib/$M/cmake/dlib/*.cmake
grep -rl '"/usr/' $D/usr/lib/$M/cmake/opencv4 | xargs -r sed -i 's#"/usr/#"/opt/deb/usr/#g'
sed -i 's/message(FATAL_ERROR "The imported target/message(STATUS "The imported target/' \
  $D/usr/lib/$M/cmake/opencv4/OpenCVModules.cmake

# The libraries dinet links and everything they load, less glibc and the compiler's own.
ROOTS="libopencv_core.so.406 libopencv_imgproc.so.406 libopencv_imgcodecs.so.406 libdlib.so.19.1
libavformat.so.59 libavcodec.so.59 libswscale.so.6 libswresample.so.4 libavutil.so.57 libprotobuf.so.32
libprotoc.so.32 libpkgconf.so.3"
# Called by dinet or by what it calls (found by running the demo and the benchmarks on the
# packed set until no stub trapped); every other library of the closure is stubbed.
REAL="libtbb libtbbmalloc libx264 libx265 libaom libvpx libjpeg libpng16 libz libblas liblapack libgfortran
libquadmath libgomp libsqlite3 libwebp libwebpmux libtiff libzstd liblzma libbz2 libdeflate libjbig libLerc libgif
libGLdispatch libOpenEXR-3_1 libgdal libjson-c libnetcdf libgme libopenmpt libsoxr"
ROOTS=$(echo $ROOTS) REAL=$(echo $REAL)  # one line each, for the matches below
for r in $ROOTS; do echo $L/$r; ldd $L/$r | awk '/=>/{print $3}'; done | sort -u > $WORK/closure
for f in $(cat $WORK/closure); do
  b=$(basename $f)
  case $b in libc.so*|libm.so*|libpthread.so*|libdl.so*|librt.so*|ld-linux*|libstdc++.so*|libgcc_s.so*|libresolv.so*) continue;; esac
  if echo " $ROOTS " | grep -q " $b " || echo " $REAL " | grep -q " ${b%%.so*} "; then cp -L $f $D/lib/$b
  else python3 "$HERE/stub-library.py" $f $D/lib > /dev/null; fi
  # CMake's imported targets name full file names (libopencv_core.so.4.6.0).
  r=$(basename "$(readlink -f $f)")
  [ "$r" != "$b" ] && ln -sf /opt/deb/lib/$b $D/usr/lib/$M/$r
done
# Link-time names (.so) for what CMake links by path.
for l in libopencv_core libopencv_imgproc libopencv_imgcodecs libdlib libavformat libavcodec libswscale \
         libswresample libavutil libprotobuf libpng libz libjpeg libblas liblapack libsqlite3; do
  o=$(readlink -f $L/$l.so)
  ln -sf /opt/deb/lib/$(objdump -p $o | awk '/SONAME/{print $2}') $D/usr/lib/$M/$l.so
done

cat > $D/setup.sh <<'EOS'
# On the GPU machine, after unpacking: the system's own copy of a library wins (it is newer).
cd /opt/deb/lib && for f in *; do ldconfig -p | grep -q "^\s*$f " && rm -f "$f"; done
for s in /opt/deb/usr/lib/x86_64-linux-gnu/*.so*; do
  [ -e "$s" ] || ln -sf "$(ldconfig -p | awk -v n="$(basename "$(readlink "$s")")" '$1==n{print $NF; exit}')" "$s"
done; true
EOS
tar -C $WORK -cJf "$OUT" opt
du -h "$OUT"
