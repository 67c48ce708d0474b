// Tool calls while decoding (generate/tool_calls.h): the watcher that runs the calculator, the
// decoder's forced tokens, the sampler's tool loop on a model that learned to call, and the pieces
// around it (text with markers, chat turns, the arithmetic task, the probe's origins).
#include "generate/tool_calls.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "data/instruct.h"
#include "data/task_suite.h"
#include "generate/calculator.h"
#include "generate/chat.h"
#include "generate/decoder.h"
#include "generate/probe_report.h"
#include "generate/sampler.h"
#include "generate/stop_strings.h"
#include "generate_test_helpers.h"
#include "tool_test_helpers.h"
#include "tokenizer/tiny_corpus.h"
#include "util/errors.h"

namespace tool_calls_test {

using namespace gptforge;
using gptforge::testing::memorize;
using gptforge::testing::random_gpt;

namespace {

Tokenizer tiny_tok() { return Tokenizer::load(gptforge::testing::tiny_tokenizer()); }

std::vector<int32_t> concat(std::vector<int32_t> a, const std::vector<int32_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// <|tool_result|> encode(text) <|tool_end|>: what the decoder forces after a call.
std::vector<int32_t> result_ids(const Tokenizer& tok, const std::string& text) {
  return concat(concat({kToolResultId}, tok.encode(text)), {kToolEndId});
}

// The logits of the last position of a plain forward over `ids`.
torch::Tensor last_logits(GPT& model, const std::vector<int32_t>& ids) {
  torch::NoGradGuard no_grad;
  auto idx = torch::tensor(std::vector<int64_t>(ids.begin(), ids.end()), torch::kLong).unsqueeze(0);
  auto out = model->forward(idx);
  return out.select(1, out.size(1) - 1).to(torch::kFloat);
}

}  // namespace

TEST(ToolCalls, WatcherRunsTheCalculatorWhenACallCloses) {
  Tokenizer tok = tiny_tok();
  ASSERT_TRUE(tok.has_tool_tokens());
  ToolCallWatcher w(tok);
  EXPECT_FALSE(w.push(kToolEndId));  // outside a call: nothing
  EXPECT_FALSE(w.push(kToolCallId));
  for (int32_t id : tok.encode("12 * 34")) EXPECT_FALSE(w.push(id));
  EXPECT_TRUE(w.in_call());
  auto forced = w.push(kToolEndId);
  ASSERT_TRUE(forced.has_value());
  EXPECT_EQ(*forced, result_ids(tok, "408"));
  ASSERT_EQ(w.calls().size(), 1u);
  EXPECT_EQ(w.calls()[0].expression, "12 * 34");
  EXPECT_EQ(w.calls()[0].result, "408");
  EXPECT_TRUE(w.calls()[0].ok);

  // A bad expression: the calculator's error is the result the model reads.
  w.push(kToolCallId);
  for (int32_t id : tok.encode("1 +")) w.push(id);
  forced = w.push(kToolEndId);
  ASSERT_TRUE(forced.has_value());
  ASSERT_EQ(w.calls().size(), 2u);
  EXPECT_FALSE(w.calls()[1].ok);
  EXPECT_EQ(w.calls()[1].result.rfind("error:", 0), 0u) << w.calls()[1].result;
  EXPECT_EQ(*forced, result_ids(tok, w.calls()[1].result));

  // A call that never ends is cut at kMaxCallTokens: the watcher closes it and answers with an error.
  w.push(kToolCallId);
  const int32_t digit = tok.encode("7")[0];
  for (size_t i = 0; i < ToolCallWatcher::kMaxCallTokens; ++i) EXPECT_FALSE(w.push(digit));
  forced = w.push(digit);
  ASSERT_TRUE(forced.has_value());
  EXPECT_EQ(forced->front(), kToolEndId);
  EXPECT_NE(w.calls().back().result.find("longer than"), std::string::npos);
  EXPECT_FALSE(w.in_call());
}

TEST(ToolCalls, UnknownToolsAndBeamSearchAreConfigErrorsNamingTheKey) {
  EXPECT_EQ(parse_tools({"calc"}).size(), 1u);
  GenerationOptions o;
  o.tools = {"shell"};
  try {
    o.validate();
    ADD_FAILURE() << "no error for an unknown tool";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("sample.tools"), std::string::npos) << e.what();
  }
  o.tools = {"calc"};
  o.beam_width = 2;
  try {
    o.validate();
    ADD_FAILURE() << "no error for tools with beam search";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("sample.tools"), std::string::npos) << e.what();
  }
}

TEST(ToolCalls, MarkersShowInTheTextAndTheAnswerIsWhatFollowsTheLastResult) {
  Tokenizer tok = tiny_tok();
  TokenStreamer shown(tok, true), hidden(tok);
  EXPECT_EQ(shown.push(kToolCallId), "<|tool_call|>");
  EXPECT_EQ(shown.push(kEndId), "");  // other specials stay hidden
  EXPECT_EQ(hidden.push(kToolCallId), "");

  const std::string text = "so <|tool_call|>1 + 1<|tool_end|><|tool_result|>2<|tool_end|>it is 2";
  EXPECT_EQ(text_after_tool_calls(text), "it is 2");
  EXPECT_EQ(text_after_tool_calls("plain"), "plain");
  std::vector<ChatMessage> m = reply_messages(text);
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m[0].role, "assistant");
  EXPECT_EQ(m[0].content, "so ");
  EXPECT_EQ(m[0].tool_call, "1 + 1");
  EXPECT_EQ(m[1].role, "tool");
  EXPECT_EQ(m[1].content, "2");
  EXPECT_EQ(m[2].content, "it is 2");
  EXPECT_EQ(reply_messages("hello").size(), 1u);
  EXPECT_TRUE(reply_messages("<|tool_call|>1 + 1").empty());                                   // open call
  EXPECT_TRUE(reply_messages("<|tool_call|>1<|tool_end|><|tool_result|>1<|tool_end|>").empty());  // no answer
  EXPECT_TRUE(reply_messages("<|tool_call|>1<|tool_end|>x").empty());                           // no result
}

// Forced tokens go in with one forward and give the logits of a plain forward over the window, with
// the cache and without, also when they overflow the window.
TEST(ToolCalls, DecoderFeedGivesThePlainForwardsLogits) {
  GPT model = random_gpt(64);  // context 16
  for (bool cache : {true, false}) {
    SCOPED_TRACE(cache ? "cached" : "uncached");
    Decoder d(model, cache);
    std::vector<int32_t> window = {3, 17, 42};
    d.start(window, 1);
    d.step(torch::tensor({int64_t{5}}, torch::kLong), {5});
    window.push_back(5);
    const std::vector<int32_t> forced = {9, 10, 11, 12};
    torch::Tensor got = d.feed(forced);
    window = concat(window, forced);
    EXPECT_EQ(d.window_length(), 8);
    EXPECT_TRUE(torch::allclose(got, last_logits(model, window), 1e-5, 1e-5));
    // Past the context: the window restarts from its most recent block_size / 2 tokens.
    const std::vector<int32_t> more = {20, 21, 22, 23, 24, 25, 26, 27, 28, 29};
    got = d.feed(more);
    window = concat(window, more);
    const std::vector<int32_t> kept(window.end() - 10, window.end());  // max(16 / 2, 10 ids)
    EXPECT_EQ(d.window_length(), 10);
    EXPECT_EQ(d.refills(), 1);
    EXPECT_TRUE(torch::allclose(got, last_logits(model, kept), 1e-5, 1e-5));
  }
  Decoder two(model, true);
  two.start({1, 2}, 2);
  EXPECT_THROW(two.feed({3}), RunError);
}

// The whole loop on a model that learned one conversation: it writes the call, the decoder runs the
// calculator and forces the result (the model was never trained to predict it), and the model
// finishes with the answer. Cached and uncached decoding agree; without tools the result never comes.
TEST(ToolCalls, SamplerRunsTheCallAndForcesTheResultIntoTheReply) {
  Tokenizer tok = tiny_tok();
  const std::vector<ChatMessage> convo = {
      {"user", "what is 12 times 34"}, {"assistant", "", "12 * 34"}, {"tool", "408"}, {"assistant", "408"}};
  RenderedChat chat = render_chat(tok, convo, false);
  GPT model = memorize(tok, chat);
  const std::vector<int32_t> prompt = render_chat(tok, {convo[0]}, true).ids;
  const std::vector<int32_t> reply(chat.ids.begin() + static_cast<std::ptrdiff_t>(prompt.size()), chat.ids.end() - 1);

  GenerationOptions o;
  o.temperature = 0;
  o.max_new_tokens = 30;
  o.stop_ids = {kEndId};
  o.tools = {"calc"};
  std::vector<std::vector<int32_t>> forced;
  std::vector<int32_t> sampled;
  GenerationCallbacks cb;
  cb.on_forced = [&](int, const std::vector<int32_t>& ids) { forced.push_back(ids); };
  cb.on_token = [&](int, int32_t id) { sampled.push_back(id); };
  std::vector<Generation> g = generate_detailed(model, prompt, o, &tok, cb);
  ASSERT_EQ(g.size(), 1u);
  EXPECT_EQ(g[0].ids, reply);  // call, forced result, answer (the closing <|end|> is not returned)
  EXPECT_EQ(g[0].finish_reason, "stop_id");
  ASSERT_EQ(forced.size(), 1u);
  EXPECT_EQ(forced[0], result_ids(tok, "408"));
  EXPECT_EQ(sampled.size() + forced[0].size(), reply.size() + 1);  // the forced ids were not drawn
  ASSERT_EQ(g[0].tool_calls.size(), 1u);
  EXPECT_EQ(g[0].tool_calls[0].expression, "12 * 34");
  EXPECT_EQ(g[0].tool_calls[0].result, "408");
  EXPECT_EQ(g[0].text, "<|tool_call|>12 * 34<|tool_end|><|tool_result|>408<|tool_end|>408");
  EXPECT_EQ(g[0].answer(), "408");

  o.use_cache = false;
  EXPECT_EQ(generate_detailed(model, prompt, o, &tok)[0].ids, reply);

  // Without tools nothing forces the result: what follows the call is the model's own guess.
  o.use_cache = true;
  o.tools.clear();
  Generation alone = generate_detailed(model, prompt, o, &tok)[0];
  EXPECT_TRUE(alone.tool_calls.empty());
  EXPECT_EQ(std::search(alone.ids.begin(), alone.ids.end(), forced[0].begin(), forced[0].end()), alone.ids.end());
}

// With tools every sample decodes alone, sample i from a generator seeded seed + i: the samples of
// one call are those of one-sample calls seeded seed, seed + 1, ...
TEST(ToolCalls, SamplesWithToolsAreOneSampleCallsSeededInTurn) {
  Tokenizer tok = tiny_tok();
  GPT model = random_gpt(tok.vocab_size());
  GenerationOptions o;
  o.temperature = 1.0;
  o.max_new_tokens = 12;
  o.num_samples = 3;
  o.seed = 40;
  o.tools = {"calc"};
  const std::vector<int32_t> prompt = tok.encode("the fox");
  std::vector<Generation> all = generate_detailed(model, prompt, o, &tok);
  ASSERT_EQ(all.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    GenerationOptions one = o;
    one.num_samples = 1;
    one.seed = 40 + static_cast<uint64_t>(i);
    EXPECT_EQ(generate_detailed(model, prompt, one, &tok)[0].ids, all[static_cast<size_t>(i)].ids) << i;
  }
}

TEST(ToolCalls, AChatTurnWithACallIsRenderedAgainAsTheModelSawIt) {
  Tokenizer tok = tiny_tok();
  ChatSession s(tok, 200);
  s.add_turn("what is 1 plus 1", "<|tool_call|>1 + 1<|tool_end|><|tool_result|>2<|tool_end|>2");
  s.add_turn("and open", "<|tool_call|>1 + 1");  // a call left open: not kept
  ASSERT_EQ(s.turns(), 1);
  std::vector<ChatMessage> m = s.messages();
  ASSERT_EQ(m.size(), 4u);
  EXPECT_EQ(m[1].tool_call, "1 + 1");
  EXPECT_EQ(m[2].role, "tool");
  EXPECT_EQ(m[3].content, "2");
  std::vector<int32_t> prompt = s.prompt_for("next", 10);
  std::vector<int32_t> want = render_chat(tok, {m[0], m[1], m[2], m[3], {"user", "next"}}, true).ids;
  EXPECT_EQ(prompt, want);
  EXPECT_NE(std::find(prompt.begin(), prompt.end(), kToolResultId), prompt.end());
}

TEST(ToolCalls, TheArithmeticTaskCallsTheCalculatorForItsAnswer) {
  TaskSuiteOptions opts;
  opts.train_per_task = 200;
  opts.test_per_task = 50;
  opts.only = {"arith"};
  TaskSuite suite = make_task_suite(opts);
  EXPECT_EQ(suite.train.size(), 400u);  // weight 2
  EXPECT_EQ(suite.test.size(), 50u);
  std::set<std::string> test_prompts;
  for (const auto& ex : suite.test) test_prompts.insert(ex.messages[0].content);
  for (const auto* part : {&suite.train, &suite.test}) {
    for (const auto& ex : *part) {
      ASSERT_EQ(ex.task, "arith");
      ASSERT_EQ(ex.messages.size(), 4u);
      EXPECT_EQ(ex.messages[1].role, "assistant");
      const CalculatorResult r = calculate(ex.messages[1].tool_call);
      ASSERT_TRUE(r.ok) << ex.messages[1].tool_call;
      EXPECT_EQ(ex.messages[2].role, "tool");
      EXPECT_EQ(ex.messages[2].content, r.text);
      EXPECT_EQ(expected_answer(ex), r.text);
      // The prompt eval gives the model is the question alone: the call and its result are the reply's.
      ASSERT_EQ(prompt_messages(ex).size(), 1u);
      EXPECT_EQ(prompt_messages(ex)[0].role, "user");
    }
  }
  // Training instances never repeat a test instance, whatever the phrasing: compare the expression.
  std::set<std::string> test_calls;
  for (const auto& ex : suite.test) test_calls.insert(ex.messages[1].tool_call);
  for (const auto& ex : suite.train) EXPECT_EQ(test_calls.count(ex.messages[1].tool_call), 0u) << ex.messages[1].tool_call;
  opts.only = {"arithmetic"};
  EXPECT_THROW(make_task_suite(opts), UsageError);
}

TEST(ToolCalls, TheProbeMarksForcedTokensApart) {
  GPT model = random_gpt();
  ProbeResult r = probe(model, {1, 2, 3, 4}, 2, nullptr);
  r.positions[2].origin = "model";
  r.positions[3].origin = "tool";
  const nlohmann::json j = probe_json(r);
  EXPECT_EQ(j["tokens"][0]["origin"], "prompt");
  EXPECT_EQ(j["tokens"][3]["origin"], "tool");
  EXPECT_NE(probe_html(r).find("<tr class=\"tool\""), std::string::npos);
  const std::string table = probe_table(r);
  EXPECT_NE(table.find("   3  tool "), std::string::npos) << table;
}

}  // namespace tool_calls_test
