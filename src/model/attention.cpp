#include "model/attention.h"

#include <torch/version.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

#include "model/batched_matmul.h"
#include "model/fused_ops.h"
#include "model/kv_cache.h"
#include "model/linear.h"
#include "model/rope.h"
#include "model/slot_kv_cache.h"
#include "util/env_switch.h"

namespace gptforge {
namespace {

// (T, S) bool, true where query i (at position S - T + i) must not see key j: j > S - T + i.
// A view of the cached buffer when it is large enough, built otherwise.
torch::Tensor future_mask(const torch::Tensor& buffer, int64_t t, int64_t s, const torch::Device& device) {
  const int64_t offset = s - t;
  if (buffer.defined() && buffer.size(0) >= s) return buffer.narrow(0, offset, t).narrow(1, 0, s);
  return torch::ones({t, s}, torch::TensorOptions().dtype(torch::kBool).device(device)).triu(offset + 1);
}

// k or v (B, n_kv_head, S, hd) -> (B, n_head, S, hd), each kv head repeated for its group of queries.
torch::Tensor repeat_kv(const torch::Tensor& x, int64_t groups) {
  if (groups == 1) return x;
  const int64_t b = x.size(0), h = x.size(1), s = x.size(2), d = x.size(3);
  return x.unsqueeze(2).expand({b, h, groups, s, d}).reshape({b, h * groups, s, d});
}

// What `gptforge info` calls the fused kernel, and what takes the contexts it does not.
std::string fused_kernel_name(const std::string& beyond) {
  return "gptforge's fused causal kernel (fp32 CPU, context <= " + std::to_string(kFusedAttentionMaxContext) +
         "; else " + beyond + ")";
}

}  // namespace

torch::Tensor causal_attention_explicit(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                        const torch::Tensor& causal_mask, double dropout_p, torch::Tensor* probs) {
  torch::Tensor out = causal_attention_blocked(q, k, v, causal_mask, dropout_p, q.size(2), probs);
  if (probs) *probs = probs->view({q.size(0), q.size(1), q.size(2), k.size(2)});
  return out;
}

torch::Tensor causal_attention_blocked(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                       const torch::Tensor& causal_mask, double dropout_p, int64_t block,
                                       torch::Tensor* probs) {
  const int64_t B = q.size(0), H = q.size(1), T = q.size(2), hd = q.size(3);
  const int64_t Hkv = k.size(1), S = k.size(2), G = H / Hkv, offset = S - T;
  TORCH_CHECK(block > 0, "causal_attention_blocked: block must be positive");
  TORCH_CHECK(!probs || block >= T, "causal_attention_blocked: probabilities need a single block");
  const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
  // (B, H, T, hd) -> (B*Hkv, G, T, hd): the G query heads that share a kv head become the rows of one
  // matmul against that head's keys, so k and v are never repeated.
  auto qg = (q * scale).reshape({B * Hkv, G, T, hd});
  auto kg = k.to(q.scalar_type()).reshape({B * Hkv, S, hd});
  auto vg = v.to(q.scalar_type()).reshape({B * Hkv, S, hd});
  // split, not narrow, for the query blocks: split's backward joins the blocks' gradients in one
  // copy, where each narrow's backward would zero-fill and copy a full-size gradient.
  auto q_blocks = qg.split(block, 2);
  std::vector<torch::Tensor> outs;
  for (int64_t start = 0; start < T; start += block) {
    // Queries [start, end) sit at positions offset + start.. and see keys [0, offset + end): the
    // scores right of that are all masked, so they are never computed. A single query (cached
    // decoding) sees every key it is given: nothing to mask.
    const int64_t c = std::min(block, T - start), keys = offset + start + c;
    auto qc = q_blocks[static_cast<size_t>(start / block)].reshape({B * Hkv, G * c, hd});
    // (No narrow over the whole extent, for the same reason.)
    auto kc = keys == S ? kg : kg.narrow(1, 0, keys), vc = keys == S ? vg : vg.narrow(1, 0, keys);
    auto scores = batched_matmul(qc, kc.transpose(1, 2)).view({B * Hkv, G, c, keys});
    if (c > 1) scores.masked_fill_(future_mask(causal_mask, c, keys, q.device()), -std::numeric_limits<double>::infinity());
    auto att = torch::softmax(scores, -1);
    if (probs) *probs = att;
    if (dropout_p > 0) att = torch::dropout(att, dropout_p, /*train=*/true);
    outs.push_back(batched_matmul(att.view({B * Hkv, G * c, keys}), vc).view({B * Hkv, G, c, hd}));
  }
  return (outs.size() == 1 ? outs[0] : torch::cat(outs, 2)).view({B, H, T, hd});
}

#if TORCH_VERSION_MAJOR >= 2
torch::Tensor causal_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                               const torch::Tensor& causal_mask, double dropout_p) {
  if (dropout_p == 0 && fused_attention_enabled() && fused_attention_supports(q, k, v)) return fused_causal_attention(q, k, v);
  const int64_t T = q.size(2), S = k.size(2), G = q.size(1) / k.size(1);
  auto kk = repeat_kv(k.to(q.scalar_type()), G);
  auto vv = repeat_kv(v.to(q.scalar_type()), G);
  if (S == T) return at::scaled_dot_product_attention(q, kk, vv, {}, dropout_p, /*is_causal=*/true);
  if (T == 1) return at::scaled_dot_product_attention(q, kk, vv, {}, dropout_p, /*is_causal=*/false);
  // New tokens after a cached prefix: is_causal would align the mask top-left, so pass it (true = attend).
  auto allowed = future_mask(causal_mask, T, S, q.device()).logical_not();
  return at::scaled_dot_product_attention(q, kk, vv, allowed, dropout_p, /*is_causal=*/false);
}
const char* attention_kernel_name() {
  static const std::string fused = fused_kernel_name("scaled_dot_product_attention");
  return fused_attention_enabled() ? fused.c_str() : "scaled_dot_product_attention";
}
#else
namespace {
// The query block of causal_attention: 64, or GPTFORGE_ATTN_BLOCK (0: the unblocked kernel), to
// measure one against the other.
int64_t attention_block() {
  static const int64_t block = [] {
    const char* e = std::getenv("GPTFORGE_ATTN_BLOCK");
    return e ? std::atoll(e) : int64_t{64};
  }();
  return block;
}
}  // namespace

torch::Tensor causal_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                               const torch::Tensor& causal_mask, double dropout_p) {
  if (dropout_p == 0 && fused_attention_enabled() && fused_attention_supports(q, k, v)) return fused_causal_attention(q, k, v);
  const int64_t block = attention_block();
  return causal_attention_blocked(q, k, v, causal_mask, dropout_p, block > 0 ? block : q.size(2));
}
const char* attention_kernel_name() {
  static const std::string fused = fused_kernel_name("query blocks");
  if (fused_attention_enabled()) return fused.c_str();
  static const std::string name =
      attention_block() > 0
          ? "query blocks of " + std::to_string(attention_block()) + ": batched matmul + masked softmax"
          : std::string("batched matmul + masked softmax (one block: GPTFORGE_ATTN_BLOCK=0)");
  return name.c_str();
}
#endif

namespace {
std::atomic<bool>& fused_qkv_switch() {
  static std::atomic<bool> on{env_switch("GPTFORGE_FUSED_QKV").value_or(true)};
  return on;
}
}  // namespace

bool fused_qkv_enabled() { return fused_qkv_switch().load(std::memory_order_relaxed); }
bool set_fused_qkv_enabled(bool on) { return fused_qkv_switch().exchange(on); }

torch::Tensor masked_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                               const torch::Tensor& key_mask) {
  const int64_t B = q.size(0), H = q.size(1), Hkv = k.size(1), S = k.size(2), G = H / Hkv;
  TORCH_CHECK(q.size(2) == 1, "masked_attention: one query per row");
#if TORCH_VERSION_MAJOR >= 2
  auto allowed = key_mask.logical_not().view({B, 1, 1, S});
  return at::scaled_dot_product_attention(q, repeat_kv(k.to(q.scalar_type()), G), repeat_kv(v.to(q.scalar_type()), G),
                                          allowed, 0.0, /*is_causal=*/false);
#else
  const int64_t hd = q.size(3);
  const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
  // (B, H, 1, hd) -> (B*Hkv, G, hd): a kv head's query heads are the rows of one matmul, as above.
  auto qg = (q * scale).reshape({B * Hkv, G, hd});
  auto kg = k.to(q.scalar_type()).reshape({B * Hkv, S, hd});
  auto vg = v.to(q.scalar_type()).reshape({B * Hkv, S, hd});
  auto scores = batched_matmul(qg, kg.transpose(1, 2)).view({B, Hkv * G, S});
  scores.masked_fill_(key_mask.unsqueeze(1), -std::numeric_limits<double>::infinity());
  auto att = torch::softmax(scores, -1).view({B * Hkv, G, S});
  return batched_matmul(att, vg).view({B, H, 1, hd});
#endif
}

torch::Tensor attention_reference(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v) {
  const int64_t T = q.size(2), S = k.size(2), G = q.size(1) / k.size(1);
  auto kr = repeat_kv(k, G), vr = repeat_kv(v, G);
  auto scores = torch::matmul(q, kr.transpose(-2, -1)) / std::sqrt(static_cast<double>(q.size(-1)));
  auto allowed = torch::ones({T, S}, torch::TensorOptions().dtype(torch::kBool).device(q.device())).tril(S - T);
  scores = scores.masked_fill(allowed.logical_not(), -std::numeric_limits<double>::infinity());
  return torch::matmul(torch::softmax(scores, -1), vr);
}

AttentionImpl::AttentionImpl(const ModelConfig& cfg, int64_t layer)
    : layer_(layer),
      n_head_(cfg.n_head),
      n_kv_head_(cfg.kv_heads()),
      head_dim_(cfg.head_dim()),
      dropout_(cfg.dropout) {
  const int64_t c = cfg.d_model;
  auto linear = [&](int64_t in, int64_t out) { return torch::nn::LinearOptions(in, out).bias(cfg.bias); };
  q_proj = register_module("q_proj", torch::nn::Linear(linear(c, n_head_ * head_dim_)));
  k_proj = register_module("k_proj", torch::nn::Linear(linear(c, n_kv_head_ * head_dim_)));
  v_proj = register_module("v_proj", torch::nn::Linear(linear(c, n_kv_head_ * head_dim_)));
  o_proj = register_module("o_proj", torch::nn::Linear(linear(n_head_ * head_dim_, c)));
}

void AttentionImpl::add_lora(const LoraConfig& cfg) {
  if (lora_targets(cfg, "q")) q_lora = register_module("q_proj_lora", LoRA(q_proj, cfg));
  if (lora_targets(cfg, "k")) k_lora = register_module("k_proj_lora", LoRA(k_proj, cfg));
  if (lora_targets(cfg, "v")) v_lora = register_module("v_proj_lora", LoRA(v_proj, cfg));
  if (lora_targets(cfg, "o")) o_lora = register_module("o_proj_lora", LoRA(o_proj, cfg));
}

bool AttentionImpl::projects_qkv_at_once(const torch::Tensor& x) const {
  return fused_qkv_enabled() && !q_lora && !k_lora && !v_lora && x.numel() / x.size(-1) >= x.size(-1);
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& x, const AttentionInputs& in, torch::Tensor* probs) {
  const int64_t B = x.size(0), T = x.size(1);
  torch::Tensor q, k, v;  // (B, T, heads * hd)
  if (projects_qkv_at_once(x)) {
    const bool bias = q_proj->options.bias();
    auto w = torch::cat({q_proj->weight, k_proj->weight, v_proj->weight});
    auto b = bias ? torch::cat({q_proj->bias, k_proj->bias, v_proj->bias}) : torch::Tensor();
    auto qkv = dense(x, w, b).split_with_sizes({n_head_ * head_dim_, n_kv_head_ * head_dim_, n_kv_head_ * head_dim_}, -1);
    q = qkv[0], k = qkv[1], v = qkv[2];
  } else {
    q = adapted(q_proj, q_lora, x), k = adapted(k_proj, k_lora, x), v = adapted(v_proj, v_lora, x);
  }
  // (B, T, heads * hd) -> (B, heads, T, hd): views, also of the one product's columns.
  q = q.view({B, T, n_head_, head_dim_}).transpose(1, 2);
  k = k.view({B, T, n_kv_head_, head_dim_}).transpose(1, 2);
  v = v.view({B, T, n_kv_head_, head_dim_}).transpose(1, 2);
  if (in.rope_cos.defined()) {
    q = apply_rope(q, in.rope_cos, in.rope_sin);
    k = apply_rope(k, in.rope_cos, in.rope_sin);
  }
  if (in.cache) std::tie(k, v) = in.cache->append(layer_, k, v);  // (B, Hkv, cached + T, hd)
  const double p = is_training() ? dropout_ : 0.0;
  torch::Tensor y;
  if (in.slots) {
    std::tie(k, v) = in.slots->append(layer_, k, v);  // (B, Hkv, S, hd), each row its own length
    y = masked_attention(q, k, v, in.slots->step_key_mask(B));
  } else {
    y = probs ? causal_attention_explicit(q, k, v, in.causal_mask, p, probs)
              : causal_attention(q, k, v, in.causal_mask, p);
  }
  // (B, H, T, hd) -> (B, T, C)
  y = adapted(o_proj, o_lora, y.transpose(1, 2).reshape({B, T, n_head_ * head_dim_}));
  if (p > 0) y = torch::dropout(y, p, /*train=*/true);
  return y;
}

}  // namespace gptforge
