// Dense fp32 matrix products with the bias added inside the product: C = op(A) op(B) + bias,
// row-major, the bias a row of n floats added to every row of C (or none), on oneDNN's matmul
// primitive.
//
// Why beside cpu_sgemm (cpu_gemm.h): through sgemm, a linear layer's bias is a broadcast of the bias
// into C and then the product with beta = 1: a write and a read of all of C more, and at training
// sizes C is megabytes, out of cache (the broadcast was ~5% of the medium benchmark model's step:
// bench_train --profile, aten::copy_). The matmul primitive adds the bias while each output tile is
// still in registers, and reads a transposed operand in place. Which products run faster on which
// is the caller's choice (model/linear.h, from bench_gemm --matmul).
//
// A primitive is generated per shape and storage (milliseconds: oneDNN compiles its kernel) and kept,
// at most kMaxCachedMatmuls of them (past that the cache starts over): callers keep the shapes few,
// as training's are, not one per prompt length. Like cpu_sgemm it runs on LibTorch's OpenMP threads;
// call it outside parallel regions. Without oneDNN (or with GPTFORGE_ONEDNN=0) the bias is
// broadcast and the product is cpu_sgemm's: the same result up to the order of float sums.
#pragma once
#include <cstdint>

namespace gptforge {

constexpr int64_t kMaxCachedMatmuls = 64;

// C (m x n, row stride ldc) = op(A) op(B) + bias. op(A) is m x k: A stored m x k with row stride lda,
// or, when trans_a, stored k x m with row stride lda. Likewise op(B), k x n. bias: n floats or null.
void cpu_matmul(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
                const float* b, int64_t ldb, const float* bias, float* c, int64_t ldc);

// Primitives generated so far in this process (tests check that a shape's is reused).
int64_t cpu_matmul_primitives_created();

}  // namespace gptforge
