#include "model/gpt.h"

#include <cmath>
#include <string>

#include "model/linear.h"
#include "model/rope.h"
#include "util/errors.h"
#include "util/strings.h"

namespace gptforge {
namespace {

// Largest block_size whose causal mask is kept as a buffer (64 MiB of bools); above it the attention
// kernels build the (T, S) slice they need per call.
constexpr int64_t kMaxMaskBuffer = 8192;

// Vaswani et al.'s fixed table: PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(same).
torch::Tensor sinusoidal_table(int64_t positions, int64_t dim) {
  auto f64 = torch::TensorOptions().dtype(torch::kDouble);
  auto inv_freq = torch::pow(10000.0, -torch::arange(0, dim, 2, f64) / static_cast<double>(dim));
  auto angle = torch::outer(torch::arange(positions, f64), inv_freq);  // (positions, dim/2)
  return torch::stack({angle.sin(), angle.cos()}, -1).reshape({positions, dim}).to(torch::kFloat);
}

}  // namespace

GPTImpl::GPTImpl(const ModelConfig& cfg) : cfg_(cfg) {
  if (cfg.vocab_size <= 0) {
    throw ConfigError("model.vocab_size must be set (> 0) before building the model; the trainer takes it "
                      "from the tokenizer");
  }
  const int64_t c = cfg.d_model;
  wte = register_module("wte", torch::nn::Embedding(cfg.vocab_size, c));
  if (cfg.position == Position::Learned) wpe = register_module("wpe", torch::nn::Embedding(cfg.block_size, c));
  h = register_module("h", torch::nn::ModuleList());
  for (int64_t i = 0; i < cfg.n_layer; ++i) {
    blocks_.push_back(Block(cfg, i));
    h->push_back(blocks_.back());
  }
  ln_f = register_module("ln_f", Norm(cfg, c));
  if (!cfg.tie_embeddings) {
    lm_head = register_module("lm_head", torch::nn::Linear(torch::nn::LinearOptions(c, cfg.vocab_size).bias(false)));
  }

  if (cfg.position == Position::Rope) {
    auto tables = rope_tables(cfg.block_size, cfg.head_dim(), cfg.rope_theta);
    rope_cos_ = register_buffer("rope_cos", tables.cos);
    rope_sin_ = register_buffer("rope_sin", tables.sin);
  } else if (cfg.position == Position::Sinusoidal) {
    pos_table_ = register_buffer("pos_table", sinusoidal_table(cfg.block_size, c));
  }
  if (cfg.block_size <= kMaxMaskBuffer) {
    auto ones = torch::ones({cfg.block_size, cfg.block_size}, torch::TensorOptions().dtype(torch::kBool));
    causal_mask_ = ones.triu(1);
  }
  init_weights();
}

void GPTImpl::init_weights() {
  torch::NoGradGuard no_grad;
  const double std = cfg_.init_std;
  const double resid_std = cfg_.init_std / std::sqrt(2.0 * static_cast<double>(cfg_.n_layer));
  for (auto& p : named_parameters()) {
    const std::string& name = p.key();
    const bool is_norm = name.rfind("ln_", 0) == 0 || name.find(".ln_") != std::string::npos;
    if (ends_with(name, ".bias")) {
      p.value().zero_();
    } else if (is_norm) {
      p.value().fill_(1.0);
    } else if (ends_with(name, "attn.o_proj.weight") || ends_with(name, "mlp.proj.weight") ||
               ends_with(name, "mlp.down.weight")) {
      p.value().normal_(0.0, resid_std);
    } else {
      p.value().normal_(0.0, std);  // wte, wpe, q/k/v projections, fc / gate / up, lm_head
    }
  }
}

torch::Tensor GPTImpl::run(const torch::Tensor& idx, KVCache* cache, ForwardResult* inspect, bool residuals,
                           bool attention, bool apply_head, SlotKVCache* slots) {
  if (idx.dim() != 2) {
    throw RunError("GPT expects token ids of shape (B, T), got " + std::to_string(idx.dim()) + " dimensions");
  }
  const int64_t B = idx.size(0), T = idx.size(1);
  const int64_t start = cache ? cache->length() : 0;  // position of idx[:, 0]
  torch::Tensor row_pos;                               // slots: (B) the position of each row's token
  if (slots) {
    if (T != 1) throw RunError("a slot step takes one token per row, got " + std::to_string(T));
    slots->check_step(B);
    row_pos = slots->step_positions(B);
  } else if (cache) {
    cache->check_room(B, T);
  } else if (T > cfg_.block_size) {
    throw RunError("input of " + std::to_string(T) + " tokens exceeds model.block_size (" +
                   std::to_string(cfg_.block_size) + ")");
  }
  // Rows of a position table, (positions, D) -> (B or 1, T, D) to add to (B, T, D) activations.
  auto positions_of = [&](const torch::Tensor& table) {
    return slots ? table.index_select(0, row_pos).unsqueeze(1) : table.narrow(0, start, T);
  };

  // Token embedding plus position information, (B, T) -> (B, T, C).
  auto x = wte(idx);
  if (wpe) x = x + positions_of(wpe->weight);
  if (pos_table_.defined()) x = x + positions_of(pos_table_).to(x.scalar_type());
  if (is_training() && cfg_.dropout > 0) x = torch::dropout(x, cfg_.dropout, /*train=*/true);

  AttentionInputs in;
  if (rope_cos_.defined()) {
    // (T, hd/2); slots: (B, 1, 1, hd/2), broadcast over each row's heads.
    in.rope_cos = slots ? positions_of(rope_cos_).unsqueeze(1) : positions_of(rope_cos_);
    in.rope_sin = slots ? positions_of(rope_sin_).unsqueeze(1) : positions_of(rope_sin_);
  }
  // The mask is not a registered buffer (Module::to(dtype) would cast the bools): it follows the
  // weights' device on first use instead.
  if (causal_mask_.defined() && causal_mask_.device() != wte->weight.device()) {
    causal_mask_ = causal_mask_.to(wte->weight.device());
  }
  in.causal_mask = causal_mask_;
  in.cache = cache;
  in.slots = slots;

  if (inspect && residuals) inspect->residuals.push_back(x);
  for (auto& block : blocks_) {
    if (inspect && attention) {
      torch::Tensor probs;
      x = block->forward(x, in, &probs);
      inspect->attentions.push_back(probs);
    } else {
      x = block->forward(x, in);
    }
    if (inspect && residuals) inspect->residuals.push_back(x);
  }
  if (cache) cache->advance(T);
  if (slots) slots->advance(B);
  return apply_head ? head(x) : x;
}

torch::Tensor GPTImpl::head(const torch::Tensor& x) {
  auto y = ln_f(x);
  return dense(y, lm_head ? lm_head->weight : wte->weight);
}

torch::Tensor GPTImpl::forward(const torch::Tensor& idx) { return run(idx, nullptr, nullptr, false, false); }

torch::Tensor GPTImpl::forward_rows(const torch::Tensor& idx, const torch::Tensor& rows) {
  auto x = run(idx, nullptr, nullptr, false, false, /*apply_head=*/false);
  return head(x.reshape({-1, cfg_.d_model}).index_select(0, rows));
}

torch::Tensor GPTImpl::forward_cached(const torch::Tensor& idx, KVCache& cache) {
  torch::NoGradGuard no_grad;
  return run(idx, &cache, nullptr, false, false);
}

torch::Tensor GPTImpl::forward_slots(const torch::Tensor& idx, SlotKVCache& slots) {
  torch::NoGradGuard no_grad;
  return run(idx, nullptr, nullptr, false, false, /*apply_head=*/true, &slots);
}

SlotKVCache GPTImpl::make_slot_cache(int64_t slots) const {
  const auto& w = wte->weight;
  return SlotKVCache(cfg_.n_layer, slots, cfg_.kv_heads(), cfg_.block_size, cfg_.head_dim(),
                     torch::TensorOptions().device(w.device()).dtype(w.scalar_type()));
}

KVCache GPTImpl::make_cache(int64_t batch, c10::optional<torch::Dtype> dtype) const {
  const auto& w = wte->weight;
  auto options = torch::TensorOptions().device(w.device()).dtype(dtype ? *dtype : w.scalar_type());
  return KVCache(cfg_.n_layer, batch, cfg_.kv_heads(), cfg_.block_size, cfg_.head_dim(), options);
}

ForwardResult GPTImpl::forward_inspect(const torch::Tensor& idx, bool residuals, bool attention) {
  ForwardResult result;
  result.logits = run(idx, nullptr, &result, residuals, attention);
  return result;
}

torch::Tensor GPTImpl::lens(const torch::Tensor& residual) { return head(residual); }

void GPTImpl::add_lora(const LoraConfig& cfg) {
  for (auto& p : parameters()) p.set_requires_grad(false);
  for (auto& block : blocks_) {
    block->attn->add_lora(cfg);
    block->mlp->add_lora(cfg);
  }
}

std::vector<std::pair<std::string, torch::Tensor>> GPTImpl::lora_parameters() {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (auto& p : named_parameters()) {
    if (is_lora_parameter(p.key())) out.emplace_back(p.key(), p.value());
  }
  return out;
}

int64_t GPTImpl::num_params(bool include_embeddings) const { return count_params(cfg_, include_embeddings); }

}  // namespace gptforge
