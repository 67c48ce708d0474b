#include "export/tensor_mapping.h"

#include <gtest/gtest.h>

#include "export_test_helpers.h"
#include "model/rope.h"
#include "util/errors.h"

namespace tensor_mapping_test {

using namespace gptforge;
using namespace gptforge::testing;

namespace {

std::string expressible_error(const std::vector<std::string>& overrides, const std::string& format) {
  Config cfg = tiny_export_config(overrides);
  try {
    expressible_family(cfg.model, format);
  } catch (const CheckpointError& e) {
    return e.what();
  }
  return "";
}

// llama.cpp's NORM RoPE: neighbouring pairs (2i, 2i+1) rotate by pos * theta^(-2i/d).
torch::Tensor rope_interleaved(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) {
  auto pairs = x.reshape({x.size(0), x.size(1) / 2, 2});  // (T, d/2, 2)
  auto a = pairs.select(2, 0), b = pairs.select(2, 1);
  return torch::stack({a * cos - b * sin, b * cos + a * sin}, 2).reshape(x.sizes());
}

}  // namespace

TEST(TensorMapping, RopePermutationMovesHalvesToNeighbouringPairs) {
  // One head of 4 rows: halves (0, 2) and (1, 3) become pairs (0, 1) and (2, 3).
  auto w = torch::arange(8, torch::kFloat).reshape({4, 2});
  auto p = rope_halves_to_pairs(w, 1);
  EXPECT_TRUE(torch::equal(p.select(1, 0), torch::tensor({0.f, 4.f, 2.f, 6.f})));
  // Two heads of 4: each head permuted on its own.
  auto w2 = torch::arange(8, torch::kFloat).reshape({8, 1});
  EXPECT_TRUE(torch::equal(rope_halves_to_pairs(w2, 2).flatten(),
                           torch::tensor({0.f, 2.f, 1.f, 3.f, 4.f, 6.f, 5.f, 7.f})));
  auto r = torch::randn({24, 5});
  EXPECT_TRUE(torch::equal(rope_pairs_to_halves(rope_halves_to_pairs(r, 3), 3), r));
}

TEST(TensorMapping, PermutedWeightsUnderInterleavedRopeGiveTheSameAttentionScores) {
  // gptforge: q = rope_halves(Wq x); llama.cpp: q' = rope_pairs(P(Wq) x). Scores q.k must agree.
  const int64_t heads = 2, hd = 8, c = 16, T = 6;
  torch::manual_seed(3);
  auto wq = torch::randn({heads * hd, c}), wk = torch::randn({heads * hd, c}), x = torch::randn({T, c});
  auto tables = rope_tables(T, hd, 10000.0);
  auto per_head = [&](const torch::Tensor& y) { return y.reshape({T, heads, hd}).transpose(0, 1); };  // (H, T, hd)
  auto q = apply_rope(per_head(torch::matmul(x, wq.t())), tables.cos, tables.sin);
  auto k = apply_rope(per_head(torch::matmul(x, wk.t())), tables.cos, tables.sin);
  auto qp = per_head(torch::matmul(x, rope_halves_to_pairs(wq, heads).t()));
  auto kp = per_head(torch::matmul(x, rope_halves_to_pairs(wk, heads).t()));
  std::vector<torch::Tensor> qs, ks;
  for (int64_t h = 0; h < heads; ++h) {
    qs.push_back(rope_interleaved(qp[h], tables.cos, tables.sin));
    ks.push_back(rope_interleaved(kp[h], tables.cos, tables.sin));
  }
  auto scores = torch::matmul(q, k.transpose(1, 2));
  auto scores_p = torch::matmul(torch::stack(qs), torch::stack(ks).transpose(1, 2));
  EXPECT_LT((scores - scores_p).abs().max().item<double>(), 1e-4);
}

TEST(TensorMapping, Gpt2TensorsUseConv1DLayoutAndFusedQkv) {
  Config cfg = tiny_export_config(gpt2_overrides());
  GPT model = tiny_model(cfg.model);
  NamedTensors p = model_tensors(*model);
  NamedTensors hf = gptforge_to_hf(cfg.model, Family::Gpt2, p);
  const int64_t c = 32, f = 128;
  const auto& qkv = *find_tensor(hf, "transformer.h.1.attn.c_attn.weight");
  ASSERT_EQ(qkv.sizes(), (std::vector<int64_t>{c, 3 * c}));
  EXPECT_TRUE(torch::equal(qkv.narrow(1, 0, c), model->named_parameters()["h.1.attn.q_proj.weight"].t()));
  EXPECT_TRUE(torch::equal(qkv.narrow(1, c, c), model->named_parameters()["h.1.attn.k_proj.weight"].t()));
  EXPECT_TRUE(torch::equal(qkv.narrow(1, 2 * c, c), model->named_parameters()["h.1.attn.v_proj.weight"].t()));
  const auto& qkv_b = *find_tensor(hf, "transformer.h.1.attn.c_attn.bias");
  EXPECT_TRUE(torch::equal(qkv_b.narrow(0, 2 * c, c), model->named_parameters()["h.1.attn.v_proj.bias"]));
  EXPECT_EQ(find_tensor(hf, "transformer.h.0.mlp.c_fc.weight")->sizes(), (std::vector<int64_t>{c, f}));
  EXPECT_EQ(find_tensor(hf, "transformer.h.0.mlp.c_proj.weight")->sizes(), (std::vector<int64_t>{f, c}));
  EXPECT_EQ(find_tensor(hf, "lm_head.weight"), nullptr);  // tied, as transformers saves GPT-2
  EXPECT_EQ(hf.size(), 2u + 2 * 12 + 2);
  NamedTensors back = hf_to_gptforge(cfg.model, Family::Gpt2, hf, "test");
  ASSERT_EQ(back.size(), p.size());
  for (const auto& [n, t] : p) EXPECT_TRUE(torch::equal(*find_tensor(back, n), t)) << n;
}

TEST(TensorMapping, LlamaTensorsKeepTheirLayoutAndRoundTrip) {
  Config cfg = tiny_export_config(llama_overrides());
  GPT model = tiny_model(cfg.model);
  NamedTensors p = model_tensors(*model);
  NamedTensors hf = gptforge_to_hf(cfg.model, Family::Llama, p);
  EXPECT_EQ(find_tensor(hf, "model.layers.0.self_attn.k_proj.weight")->sizes(), (std::vector<int64_t>{16, 32}));
  EXPECT_EQ(find_tensor(hf, "model.layers.1.mlp.down_proj.weight")->sizes(),
            (std::vector<int64_t>{32, cfg.model.hidden_size()}));
  EXPECT_NE(find_tensor(hf, "lm_head.weight"), nullptr);
  EXPECT_EQ(hf.size(), 1u + 2 * 9 + 2);
  NamedTensors back = hf_to_gptforge(cfg.model, Family::Llama, hf, "test");
  for (const auto& [n, t] : p) EXPECT_TRUE(torch::equal(*find_tensor(back, n), t)) << n;
  // An HF tensor with no place in the model is an error naming it.
  hf.emplace_back("model.layers.0.self_attn.q_proj.bias", torch::zeros({32}));
  try {
    hf_to_gptforge(cfg.model, Family::Llama, hf, "dir");
    FAIL() << "expected a DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("q_proj.bias"), std::string::npos) << e.what();
  }
}

TEST(TensorMapping, GgufTensorsArePermutedAndUnpermuteExactly) {
  Config cfg = tiny_export_config(llama_overrides());
  GPT model = tiny_model(cfg.model);
  NamedTensors p = model_tensors(*model);
  NamedTensors g = gptforge_to_gguf(cfg.model, Family::Llama, p);
  EXPECT_NE(find_tensor(g, "output.weight"), nullptr);
  EXPECT_TRUE(torch::equal(*find_tensor(g, "blk.0.attn_k.weight"),
                           rope_halves_to_pairs(model->named_parameters()["h.0.attn.k_proj.weight"], 2)));
  NamedTensors back = gguf_to_gptforge(cfg.model, Family::Llama, g);
  for (const auto& [n, t] : p) EXPECT_TRUE(torch::equal(*find_tensor(back, n), t)) << n;
  Config tied = tiny_export_config(llama_tied_overrides());
  GPT tied_model = tiny_model(tied.model);
  EXPECT_EQ(find_tensor(gptforge_to_gguf(tied.model, Family::Llama, model_tensors(*tied_model)), "output.weight"),
            nullptr);
}

TEST(TensorMapping, Gpt2GgufTensorsFuseQkvInLinearLayoutAndRoundTrip) {
  Config cfg = tiny_export_config(gpt2_overrides());
  GPT model = tiny_model(cfg.model);
  NamedTensors p = model_tensors(*model);
  NamedTensors g = gptforge_to_gguf(cfg.model, Family::Gpt2, p);
  EXPECT_EQ(g.size(), 2u + 2 * 12 + 2);  // no output.weight: tied
  const auto& qkv = *find_tensor(g, "blk.0.attn_qkv.weight");
  ASSERT_EQ(qkv.sizes(), (std::vector<int64_t>{96, 32}));  // (out, in): GGUF dims {32, 96}
  EXPECT_TRUE(torch::equal(qkv.narrow(0, 32, 32), model->named_parameters()["h.0.attn.k_proj.weight"]));
  EXPECT_TRUE(torch::equal(*find_tensor(g, "blk.1.ffn_up.weight"), model->named_parameters()["h.1.mlp.fc.weight"]));
  NamedTensors back = gguf_to_gptforge(cfg.model, Family::Gpt2, g);
  ASSERT_EQ(back.size(), p.size());
  for (const auto& [n, t] : p) EXPECT_TRUE(torch::equal(*find_tensor(back, n), t)) << n;
}

TEST(TensorMapping, ModelsNoFamilyExpressesAreRefusedNamingTheKeys) {
  EXPECT_EQ(expressible_error({"model.family=custom", "model.position=sinusoidal"}, "hf"),
            "hf export needs model.position=learned (gpt2) or rope (llama); this model has sinusoidal");
  std::string relu2 = expressible_error({"model.family=gpt2", "model.activation=relu2"}, "hf");
  EXPECT_NE(relu2.find("model.activation=gelu"), std::string::npos) << relu2;
  EXPECT_NE(relu2.find("this model has model.activation=relu2"), std::string::npos) << relu2;
  std::string gqa = expressible_error({"model.family=gpt2", "model.n_kv_head=2"}, "hf");
  EXPECT_NE(gqa.find("model.n_kv_head=2"), std::string::npos) << gqa;
  std::string ln = expressible_error({"model.family=llama", "model.norm=layernorm"}, "hf");
  EXPECT_NE(ln.find("this model has model.norm=layernorm"), std::string::npos) << ln;
  EXPECT_EQ(expressible_error({"model.family=custom", "model.position=none"}, "gguf"),
            "gguf export needs model.position=learned (gpt2) or rope (llama); this model has none");
  std::string swiglu = expressible_error({"model.family=gpt2", "model.activation=swiglu"}, "gguf");
  EXPECT_NE(swiglu.find("gguf export maps a model.position=learned model to GPT-2"), std::string::npos) << swiglu;
  EXPECT_EQ(expressible_error(llama_overrides(), "gguf"), "");
  EXPECT_EQ(expressible_error(gpt2_overrides(), "gguf"), "");
  EXPECT_EQ(expressible_error(gpt2_overrides(), "hf"), "");
}

}  // namespace tensor_mapping_test
