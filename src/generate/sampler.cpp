#include "generate/sampler.h"

#include <ATen/CPUGeneratorImpl.h>

#include <chrono>
#include <memory>
#include <optional>

#include "data/random.h"
#include "generate/beam_search.h"
#include "generate/decoder.h"
#include "generate/generation_common.h"
#include "generate/logits_processors.h"
#include "generate/stop_strings.h"
#include "generate/tool_calls.h"
#include "util/config.h"
#include "util/errors.h"
#include "util/log.h"
#include "util/units.h"

namespace gptforge {
namespace {

// One id per row of logits (B, N), (B) int64 on the logits' device: an inverse-CDF draw. The
// uniforms come from the private CPU generator (B numbers per step cross to the device), so a seed
// gives the same draws on every device.
torch::Tensor draw(const torch::Tensor& logits, at::Generator& gen) {
  const int64_t rows = logits.size(0), n = logits.size(1);
  auto cdf = torch::softmax(logits, -1, torch::kDouble).cumsum(-1);  // (B, N)
  // u in (0, 1], scaled by the row's total: the first column whose cdf reaches it. A column of
  // probability 0 never is (its cdf equals its predecessor's).
  auto u = 1.0 - at::rand({rows}, gen, torch::TensorOptions().dtype(torch::kDouble));
  auto target = u.to(logits.device()).unsqueeze(1) * cdf.narrow(1, n - 1, 1);
  return torch::searchsorted(cdf, target).squeeze(1).clamp_max(n - 1);
}

}  // namespace

// The next id of each row from the penalised logits (B, V): argmax when greedy, else temperature,
// top-k, top-p, min-p (each only when on), then a draw. top-k keeps just the k best columns, so the
// later filters and the draw work on (B, k) instead of the whole vocabulary: the same distribution
// as top_k_filter's.
torch::Tensor next_tokens(torch::Tensor logits, const GenerationOptions& opts, at::Generator& gen) {
  if (opts.greedy()) return logits.argmax(-1);
  if (opts.temperature != 1.0) logits = apply_temperature(logits, opts.temperature);
  torch::Tensor columns;  // vocabulary id of each kept column, with top-k
  if (opts.top_k > 0 && opts.top_k < logits.size(-1)) {
    auto top = logits.topk(opts.top_k, -1);
    logits = std::get<0>(top);
    columns = std::get<1>(top);
  }
  if (opts.top_p < 1.0) logits = top_p_filter(logits, opts.top_p);
  if (opts.min_p > 0.0) logits = min_p_filter(logits, opts.min_p);
  torch::Tensor pick = draw(logits, gen);
  return columns.defined() ? columns.gather(1, pick.unsqueeze(1)).squeeze(1) : pick;
}

namespace {

// A row of the batch that is still generating.
struct Row {
  int sample = 0;                      // index into the results
  std::vector<int32_t> ids;            // generated so far (no end token)
  std::vector<int32_t> history;        // prompt + ids, kept only for the no-repeat n-gram
  std::unique_ptr<TextTracker> text;   // with a tokenizer
  double logprob = 0;                  // with opts.logprobs: of every sampled id
  std::unique_ptr<ToolCallWatcher> tools;  // with opts.tools
};

// seed_per_row: each row's id drawn from its own generator, as a one-row call would draw it.
torch::Tensor next_tokens_per_row(const torch::Tensor& scores, const std::vector<Row>& rows,
                                  const GenerationOptions& opts, std::vector<at::Generator>& gens) {
  std::vector<torch::Tensor> picks;
  for (size_t i = 0; i < rows.size(); ++i) {
    picks.push_back(next_tokens(scores.narrow(0, static_cast<int64_t>(i), 1), opts,
                                gens[static_cast<size_t>(rows[i].sample)]));
  }
  return torch::cat(picks);
}

}  // namespace

GenerationOptions GenerationOptions::from_config(const SampleConfig& s, uint64_t seed) {
  GenerationOptions o;
  static_cast<SampleConfig&>(o) = s;
  o.seed = seed;
  return o;
}

void GenerationOptions::validate() const {
  auto bad = [](const std::string& key, const std::string& why) { throw ConfigError("sample." + key + ": " + why); };
  check_ranges(static_cast<const SampleConfig&>(*this));
  if (beam_width > 1 && num_samples > beam_width) {
    bad("num_samples", strprintf("%lld exceeds sample.beam_width (%lld): beam search returns at most beam_width "
                                 "sequences", (long long)num_samples, (long long)beam_width));
  }
  for (const auto& s : stop) {
    if (s.empty()) bad("stop", "empty stop string");
  }
  parse_tools(tools);  // names the key for an unknown tool
  if (!tools.empty() && beam_width > 1) {
    bad("tools", "tool calls need sampling or greedy decoding, not beam search (sample.beam_width 1)");
  }
}

std::string GenerationStats::summary() const {
  return strprintf("prompt: %lld tokens%s in %.3f s (%s tok/s); generation: %lld tokens in %.3f s (%s tok/s)%s",
                   (long long)prompt_tokens,
                   cached_prompt_tokens ? strprintf(" (+%lld cached)", (long long)cached_prompt_tokens).c_str() : "",
                   prompt_seconds, format_si(prompt_tokens_per_s()).c_str(),
                   (long long)generated_tokens, generate_seconds, format_si(tokens_per_s()).c_str(),
                   refills ? strprintf(", %lld context slides", (long long)refills).c_str() : "");
}

uint64_t sample_batch_seed(uint64_t seed, int64_t batch) {
  return batch == 0 ? seed : derive_seed(seed, static_cast<uint64_t>(batch));
}

namespace {

// One batch: opts.num_samples (at most kMaxSampleRows) rows decoded side by side, drawing from a
// generator seeded with opts.seed. Rows are samples first_sample, first_sample + 1, ... of the call:
// the callbacks see those numbers, and `sink` gets each sample once the whole batch has ended, in order.
// Adds this batch's counts and times to `st`.
void sample_batch(Decoder& decoder, const std::vector<int32_t>& prompt_ids, const GenerationOptions& opts,
                  const Tokenizer* tok, const GenerationCallbacks& callbacks, int first_sample, GenerationStats& st,
                  const SampleSink& sink) {
  GPT model = decoder.model();
  const int64_t n = opts.num_samples;
  std::vector<Generation> results(static_cast<size_t>(n));
  const std::vector<int32_t> ends = end_ids(opts, tok);
  const int32_t eos = tok ? tok->eos_id() : kEosId;
  const torch::Device device = model->wte->weight.device();
  const int64_t vocab = model->config().vocab_size;
  at::Generator gen = at::detail::createCPUGenerator(opts.seed);
  std::vector<at::Generator> row_gens;  // seed_per_row: row i's, seeded seed + i
  if (opts.seed_per_row && !opts.greedy()) {
    for (int64_t i = 0; i < n; ++i) row_gens.push_back(at::detail::createCPUGenerator(opts.seed + static_cast<uint64_t>(i)));
  }

  // ---- Prefill: the prompt once, then copied to n rows ----
  auto t0 = std::chrono::steady_clock::now();
  torch::Tensor logits = decoder.start(prompt_ids, n);
  synchronize_device(device);
  st.prompt_tokens += decoder.prompt_tokens();
  st.cached_prompt_tokens += decoder.reused_prompt_tokens();
  st.prompt_seconds += seconds_since(t0);
  t0 = std::chrono::steady_clock::now();

  std::vector<Row> rows(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    Row& r = rows[static_cast<size_t>(i)];
    r.sample = static_cast<int>(i);
    if (opts.no_repeat_ngram > 0) r.history = prompt_ids;
    if (tok) r.text = std::make_unique<TextTracker>(*tok, opts.stop, /*show_tool_markers=*/!opts.tools.empty());
    if (!opts.tools.empty()) r.tools = std::make_unique<ToolCallWatcher>(*tok);
  }
  torch::Tensor present;
  if (opts.repetition_penalty != 1.0) present = presence_mask(prompt_ids, n, vocab, device);

  // Ends row `r` and hands out the rest of its text.
  auto finish = [&](Row& r, const std::string& reason, int32_t stop_id) {
    Generation& g = results[static_cast<size_t>(r.sample)];
    g.finish_reason = reason;
    g.stop_id = stop_id;
    if (r.text) {
      std::string rest = r.text->finish();
      if (!rest.empty() && callbacks.on_text) callbacks.on_text(first_sample + r.sample, rest);
      r.ids.resize(r.text->tokens_before_cut());
      g.text = r.text->text();
    }
    g.ids = std::move(r.ids);
    g.logprob = r.logprob;
    if (r.tools) g.tool_calls = r.tools->calls();
  };

  // ---- Decode: process, pick, feed back, until every row has ended ----
  for (int64_t step = 0;; ++step) {
    std::vector<std::vector<int32_t>> histories;
    if (opts.no_repeat_ngram > 0) {
      for (const auto& r : rows) histories.push_back(r.history);
    }
    torch::Tensor scores = apply_penalties(logits, opts, present, histories, tok);
    torch::Tensor next = row_gens.empty() ? next_tokens(scores, opts, gen)  // (B) on the device
                                          : next_tokens_per_row(scores, rows, opts, row_gens);
    torch::Tensor next_cpu, picked_logprobs;  // (B) on the host: the ids, and with opts.logprobs theirs
    if (opts.logprobs) {
      // One copy to the host for both (ids are exact in a double), not a second sync per step.
      torch::Tensor lp = torch::log_softmax(scores.to(torch::kDouble), -1).gather(1, next.unsqueeze(1)).squeeze(1);
      torch::Tensor host = torch::stack({next.to(torch::kDouble), lp}).cpu();
      next_cpu = host[0].to(torch::kLong).contiguous();
      picked_logprobs = host[1].contiguous();
    } else {
      next_cpu = next.to(torch::kCPU);
    }
    const int64_t* picked = next_cpu.data_ptr<int64_t>();
    const double* logprob_of = opts.logprobs ? picked_logprobs.data_ptr<double>() : nullptr;
    st.generated_tokens += static_cast<int64_t>(rows.size());

    const bool last_step = step + 1 >= opts.max_new_tokens;
    std::vector<int64_t> keep;
    std::vector<int32_t> keep_ids;
    std::vector<int32_t> forced;  // with tools (one row): the sampled id, then the tool's result
    for (size_t i = 0; i < rows.size(); ++i) {
      Row& r = rows[i];
      const int32_t id = static_cast<int32_t>(picked[i]);
      if (callbacks.on_token) callbacks.on_token(first_sample + r.sample, id);
      if (logprob_of) r.logprob += logprob_of[i];
      if (contains(ends, id)) {
        finish(r, opts.stop_at_eos && id == eos ? "eos" : "stop_id", id);
        continue;
      }
      r.ids.push_back(id);
      if (opts.no_repeat_ngram > 0) r.history.push_back(id);
      if (r.text) {
        if (r.text->push(id)) {
          finish(r, "stop_string", -1);
          continue;
        }
        std::string ready = r.text->take_ready();
        if (!ready.empty() && callbacks.on_text) callbacks.on_text(first_sample + r.sample, ready);
      }
      if (last_step) {
        finish(r, "length", -1);
        continue;
      }
      if (r.tools) {
        if (auto result = r.tools->push(id)) {
          // The call is closed: its result joins the row as if written there (tool_calls.h).
          if (callbacks.on_forced) callbacks.on_forced(first_sample + r.sample, *result);
          bool stopped = false;
          for (int32_t f : *result) {
            r.ids.push_back(f);
            if (opts.no_repeat_ngram > 0) r.history.push_back(f);
            if (r.text && !stopped) stopped = r.text->push(f);
          }
          if (stopped) {
            finish(r, "stop_string", -1);
            continue;
          }
          if (r.text) {
            std::string ready = r.text->take_ready();
            if (!ready.empty() && callbacks.on_text) callbacks.on_text(first_sample + r.sample, ready);
          }
          forced.push_back(id);
          forced.insert(forced.end(), result->begin(), result->end());
        }
      }
      keep.push_back(static_cast<int64_t>(i));
      keep_ids.push_back(id);
    }
    if (keep.empty()) break;
    if (!forced.empty()) {
      // One row (tools decode a sample alone): the sampled id and the result in one forward.
      if (present.defined()) {
        present.index_fill_(1, torch::tensor(std::vector<int64_t>(forced.begin(), forced.end()), torch::kLong).to(device),
                            true);
      }
      logits = decoder.feed(forced);
      ++st.steps;
      continue;
    }

    // Finished rows leave the batch: the decoder's cache, the presence mask and the ids follow.
    if (keep.size() != rows.size()) {
      std::vector<Row> kept;
      for (int64_t i : keep) kept.push_back(std::move(rows[static_cast<size_t>(i)]));
      rows = std::move(kept);
      decoder.select_rows(keep);
      auto index = torch::tensor(keep, torch::kLong).to(device);
      next = next.index_select(0, index);
      if (present.defined()) present = present.index_select(0, index);
    }
    if (present.defined()) present.scatter_(1, next.unsqueeze(1), true);
    logits = decoder.step(next, keep_ids);
    ++st.steps;
  }
  synchronize_device(device);
  st.generate_seconds += seconds_since(t0);
  st.refills += decoder.refills();
  for (int64_t i = 0; i < n; ++i) sink(first_sample + static_cast<int>(i), std::move(results[static_cast<size_t>(i)]));
}

}  // namespace

void generate_each(Decoder& decoder, const std::vector<int32_t>& prompt_ids, const GenerationOptions& opts,
                   const Tokenizer* tok, const SampleSink& sink, const GenerationCallbacks& callbacks,
                   GenerationStats* stats) {
  GPT model = decoder.model();
  check_generation_inputs(prompt_ids, opts, tok);
  if (opts.beam_width > 1) {
    std::vector<Generation> best = beam_search(model, prompt_ids, opts, tok, callbacks, stats);
    for (size_t i = 0; i < best.size(); ++i) sink(static_cast<int>(i), std::move(best[i]));
    return;
  }

  EvalModeGuard eval_mode(model);
  torch::NoGradGuard no_grad;
  GenerationStats local;
  GenerationStats& st = stats ? *stats : local;
  st = GenerationStats{};
  if (!opts.tools.empty()) {
    // A forced result lengthens one row only: each sample decodes alone, seeded seed + i (sampler.h).
    for (int64_t i = 0; i < opts.num_samples; ++i) {
      GenerationOptions one = opts;
      one.num_samples = 1;
      one.seed = opts.seed + static_cast<uint64_t>(i);
      one.seed_per_row = false;
      if (opts.max_new_tokens == 0) {
        Generation g;
        g.finish_reason = "length";
        sink(static_cast<int>(i), std::move(g));
        continue;
      }
      sample_batch(decoder, prompt_ids, one, tok, callbacks, static_cast<int>(i), st, sink);
    }
    return;
  }
  for (int64_t first = 0, batch = 0; first < opts.num_samples; first += kMaxSampleRows, ++batch) {
    GenerationOptions batch_opts = opts;
    batch_opts.num_samples = std::min(kMaxSampleRows, opts.num_samples - first);
    batch_opts.seed = sample_batch_seed(opts.seed, batch);
    if (opts.max_new_tokens == 0) {
      for (int64_t i = 0; i < batch_opts.num_samples; ++i) {
        Generation g;
        g.finish_reason = "length";
        sink(static_cast<int>(first + i), std::move(g));
      }
      continue;
    }
    sample_batch(decoder, prompt_ids, batch_opts, tok, callbacks, static_cast<int>(first), st, sink);
  }
}

void generate_each(GPT& model, const std::vector<int32_t>& prompt_ids, const GenerationOptions& opts,
                   const Tokenizer* tok, const SampleSink& sink, const GenerationCallbacks& callbacks,
                   GenerationStats* stats) {
  Decoder decoder(model, opts.use_cache);  // holds no cache until started
  generate_each(decoder, prompt_ids, opts, tok, sink, callbacks, stats);
}

std::vector<Generation> generate_detailed(GPT& model, const std::vector<int32_t>& prompt_ids,
                                          const GenerationOptions& opts, const Tokenizer* tok,
                                          const GenerationCallbacks& callbacks, GenerationStats* stats) {
  Decoder decoder(model, opts.use_cache);  // holds no cache until started
  return generate_detailed(decoder, prompt_ids, opts, tok, callbacks, stats);
}

std::vector<Generation> generate_detailed(Decoder& decoder, const std::vector<int32_t>& prompt_ids,
                                          const GenerationOptions& opts, const Tokenizer* tok,
                                          const GenerationCallbacks& callbacks, GenerationStats* stats) {
  std::vector<Generation> results;
  generate_each(decoder, prompt_ids, opts, tok, [&](int, Generation&& g) { results.push_back(std::move(g)); },
                callbacks, stats);
  return results;
}

std::vector<std::vector<int32_t>> generate(GPT& model, const std::vector<int32_t>& prompt_ids,
                                           const GenerationOptions& opts, const Tokenizer& tok,
                                           const std::function<void(int sample, int32_t id)>& on_token,
                                           GenerationStats* stats) {
  GenerationCallbacks callbacks;
  callbacks.on_token = on_token;
  std::vector<std::vector<int32_t>> out;
  for (auto& g : generate_detailed(model, prompt_ids, opts, &tok, callbacks, stats)) out.push_back(std::move(g.ids));
  return out;
}

std::vector<int32_t> encode_prompt(const Tokenizer& tok, const std::string& text) {
  if (text.empty()) return {tok.eos_id()};
  std::vector<int32_t> ids = tok.encode(text);
  if (ids.empty()) throw ConfigError("sample.prompt: '" + text + "' encodes to no tokens; give a prompt with text");
  return ids;
}

}  // namespace gptforge
