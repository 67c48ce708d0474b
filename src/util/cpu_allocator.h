// A caching allocator for large CPU tensors.
//
// LibTorch's CPU allocator hands every request to malloc, and glibc serves large blocks (above its
// mmap threshold, at most 32 MiB) with a fresh mmap and returns them to the kernel on free. A
// training step allocates the same large activations, logits and gradients every step, so each step
// page-faults and zero-fills them all again: about 26,000 page faults (100 MB of fresh pages) per
// step of the tiny benchmark model, 10-20% of its step time (bench/README.md). This allocator keeps
// freed large blocks and hands back the smallest one that fits (and is less than twice the request):
// after the first step, a step of the same shapes allocates nothing new, and SFT's varying lengths
// reuse blocks of near sizes.
//
// Blocks below kMinCachedBytes go to LibTorch's default allocator. The free blocks held are capped
// (GPTFORGE_CPU_CACHE_MB, default 4096); beyond it, freed blocks go back to the system.
// GPTFORGE_CPU_ALLOCATOR=system leaves LibTorch's allocator in place.
#pragma once
#include <cstddef>
#include <cstdint>

namespace gptforge {

constexpr size_t kMinCachedBytes = size_t(1) << 18;  // 256 KiB

// Installs the caching allocator as LibTorch's CPU allocator (once; later calls do nothing) unless
// GPTFORGE_CPU_ALLOCATOR=system. Tensors allocated before keep their own deleters.
void install_caching_cpu_allocator();

struct CpuCacheStats {
  int64_t hits = 0, misses = 0;   // large requests served from the cache / from the system
  int64_t cached_bytes = 0;       // free blocks held now
  bool installed = false;
};
CpuCacheStats cpu_cache_stats();

}  // namespace gptforge
