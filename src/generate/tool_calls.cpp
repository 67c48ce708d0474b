#include "generate/tool_calls.h"

#include "generate/calculator.h"
#include "tokenizer/chat_template.h"
#include "util/errors.h"

namespace gptforge {

std::vector<Tool> parse_tools(const std::vector<std::string>& names) {
  std::vector<Tool> out;
  for (const auto& n : names) {
    if (n == "calc") {
      out.push_back(Tool::Calc);
    } else {
      throw ConfigError("sample.tools: unknown tool '" + n + "' (calc)");
    }
  }
  return out;
}

namespace {
constexpr const char* kCall = "<|tool_call|>";
constexpr const char* kResult = "<|tool_result|>";
constexpr const char* kEnd = "<|tool_end|>";

bool starts_at(const std::string& s, size_t pos, const std::string& what) { return s.compare(pos, what.size(), what) == 0; }
}  // namespace

std::string text_after_tool_calls(const std::string& text) {
  const size_t last = text.rfind(kEnd);
  return last == std::string::npos ? text : text.substr(last + std::string(kEnd).size());
}

std::vector<ChatMessage> reply_messages(const std::string& text) {
  const std::string call = kCall, result = kResult, end = kEnd;
  std::vector<ChatMessage> out;
  size_t pos = 0;
  for (;;) {
    const size_t c = text.find(call, pos);
    if (c == std::string::npos) break;
    const size_t call_end = text.find(end, c + call.size());
    if (call_end == std::string::npos) return {};
    const size_t r = call_end + end.size();
    if (!starts_at(text, r, result)) return {};
    const size_t result_end = text.find(end, r + result.size());
    if (result_end == std::string::npos) return {};
    ChatMessage m;
    m.role = "assistant";
    m.content = text.substr(pos, c - pos);
    m.tool_call = text.substr(c + call.size(), call_end - c - call.size());
    if (m.tool_call.empty()) return {};
    if (m.content.find(result) != std::string::npos || m.content.find(end) != std::string::npos) return {};
    out.push_back(std::move(m));
    ChatMessage t;
    t.role = "tool";
    t.content = text.substr(r + result.size(), result_end - r - result.size());
    if (t.content.empty()) return {};
    out.push_back(std::move(t));
    pos = result_end + end.size();
  }
  ChatMessage last;
  last.role = "assistant";
  last.content = text.substr(pos);
  if (last.content.empty() || last.content.find(result) != std::string::npos || last.content.find(end) != std::string::npos) {
    return {};
  }
  out.push_back(std::move(last));
  return out;
}

ToolCallWatcher::ToolCallWatcher(const Tokenizer& tok)
    : tok_(tok),
      call_(tok.special_id(Special::ToolCall)),
      result_(tok.special_id(Special::ToolResult)),
      end_(tok.special_id(Special::ToolEnd)) {
  require_tool_tokens(tok, "sample.tools");
}

std::vector<int32_t> ToolCallWatcher::result_ids(const std::string& text) const {
  std::vector<int32_t> ids = {result_};
  for (int32_t id : tok_.encode(text)) ids.push_back(id);
  ids.push_back(end_);
  return ids;
}

std::optional<std::vector<int32_t>> ToolCallWatcher::push(int32_t id) {
  if (!in_call_) {
    if (id == call_) {
      in_call_ = true;
      pending_.clear();
    }
    return std::nullopt;
  }
  if (id != end_ && pending_.size() < kMaxCallTokens) {
    pending_.push_back(id);
    return std::nullopt;
  }
  // The call is complete (or too long: it ends here with an error result).
  in_call_ = false;
  ToolCallRecord rec;
  rec.expression = tok_.decode(pending_);
  if (id != end_) {
    rec.result = "error: the call is longer than " + std::to_string(kMaxCallTokens) + " tokens";
  } else if (calls_.size() >= kMaxCalls) {
    rec.result = "error: more than " + std::to_string(kMaxCalls) + " tool calls";
  } else {
    CalculatorResult r = calculate(rec.expression);
    rec.ok = r.ok;
    rec.result = r.text;
  }
  calls_.push_back(rec);
  std::vector<int32_t> forced = result_ids(rec.result);
  if (id != end_) forced.insert(forced.begin(), end_);  // close the call the model left open
  return forced;
}

}  // namespace gptforge
