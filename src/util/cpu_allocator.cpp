#include "util/cpu_allocator.h"

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <torch/version.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

// LibTorch 2.3 made Allocator::allocate non-const and added copy_data.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 3)
#define GPTFORGE_ALLOCATE_QUALIFIER
#else
#define GPTFORGE_ALLOCATE_QUALIFIER const
#endif

namespace gptforge {
namespace {

constexpr size_t kAlignment = 64;            // as LibTorch's own CPU allocator
constexpr size_t kGranule = size_t(1) << 16;  // sizes round up to 64 KiB, so near sizes share blocks

size_t round_up(size_t n) { return (n + kGranule - 1) / kGranule * kGranule; }

class CachingCpuAllocator final : public c10::Allocator {
 public:
  explicit CachingCpuAllocator(size_t cap_bytes) : cap_(cap_bytes) {}

  c10::DataPtr allocate(size_t n) GPTFORGE_ALLOCATE_QUALIFIER override {
    if (n < kMinCachedBytes) return c10::GetDefaultCPUAllocator()->allocate(n);
    const size_t size = round_up(n);
    size_t got = size;
    void* p = nullptr;
    {
      std::lock_guard<std::mutex> lock(mu_);
      // The smallest free block that fits and is less than twice the size: training repeats exact
      // sizes, and SFT's varying lengths still reuse near ones instead of piling up new sizes.
      auto it = free_.lower_bound(size);
      if (it != free_.end() && it->first < 2 * size) {
        p = it->second.back();
        got = it->first;
        it->second.pop_back();
        if (it->second.empty()) free_.erase(it);
        cached_ -= got;
        ++hits_;
      } else {
        ++misses_;
      }
    }
    if (!p && posix_memalign(&p, kAlignment, got) != 0) throw std::bad_alloc();
    {
      std::lock_guard<std::mutex> lock(mu_);
      live_[p] = got;
    }
    return {p, p, &release, c10::Device(c10::DeviceType::CPU)};
  }

  c10::DeleterFnPtr raw_deleter() const override { return &release; }

  // LibTorch 2.3+ asks allocators to copy their own blocks; before it this is just a method.
  void copy_data(void* dest, const void* src, std::size_t count) const { std::memcpy(dest, src, count); }

  void give_back(void* p) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = live_.find(p);
    if (it == live_.end()) {  // not ours (cannot happen: only our DataPtrs carry this deleter)
      std::free(p);
      return;
    }
    const size_t size = it->second;
    live_.erase(it);
    if (cached_ + size > cap_) {
      std::free(p);
      return;
    }
    free_[size].push_back(p);
    cached_ += size;
  }

  CpuCacheStats stats() const {
    std::lock_guard<std::mutex> lock(mu_);
    return {hits_, misses_, static_cast<int64_t>(cached_), true};
  }

  static void release(void* p);

 private:
  const size_t cap_;
  mutable std::mutex mu_;
  mutable std::map<size_t, std::vector<void*>> free_;  // by block size
  mutable std::unordered_map<void*, size_t> live_;
  mutable size_t cached_ = 0;
  mutable int64_t hits_ = 0, misses_ = 0;
};

// Never destroyed: tensors may be freed during static destruction, after any singleton would be.
CachingCpuAllocator* g_allocator = nullptr;

void CachingCpuAllocator::release(void* p) { g_allocator->give_back(p); }

}  // namespace

void install_caching_cpu_allocator() {
  static std::once_flag once;
  std::call_once(once, [] {
    const char* mode = std::getenv("GPTFORGE_CPU_ALLOCATOR");
    if (mode && std::string(mode) == "system") return;
    const char* cap_mb = std::getenv("GPTFORGE_CPU_CACHE_MB");
    const size_t cap = (cap_mb ? std::strtoull(cap_mb, nullptr, 10) : 4096) << 20;
    g_allocator = new CachingCpuAllocator(cap);
    // Priority above the default's 0, so that LibTorch keeps ours.
    c10::SetCPUAllocator(g_allocator, /*priority=*/1);
  });
}

CpuCacheStats cpu_cache_stats() { return g_allocator ? g_allocator->stats() : CpuCacheStats{}; }

}  // namespace gptforge
