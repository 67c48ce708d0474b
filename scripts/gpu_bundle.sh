#!/usr/bin/env bash
# Packs what a build on a GPU machine needs from Debian into .debs/ (git-ignored), here, where apt
# works: the GPU machine has Python's CUDA LibTorch, CMake and ninja, but no internet and no apt.
#
#   .debs/*.deb   header-only libraries (nlohmann-json, CLI11), googletest's sources, cpp-httplib
#                 and the libraries it calls (Debian's binaries: a C library ABI, not LibTorch's)
#   .debs/src/    Debian's source packages of sentencepiece and yaml-cpp
#
# Sources rather than binaries for the compiled libraries: they are built there with the C++ ABI of
# that machine's LibTorch (pip wheels have used both _GLIBCXX_USE_CXX11_ABI=0 and 1), which Debian's
# binaries might not match. Then, on the GPU machine: scripts/gpu_build.sh.
#
# Usage: scripts/gpu_bundle.sh       (as root on Debian 12; about 19 MB)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/.debs
mkdir -p "$out/src"

# sentencepiece's source package (build_sentencepiece.sh enables deb-src entries and downloads it).
bash "$root/scripts/build_sentencepiece.sh" >/dev/null
cp "$root"/.deps/sentencepiece-src/sentencepiece_*.{dsc,orig.tar.gz,debian.tar.xz} "$out/src/"

cd "$out/src"
ls yaml-cpp_*.dsc >/dev/null 2>&1 || apt-get source --download-only yaml-cpp >/dev/null

cd "$out"
rm -f ./*.deb
# cpp-httplib is compiled (with OpenSSL, zlib and brotli); its .debs and theirs, headers and libraries.
apt-get download nlohmann-json3-dev libcli11-dev googletest libcpp-httplib-dev libcpp-httplib0.11 \
  libssl-dev libssl3 zlib1g-dev zlib1g libbrotli-dev libbrotli1 >/dev/null
echo "gpu bundle in $out ($(du -sh "$out" | cut -f1)):"
ls -1 "$out"/*.deb "$out"/src/*
echo "carry .debs to the GPU machine, then run: bash scripts/gpu_build.sh"
