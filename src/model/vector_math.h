// What the hand-written CPU kernels (attention_kernel.cpp, gelu_kernel.cpp) share: how their entry
// points are compiled twice (AVX2+FMA and portable, chosen at load time), and an exp written so that
// the compiler vectorises it (libm's expf is a call per element).
//
// These files are plain C++ (no torch), compiled with -ffast-math (CMakeLists.txt): float reductions
// and max then vectorise. Their results differ from LibTorch's in the last bits; the tests compare
// them with tolerances.
#pragma once
#include <cstdint>
#include <cstring>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
// One x86-64-v3 clone (AVX2+FMA: Haswell and later, every AMD Zen) and one for any x86-64, picked by
// the loader. ("arch=haswell" would test for that CPU model, not its instructions: an EPYC got the
// portable clone.)
#define GPTFORGE_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define GPTFORGE_CLONES
#endif
// Helpers are inlined into the clones, so that they are compiled for each clone's instruction set.
#define GPTFORGE_INLINE inline __attribute__((always_inline))

namespace gptforge {

// x[i] = exp(x[i]) for x[i] in [-87, 88]; below -87 gives exp(-87) (about 1.6e-38, "zero" for a
// softmax). Cephes' expf: exp(x) = 2^n exp(r), n = round(x / ln 2), |r| <= ln 2 / 2, with a
// degree-6 polynomial for exp(r). Relative error about 2e-7.
GPTFORGE_INLINE void exp_in_place(float* x, int64_t count) {
  for (int64_t i = 0; i < count; ++i) {
    float v = x[i] < -87.0f ? -87.0f : (x[i] > 88.0f ? 88.0f : x[i]);
    // round(v * log2(e)) by truncation of a positive number: v * log2(e) > -126.
    const int32_t n = static_cast<int32_t>(v * 1.44269504088896341f + 128.5f) - 128;
    const float fn = static_cast<float>(n);
    const float r = v - fn * 0.693359375f - fn * -2.12194440e-4f;
    const float z = r * r;
    float y = 1.9875691500e-4f;
    y = y * r + 1.3981999507e-3f;
    y = y * r + 8.3334519073e-3f;
    y = y * r + 4.1665795894e-2f;
    y = y * r + 1.6666665459e-1f;
    y = y * r + 5.0000001201e-1f;
    y = y * z + r + 1.0f;
    const uint32_t bits = static_cast<uint32_t>(n + 127) << 23;  // 2^n, n in [-126, 127]
    float scale;
    std::memcpy(&scale, &bits, sizeof scale);
    x[i] = y * scale;
  }
}

}  // namespace gptforge
