#include "train/checkpoint.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "util/errors.h"
#include "util/files.h"
#include "util/log.h"

namespace fs = std::filesystem;

namespace gptforge {

namespace {

const char* kFiles[] = {"model.safetensors", "optimizer.pt", "trainer_state.json", "config.yaml", "tokenizer.model"};

std::string to_hex(const torch::Tensor& bytes) {
  static const char* digits = "0123456789abcdef";
  torch::Tensor t = bytes.contiguous().to(torch::kCPU);
  const auto* p = t.data_ptr<uint8_t>();
  std::string out;
  out.reserve(t.numel() * 2);
  for (int64_t i = 0; i < t.numel(); ++i) {
    out += digits[p[i] >> 4];
    out += digits[p[i] & 15];
  }
  return out;
}

torch::Tensor from_hex(const std::string& hex) {
  auto t = torch::empty({static_cast<int64_t>(hex.size() / 2)}, torch::kUInt8);
  auto* p = t.data_ptr<uint8_t>();
  auto val = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  for (size_t i = 0; i + 1 < hex.size(); i += 2) p[i / 2] = static_cast<uint8_t>(val(hex[i]) << 4 | val(hex[i + 1]));
  return t;
}

std::string step_name(int64_t step) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "step_%07lld", static_cast<long long>(step));
  return buf;
}

void write_plain(const fs::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  out.flush();
  if (!out) throw CheckpointError(path.string() + ": write failed (disk full?)");
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

}  // namespace

nlohmann::json TrainerState::to_json() const {
  return {{"kind", kind},
          {"step", step},
          {"tokens", tokens},
          {"elapsed_s", elapsed_s},
          {"best_val_loss", std::isfinite(best_val_loss) ? nlohmann::json(best_val_loss) : nlohmann::json(nullptr)},
          {"best_step", best_step},
          {"evals_since_best", evals_since_best},
          {"skipped_steps", skipped_steps},
          {"world_size", world_size},
          {"loader_states", loader_states},
          {"rng_cpu", rng_cpu},
          {"rng_cpu_ranks", rng_cpu_ranks},
          {"rng_cuda", rng_cuda}};
}

TrainerState TrainerState::from_json(const nlohmann::json& j) {
  TrainerState s;
  s.kind = j.at("kind").get<std::string>();
  s.step = j.at("step").get<int64_t>();
  s.tokens = j.at("tokens").get<int64_t>();
  s.elapsed_s = j.at("elapsed_s").get<double>();
  s.best_val_loss = j.at("best_val_loss").is_null() ? std::numeric_limits<double>::infinity()
                                                    : j.at("best_val_loss").get<double>();
  s.best_step = j.at("best_step").get<int64_t>();
  s.evals_since_best = j.value("evals_since_best", int64_t(0));
  s.skipped_steps = j.at("skipped_steps").get<int64_t>();
  s.world_size = j.at("world_size").get<int64_t>();
  s.loader_states = j.at("loader_states").get<std::vector<std::string>>();
  s.rng_cpu = j.at("rng_cpu").get<std::string>();
  s.rng_cpu_ranks = j.value("rng_cpu_ranks", std::vector<std::string>());
  s.rng_cuda = j.value("rng_cuda", std::string());
  return s;
}

std::string cpu_rng_state() {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  return to_hex(gen.get_state());
}

void set_cpu_rng_state(const std::string& hex) {
  if (hex.empty()) return;
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(from_hex(hex));
}

std::vector<std::pair<std::string, torch::Tensor>> model_tensors(torch::nn::Module& model) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (auto& p : model.named_parameters()) out.emplace_back(p.key(), p.value());
  return out;
}

std::string save_checkpoint(const std::string& out_dir, const CheckpointContents& c, bool is_best,
                            int64_t keep_last) {
  fs::path root(out_dir);
  fs::create_directories(root);
  const std::string name = step_name(c.state.step);
  fs::path tmp = root / (".tmp-" + name + "-" + std::to_string(::getpid()));
  std::error_code ec;
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp);
  try {
    save_safetensors((tmp / "model.safetensors").string(), model_tensors(*c.model),
                     {{"format", "gptforge"}, {"step", std::to_string(c.state.step)}});
    if (c.optimizer) torch::save(*c.optimizer, (tmp / "optimizer.pt").string());
    write_plain(tmp / "trainer_state.json", c.state.to_json().dump(2) + "\n");
    write_plain(tmp / "config.yaml", "# Resolved gptforge config of this checkpoint\n" + config_to_yaml(*c.config));
    write_plain(tmp / "tokenizer.model", c.tokenizer_model);
    nlohmann::json manifest = {{"format", "gptforge-checkpoint"}, {"version", 1}, {"step", c.state.step}};
    for (const char* f : kFiles) {
      fs::path p = tmp / f;
      if (!fs::exists(p)) continue;
      fsync_path(p.string());
      manifest["files"][f] = {{"bytes", fs::file_size(p)}, {"fnv1a64", std::to_string(file_hash(p.string()))}};
    }
    write_plain(tmp / "manifest.json", manifest.dump(2) + "\n");
    fsync_path((tmp / "manifest.json").string());
    fsync_path(tmp.string());
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
  // Move into place. A checkpoint of the same step (say, an interrupt right after a periodic save)
  // is swapped out first and removed only once the new one stands.
  fs::path final_dir = root / name;
  fs::path old = root / (".old-" + name + "-" + std::to_string(::getpid()));
  bool replaced = fs::exists(final_dir);
  if (replaced) fs::rename(final_dir, old);
  fs::rename(tmp, final_dir);
  fsync_path(root.string());
  point_link(root, "latest", name);
  if (is_best) point_link(root, "best", name);
  fsync_path(root.string());
  if (replaced) fs::remove_all(old, ec);

  // Prune: keep the newest keep_last step directories and whatever `best` points at.
  std::vector<std::string> steps;
  for (const auto& e : fs::directory_iterator(root)) {
    std::string n = e.path().filename().string();
    if (e.is_directory() && !e.is_symlink() && n.rfind("step_", 0) == 0) steps.push_back(n);
  }
  std::sort(steps.begin(), steps.end());
  const std::string best = link_target(root, "best");
  for (size_t i = 0; i + static_cast<size_t>(keep_last) < steps.size(); ++i) {
    if (steps[i] != best && steps[i] != name) fs::remove_all(root / steps[i], ec);
  }
  return final_dir.string();
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

LoadedCheckpoint load_checkpoint(const std::string& path) {
  LoadedCheckpoint ck;
  ck.dir = resolve_checkpoint(path);
  fs::path dir(ck.dir);
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
  } catch (const nlohmann::json::exception& e) {
    throw CheckpointError((dir / "manifest.json").string() + ": malformed (" + e.what() + ")");
  } catch (const DataError& e) {
    throw CheckpointError(e.what());
  }
  for (const char* required : {"model.safetensors", "config.yaml", "tokenizer.model", "trainer_state.json"}) {
    if (!manifest.at("files").contains(required)) {
      throw CheckpointError((dir / required).string() + ": missing from the checkpoint");
    }
  }
  try {
    ck.config = load_config((dir / "config.yaml").string());
  } catch (const ConfigError& e) {
    throw CheckpointError(std::string("checkpoint config is not valid for this gptforge: ") + e.what());
  }
  ck.weights = load_safetensors((dir / "model.safetensors").string());
  ck.tokenizer_model = read_file((dir / "tokenizer.model").string());
  try {
    ck.state = TrainerState::from_json(nlohmann::json::parse(read_file((dir / "trainer_state.json").string())));
  } catch (const nlohmann::json::exception& e) {
    throw CheckpointError((dir / "trainer_state.json").string() + ": malformed (" + e.what() + ")");
  }
  if (fs::exists(dir / "optimizer.pt")) ck.optimizer_path = (dir / "optimizer.pt").string();
  return ck;
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
    const torch::Tensor* t = weights.find(p.key());
    if (!t) throw CheckpointError(file + ": tensor '" + p.key() + "' is missing");
    if (t->sizes() != p.value().sizes()) {
      throw CheckpointError(file + ": tensor '" + p.key() + "' has shape " + c10::str(t->sizes()) + ", the model needs " +
                            c10::str(p.value().sizes()));
    }
    p.value().copy_(*t);
  }
}

void load_optimizer(torch::optim::Optimizer& opt, const std::string& path) {
  try {
    torch::load(opt, path);
  } catch (const c10::Error& e) {
    throw CheckpointError(path + ": cannot load optimizer state (" + e.what_without_backtrace() + ")");
  }
}

}  // namespace gptforge
