#include "model/gpt.h"

#include <ATen/autocast_mode.h>
#include <gtest/gtest.h>
#include <torch/version.h>

#include <set>
#include <sstream>

#include "model_test_helpers.h"
#include "util/errors.h"

namespace gpt_test {

using namespace gptforge;
using gptforge::testing::max_abs_diff;
using gptforge::testing::random_tokens;
using gptforge::testing::tiny_config;
using gptforge::testing::tiny_llama_config;

namespace {

std::set<std::string> parameter_names(GPT& model) {
  std::set<std::string> names;
  for (const auto& p : model->named_parameters()) names.insert(p.key());
  return names;
}

// bf16 autocast on the CPU for the guard's lifetime: fp32 weights, bf16 matmuls, as CUDA training runs.
class CpuAutocast {
 public:
  CpuAutocast() { set(true); }
  ~CpuAutocast() {
    set(false);
    at::autocast::clear_cache();
  }

 private:
  static void set(bool on) {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    at::autocast::set_autocast_dtype(at::kCPU, at::kBFloat16);
    at::autocast::set_autocast_enabled(at::kCPU, on);
#else
    at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
    at::autocast::set_cpu_enabled(on);
#endif
  }
};

}  // namespace

TEST(Model, Gpt2StyleParameterNames) {
  ModelConfig cfg = tiny_config();
  cfg.n_layer = 1;
  GPT model(cfg);
  std::set<std::string> want = {"wte.weight", "wpe.weight", "ln_f.weight", "ln_f.bias"};
  for (const char* p : {"ln_1", "ln_2", "attn.q_proj", "attn.k_proj", "attn.v_proj", "attn.o_proj", "mlp.fc",
                        "mlp.proj"}) {
    want.insert(std::string("h.0.") + p + ".weight");
    want.insert(std::string("h.0.") + p + ".bias");
  }
  EXPECT_EQ(parameter_names(model), want);
  auto params = model->named_parameters();
  EXPECT_EQ(params["h.0.mlp.fc.weight"].sizes(), (torch::IntArrayRef{128, 32}));  // (out, in)
  EXPECT_EQ(params["wpe.weight"].sizes(), (torch::IntArrayRef{16, 32}));
}

TEST(Model, LlamaStyleParameterNames) {
  ModelConfig cfg = tiny_llama_config();
  cfg.n_layer = 1;
  cfg.n_kv_head = 2;
  GPT model(cfg);
  std::set<std::string> want = {"wte.weight", "ln_f.weight", "lm_head.weight"};
  for (const char* p : {"ln_1", "ln_2", "attn.q_proj", "attn.k_proj", "attn.v_proj", "attn.o_proj", "mlp.gate",
                        "mlp.up", "mlp.down"}) {
    want.insert(std::string("h.0.") + p + ".weight");
  }
  EXPECT_EQ(parameter_names(model), want);
  auto params = model->named_parameters();
  EXPECT_EQ(params["h.0.attn.k_proj.weight"].sizes(), (torch::IntArrayRef{16, 32}));
  EXPECT_EQ(params["h.0.mlp.gate.weight"].sizes(), (torch::IntArrayRef{cfg.hidden_size(), 32}));
  // Buffers are not parameters: the checkpoint saves named_parameters only.
  EXPECT_EQ(model->named_buffers().size(), 2u);  // rope_cos, rope_sin
}

TEST(Model, MissingVocabSizeIsAConfigError) {
  ModelConfig cfg = tiny_config();
  cfg.vocab_size = 0;
  EXPECT_THROW(GPT{cfg}, ConfigError);
}

TEST(Model, InputLongerThanBlockSizeThrows) {
  GPT model(tiny_config());
  try {
    model(random_tokens(32, 1, 17));
    FAIL() << "no error";
  } catch (const RunError& e) {
    EXPECT_NE(std::string(e.what()).find("model.block_size (16)"), std::string::npos) << e.what();
  }
  EXPECT_THROW(model(torch::zeros({16}, torch::kLong)), RunError);
}

TEST(Model, LaterTokensNeverChangeEarlierLogits) {
  for (const ModelConfig& cfg : {tiny_config(), tiny_llama_config()}) {
    torch::manual_seed(20);
    GPT model(cfg);
    auto idx = random_tokens(32, 2, 16);
    auto changed = idx.clone();
    changed.narrow(1, 9, 1).copy_((idx.narrow(1, 9, 1) + 1).remainder(32));  // another token at position 9
    auto a = model(idx), b = model(changed);
    EXPECT_EQ(max_abs_diff(a.narrow(1, 0, 9), b.narrow(1, 0, 9)), 0.0) << cfg.family;
    EXPECT_GT(max_abs_diff(a.narrow(1, 9, 7), b.narrow(1, 9, 7)), 1e-6) << cfg.family;
  }
}

TEST(Model, EveryParameterReceivesAGradient) {
  ModelConfig relu2 = tiny_config();
  relu2.activation = "relu2";
  relu2.position = "sinusoidal";
  relu2.tie_embeddings = false;
  for (const ModelConfig& cfg : {tiny_config(), tiny_llama_config(), relu2}) {
    torch::manual_seed(21);
    GPT model(cfg);
    auto idx = random_tokens(32, 2, 16);
    lm_loss(model(idx), random_tokens(32, 2, 16)).backward();
    for (const auto& p : model->named_parameters()) {
      ASSERT_TRUE(p.value().grad().defined()) << p.key();
      EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0.0) << cfg.family << " " << p.key();
    }
  }
}

TEST(Model, TinyModelOverfitsOneBatch) {
  ModelConfig cfg = tiny_llama_config();
  torch::manual_seed(22);
  GPT model(cfg);
  auto data = random_tokens(32, 4, 17);
  auto x = data.narrow(1, 0, 16), y = data.narrow(1, 1, 16);
  torch::optim::Adam opt(model->parameters(), torch::optim::AdamOptions(1e-2));
  double loss = 0;
  for (int step = 0; step < 300 && (step == 0 || loss > 0.02); ++step) {
    opt.zero_grad();
    auto l = lm_loss(model(x), y);
    l.backward();
    opt.step();
    loss = l.item<double>();
  }
  EXPECT_LT(loss, 0.05);
}

TEST(Model, InitFollowsGpt2) {
  ModelConfig cfg = tiny_config();
  cfg.d_model = 64;
  cfg.vocab_size = 512;
  cfg.n_layer = 2;
  cfg.init_std = 0.05;
  torch::manual_seed(23);
  GPT model(cfg);
  auto p = model->named_parameters();
  EXPECT_NEAR(p["wte.weight"].std().item<double>(), 0.05, 0.002);
  EXPECT_NEAR(p["h.0.attn.q_proj.weight"].std().item<double>(), 0.05, 0.003);
  EXPECT_NEAR(p["h.1.attn.o_proj.weight"].std().item<double>(), 0.025, 0.0015);  // 0.05 / sqrt(2 * 2)
  EXPECT_NEAR(p["h.1.mlp.proj.weight"].std().item<double>(), 0.025, 0.0015);
  EXPECT_EQ(p["h.0.attn.q_proj.bias"].abs().max().item<double>(), 0.0);
  EXPECT_EQ(p["h.0.ln_1.weight"].min().item<double>(), 1.0);
  EXPECT_EQ(p["ln_f.bias"].abs().max().item<double>(), 0.0);
  // Same seed, same model.
  torch::manual_seed(23);
  GPT again(cfg);
  EXPECT_EQ(max_abs_diff(again->named_parameters()["h.1.mlp.fc.weight"], p["h.1.mlp.fc.weight"]), 0.0);
}

TEST(Model, TiedHeadUsesTokenEmbedding) {
  GPT model(tiny_config());
  EXPECT_FALSE(model->lm_head);
  auto r = model->forward_inspect(random_tokens(32, 1, 8), true, false);
  auto manual = torch::matmul(model->ln_f(r.residuals.back()), model->wte->weight.t());
  EXPECT_LT(max_abs_diff(r.logits, manual), 1e-5);
}

TEST(Model, DropoutActsOnlyInTrainMode) {
  ModelConfig cfg = tiny_config();
  cfg.dropout = 0.3;
  torch::manual_seed(24);
  GPT model(cfg);
  auto idx = random_tokens(32, 2, 16);
  model->train();
  EXPECT_GT(max_abs_diff(model(idx), model(idx)), 1e-4);
  model->eval();
  EXPECT_EQ(max_abs_diff(model(idx), model(idx)), 0.0);
}

TEST(Model, SaveLoadRoundTripsExactly) {
  ModelConfig cfg = tiny_llama_config();
  torch::manual_seed(25);
  GPT a(cfg);
  torch::manual_seed(26);
  GPT b(cfg);
  std::stringstream stream;
  torch::save(a, stream);
  torch::load(b, stream);
  auto pb = b->named_parameters();
  for (const auto& p : a->named_parameters()) EXPECT_TRUE(torch::equal(p.value(), pb[p.key()])) << p.key();
  auto idx = random_tokens(32, 2, 16);
  EXPECT_EQ(max_abs_diff(a(idx), b(idx)), 0.0);
}

TEST(Model, RunsInBfloat16) {
  for (const ModelConfig& cfg : {tiny_config(), tiny_llama_config()}) {
    torch::manual_seed(27);
    GPT model(cfg);
    auto idx = random_tokens(32, 1, 16);
    auto want = model(idx);
    model->to(torch::kBFloat16);
    auto got = model(idx);
    EXPECT_EQ(got.scalar_type(), torch::kBFloat16);
    EXPECT_LT(max_abs_diff(got, want), 0.05) << cfg.family;
    KVCache cache = model->make_cache(1, torch::kFloat);  // an empty cache takes the activations' dtype
    EXPECT_LT(max_abs_diff(model->forward_cached(idx.narrow(1, 0, 10), cache), got.narrow(1, 0, 10)), 0.05);
    EXPECT_EQ(cache.keys(0).scalar_type(), torch::kBFloat16);
    EXPECT_LT(max_abs_diff(model->forward_cached(idx.narrow(1, 10, 6), cache), got.narrow(1, 10, 6)), 0.05);
  }
}

TEST(Model, RunsUnderBfloat16Autocast) {
  ModelConfig sinusoidal = tiny_config();
  sinusoidal.position = "sinusoidal";
  sinusoidal.n_kv_head = 2;
  for (const ModelConfig& cfg : {tiny_config(), tiny_llama_config(), sinusoidal}) {
    torch::manual_seed(28);
    GPT model(cfg);
    model->eval();
    auto idx = random_tokens(32, 2, 16);
    auto want = model(idx);
    CpuAutocast autocast;
    auto got = model(idx);
    EXPECT_EQ(got.scalar_type(), torch::kBFloat16);  // autocast is on
    EXPECT_LT(max_abs_diff(got, want), 0.05) << cfg.family;
    auto r = model->forward_inspect(idx, true, true);
    EXPECT_LT(max_abs_diff(r.logits, want), 0.05) << cfg.family;
    KVCache cache = model->make_cache(2);
    std::vector<torch::Tensor> parts = {model->forward_cached(idx.narrow(1, 0, 9), cache)};
    for (int64_t t = 9; t < 16; ++t) parts.push_back(model->forward_cached(idx.narrow(1, t, 1), cache));
    EXPECT_LT(max_abs_diff(torch::cat(parts, 1), want), 0.05) << cfg.family;
    auto loss = lm_loss(model(idx), idx);
    EXPECT_EQ(loss.scalar_type(), torch::kFloat);
    loss.backward();
    EXPECT_TRUE(torch::isfinite(model->wte->weight.grad()).all().item<bool>());
  }
}

TEST(ModelInspect, LensOfLastResidualEqualsLogits) {
  for (const ModelConfig& cfg : {tiny_config(), tiny_llama_config()}) {
    torch::manual_seed(30);
    GPT model(cfg);
    auto idx = random_tokens(32, 2, 12);
    auto r = model->forward_inspect(idx, true, false);
    ASSERT_EQ(r.residuals.size(), static_cast<size_t>(cfg.n_layer + 1));
    EXPECT_TRUE(r.attentions.empty());
    EXPECT_EQ(r.residuals[0].sizes(), (torch::IntArrayRef{2, 12, 32}));
    EXPECT_EQ(max_abs_diff(model->lens(r.residuals.back()), r.logits), 0.0);
    EXPECT_LT(max_abs_diff(r.logits, model(idx)), 1e-6);
    // residuals[0] is the embedding output.
    auto emb = model->wte(idx);
    if (model->wpe) emb = emb + model->wpe->weight.narrow(0, 0, 12);
    EXPECT_LT(max_abs_diff(r.residuals[0], emb), 1e-7);
  }
}

TEST(ModelInspect, AttentionRowsSumToOneAndAreCausal) {
  ModelConfig cfg = tiny_llama_config();
  cfg.n_kv_head = 2;
  torch::manual_seed(31);
  GPT model(cfg);
  auto r = model->forward_inspect(random_tokens(32, 2, 10), false, true);
  EXPECT_TRUE(r.residuals.empty());
  ASSERT_EQ(r.attentions.size(), static_cast<size_t>(cfg.n_layer));
  for (const auto& att : r.attentions) {
    EXPECT_EQ(att.sizes(), (torch::IntArrayRef{2, 4, 10, 10}));
    EXPECT_LT(max_abs_diff(att.sum(-1), torch::ones({2, 4, 10})), 1e-5);
    EXPECT_EQ(att.triu(1).abs().max().item<double>(), 0.0);
    EXPECT_GT(att.tril(-1).abs().max().item<double>(), 0.0);
  }
}

TEST(ModelLoss, MeanAndSumSkipIgnoredTargets) {
  torch::manual_seed(32);
  auto logits = torch::randn({2, 3, 5});
  auto targets = torch::tensor({{1, -1, 4}, {0, 2, -1}}, torch::kLong);
  // By hand: -log_softmax at each kept target.
  auto logp = torch::log_softmax(logits, -1);
  double sum = 0;
  int count = 0;
  for (int b = 0; b < 2; ++b) {
    for (int t = 0; t < 3; ++t) {
      int64_t y = targets[b][t].item<int64_t>();
      if (y == -1) continue;
      sum -= logp[b][t][y].item<double>();
      ++count;
    }
  }
  EXPECT_NEAR(lm_loss(logits, targets).item<double>(), sum / count, 1e-5);
  LossSum s = lm_loss_sum(logits, targets);
  EXPECT_NEAR(s.sum.item<double>(), sum, 1e-5);
  EXPECT_EQ(s.count.item<int64_t>(), 4);
  // Another ignore index.
  auto t2 = targets.clamp_min(0);
  EXPECT_EQ(lm_loss_sum(logits, t2, 0).count.item<int64_t>(), 3);  // t2 = {{1, 0, 4}, {0, 2, 0}}
}

TEST(ModelLoss, FusedSumEqualsCrossEntropyInValueAndGradient) {
  torch::manual_seed(34);
  auto logits = (3 * torch::randn({6, 4, 50})).requires_grad_(true);
  auto targets = torch::randint(50, {6, 4}, torch::kLong);
  targets[1][2] = -1;
  targets[4].fill_(-1);
  // A confident miss: p[target] underflows to 0 in fp32, the loss must still be finite and exact.
  {
    torch::NoGradGuard no_grad;
    logits[0][0].fill_(0.0);
    logits[0][0][7] = 200.0;
  }
  targets[0][0] = 3;
  auto ref_logits = logits.detach().clone().requires_grad_(true);
  auto reference = torch::nn::functional::cross_entropy(
      ref_logits.reshape({-1, 50}), targets.reshape({-1}),
      torch::nn::functional::CrossEntropyFuncOptions().ignore_index(-1).reduction(torch::kSum));
  LossSum fused = lm_loss_sum(logits, targets);
  EXPECT_NEAR(fused.sum.item<double>(), reference.item<double>(), 1e-5 * reference.item<double>());
  EXPECT_GT(fused.sum.item<double>(), 200.0);  // the confident miss alone costs 200 nats
  EXPECT_EQ(fused.count.item<int64_t>(), 24 - 1 - 4);
  (2.0 * fused.sum).backward({}, /*retain_graph=*/true);
  (2.0 * reference).backward();
  EXPECT_LT(max_abs_diff(logits.grad(), ref_logits.grad()), 1e-5);
  // The gradient is made in place of the saved probabilities: a second pass is refused, not wrong.
  EXPECT_THROW((2.0 * fused.sum).backward(), RunError);
  EXPECT_EQ(logits.grad()[4].abs().sum().item<float>(), 0.0f);  // ignored rows get no gradient
  // Out-of-range targets are refused, as cross_entropy refuses them.
  auto bad = targets.clone();
  bad[2][2] = 50;
  EXPECT_THROW(lm_loss_sum(logits, bad), RunError);
}

TEST(ModelLoss, HeadOnTargetRowsGivesTheSameLossAndGradients) {
  for (const ModelConfig& cfg : {tiny_config(), tiny_llama_config()}) {
    torch::manual_seed(33);
    GPT model(cfg);
    auto x = random_tokens(cfg.vocab_size, 3, 10);
    auto y = random_tokens(cfg.vocab_size, 3, 10);
    y.narrow(1, 0, 7).fill_(-1);  // an SFT-like batch: most positions carry no loss
    y[2].fill_(-1);
    // All rows: the full forward and the masked loss.
    model->zero_grad();
    auto full = lm_loss_sum(model->forward(x), y).sum;
    full.backward();
    std::vector<torch::Tensor> full_grads;
    for (const auto& p : model->parameters()) full_grads.push_back(p.grad().clone());
    // Target rows only.
    model->zero_grad();
    auto flat = y.reshape({-1});
    auto rows = flat.ne(-1).nonzero().squeeze(1);
    ASSERT_EQ(rows.numel(), 6);
    auto logits = model->forward_rows(x, rows);
    EXPECT_EQ(logits.sizes(), (std::vector<int64_t>{6, cfg.vocab_size}));
    EXPECT_LT(max_abs_diff(logits, model->forward(x).reshape({-1, cfg.vocab_size}).index_select(0, rows)),
              1e-5);
    auto picked = lm_loss_sum(logits, flat.index_select(0, rows)).sum;
    picked.backward();
    EXPECT_NEAR(picked.item<double>(), full.item<double>(), 1e-4);
    auto params = model->parameters();
    for (size_t i = 0; i < params.size(); ++i) {
      EXPECT_LT(max_abs_diff(params[i].grad(), full_grads[i]), 1e-5) << i;
    }
  }
}

// --- accounting.h: counts from the config must match the module ------------------------------

TEST(ModelAccounting, ParamCountMatchesModuleForManyConfigs) {
  std::vector<ModelConfig> configs;
  configs.push_back(tiny_config());
  configs.push_back(tiny_llama_config());
  ModelConfig c = tiny_config();
  c.tie_embeddings = false;
  c.bias = false;
  c.activation = "swiglu";
  configs.push_back(c);
  c = tiny_llama_config();
  c.n_kv_head = 1;
  c.bias = true;  // RMSNorm still has no bias; linears do
  c.mlp_hidden = 40;
  configs.push_back(c);
  c = tiny_config();
  c.position = "sinusoidal";
  c.norm = "rmsnorm";
  c.activation = "relu2";
  c.n_kv_head = 2;
  configs.push_back(c);
  for (const ModelConfig& cfg : configs) {
    GPT model(cfg);
    int64_t total = 0, embeddings = 0;
    for (const auto& p : model->named_parameters()) {
      total += p.value().numel();
      if (p.key() == "wte.weight" || p.key() == "wpe.weight") embeddings += p.value().numel();
    }
    EXPECT_EQ(count_params(cfg, true), total);
    EXPECT_EQ(count_params(cfg, false), total - embeddings);
    EXPECT_EQ(model->num_params(true), total);
  }
}

TEST(ModelAccounting, FlopsPerTokenFollowsPalmFormula) {
  ModelConfig cfg = tiny_config();  // C=32, L=2, V=32, gelu F=128, MHA
  // Per block: q,k,v,o 4*32*32 = 4096; MLP 2*32*128 = 8192; head 32*32 = 1024.
  const int64_t matmul = 2 * (4096 + 8192) + 1024;
  EXPECT_EQ(matmul_params(cfg), matmul);
  EXPECT_DOUBLE_EQ(flops_per_token(cfg, 16), 6.0 * matmul + 12.0 * 2 * 32 * 16);
  // GQA shrinks only k/v projections; the attention term counts query heads.
  cfg.n_kv_head = 1;
  EXPECT_EQ(matmul_params(cfg), matmul - 2 * 2 * (32 * 32 - 32 * 8));
  // GPT-2 small: 124M parameters with embeddings, as published.
  ModelConfig gpt2;
  gpt2.vocab_size = 50257;
  gpt2.block_size = 1024;
  gpt2.n_layer = 12;
  gpt2.n_head = 12;
  gpt2.d_model = 768;
  EXPECT_EQ(count_params(gpt2, true), 124439808);
}

}  // namespace gpt_test
