#include "model/attention.h"

#include <gtest/gtest.h>

#include "model/gpt.h"
#include "model/rope.h"
#include "model_test_helpers.h"

namespace attention_test {

using namespace gptforge;
using gptforge::testing::max_abs_diff;
using gptforge::testing::random_tokens;
using gptforge::testing::tiny_config;

namespace {

// Bool (n, n) buffer like GPT's causal_mask: true above the diagonal.
torch::Tensor mask_buffer(int64_t n) { return torch::ones({n, n}, torch::kBool).triu(1); }

}  // namespace

TEST(Attention, KernelsMatchReferenceForMhaGqaMqaWithAndWithoutPrefix) {
  torch::manual_seed(0);
  struct Case {
    int64_t kv_heads, t, s;
  };
  // (kv heads, new queries, keys): full causal, a cached prefix with several new tokens, one token;
  // 70 queries take causal_attention's blocked path on LibTorch 1.x.
  for (Case c : {Case{4, 7, 7}, Case{2, 7, 7}, Case{1, 7, 7}, Case{2, 3, 10}, Case{4, 1, 9}, Case{1, 4, 12},
                 Case{4, 70, 70}, Case{2, 70, 70}}) {
    auto q = torch::randn({2, 4, c.t, 8});
    auto k = torch::randn({2, c.kv_heads, c.s, 8});
    auto v = torch::randn({2, c.kv_heads, c.s, 8});
    auto want = attention_reference(q, k, v);
    SCOPED_TRACE("kv_heads=" + std::to_string(c.kv_heads) + " T=" + std::to_string(c.t) + " S=" + std::to_string(c.s));
    EXPECT_LT(max_abs_diff(causal_attention(q, k, v, mask_buffer(80), 0.0), want), 1e-5) << attention_kernel_name();
    EXPECT_LT(max_abs_diff(causal_attention_explicit(q, k, v, mask_buffer(80), 0.0), want), 1e-5);
    // Blocks of 2 queries after a cached prefix too.
    EXPECT_LT(max_abs_diff(causal_attention_blocked(q, k, v, mask_buffer(80), 0.0, 2), want), 1e-5);
    // Without a buffer the mask is built per call.
    EXPECT_LT(max_abs_diff(causal_attention(q, k, v, torch::Tensor(), 0.0), want), 1e-5);
    torch::Tensor probs;
    causal_attention_explicit(q, k, v, mask_buffer(80), 0.0, &probs);
    EXPECT_EQ(probs.sizes(), (torch::IntArrayRef{2, 4, c.t, c.s}));
  }
}

TEST(Attention, BlockedKernelMatchesExplicitInValuesAndGradients) {
  // Blocks that divide T and blocks that leave a short last one, one block, MHA/GQA/MQA.
  torch::manual_seed(2);
  for (int64_t kv_heads : {4, 2, 1}) {
    for (int64_t block : {1, 3, 4, 16}) {
      SCOPED_TRACE("kv_heads=" + std::to_string(kv_heads) + " block=" + std::to_string(block));
      auto q = torch::randn({2, 4, 12, 8}, torch::requires_grad());
      auto k = torch::randn({2, kv_heads, 12, 8}, torch::requires_grad());
      auto v = torch::randn({2, kv_heads, 12, 8}, torch::requires_grad());
      auto w = torch::randn({2, 4, 12, 8});  // a loss that weighs every output differently
      auto explicit_out = causal_attention_explicit(q, k, v, mask_buffer(16), 0.0);
      auto grads_explicit = torch::autograd::grad({(explicit_out * w).sum()}, {q, k, v});
      auto blocked_out = causal_attention_blocked(q, k, v, mask_buffer(16), 0.0, block);
      auto grads_blocked = torch::autograd::grad({(blocked_out * w).sum()}, {q, k, v});
      EXPECT_LT(max_abs_diff(blocked_out, explicit_out), 1e-5);
      EXPECT_LT(max_abs_diff(blocked_out, attention_reference(q, k, v)), 1e-5);
      for (size_t i = 0; i < 3; ++i) EXPECT_LT(max_abs_diff(grads_blocked[i], grads_explicit[i]), 1e-5) << "grad " << i;
    }
  }
}

TEST(Attention, ReferenceIsCausalAndSeesOnlyThePast) {
  // With v = one-hot of the key position, the output row of query i is its attention distribution:
  // non-zero only on keys 0..i.
  torch::manual_seed(1);
  auto q = torch::randn({1, 1, 5, 5});
  auto k = torch::randn({1, 1, 5, 5});
  auto v = torch::eye(5).view({1, 1, 5, 5});
  auto out = causal_attention(q, k, v, mask_buffer(8), 0.0)[0][0];
  EXPECT_LT(max_abs_diff(out.triu(1), torch::zeros({5, 5})), 1e-7);
  EXPECT_LT(max_abs_diff(out.sum(-1), torch::ones({5})), 1e-6);
  EXPECT_NEAR(out[0][0].item<double>(), 1.0, 1e-6);
}

TEST(Attention, GqaEqualsMultiHeadWithRepeatedKvWeights) {
  // A GQA model with 2 kv heads for 4 query heads computes what a multi-head model does when its
  // k/v projections repeat each kv head's rows for the 2 query heads of its group (HF repeat_kv).
  for (const char* position : {"learned", "rope"}) {
    ModelConfig gqa_cfg = tiny_config();
    gqa_cfg.position = position;
    gqa_cfg.n_kv_head = 2;
    ModelConfig mha_cfg = gqa_cfg;
    mha_cfg.n_kv_head = 4;
    torch::manual_seed(2);
    GPT gqa(gqa_cfg);
    GPT mha(mha_cfg);
    {
      torch::NoGradGuard no_grad;
      auto src = gqa->named_parameters();
      for (auto& p : mha->named_parameters()) {
        const auto& from = src[p.key()];
        if (p.value().sizes() == from.sizes()) {
          p.value().copy_(from);
        } else {  // k/v projection: (2*hd, C) -> (4*hd, C), each head's rows twice
          const int64_t hd = gqa_cfg.head_dim();
          auto heads = from.view({2, hd, -1});
          p.value().copy_(heads.repeat_interleave(2, 0).reshape(p.value().sizes()));
        }
      }
    }
    gqa->eval();
    mha->eval();
    auto idx = random_tokens(32, 2, 12);
    EXPECT_LT(max_abs_diff(gqa(idx), mha(idx)), 1e-5) << position;
  }
}

TEST(Attention, KvHeadsEqualToHeadsIsPlainMultiHead) {
  ModelConfig plain = tiny_config();  // n_kv_head = 0: n_head
  ModelConfig explicit_kv = plain;
  explicit_kv.n_kv_head = plain.n_head;
  torch::manual_seed(3);
  GPT a(plain);
  torch::manual_seed(3);
  GPT b(explicit_kv);
  auto idx = random_tokens(32, 2, 10);
  EXPECT_EQ(max_abs_diff(a(idx), b(idx)), 0.0);
}

TEST(Attention, MultiQueryAndGroupedQueryModelsRun) {
  for (int64_t kv : {1, 2}) {
    ModelConfig cfg = tiny_config();
    cfg.n_kv_head = kv;
    torch::manual_seed(4);
    GPT model(cfg);
    EXPECT_EQ(model->named_parameters()["h.0.attn.k_proj.weight"].sizes(), (torch::IntArrayRef{kv * 8, 32}));
    auto logits = model(random_tokens(32, 3, 16));
    EXPECT_EQ(logits.sizes(), (torch::IntArrayRef{3, 16, 32}));
    EXPECT_TRUE(torch::isfinite(logits).all().item<bool>());
  }
}

TEST(Attention, ModelKernelPathEqualsExplicitPath) {
  // forward() uses causal_attention; forward_inspect(attention=true) the explicit matmul path.
  for (const char* position : {"learned", "rope"}) {
    ModelConfig cfg = tiny_config();
    cfg.position = position;
    cfg.n_kv_head = 2;
    torch::manual_seed(5);
    GPT model(cfg);
    auto idx = random_tokens(32, 2, 16);
    EXPECT_LT(max_abs_diff(model(idx), model->forward_inspect(idx, false, true).logits), 1e-5) << position;
  }
}

// q, k and v from one product through the three weights side by side (attention.h) against three
// products: the same output and the same gradients of x and of every weight and bias, for
// multi-head and grouped-query attention, with and without biases; and the rule of when it is used.
TEST(Attention, QkvAsOneProductEqualsThreeInValuesAndGradients) {
  struct Case {
    const char* name;
    bool bias;
    int64_t kv_heads;
  };
  for (const Case& c : {Case{"mha, biases", true, 0}, Case{"gqa, biases", true, 2}, Case{"mqa, no biases", false, 1}}) {
    SCOPED_TRACE(c.name);
    ModelConfig cfg = tiny_config();
    cfg.bias = c.bias;
    cfg.n_kv_head = c.kv_heads;
    torch::manual_seed(21);
    Attention attn(cfg, 0);
    AttentionInputs in;
    in.causal_mask = mask_buffer(16);
    auto x0 = torch::randn({3, 16, 32});
    auto run = [&](bool at_once) {
      const bool was = set_fused_qkv_enabled(at_once);
      attn->zero_grad();
      auto x = x0.clone().requires_grad_(true);
      EXPECT_EQ(attn->projects_qkv_at_once(x), at_once);
      auto y = attn->forward(x, in);
      (y * torch::cos(torch::arange(y.numel()).view(y.sizes()).to(torch::kFloat))).sum().backward();
      set_fused_qkv_enabled(was);
      std::vector<torch::Tensor> out = {y.detach(), x.grad()};
      for (const auto& p : attn->parameters()) out.push_back(p.grad().clone());
      return out;
    };
    auto one = run(true), three = run(false);
    ASSERT_EQ(one.size(), three.size());
    for (size_t i = 0; i < one.size(); ++i) EXPECT_LT(max_abs_diff(one[i], three[i]), 1e-5) << "tensor " << i;
  }
  // Not for fewer rows than the width (decoding), nor with an adapter on q, k or v.
  ModelConfig cfg = tiny_config();
  Attention attn(cfg, 0);
  const bool was = set_fused_qkv_enabled(true);
  EXPECT_TRUE(attn->projects_qkv_at_once(torch::randn({2, 16, 32})));
  EXPECT_FALSE(attn->projects_qkv_at_once(torch::randn({1, 31, 32})));
  LoraConfig lora;
  lora.rank = 2;
  lora.targets = {"v"};
  attn->add_lora(lora);
  EXPECT_FALSE(attn->projects_qkv_at_once(torch::randn({2, 16, 32})));
  set_fused_qkv_enabled(was);
}

TEST(Rope, ScoresDependOnlyOnRelativePosition) {
  torch::manual_seed(6);
  const int64_t hd = 16;
  auto tables = rope_tables(64, hd, 10000.0);
  auto q = torch::randn({hd});
  auto k = torch::randn({hd});
  // q at position i, k at position j: rotate each with its position's row of the tables.
  auto score = [&](int64_t i, int64_t j) {
    auto qi = apply_rope(q.view({1, hd}), tables.cos.narrow(0, i, 1), tables.sin.narrow(0, i, 1));
    auto kj = apply_rope(k.view({1, hd}), tables.cos.narrow(0, j, 1), tables.sin.narrow(0, j, 1));
    return (qi * kj).sum().item<double>();
  };
  for (int64_t s : {1, 7, 30}) {
    EXPECT_NEAR(score(5, 2), score(5 + s, 2 + s), 1e-4);
    EXPECT_NEAR(score(3, 3), score(3 + s, 3 + s), 1e-4);
  }
  EXPECT_GT(std::abs(score(5, 2) - score(5, 4)), 1e-3);  // but it does depend on the distance
}

TEST(Rope, MatchesHuggingFaceRotateHalf) {
  torch::manual_seed(7);
  const int64_t hd = 8, t = 5;
  const double theta = 500.0;
  auto x = torch::randn({2, 3, t, hd}, torch::kDouble);
  auto tables = rope_tables(t, hd, theta);
  // HF: inv_freq = theta^(-arange(0, d, 2)/d); emb = cat(freqs, freqs); x*cos + rotate_half(x)*sin.
  auto inv_freq = torch::pow(theta, -torch::arange(0, hd, 2, torch::kDouble) / double(hd));
  auto freqs = torch::outer(torch::arange(t, torch::kDouble), inv_freq);
  auto emb = torch::cat({freqs, freqs}, -1);
  auto rotate_half = torch::cat({-x.narrow(-1, hd / 2, hd / 2), x.narrow(-1, 0, hd / 2)}, -1);
  auto want = x * emb.cos() + rotate_half * emb.sin();
  EXPECT_LT(max_abs_diff(apply_rope(x, tables.cos, tables.sin), want), 1e-6);
  // Position 0 is the identity.
  EXPECT_LT(max_abs_diff(apply_rope(x, tables.cos, tables.sin).narrow(2, 0, 1), x.narrow(2, 0, 1)), 1e-12);
}

}  // namespace attention_test
