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
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace gptforge {

struct ChatMessage {
  std::string role;  // system | user | assistant
  std::string content;
};

struct RenderedChat {
  std::vector<int32_t> ids;
  std::vector<uint8_t> loss_mask;  // 1 where the token is produced by the assistant
};

// Renders a conversation. With add_generation_prompt, appends <|assistant|> for the reply to come.
// Throws DataError for an unknown role or empty content, and when the tokenizer lacks the chat tokens.
RenderedChat render_chat(const Tokenizer& tok, const std::vector<ChatMessage>& messages, bool add_generation_prompt);

// The same template in Hugging Face's Jinja dialect (tokenizer_config.json "chat_template").
std::string chat_template_jinja();

// Checks that a tokenizer has the chat tokens; throws DataError naming `origin` otherwise.
void require_chat_tokens(const Tokenizer& tok, const std::string& origin);

}  // namespace gptforge
