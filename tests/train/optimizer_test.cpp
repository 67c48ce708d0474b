#include "train/optimizer.h"

#include <gtest/gtest.h>

using namespace gptforge;

TEST(Optimizer, ParamKindsFromNames) {
  EXPECT_EQ(param_kind("wte.weight"), "embedding");
  EXPECT_EQ(param_kind("wpe.weight"), "embedding");
  EXPECT_EQ(param_kind("h.0.ln_1.weight"), "norm");
  EXPECT_EQ(param_kind("ln_f.bias"), "norm");
  EXPECT_EQ(param_kind("h.3.attn.q_proj.bias"), "bias");
  EXPECT_EQ(param_kind("h.3.attn.q_proj.weight"), "weight");
  EXPECT_EQ(param_kind("lm_head.weight"), "weight");
}

TEST(Optimizer, NoDecayGroupIsExemptFromWeightDecay) {
  struct Net : torch::nn::Module {
    torch::nn::Linear fc = register_module("fc", torch::nn::Linear(4, 1));
    torch::Tensor& w = fc->weight;
    torch::Tensor& b = fc->bias;
  } net;
  torch::NoGradGuard no_grad;
  net.w.fill_(1.0);
  net.b.fill_(1.0);
  TrainConfig cfg;
  cfg.learning_rate = 0.1;
  cfg.weight_decay = 0.5;
  cfg.no_decay = {"bias"};
  auto opt = make_optimizer(net, cfg);
  ASSERT_EQ(opt->param_groups().size(), 2u);
  // Zero gradients: the only change comes from decoupled decay, w <- w - lr * wd * w.
  net.w.mutable_grad() = torch::zeros({1, 4});
  net.b.mutable_grad() = torch::zeros({1});
  opt->step();
  EXPECT_TRUE(torch::allclose(net.w, torch::full({1, 4}, 1.0 - 0.1 * 0.5)));
  EXPECT_TRUE(torch::equal(net.b, torch::ones({1})));
  set_learning_rate(*opt, 0.01);
  for (auto& g : opt->param_groups()) EXPECT_DOUBLE_EQ(g.options().get_lr(), 0.01);
}

TEST(Optimizer, ClipScalesToMaxNormAndReportsNorm) {
  auto a = torch::zeros({2}, torch::requires_grad());
  auto b = torch::zeros({1}, torch::requires_grad());
  a.mutable_grad() = torch::tensor({3.0f, 0.0f});
  b.mutable_grad() = torch::tensor({4.0f});
  auto norm = clip_grad_norm({a, b}, 1.0);
  EXPECT_NEAR(norm.item<float>(), 5.0f, 1e-5);
  EXPECT_NEAR(grad_norm({a, b}).item<float>(), 1.0f, 1e-5);
  // Below the limit nothing changes.
  auto n2 = clip_grad_norm({a, b}, 10.0);
  EXPECT_NEAR(n2.item<float>(), 1.0f, 1e-5);
  EXPECT_NEAR(a.grad()[0].item<float>(), 0.6f, 1e-5);
}
