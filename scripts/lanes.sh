#!/usr/bin/env bash
# The modern-stack lanes: gptforge built and tested against the LibTorch versions users have, in
# Debian chroots made with debootstrap, next to the bookworm (LibTorch 1.13) build of scripts/test.sh.
#
#   sid      LibTorch 2.14 (CPU) from sid's libtorch-dev: build everything, run the whole ctest suite,
#            and check that `gptforge info` names gptforge's fused attention kernel (its parallel
#            loops on every thread) and oneDNN's sgemm for the CPU's products.
#   cuda     LibTorch 2.6 built with CUDA (trixie's libtorch-cuda-dev, CUDA 12.4, NCCL 2.22): compile
#            and link every target (no GPU here), then run that build's tests on the CPU.
#   clients  with the sid build: tiny gpt2 and llama models checked against the real programs,
#            transformers and llama.cpp (tests/clients/run.sh).
#
# Usage: bash scripts/lanes.sh [sid] [cuda] [clients]      (no argument: all three)
#        bash scripts/lanes.sh prepare    only make (or check) both chroots: network and dpkg work that
#                                         .ci/run overlaps with the main suite's CPU-bound build
#        bash scripts/lanes.sh bench [ARGS]   the benchmark table on LibTorch 2.14 (scripts/bench.sh
#                                         runs it after the host's; ARGS go to bench/run.py)
# Each lane ends with one line `lane NAME: PASS (..)` or `lane NAME: FAIL (..)`; the exit code is 1 when
# any lane failed. Run as root (debootstrap, chroot, mount).
#
# Environment: GPTFORGE_LANES_CACHE (default /var/cache/gptforge-lanes) holds the chroots, their build
# trees and ccache, outside the clone. A chroot is made once and reused while its package list is
# unchanged (a stamp in the chroot says which list made it); a changed list makes it anew. Deleting
# the directory makes every lane start cold.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${GPTFORGE_LANES_CACHE:-/var/cache/gptforge-lanes}
# Bump to remake every chroot (for a change in how they are set up rather than in their packages).
readonly chroot_format=1

build_packages=(build-essential cmake ninja-build ccache pkg-config dpkg-dev
  libyaml-cpp-dev nlohmann-json3-dev libcli11-dev libgtest-dev libgmock-dev googletest libcpp-httplib-dev
  bc curl python3)
# sentencepiece 0.2's header includes absl, which libsentencepiece-dev does not pull in.
# libdnnl-dev: oneDNN's sgemm for the CPU's products (src/util/cpu_gemm.h), the same libdnnl LibTorch links.
sid_packages=("${build_packages[@]}" libsentencepiece-dev libabsl-dev libgloo-dev libtorch-dev libopenblas0-openmp libdnnl-dev
  python3-torch python3-transformers python3-safetensors python3-tokenizers python3-sentencepiece python3-protobuf
  python3-gguf llama.cpp-tools
  python3-dev  # torch.compile's C++ kernels in `bash scripts/lanes.sh bench`
  chromium nodejs npm)  # the server's browser and npm `openai` client tests
# libtorch-cuda conflicts with libgloo-dev: its Gloo headers come from libgloo-cuda-dev.
trixie_packages=("${build_packages[@]}" libopenblas0-openmp libgloo-cuda-dev libtorch-cuda-dev nvidia-cuda-toolkit libnccl-dev g++-13)

log() { echo "lanes: $*"; }
die() { echo "lanes: error: $*" >&2; exit 2; }
[[ $(id -u) == 0 ]] || die "run as root (debootstrap, chroot and mount need it)"

# Unmounts whatever is mounted below $1, deepest first.
unmount_below() {
  local dir=$1 m
  [[ -d $dir ]] || return 0
  while read -r m; do umount -l "$m" 2>/dev/null || true; done < <(findmnt -rn -o TARGET | grep -F "$dir/" | sort -r)
}

# Removes a chroot (or its half-made successor) without ever crossing into a mounted file system.
remove_tree() {
  local dir=$1
  [[ -e $dir ]] || return 0
  unmount_below "$dir"
  if findmnt -rn -o TARGET | grep -qF "$dir/"; then die "$dir still has mounts; not removing it"; fi
  rm -rf --one-file-system "$dir"
}

# Runs a command line inside a chroot with /proc mounted (LibTorch's cpuinfo reads it).
in_chroot() {
  local dir=$1
  shift
  mountpoint -q "$dir/proc" || mount -t proc proc "$dir/proc"
  chroot "$dir" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb CI="${CI:-}" \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    CCACHE_DIR=/lane/ccache DEBIAN_FRONTEND=noninteractive NODE_EXTRA_CA_CERTS=/lane/host-ca-certificates.crt \
    bash -c "$*"
}

# ensure_chroot NAME SUITE COMPONENTS PACKAGES...: $cache/NAME holds SUITE with PACKAGES installed.
ensure_chroot() {
  local name=$1 suite=$2 components=$3
  shift 3
  local dir=$cache/$name new=$cache/$name.new stamp start=$SECONDS
  stamp=$(printf '%s\n' "$chroot_format" "$suite" "$components" "$@" | sha256sum | cut -c1-16)
  if [[ -f $dir/.gptforge-stamp && $(<"$dir/.gptforge-stamp") == "$stamp" ]]; then
    log "$name: reusing the chroot in $dir"
    return 0
  fi
  command -v debootstrap >/dev/null || { apt-get update -q && apt-get install -y -q debootstrap; } >/dev/null
  log "$name: making a $suite chroot in $dir (debootstrap, then ${#} packages)"
  remove_tree "$new"
  mkdir -p "$cache"
  debootstrap --variant=minbase "$suite" "$new" >"$cache/$name.debootstrap.log" 2>&1 ||
    { tail -n 20 "$cache/$name.debootstrap.log"; return 1; }
  # A served Release file may be past its Valid-Until date (sid's often is).
  echo 'Acquire::Check-Valid-Until "false";' >"$new/etc/apt/apt.conf.d/99gptforge"
  sed -i "s/ main\$/ $components/" "$new/etc/apt/sources.list"
  cp /etc/resolv.conf "$new/etc/resolv.conf"
  mkdir -p "$new/lane/ccache"
  # nvidia-cudnn (which libtorch-cuda depends on) is an installer that downloads cuDNN from NVIDIA once
  # its license is accepted; nothing outside the package registry is reachable, so decline it.
  in_chroot "$new" "echo 'nvidia-cudnn nvidia-cudnn/question select I Decline' | debconf-set-selections"
  in_chroot "$new" "apt-get update -q && apt-get install -y -q --no-install-recommends $*" \
    >"$cache/$name.apt.log" 2>&1 || { tail -n 30 "$cache/$name.apt.log"; unmount_below "$new"; return 1; }
  [[ $name != trixie-cuda ]] || cudnn_stand_in "$new" || { unmount_below "$new"; return 1; }
  in_chroot "$new" "ccache -M 4G >/dev/null"
  echo "$stamp" >"$new/.gptforge-stamp"
  unmount_below "$new"
  remove_tree "$dir"
  mv "$new" "$dir"
  log "$name: chroot ready in $((SECONDS - start)) s"
}

# Without cuDNN (declined above), libtorch_cuda.so cannot be loaded: it is linked with BIND_NOW and
# needs libcudnn.so.9. This makes a stand-in with every cudnn* function libtorch_cuda imports, each
# one aborting with a message, so that the CUDA build's executables load and run their CPU tests. It
# lives in /usr/local/lib of the chroot only; no cuDNN function is ever called on the CPU.
cudnn_stand_in() {
  in_chroot "$1" 'set -e
    lib=/usr/lib/x86_64-linux-gnu/libtorch_cuda.so
    { echo "#include <stdio.h>"; echo "#include <stdlib.h>"
      nm -D --undefined-only "$lib" | awk "\$2 ~ /^cudnn/ {sub(/@.*/, \"\", \$2); print \$2}" | sort -u |
        while read -r f; do echo "void $f(void) { fputs(\"$f: cuDNN is not installed (gptforge lanes stand-in)\\n\", stderr); abort(); }"; done
    } >/tmp/cudnn_stand_in.c
    # libtorch_cuda binds the symbols at version "libcudnn.so.9", as cuDNN defines them.
    echo "libcudnn.so.9 { global: *; };" >/tmp/cudnn_stand_in.map
    gcc -shared -fPIC -O0 -Wl,-soname,libcudnn.so.9 -Wl,--version-script=/tmp/cudnn_stand_in.map \
      -o /usr/local/lib/libcudnn.so.9 /tmp/cudnn_stand_in.c 2>&1 | head -n 5
    ldconfig
    ! ldd "$lib" | grep "not found"'
}

# Copies the working tree (tracked files and untracked ones git does not ignore) to /gptforge in the
# chroot. A file whose content is unchanged keeps the time of the copy the build tree knows, so it
# stays built; a changed file gets the time of this copy. (Keeping the working tree's own times is
# not enough: a file edited before an earlier lane compiled its previous content is older than that
# object, and ninja kept the stale object.) ccache covers a fresh clone.
sync_source() {
  local dest=$1/gptforge new=$1/gptforge.new
  # The network as the host sees it: its resolver and the certificate authorities it trusts (a
  # machine behind a TLS-inspecting proxy adds its own, which npm inside the chroot needs too).
  cp /etc/resolv.conf "$1/etc/resolv.conf"
  [[ -f /etc/ssl/certs/ca-certificates.crt ]] && cp /etc/ssl/certs/ca-certificates.crt "$1/lane/host-ca-certificates.crt"
  rm -rf --one-file-system "$new"
  mkdir -p "$new"
  (cd "$root" && git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' f; do [[ -e $f ]] && printf '%s\0' "$f"; done |
    tar --null -T - -cf -) | tar -xf - -C "$new"
  (cd "$new" && find . -type f -print0) | while IFS= read -r -d '' f; do
    if [[ -f $dest/$f ]] && cmp -s "$new/$f" "$dest/$f"; then touch -r "$dest/$f" "$new/$f"; else touch "$new/$f"; fi
  done
  rm -rf --one-file-system "$dest"
  mv "$new" "$dest"
}

# timed NAME COMMAND...: runs COMMAND and adds "NAME N s" to the lane's line, so that CI's last lines
# say where a lane's time went (making the chroot, building, testing).
phases=""
timed() {
  local name=$1 start=$SECONDS rc=0
  shift
  "$@" || rc=$?
  phases+="${phases:+, }$name $((SECONDS - start)) s"
  return $rc
}

# Builds gptforge inside a chroot into /lane/build, with the CMake arguments given.
build_in_chroot() {
  local dir=$1 cmake_args=${2:-}
  in_chroot "$dir" "set -e; cd /gptforge
    cmake -S . -B /lane/build -G Ninja -DCMAKE_BUILD_TYPE=Release $cmake_args >/dev/null
    ninja -C /lane/build -k 0 -j\$(nproc)
    ccache -s | grep -iE 'hits|misses' | head -n 3 || true"
}

# trixie's libsentencepiece.so, like bookworm's, carries and exports its own protobuf-lite, which
# clashes with LibTorch's libprotobuf.so.32: the CUDA build crashed before main(). So the CUDA lane
# links sentencepiece statically, as the main build does, from the same source package (bookworm's
# 0.1.97, unpacked in the clone by scripts/build_sentencepiece.sh; the mirror does not serve
# trixie's source pool). It is built once per chroot, into /lane/sentencepiece.
static_sentencepiece_in_chroot() {
  local dir=$1 host_src=$root/.deps/sentencepiece-src
  [[ -f $dir/lane/sentencepiece/lib/libsentencepiece.a ]] && return 0
  ls -d "$host_src"/sentencepiece-*/ >/dev/null 2>&1 || bash "$root/scripts/build_sentencepiece.sh" || return 1
  mkdir -p "$dir/lane/sentencepiece-src"
  (cd "$host_src" && tar --exclude='build-*' -cf - sentencepiece-*/) | tar -xf - -C "$dir/lane/sentencepiece-src"
  in_chroot "$dir" "bash /gptforge/scripts/build_sentencepiece.sh /lane/sentencepiece /lane/sentencepiece-src"
}

run_ctest() {
  in_chroot "$1" "ctest --test-dir /lane/build --output-on-failure -j\$(nproc) --timeout 600"
}

lane_sid() {
  local dir=$cache/sid
  timed chroot ensure_chroot sid sid main "${sid_packages[@]}" || return 1
  sync_source "$dir"
  # sid's libsentencepiece links the system protobuf, the one LibTorch uses: the shared library works.
  # -O1, as the CUDA lane: this build proves that everything compiles and that the suite passes, and
  # times nothing, and compiles faster.
  timed build build_in_chroot "$dir" "-DGPTFORGE_SENTENCEPIECE=system '-DCMAKE_CXX_FLAGS_RELEASE=-O1 -DNDEBUG'" || return 1
  in_chroot "$dir" "/lane/build/gptforge info --threads 2" | tee "$dir/lane/info.txt"
  grep -qE "^libtorch +2\." "$dir/lane/info.txt" || { log "sid: gptforge info names no LibTorch 2.x"; return 1; }
  grep -qE "^blas +OpenBLAS" "$dir/lane/info.txt" || { log "sid: gptforge info names no OpenBLAS"; return 1; }
  grep -q "fused causal kernel" "$dir/lane/info.txt" ||
    { log "sid: gptforge info does not name the fused attention kernel"; return 1; }
  grep -qE "parallel loops on [2-9]" "$dir/lane/info.txt" ||
    { log "sid: gptforge's parallel loops run on one thread (built without OpenMP?)"; return 1; }
  grep -qE "^cpu products +oneDNN" "$dir/lane/info.txt" || { log "sid: gptforge info does not name oneDNN's sgemm"; return 1; }
  timed tests run_ctest "$dir"
}

lane_cuda() {
  local dir=$cache/trixie-cuda
  timed chroot ensure_chroot trixie-cuda trixie "main contrib non-free" "${trixie_packages[@]}" || return 1
  sync_source "$dir"
  # CUDA 12.4's nvcc takes GCC 13 at the most; LibTorch's CMake files check the CUDA toolchain. -O1:
  # this build proves that everything compiles and links, and its tests time nothing.
  timed sentencepiece static_sentencepiece_in_chroot "$dir" || return 1
  timed build build_in_chroot "$dir" "-DGPTFORGE_SENTENCEPIECE=static -DSENTENCEPIECE_ROOT=/lane/sentencepiece \
    -DCMAKE_CUDA_HOST_COMPILER=/usr/bin/g++-13 '-DCMAKE_CXX_FLAGS_RELEASE=-O1 -DNDEBUG'" || return 1
  in_chroot "$dir" "/lane/build/gptforge info --threads 2" | tee "$dir/lane/info.txt"
  grep -qE "^cuda build +yes" "$dir/lane/info.txt" || { log "cuda: gptforge info does not say it was built with CUDA"; return 1; }
  grep -qE "^blas +OpenBLAS" "$dir/lane/info.txt" || { log "cuda: gptforge info names no OpenBLAS (its CPU tests would crawl)"; return 1; }
  timed tests run_ctest "$dir"
}

lane_clients() {
  local dir=$cache/sid
  [[ -x $dir/lane/build/gptforge ]] || { lane_sid || return 1; }
  sync_source "$dir"
  in_chroot "$dir" "ninja -C /lane/build gptforge >/dev/null && cd /tmp && bash /gptforge/tests/clients/run.sh /lane/build/gptforge /gptforge"
}

# Both chroots, one after the other (they share the network link); nothing is built.
prepare_chroots() {
  local start=$SECONDS rc=0
  ensure_chroot sid sid main "${sid_packages[@]}" || rc=1
  ensure_chroot trixie-cuda trixie "main contrib non-free" "${trixie_packages[@]}" || rc=1
  for d in sid trixie-cuda; do unmount_below "$cache/$d"; done
  log "prepare: $( ((rc == 0)) && echo "chroots ready" || echo "FAIL") ($((SECONDS - start)) s)"
  return $rc
}

# The benchmark table (bench/run.py) on LibTorch 2.14: gptforge built in the sid chroot at -O3 (CMake's
# Release), as the host's Release build (the lanes' -O1 builds time nothing), against sid's
# python3-torch 2.14, eager and under torch.compile (inductor compiles C++ kernels with the chroot's g++
# and Python headers).
bench_sid() {
  local dir=$cache/sid
  ensure_chroot sid sid main "${sid_packages[@]}" || return 1
  sync_source "$dir"
  in_chroot "$dir" "set -e; cd /gptforge
    cmake -S . -B /lane/build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DGPTFORGE_SENTENCEPIECE=system >/dev/null
    ninja -C /lane/build-bench bench_train bench_decode" || return 1
  mkdir -p "$root/bench/results"
  in_chroot "$dir" "cd /gptforge && python3 bench/run.py --build /lane/build-bench --compiled --out /lane/bench-latest.json $*" ||
    return 1
  cp "$dir/lane/bench-latest.json" "$root/bench/results/latest-libtorch2.json"
  log "bench: written bench/results/latest-libtorch2.json"
}

if [[ ${1:-} == bench ]]; then
  shift
  rc=0
  bench_sid "$@" || rc=1
  unmount_below "$cache/sid"
  exit $rc
fi

if [[ ${1:-} == prepare ]]; then
  (($# == 1)) || die "prepare takes no lane names"
  prepare_chroots
  exit
fi

lanes=("$@")
((${#lanes[@]})) || lanes=(sid cuda clients)
for l in "${lanes[@]}"; do [[ $l == sid || $l == cuda || $l == clients ]] || die "unknown lane '$l' (sid, cuda or clients)"; done
failed=0
summary=()
for l in "${lanes[@]}"; do
  start=$SECONDS
  phases=""
  log "lane $l: start"
  if "lane_$l"; then result=PASS; else result=FAIL; failed=1; fi
  for d in sid trixie-cuda; do unmount_below "$cache/$d"; done
  line="lane $l: $result ($((SECONDS - start)) s${phases:+: $phases})"
  echo "$line"
  summary+=("$line")
done
printf '%s\n' "${summary[@]}"
exit $failed
