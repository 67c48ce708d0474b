// Training throughput of the real trainer on random tokens: train_model over shard_train_data, what
// `pretrain` runs once it has checked the data's tokenizer (random ids have none to check).
//
//   build/bench_train [--config FILE] [key=value ...] [--warmup 5] [--steps 20] [--data DIR] [--json]
//                     [--profile N]
//
// Writes a shard of uniformly random tokens into --data (once; bench/reference_pytorch.py reads the
// same file), runs warmup + steps optimiser steps with evaluation and periodic checkpoints off, and
// reports the median time per step split into data, forward, backward and optimiser, tokens/s, the
// model FLOPs per token, the fp32 (CPU) or bf16 (CUDA) matmul peak measured before and after the run
// in this process (the best of them, measured again when the run beat it), MFU against it (at most 100%), and the process's peak resident memory.
//
// Model and batch come from the config and overrides, as for `gptforge train`; bench/run.py passes
// the sizes it compares. --profile N prints the N ops with the most self time over the whole run
// (its final evaluation and checkpoint included) to stderr: compare with reference_pytorch.py's.
// Its step times then include the profiler's own cost (about 1 us per op): time without it.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <random>

#include "data/dataset_meta.h"
#include "data/shard.h"
#include "model/accounting.h"
#include "op_profile.h"
#include "train/trainer.h"
#include "util/config.h"
#include "util/errors.h"
#include "util/log.h"
#include "util/runtime.h"

using namespace gptforge;
namespace fs = std::filesystem;

namespace {

// One train and one val shard of uniform random ids, and the meta.json the loader needs. No
// tokenizer: random ids have none (main passes placeholder bytes for the checkpoint to store).
void write_random_shards(const std::string& dir, int64_t vocab, int64_t tokens) {
  if (fs::exists(dir + "/meta.json")) {
    DatasetMeta meta = read_dataset_meta(dir);
    if (meta.vocab_size == vocab && meta.splits["train"].tokens >= tokens) return;
  }
  fs::create_directories(dir);
  std::mt19937_64 rng(1234);
  std::uniform_int_distribution<int32_t> id(0, static_cast<int32_t>(vocab - 1));
  DatasetMeta meta;
  meta.vocab_size = vocab;
  meta.dtype_bytes = token_dtype_bytes(vocab);
  meta.documents = "random";
  for (const std::string split : {"train", "val"}) {
    const int64_t n = split == "train" ? tokens : tokens / 16;
    std::vector<int32_t> ids(static_cast<size_t>(n));
    for (auto& t : ids) t = id(rng);
    ShardWriter writer(dir, split, meta.dtype_bytes, n);
    writer.append(ids, static_cast<uint64_t>(n));
    SplitMeta sm;
    sm.tokens = n;
    sm.bytes = n;
    sm.documents = 1;
    sm.shards = writer.finish();
    meta.splits[split] = sm;
  }
  write_dataset_meta(dir, meta);
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Training step time, tokens/s, MFU and peak memory of the gptforge trainer", "bench_train"};
  std::string config_path, data_dir = "data/bench", out_dir;
  std::vector<std::string> overrides;
  int64_t warmup = 5, steps = 20;
  bool json = false;
  int profile_top = 0;
  app.add_option("-c,--config", config_path, "YAML config giving the model and batch (default: built-in defaults)");
  app.add_option("overrides", overrides, "Config overrides: section.key=value ...");
  app.add_option("--warmup", warmup, "Steps run before timing starts")->capture_default_str();
  app.add_option("--steps", steps, "Timed steps")->capture_default_str();
  app.add_option("--data", data_dir, "Where the random-token shard goes (reused when present)")->capture_default_str();
  app.add_option("--out", out_dir, "Checkpoint directory of the run (default: DATA/run)");
  app.add_flag("--json", json, "Print one JSON object instead of the text report");
  app.add_option("--profile", profile_top, "Print the N ops with the most self time to stderr (0 = off)");
  CLI11_PARSE(app, argc, argv);

  try {
    overrides.insert(overrides.begin(), {"run.log_level=quiet", "run.progress=off"});
    Config cfg = load_config(config_path, overrides);
    if (cfg.model.vocab_size == 0) cfg.model.vocab_size = 4096;
    init_runtime(cfg.run);
    set_log_level(LogLevel::Quiet);
    const torch::Device device = resolve_device(cfg.run.device);

    const int64_t tokens_per_step = cfg.train.batch_size * cfg.model.block_size;
    write_random_shards(data_dir, cfg.model.vocab_size, std::max<int64_t>(1 << 20, 4 * tokens_per_step));
    cfg.train.data_dir = data_dir;
    cfg.train.out_dir = out_dir.empty() ? data_dir + "/run" : out_dir;
    cfg.train.max_steps = warmup + steps;
    cfg.train.max_minutes = 0;
    cfg.train.max_tokens = 0;
    cfg.train.total_batch_tokens = 0;
    cfg.train.eval_interval = 0;  // one evaluation and one checkpoint, after the last step
    cfg.train.eval_batches = 1;
    cfg.train.checkpoint_interval = 0;
    cfg.train.sample_interval = 0;
    cfg.train.log_interval = warmup + steps;
    cfg.train.keep_last = 1;
    validate_config(cfg);

    const auto peak_dtype = device.is_cuda() ? torch::kBFloat16 : torch::kFloat32;
    const int64_t peak_n = device.is_cuda() ? 8192 : 1024;
    std::vector<double> peaks{measure_matmul_gflops(device, peak_dtype, peak_n)};

    std::vector<StepTiming> timings;
    TrainOptions opts;
    opts.force = true;
    opts.step_timings = &timings;
    bench::OpProfile profile;
    if (profile_top > 0) profile.start();
    auto train_data = shard_train_data(cfg, 0, 1, "bench_train: random tokens, no tokenizer");
    TrainSummary summary = train_model(cfg, *train_data, opts);
    if (profile_top > 0) {
      profile.stop();
      profile.report(stderr, profile_top);
    }
    peaks.push_back(measure_matmul_gflops(device, peak_dtype, peak_n));

    std::vector<double> data, fwd, bwd, optim, total;
    for (size_t i = static_cast<size_t>(warmup); i < timings.size(); ++i) {
      data.push_back(1e3 * timings[i].data);
      fwd.push_back(1e3 * timings[i].forward);
      bwd.push_back(1e3 * timings[i].backward);
      optim.push_back(1e3 * timings[i].optimizer);
      total.push_back(1e3 * timings[i].total);
    }
    const double step_ms = median(total);
    const double tok_s = tokens_per_step / (step_ms / 1e3);
    const double flops_tok = flops_per_token(cfg.model, cfg.model.block_size);
    // A peak measured while something else ran can sit below what the model's own matmuls reached
    // (MFU of 106% and 163% were seen): then measure again, and never report more than 100%.
    for (int retry = 0; retry < 3 && flops_tok * tok_s > *std::max_element(peaks.begin(), peaks.end()) * 1e9;
         ++retry) {
      peaks.push_back(measure_matmul_gflops(device, peak_dtype, peak_n));
    }
    const double peak = *std::max_element(peaks.begin(), peaks.end());
    const double mfu = std::min(1.0, flops_tok * tok_s / (peak * 1e9));
    struct rusage ru {};
    getrusage(RUSAGE_SELF, &ru);
    const double rss_mb = static_cast<double>(ru.ru_maxrss) / 1024.0;
    const BlasInfo blas = blas_info();

    nlohmann::json j = {
        {"impl", "gptforge"},
        {"torch", TORCH_VERSION},
        {"device", device_description(device)},
        {"threads", torch::get_num_threads()},
        {"blas", blas.library},
        {"precision", cfg.train.precision.name()},
        {"model", {{"d_model", cfg.model.d_model}, {"n_layer", cfg.model.n_layer}, {"n_head", cfg.model.n_head},
                   {"block_size", cfg.model.block_size}, {"vocab_size", cfg.model.vocab_size},
                   {"params", count_params(cfg.model, true)}}},
        {"batch_size", cfg.train.batch_size},
        {"tokens_per_step", tokens_per_step},
        {"steps", steps},
        {"step_ms", {{"data", median(data)}, {"forward", median(fwd)}, {"backward", median(bwd)},
                     {"optimizer", median(optim)}, {"step", step_ms}}},
        {"tokens_per_s", tok_s},
        {"flops_per_token", flops_tok},
        {"peak_gflops", peaks},
        {"mfu", mfu},
        {"peak_rss_mb", rss_mb},
        {"final_loss", summary.final_loss},
    };
    if (json) {
      std::printf("%s\n", j.dump().c_str());
    } else {
      std::printf("model d_model %lld, %lld layers, context %lld, batch %lld (%lld tokens/step); %s, %d threads, %s\n",
                  (long long)cfg.model.d_model, (long long)cfg.model.n_layer, (long long)cfg.model.block_size,
                  (long long)cfg.train.batch_size, (long long)tokens_per_step, device_description(device).c_str(),
                  torch::get_num_threads(), blas.library.c_str());
      std::printf("median step %.1f ms = data %.2f + forward %.1f + backward %.1f + optimiser %.1f (+ rest)\n", step_ms,
                  median(data), median(fwd), median(bwd), median(optim));
      std::printf("%.0f tokens/s, %.1f%% MFU of a %.1f GFLOP/s matmul peak (median of %zu), peak RSS %.0f MB\n", tok_s,
                  100 * mfu, peak, peaks.size(), rss_mb);
    }
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "bench_train: error: %s\n", e.what());
    return e.exit_code();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_train: error: %s\n", e.what());
    return 1;
  }
}
