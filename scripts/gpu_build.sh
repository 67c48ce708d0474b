#!/usr/bin/env bash
# Builds gptforge on a machine without apt or internet (the GPU machine) against the LibTorch inside
# its Python torch, from the bundle that scripts/gpu_bundle.sh packed into .debs/ on a Debian machine:
# unpacks the .debs with dpkg -x, builds sentencepiece, yaml-cpp and googletest from their sources
# with the C++ ABI that LibTorch was built with, then configures and builds gptforge in build-cuda/.
#
# Environment: BUILD_DIR (default build-cuda), PYTHON (default python3), TORCH_CMAKE_PREFIX (default:
# torch.utils.cmake_prefix_path), CXX11_ABI (default: torch._C._GLIBCXX_USE_CXX11_ABI).
# Afterwards: ctest --test-dir build-cuda; build-cuda/bench_train --config configs/gpt2-124m.yaml
# run.device=cuda train.precision=bf16 (README "Performance").
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bundle=$root/.debs
build_dir=${BUILD_DIR:-build-cuda}
python=${PYTHON:-python3}
[[ -d $bundle/src ]] || { echo "gpu_build: no bundle in $bundle: run scripts/gpu_bundle.sh on a Debian machine and carry .debs" >&2; exit 2; }
torch_prefix=${TORCH_CMAKE_PREFIX:-$("$python" -c 'import torch; print(torch.utils.cmake_prefix_path)')}
abi=${CXX11_ABI:-$("$python" -c 'import torch; print(int(torch._C._GLIBCXX_USE_CXX11_ABI))')}
abi_flag="-D_GLIBCXX_USE_CXX11_ABI=$abi"
unpacked=$bundle/root           # the .debs' files (headers, CMake configs, googletest's sources)
deps=$bundle/install-abi$abi    # what is built here
work=$bundle/work-abi$abi
mkdir -p "$unpacked" "$deps" "$work"
echo "gpu_build: LibTorch in $torch_prefix, C++11 ABI $abi"
# CMake 4 (pip's, on the GPU machines) refuses projects that ask for CMake < 3.5, as Debian's
# sentencepiece 0.1.97 and yaml-cpp 0.7 do; their builds work under the 3.5 policies.
if [[ $(cmake --version | head -n 1) =~ ([0-9]+)\. ]] && ((BASH_REMATCH[1] >= 4)); then
  export CMAKE_POLICY_VERSION_MINIMUM=3.5
fi

for deb in "$bundle"/*.deb; do
  if command -v dpkg >/dev/null; then
    dpkg -x "$deb" "$unpacked"
  else  # a .deb is an ar archive around data.tar.*
    (cd "$work" && ar x "$deb" && tar -xf data.tar.* -C "$unpacked" && rm -f data.tar.* control.tar.* debian-binary)
  fi
done

# cpp-httplib (gptforge serve) is Debian's compiled library, and its header calls OpenSSL, zlib and
# brotli inline: their pkg-config files are pointed into the unpacked tree, the linker searches it
# (LIBRARY_PATH), and the programs need it at run time (LD_LIBRARY_PATH, printed at the end).
libdir=$unpacked/usr/lib/x86_64-linux-gnu
for pc in "$libdir"/pkgconfig/*.pc "$unpacked"/usr/share/pkgconfig/*.pc; do
  [[ -f $pc ]] && sed -i "s|=/usr\b|=$unpacked/usr|g" "$pc"
done
for so in "$libdir"/*.so; do  # zlib's points at /lib/..., which the unpacked tree holds
  target=$(readlink "$so") && [[ $target == /* ]] && ln -sfn "$unpacked$target" "$so"
done
export PKG_CONFIG_PATH=$libdir/pkgconfig:$unpacked/usr/share/pkgconfig
export LIBRARY_PATH=$libdir${LIBRARY_PATH:+:$LIBRARY_PATH}

# Unpacks a Debian source package (tarballs in .debs/src) into $2 with Debian's patches applied, as
# dpkg-source -x would (gptforge's code follows Debian's sentencepiece, whose patches change its API).
unpack_source() {
  local name=$1 dest=$2 orig debian_tar p
  [[ -d $dest ]] && return 0
  orig=$(ls "$bundle"/src/"$name"_*.orig.tar.* | head -n 1)
  debian_tar=$(ls "$bundle"/src/"$name"_*.debian.tar.* | head -n 1)
  mkdir -p "$dest.partial"
  tar -xf "$orig" -C "$dest.partial" --strip-components=1
  tar -xf "$debian_tar" -C "$dest.partial"
  if [[ -f $dest.partial/debian/patches/series ]]; then
    while read -r p _; do
      [[ -z $p || $p == \#* ]] && continue
      if command -v patch >/dev/null; then
        patch -s -p1 -d "$dest.partial" < "$dest.partial/debian/patches/$p"
      else
        git -C "$dest.partial" apply "debian/patches/$p"
      fi
    done < "$dest.partial/debian/patches/series"
  fi
  mv "$dest.partial" "$dest"
}

# sentencepiece: scripts/build_sentencepiece.sh finds the source where it would have downloaded it.
spm_src=$(basename "$(ls "$bundle"/src/sentencepiece_*.orig.tar.* | head -n 1)")
spm_src=${spm_src%.orig.tar.*}
unpack_source sentencepiece "$root/.deps/sentencepiece-src/${spm_src/_/-}"
spm_prefix=$root/.deps/sentencepiece-abi$abi
CXXFLAGS="$abi_flag" bash scripts/build_sentencepiece.sh "$spm_prefix"

# yaml-cpp, static.
if [[ ! -f $deps/share/cmake/yaml-cpp/yaml-cpp-config.cmake ]]; then
  unpack_source yaml-cpp "$work/yaml-cpp"
  cmake -S "$work/yaml-cpp" -B "$work/yaml-cpp-build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_CXX_FLAGS="$abi_flag" -DCMAKE_POSITION_INDEPENDENT_CODE=ON -DYAML_BUILD_SHARED_LIBS=OFF \
    -DYAML_CPP_BUILD_TESTS=OFF -DYAML_CPP_BUILD_TOOLS=OFF -DYAML_CPP_BUILD_CONTRIB=OFF \
    -DCMAKE_INSTALL_PREFIX="$deps" -DCMAKE_INSTALL_LIBDIR=lib \
    ${CMAKE_POLICY_VERSION_MINIMUM:+-DCMAKE_POLICY_VERSION_MINIMUM=$CMAKE_POLICY_VERSION_MINIMUM} >/dev/null
  cmake --build "$work/yaml-cpp-build" --target install >/dev/null
fi

# googletest and googlemock, from the sources the googletest .deb ships.
if [[ ! -f $deps/lib/cmake/GTest/GTestConfig.cmake ]]; then
  cmake -S "$unpacked/usr/src/googletest" -B "$work/googletest-build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_CXX_FLAGS="$abi_flag" -DCMAKE_INSTALL_PREFIX="$deps" -DCMAKE_INSTALL_LIBDIR=lib >/dev/null
  cmake --build "$work/googletest-build" --target install >/dev/null
fi

cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$deps;$unpacked/usr;$torch_prefix" -DSENTENCEPIECE_ROOT="$spm_prefix" >/dev/null
cmake --build "$build_dir" -- -j"$(nproc)"
echo "gpu_build: built $build_dir/gptforge; before running it: export LD_LIBRARY_PATH=$libdir"
