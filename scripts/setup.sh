#!/usr/bin/env bash
# Installs everything gptforge needs from Debian's packages, builds the static sentencepiece once,
# then configures and builds gptforge (Release) in build/. Idempotent: a second run only rebuilds
# what changed. Run as root on Debian 12 (bookworm).
#
# Environment: BUILD_DIR (default build), BUILD_TYPE (default Release), GPTFORGE_SKIP_APT=1 to skip apt.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build_dir=${BUILD_DIR:-build}
build_type=${BUILD_TYPE:-Release}

packages=(
  build-essential cmake ninja-build ccache pkg-config dpkg-dev
  libtorch-dev libopenblas0-openmp libopenblas-openmp-dev
  libdnnl-dev             # oneDNN: sgemm and the matmul primitive for the CPU's products (src/util/cpu_gemm.h, cpu_matmul.h)
  libyaml-cpp-dev nlohmann-json3-dev libcli11-dev libgtest-dev libgmock-dev googletest
  libgloo-dev
  python3 python3-torch python3-matplotlib
  bc                      # tests/cli/distributed.sh times the timeouts with it
  npm
  libcpp-httplib-dev      # gptforge serve's HTTP server
  chromium curl           # tests/cli/serve*.sh: the chat page in a headless browser, the API with curl
  time                    # bench/lora_vs_full.sh: peak memory with /usr/bin/time -v
)
if [[ ${GPTFORGE_SKIP_APT:-0} != 1 ]]; then
  missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  # npm may come with a Node.js that is not from Debian; then it is not needed from apt.
  if command -v npm >/dev/null; then
    missing=("${missing[@]/npm}")
  fi
  read -r -a missing <<<"${missing[*]}"
  if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
fi

# OpenBLAS must be the BLAS that LibTorch loads: Debian's reference BLAS is ~35x slower.
blas_link=/usr/lib/x86_64-linux-gnu/libblas.so.3
if [[ $(readlink -f "$blas_link") != *openblas* ]]; then
  alt=$(update-alternatives --list libblas.so.3-x86_64-linux-gnu 2>/dev/null | grep openblas | head -n 1 || true)
  [[ -n $alt ]] && update-alternatives --set libblas.so.3-x86_64-linux-gnu "$alt"
fi
if [[ $(readlink -f "$blas_link") != *openblas* ]]; then
  echo "setup: ERROR: $blas_link resolves to $(readlink -f "$blas_link"), not OpenBLAS." >&2
  echo "setup: install libopenblas0-openmp and select it: update-alternatives --config libblas.so.3-x86_64-linux-gnu" >&2
  exit 1
fi
echo "setup: BLAS is $(readlink -f "$blas_link")"

bash scripts/build_sentencepiece.sh

cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE="$build_type" ${CMAKE_ARGS:-} >/dev/null
cmake --build "$build_dir" -- -j"$(nproc)"
echo "setup: built $build_dir/gptforge"
