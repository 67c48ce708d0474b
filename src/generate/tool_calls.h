// Tool calls while decoding (sample.tools: [calc]). Design note.
//
// What the model sees. A model fine-tuned on conversations with tool calls (chat_template.h) writes,
// inside its reply,
//     <|tool_call|> 37*45 <|tool_end|>
// and then reads <|tool_result|> 1665 <|tool_end|>, which it never predicts: the decoder writes
// them, and the model goes on with its reply. Training puts the loss on the call and none on the
// result, so the model learns when and what to ask, never to invent an answer in the result's place.
//
// How the decoder does it. ToolCallWatcher follows one row's sampled ids. When <|tool_end|> closes
// an open <|tool_call|>, it decodes the ids in between, runs the tool (the calculator,
// generate/calculator.h: our own parser, no shell, no code evaluation), and hands back the forced
// ids <|tool_result|> RESULT <|tool_end|>. The sampler appends them to the row in one forward over
// them with the KV cache kept as it is (Decoder::feed), takes the logits of the last one, and samples
// on: a result costs one forward, not one per token. The forced ids are part of the output ids (so
// that the text and a later turn hold the result) but are never drawn: no random number, no
// log-probability, and they do not count against max_new_tokens (sampler.h).
//
// Limits. A call longer than kMaxCallTokens ids, or more than kMaxCalls calls in one generation,
// gets an error result instead of running. A bad expression gets the calculator's "error: ..." text
// as its result: the model sees that it failed, as a person at a calculator would.
//
// Batches. The rows of one generation decode in lockstep in a KV cache of one length, and a forced
// result makes one row longer than the others: with tools, the sampler decodes every sample as a
// batch of its own (sampler.h). The server's slot cache, whose rows have their own positions, is
// where batched tool calls belong.
//
// Text. With tools the generated text shows the markers as written (TokenStreamer's
// show_tool_markers), "<|tool_call|>37*45<|tool_end|><|tool_result|>1665<|tool_end|>1665", so a reader
// sees what was asked and what came back; text_after_tool_calls gives the answer after the last
// result, and reply_messages turns the text back into the chat messages that sft reads, for the next
// turn of a conversation.
//
// Old tokenizers. A tokenizer trained before the tool tokens were reserved lacks them; asking it for
// tools is an error that says so (require_tool_tokens), and without tools nothing changes.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace gptforge {

enum class Tool { Calc };

// sample.tools -> the tools; throws ConfigError naming sample.tools for an unknown name.
std::vector<Tool> parse_tools(const std::vector<std::string>& names);

// The text after the last "<|tool_end|>" of a generated text with visible markers (all of it when it
// has none): the reply that follows the last tool result.
std::string text_after_tool_calls(const std::string& text);

// A generated reply with visible markers as chat messages (chat_template.h): for each call, an
// assistant message (the text before it, and the call) and a tool message (the result), then an
// assistant message with the rest. A reply without calls is one assistant message. Returns nothing
// when the text does not have that shape (a call left open, a result without a call, no text after
// the last result): such a reply cannot be rendered again as a conversation.
std::vector<ChatMessage> reply_messages(const std::string& text);

// One call the decoder ran.
struct ToolCallRecord {
  std::string expression;  // the text between <|tool_call|> and <|tool_end|>
  std::string result;      // what the model was shown
  bool ok = false;         // false: an error result
};

class ToolCallWatcher {
 public:
  static constexpr size_t kMaxCallTokens = 64;
  static constexpr size_t kMaxCalls = 16;

  // `tok` must have the tool tokens (require_tool_tokens).
  explicit ToolCallWatcher(const Tokenizer& tok);

  // Follows one sampled id. Returns the ids to force after it when it closes a call (or when the call
  // grew past kMaxCallTokens: then <|tool_end|> and an error result), else nothing.
  std::optional<std::vector<int32_t>> push(int32_t id);
  const std::vector<ToolCallRecord>& calls() const { return calls_; }
  bool in_call() const { return in_call_; }

 private:
  std::vector<int32_t> result_ids(const std::string& text) const;

  const Tokenizer& tok_;
  int32_t call_, result_, end_;
  bool in_call_ = false;
  std::vector<int32_t> pending_;  // the call's ids so far
  std::vector<ToolCallRecord> calls_;
};

}  // namespace gptforge
