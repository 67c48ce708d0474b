// Text generation: start here. This header is the contract between the sampler and everything
// that generates (`gptforge sample`, `chat`, `eval`, the trainer's periodic sample).
//
// One call continues one prompt:
//
//   GenerationOptions opts = GenerationOptions::from_config(cfg.sample, cfg.run.seed);
//   auto samples = generate(model, tok.encode("Once upon a time"), opts, tok);   // ids per sample
//
// What happens, top to bottom (generate_detailed in sampler.cpp):
//
//   1. prefill    one cached forward over the prompt (its last block_size tokens), batch 1; the
//                 cache is then copied to the rows of a batch, which decode side by side. A batch
//                 holds at most kMaxSampleRows samples: more are generated batch after batch, so
//                 that memory does not grow with num_samples (see kMaxSampleRows for the seeds).
//   2. each step  logits of the last position (B, V), still on the model's device, go through the
//                 processors in this order (logits_processors.h):
//                     repetition penalty -> no-repeat n-gram -> temperature -> top-k -> top-p -> min-p
//                 then greedy argmax (temperature 0: the penalties apply, the filters are skipped
//                 since they never change the argmax) or one inverse-CDF draw per row from a
//                 private CPU generator seeded with `seed` (the global torch generator is never
//                 touched; B uniforms per step go to the device; with seed_per_row one private
//                 generator per row instead). Only the B sampled ids come back
//                 to the host; processors that are off cost nothing (no sort without top-p).
//   3. feed back  the sampled ids are one new position per row of the KV cache (decoder.h).
//   4. stop       a row ends at EOS (stop_at_eos), at one of stop_ids (chat: <|end|>), when its text
//                 contains a stop string (the text is cut just before it), or after max_new_tokens.
//                 Finished rows leave the batch.
//
// Tool calls (opts.tools, tool_calls.h): when a row's <|tool_end|> closes a <|tool_call|>, the tool
// runs and its result, <|tool_result|> RESULT <|tool_end|>, is forced into the row: one forward over
// the closing id and the result together (Decoder::feed), the cache kept, then sampling goes on.
// Forced ids are part of Generation::ids and of the text (which shows the tool markers), but they are
// not drawn: no random number, no log-probability, and they do not count against max_new_tokens.
// A forced result makes one row longer than the others, so with tools every sample is decoded as
// a batch of its own, sample i drawing from a generator seeded seed + i (the seed_per_row rule).
//
// Long outputs: the context window holds at most block_size tokens. When a new token would overflow
// it, the window restarts from the most recent block_size/2 tokens: the cache is reset and re-filled
// by one forward over them ("re-prefill"), for every position type (learned, sinusoidal, RoPE,
// none), since a cache cannot shift absolute positions in place. The no-cache path (use_cache =
// false: a full forward over the window every step, for tests and the decode benchmark) slides the
// very same windows, so both paths compute the same logits. The repetition penalty and the no-repeat
// n-gram look at the whole prompt and output, also what has slid out of the window.
//
// Beam search (beam_width > 1, beam_search.h) keeps the beam_width best partial sequences by total
// log-probability and returns the num_samples best finished ones by logprob / length^length_penalty.
// It is deterministic: temperature, top-k, top-p, min-p and the seed do not apply (repetition penalty
// and no-repeat n-gram do). Like every beam search it usually, not always, beats greedy.
//
// The model is put in eval mode for the call and restored afterwards; no autograd graph is built.
// Sampling is reproducible for a seed on one device and LibTorch build (CPU and CUDA logits differ in
// their last bits, so their samples may differ).
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "generate/tool_calls.h"
#include "model/gpt.h"
#include "tokenizer/tokenizer.h"
#include "generate/generate_config.h"

namespace gptforge {

class Decoder;  // generate/decoder.h

// The most samples decoded side by side. num_samples beyond it are generated in consecutive batches
// of kMaxSampleRows (the last one smaller), each with its own random stream: batch b draws from a
// generator seeded with sample_batch_seed(seed, b), which is `seed` itself for batch 0. So up to
// kMaxSampleRows samples are exactly what one batch gives, and samples [b*K, b*K + k) of a call are
// those of a call for k samples seeded with sample_batch_seed(seed, b).
constexpr int64_t kMaxSampleRows = 32;
uint64_t sample_batch_seed(uint64_t seed, int64_t batch);

// The sample section (util/config.h describes each key: max_new_tokens, temperature 0 = greedy, top_k,
// top_p, min_p, repetition_penalty, no_repeat_ngram, beam_width, length_penalty, num_samples, stop
// strings (need a tokenizer), tools (need a tokenizer with the tool tokens); prompt and system are
// the callers'), and what decoding needs beside it.
struct GenerationOptions : SampleConfig {
  uint64_t seed = 1337;            // run.seed

  // Not config keys: set by the caller.
  bool stop_at_eos = true;         // end a sample at the tokenizer's EOS (kEosId without tokenizer)
  std::vector<int32_t> stop_ids;   // more ids that end a sample; chat adds <|end|>
  bool use_cache = true;           // false: full forward over the window each step (tests, benchmark)
  // Row i draws from its own generator seeded with seed + i (the server's rule, serve/engine.h), so
  // that the n rows of one call give the samples of n one-row calls seeded seed, seed + 1, ... (to
  // float rounding: see Sampler.SeedPerRowBatchEqualsSeparateCalls). false: one generator for the
  // batch, B uniforms per step, so a sample depends on how many rows are alive beside it.
  bool seed_per_row = false;
  bool logprobs = false;           // fill Generation::logprob for sampled rows too (self-consistency)

  static GenerationOptions from_config(const SampleConfig& sample, uint64_t seed);
  // Throws ConfigError naming the sample.* key for a value outside the schema's range (the same check
  // as a config file's) or a bad combination (num_samples > beam_width in beam search, an empty stop
  // string, an unknown tool, tools with beam search).
  void validate() const;
  bool greedy() const { return temperature == 0.0; }
};

// Timings of one generate call: prompt processing (the prefill) and decoding apart.
struct GenerationStats {
  int64_t prompt_tokens = 0;     // prompt positions run through the model (once per batch, before the copy to rows)
  int64_t cached_prompt_tokens = 0;  // prompt positions a kept Decoder had already (not run again)
  int64_t generated_tokens = 0;  // tokens sampled, over every sample (stop tokens included);
                                 // beam search: beam rows decoded
  int64_t steps = 0;             // decoding forwards after the prefill
  int64_t refills = 0;           // context-window slides (re-prefills)
  double prompt_seconds = 0;
  double generate_seconds = 0;
  double prompt_tokens_per_s() const { return prompt_seconds > 0 ? prompt_tokens / prompt_seconds : 0.0; }
  double tokens_per_s() const { return generate_seconds > 0 ? generated_tokens / generate_seconds : 0.0; }
  // "prompt: 12 tokens in 0.01 s (1.2k tok/s); generation: 256 tokens in 1.10 s (233 tok/s)"
  std::string summary() const;
};

// One finished sample.
struct Generation {
  std::vector<int32_t> ids;   // generated ids: without the EOS / stop id that ended it, and only the
                              // tokens wholly before a stop string
  std::string text;           // their text, cut exactly before the stop string ("" without tokenizer)
  std::string finish_reason;  // "length", "eos", "stop_id" or "stop_string"
  int32_t stop_id = -1;       // the id that ended it (finish_reason eos / stop_id)
  double logprob = 0;         // sum of the log-probabilities of the tokens (end token included) under
                              // the penalised logits, before temperature and the filters (the model's
                              // own when no penalty is on): beam search always, sampling with
                              // opts.logprobs (every sampled token: also those a stop string cut)
  double score = 0;           // beam search: logprob / length^length_penalty
  std::vector<ToolCallRecord> tool_calls;  // with opts.tools: every call the decoder ran, in order
  // The reply after the last tool result (the whole text when no tool ran): the answer itself.
  std::string answer() const { return text_after_tool_calls(text); }
};

// Streaming hooks; either may be empty. Samples are numbered 0..num_samples-1.
struct GenerationCallbacks {
  // Every sampled id as it comes, the ending EOS / stop id included; a stop string may later cut
  // some of these from the result.
  std::function<void(int sample, int32_t id)> on_token;
  // Text that is final: complete UTF-8 characters, never a stop string or a part of one. Needs a
  // tokenizer. Concatenated per sample, it equals Generation::text. Beam search calls it once per
  // returned sequence, at the end.
  std::function<void(int sample, const std::string& text)> on_text;
  // The ids a tool call forced after the sampled <|tool_end|> that closed it (tool_calls.h): its
  // result between <|tool_result|> and <|tool_end|>, which the model read but did not choose.
  std::function<void(int sample, const std::vector<int32_t>& ids)> on_forced;
};

// Generates continuations of prompt_ids (non-empty; the last block_size tokens are used).
// `tok` may be null: then no text, no stop strings, and EOS is kEosId. Dispatches to beam search
// when opts.beam_width > 1. Returns num_samples generations (beam search: best first).
// Throws ConfigError for invalid options, RunError for an empty prompt or an id outside the model's
// vocabulary.
std::vector<Generation> generate_detailed(GPT& model, const std::vector<int32_t>& prompt_ids,
                                          const GenerationOptions& opts, const Tokenizer* tok,
                                          const GenerationCallbacks& callbacks = {},
                                          GenerationStats* stats = nullptr);

// The same with a Decoder the caller keeps from one call to the next, so that a prompt that begins
// like the last call's prompt and output reuses those cached positions (decoder.h: chat does this).
// The decoder's model is used, and its use_cache decides (opts.use_cache is ignored). Beam search
// does not reuse: it runs with its own decoder.
std::vector<Generation> generate_detailed(Decoder& decoder, const std::vector<int32_t>& prompt_ids,
                                          const GenerationOptions& opts, const Tokenizer* tok,
                                          const GenerationCallbacks& callbacks = {},
                                          GenerationStats* stats = nullptr);

// Receives each finished sample, numbered 0..num_samples-1, in order.
using SampleSink = std::function<void(int sample, Generation&& generation)>;

// generate_detailed without holding the samples: each goes to `sink` when its batch has ended, so
// that memory does not grow with num_samples (`gptforge sample` prints them as they come).
void generate_each(GPT& model, const std::vector<int32_t>& prompt_ids, const GenerationOptions& opts,
                   const Tokenizer* tok, const SampleSink& sink, const GenerationCallbacks& callbacks = {},
                   GenerationStats* stats = nullptr);
void generate_each(Decoder& decoder, const std::vector<int32_t>& prompt_ids, const GenerationOptions& opts,
                   const Tokenizer* tok, const SampleSink& sink, const GenerationCallbacks& callbacks = {},
                   GenerationStats* stats = nullptr);

// The short form: the generated ids of each sample (see Generation::ids); streams each new id to
// on_token (may be null). Greedy (temperature 0) is deterministic and does no random draws.
std::vector<std::vector<int32_t>> generate(GPT& model, const std::vector<int32_t>& prompt_ids,
                                           const GenerationOptions& opts, const Tokenizer& tok,
                                           const std::function<void(int sample, int32_t id)>& on_token = nullptr,
                                           GenerationStats* stats = nullptr);

// The prompt of `gptforge sample`: encodes `text`. An empty text starts from EOS, the separator that
// precedes every document in the training shards (so the model begins a fresh document). A
// non-empty text that encodes to no tokens is a ConfigError naming sample.prompt.
std::vector<int32_t> encode_prompt(const Tokenizer& tok, const std::string& text);

}  // namespace gptforge
