#include "model/kv_cache.h"

#include <gtest/gtest.h>

#include "model/gpt.h"
#include "model_test_helpers.h"
#include "util/errors.h"

namespace kv_cache_test {

using namespace gptforge;
using gptforge::testing::max_abs_diff;
using gptforge::testing::random_tokens;
using gptforge::testing::tiny_config;

TEST(KvCache, DecodingMatchesFullForwardForEveryVariant) {
  // Every position type x {multi-head, grouped-query} x norm: prefill 5 tokens, then 3 at once
  // after the prefix, then one at a time to the full context. Each chunk's logits must equal the
  // same rows of one full forward pass.
  for (const char* position : {"learned", "sinusoidal", "rope", "none"}) {
    for (int64_t kv : {4, 2}) {
      for (const char* norm : {"layernorm", "rmsnorm"}) {
        ModelConfig cfg = tiny_config();
        cfg.position = position;
        cfg.n_kv_head = kv;
        cfg.norm = norm;
        torch::manual_seed(10);
        GPT model(cfg);
        model->eval();
        auto idx = random_tokens(cfg.vocab_size, 2, cfg.block_size);
        torch::Tensor full;
        {
          torch::NoGradGuard no_grad;
          full = model(idx);
        }
        KVCache cache = model->make_cache(2);
        std::vector<torch::Tensor> parts;
        int64_t pos = 0;
        for (int64_t chunk : {5, 3}) {
          parts.push_back(model->forward_cached(idx.narrow(1, pos, chunk), cache));
          pos += chunk;
        }
        for (; pos < cfg.block_size; ++pos) parts.push_back(model->forward_cached(idx.narrow(1, pos, 1), cache));
        EXPECT_EQ(cache.length(), cfg.block_size);
        double diff = max_abs_diff(torch::cat(parts, 1), full);
        EXPECT_LT(diff, 1e-4) << position << " kv=" << kv << " " << norm;
      }
    }
  }
}

TEST(KvCache, ThrowsClearErrorWhenFull) {
  torch::manual_seed(11);
  GPT model(tiny_config());
  KVCache cache = model->make_cache(1);
  model->forward_cached(random_tokens(32, 1, 16), cache);
  try {
    model->forward_cached(random_tokens(32, 1, 1), cache);
    FAIL() << "no error";
  } catch (const RunError& e) {
    EXPECT_NE(std::string(e.what()).find("block_size"), std::string::npos) << e.what();
  }
  EXPECT_EQ(cache.length(), 16);  // a refused call changes nothing
  KVCache small = model->make_cache(1);
  EXPECT_THROW(model->forward_cached(random_tokens(32, 1, 17), small), RunError);
  EXPECT_THROW(model->forward_cached(random_tokens(32, 2, 1), small), RunError);  // wrong batch
}

TEST(KvCache, TruncateRewindsAndResetStartsOver) {
  ModelConfig cfg = tiny_config();
  cfg.position = "rope";
  torch::manual_seed(12);
  GPT model(cfg);
  model->eval();
  auto a = random_tokens(32, 1, 10);
  auto b = random_tokens(32, 1, 4);
  KVCache cache = model->make_cache(1);
  model->forward_cached(a, cache);
  cache.truncate(6);  // keep a[:6], then continue with b
  EXPECT_EQ(cache.length(), 6);
  auto got = model->forward_cached(b, cache);
  torch::NoGradGuard no_grad;
  auto want = model(torch::cat({a.narrow(1, 0, 6), b}, 1)).narrow(1, 6, 4);
  EXPECT_LT(max_abs_diff(got, want), 1e-4);
  EXPECT_THROW(cache.truncate(11), RunError);

  cache.reset();
  EXPECT_EQ(cache.length(), 0);
  EXPECT_LT(max_abs_diff(model->forward_cached(b, cache), model(b)), 1e-4);
}

TEST(KvCache, ReorderSelectsAndExpandsBatchRows) {
  ModelConfig cfg = tiny_config();
  cfg.n_kv_head = 2;
  torch::manual_seed(13);
  GPT model(cfg);
  model->eval();
  auto prompt = random_tokens(32, 2, 6);
  auto next = random_tokens(32, 3, 2);
  KVCache cache = model->make_cache(2);
  model->forward_cached(prompt, cache);
  auto order = torch::tensor({1, 1, 0}, torch::kLong);
  cache.reorder(order);  // beams: row 1 twice, then row 0
  EXPECT_EQ(cache.batch(), 3);
  auto got = model->forward_cached(next, cache);
  torch::NoGradGuard no_grad;
  auto want = model(torch::cat({prompt.index_select(0, order), next}, 1)).narrow(1, 6, 2);
  EXPECT_LT(max_abs_diff(got, want), 1e-4);
}

}  // namespace kv_cache_test
