#include "serve/completion_stream.h"

namespace gptforge {

using nlohmann::json;

std::string token_text(const Tokenizer& tok, int32_t id) {
  return tok.is_special(id) ? tok.piece(id) : tok.token_bytes(id);
}

std::string dump_json(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

namespace {

json byte_list(const std::string& s) {
  json b = json::array();
  for (unsigned char c : s) b.push_back(static_cast<int>(c));
  return b;
}

// The text as JSON will carry it (invalid UTF-8 replaced), for a dict key.
std::string json_safe(const std::string& s) { return json::parse(dump_json(json(s))).get<std::string>(); }

}  // namespace

CompletionStream::CompletionStream(ReplyInfo info, std::shared_ptr<JobState> job, const Tokenizer& tok)
    : info_(std::move(info)), job_(std::move(job)), tok_(tok), choices_(static_cast<size_t>(job_->n())) {
  for (auto& c : choices_) c.logprobs = info_.chat ? json{{"content", json::array()}}
                                                   : json{{"tokens", json::array()}, {"token_logprobs", json::array()},
                                                          {"top_logprobs", json::array()}, {"text_offset", json::array()}};
}

json CompletionStream::envelope(const char* object) const {
  return {{"id", info_.id}, {"object", object}, {"created", info_.created}, {"model", info_.model}};
}

json CompletionStream::usage() const {
  const int64_t completion = job_->completion_tokens();
  return {{"prompt_tokens", job_->prompt_tokens()}, {"completion_tokens", completion},
          {"total_tokens", job_->prompt_tokens() + completion}};
}

json CompletionStream::token_logprobs(const SampledToken& t, size_t text_offset) const {
  const std::string text = token_text(tok_, t.id);
  if (info_.chat) {
    json top = json::array();
    for (const auto& [id, lp] : t.top) {
      const std::string s = token_text(tok_, id);
      top.push_back({{"token", s}, {"logprob", lp}, {"bytes", byte_list(s)}});
    }
    return {{"token", text}, {"logprob", t.logprob}, {"bytes", byte_list(text)}, {"top_logprobs", top}};
  }
  json top = json::object();
  for (const auto& [id, lp] : t.top) top[json_safe(token_text(tok_, id))] = lp;
  return {{"tokens", json::array({text})}, {"token_logprobs", json::array({t.logprob})},
          {"top_logprobs", json::array({top})}, {"text_offset", json::array({text_offset})}};
}

void CompletionStream::add_chunk(std::string& out, int index, const std::string& text, const SampledToken* token,
                                 const std::string* finish_reason) {
  Choice& c = choices_[static_cast<size_t>(index)];
  json choice = {{"index", index}, {"finish_reason", finish_reason ? json(*finish_reason) : json(nullptr)}};
  json lp = nullptr;
  if (info_.logprobs && token) {
    json t = token_logprobs(*token, c.text.size());
    lp = info_.chat ? json{{"content", json::array({t})}} : t;
  }
  choice["logprobs"] = lp;
  if (info_.chat) {
    json delta = json::object();
    if (!c.started) delta["role"] = "assistant";
    if (!text.empty() || !c.started) delta["content"] = text;
    c.started = true;
    choice["delta"] = delta;
  } else {
    choice["text"] = text;
  }
  c.text += text;
  json chunk = envelope(info_.chat ? "chat.completion.chunk" : "text_completion");
  chunk["choices"] = json::array({choice});
  out += "data: " + dump_json(chunk) + "\n\n";
}

bool CompletionStream::next(std::string& piece, std::chrono::milliseconds wait) {
  piece.clear();
  if (done_) return false;
  std::vector<EngineEvent> events;
  const bool more = job_->take(events, wait);
  for (const auto& e : events) {
    Choice& c = choices_[static_cast<size_t>(e.choice)];
    const bool finished = e.kind == EngineEvent::Kind::Finished;
    if (finished) c.finish_reason = e.finish_reason;
    if (info_.stream) {
      // The rest of the text of a finished choice goes in a chunk of its own, before the end.
      if (!finished) {
        add_chunk(piece, e.choice, e.text, &e.token, nullptr);
      } else {
        if (!e.text.empty()) add_chunk(piece, e.choice, e.text, nullptr, nullptr);
        add_chunk(piece, e.choice, "", nullptr, &e.finish_reason);
      }
      continue;
    }
    if (!finished && info_.logprobs) {
      json t = token_logprobs(e.token, c.text.size());
      if (info_.chat) {
        c.logprobs["content"].push_back(t);
      } else {
        for (const char* key : {"tokens", "token_logprobs", "top_logprobs", "text_offset"}) {
          c.logprobs[key].push_back(t[key][0]);
        }
      }
    }
    c.text += e.text;
  }
  if (!more) {
    done_ = true;
    if (info_.stream) {
      json last = envelope(info_.chat ? "chat.completion.chunk" : "text_completion");
      last["choices"] = json::array();
      last["usage"] = usage();
      piece += "data: " + dump_json(last) + "\n\ndata: [DONE]\n\n";
    } else {
      piece += final_body();
    }
  }
  return true;
}

std::string CompletionStream::final_body() {
  json out = envelope(info_.chat ? "chat.completion" : "text_completion");
  json list = json::array();
  for (size_t i = 0; i < choices_.size(); ++i) {
    const Choice& c = choices_[i];
    json choice = {{"index", i}, {"finish_reason", c.finish_reason},
                   {"logprobs", info_.logprobs ? c.logprobs : json(nullptr)}};
    if (info_.chat) {
      choice["message"] = {{"role", "assistant"}, {"content", c.text}};
    } else {
      choice["text"] = c.text;
    }
    list.push_back(choice);
  }
  out["choices"] = list;
  out["usage"] = usage();
  return dump_json(out);
}

}  // namespace gptforge
