#include "checkpoint/checkpoint.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "checkpoint/adapters.h"
#include "model/lora.h"
#include "util/errors.h"
#include "util/files.h"
#include "util/staging.h"

namespace fs = std::filesystem;

namespace gptforge {

namespace {

std::string step_name(int64_t step) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "step_%07lld", static_cast<long long>(step));
  return buf;
}

// Points `link` (a symlink in dir) at `target` atomically: a new link renamed over the old one.
void point_link(const fs::path& dir, const std::string& link, const std::string& target) {
  fs::path tmp = dir / ("." + link + ".tmp." + std::to_string(::getpid()));
  std::error_code ec;
  fs::remove(tmp, ec);
  fs::create_directory_symlink(target, tmp);
  fs::rename(tmp, dir / link);
}

std::string link_target(const fs::path& dir, const std::string& link) {
  std::error_code ec;
  auto t = fs::read_symlink(dir / link, ec);
  return ec ? "" : t.string();
}

uint64_t file_hash(const std::string& path) {
  std::string bytes = read_file(path);
  return fnv1a64(bytes.data(), bytes.size());
}

// Keeps the newest keep_last step directories, `keep` and whatever `best` points at.
void prune(const fs::path& root, const std::string& keep, int64_t keep_last) {
  std::vector<std::string> steps;
  for (const auto& e : fs::directory_iterator(root)) {
    std::string n = e.path().filename().string();
    if (e.is_directory() && !e.is_symlink() && n.rfind("step_", 0) == 0) steps.push_back(n);
  }
  std::sort(steps.begin(), steps.end());
  const std::string best = link_target(root, "best");
  std::error_code ec;
  for (size_t i = 0; i + static_cast<size_t>(keep_last) < steps.size(); ++i) {
    if (steps[i] != best && steps[i] != keep) fs::remove_all(root / steps[i], ec);
  }
}

}  // namespace

void write_checkpoint_file(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  out.flush();
  if (!out) throw CheckpointError(path + ": write failed (disk full?)");
}

std::vector<std::pair<std::string, torch::Tensor>> model_tensors(torch::nn::Module& model) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (auto& p : model.named_parameters()) {
    if (!is_lora_parameter(p.key())) out.emplace_back(p.key(), p.value());
  }
  return out;
}

std::string save_model(const std::string& out_dir, const ModelArtifact& a, bool is_best, int64_t keep_last,
                       const CheckpointExtension& extension) {
  fs::path root(out_dir);
  fs::create_directories(root);
  const std::string name = step_name(a.step);
  // A checkpoint of the same step (say, an interrupt right after a periodic save) is replaced: the
  // staging swaps it out and removes it only once the new one stands.
  StagedOutput staged((root / name).string(), /*is_directory=*/true, /*force=*/true, "checkpoint directory");
  const fs::path tmp(staged.path());
  save_safetensors((tmp / "model.safetensors").string(), model_tensors(*a.model),
                   {{"format", "gptforge"}, {"step", std::to_string(a.step)}});
  const auto adapters = adapter_file_tensors(*a.model, a.config->model);
  if (!adapters.empty()) save_safetensors((tmp / kAdapterFile).string(), adapters, adapter_file_metadata(a.config->lora));
  write_checkpoint_file((tmp / "config.yaml").string(),
                        "# Resolved gptforge config of this checkpoint\n" + config_to_yaml(*a.config));
  write_checkpoint_file((tmp / "tokenizer.model").string(), a.tokenizer_model);
  if (extension) extension(tmp.string());
  nlohmann::json manifest = {{"format", "gptforge-checkpoint"}, {"version", 1}, {"step", a.step}};
  for (const auto& e : fs::directory_iterator(tmp)) {
    if (!e.is_regular_file()) continue;
    const std::string f = e.path().filename().string();
    manifest["files"][f] = {{"bytes", fs::file_size(e.path())}, {"fnv1a64", std::to_string(file_hash(e.path().string()))}};
  }
  write_checkpoint_file((tmp / "manifest.json").string(), manifest.dump(2) + "\n");
  const std::string final_dir = staged.commit();

  point_link(root, "latest", name);
  if (is_best) point_link(root, "best", name);
  fsync_path(root.string());
  prune(root, name, keep_last);
  return final_dir;
}

bool has_checkpoint(const std::string& out_dir) {
  return fs::exists(fs::path(out_dir) / "latest" / "manifest.json");
}

std::string resolve_checkpoint(const std::string& path) {
  fs::path p(path);
  if (!fs::exists(p)) throw CheckpointError(path + ": no such checkpoint");
  if (fs::exists(p / "manifest.json")) return p.string();
  if (fs::exists(p / "latest" / "manifest.json")) return (p / "latest").string();
  if (fs::is_directory(p) && fs::exists(p / "model.safetensors")) {
    throw CheckpointError(path + ": checkpoint has no manifest.json (incomplete save?)");
  }
  throw CheckpointError(path + ": not a checkpoint (no manifest.json) nor a run directory with a 'latest' checkpoint");
}

StoredModel read_model(const std::string& path) {
  StoredModel m;
  m.dir = resolve_checkpoint(path);
  fs::path dir(m.dir);
  nlohmann::json manifest;
  try {
    manifest = nlohmann::json::parse(read_file((dir / "manifest.json").string()));
    for (auto it = manifest.at("files").begin(); it != manifest.at("files").end(); ++it) {
      fs::path f = dir / it.key();
      if (!fs::exists(f)) throw CheckpointError(f.string() + ": missing from the checkpoint");
      uint64_t bytes = it.value().at("bytes").get<uint64_t>();
      if (fs::file_size(f) != bytes) {
        throw CheckpointError(f.string() + ": truncated or altered (" + std::to_string(fs::file_size(f)) +
                              " bytes, manifest says " + std::to_string(bytes) + ")");
      }
      if (std::to_string(file_hash(f.string())) != it.value().at("fnv1a64").get<std::string>()) {
        throw CheckpointError(f.string() + ": corrupted (checksum does not match manifest.json)");
      }
    }
    m.step = manifest.value("step", int64_t(0));
  } catch (const nlohmann::json::exception& e) {
    throw CheckpointError((dir / "manifest.json").string() + ": malformed (" + e.what() + ")");
  } catch (const DataError& e) {
    throw CheckpointError(e.what());
  }
  for (const char* required : {"model.safetensors", "config.yaml", "tokenizer.model"}) {
    if (!manifest.at("files").contains(required)) {
      throw CheckpointError((dir / required).string() + ": missing from the checkpoint");
    }
  }
  try {
    m.config = load_config((dir / "config.yaml").string());
  } catch (const ConfigError& e) {
    throw CheckpointError(std::string("checkpoint config is not valid for this gptforge: ") + e.what());
  }
  m.weights = load_safetensors((dir / "model.safetensors").string());
  if (manifest.at("files").contains(kAdapterFile)) m.adapters = load_safetensors((dir / kAdapterFile).string());
  m.tokenizer_model = read_file((dir / "tokenizer.model").string());
  return m;
}

void load_weights(torch::nn::Module& model, const SafetensorsFile& weights, const std::string& file) {
  torch::NoGradGuard no_grad;
  auto params = model.named_parameters();
  for (const auto& [name, tensor] : weights.tensors) {
    if (!params.contains(name)) {
      throw CheckpointError(file + ": tensor '" + name + "' does not belong to this model (different architecture?)");
    }
  }
  for (auto& p : params) {
    if (is_lora_parameter(p.key())) continue;
    const torch::Tensor* t = weights.find(p.key());
    if (!t) throw CheckpointError(file + ": tensor '" + p.key() + "' is missing");
    if (t->sizes() != p.value().sizes()) {
      throw CheckpointError(file + ": tensor '" + p.key() + "' has shape " + c10::str(t->sizes()) + ", the model needs " +
                            c10::str(p.value().sizes()));
    }
    p.value().copy_(*t);
  }
}

}  // namespace gptforge
