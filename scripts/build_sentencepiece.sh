#!/usr/bin/env bash
# Builds sentencepiece as a static, position-independent library from Debian's own source package.
#
# Why: Debian's libsentencepiece.so carries and exports its own protobuf-lite (3.14), while Debian's
# LibTorch loads libprotobuf.so.32 (3.21). In one process the two crash before main(). A static
# sentencepiece linked with -Wl,--exclude-libs,ALL keeps its protobuf private.
#
# Idempotent: does nothing when the prefix already holds the libraries.
# Usage: scripts/build_sentencepiece.sh [PREFIX [WORKDIR]]
#   PREFIX: where it installs (default: .deps/sentencepiece in the repository)
#   WORKDIR: where the source package is unpacked and built (default: .deps/sentencepiece-src; the
#   lanes keep it outside the copy of the repository that each run replaces)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
prefix=${1:-$root/.deps/sentencepiece}
if [[ -f $prefix/lib/libsentencepiece.a && -f $prefix/lib/libsentencepiece_train.a && -f $prefix/include/sentencepiece_processor.h ]]; then
  echo "sentencepiece: static build present in $prefix"
  exit 0
fi

work=${2:-$root/.deps/sentencepiece-src}
mkdir -p "$work"
cd "$work"
if ! ls -d sentencepiece-*/ >/dev/null 2>&1; then
  # Debian's source packages need deb-src entries; add them for the suites already configured.
  if ! apt-get source --download-only sentencepiece >/dev/null 2>&1; then
    if [[ ! -f /etc/apt/sources.list.d/gptforge-src.sources ]]; then
      if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
        sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources > /etc/apt/sources.list.d/gptforge-src.sources
      else
        grep -h '^deb ' /etc/apt/sources.list | sed 's/^deb /deb-src /' > /etc/apt/sources.list.d/gptforge-src.list
      fi
      apt-get update -q
    fi
  fi
  command -v dpkg-source >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q dpkg-dev
  apt-get source sentencepiece
fi
src=$(ls -d "$work"/sentencepiece-*/ | head -n 1)
# Debian's packaging patches the static library away; take that one patch back out.
if grep -q '^-add_library(sentencepiece-static' "$src/debian/patches/disable-static-library.patch" \
   && ! grep -q 'add_library(sentencepiece-static' "$src/src/CMakeLists.txt"; then
  patch -s -R -p1 -d "$src" < "$src/debian/patches/disable-static-library.patch"
fi
echo "sentencepiece: building static library from $src"
# One build tree per prefix: CMake keeps the flags of a tree's first configure, and gpu_build.sh
# builds with the C++ ABI of the LibTorch it finds (CXXFLAGS) into a prefix of its own.
build=$work/build-$(basename "$prefix")
cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DSPM_ENABLE_SHARED=OFF -DSPM_USE_BUILTIN_PROTOBUF=ON -DSPM_ENABLE_TCMALLOC=OFF \
  -DCMAKE_POSITION_INDEPENDENT_CODE=ON -DCMAKE_INSTALL_PREFIX="$prefix" -DCMAKE_INSTALL_LIBDIR=lib \
  ${CMAKE_POLICY_VERSION_MINIMUM:+-DCMAKE_POLICY_VERSION_MINIMUM=$CMAKE_POLICY_VERSION_MINIMUM} >/dev/null
cmake --build "$build" --target install -- -j"$(nproc)" >/dev/null
test -f "$prefix/lib/libsentencepiece.a"
echo "sentencepiece: installed to $prefix"
