// A generation's reply in OpenAI's formats, built from the engine's events (engine.h):
//   completions  object "text_completion", choices[i].text, logprobs {tokens, token_logprobs,
//                top_logprobs, text_offset}
//   chat         object "chat.completion" (streamed: "chat.completion.chunk"), choices[i].message
//                (streamed: delta, the first with the role), logprobs {content: [{token, logprob,
//                bytes, top_logprobs}]}
// usage {prompt_tokens, completion_tokens, total_tokens} in every reply; streamed, in a last chunk
// whose choices are empty, before `data: [DONE]`. completion_tokens counts every sampled token,
// the end token included.
#pragma once
#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

#include "serve/api.h"

namespace gptforge {

struct ReplyInfo {
  std::string id;       // "cmpl-..." / "chatcmpl-..."
  std::string model;
  int64_t created = 0;  // unix seconds
  bool chat = false;
  bool stream = false;
  bool logprobs = false;
};

class CompletionStream : public ReplyStream {
 public:
  CompletionStream(ReplyInfo info, std::shared_ptr<JobState> job, const Tokenizer& tok);
  bool next(std::string& piece, std::chrono::milliseconds wait) override;
  void cancel() override { job_->cancel(); }
  std::string keepalive() const override { return info_.stream ? ": keepalive\n\n" : " "; }

 private:
  struct Choice {
    std::string text;
    std::string finish_reason;
    bool started = false;         // chat stream: the role was sent
    nlohmann::json logprobs;      // non-streamed: gathered
  };
  // The logprobs object of one token, in the endpoint's format (text_offset: where it starts).
  nlohmann::json token_logprobs(const SampledToken& t, size_t text_offset) const;
  // Appends a streamed chunk of choice `index`: its new text, the token's logprobs (when asked for
  // and token is given), the finish reason (when given).
  void add_chunk(std::string& out, int index, const std::string& text, const SampledToken* token,
                 const std::string* finish_reason);
  std::string final_body();
  nlohmann::json usage() const;
  nlohmann::json envelope(const char* object) const;

  ReplyInfo info_;
  std::shared_ptr<JobState> job_;
  const Tokenizer& tok_;
  std::vector<Choice> choices_;
  bool done_ = false;
};

// A token as the API shows it: its bytes (a special token: its piece), as text.
std::string token_text(const Tokenizer& tok, int32_t id);
// JSON text with invalid UTF-8 replaced (a byte token alone is not valid UTF-8).
std::string dump_json(const nlohmann::json& j);

}  // namespace gptforge
