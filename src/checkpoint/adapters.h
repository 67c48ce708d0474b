// LoRA adapters in a checkpoint (model/lora.h). A checkpoint of a LoRA run holds the frozen base
// weights in model.safetensors, as any checkpoint, and the adapters in their own file:
//
//   adapter_model.safetensors   lora_A (r, in) and lora_B (out, r) of every adapted layer, under
//                               PEFT's names where the layer has a Hugging Face counterpart
//                               (base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight for
//                               a swiglu (Llama) model; ...transformer.h.0.attn.c_proj... for GPT-2's
//                               o, fc and proj), else gptforge's module name (h.0.attn.q_proj.lora_A.weight:
//                               GPT-2 fuses q, k and v into one c_attn); metadata: rank, alpha, targets
//   config.yaml                 lora.rank > 0, lora.alpha: the scale alpha / rank of every update
//
// Everything that only runs a model (sample, chat, eval, serve, export) reads the merged weights,
// W + (alpha / rank) · B A: load_model merges on load.
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "model/gpt.h"
#include "model/model_config.h"
#include "util/safetensors.h"

namespace gptforge {

struct StoredModel;

inline constexpr const char* kAdapterFile = "adapter_model.safetensors";

// The adapter file's name for an adapter parameter of a model of config `m`, and back:
// "h.0.attn.q_proj_lora.lora_A" <-> "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight".
// adapter_parameter_name throws CheckpointError naming `file` for a name that is no adapter's.
std::string adapter_file_name(const std::string& parameter, const ModelConfig& m);
std::string adapter_parameter_name(const std::string& file_name, const ModelConfig& m, const std::string& file);

// The model's adapters under their file names (empty without adapters), and the file's metadata.
std::vector<std::pair<std::string, torch::Tensor>> adapter_file_tensors(torch::nn::Module& model, const ModelConfig& m);
std::map<std::string, std::string> adapter_file_metadata(const LoraConfig& lora);

// Copies the file's adapters into the model's (add_lora first). Every adapter must be there with its
// shape and every tensor of the file must belong to one: CheckpointError naming `file` and the tensor.
void load_adapters(GPT& model, const SafetensorsFile& adapters, const std::string& file);

// Folds the stored adapters into the stored weights (W += (alpha / rank) · B A) and turns LoRA off in
// the stored config (lora.rank = 0): a plain model artifact. Nothing happens without lora.rank > 0.
// Throws CheckpointError when lora.rank > 0 but the checkpoint has no adapter file, or when a tensor
// is missing or has the wrong shape.
void merge_adapters(StoredModel& stored);

// `gptforge lora merge`: reads `checkpoint` (a LoRA run's, or a run directory), merges its adapters
// and writes the result as a plain checkpoint (lora.rank = 0, no training state) into run directory
// `out_dir`, which every command loads. UsageError when out_dir already holds checkpoints and
// `force` is false; CheckpointError when the checkpoint has no adapters. Returns the checkpoint
// directory written.
std::string merge_lora_checkpoint(const std::string& checkpoint, const std::string& out_dir, bool force);

}  // namespace gptforge
