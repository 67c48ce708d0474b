// A chat session on the chat template (tokenizer/chat_template.h): the system message, the turns so
// far, and the prompt for the next reply.
//
// The prompt is the whole conversation rendered again each turn:
//   <s> [<|system|> system <|end|>] (<|user|> u <|end|> <|assistant|> a <|end|>)* <|user|> now <|end|> <|assistant|>
// and the reply is generated until <|end|> or EOS. When the prompt plus room for the reply
// (min(max_new_tokens, block_size / 2) tokens) outgrows the context, the oldest turns (a user
// message and its reply) are dropped for good until it fits; the system message always stays. A
// conversation too long even then is left to the sampler, which keeps the prompt's last block_size
// tokens.
//
// The session keeps the KV cache of the conversation (a Decoder) from one reply to the next: each
// turn's prompt begins with the previous prompt and reply, so only the new tokens are run (from the
// first token where they differ: a reply can re-encode to other tokens; dropping old turns changes
// everything after the system message). Replies are the same as with a fresh cache.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "generate/decoder.h"
#include "generate/sampler.h"
#include "generate/tool_calls.h"
#include "tokenizer/chat_template.h"

namespace gptforge {

class ChatSession {
 public:
  // context: the model's block_size. Throws DataError when the tokenizer lacks the chat tokens.
  ChatSession(const Tokenizer& tok, int64_t context, std::string system = "");

  // "" removes the system message. The turns stay.
  void set_system(std::string system) { system_ = std::move(system); }
  const std::string& system() const { return system_; }
  // Forgets the turns (the system message stays).
  void reset();

  // The prompt ids for a reply to `user`, leaving `reserve` tokens of room in the context; drops
  // the oldest turns as needed (see above).
  std::vector<int32_t> prompt_for(const std::string& user, int64_t reserve);
  // Records a finished turn. A turn with an empty reply is not recorded (the template has no empty
  // messages): the conversation goes on as if it had not been asked. A reply that called tools
  // (its text shows the markers, tool_calls.h) is kept as its calls, results and answer, so the next
  // prompt renders it as the model saw it; one whose calls are not whole is not recorded either.
  void add_turn(std::string user, const std::string& reply);

  // The conversation as messages: the system message (when set), then each user message and the
  // reply's messages (an assistant message; with tool calls, assistant and tool messages).
  std::vector<ChatMessage> messages() const;
  int64_t turns() const { return static_cast<int64_t>(turns_.size()); }
  const Tokenizer& tokenizer() const { return tok_; }
  // Turns dropped so far to fit the context.
  int64_t dropped_turns() const { return dropped_; }

  // The conversation's decoder for `model` (cached or not), kept between replies; a new one when the
  // model or the cache setting changes.
  Decoder& decoder(GPT& model, bool use_cache);

 private:
  struct Turn {
    std::string user;
    std::vector<ChatMessage> reply;
  };
  std::vector<int32_t> render(const std::string& user) const;

  Tokenizer tok_;
  int64_t context_;
  std::string system_;
  std::vector<Turn> turns_;
  int64_t dropped_ = 0;
  std::unique_ptr<Decoder> decoder_;
};

// One exchange: renders the prompt, generates the reply (stopping at <|end|> or EOS, and at
// opts.stop strings) with the session's decoder, streams its text to on_text, and records the turn.
// The reply leaves room of min(max_new_tokens, block_size / 2) tokens. Returns the generation (its
// text is the reply); stats->cached_prompt_tokens counts the prompt tokens not run again.
Generation chat_reply(GPT& model, ChatSession& session, const std::string& user, const GenerationOptions& opts,
                      const std::function<void(const std::string& text)>& on_text = nullptr,
                      GenerationStats* stats = nullptr);

}  // namespace gptforge
