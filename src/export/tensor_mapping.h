// Which public architecture a gptforge model is, and how its parameters map onto that architecture's
// tensors: names, transposes, q/k/v fusion and the RoPE row permutation of llama.cpp.
//
// A model is expressible only when it matches a family exactly (nothing is approximated):
//   gpt2  = position learned, layernorm with bias, gelu (tanh), bias on, tied embeddings, n_kv_head = n_head
//   llama = position rope, rmsnorm, swiglu, bias off, tied or untied embeddings, any n_kv_head
//
// Mapping (gptforge parameter -> Hugging Face GPT2LMHeadModel; Conv1D weights are (in, out), so
// every linear weight is transposed; q, k, v are fused into c_attn along the output dimension):
//   wte.weight                 -> transformer.wte.weight
//   wpe.weight                 -> transformer.wpe.weight
//   h.i.ln_1.{weight,bias}     -> transformer.h.i.ln_1.{weight,bias}
//   h.i.attn.{q,k,v}_proj.*    -> transformer.h.i.attn.c_attn.weight = cat(Wq, Wk, Wv)^T, .bias = cat(bq, bk, bv)
//   h.i.attn.o_proj.*          -> transformer.h.i.attn.c_proj.{weight^T, bias}
//   h.i.ln_2.*                 -> transformer.h.i.ln_2.*
//   h.i.mlp.fc.*               -> transformer.h.i.mlp.c_fc.{weight^T, bias}
//   h.i.mlp.proj.*             -> transformer.h.i.mlp.c_proj.{weight^T, bias}
//   ln_f.*                     -> transformer.ln_f.*
//   (lm_head is tied to wte: no tensor, as transformers itself saves GPT-2)
//
// gptforge -> Hugging Face LlamaForCausalLM (same (out, in) layout, same rotate_half RoPE: no change):
//   wte.weight                 -> model.embed_tokens.weight
//   h.i.ln_1.weight            -> model.layers.i.input_layernorm.weight
//   h.i.attn.{q,k,v,o}_proj.weight -> model.layers.i.self_attn.{q,k,v,o}_proj.weight
//   h.i.ln_2.weight            -> model.layers.i.post_attention_layernorm.weight
//   h.i.mlp.{gate,up,down}.weight  -> model.layers.i.mlp.{gate,up,down}_proj.weight
//   ln_f.weight                -> model.norm.weight
//   lm_head.weight             -> lm_head.weight           (untied only; tied: omitted, tie_word_embeddings)
//
// gptforge -> GGUF (llama.cpp `llama` architecture; torch shapes, the GGUF file lists them reversed):
//   wte.weight -> token_embd.weight;  h.i.ln_1 -> blk.i.attn_norm;  h.i.attn.q_proj -> blk.i.attn_q (*);
//   k_proj -> blk.i.attn_k (*);  v_proj -> blk.i.attn_v;  o_proj -> blk.i.attn_output;  h.i.ln_2 -> blk.i.ffn_norm;
//   mlp.gate -> blk.i.ffn_gate;  mlp.up -> blk.i.ffn_up;  mlp.down -> blk.i.ffn_down;  ln_f -> output_norm;
//   lm_head -> output (untied only: llama.cpp falls back to token_embd when output.weight is absent).
//   (*) rows permuted per head from the rotate_half layout (pairs i, i + d/2) to llama.cpp's
//       neighbouring pairs (2i, 2i + 1): rope_halves_to_pairs(W, heads), heads = n_head for q, n_kv_head for k.
//
// gptforge -> GGUF (llama.cpp `gpt2` architecture; linear (out, in) layout, no transpose):
//   wte -> token_embd;  wpe -> position_embd;  h.i.ln_1 -> blk.i.attn_norm (weight, bias);
//   q/k/v_proj -> blk.i.attn_qkv = cat(Wq, Wk, Wv) (3C, C), bias cat(bq, bk, bv);  o_proj -> blk.i.attn_output;
//   h.i.ln_2 -> blk.i.ffn_norm;  mlp.fc -> blk.i.ffn_up;  mlp.proj -> blk.i.ffn_down;  ln_f -> output_norm;
//   no output.weight (tied).
#pragma once
#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

#include "util/config.h"

namespace gptforge {

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

enum class Family { Gpt2, Llama };
const char* family_name(Family f);          // "gpt2" | "llama"
const char* hf_architecture(Family f);      // "GPT2LMHeadModel" | "LlamaForCausalLM"

// The family that expresses `m` exactly, for `format` ("hf" or "gguf", used in messages; both
// formats express the same two families). Throws CheckpointError naming the config keys the format
// needs and the values this model has.
Family expressible_family(const ModelConfig& m, const std::string& format);

// gptforge parameters (named_parameters() of a GPT built from `m`) -> HF tensors, in HF's order.
NamedTensors gptforge_to_hf(const ModelConfig& m, Family f, const NamedTensors& params);
// HF tensors -> gptforge parameters. Every tensor the model needs must be there with its shape, and
// every HF tensor must be used (GPT-2's non-persistent attn.bias / attn.masked_bias buffers and a
// tied lm_head.weight are skipped). Throws DataError naming `origin` and the tensor.
NamedTensors hf_to_gptforge(const ModelConfig& m, Family f, const NamedTensors& hf, const std::string& origin);

// gptforge parameters -> GGUF tensors of llama.cpp's `llama` or `gpt2` architecture, torch shapes.
NamedTensors gptforge_to_gguf(const ModelConfig& m, Family f, const NamedTensors& params);
// The inverse, for checks: GGUF tensors (torch shapes) -> gptforge parameters.
NamedTensors gguf_to_gptforge(const ModelConfig& m, Family f, const NamedTensors& gguf);

// The RoPE row permutation of a q or k projection weight (heads * head_dim, in): within each head,
// row pairs (i, i + head_dim/2) of the rotate_half layout become neighbours (2i, 2i + 1).
torch::Tensor rope_halves_to_pairs(const torch::Tensor& w, int64_t heads);
// Its inverse.
torch::Tensor rope_pairs_to_halves(const torch::Tensor& w, int64_t heads);

// Looks a tensor up by name; nullptr when absent.
const torch::Tensor* find_tensor(const NamedTensors& tensors, const std::string& name);

}  // namespace gptforge
