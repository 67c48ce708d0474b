// Decode speed with and without the KV cache on a random tiny GPT.
//
//   build/bench_decode [--tokens 256] [--threads N] [--d-model 128] [--layers 4] [--block 512]
//                      [--prompt 16] [--vocab 4096] [--repeats 3] [--device cpu|cuda]
//
// Prints tokens/s of greedy and sampled decoding through generate_detailed, with the cache (one
// position per token) and without it (a full forward over the window each token), and their ratio.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>

#include "generate/sampler.h"
#include "util/log.h"
#include "util/runtime.h"

using namespace gptforge;

namespace {

struct Timing {
  double tokens_per_s = 0;
  std::vector<int32_t> ids;
};

Timing best_of(GPT& model, const std::vector<int32_t>& prompt, const GenerationOptions& o, int repeats) {
  Timing t;
  for (int r = 0; r < repeats; ++r) {
    GenerationStats stats;
    auto out = generate_detailed(model, prompt, o, nullptr, {}, &stats);
    t.tokens_per_s = std::max(t.tokens_per_s, stats.tokens_per_s());
    t.ids = out[0].ids;
  }
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Decode tokens/s with and without the KV cache", "bench_decode"};
  int64_t tokens = 256, d_model = 128, layers = 4, heads = 4, block = 512, prompt_len = 16, vocab = 4096;
  int threads = 0, repeats = 3;
  std::string device_name = "cpu";
  app.add_option("--tokens", tokens, "Tokens generated per run")->capture_default_str();
  app.add_option("--threads", threads, "Intra-op threads (0 = all cores)")->capture_default_str();
  app.add_option("--d-model", d_model)->capture_default_str();
  app.add_option("--layers", layers)->capture_default_str();
  app.add_option("--heads", heads)->capture_default_str();
  app.add_option("--block", block)->capture_default_str();
  app.add_option("--prompt", prompt_len, "Prompt tokens")->capture_default_str();
  app.add_option("--vocab", vocab)->capture_default_str();
  app.add_option("--repeats", repeats, "Runs per setting; the best counts")->capture_default_str();
  app.add_option("--device", device_name, "cpu, cuda or auto")->capture_default_str();
  bool json = false;
  app.add_flag("--json", json, "Print one JSON object instead of the table");
  CLI11_PARSE(app, argc, argv);

  RunConfig run;
  run.threads = threads;
  run.log_level = "quiet";
  init_runtime(run);
  const torch::Device device = resolve_device(device_name);

  ModelConfig cfg;
  cfg.vocab_size = vocab;
  cfg.block_size = block;
  cfg.n_layer = layers;
  cfg.n_head = heads;
  cfg.d_model = d_model;
  torch::manual_seed(0);
  GPT model(cfg);
  model->to(device);
  model->eval();
  std::vector<int32_t> prompt;
  for (int64_t i = 0; i < prompt_len; ++i) prompt.push_back(static_cast<int32_t>((i * 37 + 11) % vocab));

  const std::string model_desc = strprintf("d_model %lld, %lld layers, %lld heads, block %lld, vocab %lld, prompt %lld",
                                           (long long)d_model, (long long)layers, (long long)heads, (long long)block,
                                           (long long)vocab, (long long)prompt_len);
  nlohmann::json rows = nlohmann::json::array();
  if (!json) {
    std::printf("model: %s; batch 1, %lld new tokens; %s, %d threads\n", model_desc.c_str(), (long long)tokens,
                device_description(device).c_str(), torch::get_num_threads());
    std::printf("%-28s %14s %14s %8s %12s\n", "decoding", "cache tok/s", "no cache tok/s", "ratio", "same tokens");
  }
  for (bool greedy : {true, false}) {
    GenerationOptions o;
    o.max_new_tokens = tokens;
    o.stop_at_eos = false;
    o.temperature = greedy ? 0.0 : 0.8;
    o.top_k = greedy ? 0 : 50;
    o.seed = 1;
    // Warm-up: allocator, thread pool, first-call dispatch.
    GenerationOptions warm = o;
    warm.max_new_tokens = 8;
    generate_detailed(model, prompt, warm, nullptr);
    Timing cached = best_of(model, prompt, o, repeats);
    o.use_cache = false;
    Timing full = best_of(model, prompt, o, repeats);
    const char* name = greedy ? "greedy" : "sampled (T 0.8, top-k 50)";
    rows.push_back({{"decoding", name}, {"cache_tokens_per_s", cached.tokens_per_s},
                    {"full_tokens_per_s", full.tokens_per_s}, {"ratio", cached.tokens_per_s / full.tokens_per_s},
                    {"same", cached.ids == full.ids}});
    if (!json) {
      std::printf("%-28s %14.1f %14.1f %7.2fx %12s\n", name, cached.tokens_per_s, full.tokens_per_s,
                  cached.tokens_per_s / full.tokens_per_s, cached.ids == full.ids ? "yes" : "no");
    }
  }
  if (json) {
    nlohmann::json j = {{"model", model_desc}, {"tokens", tokens}, {"threads", torch::get_num_threads()},
                        {"device", device_description(device)}, {"rows", rows}};
    std::printf("%s\n", j.dump().c_str());
  }
  return 0;
}
