// `gptforge serve`'s options: the section `serve:` of a config.
// Declarations only: util/config.h assembles the sections (README, "The pipeline").
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "util/config_field.h"

namespace gptforge {

struct ServeConfig {
  std::string host = "127.0.0.1";
  int64_t port = 8080;
  std::string model_name;
  std::string api_key;
  int64_t max_batch = 8;
  int64_t queue_size = 64;
  double request_timeout = 300.0;
  int64_t max_tokens = 256;
  int64_t max_n = 8;
  std::vector<std::string> tools;

  template <class V>
  void fields(V& v) {
    v("host", host, "Address `gptforge serve` binds to; loopback unless set (0.0.0.0 exposes it to the network)");
    v("port", port, "TCP port (0 = any free port, printed at start)", Range{0, 65535});
    v("model_name", model_name, "Model id in the API (empty: the checkpoint directory's name)");
    v("api_key", api_key, "When set, requests need `Authorization: Bearer KEY` (401 otherwise)");
    v("max_batch", max_batch, "Sequences decoded together in one batched forward (KV-cache slots)", Range{1, 1024});
    v("queue_size", queue_size, "Requests that may wait for a slot; more are refused with 429", Range{0, 1e6});
    v("request_timeout", request_timeout, "Seconds a request may wait and run before it ends (finish_reason \"timeout\")",
      Range{0.001, 1e6});
    v("max_tokens", max_tokens, "Tokens generated when a request gives no max_tokens", Range{1, 1e7});
    v("max_n", max_n, "Largest `n` (choices per request) accepted", Range{1, 1024});
    v("tools", tools,
      "Tools the model may call in every request: calc (the calculator, generate/tool_calls.h); none when empty",
      ItemChoices{{"calc"}});
  }
};

}  // namespace gptforge
