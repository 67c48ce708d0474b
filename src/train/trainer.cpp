#include "train/trainer.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <unistd.h>

#include "checkpoint/adapters.h"
#include "checkpoint/run_directory.h"
#include "data/dataset_meta.h"
#include "data/random.h"
#include "model/eval_mode.h"
#include "train/lr_schedule.h"
#include "train/metrics.h"
#include "train/optimizer.h"
#include "train/precision.h"
#include "util/errors.h"
#include "util/fault_injection.h"
#include "util/files.h"
#include "util/log.h"
#include "util/progress.h"
#include "util/runtime.h"
#include "util/stop_signals.h"
#include "util/thread_governor.h"
#include "util/units.h"

namespace fs = std::filesystem;

namespace gptforge {

// ---- Signals: SIGINT/SIGTERM ask the loop to checkpoint and stop; a second one stops at once ----
// They arrive on util/stop_signals.h's waiting thread, never inside a step's kernels.
class StopSignals {
 public:
  StopSignals()
      : scope_([this](int sig) {
          if (signal_.exchange(sig) != 0) _exit(128 + sig);
        }) {}
  bool requested() const { return signal_.load() != 0; }

 private:
  std::atomic<int> signal_{0};
  SignalScope scope_;  // after signal_, which its callback uses
};

namespace {

// Micro-batches per optimiser step so that one step sees train.total_batch_tokens.
int64_t accumulation_steps(const Config& cfg, int64_t world_size) {
  const int64_t per_micro = cfg.train.batch_size * cfg.model.block_size * world_size;
  if (cfg.train.total_batch_tokens == 0) return 1;
  if (cfg.train.total_batch_tokens % per_micro != 0) {
    throw ConfigError(strprintf("train.total_batch_tokens (%lld) must be a multiple of train.batch_size x "
                                "model.block_size x ranks (%lld)",
                                (long long)cfg.train.total_batch_tokens, (long long)per_micro));
  }
  return cfg.train.total_batch_tokens / per_micro;
}

// The run's length in optimiser steps from max_steps and max_tokens (0 when only time bounds it).
int64_t planned_steps(const TrainConfig& t, int64_t tokens_per_step) {
  int64_t steps = t.max_steps;
  if (t.max_tokens > 0) {
    int64_t by_tokens = (t.max_tokens + tokens_per_step - 1) / tokens_per_step;
    steps = steps > 0 ? std::min(steps, by_tokens) : by_tokens;
  }
  return steps;
}

// Refuses to resume from a checkpoint whose model differs from the config.
void check_resumable(const Config& cfg, const StoredModel& ck) {
  auto diffs = config_differences(ck.config, cfg, "model");
  if (!diffs.empty()) {
    throw CheckpointError(ck.dir + ": checkpoint's model does not match the config (" + diffs.front() +
                          "); resume with the checkpoint's model settings");
  }
}

// Resuming continues the same adapters: rank, alpha, dropout and targets must not change.
void check_same_lora(const Config& cfg, const StoredModel& ck) {
  auto diffs = config_differences(ck.config, cfg, "lora");
  if (!diffs.empty()) {
    throw CheckpointError(ck.dir + ": checkpoint's LoRA settings do not match the config (" + diffs.front() +
                          "); resume with the checkpoint's lora settings");
  }
}

// A batch moved to the device for the loss. Where most positions carry no target (SFT's prompts and
// padding), the LM head runs on the target rows only: the same loss and gradients for less work.
// The rows are picked here, on the CPU, so that the device never waits.
struct DeviceBatch {
  torch::Tensor x, y, rows;  // rows undefined: every position; y then (B, T), else the kept targets
  int64_t targets = 0;       // positions that carry a loss
  int64_t skipped_rows = 0;  // positions the LM head does not run on
};

DeviceBatch to_device(const Batch& b, const torch::Device& device) {
  DeviceBatch d;
  torch::Tensor flat_y = b.y.reshape({-1});
  torch::Tensor keep = flat_y.ne(-1);
  d.targets = keep.sum().item<int64_t>();
  d.x = b.x.to(device, /*non_blocking=*/true);
  if (d.targets * 2 < flat_y.numel()) {
    torch::Tensor r = keep.nonzero().squeeze(1);
    d.y = flat_y.index_select(0, r).to(device, /*non_blocking=*/true);
    d.rows = r.to(device, /*non_blocking=*/true);
    d.skipped_rows = flat_y.numel() - d.targets;
  } else {
    d.y = b.y.to(device, /*non_blocking=*/true);
  }
  return d;
}

// Summed loss of the batch (callers hold the autocast guard).
LossSum batch_loss(GPT& model, const DeviceBatch& b) {
  return lm_loss_sum(b.rows.defined() ? model->forward_rows(b.x, b.rows) : model->forward(b.x), b.y);
}

}  // namespace

EvalResult evaluate(GPT& model, const std::vector<Batch>& batches, torch::Device device,
                    Choice<Precision> precision, double bytes_per_token, Distributed* dist) {
  torch::NoGradGuard no_grad;
  torch::Tensor sum = torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat64).device(device));
  torch::Tensor count = torch::zeros({}, torch::TensorOptions().dtype(torch::kInt64).device(device));
  {
    EvalModeGuard eval_mode(model);
    AutocastGuard autocast(device, precision);
    for (const auto& b : batches) {
      LossSum ls = batch_loss(model, to_device(b, device));
      sum += ls.sum.to(torch::kFloat64);
      count += ls.count;
    }
  }
  // Every rank evaluated its own batches: the totals are the sums over ranks.
  torch::Tensor totals = torch::stack({sum, count.to(torch::kFloat64)});
  if (dist) dist->all_reduce_sum(totals);
  totals = totals.cpu();
  EvalResult r;
  r.tokens = static_cast<int64_t>(totals[1].item<double>());
  r.loss = r.tokens > 0 ? totals[0].item<double>() / r.tokens : 0.0;
  // Bits per byte: nats per token -> bits per token -> per byte of source text.
  if (bytes_per_token > 0) r.bpb = r.loss / std::log(2.0) / bytes_per_token;
  return r;
}

// ---- The Trainer --------------------------------------------------------------------------------

Trainer::Trainer(const Config& cfg, TrainData& data, const TrainOptions& opts)
    : cfg_(cfg),
      tc_(cfg.train),
      data_(data),
      opts_(opts),
      alone_(opts.dist ? nullptr : std::make_unique<Distributed>()),
      dist_(opts.dist ? *opts.dist : *alone_),
      main_(dist_.is_main()),
      world_size_(dist_.world_size()),
      device_(dist_.active() ? dist_.device() : resolve_device(cfg.run.device)),
      precision_(resolve_precision(tc_.precision, device_)) {
  // One process, or one rank of a data-parallel run: every rank runs the same steps on its own data
  // and sums gradients with the others; only rank 0 logs and writes files.
  accum_ = accumulation_steps(cfg_, world_size_);
  tokens_per_step_ = accum_ * tc_.batch_size * cfg_.model.block_size * world_size_;
  total_steps_ = planned_steps(tc_, tokens_per_step_);
  if (total_steps_ == 0 && tc_.max_minutes <= 0) {
    throw ConfigError("train: no stopping rule: set train.max_steps, train.max_tokens or train.max_minutes");
  }

  if (cfg_.lora.rank > 0 && tc_.init_from.empty() && !opts_.resume) {
    throw ConfigError("lora.rank=" + std::to_string(cfg_.lora.rank) +
                      " needs train.init_from: LoRA adapts a trained model, whose weights it freezes");
  }

  // ---- Output directory: refuse to clobber a run unless asked; only rank 0 changes it ----
  if (fs::exists(tc_.out_dir) && !fs::is_directory(tc_.out_dir)) {
    throw ConfigError("train.out_dir '" + tc_.out_dir + "' is a file, not a directory");
  }
  // First repair what killed saves left, so that a checkpoint published just before a kill counts.
  if (main_) tidy_run_directory(tc_.out_dir);
  dist_.barrier();
  if (has_checkpoint(tc_.out_dir) && !opts_.resume && !opts_.force) {
    throw UsageError("train.out_dir '" + tc_.out_dir +
                     "' already holds checkpoints: pass --resume to continue that run, or --force to start over");
  }
  if (opts_.resume && !has_checkpoint(tc_.out_dir)) {
    throw UsageError("--resume: train.out_dir '" + tc_.out_dir + "' holds no checkpoint to resume from");
  }
  if (main_ && opts_.force && !opts_.resume && fs::exists(tc_.out_dir)) {
    for (const auto& e : fs::directory_iterator(tc_.out_dir)) {
      std::string n = e.path().filename().string();
      if (n.rfind("step_", 0) == 0 || n == "latest" || n == "best" || n == "metrics.jsonl") fs::remove_all(e.path());
    }
  }
  if (main_) {
    std::error_code ec;
    fs::create_directories(tc_.out_dir, ec);
    if (ec) throw ConfigError("train.out_dir '" + tc_.out_dir + "': cannot create it (" + ec.message() + ")");
  }

  // ---- Model and optimiser ----
  torch::manual_seed(static_cast<uint64_t>(cfg_.run.seed));
  model_ = GPT(cfg_.model);
  model_->to(device_);
  if (cfg_.lora.rank > 0) model_->add_lora(cfg_.lora);  // the base frozen: the optimiser below holds the adapters only
  optimizer_ = make_optimizer(*model_, tc_);
  for (const auto& p : model_->parameters()) {
    if (p.requires_grad()) params_.push_back(p);
  }
  state_.kind = opts_.kind;
  state_.world_size = world_size_;
}

Trainer::~Trainer() = default;

void Trainer::resume() {
  auto say = [&](const std::string& msg) {
    if (main_) log_info(msg);
  };
  if (opts_.resume) {
    LoadedCheckpoint ck = load_checkpoint(tc_.out_dir);
    check_resumable(cfg_, ck);
    check_same_lora(cfg_, ck);
    if (!ck.has_state) throw CheckpointError(ck.dir + ": has no trainer_state.json to resume from");
    if (ck.state.world_size != world_size_) {
      throw CheckpointError(strprintf("%s: written by a run of %lld process(es), resumed with %lld; resume with the "
                                      "same number (gptforge launch --nproc %lld, or WORLD_SIZE=%lld)",
                                      ck.dir.c_str(), (long long)ck.state.world_size, (long long)world_size_,
                                      (long long)ck.state.world_size, (long long)ck.state.world_size));
    }
    if (static_cast<int64_t>(ck.state.loader_states.size()) != world_size_ ||
        (world_size_ > 1 && static_cast<int64_t>(ck.state.rng_cpu_ranks.size()) != world_size_)) {
      throw CheckpointError(ck.dir + "/trainer_state.json: the loader and RNG states do not match its world_size");
    }
    load_weights(*model_, ck.weights, ck.dir + "/model.safetensors");
    if (cfg_.lora.rank > 0) load_adapters(model_, ck.adapters, ck.dir + "/" + kAdapterFile);
    if (ck.optimizer_path.empty()) throw CheckpointError(ck.dir + ": has no optimizer.pt to resume from");
    load_optimizer(*optimizer_, ck.optimizer_path);
    // The fused AdamW step writes through the state's raw pointers at the parameters' sizes: a state
    // of other shapes (written for another model) must never reach it.
    const std::string mismatch = optimizer_state_mismatch(*optimizer_, *model_);
    if (!mismatch.empty()) throw CheckpointError(ck.optimizer_path + ": " + mismatch + " (written for another model?)");
    state_ = ck.state;
    // A time-bounded run keeps the length in steps it fixed at its first checkpoint (see plan_time_bounded_run),
    // and with it the schedule; a config that now bounds the run by steps or tokens takes over.
    if (total_steps_ == 0 && state_.planned_steps > 0) {
      total_steps_ = state_.planned_steps;
      say(strprintf("time-bounded run: keeps the %lld steps it planned at its first checkpoint",
                    (long long)total_steps_));
    } else if (total_steps_ > 0) {
      state_.planned_steps = 0;
    }
    const size_t rank = static_cast<size_t>(dist_.rank());
    data_.set_state(state_.loader_states.at(rank));
    set_cpu_rng_state(world_size_ > 1 ? state_.rng_cpu_ranks.at(rank) : state_.rng_cpu);
    say(strprintf("resumed %s at step %lld (%s tokens)", ck.dir.c_str(), (long long)state_.step,
                  format_si(static_cast<double>(state_.tokens)).c_str()));
  } else if (!tc_.init_from.empty()) {
    StoredModel init = read_model(tc_.init_from);
    check_resumable(cfg_, init);
    merge_adapters(init);  // starting from a LoRA run: its adapted model, W + (alpha / rank) B A
    load_weights(*model_, init.weights, init.dir + "/model.safetensors");
    say("initialised weights from " + init.dir);
  }
  if (dist_.active()) {
    std::vector<torch::Tensor> replicated = model_->parameters();  // frozen ones too
    for (const auto& b : model_->buffers()) replicated.push_back(b);
    dist_.broadcast(replicated);  // rank 0's weights, whatever each rank initialised or loaded
    // Dropout masks differ between ranks: each draws from its own stream (restored on resume above).
    if (!opts_.resume) torch::manual_seed(derive_seed(static_cast<uint64_t>(cfg_.run.seed), 1000 + dist_.rank()));
  }
  if (main_) {
    save_config(cfg_, tc_.out_dir + "/config.yaml");
    metrics_ = std::make_unique<MetricsLog>(tc_.out_dir + "/metrics.jsonl", opts_.resume ? state_.step : -1);
    if (!metrics_->aside().empty()) log_info("kept the previous run's metrics as " + metrics_->aside());
  }

  // ---- What the run will do ----
  const double flops_per_tok = flops_per_token(cfg_.model, cfg_.model.block_size);
  // Measured on rank 0 only, for the MFU figure of its log (other ranks would just compete for cores).
  if (main_) {
    peak_flops_ = measure_peak_flops();
  }
  say(strprintf("model: %s parameters (%s without embeddings), %s FLOPs/token",
                format_si(model_->num_params(true)).c_str(), format_si(model_->num_params(false)).c_str(),
                format_si(flops_per_tok).c_str()));
  if (cfg_.lora.rank > 0) {
    int64_t trainable = 0;
    for (const auto& p : params_) trainable += p.numel();
    say(strprintf("lora: rank %lld, alpha %g on %zu layer kind(s) per block: %s trainable parameters, the base frozen",
                  (long long)cfg_.lora.rank, cfg_.lora.alpha, cfg_.lora.targets.size(),
                  format_si(static_cast<double>(trainable)).c_str()));
  }
  std::string ranks = world_size_ > 1 ? strprintf(" x %lld processes", (long long)world_size_) : "";
  say(strprintf("train: %s, %s, batch %lld x %lld tokens x %lld accumulation%s = %s tokens/step, %s steps",
                device_description(device_).c_str(), precision_.name(), (long long)tc_.batch_size,
                (long long)cfg_.model.block_size, (long long)accum_, ranks.c_str(),
                format_si(tokens_per_step_).c_str(),
                total_steps_ ? std::to_string(total_steps_).c_str() : "time-bounded"));
  if (dist_.active()) {
    say(strprintf("distributed: %lld processes over %s", (long long)world_size_, dist_.backend().c_str()));
  }
  say(strprintf("peak matmul (measured now): %.1f GFLOP/s; out_dir: %s", peak_flops_ / 1e9, tc_.out_dir.c_str()));

  schedule_ = std::make_unique<LrSchedule>(tc_, total_steps_);
  scaler_ = std::make_unique<LossScaler>(precision_ == Precision::Fp16);
  signals_ = std::make_unique<StopSignals>();
  progress_ = std::make_unique<Progress>("train", total_steps_, main_ ? cfg_.run.progress : Choice<ProgressMode>(ProgressMode::Off), 0.0);
  if (tc_.sample_interval > 0 && opts_.hooks.on_sample) {
    sample_tok_ = std::make_unique<Tokenizer>(Tokenizer::from_serialized(data_.tokenizer_model()));
  }
  if (cfg_.run.threads == 0 && device_.is_cpu()) {
    thread_governor_ = std::make_unique<ThreadGovernor>(hardware_threads(), effective_threads(cfg_.run));
  }
  start_ = interval_start_ = std::chrono::steady_clock::now();
  elapsed_before_ = state_.elapsed_s;
  model_->train();
}

double Trainer::elapsed() const { return elapsed_before_ + seconds_since(start_); }

void Trainer::record(const nlohmann::json& j) {
  if (metrics_) metrics_->write(j);
}

void Trainer::share_cores() {
  const std::optional<int> threads = thread_governor_->poll();
  if (!threads) return;
  torch::set_num_threads(*threads);
  log_info(strprintf("cpu: other processes keep %.1f of %d cores busy: %d intra-op thread(s) from step %lld "
                     "(run.threads fixes the count)",
                     thread_governor_->busy_elsewhere(), hardware_threads(), *threads, (long long)state_.step + 1));
}

bool Trainer::should_stop() {
  step_start_ = std::chrono::steady_clock::now();  // a step's time includes its stop rules
  // The ranks decide together: a stop signal or the clock on any one of them stops them all before
  // the same step.
  const bool budget_done = (total_steps_ > 0 && state_.step >= total_steps_) ||
                           (tc_.max_tokens > 0 && state_.tokens >= tc_.max_tokens);
  torch::Tensor stop = torch::tensor({static_cast<int64_t>(signals_->requested()),
                                      static_cast<int64_t>(tc_.max_minutes > 0 && elapsed() >= tc_.max_minutes * 60)});
  dist_.all_reduce_sum(stop);
  interrupted_ = stop[0].item<int64_t>() > 0;
  return budget_done || interrupted_ || stop[1].item<int64_t>() > 0;
}

bool Trainer::step() {
  StepTiming timing;
  // Phase timings, when asked for: the device is synchronised at each boundary so that the split is true.
  auto mark_time = step_start_;
  auto mark = [&](double* into) {
    if (!opts_.step_timings) return;
    synchronize_device(device_);
    auto now = std::chrono::steady_clock::now();
    if (into) *into += std::chrono::duration<double>(now - mark_time).count();
    mark_time = now;
  };

  const double lr = schedule_->at(state_.step, tc_.max_minutes > 0 ? elapsed() / (tc_.max_minutes * 60) : 0.0);
  set_learning_rate(*optimizer_, lr);
  mark(nullptr);
  // Draw the micro-batches and move them to the device (to_device: SFT's LM head on target rows).
  std::vector<DeviceBatch> micro;
  int64_t target_count = 0, positions = 0;
  double step_flops = 0;  // this rank's, for MFU: padded SFT batches are shorter than block_size
  for (int64_t i = 0; i < accum_; ++i) {
    Batch b = data_.next();
    micro.push_back(to_device(b, device_));
    target_count += micro.back().targets;
    positions += b.x.numel();
    // The LM head's share (6 * vocab * d_model per position) of the skipped rows is never done.
    step_flops += static_cast<double>(b.x.numel()) * flops_per_token(cfg_.model, b.x.size(1)) -
                  6.0 * static_cast<double>(cfg_.model.vocab_size * cfg_.model.d_model) *
                      static_cast<double>(micro.back().skipped_rows);
  }
  target_count = dist_.sum(target_count);
  // Each micro-batch's summed loss over the step's target count (all ranks'): accumulating k
  // micro-batches on each of n ranks, then summing the gradients over the ranks, gives exactly the
  // gradient of one k*n-times larger batch, masked targets included.
  torch::Tensor step_loss = torch::zeros({}, torch::TensorOptions().device(device_));
  mark(&timing.data);
  for (const auto& b : micro) {
    torch::Tensor loss;
    {
      AutocastGuard autocast(device_, precision_);
      loss = batch_loss(model_, b).sum / static_cast<double>(std::max<int64_t>(1, target_count));
    }
    mark(&timing.forward);
    scaler_->scale_loss(loss).backward();
    step_loss += loss.detach().to(torch::kFloat32);
    mark(&timing.backward);
  }
  dist_.all_reduce_gradients(params_);
  scaler_->unscale(params_);
  mark(&timing.backward);

  // A non-finite loss skips the step (and counts); too many in a row end the run. The loss is the
  // sum of every rank's share, so all ranks see the same value and skip together.
  last_loss_ = dist_.sum(step_loss.item<double>());
  if (!std::isfinite(last_loss_)) {
    clear_gradients(params_);
    scaler_->update(false);
    ++state_.skipped_steps;
    if (!scaler_->enabled() && ++bad_in_row_ >= tc_.max_bad_steps) {
      throw RunError(strprintf("loss was not finite for %lld steps in a row (at step %lld): stopping; the last good "
                               "checkpoint in %s is intact. Lower train.learning_rate or check the data",
                               (long long)bad_in_row_, (long long)state_.step, tc_.out_dir.c_str()));
    }
    if (main_) log_warn(strprintf("step %lld: non-finite loss, step skipped", (long long)state_.step));
    return false;
  }
  bad_in_row_ = 0;
  scaler_->update(true);
  torch::Tensor norm = clip_grad_norm(params_, tc_.grad_clip);
  optimizer_->step();
  // Dropped here rather than before the next step, so that gradients never outlive their step
  // (a checkpoint or an evaluation in between sees none).
  clear_gradients(params_);
  mark(&timing.optimizer);
  ++state_.step;
  // Positions actually run: the nominal tokens_per_step for pretraining, fewer for padded SFT batches.
  const int64_t step_tokens = world_size_ > 1 ? dist_.sum(positions) : positions;
  state_.tokens += step_tokens;
  interval_tokens_ += step_tokens;
  interval_flops_ += step_flops * static_cast<double>(world_size_);
  if (state_.step % tc_.log_interval == 0 || state_.step == total_steps_) log_step(lr, norm.item<double>());
  if (opts_.step_timings) {
    timing.total = seconds_since(step_start_);
    opts_.step_timings->push_back(timing);
  }
  return true;
}

double Trainer::measure_peak_flops() const {
  const bool cuda = device_.is_cuda();
  return measure_matmul_gflops(device_, cuda ? torch::kBFloat16 : torch::kFloat32, cuda ? 8192 : 1024) * 1e9;
}

void Trainer::log_step(double lr, double grad_norm) {
  if (main_) {
    const double secs = std::max(seconds_since(interval_start_), 1e-9);
    StepLog s;
    s.step = state_.step;
    s.tokens = state_.tokens;
    s.loss = last_loss_;
    s.lr = lr;
    s.grad_norm = grad_norm;
    s.tokens_per_s = interval_tokens_ / secs;
    s.mfu = interval_flops_ / secs / (peak_flops_ * world_size_);  // every rank's hardware counts
    if (s.mfu > 1.0) {
      // The model ran faster than the matmul peak measured at the start: that measurement met a busy
      // machine. Measure again, keep the better, and never report more than the peak.
      peak_flops_ = std::max(peak_flops_, measure_peak_flops());
      s.mfu = std::min(1.0, interval_flops_ / secs / (peak_flops_ * world_size_));
    }
    s.elapsed_s = elapsed();
    record({{"step", s.step}, {"loss", s.loss}, {"lr", s.lr}, {"grad_norm", s.grad_norm}, {"tokens", s.tokens},
            {"tokens_per_s", s.tokens_per_s}, {"mfu", s.mfu}, {"elapsed_s", s.elapsed_s}});
    progress_->update(s.step, strprintf("loss %.4f lr %.2e %s tok/s mfu %.1f%%", s.loss, s.lr,
                                        format_si(s.tokens_per_s).c_str(), 100 * s.mfu));
    if (opts_.hooks.on_log) opts_.hooks.on_log(s);
  }
  interval_start_ = std::chrono::steady_clock::now();
  interval_tokens_ = 0;
  interval_flops_ = 0;
}

bool Trainer::evaluate() {
  EvalResult r = gptforge::evaluate(model_, data_.eval_set(), device_, precision_, data_.bytes_per_token(), &dist_);
  const bool best = r.loss < state_.best_val_loss;  // the same on all ranks
  if (best) {
    state_.best_val_loss = r.loss;
    state_.best_step = state_.step;
    state_.evals_since_best = 0;
  } else {
    ++state_.evals_since_best;
  }
  record({{"step", state_.step}, {"val_loss", r.loss}, {"val_bpb", r.bpb}, {"tokens", state_.tokens},
          {"elapsed_s", elapsed()}});
  if (main_) {
    std::string bpb = data_.bytes_per_token() > 0 ? strprintf(", %.4f bits/byte", r.bpb) : "";
    log_info(strprintf("\neval step %lld: val loss %.4f%s%s", (long long)state_.step, r.loss, bpb.c_str(),
                       best ? " (best)" : ""));
    if (opts_.hooks.on_eval) opts_.hooks.on_eval(EvalLog{state_.step, r.loss, r.bpb, best});
  }
  return best;
}

bool Trainer::patience_exhausted() const {
  return opts_.early_stop_patience > 0 && state_.evals_since_best >= opts_.early_stop_patience;
}

void Trainer::plan_time_bounded_run() {
  if (total_steps_ > 0 || tc_.max_minutes <= 0 || state_.step == 0) return;
  // The steps the run would reach at its rate so far. Rank 0's estimate holds for every rank, so that
  // all stop before the same step.
  const double budget = tc_.max_minutes * 60, spent = std::max(elapsed(), 1e-9);
  const double rate_estimate = std::min(1e12, std::round(static_cast<double>(state_.step) * budget / spent));
  const int64_t estimate = std::max(state_.step, static_cast<int64_t>(rate_estimate));
  total_steps_ = dist_.sum(main_ ? planned_steps_or(estimate) : int64_t{0});
  state_.planned_steps = total_steps_;
  schedule_ = std::make_unique<LrSchedule>(tc_, total_steps_);
  if (main_) {
    log_info(strprintf("\ntime-bounded run: plans %lld steps from its rate over the first %lld; the schedule follows "
                       "steps from here, and --resume keeps it", (long long)total_steps_, (long long)state_.step));
  }
}

void Trainer::save(bool is_best) {
  plan_time_bounded_run();
  // Every rank's loader and RNG state, so that each one resumes exactly; rank 0 writes.
  state_.loader_states = dist_.all_gather(data_.state());
  std::vector<std::string> rng = dist_.all_gather(cpu_rng_state());
  state_.rng_cpu = rng.front();
  state_.rng_cpu_ranks = world_size_ > 1 ? rng : std::vector<std::string>{};
  state_.elapsed_s = elapsed();
  if (!main_) return;
  CheckpointContents c;
  c.model = model_.ptr().get();
  c.optimizer = optimizer_.get();
  c.state = state_;
  c.config = &cfg_;
  c.tokenizer_model = data_.tokenizer_model();
  last_checkpoint_ = save_checkpoint(tc_.out_dir, c, is_best, tc_.keep_last);
  if (opts_.hooks.on_checkpoint) opts_.hooks.on_checkpoint(last_checkpoint_, state_.step);
}

TrainSummary Trainer::finish() {
  if (interrupted_ && main_) log_info("\ninterrupted: saving a checkpoint before exiting");
  bool best = false;
  if (!interrupted_ && !early_stopped_ && (tc_.eval_interval == 0 || state_.step % tc_.eval_interval != 0)) {
    best = evaluate();
  }
  if (state_.step > 0) save(best && tc_.keep_best);
  dist_.barrier();  // no rank reports done before rank 0 has written the last checkpoint
  progress_->finish(strprintf("loss %.4f", last_loss_), state_.step);

  TrainSummary summary;
  summary.rank = dist_.rank();
  summary.interrupted = interrupted_;
  summary.early_stopped = early_stopped_;
  summary.checkpoint = last_checkpoint_;
  summary.steps = state_.step;
  summary.tokens = state_.tokens;
  summary.skipped_steps = state_.skipped_steps;
  summary.seconds = elapsed();
  summary.final_loss = last_loss_;
  summary.best_val_loss = state_.best_val_loss;
  summary.best_step = state_.best_step;
  if (data_.bytes_per_token() > 0) {
    summary.best_val_bpb = state_.best_val_loss / std::log(2.0) / data_.bytes_per_token();
  }
  return summary;
}

TrainSummary Trainer::run() {
  resume();
  while (!should_stop()) {
    if (thread_governor_) share_cores();
    if (!step()) continue;  // a non-finite loss: skipped
    const int64_t step = state_.step;
    bool saved_best = false;
    if (tc_.eval_interval > 0 && step % tc_.eval_interval == 0) {
      saved_best = evaluate() && tc_.keep_best;
      if (saved_best) save(true);
      if (patience_exhausted()) {
        early_stopped_ = true;
        if (main_) {
          log_info(strprintf("early stop: no improvement in %lld evaluations", (long long)state_.evals_since_best));
        }
        break;
      }
    }
    if (main_ && sample_tok_ && step % tc_.sample_interval == 0) opts_.hooks.on_sample(model_, *sample_tok_, step);
    if (tc_.checkpoint_interval > 0 && step % tc_.checkpoint_interval == 0 && !saved_best) save(false);
  }
  return finish();
}

TrainSummary train_model(const Config& cfg, TrainData& data, const TrainOptions& opts) {
  return Trainer(cfg, data, opts).run();
}

// ---- Pretraining data: random windows of token shards ---------------------------------------------

namespace {

class ShardTrainData : public TrainData {
 public:
  ShardTrainData(const Config& cfg, int rank, int world_size, std::string tokenizer_model)
      : tokenizer_(std::move(tokenizer_model)) {
    auto train = std::make_shared<const TokenDataset>(TokenDataset::open(cfg.train.data_dir, "train"));
    TokenDataset val = TokenDataset::open(cfg.train.data_dir, "val");
    vocab_size_ = train->vocab_size();
    bytes_per_token_ = val.bytes_per_token();
    sampler_ = std::make_unique<BatchSampler>(train, cfg.train.batch_size, cfg.model.block_size,
                                              static_cast<uint64_t>(cfg.run.seed), rank, world_size);
    eval_ = eval_batches(val, cfg.train.batch_size, cfg.model.block_size, cfg.train.eval_batches, rank, world_size);
  }
  Batch next() override { return sampler_->next(); }
  std::string state() const override { return sampler_->state(); }
  void set_state(const std::string& s) override { sampler_->set_state(s); }
  const std::vector<Batch>& eval_set() const override { return eval_; }
  double bytes_per_token() const override { return bytes_per_token_; }
  int64_t vocab_size() const override { return vocab_size_; }
  std::string tokenizer_model() const override { return tokenizer_; }

 private:
  std::unique_ptr<BatchSampler> sampler_;
  std::vector<Batch> eval_;
  int64_t vocab_size_ = 0;
  double bytes_per_token_ = 0;
  std::string tokenizer_;
};

}  // namespace

std::unique_ptr<TrainData> shard_train_data(const Config& cfg, int rank, int world_size, std::string tokenizer_model) {
  return std::make_unique<ShardTrainData>(cfg, rank, world_size, std::move(tokenizer_model));
}

TrainSummary pretrain(Config cfg, const TrainOptions& opts_in) {
  const std::string& dir = cfg.train.data_dir;
  if (!fs::exists(dir + "/meta.json")) {
    throw DataError(dir + "/meta.json: no prepared shards (run `gptforge prepare`, or set train.data_dir)");
  }
  TrainOptions opts = opts_in;
  if (!opts.dist) opts.dist = Distributed::from_environment(cfg.run);
  if (!opts.dist->is_main()) set_log_level(LogLevel::Quiet);  // rank 0 speaks for the run
  // Every checkpoint carries this tokenizer: it must load and fit the shards and the model before the
  // first step, not reach the checkpoints as garbage.
  const Tokenizer tok = load_dataset_tokenizer(dir, read_dataset_meta(dir));
  if (cfg.model.vocab_size == 0) {
    cfg.model.vocab_size = tok.vocab_size();
  } else if (cfg.model.vocab_size != tok.vocab_size()) {
    throw ConfigError(strprintf("model.vocab_size (%lld) does not match the tokenizer's vocabulary (%lld) of %s/meta.json "
                                "and %s/tokenizer.model",
                                (long long)cfg.model.vocab_size, (long long)tok.vocab_size(), dir.c_str(), dir.c_str()));
  }
  auto data = shard_train_data(cfg, opts.dist->rank(), opts.dist->world_size(), tok.serialized());
  return train_model(cfg, *data, opts);
}

}  // namespace gptforge
