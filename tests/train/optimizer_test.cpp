#include "train/optimizer.h"

#include <gtest/gtest.h>

#include <sstream>

namespace optimizer_test {

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

namespace {

// Two parameters with different shapes, a non-contiguous-free fp32 setup like the model's.
struct TwoParams : torch::nn::Module {
  torch::Tensor w = register_parameter("w", torch::randn({17, 33}));
  torch::Tensor b = register_parameter("b", torch::randn({33}));
};

void set_grads(TwoParams& net, int step) {
  torch::manual_seed(100 + step);
  net.w.mutable_grad() = torch::randn({17, 33});
  net.b.mutable_grad() = torch::randn({33});
}

}  // namespace

TEST(Optimizer, FusedAdamWMatchesLibtorchAdamW) {
  torch::manual_seed(7);
  TwoParams a, b;
  {
    torch::NoGradGuard no_grad;
    b.w.copy_(a.w);
    b.b.copy_(a.b);
  }
  auto opts = torch::optim::AdamWOptions(3e-2).betas({0.9, 0.95}).eps(1e-8).weight_decay(0.1);
  auto group = [&](TwoParams& n) {
    std::vector<torch::optim::OptimizerParamGroup> g;
    g.emplace_back(std::vector<torch::Tensor>{n.w}, std::make_unique<torch::optim::AdamWOptions>(opts));
    auto exempt = std::make_unique<torch::optim::AdamWOptions>(opts);
    exempt->weight_decay(0.0);
    g.emplace_back(std::vector<torch::Tensor>{n.b}, std::move(exempt));
    return g;
  };
  torch::optim::AdamW reference(group(a), opts);
  FusedAdamW fused(group(b), opts);
  const torch::Tensor w0 = a.w.detach().clone();
  for (int step = 0; step < 20; ++step) {
    set_grads(a, step);
    set_grads(b, step);
    reference.step();
    fused.step();
  }
  EXPECT_TRUE(torch::allclose(a.w, b.w, 1e-5, 1e-6)) << (a.w - b.w).abs().max().item<float>();
  EXPECT_TRUE(torch::allclose(a.b, b.b, 1e-5, 1e-6)) << (a.b - b.b).abs().max().item<float>();
  // The parameters moved: a test that compares two frozen copies proves nothing.
  EXPECT_GT((a.w - w0).abs().max().item<float>(), 0.1f);

  // The state is libtorch's: saved from the fused optimizer, it loads into libtorch's, and both go on alike.
  std::stringstream buf;
  {
    torch::serialize::OutputArchive out;
    fused.save(out);
    out.save_to(buf);
  }
  torch::optim::AdamW reloaded(group(b), opts);
  {
    torch::serialize::InputArchive in;
    in.load_from(buf);
    reloaded.load(in);
  }
  set_grads(a, 99);
  set_grads(b, 99);
  reference.step();
  reloaded.step();
  EXPECT_TRUE(torch::allclose(a.w, b.w, 1e-5, 1e-6));
}

TEST(Optimizer, FusedAdamWFallsBackForOtherTensors) {
  // Double parameters are not fused: the step must still be libtorch's AdamW.
  auto p = torch::ones({4}, torch::dtype(torch::kDouble).requires_grad(true));
  auto q = torch::ones({4}, torch::dtype(torch::kDouble).requires_grad(true));
  p.mutable_grad() = torch::full({4}, 0.5, torch::kDouble);
  q.mutable_grad() = torch::full({4}, 0.5, torch::kDouble);
  auto opts = torch::optim::AdamWOptions(0.1).weight_decay(0.0);
  torch::optim::AdamW reference(std::vector<torch::Tensor>{p}, opts);
  FusedAdamW fused(std::vector<torch::Tensor>{q}, opts);
  reference.step();
  fused.step();
  EXPECT_TRUE(torch::equal(p, q));
  EXPECT_LT(q[0].item<double>(), 1.0);
}

}  // namespace optimizer_test
