#include "train/checkpoint.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "checkpoint/run_directory.h"
#include "test_helpers.h"
#include "train/optimizer.h"
#include "util/errors.h"

namespace checkpoint_test {

using namespace gptforge;
using gptforge::testing::TempDir;
namespace fs = std::filesystem;

namespace {
struct TinyNet : torch::nn::Module {
  torch::nn::Linear fc{nullptr};
  TinyNet() { fc = register_module("fc", torch::nn::Linear(4, 3)); }
};

CheckpointContents contents(TinyNet& net, torch::optim::Optimizer* opt, const Config& cfg, int64_t step) {
  CheckpointContents c;
  c.model = &net;
  c.optimizer = opt;
  c.config = &cfg;
  c.state.step = step;
  c.state.tokens = step * 100;
  c.state.loader_states = {"state-" + std::to_string(step)};
  c.state.rng_cpu = cpu_rng_state();
  c.tokenizer_model = "tokenizer bytes";
  return c;
}

std::string load_error(const std::string& path) {
  try {
    load_checkpoint(path);
  } catch (const CheckpointError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(Checkpoint, SaveLoadRoundTripsWeightsStateAndOptimizer) {
  TempDir dir;
  Config cfg = load_config("", {"model.n_layer=3"});
  TinyNet net;
  auto opt = make_optimizer(net, cfg.train);
  net.fc->forward(torch::randn({2, 4})).sum().backward();
  opt->step();
  std::string path = save_checkpoint(dir.path(), contents(net, opt.get(), cfg, 7), true, 2);
  EXPECT_EQ(fs::path(path).filename(), "step_0000007");

  LoadedCheckpoint ck = load_checkpoint(dir.path());  // a run directory resolves to its latest
  EXPECT_EQ(ck.state.step, 7);
  EXPECT_EQ(ck.state.loader_states, std::vector<std::string>{"state-7"});
  EXPECT_EQ(ck.config.model.n_layer, 3);
  EXPECT_EQ(ck.tokenizer_model, "tokenizer bytes");
  TinyNet other;
  load_weights(other, ck.weights, ck.dir);
  EXPECT_TRUE(torch::equal(other.fc->weight, net.fc->weight));
  auto opt2 = make_optimizer(other, cfg.train);
  load_optimizer(*opt2, ck.optimizer_path);
  // Same optimizer state: one more identical step gives identical weights.
  for (auto* n : {&net, &other}) {
    n->zero_grad();
    n->fc->forward(torch::ones({2, 4})).sum().backward();
  }
  opt->step();
  opt2->step();
  EXPECT_TRUE(torch::equal(other.fc->weight, net.fc->weight));
}

TEST(Checkpoint, RngStateRestoresTheSameRandomStream) {
  std::string state = cpu_rng_state();
  auto a = torch::rand({5});
  set_cpu_rng_state(state);
  EXPECT_TRUE(torch::equal(torch::rand({5}), a));
}

TEST(Checkpoint, KeepsLastKAndTheBest) {
  TempDir dir;
  Config cfg;
  TinyNet net;
  save_checkpoint(dir.path(), contents(net, nullptr, cfg, 1), true, 2);
  for (int step = 2; step <= 5; ++step) save_checkpoint(dir.path(), contents(net, nullptr, cfg, step), false, 2);
  EXPECT_TRUE(fs::exists(dir.file("step_0000001")));  // the best survives pruning
  EXPECT_FALSE(fs::exists(dir.file("step_0000002")));
  EXPECT_FALSE(fs::exists(dir.file("step_0000003")));
  EXPECT_TRUE(fs::exists(dir.file("step_0000004")));
  EXPECT_TRUE(fs::exists(dir.file("step_0000005")));
  EXPECT_EQ(load_checkpoint(dir.file("best")).state.step, 1);
  EXPECT_EQ(load_checkpoint(dir.file("latest")).state.step, 5);
  // Saving the same step again replaces it cleanly.
  save_checkpoint(dir.path(), contents(net, nullptr, cfg, 5), false, 2);
  EXPECT_EQ(load_checkpoint(dir.path()).state.step, 5);
}

TEST(Checkpoint, LeftoverTemporaryDirectoryDoesNotDisturbTheLastGoodOne) {
  TempDir dir;
  Config cfg;
  TinyNet net;
  save_checkpoint(dir.path(), contents(net, nullptr, cfg, 3), false, 2);
  // What a kill in the middle of the next save leaves behind: a partial hidden directory.
  fs::create_directories(dir.file(".tmp-step_0000004-999"));
  std::ofstream(dir.file(".tmp-step_0000004-999/model.safetensors")) << "partial";
  EXPECT_EQ(load_checkpoint(dir.path()).state.step, 3);
}

TEST(Checkpoint, TruncatedCorruptedOrIncompleteCheckpointsAreRejectedByName) {
  TempDir dir;
  Config cfg;
  TinyNet net;
  std::string path = save_checkpoint(dir.path(), contents(net, nullptr, cfg, 1), false, 3);
  std::string weights = path + "/model.safetensors";
  std::string bytes;
  {
    std::ifstream in(weights, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  // Flip one byte of the weights: same size, wrong checksum.
  std::string flipped = bytes;
  flipped[flipped.size() - 1] ^= 0x5a;
  std::ofstream(weights, std::ios::binary | std::ios::trunc) << flipped;
  std::string msg = load_error(path);
  EXPECT_NE(msg.find(weights), std::string::npos) << msg;
  EXPECT_NE(msg.find("corrupted"), std::string::npos) << msg;
  // Truncate it.
  std::ofstream(weights, std::ios::binary | std::ios::trunc) << bytes.substr(0, bytes.size() / 2);
  msg = load_error(path);
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
  // Remove it.
  fs::remove(weights);
  msg = load_error(path);
  EXPECT_NE(msg.find("missing"), std::string::npos) << msg;
  EXPECT_NE(load_error(dir.file("nothere")).find("no such checkpoint"), std::string::npos);
}

TEST(Checkpoint, WeightsOfAnotherArchitectureAreRejected) {
  TempDir dir;
  Config cfg;
  TinyNet net;
  std::string path = save_checkpoint(dir.path(), contents(net, nullptr, cfg, 1), false, 1);
  LoadedCheckpoint ck = load_checkpoint(path);
  struct Wider : torch::nn::Module {
    torch::nn::Linear fc{nullptr};
    Wider() { fc = register_module("fc", torch::nn::Linear(4, 5)); }
  } wider;
  try {
    load_weights(wider, ck.weights, ck.dir);
    FAIL() << "no error";
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("'fc.weight' has shape"), std::string::npos) << e.what();
  }
}

namespace {
// The optimizer state of `net` after one step, saved with a checkpoint; returns optimizer.pt's path.
std::string saved_optimizer_state(const std::string& dir, torch::nn::Module& net, torch::nn::Linear& fc) {
  Config cfg;
  auto opt = make_optimizer(net, cfg.train);
  fc->forward(torch::randn({2, 4}, fc->weight.options())).sum().backward();
  opt->step();
  CheckpointContents c;
  c.model = &net;
  c.optimizer = opt.get();
  c.config = &cfg;
  c.state.step = 1;
  c.state.loader_states = {"s"};
  return save_checkpoint(dir, c, false, 1) + "/optimizer.pt";
}

std::string optimizer_load_error(torch::nn::Module& net, const std::string& path) {
  Config cfg;
  auto opt = make_optimizer(net, cfg.train);
  load_optimizer(*opt, path);
  return optimizer_state_mismatch(*opt, net);
}
}  // namespace

TEST(Checkpoint, OptimizerStateOfAnotherShapeIsRefusedNamingTheTensor) {
  // Same number of parameters per group, other shapes: the fused step would write past the buffers.
  TempDir dir;
  TinyNet net;
  const std::string path = saved_optimizer_state(dir.path(), net, net.fc);
  struct Wider : torch::nn::Module {
    torch::nn::Linear fc{nullptr};
    Wider() { fc = register_module("fc", torch::nn::Linear(4, 5)); }
  } wider;
  const std::string msg = optimizer_load_error(wider, path);
  EXPECT_NE(msg.find("exp_avg of 'fc.weight' has shape [3, 4], the parameter [5, 4]"), std::string::npos) << msg;
  TinyNet same;
  EXPECT_EQ(optimizer_load_error(same, path), "");
}

TEST(Checkpoint, OptimizerStateOfAnotherDtypeIsRefusedNamingTheTensor) {
  TempDir dir;
  TinyNet doubled;
  doubled.to(torch::kDouble);
  const std::string path = saved_optimizer_state(dir.path(), doubled, doubled.fc);
  TinyNet net;
  const std::string msg = optimizer_load_error(net, path);
  EXPECT_NE(msg.find("exp_avg of 'fc.weight' has dtype Double, the parameter Float"), std::string::npos) << msg;
}

namespace {
// The id of a process that has exited: what the hidden names of a killed save carry.
std::string dead_pid() {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  ::waitpid(pid, nullptr, 0);
  return std::to_string(pid);
}

std::vector<std::string> entries(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}
}  // namespace

TEST(Checkpoint, TidyPointsLatestAtACheckpointPublishedButNotYetLinked) {
  // A kill after rename(staging -> step_5) but before `latest` moved: latest still shows step 3.
  TempDir dir;
  Config cfg;
  TinyNet net;
  save_checkpoint(dir.path(), contents(net, nullptr, cfg, 3), false, 5);
  save_checkpoint(dir.path(), contents(net, nullptr, cfg, 5), false, 5);
  fs::remove(dir.file("latest"));
  fs::create_directory_symlink("step_0000003", dir.file("latest"));
  tidy_run_directory(dir.path());
  EXPECT_EQ(fs::read_symlink(dir.file("latest")), "step_0000005");
  EXPECT_EQ(load_checkpoint(dir.path()).state.step, 5);
}

TEST(Checkpoint, TidyPassesOverANewerCheckpointThatFailsItsManifest) {
  TempDir dir;
  Config cfg;
  TinyNet net;
  save_checkpoint(dir.path(), contents(net, nullptr, cfg, 3), false, 5);
  save_checkpoint(dir.path(), contents(net, nullptr, cfg, 5), false, 5);
  fs::remove(dir.file("latest"));
  fs::create_directory_symlink("step_0000003", dir.file("latest"));
  std::ofstream(dir.file("step_0000005/model.safetensors"), std::ios::app) << "x";  // altered
  tidy_run_directory(dir.path());
  EXPECT_EQ(fs::read_symlink(dir.file("latest")), "step_0000003");
}

TEST(Checkpoint, TidyPutsBackACheckpointCaughtBetweenTheRenamesOfItsReplacement) {
  // A save of step 5 over step_5 killed between rename(step_5 -> old copy) and rename(new -> step_5):
  // step_5 is missing, `latest` dangles, the complete old copy and the complete new one lie beside.
  TempDir dir;
  Config cfg;
  TinyNet net;
  save_checkpoint(dir.path(), contents(net, nullptr, cfg, 3), false, 5);
  save_checkpoint(dir.path(), contents(net, nullptr, cfg, 5), false, 5);
  const std::string pid = dead_pid();
  fs::rename(dir.file("step_0000005"), dir.file(".step_0000005.old-" + pid));
  fs::create_directories(dir.file(".step_0000005.tmp-" + pid));
  ASSERT_FALSE(has_checkpoint(dir.path()));
  tidy_run_directory(dir.path());
  EXPECT_EQ(fs::read_symlink(dir.file("latest")), "step_0000005");
  EXPECT_EQ(load_checkpoint(dir.path()).state.step, 5);
  EXPECT_EQ(entries(dir.path()), (std::vector<std::string>{"latest", "step_0000003", "step_0000005"}));
}

TEST(Checkpoint, TidyRemovesTheLeftoversOfKilledSavesOnly) {
  TempDir dir;
  Config cfg;
  TinyNet net;
  save_checkpoint(dir.path(), contents(net, nullptr, cfg, 3), false, 5);
  const std::string dead = dead_pid(), live = std::to_string(::getppid());
  for (const std::string& pid : {dead, live}) {
    fs::create_directories(dir.file(".step_0000004.tmp-" + pid));
    std::ofstream(dir.file(".step_0000004.tmp-" + pid + "/model.safetensors")) << "partial";
    fs::create_directories(dir.file(".step_0000002.old-" + pid));
    fs::create_directories(dir.file(".trash-step_0000001-" + pid + "/x"));
    fs::create_directory_symlink("step_0000003", dir.file(".latest.tmp." + pid));
  }
  tidy_run_directory(dir.path());
  // The live process's entries may still be in use: they stay.
  EXPECT_EQ(entries(dir.path()),
            (std::vector<std::string>{".latest.tmp." + live, ".step_0000002.old-" + live, ".step_0000004.tmp-" + live,
                                      ".trash-step_0000001-" + live, "latest", "step_0000003"}));
  EXPECT_EQ(load_checkpoint(dir.path()).state.step, 3);
}

TEST(Checkpoint, PruningLeavesNoHiddenTrashBehind) {
  TempDir dir;
  Config cfg;
  TinyNet net;
  for (int step = 1; step <= 4; ++step) save_checkpoint(dir.path(), contents(net, nullptr, cfg, step), false, 1);
  EXPECT_EQ(entries(dir.path()), (std::vector<std::string>{"latest", "step_0000004"}));
}

TEST(Checkpoint, ACopiedRunDirectoryWhoseLinksAreDirectoriesKeepsSaving) {
  // `cp -rL` turns latest and best into directories; the next save must still move them.
  TempDir src, dir;
  Config cfg;
  TinyNet net;
  save_checkpoint(src.path(), contents(net, nullptr, cfg, 2), true, 3);
  fs::remove_all(dir.path());
  fs::create_directories(dir.path());
  for (const auto& e : fs::directory_iterator(src.path())) {
    fs::copy(fs::canonical(e.path()), dir.path() + "/" + e.path().filename().string(), fs::copy_options::recursive);
  }
  ASSERT_TRUE(fs::is_directory(fs::symlink_status(dir.file("latest"))));
  save_checkpoint(dir.path(), contents(net, nullptr, cfg, 3), true, 3);
  EXPECT_EQ(fs::read_symlink(dir.file("latest")), "step_0000003");
  EXPECT_EQ(fs::read_symlink(dir.file("best")), "step_0000003");
  EXPECT_EQ(entries(dir.path()), (std::vector<std::string>{"best", "latest", "step_0000002", "step_0000003"}));
  // A copy whose step directory was not copied becomes that step directory again.
  fs::remove(dir.file("latest"));
  fs::rename(dir.file("step_0000003"), dir.file("latest"));
  tidy_run_directory(dir.path());
  EXPECT_EQ(fs::read_symlink(dir.file("latest")), "step_0000003");
  EXPECT_EQ(load_checkpoint(dir.path()).state.step, 3);
}

TEST(Checkpoint, WeightsOfAnotherDtypeOrNotFiniteAreRefusedNamingTheTensor) {
  TinyNet net;
  auto error = [&](const torch::Tensor& weight) {
    SafetensorsFile f;
    f.tensors = {{"fc.weight", weight}, {"fc.bias", torch::zeros({3})}};
    try {
      load_weights(net, f, "w.safetensors");
    } catch (const CheckpointError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_EQ(error(torch::ones({3, 4})), "");
  for (auto [dtype, name] : {std::pair{torch::kFloat16, "F16"}, {torch::kFloat64, "F64"}, {torch::kInt32, "I32"},
                             {torch::kBool, "BOOL"}}) {
    const std::string msg = error(torch::ones({3, 4}, dtype));
    EXPECT_NE(msg.find(std::string("w.safetensors: tensor 'fc.weight' is ") + name + ", the model's parameters are F32"),
              std::string::npos)
        << msg;
  }
  torch::Tensor nan = torch::ones({3, 4});
  nan[1][2] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_NE(error(nan).find("tensor 'fc.weight' holds non-finite values"), std::string::npos) << error(nan);
  EXPECT_NE(error(torch::full({3, 4}, INFINITY)).find("non-finite"), std::string::npos);
}

TEST(Checkpoint, AFullDiskUnderAStreamedWriteIsOneErrorNamingTheFile) {
  // LibTorch's serialiser writes 4 MB onto /dev/full (every write fails with ENOSPC). The stream
  // never fails it (it would throw again from a destructor and end the process); the error comes
  // once, after it, naming the file.
  if (::access("/dev/full", W_OK) != 0) GTEST_SKIP() << "no writable /dev/full";
  torch::Tensor big = torch::ones({1024, 1024});
  try {
    write_checkpoint_stream("/dev/full", [&](std::ostream& out) { torch::save(big, out); });
    ADD_FAILURE() << "writing to /dev/full succeeded";
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("/dev/full: write failed (No space left on device; disk full?)"), std::string::npos)
        << e.what();
  }
  // Written to a real file, the same stream holds exactly what LibTorch wrote.
  TempDir dir;
  const std::string path = dir.file("t.pt");
  write_checkpoint_stream(path, [&](std::ostream& out) { torch::save(big, out); });
  torch::Tensor back;
  torch::load(back, path);
  EXPECT_TRUE(torch::equal(back, big));
  // A writer's own exception passes through unchanged.
  EXPECT_THROW(write_checkpoint_stream(dir.file("x"), [](std::ostream&) { throw std::runtime_error("writer"); }),
               std::runtime_error);
}

}  // namespace checkpoint_test
