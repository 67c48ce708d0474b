// The training loop: the sections `train:` and `sft:` of a config.
// Declarations only: util/config.h assembles the sections (README, "The pipeline").
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "data/data_config.h"
#include "util/config_field.h"

namespace gptforge {

// train.schedule: the decay after warmup.
enum class Schedule { Cosine, Linear, Constant, Wsd };
template <>
struct ChoiceNames<Schedule> {
  static constexpr std::pair<Schedule, const char*> table[] = {
      {Schedule::Cosine, "cosine"}, {Schedule::Linear, "linear"}, {Schedule::Constant, "constant"}, {Schedule::Wsd, "wsd"}};
};

// train.precision: auto resolves per device (train/precision.h).
enum class Precision { Auto, Fp32, Bf16, Fp16 };
template <>
struct ChoiceNames<Precision> {
  static constexpr std::pair<Precision, const char*> table[] = {
      {Precision::Auto, "auto"}, {Precision::Fp32, "fp32"}, {Precision::Bf16, "bf16"}, {Precision::Fp16, "fp16"}};
};

// sft.loss_on
enum class LossOn { Assistant, All };
template <>
struct ChoiceNames<LossOn> {
  static constexpr std::pair<LossOn, const char*> table[] = {{LossOn::Assistant, "assistant"}, {LossOn::All, "all"}};
};

// sft.overlong
enum class Overlong { Truncate, Drop };
template <>
struct ChoiceNames<Overlong> {
  static constexpr std::pair<Overlong, const char*> table[] = {{Overlong::Truncate, "truncate"}, {Overlong::Drop, "drop"}};
};

struct TrainConfig {
  std::string data_dir = "data/shards";
  std::string out_dir = "checkpoints/run";
  std::string init_from;
  int64_t batch_size = 16;
  int64_t total_batch_tokens = 0;
  int64_t max_steps = 1000;
  int64_t max_tokens = 0;
  double max_minutes = 0.0;
  double learning_rate = 1e-3;
  double min_lr = 1e-4;
  int64_t warmup_steps = 100;
  Choice<Schedule> schedule = Schedule::Cosine;
  double decay_fraction = 0.2;
  double weight_decay = 0.1;
  std::vector<std::string> no_decay = {"bias", "norm", "embedding"};
  double beta1 = 0.9;
  double beta2 = 0.95;
  double eps = 1e-8;
  double grad_clip = 1.0;
  Choice<Precision> precision = Precision::Auto;
  bool tf32 = true;
  int64_t eval_interval = 100;
  int64_t eval_batches = 20;
  int64_t sample_interval = 0;
  int64_t log_interval = 10;
  int64_t checkpoint_interval = 200;
  int64_t keep_last = 2;
  bool keep_best = true;
  int64_t max_bad_steps = 5;

  template <class V>
  void fields(V& v) {
    v("data_dir", data_dir, "Directory of token shards written by `gptforge prepare`");
    v("out_dir", out_dir, "Directory for checkpoints, metrics and the resolved config");
    v("init_from", init_from, "Checkpoint whose weights start the run (required by sft)");
    v("batch_size", batch_size, "Sequences per micro-batch", Range{1, 1 << 20});
    v("total_batch_tokens", total_batch_tokens,
      "Tokens per optimiser step across micro-batches and ranks; 0 = one micro-batch", Range{0, 1e12});
    v("max_steps", max_steps, "Stop after this many optimiser steps (0 = no limit)", Range{0, 1e12});
    v("max_tokens", max_tokens, "Stop after this many training tokens (0 = no limit)", Range{0, 1e15});
    v("max_minutes", max_minutes, "Stop after this much wall-clock time (0 = no limit)", Range{0, 1e7});
    v("learning_rate", learning_rate, "Peak learning rate", Range{0, 10});
    v("min_lr", min_lr, "Learning rate at the end of the decay", Range{0, 10});
    v("warmup_steps", warmup_steps, "Linear warmup steps", Range{0, 1e12});
    v("schedule", schedule, "Decay after warmup: cosine, linear, constant, or wsd (warmup-stable-decay)");
    v("decay_fraction", decay_fraction, "wsd: share of the steps spent in the final decay", Range{0, 1});
    v("weight_decay", weight_decay, "Decoupled (AdamW) weight decay", Range{0, 10});
    v("no_decay", no_decay, "Parameter kinds exempt from weight decay", ItemChoices{{"bias", "norm", "embedding"}});
    v("beta1", beta1, "AdamW beta1", Range{0, 0.999999});
    v("beta2", beta2, "AdamW beta2", Range{0, 0.999999});
    v("eps", eps, "AdamW epsilon", Range{1e-30, 1});
    v("grad_clip", grad_clip, "Clip the global gradient norm to this (0 = off)", Range{0, 1e6});
    v("precision", precision, "Compute precision: auto (bf16 autocast on CUDA, fp32 on CPU), fp32, bf16, fp16");
    v("tf32", tf32, "Allow TF32 matmuls on CUDA");
    v("eval_interval", eval_interval, "Evaluate every N steps (0 = only at the end)", Range{0, 1e12});
    v("eval_batches", eval_batches, "Validation batches per evaluation", Range{1, 1e9});
    v("sample_interval", sample_interval,
      "Print a sample every N steps (0 = never): sample.max_new_tokens tokens after sample.prompt", Range{0, 1e12});
    v("log_interval", log_interval, "Log metrics every N steps", Range{1, 1e12});
    v("checkpoint_interval", checkpoint_interval, "Write a checkpoint every N steps (0 = only at the end)",
      Range{0, 1e12});
    v("keep_last", keep_last, "Keep this many most recent checkpoints", Range{1, 1e6});
    v("keep_best", keep_best, "Also keep the checkpoint with the best validation loss");
    v("max_bad_steps", max_bad_steps, "Stop after this many non-finite losses in a row", Range{1, 1e6});
  }
};

struct SftConfig {
  std::string train_file;
  std::string val_file;
  double val_fraction = 0.05;
  Choice<InstructFormat> format = InstructFormat::Auto;
  Choice<LossOn> loss_on = LossOn::Assistant;
  Choice<Overlong> overlong = Overlong::Truncate;
  int64_t early_stop_patience = 0;
  bool skip_invalid = false;

  template <class V>
  void fields(V& v) {
    v("train_file", train_file, "Instruction data: Alpaca JSON/JSONL or chat JSONL");
    v("val_file", val_file, "Validation data; empty splits val_fraction off train_file");
    v("val_fraction", val_fraction, "Share of examples held out when val_file is empty", Range{0, 0.5});
    v("format", format, "auto (detected per record), alpaca, or chat");
    v("loss_on", loss_on, "Tokens that carry loss: assistant replies only, or all");
    v("overlong", overlong, "Examples longer than the context: truncate or drop (counted)");
    v("early_stop_patience", early_stop_patience, "Stop after N evaluations without improvement (0 = off)",
      Range{0, 1e6});
    v("skip_invalid", skip_invalid, "Skip malformed records (counted) instead of failing");
  }
};

}  // namespace gptforge
