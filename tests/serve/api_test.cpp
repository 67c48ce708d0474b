#include "serve/api.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "generate/generate_test_helpers.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tiny_corpus.h"

namespace api_test {

using namespace gptforge;
using gptforge::testing::random_gpt;
using nlohmann::json;

namespace {

// A server of a random model (context 16) on the tiny tokenizer, named "tiny".
struct Fixture {
  explicit Fixture(ServeConfig cfg = {}) : tok(Tokenizer::load(gptforge::testing::tiny_tokenizer())) {
    model = random_gpt(400, "learned", 41);
    api = std::make_unique<ApiServer>(ServedModel{model, tok, "tiny"}, cfg, 7);
  }
  Reply post(const std::string& path, const std::string& body, const std::string& auth = "") {
    return api->handle({"POST", path, body, auth});
  }
  json post_json(const std::string& path, const json& body, int expected_status = 200) {
    Reply r = post(path, body.dump());
    std::string text = read_body(r);
    EXPECT_EQ(r.status, expected_status) << text;
    return json::parse(text);
  }
  Tokenizer tok;
  GPT model{nullptr};
  std::unique_ptr<ApiServer> api;
};

// The data lines of a server-sent event stream, without "data: ".
std::vector<std::string> sse_data(const std::string& body) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < body.size()) {
    size_t end = body.find("\n\n", pos);
    EXPECT_NE(end, std::string::npos) << "unterminated event: " << body.substr(pos);
    if (end == std::string::npos) break;
    std::string event = body.substr(pos, end - pos);
    EXPECT_EQ(event.rfind("data: ", 0), 0u) << event;
    out.push_back(event.substr(6));
    pos = end + 2;
  }
  return out;
}

GenerationOptions greedy(int64_t n) {
  GenerationOptions o;
  o.temperature = 0;
  o.max_new_tokens = n;
  return o;
}

}  // namespace

TEST(ServeApi, CompletionIsTheSamplersGreedyTextWithUsage) {
  Fixture f;
  json r = f.post_json("/v1/completions", {{"model", "tiny"}, {"prompt", "the quick"}, {"max_tokens", 12},
                                           {"temperature", 0}});
  Generation g = generate_detailed(f.model, f.tok.encode("the quick"), greedy(12), &f.tok)[0];
  EXPECT_EQ(r["object"], "text_completion");
  EXPECT_EQ(r["model"], "tiny");
  ASSERT_EQ(r["choices"].size(), 1u);
  EXPECT_EQ(r["choices"][0]["text"], g.text);
  EXPECT_EQ(r["choices"][0]["finish_reason"], g.finish_reason == "length" ? "length" : "stop");
  const int64_t prompt_tokens = static_cast<int64_t>(f.tok.encode("the quick").size());
  EXPECT_EQ(r["usage"]["prompt_tokens"], prompt_tokens);
  EXPECT_EQ(r["usage"]["completion_tokens"], static_cast<int64_t>(g.ids.size()) + (g.finish_reason == "length" ? 0 : 1));
  EXPECT_EQ(r["usage"]["total_tokens"], r["usage"]["prompt_tokens"].get<int64_t>() + r["usage"]["completion_tokens"].get<int64_t>());
}

TEST(ServeApi, StreamingSendsChunksWhoseTextAddsUpThenUsageThenDone) {
  Fixture f;
  json body = {{"prompt", "the quick"}, {"max_tokens", 12}, {"temperature", 0}, {"stream", true}, {"logprobs", 3}};
  Reply r = f.post("/v1/completions", body.dump());
  EXPECT_EQ(r.content_type, "text/event-stream");
  auto events = sse_data(read_body(r));
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events.back(), "[DONE]");
  json usage_chunk = json::parse(events[events.size() - 2]);
  EXPECT_TRUE(usage_chunk["choices"].empty());
  std::string text;
  int64_t with_logprobs = 0;
  std::string finish;
  for (size_t i = 0; i + 2 < events.size(); ++i) {
    json c = json::parse(events[i]);
    EXPECT_EQ(c["object"], "text_completion");
    text += c["choices"][0]["text"].get<std::string>();
    if (!c["choices"][0]["logprobs"].is_null()) {
      ++with_logprobs;
      const json& lp = c["choices"][0]["logprobs"];
      // The legacy format keys alternatives by their text: tokens of one text (byte tokens) share a key.
      EXPECT_GE(lp["top_logprobs"][0].size(), 1u);
      EXPECT_LE(lp["top_logprobs"][0].size(), 3u);
      EXPECT_LE(lp["token_logprobs"][0].get<double>(), 0.0);
    }
    if (!c["choices"][0]["finish_reason"].is_null()) finish = c["choices"][0]["finish_reason"];
  }
  json whole = f.post_json("/v1/completions", {{"prompt", "the quick"}, {"max_tokens", 12}, {"temperature", 0}});
  EXPECT_EQ(text, whole["choices"][0]["text"].get<std::string>());
  EXPECT_EQ(finish, whole["choices"][0]["finish_reason"].get<std::string>());
  EXPECT_EQ(usage_chunk["usage"], whole["usage"]);
  // One logprobs entry per generated token (the end token has none).
  const int64_t completion = whole["usage"]["completion_tokens"];
  EXPECT_EQ(with_logprobs, finish == "length" ? completion : completion - 1);
}

TEST(ServeApi, ChatUsesTheTemplateAndStreamsDeltas) {
  Fixture f;
  json messages = json::array({{{"role", "system"}, {"content", "be brief"}}, {{"role", "user"}, {"content", "the fox"}}});
  json r = f.post_json("/v1/chat/completions", {{"messages", messages}, {"max_tokens", 10}, {"temperature", 0},
                                                {"logprobs", true}, {"top_logprobs", 2}});
  std::vector<ChatMessage> m = {{"system", "be brief"}, {"user", "the fox"}};
  GenerationOptions o = greedy(10);
  o.stop_ids.push_back(f.tok.special_id(Special::End));
  Generation g = generate_detailed(f.model, render_chat(f.tok, m, true).ids, o, &f.tok)[0];
  EXPECT_EQ(r["object"], "chat.completion");
  EXPECT_EQ(r["choices"][0]["message"]["role"], "assistant");
  EXPECT_EQ(r["choices"][0]["message"]["content"], g.text);
  EXPECT_EQ(r["usage"]["prompt_tokens"], static_cast<int64_t>(render_chat(f.tok, m, true).ids.size()));
  const json& content = r["choices"][0]["logprobs"]["content"];
  EXPECT_EQ(content.size(), g.ids.size());
  for (size_t i = 0; i < content.size(); ++i) {
    EXPECT_EQ(content[i]["top_logprobs"].size(), 2u);
    // Greedy: the chosen token is the most likely one.
    EXPECT_DOUBLE_EQ(content[i]["logprob"].get<double>(), content[i]["top_logprobs"][0]["logprob"].get<double>());
  }

  Reply s = f.post("/v1/chat/completions",
                   json{{"messages", messages}, {"max_tokens", 10}, {"temperature", 0}, {"stream", true}}.dump());
  auto events = sse_data(read_body(s));
  ASSERT_GE(events.size(), 3u);
  json first = json::parse(events[0]);
  EXPECT_EQ(first["object"], "chat.completion.chunk");
  EXPECT_EQ(first["choices"][0]["delta"]["role"], "assistant");
  std::string text;
  for (size_t i = 0; i + 2 < events.size(); ++i) {
    const json d = json::parse(events[i])["choices"][0]["delta"];
    if (d.contains("content")) text += d["content"].get<std::string>();
  }
  EXPECT_EQ(text, g.text);
}

TEST(ServeApi, SeveralChoicesAndStopStrings) {
  Fixture f;
  json r = f.post_json("/v1/completions", {{"prompt", "the"}, {"max_tokens", 8}, {"n", 3}, {"seed", 5},
                                           {"temperature", 1.0}});
  ASSERT_EQ(r["choices"].size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(r["choices"][i]["index"], i);
  // A stop string cuts the greedy text right before it.
  json plain = f.post_json("/v1/completions", {{"prompt", "the quick"}, {"max_tokens", 16}, {"temperature", 0}});
  const std::string text = plain["choices"][0]["text"];
  // The stop string: the first ASCII character that does not occur before it (not the first one).
  std::string stop;
  for (size_t i = 1; i < text.size() && stop.empty(); ++i) {
    if ((text[i] & 0x80) == 0 && text.find(text[i]) == i) stop = std::string(1, text[i]);
  }
  ASSERT_FALSE(stop.empty()) << text;
  json cut = f.post_json("/v1/completions", {{"prompt", "the quick"}, {"max_tokens", 16}, {"temperature", 0},
                                             {"stop", json::array({stop})}});
  EXPECT_EQ(cut["choices"][0]["text"], text.substr(0, text.find(stop)));
  EXPECT_EQ(cut["choices"][0]["finish_reason"], "stop");
}

TEST(ServeApi, BadInputIsA400NamingTheFieldAndTheServerGoesOn) {
  Fixture f;
  struct Case {
    std::string path, body, param, code;
  };
  const std::string c = "/v1/completions", chat = "/v1/chat/completions";
  const std::vector<Case> cases = {
      {c, "{\"prompt\": \"the\", ", "", "invalid_json"},
      {c, "[1, 2]", "", "invalid_json"},
      {c, R"({"max_tokens": 4})", "prompt", ""},
      {c, R"({"prompt": "the", "temperature": "hot"})", "temperature", ""},
      {c, R"({"prompt": "the", "temperature": 2.5})", "temperature", ""},
      {c, R"({"prompt": "the", "top_p": 0})", "top_p", ""},
      {c, R"({"prompt": "the", "top_k": 1.5})", "top_k", ""},
      {c, R"({"prompt": "the", "max_tokens": 0})", "max_tokens", ""},
      {c, R"({"prompt": "the", "n": 100})", "n", ""},
      {c, R"({"prompt": "the", "stop": [""]})", "stop", ""},
      {c, R"({"prompt": "the", "seed": -1})", "seed", ""},
      {c, R"({"prompt": "the", "logprobs": 50})", "logprobs", ""},
      {c, R"({"prompt": "the", "stream": "yes"})", "stream", ""},
      {c, R"({"prompt": [1, 2, 99999]})", "prompt", ""},
      {c, R"({"prompt": "the", "model": "gpt-4"})", "model", "model_not_found"},
      {c, R"({"prompt": "the", "temprature": 1})", "temprature", "unknown_field"},
      {c, R"({"prompt": [5,5,5,5,5,5,5,5,5,5,5,5,5,5,5,5,5]})", "prompt", "context_length_exceeded"},
      {chat, R"({"messages": []})", "messages", ""},
      {chat, R"({"messages": [{"role": "robot", "content": "hi"}]})", "messages[0].role", ""},
      {chat, R"({"messages": [{"role": "user", "content": 5}]})", "messages[0].content", ""},
      {chat, R"({"messages": [{"role": "user", "content": "hi"}], "top_logprobs": 2})", "top_logprobs", ""},
  };
  for (const auto& k : cases) {
    Reply r = f.post(k.path, k.body);
    EXPECT_EQ(r.status, 400) << k.body;
    json e = json::parse(r.body);
    ASSERT_TRUE(e.contains("error")) << r.body;
    EXPECT_EQ(e["error"]["type"], "invalid_request_error");
    EXPECT_FALSE(e["error"]["message"].get<std::string>().empty());
    EXPECT_EQ(e["error"]["param"], k.param.empty() ? json(nullptr) : json(k.param)) << k.body;
    if (!k.code.empty()) EXPECT_EQ(e["error"]["code"], k.code) << k.body;
  }
  // A prompt of exactly the context is fine, and the server still answers.
  json ok = f.post_json(c, {{"prompt", std::vector<int>(16, 5)}, {"max_tokens", 3}, {"temperature", 0}});
  EXPECT_EQ(ok["usage"]["prompt_tokens"], 16);
}

TEST(ServeApi, ApiKeyModelsHealthTokenizeAndRoutes) {
  ServeConfig cfg;
  cfg.api_key = "sekrit";
  Fixture f(cfg);
  const std::string body = R"({"prompt": "the", "max_tokens": 2})";
  EXPECT_EQ(f.post("/v1/completions", body).status, 401);
  EXPECT_EQ(f.post("/v1/completions", body, "Bearer wrong").status, 401);
  Reply ok = f.post("/v1/completions", body, "Bearer sekrit");
  EXPECT_EQ(ok.status, 200);
  read_body(ok);
  EXPECT_EQ(json::parse(f.post("/v1/completions", body).body)["error"]["type"], "authentication_error");

  Reply models = f.api->handle({"GET", "/v1/models", "", "Bearer sekrit"});
  json m = json::parse(models.body);
  EXPECT_EQ(m["data"][0]["id"], "tiny");
  EXPECT_EQ(m["data"][0]["context_length"], 16);
  // /health and the page need no key.
  json h = json::parse(f.api->handle({"GET", "/health", "", ""}).body);
  EXPECT_EQ(h["status"], "ok");
  EXPECT_EQ(h["completed"], 1);
  Reply page = f.api->handle({"GET", "/", "", ""});
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("/v1/chat/completions"), std::string::npos);
  EXPECT_EQ(page.body.find("http://"), std::string::npos);  // nothing fetched from elsewhere
  EXPECT_EQ(page.body.find("https://"), std::string::npos);

  json t = json::parse(f.post("/tokenize", R"({"content": "the quick fox"})", "Bearer sekrit").body);
  EXPECT_EQ(t["tokens"].get<std::vector<int32_t>>(), f.tok.encode("the quick fox"));
  json d = json::parse(f.post("/detokenize", json{{"tokens", t["tokens"]}}.dump(), "Bearer sekrit").body);
  EXPECT_EQ(d["content"], "the quick fox");
  EXPECT_EQ(f.post("/detokenize", R"({"tokens": "x"})", "Bearer sekrit").status, 400);

  EXPECT_EQ(f.api->handle({"GET", "/v2/nothing", "", "Bearer sekrit"}).status, 404);
  EXPECT_EQ(f.api->handle({"GET", "/v1/completions", "", "Bearer sekrit"}).status, 405);
}

TEST(ServeApi, AFullQueueIsA429) {
  ServeConfig cfg;
  cfg.max_batch = 1;
  cfg.queue_size = 0;
  Fixture f(cfg);
  // The engine has one slot and no queue: while one long request runs, the next is refused.
  Reply first = f.post("/v1/completions", R"({"prompt": "the", "max_tokens": 100000, "stream": true})");
  ASSERT_EQ(first.status, 200);
  Reply second = f.post("/v1/completions", R"({"prompt": "the", "max_tokens": 2})");
  EXPECT_EQ(second.status, 429);
  EXPECT_EQ(json::parse(second.body)["error"]["code"], "queue_full");
  first.stream->cancel();
  read_body(first);
  // The slot is free again.
  Reply third = f.post("/v1/completions", R"({"prompt": "the", "max_tokens": 2})");
  EXPECT_EQ(third.status, 200);
  read_body(third);
}

// serve.tools: a reply that called the calculator comes back with the markers shown; sent back as
// history, it renders as the calls and results it holds; markers that are not whole calls are a 400.
TEST(ServeApi, ToolRepliesRoundTripAsHistory) {
  ServeConfig cfg;
  cfg.tools = {"calc"};
  Fixture f(cfg);
  // A context that holds the conversation (the fixture's random model has 16 positions).
  ModelConfig mc = f.model->config();
  mc.block_size = 128;
  torch::manual_seed(5);
  f.model = GPT(mc);
  f.model->eval();
  f.api = std::make_unique<ApiServer>(ServedModel{f.model, f.tok, "tiny"}, cfg, 7);
  const std::string reply = "<|tool_call|>12 * 34<|tool_end|><|tool_result|>408<|tool_end|>408";
  json messages = json::array({{{"role", "user"}, {"content", "what is 12 times 34"}},
                               {{"role", "assistant"}, {"content", reply}},
                               {{"role", "user"}, {"content", "and 1 plus 1"}}});
  json r = f.post_json("/v1/chat/completions", {{"messages", messages}, {"max_tokens", 5}, {"temperature", 0}});
  const std::vector<ChatMessage> m = {{"user", "what is 12 times 34"}, {"assistant", "", "12 * 34"}, {"tool", "408"},
                                      {"assistant", "408"}, {"user", "and 1 plus 1"}};
  EXPECT_EQ(r["usage"]["prompt_tokens"], static_cast<int64_t>(render_chat(f.tok, m, true).ids.size()));
  GenerationOptions o = greedy(5);
  o.stop_ids.push_back(f.tok.special_id(Special::End));
  o.tools = {"calc"};
  EXPECT_EQ(r["choices"][0]["message"]["content"], generate_detailed(f.model, render_chat(f.tok, m, true).ids, o, &f.tok)[0].text);

  messages[1]["content"] = "<|tool_call|>12 * 34";
  json bad = f.post_json("/v1/chat/completions", {{"messages", messages}, {"max_tokens", 5}}, 400);
  EXPECT_EQ(bad["error"]["param"], "messages[1].content");
}

}  // namespace api_test
