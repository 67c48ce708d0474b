#include "export/tensor_mapping.h"

#include <algorithm>
#include <functional>
#include <set>
#include <string_view>

#include "util/errors.h"

namespace gptforge {

namespace {

// One requirement of a family: key, wanted value, whether the model meets it, what it has.
struct Requirement {
  std::string key, wanted, has;
  bool ok;
};

std::string yes_no(bool b) { return b ? "true" : "false"; }

void check_requirements(const std::string& format, const std::string& family, const std::string& why,
                        const std::vector<Requirement>& reqs) {
  std::string wanted, has;
  for (const auto& r : reqs) {
    wanted += (wanted.empty() ? "" : ", ") + r.key + "=" + r.wanted;
    if (!r.ok) has += (has.empty() ? "" : ", ") + r.key + "=" + r.has;
  }
  if (has.empty()) return;
  throw CheckpointError(format + " export maps " + why + " to " + family + ", which needs " + wanted +
                        "; this model has " + has);
}

const torch::Tensor& need(const NamedTensors& t, const std::string& name, const std::string& origin) {
  const torch::Tensor* p = find_tensor(t, name);
  if (!p) throw DataError(origin + ": tensor '" + name + "' is missing");
  return *p;
}

}  // namespace

const char* family_name(Family f) { return f == Family::Gpt2 ? "gpt2" : "llama"; }
const char* hf_architecture(Family f) { return f == Family::Gpt2 ? "GPT2LMHeadModel" : "LlamaForCausalLM"; }

const torch::Tensor* find_tensor(const NamedTensors& tensors, const std::string& name) {
  for (const auto& [n, t] : tensors) {
    if (n == name) return &t;
  }
  return nullptr;
}

Family expressible_family(const ModelConfig& m, const std::string& format) {
  if (m.position == Position::Learned) {
    check_requirements(format, "GPT-2", "a model.position=learned model",
                       {{"model.norm", "layernorm", m.norm.name(), m.norm == NormType::LayerNorm},
                        {"model.activation", "gelu", m.activation.name(), m.activation == Activation::Gelu},
                        {"model.bias", "true", yes_no(m.bias), m.bias},
                        {"model.tie_embeddings", "true", yes_no(m.tie_embeddings), m.tie_embeddings},
                        {"model.n_kv_head", "model.n_head (" + std::to_string(m.n_head) + ")",
                         std::to_string(m.kv_heads()), m.kv_heads() == m.n_head}});
    return Family::Gpt2;
  }
  if (m.position == Position::Rope) {
    check_requirements(format, "Llama", "a model.position=rope model",
                       {{"model.norm", "rmsnorm", m.norm.name(), m.norm == NormType::RmsNorm},
                        {"model.activation", "swiglu", m.activation.name(), m.activation == Activation::SwiGlu},
                        {"model.bias", "false", yes_no(m.bias), !m.bias}});
    return Family::Llama;
  }
  throw CheckpointError(format + " export needs model.position=learned (gpt2) or rope (llama); this model has " +
                        m.position);
}

// --- RoPE permutation ---------------------------------------------------------------------------
torch::Tensor rope_halves_to_pairs(const torch::Tensor& w, int64_t heads) {
  const int64_t rows = w.size(0), hd = rows / heads;
  auto shape = w.sizes().vec();
  std::vector<int64_t> split = {heads, 2, hd / 2};
  split.insert(split.end(), shape.begin() + 1, shape.end());
  // (heads, 2, hd/2, ...) -> (heads, hd/2, 2, ...): row (h, half j, i) moves to (h, 2i + j).
  return w.reshape(split).transpose(1, 2).contiguous().reshape(shape);
}

torch::Tensor rope_pairs_to_halves(const torch::Tensor& w, int64_t heads) {
  const int64_t rows = w.size(0), hd = rows / heads;
  auto shape = w.sizes().vec();
  std::vector<int64_t> split = {heads, hd / 2, 2};
  split.insert(split.end(), shape.begin() + 1, shape.end());
  return w.reshape(split).transpose(1, 2).contiguous().reshape(shape);
}

// --- The tensor tables ----------------------------------------------------------------------------
// One row per gptforge parameter, "{}" standing for the layer index. Rows are in the order the
// targets list their tensors; the q/k/v rows of GPT-2 name one fused target, parts 0..2 along dim 0.
// Both directions of both formats read these rows: a name is spelled once.
namespace {

using T = TensorTransform;

const std::vector<TensorNames> kGpt2Names = {
    {"wte.weight", "transformer.wte.weight", "token_embd.weight"},
    {"wpe.weight", "transformer.wpe.weight", "position_embd.weight"},
    {"h.{}.ln_1.weight", "transformer.h.{}.ln_1.weight", "blk.{}.attn_norm.weight"},
    {"h.{}.ln_1.bias", "transformer.h.{}.ln_1.bias", "blk.{}.attn_norm.bias"},
    // Conv1D stores (in, out): the transpose of torch's Linear weight, q, k, v fused along out.
    {"h.{}.attn.q_proj.weight", "transformer.h.{}.attn.c_attn.weight", "blk.{}.attn_qkv.weight", T::Transpose, T::None, 0, 3},
    {"h.{}.attn.k_proj.weight", "transformer.h.{}.attn.c_attn.weight", "blk.{}.attn_qkv.weight", T::Transpose, T::None, 1, 3},
    {"h.{}.attn.v_proj.weight", "transformer.h.{}.attn.c_attn.weight", "blk.{}.attn_qkv.weight", T::Transpose, T::None, 2, 3},
    {"h.{}.attn.q_proj.bias", "transformer.h.{}.attn.c_attn.bias", "blk.{}.attn_qkv.bias", T::None, T::None, 0, 3},
    {"h.{}.attn.k_proj.bias", "transformer.h.{}.attn.c_attn.bias", "blk.{}.attn_qkv.bias", T::None, T::None, 1, 3},
    {"h.{}.attn.v_proj.bias", "transformer.h.{}.attn.c_attn.bias", "blk.{}.attn_qkv.bias", T::None, T::None, 2, 3},
    {"h.{}.attn.o_proj.weight", "transformer.h.{}.attn.c_proj.weight", "blk.{}.attn_output.weight", T::Transpose},
    {"h.{}.attn.o_proj.bias", "transformer.h.{}.attn.c_proj.bias", "blk.{}.attn_output.bias"},
    {"h.{}.ln_2.weight", "transformer.h.{}.ln_2.weight", "blk.{}.ffn_norm.weight"},
    {"h.{}.ln_2.bias", "transformer.h.{}.ln_2.bias", "blk.{}.ffn_norm.bias"},
    {"h.{}.mlp.fc.weight", "transformer.h.{}.mlp.c_fc.weight", "blk.{}.ffn_up.weight", T::Transpose},
    {"h.{}.mlp.fc.bias", "transformer.h.{}.mlp.c_fc.bias", "blk.{}.ffn_up.bias"},
    {"h.{}.mlp.proj.weight", "transformer.h.{}.mlp.c_proj.weight", "blk.{}.ffn_down.weight", T::Transpose},
    {"h.{}.mlp.proj.bias", "transformer.h.{}.mlp.c_proj.bias", "blk.{}.ffn_down.bias"},
    {"ln_f.weight", "transformer.ln_f.weight", "output_norm.weight"},
    {"ln_f.bias", "transformer.ln_f.bias", "output_norm.bias"},
    // lm_head is tied to wte: no tensor (transformers saves GPT-2 so; llama.cpp reuses token_embd).
};

const std::vector<TensorNames> kLlamaNames = {
    {"wte.weight", "model.embed_tokens.weight", "token_embd.weight"},
    {"h.{}.ln_1.weight", "model.layers.{}.input_layernorm.weight", "blk.{}.attn_norm.weight"},
    // llama.cpp rotates neighbouring pairs, transformers rotate_half: q and k rows are permuted.
    {"h.{}.attn.q_proj.weight", "model.layers.{}.self_attn.q_proj.weight", "blk.{}.attn_q.weight", T::None, T::RopeQ},
    {"h.{}.attn.k_proj.weight", "model.layers.{}.self_attn.k_proj.weight", "blk.{}.attn_k.weight", T::None, T::RopeK},
    {"h.{}.attn.v_proj.weight", "model.layers.{}.self_attn.v_proj.weight", "blk.{}.attn_v.weight"},
    {"h.{}.attn.o_proj.weight", "model.layers.{}.self_attn.o_proj.weight", "blk.{}.attn_output.weight"},
    {"h.{}.ln_2.weight", "model.layers.{}.post_attention_layernorm.weight", "blk.{}.ffn_norm.weight"},
    {"h.{}.mlp.gate.weight", "model.layers.{}.mlp.gate_proj.weight", "blk.{}.ffn_gate.weight"},
    {"h.{}.mlp.up.weight", "model.layers.{}.mlp.up_proj.weight", "blk.{}.ffn_up.weight"},
    {"h.{}.mlp.down.weight", "model.layers.{}.mlp.down_proj.weight", "blk.{}.ffn_down.weight"},
    {"ln_f.weight", "model.norm.weight", "output_norm.weight"},
    {"lm_head.weight", "lm_head.weight", "output.weight", T::None, T::None, 0, 1, /*untied_only=*/true},
};

enum class Format { Hf, Gguf };

const char* target_name(const TensorNames& r, Format fmt) { return fmt == Format::Hf ? r.hf : r.gguf; }
TensorTransform target_transform(const TensorNames& r, Format fmt) {
  return fmt == Format::Hf ? r.hf_transform : r.gguf_transform;
}

std::string with_layer(std::string_view pattern, int64_t i) {
  std::string s(pattern);
  const size_t at = s.find("{}");
  if (at != std::string::npos) s.replace(at, 2, std::to_string(i));
  return s;
}

bool per_layer(const TensorNames& r) { return std::string_view(r.gptforge).find("{}") != std::string_view::npos; }

// One row applied to one layer (layer -1 for the model-wide rows).
struct Entry {
  const TensorNames* row;
  int64_t layer;
};

// The rows of `f` for model `m`, in the targets' order: the model-wide rows where they stand, the
// per-layer block once per layer; lm_head only for an untied model.
std::vector<Entry> entries(const ModelConfig& m, Family f) {
  const auto& rows = tensor_names(f);
  std::vector<Entry> out;
  for (size_t r = 0; r < rows.size();) {
    if (!per_layer(rows[r])) {
      if (!rows[r].untied_only || !m.tie_embeddings) out.push_back({&rows[r], -1});
      ++r;
      continue;
    }
    size_t end = r;
    while (end < rows.size() && per_layer(rows[end])) ++end;
    for (int64_t i = 0; i < m.n_layer; ++i) {
      for (size_t k = r; k < end; ++k) out.push_back({&rows[k], i});
    }
    r = end;
  }
  return out;
}

// A transform on the way to the format (to_format) or back. The transpose is its own inverse.
torch::Tensor transform(const torch::Tensor& t, TensorTransform tr, const ModelConfig& m, bool to_format) {
  auto rope = to_format ? rope_halves_to_pairs : rope_pairs_to_halves;
  switch (tr) {
    case T::Transpose: return t.t().contiguous();
    case T::RopeQ: return rope(t, m.n_head);
    case T::RopeK: return rope(t, m.kv_heads());
    case T::None: break;
  }
  return t;
}

// gptforge parameters -> the format's tensors, in the format's order.
NamedTensors export_tensors(const ModelConfig& m, Family f, const NamedTensors& p, Format fmt) {
  auto get = [&](const Entry& e) { return need(p, with_layer(e.row->gptforge, e.layer), "model").detach(); };
  const std::vector<Entry> all = entries(m, f);
  NamedTensors out;
  for (size_t k = 0; k < all.size(); ++k) {
    const Entry& e = all[k];
    if (e.row->part > 0) continue;  // taken with part 0
    torch::Tensor t = get(e);
    if (e.row->parts > 1) {
      std::vector<torch::Tensor> parts = {t};
      for (size_t j = k + 1; j < all.size() && static_cast<int>(parts.size()) < e.row->parts; ++j) {
        if (all[j].layer == e.layer && std::string_view(target_name(*all[j].row, fmt)) == target_name(*e.row, fmt)) {
          parts.push_back(get(all[j]));
        }
      }
      t = torch::cat(parts, 0);
    }
    const TensorTransform tr = target_transform(*e.row, fmt);
    out.emplace_back(with_layer(target_name(*e.row, fmt), e.layer), transform(t, tr, m, /*to_format=*/true));
  }
  return out;
}

// The format's tensors -> gptforge parameters. `strip` is removed from the front of every target
// name that starts with it; with `strict`, a tensor that no row reads (nor `ignorable` accepts) is
// an error.
NamedTensors import_tensors(const ModelConfig& m, Family f, const NamedTensors& t, Format fmt,
                            const std::string& origin, const std::string& strip, bool strict,
                            const std::function<bool(const std::string&)>& ignorable) {
  std::set<std::string> used;
  NamedTensors out;
  for (const Entry& e : entries(m, f)) {
    std::string name = with_layer(target_name(*e.row, fmt), e.layer);
    if (!strip.empty() && name.rfind(strip, 0) == 0) name = name.substr(strip.size());
    used.insert(name);
    torch::Tensor x = transform(need(t, name, origin).detach(), target_transform(*e.row, fmt), m, /*to_format=*/false);
    if (e.row->parts > 1) {
      // A fused tensor: d_model rows per part along dim 0 (GPT-2's q, k and v).
      const int64_t c = m.d_model, n = e.row->parts;
      if (x.dim() < 1 || x.size(0) != n * c || (x.dim() == 2 && x.size(1) != c)) {
        std::vector<int64_t> expected = {n * c};
        if (x.dim() == 2) expected.push_back(c);
        if (target_transform(*e.row, fmt) == T::Transpose) std::reverse(expected.begin(), expected.end());
        throw DataError(origin + ": tensor '" + name + "' has shape " + c10::str(need(t, name, origin).sizes()) +
                        ", expected " + c10::str(c10::IntArrayRef(expected)));
      }
      x = x.narrow(0, e.row->part * c, c).contiguous();
    }
    out.emplace_back(with_layer(e.row->gptforge, e.layer), x);
  }
  if (strict) {
    for (const auto& [n, x] : t) {
      if (!used.count(n) && !ignorable(n)) {
        throw DataError(origin + ": tensor '" + n + "' has no place in a gptforge " + family_name(f) +
                        " model (an option gptforge does not support?)");
      }
    }
  }
  return out;
}

}  // namespace

const std::vector<TensorNames>& tensor_names(Family f) { return f == Family::Gpt2 ? kGpt2Names : kLlamaNames; }

NamedTensors gptforge_to_hf(const ModelConfig& m, Family f, const NamedTensors& p) {
  return export_tensors(m, f, p, Format::Hf);
}

NamedTensors hf_to_gptforge(const ModelConfig& m, Family f, const NamedTensors& hf, const std::string& origin) {
  // GPT2Model checkpoints omit the "transformer." prefix.
  const std::string strip = f == Family::Gpt2 && !find_tensor(hf, "transformer.wte.weight") ? "transformer." : "";
  auto ignorable = [&](const std::string& n) {
    // A saved copy of a tied head; GPT-2's causal-mask buffers; rotary inverse frequencies that old
    // transformers versions saved: none of them is a weight.
    if (n == "lm_head.weight") return f == Family::Gpt2 || m.tie_embeddings;
    if (f == Family::Gpt2) {
      return n.find(".attn.bias") != std::string::npos || n.find(".attn.masked_bias") != std::string::npos;
    }
    return n.find("rotary_emb.inv_freq") != std::string::npos;
  };
  return import_tensors(m, f, hf, Format::Hf, origin, strip, /*strict=*/true, ignorable);
}

NamedTensors gptforge_to_gguf(const ModelConfig& m, Family f, const NamedTensors& p) {
  return export_tensors(m, f, p, Format::Gguf);
}

NamedTensors gguf_to_gptforge(const ModelConfig& m, Family f, const NamedTensors& gguf) {
  return import_tensors(m, f, gguf, Format::Gguf, "gguf", "", /*strict=*/false, nullptr);
}

}  // namespace gptforge
