// The training loop shared by pretraining (`gptforge train`) and fine-tuning (`gptforge sft`).
//
// One step: draw the micro-batches, forward, loss, backward (gradient accumulation), clip, AdamW,
// schedule, log, evaluate, checkpoint. `Trainer::run` shows that order top to bottom with the
// Trainer's verbs (resume, should_stop, step, evaluate, save); the batch source decides what a batch
// is (random windows of token shards, or instruction examples), and the front end's hooks what is
// shown on the way.
#pragma once
#include <torch/torch.h>

#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
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

// One logged step (every train.log_interval steps and the last), as metrics.jsonl records it.
struct StepLog {
  int64_t step = 0, tokens = 0;
  double loss = 0, lr = 0, grad_norm = 0, tokens_per_s = 0, mfu = 0, elapsed_s = 0;
};

// One evaluation on the validation batches.
struct EvalLog {
  int64_t step = 0;
  double val_loss = 0, val_bpb = 0;  // val_bpb 0 when the data has no bytes per token
  bool best = false;                 // the lowest validation loss of the run so far
};

// What the front end does at points of the run, on rank 0 only; each hook may be empty.
struct TrainHooks {
  std::function<void(const StepLog&)> on_log;
  std::function<void(const EvalLog&)> on_eval;
  // Every train.sample_interval steps: show what the model writes now. It must leave the training
  // stream alone (its own RNG) and the model as it found it (training mode).
  std::function<void(GPT& model, const Tokenizer& tok, int64_t step)> on_sample;
  std::function<void(const std::string& dir, int64_t step)> on_checkpoint;  // after each save
};

struct TrainOptions {
  bool resume = false;  // continue the run in train.out_dir from its latest checkpoint
  bool force = false;   // start over even though train.out_dir holds checkpoints
  std::string kind = "pretrain";  // recorded in the checkpoints' training state (pretrain | sft)
  // Stop once this many evaluations in a row found no better validation loss (0: never).
  int64_t early_stop_patience = 0;
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

class MetricsLog;
class LrSchedule;
class LossScaler;
class Progress;
class StopSignals;
class ThreadGovernor;

// One training run. The model config in `cfg` must already have its vocab_size filled in. Every
// rank of a distributed run calls the same verbs in the same order: the collective ones
// (should_stop, step, evaluate, save) exchange data between the ranks.
class Trainer {
 public:
  // Checks the stopping rules and train.out_dir (refusing to clobber a run unless forced), builds
  // the model (seeded by run.seed) and its optimiser.
  Trainer(const Config& cfg, TrainData& data, const TrainOptions& opts);
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  // Continues the run in train.out_dir (opts.resume: weights, optimiser, RNGs, loader positions) or
  // starts from train.init_from's weights; every rank then holds rank 0's weights. Opens the metrics
  // log and starts the clock.
  void resume();
  // The stop rules, before each step: the step or token budget, a stop signal (SIGINT/SIGTERM) or
  // the clock on any rank. Sets interrupted() for a signal.
  bool should_stop();
  // One optimiser step over train.total_batch_tokens. False when the loss was not finite and the
  // step was skipped (too many in a row throw RunError).
  bool step();
  // The validation loss; keeps the best. Returns whether it is the best so far.
  bool evaluate();
  // A checkpoint of the current step (rank 0 writes; every rank takes part).
  void save(bool is_best);
  // Early stopping: opts.early_stop_patience evaluations in a row without a better loss.
  bool patience_exhausted() const;
  // The final evaluation (unless the last step had one, or interrupted) and checkpoint.
  TrainSummary finish();

  // resume, then step until should_stop, with logging, evaluation, samples and checkpoints at their
  // intervals, then finish.
  TrainSummary run();

  GPT& model() { return model_; }
  const TrainerState& state() const { return state_; }
  bool interrupted() const { return interrupted_; }

 private:
  // A run bounded only by train.max_minutes fixes its length in steps at its first checkpoint, from
  // its rate so far: from then on its schedule and stop follow steps (and still the clock), and the
  // checkpoints store the plan, so that --resume continues the same schedule.
  void plan_time_bounded_run();
  // With run.threads 0: fewer threads while other processes keep the cores busy (thread_governor_).
  void share_cores();
  void log_step(double lr, double grad_norm);
  // The device's matmul peak in FLOP/s (bf16 on CUDA, f32 on the CPU), the MFU denominator.
  double measure_peak_flops() const;
  void record(const nlohmann::json& j);
  double elapsed() const;

  const Config& cfg_;
  const TrainConfig& tc_;
  TrainData& data_;
  TrainOptions opts_;
  std::unique_ptr<Distributed> alone_;
  Distributed& dist_;
  const bool main_;
  const int64_t world_size_;
  const torch::Device device_;
  const Choice<Precision> precision_;
  int64_t accum_ = 1, tokens_per_step_ = 0, total_steps_ = 0;

  GPT model_{nullptr};
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  std::vector<torch::Tensor> params_;
  TrainerState state_;
  std::unique_ptr<MetricsLog> metrics_;
  std::unique_ptr<LrSchedule> schedule_;
  std::unique_ptr<LossScaler> scaler_;
  std::unique_ptr<Progress> progress_;
  std::unique_ptr<Tokenizer> sample_tok_;
  std::unique_ptr<StopSignals> signals_;
  std::unique_ptr<ThreadGovernor> thread_governor_;  // run.threads 0 on the CPU only (util/thread_governor.h)
  double peak_flops_ = 1.0;

  std::chrono::steady_clock::time_point start_, interval_start_, step_start_;
  double elapsed_before_ = 0;
  int64_t interval_tokens_ = 0, bad_in_row_ = 0;
  double interval_flops_ = 0, last_loss_ = 0;
  bool interrupted_ = false, early_stopped_ = false;
  std::string last_checkpoint_;
};

// A whole run: Trainer(cfg, data, opts).run().
TrainSummary train_model(const Config& cfg, TrainData& data, const TrainOptions& opts);

// `gptforge train`: random windows of the shards in train.data_dir. Joins a distributed run when the
// environment describes one (Distributed::from_environment). Before anything is written, the data
// directory's tokenizer is loaded and checked against its meta.json (DataError naming the file) and
// against model.vocab_size (ConfigError).
TrainSummary pretrain(Config cfg, const TrainOptions& opts);

// What pretrain trains on: random windows of train.data_dir's "train" shards for this rank, fixed
// windows of its "val" shards for evaluation. `tokenizer_model` is only stored in checkpoints: pretrain
// passes the checked tokenizer's bytes (bench_train, on random ids, a placeholder).
std::unique_ptr<TrainData> shard_train_data(const Config& cfg, int rank, int world_size, std::string tokenizer_model);

// Mean loss over the targets that carry one, and bits per byte when bytes_per_token > 0. With
// `dist`, the sums of every rank's batches: all ranks get the same result.
struct EvalResult {
  double loss = 0, bpb = 0;
  int64_t tokens = 0;
};
EvalResult evaluate(GPT& model, const std::vector<Batch>& batches, torch::Device device,
                    Choice<Precision> precision, double bytes_per_token, Distributed* dist = nullptr);

}  // namespace gptforge
