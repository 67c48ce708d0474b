// The API (api.h) on a socket, with cpp-httplib (Debian's libcpp-httplib-dev): a thread per
// connection from a pool large enough for every slot and queued request, generation replies sent
// as they come (chunked), and a client that goes away noticed at the next write (a token, or a
// keepalive while the request waits), which frees its slot.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "serve/api.h"

namespace httplib {
class Server;
}

namespace gptforge {

class HttpServer {
 public:
  HttpServer(ApiServer& api, const ServeConfig& cfg);
  ~HttpServer();

  // Binds host:port (port 0: any free port). Throws RunError naming the address when it cannot.
  // Returns the port bound.
  int bind(const std::string& host, int port);
  // Serves until stop() (from another thread or a signal handler's thread).
  void listen();
  void stop();

 private:
  ApiServer& api_;
  std::unique_ptr<httplib::Server> server_;
};

}  // namespace gptforge
