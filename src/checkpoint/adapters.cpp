#include "checkpoint/adapters.h"

#include <cctype>
#include <filesystem>
#include <set>

#include "checkpoint/checkpoint.h"
#include "model/lora.h"
#include "util/errors.h"
#include "util/strings.h"

namespace fs = std::filesystem;

namespace gptforge {

namespace {

// An adapted layer's module in gptforge and in PEFT's naming of the Hugging Face model ("{}" stands
// for the layer index). These are the Hugging Face names of tensor_mapping.cpp's tables without
// ".weight" (tests/export check that they agree); GPT-2's q, k and v have none (fused c_attn).
struct AdapterModule {
  const char* gptforge;
  const char* peft;
};

const std::vector<AdapterModule> kLlamaModules = {
    {"h.{}.attn.q_proj", "base_model.model.model.layers.{}.self_attn.q_proj"},
    {"h.{}.attn.k_proj", "base_model.model.model.layers.{}.self_attn.k_proj"},
    {"h.{}.attn.v_proj", "base_model.model.model.layers.{}.self_attn.v_proj"},
    {"h.{}.attn.o_proj", "base_model.model.model.layers.{}.self_attn.o_proj"},
    {"h.{}.mlp.gate", "base_model.model.model.layers.{}.mlp.gate_proj"},
    {"h.{}.mlp.up", "base_model.model.model.layers.{}.mlp.up_proj"},
    {"h.{}.mlp.down", "base_model.model.model.layers.{}.mlp.down_proj"},
};

const std::vector<AdapterModule> kGpt2Modules = {
    {"h.{}.attn.o_proj", "base_model.model.transformer.h.{}.attn.c_proj"},
    {"h.{}.mlp.fc", "base_model.model.transformer.h.{}.mlp.c_fc"},
    {"h.{}.mlp.proj", "base_model.model.transformer.h.{}.mlp.c_proj"},
};

// A swiglu MLP is Llama's layout, any other GPT-2's.
const std::vector<AdapterModule>& modules_of(const ModelConfig& m) {
  return m.activation == Activation::SwiGlu ? kLlamaModules : kGpt2Modules;
}

// Whether `name` is `pattern` with a layer index for "{}"; the index goes to *layer.
bool match(const std::string& pattern, const std::string& name, std::string* layer) {
  const size_t at = pattern.find("{}");
  const std::string head = pattern.substr(0, at), tail = pattern.substr(at + 2);
  if (name.size() <= head.size() + tail.size() || name.compare(0, head.size(), head) != 0 ||
      name.compare(name.size() - tail.size(), tail.size(), tail) != 0) {
    return false;
  }
  *layer = name.substr(head.size(), name.size() - head.size() - tail.size());
  for (char c : *layer) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

std::string with_layer(const std::string& pattern, const std::string& layer) {
  return pattern.substr(0, pattern.find("{}")) + layer + pattern.substr(pattern.find("{}") + 2);
}

}  // namespace

std::string adapter_file_name(const std::string& parameter, const ModelConfig& m) {
  // "h.0.attn.q_proj_lora.lora_A" -> module "h.0.attn.q_proj", tensor "lora_A"
  const size_t dot = parameter.rfind('.');
  const std::string tensor = parameter.substr(dot + 1);
  std::string module = parameter.substr(0, dot);
  module = module.substr(0, module.size() - std::string("_lora").size());
  std::string layer;
  for (const auto& row : modules_of(m)) {
    if (match(row.gptforge, module, &layer)) return with_layer(row.peft, layer) + "." + tensor + ".weight";
  }
  return module + "." + tensor + ".weight";
}

std::string adapter_parameter_name(const std::string& file_name, const ModelConfig& m, const std::string& file) {
  for (const char* tensor : {"lora_A", "lora_B"}) {
    const std::string suffix = std::string(".") + tensor + ".weight";
    if (!ends_with(file_name, suffix)) continue;
    const std::string module = file_name.substr(0, file_name.size() - suffix.size());
    std::string layer;
    for (const auto& row : modules_of(m)) {
      if (match(row.peft, module, &layer)) return with_layer(row.gptforge, layer) + "_lora." + tensor;
    }
    return module + "_lora." + tensor;
  }
  throw CheckpointError(file + ": tensor '" + file_name + "' is not a LoRA adapter (.lora_A.weight / .lora_B.weight)");
}

std::vector<std::pair<std::string, torch::Tensor>> adapter_file_tensors(torch::nn::Module& model, const ModelConfig& m) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (auto& p : model.named_parameters()) {
    if (is_lora_parameter(p.key())) out.emplace_back(adapter_file_name(p.key(), m), p.value().detach());
  }
  return out;
}

std::map<std::string, std::string> adapter_file_metadata(const LoraConfig& lora) {
  std::string targets;
  for (const auto& t : lora.targets) targets += (targets.empty() ? "" : ",") + t;
  return {{"format", "gptforge-lora"},
          {"rank", std::to_string(lora.rank)},
          {"alpha", std::to_string(lora.alpha)},
          {"targets", targets}};
}

void load_adapters(GPT& model, const SafetensorsFile& adapters, const std::string& file) {
  torch::NoGradGuard no_grad;
  const auto params = model->lora_parameters();
  std::set<std::string> wanted;
  for (const auto& [name, p] : params) {
    const std::string stored = adapter_file_name(name, model->config());
    wanted.insert(stored);
    const torch::Tensor* t = adapters.find(stored);
    if (!t) throw CheckpointError(file + ": adapter tensor '" + stored + "' is missing (lora.targets differ?)");
    if (t->sizes() != p.sizes()) {
      throw CheckpointError(file + ": adapter tensor '" + stored + "' has shape " + c10::str(t->sizes()) +
                            ", the model needs " + c10::str(p.sizes()) + " (lora.rank differs?)");
    }
    p.copy_(*t);
  }
  for (const auto& [name, t] : adapters.tensors) {
    if (!wanted.count(name)) {
      throw CheckpointError(file + ": tensor '" + name + "' belongs to no adapter of this model (lora.targets differ?)");
    }
  }
}

void merge_adapters(StoredModel& stored) {
  const LoraConfig& lora = stored.config.lora;
  if (lora.rank == 0) return;
  const std::string file = stored.dir + "/" + kAdapterFile;
  if (stored.adapters.tensors.empty()) {
    throw CheckpointError(file + ": missing, but the checkpoint's config has lora.rank=" + std::to_string(lora.rank));
  }
  torch::NoGradGuard no_grad;
  const ModelConfig& m = stored.config.model;
  for (const auto& [name, a] : stored.adapters.tensors) {
    const std::string param = adapter_parameter_name(name, m, file);
    if (!ends_with(param, ".lora_A")) continue;
    const std::string b_name = name.substr(0, name.size() - std::string("lora_A.weight").size()) + "lora_B.weight";
    const torch::Tensor* b = stored.adapters.find(b_name);
    if (!b) throw CheckpointError(file + ": adapter tensor '" + b_name + "' is missing");
    const std::string weight = lora_base_weight(param);
    bool found = false;
    for (auto& [wname, w] : stored.weights.tensors) {
      if (wname != weight) continue;
      if (a.size(1) != w.size(1) || b->size(0) != w.size(0) || a.size(0) != lora.rank || b->size(1) != lora.rank) {
        throw CheckpointError(file + ": adapter '" + name + "' does not fit " + weight + " " + c10::str(w.sizes()) +
                              " at lora.rank=" + std::to_string(lora.rank));
      }
      w = w + lora_delta(a.to(w.scalar_type()), b->to(w.scalar_type()), lora.alpha, lora.rank);
      found = true;
    }
    if (!found) throw CheckpointError(file + ": adapter '" + name + "' adapts '" + weight + "', which the model lacks");
  }
  stored.config.lora.rank = 0;
  stored.adapters = SafetensorsFile{};
}

std::string merge_lora_checkpoint(const std::string& checkpoint, const std::string& out_dir, bool force) {
  StoredModel stored = read_model(checkpoint);
  if (stored.config.lora.rank == 0) {
    throw CheckpointError(stored.dir + ": has no LoRA adapters to merge (its lora.rank is 0)");
  }
  // --force may replace an earlier merge, never a training run: the merged checkpoint would become
  // its `latest`, and pruning (keep_last 1) would delete the run's own checkpoints.
  if (fs::is_directory(out_dir)) {
    for (const auto& e : fs::directory_iterator(out_dir)) {
      if (e.path().filename().string().rfind("step_", 0) == 0 && fs::exists(e.path() / "trainer_state.json")) {
        throw UsageError("--out " + out_dir + " holds a training run (" + e.path().filename().string() +
                         " has a training state): merge into another directory");
      }
    }
  }
  if (has_checkpoint(out_dir) && !force) {
    throw UsageError("--out " + out_dir + " already holds checkpoints: choose another run directory or pass --force");
  }
  merge_adapters(stored);
  GPT model(stored.config.model);
  load_weights(*model, stored.weights, stored.dir + "/model.safetensors");
  const ModelArtifact artifact{model.ptr().get(), &stored.config, stored.tokenizer_model, stored.step};
  return save_model(out_dir, artifact, /*is_best=*/false, /*keep_last=*/1);
}

}  // namespace gptforge
