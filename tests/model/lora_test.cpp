#include "model/lora.h"

#include <gtest/gtest.h>

#include "model/gpt.h"
#include "model/model_test_helpers.h"
#include "util/errors.h"

namespace lora_test {

using namespace gptforge;
using namespace gptforge::testing;

namespace {

LoraConfig lora(int64_t rank, std::vector<std::string> targets, double alpha = 8.0) {
  LoraConfig c;
  c.rank = rank;
  c.alpha = alpha;
  c.targets = std::move(targets);
  return c;
}

// Every lora_B drawn at random: a trained adapter (at init B = 0 and the update vanishes).
void randomise_adapters(GPT& model) {
  torch::NoGradGuard no_grad;
  for (auto& [name, p] : model->lora_parameters()) {
    if (name.size() > 6 && name.substr(name.size() - 6) == "lora_B") p.normal_(0.0, 0.2);
  }
}

std::vector<std::string> all_targets(const ModelConfig& m) {
  if (m.activation == "swiglu") return {"q", "k", "v", "o", "gate", "up", "down"};
  return {"q", "k", "v", "o", "fc", "proj"};
}

}  // namespace

class LoraFamilies : public ::testing::TestWithParam<ModelConfig> {};

TEST_P(LoraFamilies, AdaptedModelEqualsItsBaseAtInit) {
  torch::manual_seed(3);
  GPT model(GetParam());
  model->eval();
  auto idx = random_tokens(GetParam().vocab_size, 2, 12);
  torch::NoGradGuard no_grad;
  torch::Tensor base = model->forward(idx);
  model->add_lora(lora(4, all_targets(GetParam())));
  EXPECT_EQ(model->lora_parameters().size(), 2 * all_targets(GetParam()).size() * 2);  // A, B x targets x layers
  EXPECT_TRUE(torch::equal(model->forward(idx), base));
}

TEST_P(LoraFamilies, OnlyTheAdaptersGetGradients) {
  torch::manual_seed(3);
  GPT model(GetParam());
  model->add_lora(lora(2, {"q", "v"}));
  randomise_adapters(model);
  auto idx = random_tokens(GetParam().vocab_size, 2, 12);
  model->forward(idx).square().mean().backward();
  int64_t adapters = 0;
  for (auto& p : model->named_parameters()) {
    if (is_lora_parameter(p.key())) {
      ++adapters;
      EXPECT_TRUE(p.value().requires_grad()) << p.key();
      ASSERT_TRUE(p.value().grad().defined()) << p.key();
      EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0.0) << p.key();
    } else {
      EXPECT_FALSE(p.value().requires_grad()) << p.key();
      EXPECT_FALSE(p.value().grad().defined()) << p.key();
    }
  }
  EXPECT_EQ(adapters, 2 * 2 * 2);  // q and v, A and B, 2 layers
}

TEST_P(LoraFamilies, MergedWeightsGiveTheAdaptedModelsLogits) {
  torch::manual_seed(5);
  GPT adapted(GetParam());
  adapted->add_lora(lora(4, all_targets(GetParam()), 16.0));
  randomise_adapters(adapted);
  adapted->eval();
  auto idx = random_tokens(GetParam().vocab_size, 2, 12);
  torch::NoGradGuard no_grad;
  // A plain model with the adapted model's base weights, then W + (alpha / r) B A.
  GPT merged(GetParam());
  merged->eval();
  auto params = adapted->named_parameters();
  auto merged_params = merged->named_parameters();
  for (auto& p : merged_params) p.value().copy_(params[p.key()]);
  torch::Tensor base = merged->forward(idx);
  for (auto& [name, a] : adapted->lora_parameters()) {
    if (name.substr(name.size() - 6) != "lora_A") continue;
    const torch::Tensor& b = params[name.substr(0, name.size() - 1) + "B"];
    merged_params[lora_base_weight(name)].add_(lora_delta(a, b, 16.0, 4));
  }
  torch::Tensor want = adapted->forward(idx), got = merged->forward(idx);
  EXPECT_GT(max_abs_diff(want, base), 1e-2);  // the adapters do change the model
  EXPECT_LE(max_abs_diff(got, want), 1e-5);
}

INSTANTIATE_TEST_SUITE_P(Models, LoraFamilies, ::testing::Values(tiny_config(), tiny_llama_config()));

TEST(Lora, UpdateIsScaledByAlphaOverRank) {
  torch::manual_seed(1);
  torch::nn::Linear base(torch::nn::LinearOptions(6, 5));
  LoRA adapter(base, lora(3, {"q"}, 12.0));
  {
    torch::NoGradGuard no_grad;
    adapter->lora_B.normal_();
  }
  auto x = torch::randn({4, 6});
  torch::NoGradGuard no_grad;
  // y = x A^T B^T (alpha / r), against the merged form x (B A)^T (alpha / r).
  auto want = torch::mm(torch::mm(x, adapter->lora_A.t()), adapter->lora_B.t()) * 4.0;
  EXPECT_LE(max_abs_diff(adapter->forward(x), want), 1e-6);
  EXPECT_LE(max_abs_diff(torch::mm(x, adapter->delta().t()), want), 1e-6);
  EXPECT_LE(max_abs_diff(adapted(base, adapter, x), base(x) + want), 1e-6);
  EXPECT_EQ(adapter->lora_A.sizes(), (std::vector<int64_t>{3, 6}));
  EXPECT_EQ(adapter->lora_B.sizes(), (std::vector<int64_t>{5, 3}));
}

TEST(Lora, AdapterNamesPointAtTheLayerTheyAdapt) {
  torch::manual_seed(1);
  GPT model(tiny_config());
  model->add_lora(lora(2, {"q", "o", "fc"}));
  std::vector<std::string> names;
  for (auto& [name, p] : model->lora_parameters()) names.push_back(name);
  EXPECT_EQ(names.front(), "h.0.attn.q_proj_lora.lora_A");
  EXPECT_EQ(lora_base_weight("h.0.attn.q_proj_lora.lora_A"), "h.0.attn.q_proj.weight");
  EXPECT_EQ(lora_base_weight("h.1.mlp.fc_lora.lora_B"), "h.1.mlp.fc.weight");
  auto params = model->named_parameters();
  for (const auto& n : names) EXPECT_TRUE(params.contains(lora_base_weight(n))) << n;
}

}  // namespace lora_test
