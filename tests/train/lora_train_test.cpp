// LoRA fine-tuning through the trainer: a frozen base, an optimiser that holds the adapters only,
// and a resume as exact as a full fine-tune's.
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "checkpoint/adapters.h"
#include "model/lora.h"
#include "test_helpers.h"
#include "train/checkpoint.h"
#include "train/optimizer.h"
#include "train/synthetic_data.h"
#include "train/trainer.h"
#include "util/errors.h"

namespace lora_train_test {

using namespace gptforge;
using gptforge::testing::SyntheticData;
using gptforge::testing::TempDir;

namespace {

Config tiny_config(const std::string& out_dir, std::vector<std::string> extra = {}) {
  std::vector<std::string> o = {"model.vocab_size=16", "model.block_size=16", "model.n_layer=2", "model.n_head=2",
                                "model.d_model=32", "train.batch_size=4", "train.max_steps=10",
                                "train.learning_rate=0.01", "train.min_lr=0.001", "train.warmup_steps=2",
                                "train.eval_interval=5", "train.eval_batches=2", "train.log_interval=1",
                                "train.checkpoint_interval=5", "run.progress=off", "run.log_level=quiet",
                                "run.threads=1", "train.out_dir=" + out_dir};
  o.insert(o.end(), extra.begin(), extra.end());
  return load_config("", o);
}

// A LoRA run on top of the base run in base_dir.
Config lora_config(const std::string& out_dir, const std::string& base_dir) {
  return tiny_config(out_dir, {"train.init_from=" + base_dir, "lora.rank=4", "lora.alpha=8", "lora.dropout=0.1",
                               "lora.targets=[q, v, fc]", "train.max_steps=16", "train.learning_rate=0.05"});
}

std::map<int64_t, double> train_losses(const std::string& path) {
  std::map<int64_t, double> losses;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    if (j.contains("loss")) losses[j["step"].get<int64_t>()] = j["loss"].get<double>();
  }
  return losses;
}

// A base run of 10 steps in dir.
void train_base(const std::string& dir) {
  SyntheticData data(4, 16, 16);
  train_model(tiny_config(dir), data, {});
}

}  // namespace

TEST(LoraTraining, TheOptimiserHoldsTheAdaptersOnly) {
  Config cfg = tiny_config("unused", {"lora.rank=4", "lora.targets=[q, k, v, o, fc, proj]"});
  torch::manual_seed(1);
  GPT model(cfg.model);
  model->add_lora(cfg.lora);
  auto opt = make_optimizer(*model, cfg.train);
  size_t held = 0;
  for (const auto& group : opt->param_groups()) {
    for (const auto& p : group.params()) {
      ++held;
      bool is_adapter = false;
      for (const auto& [name, a] : model->lora_parameters()) is_adapter |= a.is_same(p);
      EXPECT_TRUE(is_adapter);
    }
  }
  EXPECT_EQ(held, model->lora_parameters().size());
  EXPECT_EQ(held, 2u * 6u * 2u);
  // After a step the optimiser's state covers those tensors and nothing else.
  model->forward(torch::randint(16, {2, 8}, torch::kLong)).square().mean().backward();
  opt->step();
  EXPECT_EQ(opt->state().size(), held);
}

TEST(LoraTraining, TheBaseStaysFrozenAndTheAdaptersLearn) {
  TempDir base, run;
  train_base(base.path());
  Config cfg = lora_config(run.path(), base.path());
  SyntheticData data(4, 16, 16);
  TrainSummary s = train_model(cfg, data, {});
  EXPECT_EQ(s.steps, 16);
  LoadedCheckpoint init = load_checkpoint(base.path()), after = load_checkpoint(run.path());
  ASSERT_EQ(after.weights.tensors.size(), init.weights.tensors.size());
  for (const auto& [name, t] : init.weights.tensors) EXPECT_TRUE(torch::equal(*after.weights.find(name), t)) << name;
  ASSERT_EQ(after.adapters.tensors.size(), 2u * 3u * 2u);
  double b_norm = 0;
  for (const auto& [name, t] : after.adapters.tensors) {
    if (name.find("lora_B") != std::string::npos) b_norm += t.abs().sum().item<double>();
  }
  EXPECT_GT(b_norm, 0.0);  // B starts at zero: the adapters were trained
  EXPECT_EQ(after.config.lora.rank, 4);
}

TEST(LoraTraining, InterruptAndResumeIsExact) {
  TempDir base, full, parts;
  train_base(base.path());
  Config cfg = lora_config(full.path(), base.path());
  SyntheticData d1(4, 16, 16);
  train_model(cfg, d1, {});

  Config cfg2 = lora_config(parts.path(), base.path());
  SyntheticData d2(4, 16, 16);
  // SIGINT during step 7's batch: the trainer finishes that step, checkpoints and returns.
  d2.on_next = [](int64_t row) {
    if (row == 7 * 4) gptforge::testing::send_stop_signal(SIGINT);
  };
  TrainSummary first = train_model(cfg2, d2, {});
  EXPECT_TRUE(first.interrupted);
  EXPECT_EQ(first.steps, 7);

  SyntheticData d3(4, 16, 16);
  TrainOptions resume;
  resume.resume = true;
  Config cfg3 = cfg2;
  cfg3.train.init_from.clear();  // as `sft --resume` does: the weights come from the run itself
  TrainSummary second = train_model(cfg3, d3, resume);
  EXPECT_EQ(second.steps, 16);
  auto l1 = train_losses(full.file("metrics.jsonl")), l2 = train_losses(parts.file("metrics.jsonl"));
  ASSERT_EQ(l2.size(), 16u);
  for (int64_t step = 1; step <= 16; ++step) EXPECT_DOUBLE_EQ(l1[step], l2[step]) << "step " << step;
  LoadedCheckpoint a = load_checkpoint(full.path()), b = load_checkpoint(parts.path());
  for (const auto& [name, t] : a.adapters.tensors) EXPECT_TRUE(torch::equal(*b.adapters.find(name), t)) << name;
}

TEST(LoraTraining, ResumingWithOtherLoraSettingsIsRefused) {
  TempDir base, run;
  train_base(base.path());
  Config cfg = lora_config(run.path(), base.path());
  cfg.train.max_steps = 5;
  SyntheticData d1(4, 16, 16);
  train_model(cfg, d1, {});
  cfg.train.max_steps = 8;
  cfg.lora.rank = 2;
  SyntheticData d2(4, 16, 16);
  TrainOptions resume;
  resume.resume = true;
  try {
    train_model(cfg, d2, resume);
    FAIL() << "expected CheckpointError";
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("lora.rank"), std::string::npos) << e.what();
  }
}

TEST(LoraTraining, RankWithoutInitFromIsRefusedNamingTheKey) {
  TempDir run;
  Config cfg = tiny_config(run.path(), {"lora.rank=4"});
  SyntheticData data(4, 16, 16);
  try {
    train_model(cfg, data, {});
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("lora.rank=4 needs train.init_from"), std::string::npos) << e.what();
  }
}

TEST(LoraTraining, BadRankOrTargetIsAConfigErrorNamingTheKey) {
  auto error = [](std::vector<std::string> overrides) -> std::string {
    try {
      tiny_config("unused", std::move(overrides));
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_NE(error({"lora.rank=-1"}).find("lora.rank"), std::string::npos);
  EXPECT_NE(error({"lora.rank=64"}).find("lora.rank (64) must not exceed model.d_model (32)"), std::string::npos)
      << error({"lora.rank=64"});
  EXPECT_NE(error({"lora.rank=4", "lora.targets=[q, x]"}).find("lora.targets"), std::string::npos);
  EXPECT_NE(error({"lora.rank=4", "lora.targets=[gate]"}).find("lora.targets: 'gate' is not a layer"),
            std::string::npos)
      << error({"lora.rank=4", "lora.targets=[gate]"});
  EXPECT_NE(error({"lora.rank=4", "lora.targets=[]"}).find("lora.targets is empty"), std::string::npos);
  EXPECT_EQ(error({"lora.rank=4", "lora.targets=[q, k, v, o, fc, proj]"}), "");
}

}  // namespace lora_train_test
