// The model on a CUDA device against the same model on the CPU. Every test skips where LibTorch sees
// no GPU (CI, the lanes): they run on a GPU machine (scripts/gpu_check.sh), where they check that the
// CUDA paths (fused attention, KV and slot caches, bf16 autocast) compute what the CPU does.
#include <gtest/gtest.h>

#include "model/gpt.h"
#include "model/loss.h"
#include "model/slot_kv_cache.h"
#include "model_test_helpers.h"
#include "train/precision.h"

namespace cuda_test {

using namespace gptforge;
using gptforge::testing::max_abs_diff;
using gptforge::testing::random_tokens;
using gptforge::testing::tiny_config;
using gptforge::testing::tiny_llama_config;

namespace {

#define SKIP_WITHOUT_CUDA() \
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device"

const torch::Device kCuda(torch::kCUDA, 0);

// The variants whose attention and positions take different code paths: GPT-2 (learned positions,
// MHA), Llama (RoPE, RMSNorm, SwiGLU) with GQA, and MQA with sinusoidal positions.
std::vector<ModelConfig> variants() {
  ModelConfig gqa = tiny_llama_config();
  gqa.n_kv_head = 2;
  ModelConfig mqa = tiny_config();
  mqa.position = "sinusoidal";
  mqa.n_kv_head = 1;
  return {tiny_config(), gqa, mqa};
}

// A CPU model and a copy of it on the GPU, same weights.
std::pair<GPT, GPT> cpu_and_cuda(const ModelConfig& cfg, uint64_t seed) {
  torch::manual_seed(seed);
  GPT cpu(cfg);
  torch::manual_seed(seed);
  GPT gpu(cfg);
  gpu->to(kCuda);
  return {cpu, gpu};
}

}  // namespace

TEST(Cuda, ForwardAndGradientsMatchTheCpu) {
  SKIP_WITHOUT_CUDA();
  // TF32 would round the GPU's f32 products to 10 mantissa bits; the default is off, and stays so.
  at::globalContext().setAllowTF32CuBLAS(false);
  for (const ModelConfig& cfg : variants()) {
    auto [cpu, gpu] = cpu_and_cuda(cfg, 40);
    auto idx = random_tokens(32, 3, 16), targets = random_tokens(32, 3, 16);
    auto want = cpu(idx);
    auto got = gpu(idx.to(kCuda));
    EXPECT_LT(max_abs_diff(got.cpu(), want), 1e-4) << cfg.family << " kv " << cfg.n_kv_head;
    lm_loss(want, targets).backward();
    lm_loss(got, targets.to(kCuda)).backward();
    auto cpu_params = cpu->named_parameters(), gpu_params = gpu->named_parameters();
    for (const auto& p : cpu_params) {
      const auto& g = gpu_params[p.key()].grad();
      ASSERT_TRUE(g.defined()) << p.key();
      EXPECT_LT(max_abs_diff(g.cpu(), p.value().grad()), 1e-4) << cfg.family << " " << p.key();
    }
  }
}

TEST(Cuda, CachedDecodingMatchesTheFullForward) {
  SKIP_WITHOUT_CUDA();
  for (const ModelConfig& cfg : variants()) {
    auto [cpu, gpu] = cpu_and_cuda(cfg, 41);
    gpu->eval();
    auto idx = random_tokens(32, 2, 16).to(kCuda);
    auto want = gpu(idx);
    KVCache cache = gpu->make_cache(2);
    std::vector<torch::Tensor> parts = {gpu->forward_cached(idx.narrow(1, 0, 7), cache)};
    for (int64_t t = 7; t < 16; ++t) parts.push_back(gpu->forward_cached(idx.narrow(1, t, 1), cache));
    EXPECT_LT(max_abs_diff(torch::cat(parts, 1).cpu(), want.cpu()), 1e-4) << cfg.family;

    // The server's slots: row b continues slot b at its own length.
    SlotKVCache slots = gpu->make_slot_cache(2);
    KVCache one = gpu->make_cache(1);
    gpu->forward_cached(idx.narrow(0, 0, 1).narrow(1, 0, 5), one);
    for (int64_t t = 0; t < 5; ++t) gpu->forward_slots(idx.narrow(0, 0, 1).narrow(1, t, 1), slots);
    auto slot_logits = gpu->forward_slots(idx.narrow(0, 0, 1).narrow(1, 5, 1), slots);
    auto cache_logits = gpu->forward_cached(idx.narrow(0, 0, 1).narrow(1, 5, 1), one);
    EXPECT_LT(max_abs_diff(slot_logits.cpu(), cache_logits.cpu()), 1e-4) << cfg.family;
  }
}

TEST(Cuda, Bfloat16AutocastTrainsAndStaysCloseToF32) {
  SKIP_WITHOUT_CUDA();
  for (const ModelConfig& cfg : variants()) {
    auto [cpu, gpu] = cpu_and_cuda(cfg, 42);
    auto data = random_tokens(32, 4, 17).to(kCuda);
    auto x = data.narrow(1, 0, 16), y = data.narrow(1, 1, 16);
    auto f32 = gpu(x);
    torch::optim::AdamW opt(gpu->parameters(), torch::optim::AdamWOptions(1e-2));
    double first = 0, last = 0;
    for (int step = 0; step < 60; ++step) {
      opt.zero_grad();
      torch::Tensor loss;
      {
        AutocastGuard autocast(kCuda, "bf16");  // what train.precision=bf16 runs under
        auto logits = gpu(x);
        if (step == 0) {
          EXPECT_EQ(logits.scalar_type(), torch::kBFloat16);
          EXPECT_LT(max_abs_diff(logits.cpu(), f32.cpu()), 0.05) << cfg.family;
        }
        loss = lm_loss(logits, y);
      }
      EXPECT_EQ(loss.scalar_type(), torch::kFloat);
      loss.backward();
      opt.step();
      (step == 0 ? first : last) = loss.item<double>();
    }
    EXPECT_TRUE(torch::isfinite(gpu->wte->weight).all().item<bool>());
    EXPECT_LT(last, first * 0.5) << cfg.family;
  }
}

}  // namespace cuda_test
