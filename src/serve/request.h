// The requests of the OpenAI-compatible API, parsed and checked: POST /v1/completions and POST
// /v1/chat/completions become one GenerationRequest; anything malformed, of the wrong type or out
// of range is an ApiError (400) naming the field, before the engine sees it.
//
// Fields (both endpoints unless noted):
//   model               optional; must name the served model
//   prompt              completions: a string ("" starts a fresh document) or an array of token ids
//   messages            chat: [{role: system | user | assistant, content: string or [{type: text, text}]}]
//   max_tokens          >= 1 (chat also max_completion_tokens); default serve.max_tokens
//   temperature         0..2 (0 = greedy); default 1
//   top_p (0, 1], top_k >= 0, min_p [0, 1], repetition_penalty (0, 100]
//   stop                a string or up to 4 non-empty strings
//   seed                >= 0; default the server's run.seed
//   n                   1..min(serve.max_n, serve.max_batch) choices
//   logprobs            completions: 0..20 alternatives per token; chat: true/false, with top_logprobs 0..20
//   stream              true: server-sent events; stream_options: {include_usage} (usage is always sent)
//   ignore_eos          true: generate past EOS (llama.cpp's extension; benchmarks, fixed lengths)
//   user, echo (false), best_of (1), suffix (null), presence_penalty / frequency_penalty (0),
//   logit_bias ({}): accepted for compatibility, only with these neutral values
// Any other field is an error, as are unknown keys in a config file.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "generate/sampler.h"
#include "tokenizer/tokenizer.h"
#include "util/config.h"

namespace gptforge {

struct GenerationRequest {
  bool chat = false;
  bool stream = false;
  std::vector<int32_t> prompt;     // ids, 1..block_size
  GenerationOptions opts;          // max_new_tokens, sampling, stop, seed; chat: <|end|> in stop_ids
  int64_t n = 1;
  int64_t top_logprobs = -1;       // < 0: no logprobs
};

// What the parser needs to know about the server.
struct RequestLimits {
  std::string model_name;
  int64_t block_size = 0;
  int64_t vocab_size = 0;
  int64_t default_max_tokens = 256;
  int64_t max_n = 8;               // min(serve.max_n, serve.max_batch)
  uint64_t default_seed = 1337;
  std::vector<std::string> tools;  // serve.tools: what every request's replies may call
};

// Parses a request body (JSON text). Throws ApiError.
GenerationRequest parse_generation_request(const std::string& body, bool chat, const Tokenizer& tok,
                                           const RequestLimits& limits);

// The body as a JSON object; ApiError for malformed JSON or another JSON type.
nlohmann::json parse_json_object(const std::string& body);

}  // namespace gptforge
