#include "serve/api.h"

#include <atomic>
#include <ctime>

#include "serve/api_error.h"
#include "serve/chat_page.h"
#include "serve/completion_stream.h"
#include "util/errors.h"

namespace gptforge {

using nlohmann::json;

namespace {

Reply json_reply(int status, const json& body) {
  Reply r;
  r.status = status;
  r.body = dump_json(body);
  return r;
}

Reply error_reply(const ApiError& e) { return json_reply(e.status, e.to_json()); }

// "cmpl-<start time><counter>": unique within and across server runs of one machine.
std::string next_id(const char* prefix) {
  static const int64_t start = static_cast<int64_t>(std::time(nullptr));
  static std::atomic<int64_t> counter{0};
  return std::string(prefix) + std::to_string(start) + "x" + std::to_string(++counter);
}

std::vector<int32_t> token_list(const json& body, const std::string& key, int64_t vocab) {
  auto it = body.find(key);
  if (it == body.end() || !it->is_array()) throw bad_field(key, "'" + key + "' must be an array of token ids");
  std::vector<int32_t> ids;
  for (const auto& v : *it) {
    if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() >= vocab) {
      throw bad_field(key, "'" + key + "' holds ids in [0, " + std::to_string(vocab) + "), got " + v.dump());
    }
    ids.push_back(v.get<int32_t>());
  }
  return ids;
}

}  // namespace

std::string read_body(Reply& reply) {
  if (!reply.stream) return reply.body;
  std::string body, piece;
  while (reply.stream->next(piece, std::chrono::milliseconds(100))) body += piece;
  return body;
}

ApiServer::ApiServer(ServedModel served, const ServeConfig& cfg, uint64_t seed, bool start_engine)
    : served_(std::move(served)), cfg_(cfg), created_(static_cast<int64_t>(std::time(nullptr))) {
  const ModelConfig& mc = served_.model->config();
  limits_.model_name = served_.name;
  limits_.block_size = mc.block_size;
  limits_.vocab_size = mc.vocab_size;
  limits_.default_max_tokens = cfg.max_tokens;
  limits_.max_n = std::min(cfg.max_n, cfg.max_batch);
  limits_.default_seed = seed;
  limits_.tools = cfg.tools;
  if (!cfg.tools.empty() && !served_.tokenizer.has_tool_tokens()) {
    throw ConfigError("serve.tools: the tokenizer has no tool tokens (<|tool_call|>, <|tool_result|>, <|tool_end|>): "
                      "it was trained before they were reserved; train a new tokenizer and model to use tools");
  }
  engine_ = std::make_unique<BatchEngine>(served_.model, served_.tokenizer, cfg.max_batch, cfg.queue_size,
                                          start_engine);
}

Reply ApiServer::handle(const ApiRequest& request) {
  try {
    return route(request);
  } catch (const ApiError& e) {
    return error_reply(e);
  } catch (const QueueFull& e) {
    return error_reply(ApiError(429, e.what(), "", "queue_full", "rate_limit_error"));
  } catch (const std::exception& e) {
    // Whatever else goes wrong answers 500 and leaves the server serving.
    return error_reply(ApiError(500, std::string("internal error: ") + e.what(), "", "", "server_error"));
  }
}

Reply ApiServer::route(const ApiRequest& request) {
  const std::string& path = request.path;
  const bool get = request.method == "GET", post = request.method == "POST";
  if (path == "/" || path == "/index.html") {
    if (!get) throw ApiError(405, "use GET " + path, "", "method_not_allowed");
    Reply r;
    r.content_type = "text/html; charset=utf-8";
    r.body = chat_page_html();
    return r;
  }
  if (path == "/health") {
    if (!get) throw ApiError(405, "use GET /health", "", "method_not_allowed");
    const EngineStats s = engine_->stats();
    return json_reply(200, {{"status", "ok"},
                            {"model", served_.name},
                            {"context", served_.model->config().block_size},
                            {"slots", engine_->max_batch()},
                            {"running", s.running},
                            {"waiting", s.waiting},
                            {"completed", s.completed},
                            {"cancelled", s.cancelled},
                            {"timed_out", s.timed_out},
                            {"steps", s.steps},
                            {"batched_rows", s.batched_rows},
                            {"peak_batch", s.peak_batch}});
  }
  const bool known = path == "/v1/completions" || path == "/v1/chat/completions" || path == "/v1/models" ||
                     path == "/tokenize" || path == "/detokenize";
  if (!known) throw ApiError(404, "no route " + request.method + " " + path, "", "not_found");
  if (!cfg_.api_key.empty() && request.authorization != "Bearer " + cfg_.api_key) {
    throw ApiError(401, request.authorization.empty() ? "missing API key: send Authorization: Bearer KEY"
                                                      : "invalid API key",
                   "", "invalid_api_key", "authentication_error");
  }
  if (path == "/v1/models") {
    if (!get) throw ApiError(405, "use GET /v1/models", "", "method_not_allowed");
    json model = {{"id", served_.name}, {"object", "model"}, {"created", created_}, {"owned_by", "gptforge"},
                  {"context_length", served_.model->config().block_size}};
    return json_reply(200, {{"object", "list"}, {"data", json::array({model})}});
  }
  if (!post) throw ApiError(405, "use POST " + path, "", "method_not_allowed");
  if (path == "/v1/completions") return generate(request.body, /*chat=*/false);
  if (path == "/v1/chat/completions") return generate(request.body, /*chat=*/true);
  const json body = parse_json_object(request.body);
  if (path == "/tokenize") {
    auto it = body.find("content");
    if (it == body.end() || !it->is_string()) throw bad_field("content", "'content' must be a string");
    return json_reply(200, {{"tokens", served_.tokenizer.encode(it->get<std::string>())}});
  }
  // /detokenize
  return json_reply(200, {{"content", served_.tokenizer.decode(token_list(body, "tokens", limits_.vocab_size))}});
}

Reply ApiServer::generate(const std::string& body, bool chat) {
  GenerationRequest req = parse_generation_request(body, chat, served_.tokenizer, limits_);
  EngineJob job;
  job.prompt = std::move(req.prompt);
  job.opts = req.opts;
  job.n = req.n;
  job.top_logprobs = req.top_logprobs;
  job.deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(cfg_.request_timeout));
  std::shared_ptr<JobState> state = engine_->submit(std::move(job));
  ReplyInfo info;
  info.id = next_id(chat ? "chatcmpl-" : "cmpl-");
  info.model = served_.name;
  info.created = static_cast<int64_t>(std::time(nullptr));
  info.chat = chat;
  info.stream = req.stream;
  info.logprobs = req.top_logprobs >= 0;
  Reply r;
  r.content_type = req.stream ? "text/event-stream" : "application/json";
  r.stream = std::make_shared<CompletionStream>(info, state, served_.tokenizer);
  return r;
}

}  // namespace gptforge
