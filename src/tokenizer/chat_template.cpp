#include "tokenizer/chat_template.h"

#include "util/errors.h"

namespace gptforge {

void require_chat_tokens(const Tokenizer& tok, const std::string& origin) {
  if (!tok.has_chat_tokens()) {
    throw DataError(origin + ": the tokenizer has no chat tokens (<|system|>, <|user|>, <|assistant|>, <|end|>); "
                             "train one with `gptforge tokenizer train`, which reserves them");
  }
}

RenderedChat render_chat(const Tokenizer& tok, const std::vector<ChatMessage>& messages, bool add_generation_prompt) {
  require_chat_tokens(tok, "chat template");
  RenderedChat out;
  auto push = [&](int32_t id, uint8_t loss) {
    out.ids.push_back(id);
    out.loss_mask.push_back(loss);
  };
  push(tok.bos_id(), 0);
  for (size_t i = 0; i < messages.size(); ++i) {
    const ChatMessage& m = messages[i];
    Special role;
    if (m.role == "system") role = Special::System;
    else if (m.role == "user") role = Special::User;
    else if (m.role == "assistant") role = Special::Assistant;
    else throw DataError("message " + std::to_string(i + 1) + ": unknown role '" + m.role + "' (system, user or assistant)");
    if (m.content.empty()) throw DataError("message " + std::to_string(i + 1) + " (" + m.role + "): empty content");
    const uint8_t loss = m.role == "assistant" ? 1 : 0;
    push(tok.special_id(role), 0);
    for (int32_t id : tok.encode(m.content)) push(id, loss);
    push(tok.special_id(Special::End), loss);
  }
  if (add_generation_prompt) push(tok.special_id(Special::Assistant), 0);
  return out;
}

std::string chat_template_jinja() {
  return "{{ bos_token }}{% for message in messages %}"
         "{{ '<|' + message['role'] + '|>' + message['content'] + '<|end|>' }}"
         "{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}";
}

}  // namespace gptforge
