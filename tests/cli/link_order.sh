#!/usr/bin/env bash
# libstdc++ comes before LibTorch among the executable's libraries (CMakeLists.txt, add_link_options).
# PyTorch's pip LibTorch exports copies of libstdc++'s std::filesystem; listed first, they replace the
# real ones, and on a GPU machine its std::filesystem::remove_all jumped to address 0 (README, Building
# on a GPU machine). The dynamic linker searches the libraries in this order.
set -euo pipefail
bin=$1
fail() { echo "FAIL: $*"; exit 1; }
command -v readelf >/dev/null || fail "readelf not found (binutils)"
needed=$(readelf -d "$bin" | sed -nE 's/.*\(NEEDED\).*\[(.*)\]/\1/p')
[[ -n $needed ]] || fail "$bin lists no shared libraries"
first_torch=$(grep -nE '^lib(torch|c10)' <<<"$needed" | head -n 1 | cut -d: -f1)
stdcxx=$(grep -nE '^libstdc\+\+\.so' <<<"$needed" | head -n 1 | cut -d: -f1)
[[ -n $first_torch ]] || fail "no LibTorch library among: $(tr '\n' ' ' <<<"$needed")"
[[ -n $stdcxx ]] || fail "no libstdc++ among: $(tr '\n' ' ' <<<"$needed")"
((stdcxx < first_torch)) || fail "libstdc++ is library $stdcxx, after LibTorch's (library $first_torch): $(tr '\n' ' ' <<<"$needed")"
echo "libstdc++ is library $stdcxx of $(wc -l <<<"$needed"), LibTorch's first is $first_torch"
