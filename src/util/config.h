// The configuration: every section assembled into one Config, loaded from YAML, validated across
// sections, printed and described.
//
// Each section is a plain struct declared by the layer that reads it (util/run_config.h,
// tokenizer/tokenizer_config.h, data/data_config.h, model/model_config.h, train/train_config.h,
// generate/generate_config.h, export/export_config.h, serve/serve_config.h); its member initialisers
// are the defaults. Its `fields` method lists the keys once; the loader, the validator, `config show`
// and `config schema` all walk that list, so a key can never be documented but unread, or read but
// unvalidated. Code below the top takes its own section, not the whole Config.
//
// Resolution order (later wins): defaults -> the family preset (model.family) -> the base config
// chain (a file's `base:` key) -> the file -> command-line `key.path=value` overrides.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/data_config.h"
#include "export/export_config.h"
#include "generate/generate_config.h"
#include "model/model_config.h"
#include "serve/serve_config.h"
#include "tokenizer/tokenizer_config.h"
#include "train/train_config.h"
#include "util/config_field.h"
#include "util/run_config.h"

namespace gptforge {

// The whole configuration. Sections appear in `sections` in the order `config show` prints them.
struct Config {
  RunConfig run;
  ModelConfig model;
  TokenizerConfig tokenizer;
  DataConfig data;
  TrainConfig train;
  SftConfig sft;
  LoraConfig lora;
  SampleConfig sample;
  EvalConfig eval;
  ExportConfig export_;  // `export` is a C++ keyword
  ServeConfig serve;

  template <class V>
  void sections(V& v) {
    v.section("run", run, "Process-wide settings: threads, device, seed, logging");
    v.section("model", model, "Transformer architecture");
    v.section("tokenizer", tokenizer, "sentencepiece tokenizer training");
    v.section("data", data, "Corpus tokenization into shards");
    v.section("train", train, "Pretraining loop (also the optimiser and checkpoints of sft)");
    v.section("sft", sft, "Supervised fine-tuning data");
    v.section("lora", lora, "LoRA adapters for sft and train.init_from runs (rank 0 = full fine-tuning)");
    v.section("sample", sample, "Sampling, chat and eval decoding");
    v.section("eval", eval, "Perplexity and bits per byte on text (eval --text)");
    v.section("export", export_, "Export to Hugging Face or GGUF");
    v.section("serve", serve, "`gptforge serve`: the OpenAI-compatible HTTP server");
  }
};

// Fills the style keys of model.family's preset (gpt2, llama); custom leaves them as they are.
void apply_family_preset(ModelConfig& model);

// Loads `path` (empty: defaults only), its base chain, then the overrides ("key.path=value").
// Throws ConfigError naming file:line or the override, with a suggestion for unknown keys.
Config load_config(const std::string& path, const std::vector<std::string>& overrides = {});

// Cross-field checks (divisibility, head sizes, schedules). Throws ConfigError naming the keys.
void validate_config(const Config& cfg);

// The schema's range and item checks of one section's values, for sections filled in code rather
// than from a file (GenerationOptions is a SampleConfig). Throws ConfigError "sample.top_p: 0 is out of
// range [1e-09, 1]", as loading a config would.
void check_ranges(const SampleConfig& sample);

// Throws ConfigError when any of these keys (e.g. "data.inputs") is empty, naming the command.
void require_keys(const Config& cfg, const std::vector<std::string>& keys, const std::string& command);

// The resolved config as YAML; load_config of this text gives back an equal config.
std::string config_to_yaml(const Config& cfg);
// Writes config_to_yaml atomically to `path`.
void save_config(const Config& cfg, const std::string& path);
// Every key: path, type, default, allowed values and description, as aligned text.
std::string config_schema_text();
// Keys of `section` whose values differ, as "section.key: A vs B".
std::vector<std::string> config_differences(const Config& a, const Config& b, const std::string& section);
// All key paths, "section.key".
std::vector<std::string> config_key_paths();

}  // namespace gptforge
