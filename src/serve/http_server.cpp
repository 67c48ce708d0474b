#include "serve/http_server.h"

#include <httplib.h>

#include <chrono>

#include "util/errors.h"
#include "util/log.h"

namespace gptforge {

namespace {

// How long a waiting generation reply goes without writing before it writes a keepalive.
constexpr std::chrono::milliseconds kKeepalive(250);

}  // namespace

HttpServer::HttpServer(ApiServer& api, const ServeConfig& cfg) : api_(api), server_(std::make_unique<httplib::Server>()) {
  // Every running or queued request holds a connection thread while it streams; a few more serve
  // /health and the page meanwhile.
  const size_t threads = static_cast<size_t>(cfg.max_batch + cfg.queue_size + 8);
  server_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  server_->set_payload_max_length(8 << 20);
  server_->set_keep_alive_max_count(1000);
  // Each token goes out when it is written: without this, Nagle's algorithm holds small writes back
  // until the client acknowledges the last one (up to its 40 ms delayed ACK).
  server_->set_tcp_nodelay(true);

  auto handler = [this](const httplib::Request& req, httplib::Response& res) {
    ApiRequest request{req.method, req.path, req.body, req.get_header_value("Authorization")};
    Reply reply = api_.handle(request);
    res.status = reply.status;
    if (!reply.stream) {
      res.set_content(reply.body, reply.content_type.c_str());
      return;
    }
    if (reply.content_type == "text/event-stream") {
      res.set_header("Cache-Control", "no-cache");
      res.set_header("X-Accel-Buffering", "no");
    }
    std::shared_ptr<ReplyStream> stream = reply.stream;
    res.set_chunked_content_provider(
        reply.content_type,
        [stream](size_t, httplib::DataSink& sink) {
          std::string piece;
          if (!stream->next(piece, kKeepalive)) {
            sink.done();
            return true;
          }
          if (piece.empty()) piece = stream->keepalive();
          if (!sink.write(piece.data(), piece.size())) {
            stream->cancel();
            return false;
          }
          return true;
        },
        [stream](bool success) {
          // Ended before the body was complete: the client is gone, free the slots.
          if (!success) stream->cancel();
        });
  };
  for (const char* path : {"/", "/index.html", "/health", "/v1/models", "/v1/completions", "/v1/chat/completions",
                           "/tokenize", "/detokenize"}) {
    server_->Get(path, handler);
    server_->Post(path, handler);
  }
  // Unknown routes and methods get the API's JSON error too.
  server_->set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    Reply reply = api_.handle({req.method, req.path, req.body, req.get_header_value("Authorization")});
    res.status = reply.status == 200 ? res.status : reply.status;
    res.set_content(reply.body, reply.content_type.c_str());
  });
  server_->set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "internal error";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what += std::string(": ") + e.what();
    } catch (...) {
    }
    res.status = 500;
    res.set_content(R"({"error":{"message":")" + what + R"(","type":"server_error","param":null,"code":null}})",
                    "application/json");
  });
}

HttpServer::~HttpServer() = default;

int HttpServer::bind(const std::string& host, int port) {
  if (port == 0) {
    const int bound = server_->bind_to_any_port(host);
    if (bound <= 0) throw RunError("serve: cannot bind " + host + " (serve.host)");
    return bound;
  }
  if (!server_->bind_to_port(host, port)) {
    throw RunError("serve: cannot bind " + host + ":" + std::to_string(port) +
                   " (serve.host / serve.port): in use or not an address of this machine");
  }
  return port;
}

void HttpServer::listen() { server_->listen_after_bind(); }

void HttpServer::stop() { server_->stop(); }

}  // namespace gptforge
