#include "model/fused_ops.h"

#include <ATen/Parallel.h>
#include <torch/version.h>

#include <cmath>
#include <memory>
#include <optional>
#include <vector>

#include "model/attention_kernel.h"
#include "model/gelu_kernel.h"
#include "util/cpu_gemm.h"
#include "util/env_switch.h"

namespace gptforge {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

bool fp32_cpu(const torch::Tensor& x) {
  return x.defined() && x.device().is_cpu() && x.scalar_type() == torch::kFloat && x.layout() == torch::kStrided;
}

// A (B, heads, T, hd) tensor with a contiguous last dimension, as the kernel reads it.
torch::Tensor rows_ready(const torch::Tensor& x) { return x.stride(3) == 1 ? x : x.contiguous(); }

HeadRows rows_of(const torch::Tensor& x) {
  return {x.data_ptr<float>(), x.stride(0), x.stride(1), x.stride(2)};
}

AttentionDims dims(const torch::Tensor& q, const torch::Tensor& k) {
  const int64_t H = q.size(1), hd = q.size(3);
  return {q.size(2), hd, H / k.size(1), H, static_cast<float>(1.0 / std::sqrt(static_cast<double>(hd)))};
}

struct FusedCausalAttention : public torch::autograd::Function<FusedCausalAttention> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& q_in, const torch::Tensor& k_in,
                               const torch::Tensor& v_in) {
    auto q = rows_ready(q_in), k = rows_ready(k_in), v = rows_ready(v_in);
    const int64_t B = q.size(0), H = q.size(1), T = q.size(2), hd = q.size(3), Hkv = k.size(1);
    const AttentionDims d = dims(q, k);
    // (B, T, H, hd), read and written as (B, H, T, hd).
    auto out = torch::empty({B, T, H, hd}, q.options()).transpose(1, 2);
    auto lse = torch::empty({B, H, T}, q.options());
    const HeadRows rq = rows_of(q), rk = rows_of(k), rv = rows_of(v), ro = rows_of(out);
    float* plse = lse.data_ptr<float>();
    const int64_t scratch = attention_forward_scratch(d);
    at::parallel_for(0, B * Hkv, 1, [&](int64_t begin, int64_t end) {
      // Not zero-filled: the kernel reads only scratch it has written.
      std::unique_ptr<float[]> buffer(new float[static_cast<size_t>(scratch)]);
      for (int64_t i = begin; i < end; ++i) attention_forward_group(rq, rk, rv, ro, plse, i / Hkv, i % Hkv, d, buffer.get());
    });
    ctx->save_for_backward({q, k, v, lse});
    return out;
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grad_outputs) {
    auto saved = ctx->get_saved_variables();
    const torch::Tensor &q = saved[0], &k = saved[1], &v = saved[2], &lse = saved[3];
    auto go = rows_ready(grad_outputs[0]);
    const int64_t B = q.size(0), H = q.size(1), T = q.size(2), hd = q.size(3), Hkv = k.size(1);
    const AttentionDims d = dims(q, k);
    auto dq = torch::empty({B, T, H, hd}, q.options()).transpose(1, 2);
    auto dk = torch::empty({B, T, Hkv, hd}, q.options()).transpose(1, 2);
    auto dv = torch::empty({B, T, Hkv, hd}, q.options()).transpose(1, 2);
    const HeadRows rq = rows_of(q), rk = rows_of(k), rv = rows_of(v), rg = rows_of(go);
    const float* plse = lse.data_ptr<float>();
    const HeadRows rdq = rows_of(dq), rdk = rows_of(dk), rdv = rows_of(dv);
    const int64_t scratch = attention_backward_scratch(d);
    at::parallel_for(0, B * Hkv, 1, [&](int64_t begin, int64_t end) {
      std::unique_ptr<float[]> buffer(new float[static_cast<size_t>(scratch)]);
      for (int64_t i = begin; i < end; ++i) {
        attention_backward_group(rq, rk, rv, plse, rg, rdq, rdk, rdv, i / Hkv, i % Hkv, d, buffer.get());
      }
    });
    return {dq, dk, dv};
  }
};

// Elements per task of the GELU loops: enough to pay for waking a thread.
constexpr int64_t kGeluGrain = 16384;

struct FusedGeluTanh : public torch::autograd::Function<FusedGeluTanh> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x_in) {
    auto x = x_in.contiguous();
    auto y = torch::empty_like(x);
    const float* px = x.data_ptr<float>();
    float* py = y.data_ptr<float>();
    at::parallel_for(0, x.numel(), kGeluGrain, [&](int64_t begin, int64_t end) {
      gelu_tanh_forward(px + begin, py + begin, end - begin);
    });
    ctx->save_for_backward({x});
    return y;
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grad_outputs) {
    auto x = ctx->get_saved_variables()[0];
    auto g = grad_outputs[0].contiguous();
    auto dx = torch::empty_like(x);
    const float* px = x.data_ptr<float>();
    const float* pg = g.data_ptr<float>();
    float* pd = dx.data_ptr<float>();
    at::parallel_for(0, x.numel(), kGeluGrain, [&](int64_t begin, int64_t end) {
      gelu_tanh_backward(px + begin, pg + begin, pd + begin, end - begin);
    });
    return {dx};
  }
};

}  // namespace

bool fused_attention_enabled() {
  static const std::optional<bool> setting = env_switch("GPTFORGE_FUSED_ATTN");
  if (setting) return *setting;
  // Its products are cpu_sgemm's: without oneDNN they are LibTorch mm calls, a tensor each.
  return onednn_gemm_enabled();
}

bool fused_gelu_enabled() {
  static const bool on = env_switch("GPTFORGE_FUSED_GELU").value_or(true);
  return on;
}

bool fused_attention_supports(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v) {
  return fp32_cpu(q) && fp32_cpu(k) && fp32_cpu(v) && q.dim() == 4 && k.dim() == 4 && v.dim() == 4 &&
         q.size(2) == k.size(2) && k.sizes() == v.sizes() && q.size(0) == k.size(0) && q.size(3) == k.size(3) &&
         k.size(1) > 0 && q.size(1) % k.size(1) == 0 && q.size(2) > 0 && q.size(2) <= kFusedAttentionMaxContext;
}

torch::Tensor fused_causal_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v) {
  return FusedCausalAttention::apply(q, k, v);
}

bool fused_gelu_supports(const torch::Tensor& x) { return fp32_cpu(x); }

torch::Tensor fused_gelu_tanh(const torch::Tensor& x) { return FusedGeluTanh::apply(x); }

}  // namespace gptforge
