#include "train/checkpoint.h"

#include <filesystem>

#include "util/errors.h"
#include "util/files.h"

namespace fs = std::filesystem;

namespace gptforge {

namespace {

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
          {"planned_steps", planned_steps},
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
  s.planned_steps = j.value("planned_steps", int64_t(0));  // absent before it was stored
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

std::string save_checkpoint(const std::string& out_dir, const CheckpointContents& c, bool is_best,
                            int64_t keep_last) {
  ModelArtifact artifact{c.model, c.config, c.tokenizer_model, c.state.step};
  return save_model(out_dir, artifact, is_best, keep_last, [&](const std::string& dir) {
    // Onto a stream that never fails LibTorch's writer (write_checkpoint_stream): its own file writer
    // throws from a destructor when the disk fills up, which ends the process (std::terminate).
    if (c.optimizer) {
      write_checkpoint_stream(dir + "/optimizer.pt", [&](std::ostream& out) { torch::save(*c.optimizer, out); });
    }
    write_checkpoint_file(dir + "/trainer_state.json", c.state.to_json().dump(2) + "\n");
  });
}

LoadedCheckpoint load_checkpoint(const std::string& path) {
  LoadedCheckpoint ck;
  static_cast<StoredModel&>(ck) = read_model(path);
  const fs::path dir(ck.dir);
  ck.state.step = ck.step;
  ck.has_state = fs::exists(dir / "trainer_state.json");
  if (ck.has_state) {
    try {
      ck.state = TrainerState::from_json(nlohmann::json::parse(read_file((dir / "trainer_state.json").string())));
    } catch (const nlohmann::json::exception& e) {
      throw CheckpointError((dir / "trainer_state.json").string() + ": malformed (" + e.what() + ")");
    }
  }
  if (fs::exists(dir / "optimizer.pt")) ck.optimizer_path = (dir / "optimizer.pt").string();
  return ck;
}

void load_optimizer(torch::optim::Optimizer& opt, const std::string& path) {
  try {
    torch::load(opt, path);
  } catch (const c10::Error& e) {
    throw CheckpointError(path + ": cannot load optimizer state (" + e.what_without_backtrace() + ")");
  }
}

}  // namespace gptforge
