#include "generate/beam_search.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <string>

#include "generate/decoder.h"
#include "generate/generation_common.h"
#include "generate/stop_strings.h"
#include "util/units.h"

namespace gptforge {
namespace {

struct Beam {
  std::vector<int32_t> ids;      // generated so far
  std::vector<int32_t> history;  // prompt + ids, kept only for the no-repeat n-gram
  double logprob = 0;
};

struct Hypothesis {
  std::vector<int32_t> ids;  // without the end token
  double logprob = 0, score = 0;
  std::string reason;
  int32_t stop_id = -1;
};

}  // namespace

std::vector<Generation> beam_search(GPT& model, const std::vector<int32_t>& prompt_ids, const GenerationOptions& opts,
                                    const Tokenizer* tok, const GenerationCallbacks& callbacks,
                                    GenerationStats* stats) {
  check_generation_inputs(prompt_ids, opts, tok);
  EvalModeGuard eval_mode(model);
  torch::NoGradGuard no_grad;
  GenerationStats local;
  GenerationStats& st = stats ? *stats : local;
  st = GenerationStats{};

  const int64_t width = opts.beam_width;
  const std::vector<int32_t> ends = end_ids(opts, tok);
  const int32_t eos = tok ? tok->eos_id() : kEosId;
  const torch::Device device = model->wte->weight.device();
  const int64_t vocab = model->config().vocab_size;
  auto score_of = [&](double logprob, size_t length) {
    return logprob / std::pow(static_cast<double>(std::max<size_t>(length, 1)), opts.length_penalty);
  };

  auto t0 = std::chrono::steady_clock::now();
  Decoder decoder(model, opts.use_cache);
  torch::Tensor logits = decoder.start(prompt_ids, 1);
  synchronize_device(device);
  st.prompt_tokens = decoder.prompt_tokens();
  st.prompt_seconds = seconds_since(t0);
  t0 = std::chrono::steady_clock::now();

  std::vector<Beam> live(1);
  if (opts.no_repeat_ngram > 0) live[0].history = prompt_ids;
  torch::Tensor present;
  if (opts.repetition_penalty != 1.0) present = presence_mask(prompt_ids, 1, vocab, device);
  std::vector<Hypothesis> finished;
  bool ran_out = opts.max_new_tokens == 0;  // live beams left at the end end by "length"

  for (int64_t step = 0; step < opts.max_new_tokens; ++step) {
    std::vector<std::vector<int32_t>> histories;
    if (opts.no_repeat_ngram > 0) {
      for (const auto& b : live) histories.push_back(b.history);
    }
    torch::Tensor scores = apply_penalties(logits, opts, present, histories, tok);
    std::vector<double> beam_logprobs;
    for (const auto& b : live) beam_logprobs.push_back(b.logprob);
    // (beams, V): the total log-probability of every one-token extension.
    auto totals = torch::log_softmax(scores.to(torch::kDouble), -1) +
                  torch::tensor(beam_logprobs, torch::kDouble).to(device).unsqueeze(1);
    const int64_t k = std::min<int64_t>(2 * width, totals.numel());
    auto top = totals.view({-1}).topk(k);
    auto top_values = std::get<0>(top).to(torch::kCPU), top_index = std::get<1>(top).to(torch::kCPU);
    const double* values = top_values.data_ptr<double>();
    const int64_t* index = top_index.data_ptr<int64_t>();
    st.generated_tokens += static_cast<int64_t>(live.size());

    std::vector<Beam> next_live;
    std::vector<int64_t> origins;
    std::vector<int32_t> tokens;
    for (int64_t j = 0; j < k && static_cast<int64_t>(next_live.size()) < width; ++j) {
      if (!std::isfinite(values[j])) break;
      const int64_t origin = index[j] / vocab;
      const int32_t token = static_cast<int32_t>(index[j] % vocab);
      const Beam& from = live[static_cast<size_t>(origin)];
      if (contains(ends, token)) {
        // Only an end among the best `width` candidates makes a hypothesis.
        if (j < width) {
          finished.push_back({from.ids, values[j], score_of(values[j], from.ids.size() + 1),
                              opts.stop_at_eos && token == eos ? "eos" : "stop_id", token});
        }
        continue;
      }
      Beam b = from;
      b.ids.push_back(token);
      if (opts.no_repeat_ngram > 0) b.history.push_back(token);
      b.logprob = values[j];
      next_live.push_back(std::move(b));
      origins.push_back(origin);
      tokens.push_back(token);
    }
    live = std::move(next_live);

    // Done when `width` hypotheses are finished and no live beam beats the worst of them now.
    std::stable_sort(finished.begin(), finished.end(),
                     [](const Hypothesis& a, const Hypothesis& b) { return a.score > b.score; });
    if (static_cast<int64_t>(finished.size()) > width) finished.resize(static_cast<size_t>(width));
    if (live.empty()) break;
    if (static_cast<int64_t>(finished.size()) == width) {
      double best_live = -std::numeric_limits<double>::infinity();
      for (const auto& b : live) best_live = std::max(best_live, score_of(b.logprob, b.ids.size()));
      if (best_live <= finished.back().score) break;
    }
    if (step + 1 == opts.max_new_tokens) {
      ran_out = true;
      break;
    }

    decoder.select_rows(origins);
    auto next = torch::tensor(std::vector<int64_t>(tokens.begin(), tokens.end()), torch::kLong).to(device);
    if (present.defined()) {
      present = present.index_select(0, torch::tensor(origins, torch::kLong).to(device));
      present.scatter_(1, next.unsqueeze(1), true);
    }
    logits = decoder.step(next, tokens);
    ++st.steps;
  }
  if (ran_out) {
    for (auto& b : live) finished.push_back({b.ids, b.logprob, score_of(b.logprob, b.ids.size()), "length", -1});
  }
  std::stable_sort(finished.begin(), finished.end(),
                   [](const Hypothesis& a, const Hypothesis& b) { return a.score > b.score; });

  const size_t count = std::min(finished.size(), static_cast<size_t>(std::min(opts.num_samples, width)));
  std::vector<Generation> results;
  for (size_t i = 0; i < count; ++i) {
    Hypothesis& h = finished[i];
    Generation g;
    g.ids = std::move(h.ids);
    g.logprob = h.logprob;
    g.score = h.score;
    g.finish_reason = h.reason;
    g.stop_id = h.stop_id;
    if (tok) {
      TextTracker text(*tok, opts.stop);
      for (int32_t id : g.ids) {
        if (text.push(id)) break;
      }
      text.finish();
      if (text.stopped()) {
        g.ids.resize(text.tokens_before_cut());
        g.finish_reason = "stop_string";
        g.stop_id = -1;
      }
      g.text = text.text();
    }
    const int sample = static_cast<int>(i);
    if (callbacks.on_token) {
      for (int32_t id : g.ids) callbacks.on_token(sample, id);
    }
    if (callbacks.on_text && !g.text.empty()) callbacks.on_text(sample, g.text);
    results.push_back(std::move(g));
  }
  synchronize_device(device);
  st.generate_seconds = seconds_since(t0);
  st.refills = decoder.refills();
  return results;
}

}  // namespace gptforge
