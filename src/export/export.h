// Export and import: start here. Turns a gptforge checkpoint into files other tools load, and a
// Hugging Face directory back into a checkpoint.
//
//   gptforge export --checkpoint C --format hf   --out DIR  [--dtype f32|f16|bf16] [--force]
//       DIR/ model.safetensors, config.json, generation_config.json, tokenizer.model,
//            tokenizer_config.json, special_tokens_map.json
//       transformers loads it with AutoModelForCausalLM.from_pretrained(DIR): GPT2LMHeadModel for
//       gpt2-family models, LlamaForCausalLM for llama-family ones (hf_export.h).
//   gptforge export --checkpoint C --format gguf --out FILE [--dtype f32|f16|bf16] [--force]
//       a GGUF v3 file for llama.cpp: `llama` architecture for llama-family models, `gpt2` for
//       gpt2-family ones (gguf_export.h).
//   gptforge import --from DIR --out RUN_DIR [--force]
//       a checkpoint (RUN_DIR/step_0000000, RUN_DIR/latest) that `train.init_from` and every other
//       command accept (hf_import.h).
//
// A model is exported only when the target expresses it exactly (tensor_mapping.h lists the
// families and every tensor's name and layout); anything else is refused with the config keys the
// format needs. Outputs appear whole or not at all: they are written under a temporary name next to
// the destination and renamed at the end; an existing destination is refused unless `force`.
//
// Verification without the real clients: import(export(C)) gives C's weights bit for bit (f32) and
// so the same logits; read_gguf (gguf_reader.h) reads a GGUF file back. With the clients:
// `--reference-logits FILE` writes the input ids and gptforge's logits for them, which
// scripts/check_hf_export.py compares against transformers.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "export/export_config.h"
#include "model/model_config.h"

namespace gptforge {

// The config's export section (format, dtype, out, force), and what only the command line sets.
struct ExportOptions : ExportConfig {
  ExportOptions() = default;
  explicit ExportOptions(const ExportConfig& section) : ExportConfig(section) {}

  std::string reference_logits;  // when set: write input ids + gptforge logits (JSON) here
};

struct ExportResult {
  std::string path;          // the final output
  std::string architecture;  // "GPT2LMHeadModel", "LlamaForCausalLM", "gguf:llama" or "gguf:gpt2"
  int64_t tensors = 0;
  uint64_t bytes = 0;        // of the weights file
};

// Exports the checkpoint at `checkpoint` (a checkpoint or run directory). Throws UsageError for bad
// options or an existing output without force, CheckpointError for a missing or damaged checkpoint
// or a model the format cannot express.
ExportResult export_checkpoint(const std::string& checkpoint, const ExportOptions& opts);

struct ImportResult {
  std::string checkpoint;    // the checkpoint directory written
  std::string architecture;  // from config.json
  int64_t tensors = 0;
  ModelConfig model;
};

// Imports a Hugging Face directory (GPT2LMHeadModel or LlamaForCausalLM; f32, f16 or bf16
// safetensors, one file or sharded with model.safetensors.index.json; a sentencepiece
// tokenizer.model) into a gptforge checkpoint under `out_dir`. Throws DataError naming the file and
// the problem (missing files, unsupported architecture or option), UsageError when out_dir already
// holds files and not force.
ImportResult import_hf(const std::string& hf_dir, const std::string& out_dir, bool force);

// The reference input of --reference-logits: <s> followed by a fixed sentence, at most 64 ids, and
// short enough to leave 16 positions of the context for a greedy continuation (when block_size >= 32).
std::vector<int32_t> reference_input_ids(const std::string& tokenizer_model, int64_t block_size);

}  // namespace gptforge
