// Which public architecture a gptforge model is, and how its parameters map onto that architecture's
// tensors: names, transposes, q/k/v fusion and the RoPE row permutation of llama.cpp.
//
// A model is expressible only when it matches a family exactly (nothing is approximated):
//   gpt2  = position learned, layernorm with bias, gelu (tanh), bias on, tied embeddings, n_kv_head = n_head
//   llama = position rope, rmsnorm, swiglu, bias off, tied or untied embeddings, any n_kv_head
//
// How the names map: one table per family (tensor_names below, written out in tensor_mapping.cpp,
// as llama.cpp's LLM_TENSOR_NAMES), one row per gptforge parameter with its Hugging Face name, its
// GGUF name and the transform each format needs:
//   - Hugging Face GPT2LMHeadModel stores Conv1D weights (in, out): every linear weight is
//     transposed, and q, k, v are fused into attn.c_attn along the output dimension; lm_head is
//     tied to wte (no tensor, as transformers itself saves GPT-2).
//   - Hugging Face LlamaForCausalLM keeps torch's (out, in) layout and the same rotate_half RoPE: no
//     change; lm_head only when untied (tie_word_embeddings).
//   - GGUF `llama` (torch shapes; the file lists them reversed): q and k rows permuted per head from
//     the rotate_half layout (pairs i, i + d/2) to llama.cpp's neighbouring pairs (2i, 2i + 1);
//     output.weight only when untied (llama.cpp falls back to token_embd).
//   - GGUF `gpt2`: linear (out, in) layout, q, k, v fused into attn_qkv; no output.weight (tied).
#pragma once
#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

#include "model/model_config.h"

namespace gptforge {

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

enum class Family { Gpt2, Llama };

// What a tensor's data goes through on its way from gptforge to a format (and back, inverted).
enum class TensorTransform {
  None,
  Transpose,  // Conv1D's (in, out)
  RopeQ,      // rope_halves_to_pairs over model.n_head heads
  RopeK,      // the same over model.n_kv_head heads
};

// One row of a family's table. "{}" in a name stands for the layer index. Rows whose target names
// are equal are fused: part `part` of `parts` along dim 0, in gptforge's layout, before the transform.
struct TensorNames {
  const char* gptforge;
  const char* hf;
  const char* gguf;
  TensorTransform hf_transform = TensorTransform::None;
  TensorTransform gguf_transform = TensorTransform::None;
  int part = 0, parts = 1;
  bool untied_only = false;  // the output head: absent from the formats when tied to the embeddings
};
// The rows of `f`, in the formats' order (model-wide rows, the per-layer block, model-wide rows).
const std::vector<TensorNames>& tensor_names(Family f);
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
