#include "checkpoint/checkpoint.h"
#include "checkpoint/run_directory.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <ostream>
#include <streambuf>
#include <vector>
#include <nlohmann/json.hpp>
#include <regex>

#include "checkpoint/adapters.h"
#include "model/lora.h"
#include "util/errors.h"
#include "util/fault_injection.h"
#include "util/files.h"
#include "util/log.h"
#include "util/staging.h"

namespace fs = std::filesystem;

namespace gptforge {

namespace {

std::string step_name(int64_t step) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "step_%07lld", static_cast<long long>(step));
  return buf;
}

// The hidden entries a save makes beside the checkpoints, each named after the process that made
// it: the staging directory and the replaced copy of a checkpoint (util/staging.h), a link being
// made, a pruned checkpoint being deleted. A kill leaves them behind; tidy_run_directory removes them.
const std::regex kStaged(R"(\.(step_\d+)\.(tmp|old)-(\d+))");
const std::regex kLinkTmp(R"(\.(latest|best)\.tmp\.(\d+))");
const std::regex kTrash(R"(\.trash-(.+)-(\d+))");

std::string pid_tag() { return std::to_string(::getpid()); }

// Whether the process that named a hidden entry may still be writing it. At the start of a run our
// own id is a reused one: nothing of ours exists yet.
bool owner_alive(const std::string& pid_text) {
  const pid_t pid = static_cast<pid_t>(std::stoll(pid_text));
  if (pid == ::getpid()) return false;
  return ::kill(pid, 0) == 0 || errno != ESRCH;
}

// The step a step_<N> name stands for, or -1.
int64_t step_of(const std::string& name) {
  static const std::regex re(R"(step_(\d+))");
  std::smatch m;
  return std::regex_match(name, m, re) ? std::stoll(m[1].str()) : -1;
}

// Removes a checkpoint directory so that a kill midway never leaves a half-deleted one under its
// name: renamed to a hidden trash name first (atomic), then deleted.
void discard(const fs::path& dir, int64_t step_for_faults = -1) {
  const fs::path trash = dir.parent_path() / (".trash-" + dir.filename().string() + "-" + pid_tag());
  std::error_code ec;
  fs::remove_all(trash, ec);
  fs::rename(dir, trash, ec);
  if (ec) return;
  crash_point("checkpoint.pruning", step_for_faults);
  fs::remove_all(trash, ec);
}

// A `latest` or `best` that is a real directory rather than a link: a run directory copied with
// `cp -rL` or `rsync -L`. It is a copy of a checkpoint: it becomes that checkpoint's step_<N> when
// the run lacks one, and is dropped otherwise, so that the link can be made again.
void replace_copied_link(const fs::path& root, const std::string& link) {
  const fs::path p = root / link;
  std::error_code ec;
  const auto st = fs::symlink_status(p, ec);
  if (ec || !fs::is_directory(st)) return;
  int64_t step = -1;
  try {
    step = nlohmann::json::parse(read_file((p / "manifest.json").string())).at("step").get<int64_t>();
  } catch (const std::exception&) {
    throw CheckpointError(p.string() + ": a directory, not a link to a checkpoint, and holds no readable "
                          "manifest.json: move it out of the run directory");
  }
  const fs::path own = root / step_name(step);
  if (!fs::exists(own)) {
    fs::rename(p, own);
    log_info(p.string() + " was a copy, not a link: kept as " + own.filename().string());
  } else {
    discard(p);
    log_info(p.string() + " was a copy of " + own.filename().string() + ", not a link: removed");
  }
}

// Points `link` (a symlink in dir) at `target` atomically: a new link renamed over the old one.
void point_link(const fs::path& dir, const std::string& link, const std::string& target) {
  replace_copied_link(dir, link);
  fs::path tmp = dir / ("." + link + ".tmp." + pid_tag());
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

uint64_t file_hash(const std::string& path) { return fnv1a64_file(path); }

// Keeps the newest keep_last step directories, `keep` and whatever `best` points at.
void prune(const fs::path& root, const std::string& keep, int64_t keep_last) {
  std::vector<std::string> steps;
  for (const auto& e : fs::directory_iterator(root)) {
    std::string n = e.path().filename().string();
    if (e.is_directory() && !e.is_symlink() && step_of(n) >= 0) steps.push_back(n);
  }
  std::sort(steps.begin(), steps.end());
  const std::string best = link_target(root, "best");
  for (size_t i = 0; i + static_cast<size_t>(keep_last) < steps.size(); ++i) {
    if (steps[i] != best && steps[i] != keep) discard(root / steps[i], step_of(keep));
  }
}

// Checks every file the manifest lists (present, size, checksum). Returns the manifest.
nlohmann::json verify_manifest(const fs::path& dir) {
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
  return manifest;
}

// Points `latest` at the newest complete checkpoint when a kill left it behind: after the rename
// that published step_<N> but before the link moved, or between the two renames that replace a
// checkpoint of the same step (step_<N> is then missing, its complete copy .step_<N>.old-<pid>
// beside it). Only candidates newer than what `latest` shows are verified against their manifests.
void repair_latest(const fs::path& root) {
  struct Candidate {
    int64_t step;
    fs::path dir;
    bool beside;  // a replaced copy, not under its own name
  };
  std::vector<Candidate> found;
  for (const auto& e : fs::directory_iterator(root)) {
    const std::string n = e.path().filename().string();
    std::smatch m;
    if (e.is_directory() && !e.is_symlink() && step_of(n) >= 0) {
      found.push_back({step_of(n), e.path(), false});
    } else if (std::regex_match(n, m, kStaged) && m[2] == "old" && !owner_alive(m[3].str())) {
      found.push_back({step_of(m[1].str()), e.path(), true});
    }
  }
  // Newest first; at the same step, the checkpoint under its own name first.
  std::sort(found.begin(), found.end(), [](const Candidate& a, const Candidate& b) {
    return a.step != b.step ? a.step > b.step : a.beside < b.beside;
  });
  const std::string current = link_target(root, "latest");
  const bool current_stands = fs::exists(root / "latest" / "manifest.json");
  for (const auto& c : found) {
    if (!c.beside && c.dir.filename() == current && current_stands) return;  // latest is the newest
    try {
      verify_manifest(c.dir);
    } catch (const CheckpointError& e) {
      log_warn(std::string("passing over an incomplete checkpoint: ") + e.what());
      continue;
    }
    const std::string name = step_name(c.step);
    if (c.beside) {
      if (fs::exists(root / name)) discard(root / name);  // failed verification above
      fs::rename(c.dir, root / name);
    }
    point_link(root, "latest", name);
    fsync_path(root.string());
    log_info((root / "latest").string() + " -> " + name + ": repaired (a save was interrupted)");
    return;
  }
}

// Removes what killed saves left: staging directories, replaced copies, half-made links, trash.
void remove_leftovers(const fs::path& root) {
  for (const auto& e : fs::directory_iterator(root)) {
    const std::string n = e.path().filename().string();
    std::smatch m;
    std::string pid;
    if (std::regex_match(n, m, kStaged)) {
      pid = m[3].str();
    } else if (std::regex_match(n, m, kLinkTmp) || std::regex_match(n, m, kTrash)) {
      pid = m[2].str();
    } else {
      continue;
    }
    if (owner_alive(pid)) continue;
    std::error_code ec;
    fs::remove_all(e.path(), ec);
    log_info("removed " + e.path().string() + ", left by an interrupted save");
  }
}

// A stream buffer over a file that never fails its writer: after the first failed write (a full
// disk) it keeps the error and drops the rest, and write_checkpoint_stream raises it once the writer
// is done. LibTorch's serialiser, handed a failing stream, throws again from its destructor while the
// first exception unwinds, which ends the process.
class CheckpointFileBuf final : public std::streambuf {
 public:
  explicit CheckpointFileBuf(int fd) : fd_(fd), buffer_(size_t(1) << 20) { setp(buffer_.data(), buffer_.data() + buffer_.size()); }
  int error() const { return error_; }
  bool drain() {
    const char* p = pbase();
    size_t left = static_cast<size_t>(pptr() - pbase());
    while (left > 0 && error_ == 0) {
      const ssize_t n = ::write(fd_, p, left);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        error_ = n < 0 ? errno : EIO;
        break;
      }
      p += n;
      left -= static_cast<size_t>(n);
    }
    setp(buffer_.data(), buffer_.data() + buffer_.size());
    return error_ == 0;
  }

 protected:
  int_type overflow(int_type ch) override {
    drain();
    if (!traits_type::eq_int_type(ch, traits_type::eof())) {
      *pptr() = traits_type::to_char_type(ch);
      pbump(1);
    }
    return traits_type::not_eof(ch);
  }
  int sync() override {
    drain();
    return 0;
  }

 private:
  int fd_;
  std::vector<char> buffer_;
  int error_ = 0;
};
}  // namespace

void write_checkpoint_stream(const std::string& path, const std::function<void(std::ostream&)>& write) {
  const int fd = ::open(write_destination(path).c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw CheckpointError(path + ": cannot open for writing (" + std::strerror(errno) + ")");
  CheckpointFileBuf buf(fd);
  std::ostream out(&buf);
  try {
    write(out);
  } catch (...) {
    ::close(fd);
    throw;
  }
  buf.drain();
  int err = buf.error();
  if (::close(fd) != 0 && err == 0) err = errno;
  if (err) throw CheckpointError(path + ": write failed (" + std::strerror(err) + "; disk full?)");
}

void write_checkpoint_file(const std::string& path, const std::string& content) {
  write_checkpoint_stream(path, [&](std::ostream& out) { out.write(content.data(), static_cast<std::streamsize>(content.size())); });
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
  // Every file goes through write_checkpoint_stream (or write_checkpoint_file over it), which reports
  // a failed write (a full disk) as one error naming the file; the staging directory is then removed.
  // Streamed to the files, tensor by tensor: a copy of the model in memory would add its size to
  // the training run's peak.
  write_checkpoint_stream((tmp / "model.safetensors").string(), [&](std::ostream& out) {
    write_safetensors(out, model_tensors(*a.model), {{"format", "gptforge"}, {"step", std::to_string(a.step)}});
  });
  const auto adapters = adapter_file_tensors(*a.model, a.config->model);
  if (!adapters.empty()) {
    write_checkpoint_stream((tmp / kAdapterFile).string(), [&](std::ostream& out) {
      write_safetensors(out, adapters, adapter_file_metadata(a.config->lora));
    });
  }
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
  crash_point("checkpoint.staged", a.step);
  const std::string final_dir = staged.commit();
  crash_point("checkpoint.published", a.step);

  point_link(root, "latest", name);
  if (is_best) point_link(root, "best", name);
  fsync_path(root.string());
  crash_point("checkpoint.linked", a.step);
  prune(root, name, keep_last);
  return final_dir;
}

void tidy_run_directory(const std::string& out_dir) {
  const fs::path root(out_dir);
  if (!fs::is_directory(root)) return;
  replace_copied_link(root, "latest");
  replace_copied_link(root, "best");
  repair_latest(root);
  remove_leftovers(root);
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
  const nlohmann::json manifest = verify_manifest(dir);
  m.step = manifest.value("step", int64_t(0));
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
    // gptforge writes weights in the parameters' own dtype; any other was made elsewhere, and a
    // silent conversion (a bool or an int tensor into floats) would hide that.
    if (t->scalar_type() != p.value().scalar_type()) {
      throw CheckpointError(file + ": tensor '" + p.key() + "' is " + safetensors_dtype(t->scalar_type()) +
                            ", the model's parameters are " + safetensors_dtype(p.value().scalar_type()));
    }
    // A model of NaNs loads and samples blanks: refuse it here, where the tensor can be named.
    if (!torch::isfinite(*t).all().item<bool>()) {
      throw CheckpointError(file + ": tensor '" + p.key() + "' holds non-finite values (NaN or infinity)");
    }
    p.value().copy_(*t);
  }
}

}  // namespace gptforge
