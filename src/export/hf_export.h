// The Hugging Face export: a directory that transformers loads with from_pretrained.
//
//   model.safetensors         public tensor names and layouts (tensor_mapping.h), metadata {"format": "pt"}
//   config.json               GPT2LMHeadModel or LlamaForCausalLM hyper-parameters, torch_dtype
//   generation_config.json    bos / eos (</s> and the chat <|end|>) / pad ids
//   tokenizer.model           the sentencepiece model, byte for byte
//   tokenizer_config.json     LlamaTokenizer (sentencepiece), special tokens, add_bos_token,
//                             chat_template (chat_template.h), the chat markers (and the tool
//                             markers, where the tokenizer has them) as added special tokens
//   special_tokens_map.json
#pragma once
#include <torch/torch.h>

#include <nlohmann/json.hpp>
#include <string>

#include "export/export_config.h"
#include "export/tensor_mapping.h"
#include "tokenizer/tokenizer.h"
#include "model/model_config.h"

namespace gptforge {

// "f32" | "f16" | "bf16" -> torch dtype; throws UsageError for anything else.
torch::ScalarType export_dtype(ExportDtype dtype);
// torch dtype -> transformers' torch_dtype string ("float32", "float16", "bfloat16").
std::string hf_dtype_name(torch::ScalarType t);

nlohmann::ordered_json hf_config_json(const ModelConfig& m, Family f, torch::ScalarType dtype, const Tokenizer& tok);
nlohmann::ordered_json hf_generation_config_json(const Tokenizer& tok);
nlohmann::ordered_json hf_tokenizer_config_json(const Tokenizer& tok, int64_t max_length);
nlohmann::ordered_json hf_special_tokens_map_json(const Tokenizer& tok);

// Writes the whole directory into `dir` (which exists and is empty). `params` are the model's
// parameters (model_tensors). Returns the size of model.safetensors.
uint64_t write_hf_directory(const std::string& dir, const ModelConfig& m, Family f, const NamedTensors& params,
                            const Tokenizer& tok, torch::ScalarType dtype);

}  // namespace gptforge
