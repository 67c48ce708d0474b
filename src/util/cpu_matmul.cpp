#include "util/cpu_matmul.h"

#include <atomic>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "util/cpu_gemm.h"
#include "util/errors.h"

#ifdef GPTFORGE_WITH_ONEDNN
#include <oneapi/dnnl/dnnl.hpp>
#endif

namespace gptforge {
namespace {

std::atomic<int64_t> primitives_created{0};

#ifdef GPTFORGE_WITH_ONEDNN
using dnnl::memory;

// Everything a primitive is generated for: (trans_a, trans_b, m, n, k, lda, ldb, ldc, with bias).
using MatmulKey = std::tuple<bool, bool, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, bool>;

struct Matmul {
  dnnl::matmul primitive;
  memory::desc a, b, bias, c, scratch;
};

dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

// A (rows x cols) operand as stored: row-major with row stride ld, or its transpose (cols x rows).
memory::desc matrix_desc(int64_t rows, int64_t cols, int64_t ld, bool transposed) {
  return memory::desc({rows, cols}, memory::data_type::f32, transposed ? memory::dims{1, ld} : memory::dims{ld, 1});
}

std::shared_ptr<const Matmul> make_matmul(const MatmulKey& key) {
  const auto [ta, tb, m, n, k, lda, ldb, ldc, with_bias] = key;
  auto mm = std::make_shared<Matmul>();
  mm->a = matrix_desc(m, k, lda, ta);
  mm->b = matrix_desc(k, n, ldb, tb);
  mm->c = matrix_desc(m, n, ldc, false);
  if (with_bias) mm->bias = matrix_desc(1, n, n, false);
  dnnl::primitive_attr attr;
  // The scratch memory is the caller's (a buffer per thread): one primitive may then run on two
  // threads at once.
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
#if DNNL_VERSION_MAJOR >= 3
  dnnl::matmul::primitive_desc pd(cpu_engine(), mm->a, mm->b, mm->bias, mm->c, attr);
#else
  dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(mm->a, mm->b, mm->bias, mm->c), attr, cpu_engine());
#endif
  mm->scratch = pd.scratchpad_desc();
  mm->primitive = dnnl::matmul(pd);
  primitives_created.fetch_add(1);
  return mm;
}

std::shared_ptr<const Matmul> cached_matmul(const MatmulKey& key) {
  static std::mutex mutex;
  static std::map<MatmulKey, std::shared_ptr<const Matmul>> cache;
  std::lock_guard<std::mutex> lock(mutex);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  // Starting over is simpler than evicting: a process that meets this many shapes is not training.
  if (static_cast<int64_t>(cache.size()) >= kMaxCachedMatmuls) cache.clear();
  return cache.emplace(key, make_matmul(key)).first->second;
}

void run_matmul(const MatmulKey& key, const float* a, const float* b, const float* bias, float* c) {
  const std::shared_ptr<const Matmul> mm = cached_matmul(key);
  dnnl::engine& engine = cpu_engine();
  thread_local dnnl::stream stream(engine);
  thread_local std::vector<char> scratch;
  const size_t scratch_bytes = mm->scratch.get_size();
  if (scratch.size() < scratch_bytes) scratch.resize(scratch_bytes);
  std::unordered_map<int, memory> args = {
      {DNNL_ARG_SRC, memory(mm->a, engine, const_cast<float*>(a))},
      {DNNL_ARG_WEIGHTS, memory(mm->b, engine, const_cast<float*>(b))},
      {DNNL_ARG_DST, memory(mm->c, engine, c)},
  };
  if (bias) args.emplace(DNNL_ARG_BIAS, memory(mm->bias, engine, const_cast<float*>(bias)));
  if (scratch_bytes > 0) args.emplace(DNNL_ARG_SCRATCHPAD, memory(mm->scratch, engine, scratch.data()));
  mm->primitive.execute(stream, args);
  stream.wait();
}
#endif

}  // namespace

int64_t cpu_matmul_primitives_created() { return primitives_created.load(); }

void cpu_matmul(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
                const float* b, int64_t ldb, const float* bias, float* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
#ifdef GPTFORGE_WITH_ONEDNN
  if (onednn_gemm_enabled() && k > 0) {
    try {
      run_matmul({trans_a, trans_b, m, n, k, lda, ldb, ldc, bias != nullptr}, a, b, bias, c);
    } catch (const dnnl::error& e) {
      throw RunError(std::string("oneDNN matmul failed: ") + e.what());
    }
    return;
  }
#endif
  if (bias)
    for (int64_t i = 0; i < m; ++i) std::memcpy(c + i * ldc, bias, sizeof(float) * static_cast<size_t>(n));
  cpu_sgemm(trans_a, trans_b, m, n, k, 1.0f, a, lda, b, ldb, bias ? 1.0f : 0.0f, c, ldc);
}

}  // namespace gptforge
