#include "train/optimizer.h"

#include <ATen/Parallel.h>

#include "train/adamw_kernel.h"
#include "util/strings.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>
#include <type_traits>

namespace gptforge {

namespace {

// libtorch keys an optimizer's per-parameter state by the parameter's TensorImpl: as the pointer
// printed to a string in 1.x, as the pointer itself in 2.x.
using StateKey = std::remove_reference_t<decltype(std::declval<torch::optim::Optimizer&>().state())>::key_type;

template <typename Key = StateKey>
Key state_key(const torch::Tensor& p) {
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream s;  // c10::guts::to_string's format, which 1.x uses
    s << p.unsafeGetTensorImpl();
    return s.str();
  } else {
    return p.unsafeGetTensorImpl();
  }
}

bool fusable(const torch::Tensor& p) {
  return p.device().is_cpu() && p.scalar_type() == torch::kFloat && p.is_contiguous() && p.grad().defined() &&
         p.grad().scalar_type() == torch::kFloat && p.grad().is_contiguous() && !p.grad().is_sparse();
}

void adamw_update(float* p, const float* g, float* m, float* v, int64_t n, float decay, float beta1, float beta2,
                  float inv_sqrt_bc2, float eps, float step_size) {
  at::parallel_for(0, n, 1 << 15, [&](int64_t begin, int64_t end) {
    adamw_span(p, g, m, v, begin, end, decay, beta1, beta2, inv_sqrt_bc2, eps, step_size);
  });
}

}  // namespace

torch::Tensor FusedAdamW::step(LossClosure closure) {
  for (const auto& group : param_groups()) {
    for (const auto& p : group.params()) {
      if (p.grad().defined() && !fusable(p)) return torch::optim::AdamW::step(std::move(closure));
    }
    if (static_cast<const torch::optim::AdamWOptions&>(group.options()).amsgrad()) {
      return torch::optim::AdamW::step(std::move(closure));
    }
  }
  torch::Tensor loss;
  if (closure) {
    torch::AutoGradMode enable_grad(true);
    loss = closure();
  }
  torch::NoGradGuard no_grad;
  for (auto& group : param_groups()) {
    const auto& o = static_cast<const torch::optim::AdamWOptions&>(group.options());
    const double beta1 = std::get<0>(o.betas()), beta2 = std::get<1>(o.betas());
    for (auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      // The same per-parameter state libtorch's AdamW keeps, so checkpoints load either way.
      const StateKey key = state_key(p);
      auto it = state_.find(key);
      if (it == state_.end()) {
        auto st = std::make_unique<torch::optim::AdamWParamState>();
        st->step(0);
        st->exp_avg(torch::zeros_like(p, torch::MemoryFormat::Contiguous));
        st->exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Contiguous));
        it = state_.emplace(key, std::move(st)).first;
      }
      auto& st = static_cast<torch::optim::AdamWParamState&>(*it->second);
      if (!st.exp_avg().is_contiguous() || !st.exp_avg_sq().is_contiguous()) {
        st.exp_avg(st.exp_avg().contiguous());
        st.exp_avg_sq(st.exp_avg_sq().contiguous());
      }
      st.step(st.step() + 1);
      const double bc1 = 1.0 - std::pow(beta1, static_cast<double>(st.step()));
      const double bc2 = 1.0 - std::pow(beta2, static_cast<double>(st.step()));
      adamw_update(p.data_ptr<float>(), p.grad().data_ptr<float>(), st.exp_avg().data_ptr<float>(),
                   st.exp_avg_sq().data_ptr<float>(), p.numel(), static_cast<float>(1.0 - o.lr() * o.weight_decay()),
                   static_cast<float>(beta1), static_cast<float>(beta2), static_cast<float>(1.0 / std::sqrt(bc2)),
                   static_cast<float>(o.eps()), static_cast<float>(o.lr() / bc1));
    }
  }
  return loss;
}

std::string param_kind(const std::string& name) {
  if (name.rfind("wte.", 0) == 0 || name.rfind("wpe.", 0) == 0) return "embedding";
  if (name.find("ln_") != std::string::npos || name.find("norm") != std::string::npos) return "norm";
  if (ends_with(name, ".bias")) return "bias";
  return "weight";
}

std::unique_ptr<torch::optim::AdamW> make_optimizer(torch::nn::Module& model, const TrainConfig& cfg) {
  std::vector<torch::Tensor> decay, no_decay;
  for (auto& p : model.named_parameters()) {
    if (!p.value().requires_grad()) continue;
    const std::string kind = param_kind(p.key());
    bool exempt = std::find(cfg.no_decay.begin(), cfg.no_decay.end(), kind) != cfg.no_decay.end();
    (exempt ? no_decay : decay).push_back(p.value());
  }
  auto opts = torch::optim::AdamWOptions(cfg.learning_rate)
                  .betas({cfg.beta1, cfg.beta2})
                  .eps(cfg.eps)
                  .weight_decay(cfg.weight_decay);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decay, std::make_unique<torch::optim::AdamWOptions>(opts));
  auto exempt_opts = std::make_unique<torch::optim::AdamWOptions>(opts);
  exempt_opts->weight_decay(0.0);
  groups.emplace_back(no_decay, std::move(exempt_opts));
  return std::make_unique<FusedAdamW>(groups, opts);
}

void set_learning_rate(torch::optim::Optimizer& opt, double lr) {
  for (auto& group : opt.param_groups()) {
    static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
  }
}

std::string optimizer_state_mismatch(const torch::optim::Optimizer& opt, const torch::nn::Module& model) {
  std::map<const c10::TensorImpl*, std::string> names;
  for (const auto& p : model.named_parameters()) names[p.value().unsafeGetTensorImpl()] = p.key();
  const auto& state = opt.state();
  for (size_t g = 0; g < opt.param_groups().size(); ++g) {
    const auto& params = opt.param_groups()[g].params();
    for (size_t i = 0; i < params.size(); ++i) {
      const torch::Tensor& p = params[i];
      auto it = state.find(state_key(p));
      if (it == state.end()) continue;  // never stepped: AdamW creates it at the first step
      const auto* st = dynamic_cast<const torch::optim::AdamWParamState*>(it->second.get());
      auto name = names.count(p.unsafeGetTensorImpl()) ? "'" + names[p.unsafeGetTensorImpl()] + "'"
                                                       : "parameter " + std::to_string(i) + " of group " + std::to_string(g);
      if (!st) return "the state of " + name + " is not AdamW state";
      const std::pair<const char*, const torch::Tensor*> moments[] = {
          {"exp_avg", &st->exp_avg()}, {"exp_avg_sq", &st->exp_avg_sq()}, {"max_exp_avg_sq", &st->max_exp_avg_sq()}};
      for (const auto& [what, t] : moments) {
        if (!t->defined()) {
          if (std::string(what) == "max_exp_avg_sq") continue;  // only amsgrad keeps it
          return std::string(what) + " of " + name + " is missing";
        }
        if (t->sizes() != p.sizes()) {
          return std::string(what) + " of " + name + " has shape " + c10::str(t->sizes()) + ", the parameter " +
                 c10::str(p.sizes());
        }
        if (t->scalar_type() != p.scalar_type()) {
          return std::string(what) + " of " + name + " has dtype " + c10::toString(t->scalar_type()) +
                 ", the parameter " + c10::toString(p.scalar_type());
        }
      }
    }
  }
  return "";
}

void clear_gradients(const std::vector<torch::Tensor>& params) {
  for (auto p : params) p.mutable_grad() = torch::Tensor();
}

torch::Tensor grad_norm(const std::vector<torch::Tensor>& params) {
  std::vector<torch::Tensor> norms;
  for (const auto& p : params) {
    if (p.grad().defined()) norms.push_back(p.grad().detach().norm(2).to(torch::kFloat32));
  }
  if (norms.empty()) return torch::zeros({});
  return torch::stack(norms).norm(2);
}

torch::Tensor clip_grad_norm(const std::vector<torch::Tensor>& params, double max_norm) {
  torch::NoGradGuard no_grad;
  torch::Tensor total = grad_norm(params);
  if (max_norm <= 0) return total;
  // min(1, max_norm / norm) as a tensor: no host round-trip to decide whether to clip.
  torch::Tensor scale = (max_norm / (total + 1e-6)).clamp_max(1.0);
  for (const auto& p : params) {
    if (p.grad().defined()) p.grad().mul_(scale.to(p.grad().scalar_type()));
  }
  return total;
}

}  // namespace gptforge
