#include "export/hf_import.h"

#include <filesystem>
#include <set>
#include <yaml-cpp/yaml.h>

#include "checkpoint/checkpoint.h"
#include "export/export.h"
#include "model/gpt.h"
#include "tokenizer/tokenizer.h"
#include "util/errors.h"
#include "util/files.h"
#include "util/log.h"
#include "util/safetensors.h"

namespace fs = std::filesystem;

namespace gptforge {

namespace {

// Typed access to config.json with errors that name the file and the key.
class JsonKeys {
 public:
  JsonKeys(const nlohmann::json& j, std::string origin) : j_(j), origin_(std::move(origin)) {}

  bool has(const char* key) const { return j_.contains(key) && !j_.at(key).is_null(); }
  int64_t integer(const char* key) const {
    if (!has(key)) fail(std::string("has no '") + key + "'");
    if (!j_.at(key).is_number_integer()) fail(std::string("'") + key + "' is not an integer");
    return j_.at(key).get<int64_t>();
  }
  int64_t integer(const char* key, int64_t fallback) const { return has(key) ? integer(key) : fallback; }
  double number(const char* key, double fallback) const {
    if (!has(key)) return fallback;
    if (!j_.at(key).is_number()) fail(std::string("'") + key + "' is not a number");
    return j_.at(key).get<double>();
  }
  bool boolean(const char* key, bool fallback) const {
    if (!has(key)) return fallback;
    if (!j_.at(key).is_boolean()) fail(std::string("'") + key + "' is not true or false");
    return j_.at(key).get<bool>();
  }
  std::string string(const char* key, const std::string& fallback) const {
    if (!has(key)) return fallback;
    if (!j_.at(key).is_string()) fail(std::string("'") + key + "' is not a string");
    return j_.at(key).get<std::string>();
  }
  // `key` must be `wanted` (when present); otherwise gptforge cannot compute the model exactly.
  template <class T>
  void require(const char* key, const T& value, const T& wanted) const {
    if (value != wanted) {
      fail(std::string("has ") + key + "=" + nlohmann::json(value).dump() + ", gptforge supports only " +
           nlohmann::json(wanted).dump());
    }
  }
  [[noreturn]] void fail(const std::string& what) const { throw DataError(origin_ + ": " + what); }

 private:
  const nlohmann::json& j_;
  std::string origin_;
};

void read_shard(const std::string& path, NamedTensors& out, std::set<std::string>& seen) {
  SafetensorsFile f;
  try {
    f = load_safetensors(path);
  } catch (const CheckpointError& e) {
    throw DataError(e.what());
  }
  for (auto& [name, t] : f.tensors) {
    if (!seen.insert(name).second) throw DataError(path + ": tensor '" + name + "' appears in more than one file");
    if (!t.is_floating_point()) throw DataError(path + ": tensor '" + name + "' is not floating point");
    out.emplace_back(name, t.to(torch::kFloat32));
  }
}

}  // namespace

namespace {
// The schema's checks of a YAML config (ranges, choices), run on the imported model keys by loading
// them as overrides: a model that passes them is one that every command can load again.
void check_schema(const ModelConfig& m) {
  Config cfg;
  cfg.model = m;
  const YAML::Node root = YAML::Load(config_to_yaml(cfg));
  std::vector<std::string> overrides;
  for (const auto& kv : root["model"]) {
    YAML::Emitter value;
    value << YAML::Flow << kv.second;
    overrides.push_back("model." + kv.first.Scalar() + "=" + value.c_str());
  }
  load_config("", overrides);
}
}  // namespace

HfModelSpec hf_model_spec(const nlohmann::json& j, const std::string& origin) {
  if (!j.is_object()) throw DataError(origin + ": not a JSON object");
  JsonKeys k(j, origin);
  HfModelSpec spec;
  std::string archs;
  if (j.contains("architectures") && j.at("architectures").is_array()) {
    for (const auto& a : j.at("architectures")) {
      if (!a.is_string()) continue;
      archs += (archs.empty() ? "" : ", ") + a.get<std::string>();
      if (spec.architecture.empty()) spec.architecture = a.get<std::string>();
    }
  }
  const std::string model_type = k.string("model_type", "");
  if (spec.architecture == "GPT2LMHeadModel" || (spec.architecture.empty() && model_type == "gpt2")) {
    spec.family = Family::Gpt2;
  } else if (spec.architecture == "LlamaForCausalLM" || (spec.architecture.empty() && model_type == "llama")) {
    spec.family = Family::Llama;
  } else {
    k.fail("architectures [" + archs + "] (model_type '" + model_type +
           "') is not supported: gptforge imports GPT2LMHeadModel (gpt2) and LlamaForCausalLM (llama)");
  }
  if (spec.architecture.empty()) spec.architecture = hf_architecture(spec.family);

  ModelConfig m;
  m.family = family_name(spec.family);
  apply_family_preset(m);
  m.vocab_size = k.integer("vocab_size");
  if (spec.family == Family::Gpt2) {
    m.block_size = k.integer("n_positions");
    m.d_model = k.integer("n_embd");
    m.n_layer = k.integer("n_layer");
    m.n_head = k.integer("n_head");
    m.mlp_hidden = k.integer("n_inner", 0);
    m.norm_eps = k.number("layer_norm_epsilon", 1e-5);
    const std::string act = k.string("activation_function", "gelu_new");
    if (act != "gelu_new" && act != "gelu_pytorch_tanh") {
      k.fail("has activation_function=\"" + act + "\", gptforge's gelu is the tanh approximation (gelu_new)");
    }
    m.dropout = k.number("resid_pdrop", 0.0);
    m.init_std = k.number("initializer_range", m.init_std);
    k.require("tie_word_embeddings", k.boolean("tie_word_embeddings", true), true);
    k.require("scale_attn_weights", k.boolean("scale_attn_weights", true), true);
    k.require("scale_attn_by_inverse_layer_idx", k.boolean("scale_attn_by_inverse_layer_idx", false), false);
  } else {
    m.block_size = k.integer("max_position_embeddings");
    m.d_model = k.integer("hidden_size");
    m.n_layer = k.integer("num_hidden_layers");
    m.n_head = k.integer("num_attention_heads");
    m.n_kv_head = k.integer("num_key_value_heads", m.n_head);
    m.mlp_hidden = k.integer("intermediate_size");
    if (m.n_head > 0 && k.has("head_dim")) {
      k.require("head_dim", k.integer("head_dim"), m.d_model / m.n_head);
    }
    k.require("hidden_act", k.string("hidden_act", "silu"), std::string("silu"));
    m.norm_eps = k.number("rms_norm_eps", 1e-6);
    m.rope_theta = k.number("rope_theta", 10000.0);
    if (j.contains("rope_parameters") && j.at("rope_parameters").is_object()) {  // transformers >= 5
      JsonKeys rp(j.at("rope_parameters"), origin + " rope_parameters");
      m.rope_theta = rp.number("rope_theta", m.rope_theta);
      rp.require("rope_type", rp.string("rope_type", "default"), std::string("default"));
    }
    if (k.has("rope_scaling")) k.fail("has rope_scaling=" + j.at("rope_scaling").dump() + ", gptforge supports only null");
    k.require("attention_bias", k.boolean("attention_bias", false), false);
    k.require("mlp_bias", k.boolean("mlp_bias", false), false);
    m.tie_embeddings = k.boolean("tie_word_embeddings", false);
    m.dropout = k.number("attention_dropout", 0.0);
    m.init_std = k.number("initializer_range", m.init_std);
  }
  // Keep gptforge's "derived" spelling (0) where the value is the default, so the imported config
  // equals the one the model was trained with.
  if (m.n_kv_head == m.n_head) m.n_kv_head = 0;
  {
    ModelConfig derived = m;
    derived.mlp_hidden = 0;
    if (m.mlp_hidden == derived.hidden_size()) m.mlp_hidden = 0;
  }
  Config cfg;
  cfg.model = m;
  try {
    check_schema(m);
    validate_config(cfg);
  } catch (const ConfigError& e) {
    k.fail(std::string("describes a model gptforge cannot build: ") + e.what());
  }
  if (m.vocab_size <= 0 || m.block_size <= 0 || m.d_model <= 0 || m.n_layer <= 0 || m.n_head <= 0) {
    k.fail("has a non-positive size");
  }
  spec.model = m;
  return spec;
}

NamedTensors load_hf_tensors(const std::string& dir) {
  fs::path d(dir);
  NamedTensors out;
  std::set<std::string> seen;
  if (fs::exists(d / "model.safetensors")) {
    read_shard((d / "model.safetensors").string(), out, seen);
    return out;
  }
  fs::path index = d / "model.safetensors.index.json";
  if (fs::exists(index)) {
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(read_file(index.string()));
    } catch (const nlohmann::json::exception& e) {
      throw DataError(index.string() + ": malformed (" + e.what() + ")");
    }
    if (!j.contains("weight_map") || !j.at("weight_map").is_object()) {
      throw DataError(index.string() + ": has no weight_map");
    }
    std::set<std::string> files;
    for (auto it = j.at("weight_map").begin(); it != j.at("weight_map").end(); ++it) {
      files.insert(it.value().get<std::string>());
    }
    for (const auto& f : files) {
      if (!fs::exists(d / f)) throw DataError((d / f).string() + ": missing (listed in model.safetensors.index.json)");
      read_shard((d / f).string(), out, seen);
    }
    return out;
  }
  if (fs::exists(d / "pytorch_model.bin")) {
    throw DataError(dir + ": has only pytorch_model.bin; gptforge imports safetensors (re-save the model with "
                          "save_pretrained(..., safe_serialization=True))");
  }
  throw DataError(dir + ": no model.safetensors (nor model.safetensors.index.json)");
}

ImportResult import_hf(const std::string& hf_dir, const std::string& out_dir, bool force) {
  fs::path d(hf_dir);
  if (fs::is_regular_file(d)) {
    const bool gguf = d.extension() == ".gguf";
    throw UsageError(hf_dir + ": " + (gguf ? "a GGUF file" : "a file") +
                     "; import reads a Hugging Face model directory (config.json, model.safetensors, tokenizer.model)" +
                     (gguf ? ", not GGUF" : ""));
  }
  if (!fs::is_directory(d)) throw DataError(hf_dir + ": no such directory (import reads a Hugging Face model directory)");
  const fs::path config_path = d / "config.json";
  if (!fs::exists(config_path)) throw DataError(config_path.string() + ": missing (not a Hugging Face model directory?)");
  nlohmann::json config;
  try {
    config = nlohmann::json::parse(read_file(config_path.string()));
  } catch (const nlohmann::json::exception& e) {
    throw DataError(config_path.string() + ": malformed (" + e.what() + ")");
  }
  HfModelSpec spec = hf_model_spec(config, config_path.string());

  const fs::path tok_path = d / "tokenizer.model";
  if (!fs::exists(tok_path)) {
    throw DataError(tok_path.string() + ": missing; gptforge needs a sentencepiece tokenizer.model");
  }
  Tokenizer tok = Tokenizer::load(tok_path.string());
  if (tok.vocab_size() > spec.model.vocab_size) {
    throw DataError(tok_path.string() + ": has " + std::to_string(tok.vocab_size()) +
                    " pieces, more than config.json's vocab_size " + std::to_string(spec.model.vocab_size));
  }
  if (tok.vocab_size() < spec.model.vocab_size) {
    log_warn(strprintf("%s has %lld pieces for %lld embedding rows: set model.vocab_size=%lld to fine-tune",
                       tok_path.c_str(), (long long)tok.vocab_size(), (long long)spec.model.vocab_size,
                       (long long)spec.model.vocab_size));
  }

  // Everything is read and checked before out_dir is touched.
  NamedTensors hf = load_hf_tensors(hf_dir);
  NamedTensors params = hf_to_gptforge(spec.model, spec.family, hf, hf_dir);
  Config cfg;
  cfg.model = spec.model;
  GPT model(cfg.model);
  SafetensorsFile weights;
  weights.tensors = std::move(params);
  try {
    load_weights(*model, weights, hf_dir);
  } catch (const CheckpointError& e) {
    throw DataError(e.what());
  }

  // --force may write into a directory that holds other files, never over a training run: the
  // imported checkpoint would become its `latest` and pruning would delete the run's checkpoints.
  if (has_checkpoint(out_dir) || fs::exists(fs::path(out_dir) / "latest") || fs::exists(fs::path(out_dir) / "trainer_state.json")) {
    throw UsageError("import --out '" + out_dir + "' holds a training run (a 'latest' checkpoint): import into a "
                     "new directory (--force never replaces a run's checkpoints)");
  }
  for (const auto& e : fs::exists(out_dir) && fs::is_directory(out_dir) ? fs::directory_iterator(out_dir)
                                                                         : fs::directory_iterator()) {
    if (e.path().filename().string().rfind("step_", 0) == 0) {
      throw UsageError("import --out '" + out_dir + "' holds a training run (" + e.path().filename().string() +
                       "): import into a new directory (--force never replaces a run's checkpoints)");
    }
  }
  if (fs::exists(out_dir) && !fs::is_empty(out_dir) && !force) {
    throw UsageError("import --out '" + out_dir + "' already exists and is not empty: pass --force to write into it");
  }
  // A model artifact only: an import starts runs (train.init_from), it has no training to resume.
  ImportResult r;
  r.checkpoint = save_model(out_dir, ModelArtifact{model.get(), &cfg, tok.serialized(), /*step=*/0},
                            /*is_best=*/false, /*keep_last=*/1);
  r.architecture = spec.architecture;
  r.tensors = static_cast<int64_t>(weights.tensors.size());
  r.model = spec.model;
  return r;
}

}  // namespace gptforge
