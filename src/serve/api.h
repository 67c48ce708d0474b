// The OpenAI-compatible API without the network: a request (method, path, headers' values, body)
// in, a reply out. http_server.h puts it on a socket; the tests call it directly.
//
//   POST /v1/completions        text completion (request.h lists the fields)
//   POST /v1/chat/completions   chat on the checkpoint's chat template
//   GET  /v1/models             the one served model
//   GET  /health                status and the engine's counters (no API key needed)
//   POST /tokenize              {"content": text} -> {"tokens": [ids]}
//   POST /detokenize            {"tokens": [ids]} -> {"content": text}
//   GET  /                      the web chat page (chat_page.h)
//
// Generation replies stream: with "stream": true the body is server-sent events, one
// `data: {chunk}` per step in OpenAI's chunk format, a last chunk with `usage` and no choices, then
// `data: [DONE]`; without it, the body is one JSON object at the end. Errors are OpenAI error
// objects (api_error.h): 400 bad input, 401 a missing or wrong API key, 404 / 405 unknown routes,
// 429 a full queue. A request that runs past serve.request_timeout ends with finish_reason
// "timeout" and the text it has.
#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "serve/engine.h"
#include "serve/request.h"
#include "serve/serve_config.h"

namespace gptforge {

struct ApiRequest {
  std::string method;         // GET, POST
  std::string path;           // without the query string
  std::string body;
  std::string authorization;  // the Authorization header ("Bearer KEY"), "" when absent
};

// The body of a generation reply, piece by piece.
class ReplyStream {
 public:
  virtual ~ReplyStream() = default;
  // Waits at most `wait` for the next piece of the body. Returns false once the body is complete
  // (then `piece` is empty); true with an empty piece when nothing came in time (the transport
  // can check that its client is still there).
  virtual bool next(std::string& piece, std::chrono::milliseconds wait) = 0;
  // The client has gone: the engine frees the request's slots at its next step.
  virtual void cancel() = 0;
  // What the transport may send while waiting, to notice a client that went away: harmless to the
  // format (an SSE comment line; JSON whitespace).
  virtual std::string keepalive() const = 0;
};

struct Reply {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;                     // complete body, when stream is null
  std::shared_ptr<ReplyStream> stream;  // generation replies
};

struct ServedModel {
  GPT model;
  Tokenizer tokenizer;
  std::string name;  // the model id of the API
};

class ApiServer {
 public:
  // Starts the engine (see BatchEngine for start_engine). `seed` is the default request seed.
  ApiServer(ServedModel served, const ServeConfig& cfg, uint64_t seed, bool start_engine = true);

  Reply handle(const ApiRequest& request);

  BatchEngine& engine() { return *engine_; }
  const std::string& model_name() const { return served_.name; }

 private:
  Reply route(const ApiRequest& request);
  Reply generate(const std::string& body, bool chat);

  ServedModel served_;
  ServeConfig cfg_;
  RequestLimits limits_;
  int64_t created_;  // unix time the server started, for "created"
  std::unique_ptr<BatchEngine> engine_;
};

// Reads a whole reply body (for tests and tools): the body, or every piece of the stream.
std::string read_body(Reply& reply);

}  // namespace gptforge
