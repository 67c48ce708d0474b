// The training loop shared by pretraining (`gptforge train`) and fine-tuning (`gptforge sft`).
//
// One step: draw the micro-batches, forward, loss, backward (gradient accumulation), clip, AdamW,
// schedule, log, evaluate, checkpoint. `Trainer::run` shows that order top to bottom; the batch
// source decides what a batch is (random windows of token shards, or instruction examples).
#pragma once
#include <torch/torch.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "data/loader.h"
#include "model/gpt.h"
#include "tokenizer/tokenizer.h"
#include "train/checkpoint.h"
#include "train/distributed.h"
#include "util/config.h"

namespace gptforge {

// Where training and validation batches come from. Targets equal to -1 carry no loss.
class TrainData {
 public:
  virtual ~TrainData() = default;
  virtual Batch next() = 0;  // one training micro-batch, on the CPU
  virtual std::string state() const = 0;  // restoring it replays the same future batches
  virtual void set_state(const std::string& state) = 0;
  virtual const std::vector<Batch>& eval_set() const = 0;  // fixed validation batches
  virtual double bytes_per_token() const = 0;  // of the validation text; 0 when unknown (no bpb)
  virtual int64_t vocab_size() const = 0;
  virtual std::string tokenizer_model() const = 0;  // bytes of the sentencepiece model
};

// Wall time of one optimiser step by phase, in seconds. On CUDA the trainer synchronises the device
// at each boundary while it records them, so the split is true there too (at some cost).
struct StepTiming {
  double data = 0;       // drawing the micro-batches and moving them to the device
  double forward = 0;    // model and loss
  double backward = 0;   // backward and the gradient all-reduce
  double optimizer = 0;  // finiteness check, clipping, AdamW, zeroing the gradients
  double total = 0;      // the whole step, stop rules and logging included
};

// What the front end does at points of the run; each hook may be empty.
struct TrainHooks {
  // Every train.sample_interval steps, on rank 0: show what the model writes now. It must leave the
  // training stream alone (its own RNG) and the model as it found it (training mode).
  std::function<void(GPT& model, const Tokenizer& tok, int64_t step)> on_sample;
};

struct TrainOptions {
  bool resume = false;  // continue the run in train.out_dir from its latest checkpoint
  bool force = false;   // start over even though train.out_dir holds checkpoints
  std::string kind = "pretrain";
  // The processes of a data-parallel run (train/distributed.h); null runs alone. TrainData must
  // then hand this rank its own share of the data.
  std::shared_ptr<Distributed> dist;
  // When set, each step's StepTiming is appended here (what bench/bench_train reports).
  std::vector<StepTiming>* step_timings = nullptr;
  TrainHooks hooks;
};

struct TrainSummary {
  int64_t steps = 0, tokens = 0, skipped_steps = 0;
  double seconds = 0, final_loss = 0;
  double best_val_loss = 0, best_val_bpb = 0;
  int64_t best_step = -1;
  std::string checkpoint;  // the last checkpoint written
  bool interrupted = false;
  bool early_stopped = false;
  int rank = 0;  // of the process that returns it: only rank 0 reports
};

// Runs the loop. The model config in `cfg` must already have its vocab_size filled in.
TrainSummary train_model(const Config& cfg, TrainData& data, const TrainOptions& opts);

// `gptforge train`: random windows of the shards in train.data_dir. Joins a distributed run when the
// environment describes one (Distributed::from_environment).
TrainSummary pretrain(Config cfg, const TrainOptions& opts);

// Mean loss over the targets that carry one, and bits per byte when bytes_per_token > 0. With
// `dist`, the sums of every rank's batches: all ranks get the same result.
struct EvalResult {
  double loss = 0, bpb = 0;
  int64_t tokens = 0;
};
EvalResult evaluate(GPT& model, const std::vector<Batch>& batches, torch::Device device,
                    const std::string& precision, double bytes_per_token, Distributed* dist = nullptr);

}  // namespace gptforge
