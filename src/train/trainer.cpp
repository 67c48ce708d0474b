#include "train/trainer.h"

#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <unistd.h>

#include "tokenizer/tokenizer.h"
#include "data/random.h"
#include "model/eval_mode.h"
#include "train/lr_schedule.h"
#include "train/metrics.h"
#include "train/optimizer.h"
#include "train/precision.h"
#include "util/errors.h"
#include "util/files.h"
#include "util/log.h"
#include "util/progress.h"
#include "util/runtime.h"
#include "util/units.h"

namespace fs = std::filesystem;

namespace gptforge {

// ---- Signals: SIGINT/SIGTERM ask the loop to checkpoint and stop; a second one stops at once ----
namespace {

std::atomic<int> g_stop_signal{0};

extern "C" void on_stop_signal(int sig) {
  if (g_stop_signal.exchange(sig) != 0) _exit(128 + sig);
}

class StopSignals {
 public:
  StopSignals() {
    g_stop_signal = 0;
    old_int_ = std::signal(SIGINT, on_stop_signal);
    old_term_ = std::signal(SIGTERM, on_stop_signal);
  }
  ~StopSignals() {
    std::signal(SIGINT, old_int_);
    std::signal(SIGTERM, old_term_);
  }
  bool requested() const { return g_stop_signal.load() != 0; }

 private:
  void (*old_int_)(int);
  void (*old_term_)(int);
};

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
                    const std::string& precision, double bytes_per_token, Distributed* dist) {
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

TrainSummary train_model(const Config& cfg, TrainData& data, const TrainOptions& opts) {
  const TrainConfig& tc = cfg.train;
  // One process, or one rank of a data-parallel run: every rank runs the same steps on its own data
  // and sums gradients with the others; only rank 0 logs and writes files.
  Distributed alone;
  Distributed& dist = opts.dist ? *opts.dist : alone;
  const bool main = dist.is_main();
  const int64_t world_size = dist.world_size();
  auto say = [&](const std::string& msg) {
    if (main) log_info(msg);
  };
  const torch::Device device = dist.active() ? dist.device() : resolve_device(cfg.run.device);
  const std::string precision = resolve_precision(tc.precision, device);
  const int64_t accum = accumulation_steps(cfg, world_size);
  const int64_t tokens_per_step = accum * tc.batch_size * cfg.model.block_size * world_size;
  const int64_t total_steps = planned_steps(tc, tokens_per_step);
  if (total_steps == 0 && tc.max_minutes <= 0) {
    throw ConfigError("train: no stopping rule: set train.max_steps, train.max_tokens or train.max_minutes");
  }

  // ---- Output directory: refuse to clobber a run unless asked; only rank 0 changes it ----
  if (has_checkpoint(tc.out_dir) && !opts.resume && !opts.force) {
    throw UsageError("train.out_dir '" + tc.out_dir +
                     "' already holds checkpoints: pass --resume to continue that run, or --force to start over");
  }
  if (opts.resume && !has_checkpoint(tc.out_dir)) {
    throw UsageError("--resume: train.out_dir '" + tc.out_dir + "' holds no checkpoint to resume from");
  }
  if (main && opts.force && !opts.resume && fs::exists(tc.out_dir)) {
    for (const auto& e : fs::directory_iterator(tc.out_dir)) {
      std::string n = e.path().filename().string();
      if (n.rfind("step_", 0) == 0 || n == "latest" || n == "best" || n == "metrics.jsonl") fs::remove_all(e.path());
    }
  }
  if (main) fs::create_directories(tc.out_dir);

  // ---- Model and optimiser: every replica starts from the same weights ----
  torch::manual_seed(static_cast<uint64_t>(cfg.run.seed));
  GPT model(cfg.model);
  model->to(device);
  auto optimizer = make_optimizer(*model, tc);
  std::vector<torch::Tensor> params = model->parameters();
  TrainerState state;
  state.kind = opts.kind;
  state.world_size = world_size;

  if (opts.resume) {
    LoadedCheckpoint ck = load_checkpoint(tc.out_dir);
    check_resumable(cfg, ck);
    if (!ck.has_state) throw CheckpointError(ck.dir + ": has no trainer_state.json to resume from");
    if (ck.state.world_size != world_size) {
      throw CheckpointError(strprintf("%s: written by a run of %lld process(es), resumed with %lld; resume with the "
                                      "same number (gptforge launch --nproc %lld, or WORLD_SIZE=%lld)",
                                      ck.dir.c_str(), (long long)ck.state.world_size, (long long)world_size,
                                      (long long)ck.state.world_size, (long long)ck.state.world_size));
    }
    if (static_cast<int64_t>(ck.state.loader_states.size()) != world_size ||
        (world_size > 1 && static_cast<int64_t>(ck.state.rng_cpu_ranks.size()) != world_size)) {
      throw CheckpointError(ck.dir + "/trainer_state.json: the loader and RNG states do not match its world_size");
    }
    load_weights(*model, ck.weights, ck.dir + "/model.safetensors");
    if (ck.optimizer_path.empty()) throw CheckpointError(ck.dir + ": has no optimizer.pt to resume from");
    load_optimizer(*optimizer, ck.optimizer_path);
    state = ck.state;
    data.set_state(state.loader_states.at(static_cast<size_t>(dist.rank())));
    set_cpu_rng_state(world_size > 1 ? state.rng_cpu_ranks.at(static_cast<size_t>(dist.rank())) : state.rng_cpu);
    say(strprintf("resumed %s at step %lld (%s tokens)", ck.dir.c_str(), (long long)state.step,
                  format_si(static_cast<double>(state.tokens)).c_str()));
  } else if (!tc.init_from.empty()) {
    StoredModel init = read_model(tc.init_from);
    check_resumable(cfg, init);
    load_weights(*model, init.weights, init.dir + "/model.safetensors");
    say("initialised weights from " + init.dir);
  }
  if (dist.active()) {
    std::vector<torch::Tensor> replicated = params;
    for (const auto& b : model->buffers()) replicated.push_back(b);
    dist.broadcast(replicated);  // rank 0's weights, whatever each rank initialised or loaded
    // Dropout masks differ between ranks: each draws from its own stream (restored on resume above).
    if (!opts.resume) torch::manual_seed(derive_seed(static_cast<uint64_t>(cfg.run.seed), 1000 + dist.rank()));
  }
  std::unique_ptr<MetricsLog> metrics;
  if (main) {
    save_config(cfg, tc.out_dir + "/config.yaml");
    metrics = std::make_unique<MetricsLog>(tc.out_dir + "/metrics.jsonl", opts.resume ? state.step : -1);
  }
  auto record = [&](const nlohmann::json& j) {
    if (metrics) metrics->write(j);
  };

  // ---- What the run will do ----
  const double flops_per_tok = flops_per_token(cfg.model, cfg.model.block_size);
  // Measured on rank 0 only, for the MFU figure of its log (other ranks would just compete for cores).
  const double peak_flops = main ? measure_matmul_gflops(device, device.is_cuda() ? torch::kBFloat16 : torch::kFloat32,
                                                         device.is_cuda() ? 8192 : 1024) * 1e9
                                 : 1.0;
  say(strprintf("model: %s parameters (%s without embeddings), %s FLOPs/token", format_si(model->num_params(true)).c_str(),
                format_si(model->num_params(false)).c_str(), format_si(flops_per_tok).c_str()));
  std::string ranks = world_size > 1 ? strprintf(" x %lld processes", (long long)world_size) : "";
  say(strprintf("train: %s, %s, batch %lld x %lld tokens x %lld accumulation%s = %s tokens/step, %s steps",
                device_description(device).c_str(), precision.c_str(), (long long)tc.batch_size,
                (long long)cfg.model.block_size, (long long)accum, ranks.c_str(), format_si(tokens_per_step).c_str(),
                total_steps ? std::to_string(total_steps).c_str() : "time-bounded"));
  if (dist.active()) say(strprintf("distributed: %lld processes over %s", (long long)world_size, dist.backend().c_str()));
  say(strprintf("peak matmul (measured now): %.1f GFLOP/s; out_dir: %s", peak_flops / 1e9, tc.out_dir.c_str()));

  LrSchedule schedule(tc, total_steps);
  LossScaler scaler(precision == "fp16");
  StopSignals signals;
  Progress progress("train", total_steps, main ? cfg.run.progress : "off", 0.0);
  TrainSummary summary;
  summary.rank = dist.rank();
  const auto start = std::chrono::steady_clock::now();
  const double elapsed_before = state.elapsed_s;
  auto elapsed = [&] { return elapsed_before + seconds_since(start); };
  auto interval_start = std::chrono::steady_clock::now();
  int64_t interval_tokens = 0, bad_in_row = 0;
  double interval_flops = 0;
  double last_loss = 0;
  bool interrupted = false;

  auto checkpoint = [&](bool is_best) {
    // Every rank's loader and RNG state, so that each one resumes exactly; rank 0 writes.
    state.loader_states = dist.all_gather(data.state());
    std::vector<std::string> rng = dist.all_gather(cpu_rng_state());
    state.rng_cpu = rng.front();
    state.rng_cpu_ranks = world_size > 1 ? rng : std::vector<std::string>{};
    state.elapsed_s = elapsed();
    if (!main) return;
    CheckpointContents c;
    c.model = model.ptr().get();
    c.optimizer = optimizer.get();
    c.state = state;
    c.config = &cfg;
    c.tokenizer_model = data.tokenizer_model();
    summary.checkpoint = save_checkpoint(tc.out_dir, c, is_best, tc.keep_last);
  };
  auto run_eval = [&]() -> bool {  // returns whether this evaluation is the best so far (the same on all ranks)
    EvalResult r = evaluate(model, data.eval_set(), device, precision, data.bytes_per_token(), &dist);
    bool best = r.loss < state.best_val_loss;
    if (best) {
      state.best_val_loss = r.loss;
      state.best_step = state.step;
      state.evals_since_best = 0;
    } else {
      ++state.evals_since_best;
    }
    record({{"step", state.step}, {"val_loss", r.loss}, {"val_bpb", r.bpb}, {"tokens", state.tokens},
            {"elapsed_s", elapsed()}});
    std::string bpb = data.bytes_per_token() > 0 ? strprintf(", %.4f bits/byte", r.bpb) : "";
    say(strprintf("\neval step %lld: val loss %.4f%s%s", (long long)state.step, r.loss, bpb.c_str(),
                  best ? " (best)" : ""));
    return best;
  };

  // The periodic sample (a hook: generating text is not the trainer's business).
  std::unique_ptr<Tokenizer> sample_tok;
  if (tc.sample_interval > 0 && opts.hooks.on_sample) {
    sample_tok = std::make_unique<Tokenizer>(Tokenizer::from_serialized(data.tokenizer_model()));
  }

  // Phase timings, when asked for: the device is synchronised at each boundary so that the split is true.
  using Clock = std::chrono::steady_clock;
  Clock::time_point mark_time;
  auto mark = [&](double* into) {
    if (!opts.step_timings) return;
    synchronize_device(device);
    auto now = Clock::now();
    if (into) *into += std::chrono::duration<double>(now - mark_time).count();
    mark_time = now;
  };

  model->train();
  while (true) {
    const Clock::time_point step_start = Clock::now();
    StepTiming timing;
    // ---- Stop rules, checked before each step. The ranks decide together: a stop signal or the
    // clock on any one of them stops them all before the same step ----
    bool budget_done = (total_steps > 0 && state.step >= total_steps) ||
                       (tc.max_tokens > 0 && state.tokens >= tc.max_tokens);
    torch::Tensor stop = torch::tensor({static_cast<int64_t>(signals.requested()),
                                        static_cast<int64_t>(tc.max_minutes > 0 && elapsed() >= tc.max_minutes * 60)});
    dist.all_reduce_sum(stop);
    interrupted = stop[0].item<int64_t>() > 0;
    if (budget_done || interrupted || stop[1].item<int64_t>() > 0) break;

    // ---- One optimiser step: micro-batches, forward, loss, backward ----
    const double lr = schedule.at(state.step, tc.max_minutes > 0 ? elapsed() / (tc.max_minutes * 60) : 0.0);
    set_learning_rate(*optimizer, lr);
    mark(nullptr);
    // Draw the micro-batches and move them to the device (to_device: SFT's LM head on target rows).
    std::vector<DeviceBatch> micro;
    int64_t target_count = 0, positions = 0;
    double step_flops = 0;  // this rank's, for MFU: padded SFT batches are shorter than block_size
    for (int64_t i = 0; i < accum; ++i) {
      Batch b = data.next();
      micro.push_back(to_device(b, device));
      target_count += micro.back().targets;
      positions += b.x.numel();
      // The LM head's share (6 * vocab * d_model per position) of the skipped rows is never done.
      step_flops += static_cast<double>(b.x.numel()) * flops_per_token(cfg.model, b.x.size(1)) -
                    6.0 * static_cast<double>(cfg.model.vocab_size * cfg.model.d_model) *
                        static_cast<double>(micro.back().skipped_rows);
    }
    target_count = dist.sum(target_count);
    // Each micro-batch's summed loss over the step's target count (all ranks'): accumulating k
    // micro-batches on each of n ranks, then summing the gradients over the ranks, gives exactly the
    // gradient of one k*n-times larger batch, masked targets included.
    torch::Tensor step_loss = torch::zeros({}, torch::TensorOptions().device(device));
    mark(&timing.data);
    for (const auto& b : micro) {
      torch::Tensor loss;
      {
        AutocastGuard autocast(device, precision);
        loss = batch_loss(model, b).sum / static_cast<double>(std::max<int64_t>(1, target_count));
      }
      mark(&timing.forward);
      scaler.scale_loss(loss).backward();
      step_loss += loss.detach().to(torch::kFloat32);
      mark(&timing.backward);
    }
    dist.all_reduce_gradients(params);
    scaler.unscale(params);
    mark(&timing.backward);

    // A non-finite loss skips the step (and counts); too many in a row end the run. The loss is the
    // sum of every rank's share, so all ranks see the same value and skip together.
    last_loss = dist.sum(step_loss.item<double>());
    if (!std::isfinite(last_loss)) {
      clear_gradients(params);
      scaler.update(false);
      ++state.skipped_steps;
      if (!scaler.enabled() && ++bad_in_row >= tc.max_bad_steps) {
        throw RunError(strprintf("loss was not finite for %lld steps in a row (at step %lld): stopping; the last good "
                                 "checkpoint in %s is intact. Lower train.learning_rate or check the data",
                                 (long long)bad_in_row, (long long)state.step, tc.out_dir.c_str()));
      }
      if (main) log_warn(strprintf("step %lld: non-finite loss, step skipped", (long long)state.step));
      continue;
    }
    bad_in_row = 0;
    scaler.update(true);
    torch::Tensor norm = clip_grad_norm(params, tc.grad_clip);
    optimizer->step();
    // Dropped here rather than before the next step, so that gradients never outlive their step
    // (a checkpoint or an evaluation in between sees none).
    clear_gradients(params);
    mark(&timing.optimizer);
    ++state.step;
    // Positions actually run: the nominal tokens_per_step for pretraining, fewer for padded SFT batches.
    const int64_t step_tokens = world_size > 1 ? dist.sum(positions) : positions;
    state.tokens += step_tokens;
    interval_tokens += step_tokens;
    interval_flops += step_flops * static_cast<double>(world_size);

    // ---- Log (rank 0) ----
    if (state.step % tc.log_interval == 0 || state.step == total_steps) {
      if (main) {
        double secs = seconds_since(interval_start);
        double tok_s = interval_tokens / std::max(secs, 1e-9);
        double mfu = interval_flops / std::max(secs, 1e-9) / (peak_flops * world_size);  // every rank's hardware counts
        record({{"step", state.step}, {"loss", last_loss}, {"lr", lr}, {"grad_norm", norm.item<double>()},
                {"tokens", state.tokens}, {"tokens_per_s", tok_s}, {"mfu", mfu}, {"elapsed_s", elapsed()}});
        progress.update(state.step, strprintf("loss %.4f lr %.2e %s tok/s mfu %.1f%%", last_loss, lr,
                                              format_si(tok_s).c_str(), 100 * mfu));
      }
      interval_start = std::chrono::steady_clock::now();
      interval_tokens = 0;
      interval_flops = 0;
    }

    // ---- Evaluate, keep the best, checkpoint ----
    bool evaluated_best = false;
    if (tc.eval_interval > 0 && state.step % tc.eval_interval == 0) {
      evaluated_best = run_eval();
      if (evaluated_best && tc.keep_best) checkpoint(true);
      if (opts.kind == "sft" && cfg.sft.early_stop_patience > 0 &&
          state.evals_since_best >= cfg.sft.early_stop_patience) {
        summary.early_stopped = true;
        say(strprintf("early stop: no improvement in %lld evaluations", (long long)state.evals_since_best));
        break;
      }
    }
    if (main && sample_tok && state.step % tc.sample_interval == 0) {
      opts.hooks.on_sample(model, *sample_tok, state.step);
    }
    if (tc.checkpoint_interval > 0 && state.step % tc.checkpoint_interval == 0 &&
        !(evaluated_best && tc.keep_best)) {
      checkpoint(false);
    }
    if (opts.step_timings) {
      timing.total = seconds_since(step_start);
      opts.step_timings->push_back(timing);
    }
  }

  // ---- Finish: final evaluation and checkpoint ----
  summary.interrupted = interrupted;
  if (summary.interrupted) say("\ninterrupted: saving a checkpoint before exiting");
  bool best = false;
  if (!summary.interrupted && (tc.eval_interval == 0 || state.step % tc.eval_interval != 0)) best = run_eval();
  if (state.step > 0) checkpoint(best && tc.keep_best);
  dist.barrier();  // no rank reports done before rank 0 has written the last checkpoint
  progress.finish(strprintf("loss %.4f", last_loss));

  summary.steps = state.step;
  summary.tokens = state.tokens;
  summary.skipped_steps = state.skipped_steps;
  summary.seconds = elapsed();
  summary.final_loss = last_loss;
  summary.best_val_loss = state.best_val_loss;
  summary.best_step = state.best_step;
  if (data.bytes_per_token() > 0) summary.best_val_bpb = state.best_val_loss / std::log(2.0) / data.bytes_per_token();
  return summary;
}

// ---- Pretraining data: random windows of token shards ---------------------------------------------

namespace {

class ShardTrainData : public TrainData {
 public:
  ShardTrainData(const Config& cfg, int rank, int world_size) {
    auto train = std::make_shared<const TokenDataset>(TokenDataset::open(cfg.train.data_dir, "train"));
    TokenDataset val = TokenDataset::open(cfg.train.data_dir, "val");
    vocab_size_ = train->vocab_size();
    bytes_per_token_ = val.bytes_per_token();
    sampler_ = std::make_unique<BatchSampler>(train, cfg.train.batch_size, cfg.model.block_size,
                                              static_cast<uint64_t>(cfg.run.seed), rank, world_size);
    eval_ = eval_batches(val, cfg.train.batch_size, cfg.model.block_size, cfg.train.eval_batches, rank, world_size);
    tokenizer_path_ = cfg.train.data_dir + "/tokenizer.model";
    tokenizer_ = read_file_or_explain(tokenizer_path_);
  }
  Batch next() override { return sampler_->next(); }
  std::string state() const override { return sampler_->state(); }
  void set_state(const std::string& s) override { sampler_->set_state(s); }
  const std::vector<Batch>& eval_set() const override { return eval_; }
  double bytes_per_token() const override { return bytes_per_token_; }
  int64_t vocab_size() const override { return vocab_size_; }
  std::string tokenizer_model() const override { return tokenizer_; }

 private:
  static std::string read_file_or_explain(const std::string& path) {
    if (!fs::exists(path)) throw DataError(path + ": missing (run `gptforge prepare` to write shards and tokenizer)");
    return read_file(path);
  }
  std::unique_ptr<BatchSampler> sampler_;
  std::vector<Batch> eval_;
  int64_t vocab_size_ = 0;
  double bytes_per_token_ = 0;
  std::string tokenizer_path_, tokenizer_;
};

}  // namespace

TrainSummary pretrain(Config cfg, const TrainOptions& opts_in) {
  if (!fs::exists(cfg.train.data_dir + "/meta.json")) {
    throw DataError(cfg.train.data_dir + "/meta.json: no prepared shards (run `gptforge prepare`, or set train.data_dir)");
  }
  TrainOptions opts = opts_in;
  if (!opts.dist) opts.dist = Distributed::from_environment(cfg.run);
  if (!opts.dist->is_main()) set_log_level(LogLevel::Quiet);  // rank 0 speaks for the run
  ShardTrainData data(cfg, opts.dist->rank(), opts.dist->world_size());
  if (cfg.model.vocab_size == 0) {
    cfg.model.vocab_size = data.vocab_size();
  } else if (cfg.model.vocab_size != data.vocab_size()) {
    throw ConfigError(strprintf("model.vocab_size (%lld) does not match the tokenizer's vocabulary (%lld) in %s/meta.json",
                                (long long)cfg.model.vocab_size, (long long)data.vocab_size(),
                                cfg.train.data_dir.c_str()));
  }
  return train_model(cfg, data, opts);
}

}  // namespace gptforge
