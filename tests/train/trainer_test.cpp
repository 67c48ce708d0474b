#include "train/trainer.h"

#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <nlohmann/json.hpp>

#include "test_helpers.h"
#include "train/synthetic_data.h"
#include "util/errors.h"

namespace trainer_test {

using namespace gptforge;
using gptforge::testing::SyntheticData;
using gptforge::testing::TempDir;

namespace {

Config tiny_config(const std::string& out_dir) {
  Config cfg = load_config("", {"model.vocab_size=16", "model.block_size=16", "model.n_layer=2", "model.n_head=2",
                                "model.d_model=32", "train.batch_size=4", "train.max_steps=40",
                                "train.learning_rate=0.01", "train.min_lr=0.001", "train.warmup_steps=5",
                                "train.eval_interval=10", "train.eval_batches=2", "train.log_interval=1",
                                "train.checkpoint_interval=10", "run.progress=off", "run.log_level=quiet",
                                "run.threads=1", "train.out_dir=" + out_dir});
  return cfg;
}

std::vector<nlohmann::json> read_metrics(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) out.push_back(nlohmann::json::parse(line));
  return out;
}

std::map<int64_t, double> train_losses(const std::string& path) {
  std::map<int64_t, double> losses;
  for (const auto& j : read_metrics(path)) {
    if (j.contains("loss")) losses[j["step"].get<int64_t>()] = j["loss"].get<double>();
  }
  return losses;
}

}  // namespace

TEST(Trainer, LossDecreasesOnASyntheticCorpus) {
  TempDir dir;
  Config cfg = tiny_config(dir.path());
  SyntheticData data(4, 16, 16);
  TrainSummary s = train_model(cfg, data, {});
  EXPECT_EQ(s.steps, 40);
  auto losses = train_losses(dir.file("metrics.jsonl"));
  ASSERT_EQ(losses.size(), 40u);
  EXPECT_GT(losses.begin()->second, 2.0);  // starts near ln(16)
  EXPECT_LT(s.final_loss, 0.5 * losses.begin()->second);
  EXPECT_LT(s.best_val_loss, 1.0);
  EXPECT_NEAR(s.best_val_bpb, s.best_val_loss / std::log(2.0) / 2.0, 1e-9);
  LoadedCheckpoint ck = load_checkpoint(dir.path());
  EXPECT_EQ(ck.state.step, 40);
  EXPECT_EQ(ck.state.tokens, 40 * 4 * 16);
  EXPECT_EQ(ck.config.model.vocab_size, 16);
}

TEST(Trainer, GradientAccumulationEqualsOneLargerBatch) {
  TempDir a, b;
  Config big = tiny_config(a.path());
  // AdamW's first steps move every weight by +-lr whatever its gradient's size, so two summation
  // orders of a near-zero gradient can step apart. eps = 1 makes the update ~ lr * gradient (SGD-like),
  // which shows the gradients themselves agree.
  big.train.eps = 1.0;
  big.train.learning_rate = 1.0;
  big.train.min_lr = 0.1;
  big.train.max_steps = 3;
  big.train.batch_size = 4;
  Config accum = tiny_config(b.path());
  accum.train.eps = 1.0;
  accum.train.learning_rate = 1.0;
  accum.train.min_lr = 0.1;
  accum.train.max_steps = 3;
  accum.train.batch_size = 2;
  accum.train.total_batch_tokens = 4 * 16;  // two micro-batches of 2 rows
  SyntheticData d1(4, 16, 16), d2(2, 16, 16);
  train_model(big, d1, {});
  train_model(accum, d2, {});
  LoadedCheckpoint c1 = load_checkpoint(a.path()), c2 = load_checkpoint(b.path());
  for (const auto& [name, t] : c1.weights.tensors) {
    EXPECT_TRUE(torch::allclose(t, *c2.weights.find(name), 1e-5, 1e-6)) << name;
  }
  auto l1 = train_losses(a.file("metrics.jsonl")), l2 = train_losses(b.file("metrics.jsonl"));
  for (int64_t step = 1; step <= 3; ++step) EXPECT_NEAR(l1[step], l2[step], 1e-5) << step;
}

TEST(Trainer, InterruptSavesCheckpointAndResumeIsExact) {
  TempDir full, parts;
  Config cfg = tiny_config(full.path());
  cfg.model.dropout = 0.1;  // the RNG state must be restored too
  cfg.train.max_steps = 24;
  SyntheticData d1(4, 16, 16);
  train_model(cfg, d1, {});

  Config cfg2 = cfg;
  cfg2.train.out_dir = parts.path();
  SyntheticData d2(4, 16, 16);
  // SIGINT during step 13's batch: the trainer finishes that step, checkpoints and returns.
  d2.on_next = [](int64_t row) {
    if (row == 13 * 4) gptforge::testing::send_stop_signal(SIGINT);
  };
  TrainSummary first = train_model(cfg2, d2, {});
  EXPECT_TRUE(first.interrupted);
  EXPECT_EQ(first.steps, 13);
  EXPECT_EQ(load_checkpoint(parts.path()).state.step, 13);

  SyntheticData d3(4, 16, 16);
  TrainOptions resume;
  resume.resume = true;
  TrainSummary second = train_model(cfg2, d3, resume);
  EXPECT_EQ(second.steps, 24);
  auto l1 = train_losses(full.file("metrics.jsonl")), l2 = train_losses(parts.file("metrics.jsonl"));
  ASSERT_EQ(l2.size(), 24u);
  for (int64_t step = 1; step <= 24; ++step) EXPECT_DOUBLE_EQ(l1[step], l2[step]) << "step " << step;
}

TEST(Trainer, RefusesToOverwriteARunOrResumeNothing) {
  TempDir dir;
  Config cfg = tiny_config(dir.path());
  cfg.train.max_steps = 2;
  SyntheticData d(4, 16, 16);
  train_model(cfg, d, {});
  EXPECT_THROW(train_model(cfg, d, {}), UsageError);
  TempDir empty;
  Config other = tiny_config(empty.path());
  TrainOptions resume;
  resume.resume = true;
  EXPECT_THROW(train_model(other, d, resume), UsageError);
  // Resuming with another architecture names the differing key.
  Config wider = cfg;
  wider.model.d_model = 64;
  try {
    train_model(wider, d, resume);
    FAIL() << "no error";
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("model.d_model"), std::string::npos) << e.what();
  }
}

TEST(Trainer, NonFiniteLossesAreSkippedThenStopTheRunKeepingTheLastCheckpoint) {
  TempDir dir;
  Config cfg = tiny_config(dir.path());
  cfg.train.warmup_steps = 0;
  cfg.train.learning_rate = 1e30;  // one AdamW step blows the weights up to ~1e30
  cfg.train.min_lr = 1e30;
  cfg.train.grad_clip = 0;
  cfg.train.checkpoint_interval = 1;
  cfg.train.eval_interval = 0;
  cfg.train.max_bad_steps = 3;
  SyntheticData d(4, 16, 16);
  try {
    train_model(cfg, d, {});
    FAIL() << "no error";
  } catch (const RunError& e) {
    EXPECT_NE(std::string(e.what()).find("not finite for 3 steps in a row"), std::string::npos) << e.what();
  }
  // The last checkpoint is intact and holds finite weights. (Its config, with a learning rate no
  // config file may hold, is read as plain JSON and safetensors here.)
  auto state = nlohmann::json::parse(std::ifstream(dir.file("latest/trainer_state.json")));
  EXPECT_GE(state["step"].get<int64_t>(), 1);
  EXPECT_LE(state["step"].get<int64_t>(), 2);
  for (const auto& [name, t] : load_safetensors(dir.file("latest/model.safetensors")).tensors) {
    EXPECT_TRUE(torch::isfinite(t).all().item<bool>()) << name;
  }
}

TEST(Trainer, HooksSeeEveryLoggedStepEvaluationAndCheckpoint) {
  TempDir dir;
  Config cfg = tiny_config(dir.path());
  cfg.train.max_steps = 20;
  cfg.train.log_interval = 5;
  SyntheticData data(4, 16, 16);
  std::vector<StepLog> logs;
  std::vector<EvalLog> evals;
  std::vector<std::pair<std::string, int64_t>> saves;
  TrainOptions opts;
  opts.hooks.on_log = [&](const StepLog& s) { logs.push_back(s); };
  opts.hooks.on_eval = [&](const EvalLog& e) { evals.push_back(e); };
  opts.hooks.on_checkpoint = [&](const std::string& d, int64_t step) { saves.emplace_back(d, step); };
  train_model(cfg, data, opts);

  // The hooks get what metrics.jsonl records, at the same steps.
  std::vector<nlohmann::json> train_rows, eval_rows;
  for (const auto& j : read_metrics(dir.file("metrics.jsonl"))) {
    (j.contains("loss") ? train_rows : eval_rows).push_back(j);
  }
  ASSERT_EQ(logs.size(), 4u);
  ASSERT_EQ(train_rows.size(), 4u);
  for (size_t i = 0; i < logs.size(); ++i) {
    EXPECT_EQ(logs[i].step, static_cast<int64_t>(5 * (i + 1)));
    EXPECT_EQ(logs[i].step, train_rows[i]["step"].get<int64_t>());
    EXPECT_DOUBLE_EQ(logs[i].loss, train_rows[i]["loss"].get<double>());
  }
  ASSERT_EQ(evals.size(), 2u);  // steps 10 and 20 (eval_interval 10)
  ASSERT_EQ(eval_rows.size(), 2u);
  for (size_t i = 0; i < evals.size(); ++i) {
    EXPECT_EQ(evals[i].step, eval_rows[i]["step"].get<int64_t>());
    EXPECT_DOUBLE_EQ(evals[i].val_loss, eval_rows[i]["val_loss"].get<double>());
  }
  EXPECT_TRUE(evals[0].best);
  // Steps 10 and 20 at the checkpoint interval (a best evaluation's save serving it), then the
  // final save of step 20.
  ASSERT_EQ(saves.size(), 3u);
  EXPECT_EQ(saves[0].second, 10);
  EXPECT_EQ(saves[1].second, 20);
  EXPECT_EQ(saves[2].second, 20);
  EXPECT_EQ(load_checkpoint(saves[2].first).state.step, 20);
}

TEST(Trainer, EarlyStoppingIsAnOptionOfAnyRun) {
  TempDir dir;
  Config cfg = tiny_config(dir.path());
  cfg.train.learning_rate = 0;  // nothing improves after the first evaluation
  cfg.train.min_lr = 0;
  SyntheticData data(4, 16, 16);
  TrainOptions opts;
  opts.early_stop_patience = 2;
  TrainSummary s = train_model(cfg, data, opts);
  EXPECT_TRUE(s.early_stopped);
  EXPECT_EQ(s.steps, 30);  // best at 10, no better at 20 and 30
  EXPECT_EQ(s.best_step, 10);
  EXPECT_EQ(load_checkpoint(dir.path()).state.step, 30);
}

}  // namespace trainer_test
