#include "tokenizer/chat_template.h"

#include "util/errors.h"

namespace gptforge {

void require_chat_tokens(const Tokenizer& tok, const std::string& origin) {
  if (!tok.has_chat_tokens()) {
    throw DataError(origin + ": the tokenizer has no chat tokens (<|system|>, <|user|>, <|assistant|>, <|end|>); "
                             "train one with `gptforge tokenizer train`, which reserves them");
  }
}

void require_tool_tokens(const Tokenizer& tok, const std::string& origin) {
  if (!tok.has_tool_tokens()) {
    throw DataError(origin + ": the tokenizer has no tool tokens (<|tool_call|>, <|tool_result|>, <|tool_end|>): it "
                             "was trained before they were reserved; train a new one with `gptforge tokenizer "
                             "train` (and a model on it) to use tools");
  }
}

RenderedChat render_chat(const Tokenizer& tok, const std::vector<ChatMessage>& messages, bool add_generation_prompt) {
  require_chat_tokens(tok, "chat template");
  RenderedChat out;
  auto push = [&](int32_t id, uint8_t loss, uint8_t tool = 0) {
    out.ids.push_back(id);
    out.loss_mask.push_back(loss);
    out.from_tool.push_back(tool);
  };
  auto push_text = [&](const std::string& text, uint8_t loss, uint8_t tool = 0) {
    for (int32_t id : tok.encode(text)) push(id, loss, tool);
  };
  push(tok.bos_id(), 0);
  for (size_t i = 0; i < messages.size(); ++i) {
    const ChatMessage& m = messages[i];
    const std::string where = "message " + std::to_string(i + 1) + " (" + m.role + ")";
    const bool after_call = i > 0 && !messages[i - 1].tool_call.empty();
    if (m.role == "tool") {
      // The result of the call just before, written by the tool: never the model's to predict.
      if (!after_call) throw DataError(where + ": a tool message must follow an assistant message with a tool_call");
      require_tool_tokens(tok, where);
      push(tok.special_id(Special::ToolResult), 0, 1);
      push_text(m.content, 0, 1);
      push(tok.special_id(Special::ToolEnd), 0, 1);
      continue;
    }
    if (after_call) throw DataError(where + ": an assistant tool_call must be followed by a tool message");
    Special role;
    if (m.role == "system") role = Special::System;
    else if (m.role == "user") role = Special::User;
    else if (m.role == "assistant") role = Special::Assistant;
    else throw DataError(where + ": unknown role '" + m.role + "' (system, user, assistant or tool)");
    if (!m.tool_call.empty() && m.role != "assistant") throw DataError(where + ": only an assistant message makes tool calls");
    if (m.content.empty() && m.tool_call.empty()) throw DataError(where + ": empty content");
    const uint8_t loss = m.role == "assistant" ? 1 : 0;
    // An assistant message right after a tool result continues the turn the call opened.
    const bool continues = m.role == "assistant" && i > 0 && messages[i - 1].role == "tool";
    if (!continues) push(tok.special_id(role), 0);
    push_text(m.content, loss);
    if (!m.tool_call.empty()) {
      require_tool_tokens(tok, where);
      push(tok.special_id(Special::ToolCall), 1);
      push_text(m.tool_call, 1);
      push(tok.special_id(Special::ToolEnd), 1);
      continue;  // the turn stays open for the result
    }
    push(tok.special_id(Special::End), loss);
  }
  if (!messages.empty() && !messages.back().tool_call.empty()) {
    throw DataError("message " + std::to_string(messages.size()) + " (assistant): its tool_call has no tool message after it");
  }
  // After a tool result the reply is already open: the generation continues it.
  const bool open_turn = !messages.empty() && messages.back().role == "tool";
  if (add_generation_prompt && !open_turn) push(tok.special_id(Special::Assistant), 0);
  return out;
}

std::string chat_template_jinja(bool tools) {
  if (!tools) {
    return "{{ bos_token }}{% for message in messages %}"
           "{{ '<|' + message['role'] + '|>' + message['content'] + '<|end|>' }}"
           "{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}";
  }
  return "{{ bos_token }}{% for message in messages %}"
         "{% if message['role'] == 'tool' %}{{ '<|tool_result|>' + message['content'] + '<|tool_end|>' }}"
         "{% else %}"
         "{% if not (message['role'] == 'assistant' and loop.index0 > 0 and messages[loop.index0 - 1]['role'] == 'tool') %}"
         "{{ '<|' + message['role'] + '|>' }}{% endif %}{{ message['content'] }}"
         "{% if message['tool_call'] is defined and message['tool_call'] %}"
         "{{ '<|tool_call|>' + message['tool_call'] + '<|tool_end|>' }}{% else %}{{ '<|end|>' }}{% endif %}"
         "{% endif %}{% endfor %}"
         "{% if add_generation_prompt and not (messages and messages[-1]['role'] == 'tool') %}"
         "{{ '<|assistant|>' }}{% endif %}";
}

}  // namespace gptforge
