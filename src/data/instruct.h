// Instruction data for supervised fine-tuning, read into conversations for the chat template:
//
//   Alpaca JSON (an array) or JSONL:  {"instruction": "...", "input": "...", "output": "..."}
//       -> user: instruction (+ "\n\n" + input when present), assistant: output
//   Chat JSONL:  {"messages": [{"role": "system"|"user"|"assistant", "content": "..."}, ...]}
//       multi-turn included; at least one assistant turn. Tool calls (chat_template.h): an assistant
//       message {"role": "assistant", "content": "" (may be left out), "tool_call": "37*45"}, then
//       {"role": "tool", "content": "1665"} (the result: no loss), then the assistant's continuation.
//
// Either form may carry a "task" string (the task suite's category, used by `gptforge eval`) and
// "ignore_case": true when eval is to compare the answer without regard to the case of its letters.
// Malformed records fail with the file and line, or are skipped and counted with skip_invalid.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "tokenizer/chat_template.h"
#include "data/data_config.h"

namespace gptforge {

struct InstructExample {
  std::vector<ChatMessage> messages;
  std::string task;   // "" when the record names none
  std::string where;  // "file:line", for messages
  bool ignore_case = false;  // eval compares answers with ASCII letters lower-cased
};

struct InstructReadStats {
  int64_t records = 0, skipped = 0;
  std::string first_skip_reason;
};

// format: auto (detected per record), alpaca or chat. Throws DataError naming file:line.
std::vector<InstructExample> read_instruct_file(const std::string& path, Choice<InstructFormat> format, bool skip_invalid,
                                                InstructReadStats* stats = nullptr);

// A conversation given as JSON: a list of {"role", "content"} messages, or {"messages": [...]}.
// Throws DataError starting with origin.
std::vector<ChatMessage> parse_chat_messages(const std::string& json_text, const std::string& origin);

// The conversation without its last assistant message, and that message's text: the prompt and the
// expected answer, as eval uses them.
std::vector<ChatMessage> prompt_messages(const InstructExample& ex);
std::string expected_answer(const InstructExample& ex);

}  // namespace gptforge
