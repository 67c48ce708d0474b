// `gptforge serve --checkpoint C [--host H] [--port P] [--api-key K] [overrides]`: the OpenAI-
// compatible HTTP server with batched decoding and the web chat page (src/serve/). serve.* keys
// configure it; --host, --port and --api-key are shorthands for serve.host, serve.port and
// serve.api_key. Ctrl-C (SIGINT) or SIGTERM stops it.
#include <csignal>
#include <cstdio>

#include "cli/app.h"
#include "cli/generate_options.h"
#include "checkpoint/loaded_model.h"
#include "serve/api.h"
#include "serve/http_server.h"
#include "util/errors.h"
#include "util/log.h"
#include "util/runtime.h"
#include "util/stop_signals.h"

namespace gptforge::cli {

namespace {

struct ServeArgs {
  CommonOptions common;
  std::string checkpoint;
  std::string host, api_key;
  int port = -1;
};

// The model's id in the API: serve.model_name, else the checkpoint directory's name (a run's
// `latest` resolves to its step directory, so the run's name is used then).
std::string model_name(const Config& cfg, const std::string& path) {
  if (!cfg.serve.model_name.empty()) return cfg.serve.model_name;
  std::string p = path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  const size_t slash = p.find_last_of('/');
  std::string name = slash == std::string::npos ? p : p.substr(slash + 1);
  return name.empty() || name == "." ? std::string("gptforge") : name;
}

void run_serve(const ServeArgs& args) {
  CommonOptions common = args.common;
  if (!args.host.empty()) common.overrides.push_back("serve.host=" + args.host);
  if (args.port >= 0) common.overrides.push_back("serve.port=" + std::to_string(args.port));
  if (!args.api_key.empty()) common.overrides.push_back("serve.api_key=" + args.api_key);
  signal(SIGPIPE, SIG_IGN);  // a client gone mid-write is an error return, not the end of the server

  Config cfg = load_command_config(common);
  LoadedModel m = load_model(args.checkpoint, resolve_device(cfg.run.device));
  ServedModel served{m.model, m.tokenizer, model_name(cfg, args.checkpoint)};
  ApiServer api(served, cfg.serve, static_cast<uint64_t>(cfg.run.seed));
  HttpServer http(api, cfg.serve);
  const int port = http.bind(cfg.serve.host, static_cast<int>(cfg.serve.port));

  // SIGINT and SIGTERM (util/stop_signals.h's waiting thread) stop the server cleanly.
  SignalScope stop_on_signal([&](int) {
    log_info("serve: stopping");
    http.stop();
  });
  if (cfg.serve.host != "127.0.0.1" && cfg.serve.host != "localhost" && cfg.serve.host != "::1") {
    log_warn("serve: listening on " + cfg.serve.host + ", not only on this machine" +
             (cfg.serve.api_key.empty() ? " and without an API key (serve.api_key)" : ""));
  }
  std::fprintf(stderr, "serving %s as '%s' on http://%s:%d (%lld slots, queue %lld)\n", describe(m).c_str(),
               served.name.c_str(), cfg.serve.host.c_str(), port, (long long)cfg.serve.max_batch,
               (long long)cfg.serve.queue_size);
  std::fflush(stderr);
  http.listen();
}

}  // namespace

void register_serve(CLI::App& app) {
  auto args = std::make_shared<ServeArgs>();
  auto* cmd = app.add_subcommand("serve", "OpenAI-compatible HTTP server with batched decoding and a web chat page");
  add_common_options(cmd, args->common);
  add_checkpoint_option(cmd, args->checkpoint);
  cmd->add_option("--host", args->host, "Address to bind (serve.host; default 127.0.0.1, this machine only)");
  cmd->add_option("-p,--port", args->port, "TCP port (serve.port; default 8080, 0 = any free port)");
  cmd->add_option("--api-key", args->api_key, "Require `Authorization: Bearer KEY` (serve.api_key)");
  cmd->footer("Endpoints: POST /v1/completions, POST /v1/chat/completions (\"stream\": true for server-sent "
              "events), GET /v1/models, GET /health, POST /tokenize, POST /detokenize, and the chat page at /.");
  cmd->callback([args] { run_serve(*args); });
}

}  // namespace gptforge::cli
