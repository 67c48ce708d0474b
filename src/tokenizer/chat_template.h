// The chat template: how a conversation becomes token ids. sft trains on it, chat and eval prompt
// with it, and the Hugging Face export writes the same format as a Jinja template, so a user never
// has to know it:
//
//   <s> <|system|> system text <|end|> <|user|> question <|end|> <|assistant|> answer <|end|> ...
//
// Each role marker and <|end|> is one reserved id (tokenizer.h); the texts are encoded separately, so
// nothing a user types can forge a marker. A generation prompt ends with <|assistant|>, and the model
// answers until it emits <|end|>. The assistant's tokens, its closing <|end|> included, are the ones
// that carry loss in sft (loss_mask).
//
// Tool calls (generate/tool_calls.h) stay inside the assistant's turn, exactly as the decoder writes
// them: an assistant message with a tool_call renders as its content, <|tool_call|> expression
// <|tool_end|>, and no <|end|>; the `tool` message after it renders as <|tool_result|> result
// <|tool_end|> (no role marker: the decoder forces these tokens, the model never predicts them, so
// they carry no loss); the assistant message after that continues the same turn (no <|assistant|>):
//
//   <|user|> What is 37 times 45? <|end|> <|assistant|> <|tool_call|> 37*45 <|tool_end|>
//   <|tool_result|> 1665 <|tool_end|> 1665 <|end|>
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace gptforge {

struct ChatMessage {
  std::string role;  // system | user | assistant | tool
  std::string content;
  std::string tool_call;  // assistant only: the calculator expression it calls (content may then be empty)
};

struct RenderedChat {
  std::vector<int32_t> ids;
  std::vector<uint8_t> loss_mask;  // 1 where the token is produced by the assistant
  std::vector<uint8_t> from_tool;  // 1 where a tool wrote the token (a result and its markers)
};

// Renders a conversation. With add_generation_prompt, appends <|assistant|> for the reply to come.
// Throws DataError for an unknown role or empty content, and when the tokenizer lacks the chat tokens.
RenderedChat render_chat(const Tokenizer& tok, const std::vector<ChatMessage>& messages, bool add_generation_prompt);

// The same template in Hugging Face's Jinja dialect (tokenizer_config.json "chat_template"); with
// tools, the tool-call form too (for a tokenizer that has the tool tokens).
std::string chat_template_jinja(bool tools = false);

// Checks that a tokenizer has the chat tokens; throws DataError naming `origin` otherwise.
void require_chat_tokens(const Tokenizer& tok, const std::string& origin);
// The same for the tool tokens (a tokenizer trained before they were reserved lacks them).
void require_tool_tokens(const Tokenizer& tok, const std::string& origin);

}  // namespace gptforge
