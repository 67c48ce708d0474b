#include "serve/request.h"

#include <cmath>
#include <set>

#include "generate/tool_calls.h"
#include "serve/api_error.h"
#include "tokenizer/chat_template.h"

namespace gptforge {
namespace {

using nlohmann::json;

// How a value reads in an error message: its JSON, shortened.
std::string shown(const json& v) {
  std::string s = v.dump();
  return s.size() > 40 ? s.substr(0, 37) + "..." : s;
}

double number_field(const json& body, const std::string& key, double lo, double hi, bool lo_open, double fallback) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return fallback;
  const std::string range = std::string(lo_open ? "(" : "[") + json(lo).dump() + ", " + json(hi).dump() + "]";
  if (!it->is_number()) throw bad_field(key, "'" + key + "' must be a number in " + range + ", got " + shown(*it));
  const double v = it->get<double>();
  if (!(lo_open ? v > lo : v >= lo) || !(v <= hi)) {
    throw bad_field(key, "'" + key + "' must be in " + range + ", got " + shown(*it));
  }
  return v;
}

int64_t int_field(const json& body, const std::string& key, int64_t lo, int64_t hi, int64_t fallback) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return fallback;
  const std::string range = "[" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
  if (!it->is_number_integer()) {
    throw bad_field(key, "'" + key + "' must be an integer in " + range + ", got " + shown(*it));
  }
  // Unsigned values above int64's range read as negative: check through the unsigned reading too.
  if (it->is_number_unsigned() && it->get<uint64_t>() > static_cast<uint64_t>(hi)) {
    throw bad_field(key, "'" + key + "' must be in " + range + ", got " + shown(*it));
  }
  const int64_t v = it->get<int64_t>();
  if (v < lo || v > hi) throw bad_field(key, "'" + key + "' must be in " + range + ", got " + shown(*it));
  return v;
}

bool bool_field(const json& body, const std::string& key, bool fallback) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) throw bad_field(key, "'" + key + "' must be true or false, got " + shown(*it));
  return it->get<bool>();
}

std::vector<std::string> stop_field(const json& body) {
  auto it = body.find("stop");
  if (it == body.end() || it->is_null()) return {};
  std::vector<std::string> stops;
  if (it->is_string()) {
    stops.push_back(it->get<std::string>());
  } else if (it->is_array() && it->size() <= 4) {
    for (const auto& s : *it) {
      if (!s.is_string()) throw bad_field("stop", "'stop' must be a string or an array of strings, got " + shown(*it));
      stops.push_back(s.get<std::string>());
    }
  } else {
    throw bad_field("stop", "'stop' must be a string or an array of at most 4 strings, got " + shown(*it));
  }
  for (const auto& s : stops) {
    if (s.empty()) throw bad_field("stop", "'stop' strings must not be empty");
  }
  return stops;
}

// Fields accepted for compatibility with OpenAI's clients, each only with its neutral value.
void check_neutral_fields(const json& body) {
  auto neutral = [&](const std::string& key, const json& value) {
    auto it = body.find(key);
    if (it == body.end() || it->is_null()) return;
    if (*it != value) throw bad_field(key, "'" + key + "' is not supported (only " + value.dump() + ")");
  };
  neutral("echo", false);
  neutral("best_of", 1);
  neutral("presence_penalty", 0);
  neutral("frequency_penalty", 0);
  neutral("logit_bias", json::object());
  neutral("suffix", nullptr);
  auto user = body.find("user");
  if (user != body.end() && !user->is_string() && !user->is_null()) {
    throw bad_field("user", "'user' must be a string, got " + shown(*user));
  }
  auto so = body.find("stream_options");
  if (so != body.end() && !so->is_null()) {
    if (!so->is_object()) throw bad_field("stream_options", "'stream_options' must be an object");
    for (auto it = so->begin(); it != so->end(); ++it) {
      if (it.key() != "include_usage" || !it.value().is_boolean()) {
        throw bad_field("stream_options", "'stream_options' takes only include_usage (true or false)");
      }
    }
  }
}

void check_known_fields(const json& body, bool chat) {
  static const std::set<std::string> common = {
      "model", "max_tokens", "temperature", "top_p", "top_k", "min_p", "repetition_penalty", "stop", "seed", "n",
      "logprobs", "stream", "stream_options", "user", "presence_penalty", "frequency_penalty", "logit_bias",
      "ignore_eos"};
  static const std::set<std::string> completions = {"prompt", "echo", "best_of", "suffix"};
  static const std::set<std::string> chats = {"messages", "top_logprobs", "max_completion_tokens"};
  for (auto it = body.begin(); it != body.end(); ++it) {
    const std::string& k = it.key();
    if (common.count(k) || (chat ? chats : completions).count(k)) continue;
    throw bad_field(k, "unrecognized request field '" + k + "'", "unknown_field");
  }
}

std::vector<int32_t> completion_prompt(const json& body, const Tokenizer& tok, const RequestLimits& limits) {
  auto it = body.find("prompt");
  if (it == body.end()) throw bad_field("prompt", "'prompt' is required");
  auto encode = [&](const std::string& text) {
    std::vector<int32_t> ids = text.empty() ? std::vector<int32_t>{tok.eos_id()} : tok.encode(text);
    if (ids.empty()) throw bad_field("prompt", "'prompt' encodes to no tokens");
    return ids;
  };
  if (it->is_string()) return encode(it->get<std::string>());
  if (it->is_array() && !it->empty() && (*it)[0].is_number_integer()) {
    std::vector<int32_t> ids;
    for (const auto& v : *it) {
      if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() >= limits.vocab_size) {
        throw bad_field("prompt", "'prompt' token ids must be integers in [0, " + std::to_string(limits.vocab_size) +
                                      "), got " + shown(v));
      }
      ids.push_back(v.get<int32_t>());
    }
    return ids;
  }
  if (it->is_array() && it->size() == 1 && (*it)[0].is_string()) return encode((*it)[0].get<std::string>());
  throw bad_field("prompt", "'prompt' must be a string or a non-empty array of token ids (one prompt per request), got " +
                                shown(*it));
}

std::vector<ChatMessage> chat_messages(const json& body) {
  auto it = body.find("messages");
  if (it == body.end()) throw bad_field("messages", "'messages' is required");
  if (!it->is_array() || it->empty()) throw bad_field("messages", "'messages' must be a non-empty array");
  std::vector<ChatMessage> messages;
  for (size_t i = 0; i < it->size(); ++i) {
    const json& m = (*it)[i];
    const std::string where = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) throw bad_field(where, "'" + where + "' must be an object with role and content");
    auto role = m.find("role");
    if (role == m.end() || !role->is_string() ||
        (*role != "system" && *role != "user" && *role != "assistant")) {
      throw bad_field(where + ".role", "'" + where + ".role' must be system, user or assistant");
    }
    auto content = m.find("content");
    std::string text;
    if (content != m.end() && content->is_string()) {
      text = content->get<std::string>();
    } else if (content != m.end() && content->is_array()) {
      for (const auto& part : *content) {
        if (!part.is_object() || part.value("type", "") != "text" || !part.contains("text") || !part["text"].is_string()) {
          throw bad_field(where + ".content", "'" + where + ".content' parts must be {\"type\": \"text\", \"text\": ...}");
        }
        text += part["text"].get<std::string>();
      }
    } else {
      throw bad_field(where + ".content", "'" + where + ".content' must be a string");
    }
    if (text.empty()) throw bad_field(where + ".content", "'" + where + ".content' must not be empty");
    if (*role == "assistant" && text.find("<|tool_") != std::string::npos) {
      // A reply of this server that called a tool, sent back as history: its calls and results
      // become the messages the template renders (generate/tool_calls.h).
      std::vector<ChatMessage> parts = reply_messages(text);
      if (parts.empty()) {
        throw bad_field(where + ".content", "'" + where + ".content' has tool markers that are not whole calls "
                                            "(<|tool_call|>EXPR<|tool_end|><|tool_result|>RESULT<|tool_end|>ANSWER)");
      }
      messages.insert(messages.end(), parts.begin(), parts.end());
      continue;
    }
    messages.push_back({role->get<std::string>(), text});
  }
  return messages;
}

}  // namespace

json parse_json_object(const std::string& body) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) throw ApiError(400, "the request body is not valid JSON", "", "invalid_json");
  if (!j.is_object()) throw ApiError(400, "the request body must be a JSON object", "", "invalid_json");
  return j;
}

GenerationRequest parse_generation_request(const std::string& text, bool chat, const Tokenizer& tok,
                                           const RequestLimits& limits) {
  const json body = parse_json_object(text);
  check_known_fields(body, chat);
  check_neutral_fields(body);
  auto model = body.find("model");
  if (model != body.end() && !model->is_null()) {
    if (!model->is_string()) throw bad_field("model", "'model' must be a string, got " + shown(*model));
    if (*model != limits.model_name) {
      throw bad_field("model", "the model '" + model->get<std::string>() + "' does not exist; this server serves '" +
                                   limits.model_name + "'", "model_not_found");
    }
  }

  GenerationRequest r;
  r.chat = chat;
  GenerationOptions& o = r.opts;
  const char* max_key = chat && body.contains("max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
  o.max_new_tokens = int_field(body, max_key, 1, 10000000, limits.default_max_tokens);
  o.temperature = number_field(body, "temperature", 0, 2, false, 1.0);
  o.top_p = number_field(body, "top_p", 0, 1, true, 1.0);
  o.top_k = int_field(body, "top_k", 0, 1 << 24, 0);
  o.min_p = number_field(body, "min_p", 0, 1, false, 0.0);
  o.repetition_penalty = number_field(body, "repetition_penalty", 0, 100, true, 1.0);
  o.stop = stop_field(body);
  o.seed = static_cast<uint64_t>(int_field(body, "seed", 0, INT64_MAX, static_cast<int64_t>(limits.default_seed)));
  r.n = int_field(body, "n", 1, limits.max_n, 1);
  r.stream = bool_field(body, "stream", false);
  o.stop_at_eos = !bool_field(body, "ignore_eos", false);
  o.tools = limits.tools;
  if (chat) {
    const bool logprobs = bool_field(body, "logprobs", false);
    const int64_t top = int_field(body, "top_logprobs", 0, 20, 0);
    if (body.contains("top_logprobs") && !body["top_logprobs"].is_null() && !logprobs) {
      throw bad_field("top_logprobs", "'top_logprobs' needs 'logprobs': true");
    }
    r.top_logprobs = logprobs ? top : -1;
  } else {
    r.top_logprobs = int_field(body, "logprobs", 0, 20, -1);
  }

  if (chat) {
    if (!tok.has_chat_tokens()) {
      throw ApiError(400, "this model's tokenizer has no chat tokens: use /v1/completions", "messages");
    }
    r.prompt = render_chat(tok, chat_messages(body), /*add_generation_prompt=*/true).ids;
    o.stop_ids.push_back(tok.special_id(Special::End));
  } else {
    r.prompt = completion_prompt(body, tok, limits);
  }
  if (static_cast<int64_t>(r.prompt.size()) > limits.block_size) {
    throw bad_field(chat ? "messages" : "prompt",
                    "the prompt is " + std::to_string(r.prompt.size()) + " tokens, over the model's context of " +
                        std::to_string(limits.block_size) + " tokens",
                    "context_length_exceeded");
  }
  return r;
}

}  // namespace gptforge
