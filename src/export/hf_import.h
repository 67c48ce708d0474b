// The Hugging Face import (import_hf in export.h): config.json -> ModelConfig, safetensors -> the
// gptforge parameters (tensor_mapping.h), tokenizer.model -> the checkpoint's tokenizer.
//
// config.json keys read:
//   GPT2LMHeadModel  vocab_size, n_positions, n_embd, n_layer, n_head, n_inner, layer_norm_epsilon,
//                    activation_function (gelu_new | gelu_pytorch_tanh), resid_pdrop, initializer_range,
//                    tie_word_embeddings (must be true), scale_attn_weights (must be true),
//                    scale_attn_by_inverse_layer_idx (must be false)
//   LlamaForCausalLM vocab_size, max_position_embeddings, hidden_size, intermediate_size,
//                    num_hidden_layers, num_attention_heads, num_key_value_heads, head_dim (must be
//                    hidden_size / num_attention_heads), hidden_act (silu), rms_norm_eps, rope_theta
//                    (or rope_parameters.rope_theta), rope_scaling (must be null / default),
//                    attention_bias and mlp_bias (must be false), tie_word_embeddings,
//                    attention_dropout, initializer_range
// Anything gptforge cannot compute exactly is refused with the key and its value.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "export/tensor_mapping.h"
#include "model/model_config.h"

namespace gptforge {

struct HfModelSpec {
  Family family = Family::Llama;
  std::string architecture;  // as config.json names it
  ModelConfig model;         // family preset applied, every size filled in, validated
};

// Parses a config.json object. `origin` (the file) prefixes every DataError.
HfModelSpec hf_model_spec(const nlohmann::json& config, const std::string& origin);

// The tensors of a Hugging Face directory: model.safetensors, or the shards listed in
// model.safetensors.index.json. Throws DataError naming what is missing.
NamedTensors load_hf_tensors(const std::string& dir);

}  // namespace gptforge
