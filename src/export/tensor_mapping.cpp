#include "export/tensor_mapping.h"

#include <set>

#include "util/errors.h"

namespace gptforge {

namespace {

std::string layer(int64_t i) { return std::to_string(i); }

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
  if (m.position == "learned") {
    check_requirements(format, "GPT-2", "a model.position=learned model",
                       {{"model.norm", "layernorm", m.norm, m.norm == "layernorm"},
                        {"model.activation", "gelu", m.activation, m.activation == "gelu"},
                        {"model.bias", "true", yes_no(m.bias), m.bias},
                        {"model.tie_embeddings", "true", yes_no(m.tie_embeddings), m.tie_embeddings},
                        {"model.n_kv_head", "model.n_head (" + std::to_string(m.n_head) + ")",
                         std::to_string(m.kv_heads()), m.kv_heads() == m.n_head}});
    return Family::Gpt2;
  }
  if (m.position == "rope") {
    check_requirements(format, "Llama", "a model.position=rope model",
                       {{"model.norm", "rmsnorm", m.norm, m.norm == "rmsnorm"},
                        {"model.activation", "swiglu", m.activation, m.activation == "swiglu"},
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

// --- Hugging Face ----------------------------------------------------------------------------------
NamedTensors gptforge_to_hf(const ModelConfig& m, Family f, const NamedTensors& p) {
  const std::string origin = "model";
  auto get = [&](const std::string& n) { return need(p, n, origin).detach(); };
  NamedTensors out;
  if (f == Family::Gpt2) {
    // Conv1D stores (in, out): the transpose of torch's Linear weight.
    auto conv = [&](const torch::Tensor& w) { return w.t().contiguous(); };
    out.emplace_back("transformer.wte.weight", get("wte.weight"));
    out.emplace_back("transformer.wpe.weight", get("wpe.weight"));
    for (int64_t i = 0; i < m.n_layer; ++i) {
      const std::string g = "h." + layer(i) + ".", h = "transformer.h." + layer(i) + ".";
      out.emplace_back(h + "ln_1.weight", get(g + "ln_1.weight"));
      out.emplace_back(h + "ln_1.bias", get(g + "ln_1.bias"));
      auto qkv_w = torch::cat({get(g + "attn.q_proj.weight"), get(g + "attn.k_proj.weight"),
                               get(g + "attn.v_proj.weight")}, 0);  // (3C, C)
      auto qkv_b = torch::cat({get(g + "attn.q_proj.bias"), get(g + "attn.k_proj.bias"), get(g + "attn.v_proj.bias")});
      out.emplace_back(h + "attn.c_attn.weight", conv(qkv_w));  // (C, 3C)
      out.emplace_back(h + "attn.c_attn.bias", qkv_b);
      out.emplace_back(h + "attn.c_proj.weight", conv(get(g + "attn.o_proj.weight")));
      out.emplace_back(h + "attn.c_proj.bias", get(g + "attn.o_proj.bias"));
      out.emplace_back(h + "ln_2.weight", get(g + "ln_2.weight"));
      out.emplace_back(h + "ln_2.bias", get(g + "ln_2.bias"));
      out.emplace_back(h + "mlp.c_fc.weight", conv(get(g + "mlp.fc.weight")));  // (C, F)
      out.emplace_back(h + "mlp.c_fc.bias", get(g + "mlp.fc.bias"));
      out.emplace_back(h + "mlp.c_proj.weight", conv(get(g + "mlp.proj.weight")));  // (F, C)
      out.emplace_back(h + "mlp.c_proj.bias", get(g + "mlp.proj.bias"));
    }
    out.emplace_back("transformer.ln_f.weight", get("ln_f.weight"));
    out.emplace_back("transformer.ln_f.bias", get("ln_f.bias"));
    return out;
  }
  out.emplace_back("model.embed_tokens.weight", get("wte.weight"));
  for (int64_t i = 0; i < m.n_layer; ++i) {
    const std::string g = "h." + layer(i) + ".", l = "model.layers." + layer(i) + ".";
    out.emplace_back(l + "input_layernorm.weight", get(g + "ln_1.weight"));
    for (const char* x : {"q", "k", "v", "o"}) {
      out.emplace_back(l + "self_attn." + x + "_proj.weight", get(g + "attn." + x + "_proj.weight"));
    }
    out.emplace_back(l + "post_attention_layernorm.weight", get(g + "ln_2.weight"));
    for (const char* x : {"gate", "up", "down"}) {
      out.emplace_back(l + "mlp." + x + "_proj.weight", get(g + "mlp." + x + ".weight"));
    }
  }
  out.emplace_back("model.norm.weight", get("ln_f.weight"));
  if (!m.tie_embeddings) out.emplace_back("lm_head.weight", get("lm_head.weight"));
  return out;
}

NamedTensors hf_to_gptforge(const ModelConfig& m, Family f, const NamedTensors& hf, const std::string& origin) {
  std::set<std::string> used;
  auto get = [&](const std::string& n) {
    used.insert(n);
    return need(hf, n, origin).detach();
  };
  NamedTensors out;
  if (f == Family::Gpt2) {
    // HF GPT-2 files sometimes carry the causal-mask buffers and a copy of the tied head.
    for (const auto& [n, t] : hf) {
      if (n == "lm_head.weight" || n.find(".attn.bias") != std::string::npos ||
          n.find(".attn.masked_bias") != std::string::npos) {
        used.insert(n);
      }
    }
    auto lin = [&](const torch::Tensor& w) { return w.t().contiguous(); };  // Conv1D (in, out) -> (out, in)
    // The "transformer." prefix is optional: GPT2Model checkpoints omit it.
    const std::string pre = find_tensor(hf, "transformer.wte.weight") ? "transformer." : "";
    out.emplace_back("wte.weight", get(pre + "wte.weight"));
    out.emplace_back("wpe.weight", get(pre + "wpe.weight"));
    const int64_t c = m.d_model;
    for (int64_t i = 0; i < m.n_layer; ++i) {
      const std::string g = "h." + layer(i) + ".", h = pre + "h." + layer(i) + ".";
      out.emplace_back(g + "ln_1.weight", get(h + "ln_1.weight"));
      out.emplace_back(g + "ln_1.bias", get(h + "ln_1.bias"));
      auto qkv_w = get(h + "attn.c_attn.weight");
      auto qkv_b = get(h + "attn.c_attn.bias");
      if (qkv_w.dim() != 2 || qkv_w.size(1) != 3 * c || qkv_b.numel() != 3 * c) {
        throw DataError(origin + ": tensor '" + h + "attn.c_attn.weight' has shape " + c10::str(qkv_w.sizes()) +
                        ", expected [" + std::to_string(c) + ", " + std::to_string(3 * c) + "]");
      }
      auto w = lin(qkv_w);  // (3C, C)
      const char* names[] = {"q", "k", "v"};
      for (int k = 0; k < 3; ++k) {
        out.emplace_back(g + "attn." + names[k] + "_proj.weight", w.narrow(0, k * c, c).contiguous());
        out.emplace_back(g + "attn." + names[k] + "_proj.bias", qkv_b.narrow(0, k * c, c).contiguous());
      }
      out.emplace_back(g + "attn.o_proj.weight", lin(get(h + "attn.c_proj.weight")));
      out.emplace_back(g + "attn.o_proj.bias", get(h + "attn.c_proj.bias"));
      out.emplace_back(g + "ln_2.weight", get(h + "ln_2.weight"));
      out.emplace_back(g + "ln_2.bias", get(h + "ln_2.bias"));
      out.emplace_back(g + "mlp.fc.weight", lin(get(h + "mlp.c_fc.weight")));
      out.emplace_back(g + "mlp.fc.bias", get(h + "mlp.c_fc.bias"));
      out.emplace_back(g + "mlp.proj.weight", lin(get(h + "mlp.c_proj.weight")));
      out.emplace_back(g + "mlp.proj.bias", get(h + "mlp.c_proj.bias"));
    }
    out.emplace_back("ln_f.weight", get(pre + "ln_f.weight"));
    out.emplace_back("ln_f.bias", get(pre + "ln_f.bias"));
  } else {
    out.emplace_back("wte.weight", get("model.embed_tokens.weight"));
    for (int64_t i = 0; i < m.n_layer; ++i) {
      const std::string g = "h." + layer(i) + ".", l = "model.layers." + layer(i) + ".";
      out.emplace_back(g + "ln_1.weight", get(l + "input_layernorm.weight"));
      for (const char* x : {"q", "k", "v", "o"}) {
        out.emplace_back(g + "attn." + x + "_proj.weight", get(l + "self_attn." + x + "_proj.weight"));
      }
      out.emplace_back(g + "ln_2.weight", get(l + "post_attention_layernorm.weight"));
      for (const char* x : {"gate", "up", "down"}) {
        out.emplace_back(g + "mlp." + x + ".weight", get(l + "mlp." + x + "_proj.weight"));
      }
    }
    out.emplace_back("ln_f.weight", get("model.norm.weight"));
    if (!m.tie_embeddings) {
      out.emplace_back("lm_head.weight", get("lm_head.weight"));
    } else if (find_tensor(hf, "lm_head.weight")) {
      used.insert("lm_head.weight");  // a saved copy of the tied head
    }
    // Rotary inverse frequencies, saved by old transformers versions, are derived, not weights.
    for (const auto& [n, t] : hf) {
      if (n.find("rotary_emb.inv_freq") != std::string::npos) used.insert(n);
    }
  }
  for (const auto& [n, t] : hf) {
    if (!used.count(n)) {
      throw DataError(origin + ": tensor '" + n + "' has no place in a gptforge " + family_name(f) +
                      " model (an option gptforge does not support?)");
    }
  }
  return out;
}

// --- GGUF ----------------------------------------------------------------------------------------
NamedTensors gptforge_to_gguf(const ModelConfig& m, Family f, const NamedTensors& p) {
  auto get = [&](const std::string& n) { return need(p, n, "model").detach(); };
  NamedTensors out;
  out.emplace_back("token_embd.weight", get("wte.weight"));
  if (f == Family::Gpt2) {
    // llama.cpp's gpt2: fused qkv in the linear (out, in) layout, every norm and linear with a bias.
    out.emplace_back("position_embd.weight", get("wpe.weight"));
    for (int64_t i = 0; i < m.n_layer; ++i) {
      const std::string g = "h." + layer(i) + ".", b = "blk." + layer(i) + ".";
      out.emplace_back(b + "attn_norm.weight", get(g + "ln_1.weight"));
      out.emplace_back(b + "attn_norm.bias", get(g + "ln_1.bias"));
      out.emplace_back(b + "attn_qkv.weight", torch::cat({get(g + "attn.q_proj.weight"), get(g + "attn.k_proj.weight"),
                                                          get(g + "attn.v_proj.weight")}, 0));
      out.emplace_back(b + "attn_qkv.bias", torch::cat({get(g + "attn.q_proj.bias"), get(g + "attn.k_proj.bias"),
                                                        get(g + "attn.v_proj.bias")}));
      out.emplace_back(b + "attn_output.weight", get(g + "attn.o_proj.weight"));
      out.emplace_back(b + "attn_output.bias", get(g + "attn.o_proj.bias"));
      out.emplace_back(b + "ffn_norm.weight", get(g + "ln_2.weight"));
      out.emplace_back(b + "ffn_norm.bias", get(g + "ln_2.bias"));
      out.emplace_back(b + "ffn_up.weight", get(g + "mlp.fc.weight"));
      out.emplace_back(b + "ffn_up.bias", get(g + "mlp.fc.bias"));
      out.emplace_back(b + "ffn_down.weight", get(g + "mlp.proj.weight"));
      out.emplace_back(b + "ffn_down.bias", get(g + "mlp.proj.bias"));
    }
    out.emplace_back("output_norm.weight", get("ln_f.weight"));
    out.emplace_back("output_norm.bias", get("ln_f.bias"));
    return out;  // tied: llama.cpp reuses token_embd
  }
  for (int64_t i = 0; i < m.n_layer; ++i) {
    const std::string g = "h." + layer(i) + ".", b = "blk." + layer(i) + ".";
    out.emplace_back(b + "attn_norm.weight", get(g + "ln_1.weight"));
    out.emplace_back(b + "attn_q.weight", rope_halves_to_pairs(get(g + "attn.q_proj.weight"), m.n_head));
    out.emplace_back(b + "attn_k.weight", rope_halves_to_pairs(get(g + "attn.k_proj.weight"), m.kv_heads()));
    out.emplace_back(b + "attn_v.weight", get(g + "attn.v_proj.weight"));
    out.emplace_back(b + "attn_output.weight", get(g + "attn.o_proj.weight"));
    out.emplace_back(b + "ffn_norm.weight", get(g + "ln_2.weight"));
    out.emplace_back(b + "ffn_gate.weight", get(g + "mlp.gate.weight"));
    out.emplace_back(b + "ffn_up.weight", get(g + "mlp.up.weight"));
    out.emplace_back(b + "ffn_down.weight", get(g + "mlp.down.weight"));
  }
  out.emplace_back("output_norm.weight", get("ln_f.weight"));
  if (!m.tie_embeddings) out.emplace_back("output.weight", get("lm_head.weight"));
  return out;
}

NamedTensors gguf_to_gptforge(const ModelConfig& m, Family f, const NamedTensors& t) {
  auto get = [&](const std::string& n) { return need(t, n, "gguf").detach(); };
  NamedTensors out;
  out.emplace_back("wte.weight", get("token_embd.weight"));
  if (f == Family::Gpt2) {
    out.emplace_back("wpe.weight", get("position_embd.weight"));
    const int64_t c = m.d_model;
    for (int64_t i = 0; i < m.n_layer; ++i) {
      const std::string g = "h." + layer(i) + ".", b = "blk." + layer(i) + ".";
      out.emplace_back(g + "ln_1.weight", get(b + "attn_norm.weight"));
      out.emplace_back(g + "ln_1.bias", get(b + "attn_norm.bias"));
      auto w = get(b + "attn_qkv.weight"), bias = get(b + "attn_qkv.bias");
      const char* names[] = {"q", "k", "v"};
      for (int k = 0; k < 3; ++k) {
        out.emplace_back(g + "attn." + names[k] + "_proj.weight", w.narrow(0, k * c, c).contiguous());
        out.emplace_back(g + "attn." + names[k] + "_proj.bias", bias.narrow(0, k * c, c).contiguous());
      }
      out.emplace_back(g + "attn.o_proj.weight", get(b + "attn_output.weight"));
      out.emplace_back(g + "attn.o_proj.bias", get(b + "attn_output.bias"));
      out.emplace_back(g + "ln_2.weight", get(b + "ffn_norm.weight"));
      out.emplace_back(g + "ln_2.bias", get(b + "ffn_norm.bias"));
      out.emplace_back(g + "mlp.fc.weight", get(b + "ffn_up.weight"));
      out.emplace_back(g + "mlp.fc.bias", get(b + "ffn_up.bias"));
      out.emplace_back(g + "mlp.proj.weight", get(b + "ffn_down.weight"));
      out.emplace_back(g + "mlp.proj.bias", get(b + "ffn_down.bias"));
    }
    out.emplace_back("ln_f.weight", get("output_norm.weight"));
    out.emplace_back("ln_f.bias", get("output_norm.bias"));
    return out;
  }
  for (int64_t i = 0; i < m.n_layer; ++i) {
    const std::string g = "h." + layer(i) + ".", b = "blk." + layer(i) + ".";
    out.emplace_back(g + "ln_1.weight", get(b + "attn_norm.weight"));
    out.emplace_back(g + "attn.q_proj.weight", rope_pairs_to_halves(get(b + "attn_q.weight"), m.n_head));
    out.emplace_back(g + "attn.k_proj.weight", rope_pairs_to_halves(get(b + "attn_k.weight"), m.kv_heads()));
    out.emplace_back(g + "attn.v_proj.weight", get(b + "attn_v.weight"));
    out.emplace_back(g + "attn.o_proj.weight", get(b + "attn_output.weight"));
    out.emplace_back(g + "ln_2.weight", get(b + "ffn_norm.weight"));
    out.emplace_back(g + "mlp.gate.weight", get(b + "ffn_gate.weight"));
    out.emplace_back(g + "mlp.up.weight", get(b + "ffn_up.weight"));
    out.emplace_back(g + "mlp.down.weight", get(b + "ffn_down.weight"));
  }
  out.emplace_back("ln_f.weight", get("output_norm.weight"));
  if (!m.tie_embeddings) out.emplace_back("lm_head.weight", get("output.weight"));
  return out;
}

}  // namespace gptforge
