#include "data/instruct.h"

#include <nlohmann/json.hpp>

#include <sstream>

#include "util/errors.h"
#include "util/files.h"

namespace gptforge {

namespace {

std::string string_field(const nlohmann::json& j, const char* key, bool required) {
  if (!j.contains(key) || j[key].is_null()) {
    if (required) throw DataError(std::string("missing \"") + key + "\"");
    return "";
  }
  if (!j[key].is_string()) throw DataError(std::string("\"") + key + "\" must be a string");
  return j[key].get<std::string>();
}

std::vector<ChatMessage> messages_from_json(const nlohmann::json& list) {
  std::vector<ChatMessage> out;
  for (const auto& m : list) {
    if (!m.is_object()) throw DataError("a message is not an object");
    ChatMessage msg;
    msg.role = string_field(m, "role", true);
    msg.tool_call = string_field(m, "tool_call", false);
    msg.content = string_field(m, "content", msg.tool_call.empty());
    if (msg.role != "system" && msg.role != "user" && msg.role != "assistant" && msg.role != "tool") {
      throw DataError("unknown role '" + msg.role + "' (system, user, assistant or tool)");
    }
    if (m.contains("tool_call") && msg.role != "assistant") throw DataError("a " + msg.role + " message has a tool_call (only assistant messages call tools)");
    if (m.contains("tool_call") && msg.tool_call.empty()) throw DataError("empty \"tool_call\"");
    if (msg.content.empty() && msg.tool_call.empty()) throw DataError("empty content in a " + msg.role + " message");
    out.push_back(std::move(msg));
  }
  return out;
}

InstructExample parse_record(const nlohmann::json& j, Choice<InstructFormat> format) {
  if (!j.is_object()) throw DataError("record is not a JSON object");
  InstructExample ex;
  ex.task = string_field(j, "task", false);
  if (j.contains("ignore_case") && !j["ignore_case"].is_null()) {
    if (!j["ignore_case"].is_boolean()) throw DataError("\"ignore_case\" must be true or false");
    ex.ignore_case = j["ignore_case"].get<bool>();
  }
  bool is_chat = format == InstructFormat::Chat || (format == InstructFormat::Auto && j.contains("messages"));
  if (is_chat) {
    if (!j.contains("messages") || !j["messages"].is_array()) throw DataError("missing \"messages\" list");
    ex.messages = messages_from_json(j["messages"]);
    bool has_assistant = false;
    for (const ChatMessage& m : ex.messages) has_assistant |= m.role == "assistant";
    if (!has_assistant) throw DataError("conversation has no assistant turn");
  } else {
    std::string instruction = string_field(j, "instruction", true);
    std::string input = string_field(j, "input", false);
    std::string output = string_field(j, "output", true);
    if (instruction.empty()) throw DataError("empty \"instruction\"");
    if (output.empty()) throw DataError("empty \"output\"");
    ex.messages.push_back({"user", input.empty() ? instruction : instruction + "\n\n" + input});
    ex.messages.push_back({"assistant", output});
  }
  return ex;
}

}  // namespace

std::vector<ChatMessage> parse_chat_messages(const std::string& json_text, const std::string& origin) {
  try {
    nlohmann::json j = nlohmann::json::parse(json_text);
    if (j.is_object() && j.contains("messages")) j = j["messages"];
    if (!j.is_array()) throw DataError("expected a list of messages or {\"messages\": [...]}");
    return messages_from_json(j);
  } catch (const nlohmann::json::exception& e) {
    throw DataError(origin + ": malformed JSON (" + e.what() + ")");
  } catch (const DataError& e) {
    throw DataError(origin + ": " + e.what());
  }
}

std::vector<InstructExample> read_instruct_file(const std::string& path, Choice<InstructFormat> format, bool skip_invalid,
                                                InstructReadStats* stats) {
  const std::string text = read_file(path);
  InstructReadStats local;
  InstructReadStats& st = stats ? *stats : local;
  std::vector<InstructExample> out;
  auto handle = [&](const nlohmann::json& j, const std::string& where) {
    ++st.records;
    try {
      InstructExample ex = parse_record(j, format);
      ex.where = where;
      out.push_back(std::move(ex));
    } catch (const DataError& e) {
      if (!skip_invalid) throw DataError(where + ": " + e.what() + " (sft.skip_invalid=true skips such records)");
      if (st.skipped++ == 0) st.first_skip_reason = where + ": " + e.what();
    }
  };
  size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && text[first] == '[') {
    // A JSON array (Alpaca's own release format).
    nlohmann::json arr;
    try {
      arr = nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
      throw DataError(path + ": not valid JSON (" + std::string(e.what()) + ")");
    }
    for (size_t i = 0; i < arr.size(); ++i) handle(arr[i], path + ": record " + std::to_string(i + 1));
  } else {
    std::istringstream in(text);
    std::string line;
    int64_t n = 0;
    while (std::getline(in, line)) {
      ++n;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      const std::string where = path + ":" + std::to_string(n);
      nlohmann::json j;
      try {
        j = nlohmann::json::parse(line);
      } catch (const nlohmann::json::parse_error&) {
        ++st.records;
        if (!skip_invalid) throw DataError(where + ": malformed JSON (sft.skip_invalid=true skips such lines)");
        if (st.skipped++ == 0) st.first_skip_reason = where + ": malformed JSON";
        continue;
      }
      handle(j, where);
    }
  }
  if (out.empty()) throw DataError(path + ": no usable instruction records");
  return out;
}

std::vector<ChatMessage> prompt_messages(const InstructExample& ex) {
  std::vector<ChatMessage> msgs = ex.messages;
  while (!msgs.empty() && msgs.back().role != "assistant") msgs.pop_back();
  if (!msgs.empty()) msgs.pop_back();
  // The last reply's tool calls and their results are part of the reply, not of the prompt.
  while (msgs.size() >= 2 && msgs.back().role == "tool") msgs.resize(msgs.size() - 2);
  return msgs;
}

std::string expected_answer(const InstructExample& ex) {
  for (auto it = ex.messages.rbegin(); it != ex.messages.rend(); ++it) {
    if (it->role == "assistant") return it->content;
  }
  return "";
}

}  // namespace gptforge
