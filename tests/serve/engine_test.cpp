#include "serve/engine.h"

#include <gtest/gtest.h>

#include <thread>

#include "generate/generate_test_helpers.h"
#include "generate/tool_test_helpers.h"
#include "tokenizer/tiny_corpus.h"
#include "util/errors.h"

namespace engine_test {

using namespace gptforge;
using gptforge::testing::random_gpt;

namespace {

Tokenizer tiny_tok() { return Tokenizer::load(gptforge::testing::tiny_tokenizer()); }

// What one choice of a job produced.
struct Output {
  std::vector<int32_t> ids;  // Token events' ids
  std::string text;
  std::string finish_reason;
};

std::vector<Output> run_to_end(JobState& job) {
  std::vector<Output> out(static_cast<size_t>(job.n()));
  std::vector<EngineEvent> events;
  while (job.take(events, std::chrono::milliseconds(200))) {
    for (auto& e : events) {
      Output& o = out[static_cast<size_t>(e.choice)];
      if (e.kind == EngineEvent::Kind::Token) o.ids.push_back(e.token.id);
      if (e.kind == EngineEvent::Kind::Finished) o.finish_reason = e.finish_reason;
      o.text += e.text;
    }
    events.clear();
  }
  return out;
}

GenerationOptions greedy(int64_t max_tokens) {
  GenerationOptions o;
  o.temperature = 0;
  o.max_new_tokens = max_tokens;
  o.stop_at_eos = false;  // a random model: run to max tokens, through window slides
  return o;
}

// Prompts of different lengths (1 to the whole context of 16).
std::vector<std::vector<int32_t>> prompts() {
  return {{40}, {12, 99, 7, 250}, {5, 6, 7, 8, 9, 10, 11, 12, 13}, {300, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
          {77, 78}};
}

}  // namespace

TEST(BatchEngine, GreedyOutputIsTheSameAloneAndBatched) {
  // Five prompts of 1..16 tokens, 30 greedy tokens each (a context of 16: every one slides its
  // window at least once). The reference is generate_detailed (the sampler's Decoder) one prompt at
  // a time; the engine runs them alone, all five in one batch, and two slots at a time (the others
  // join as the first ones leave), with different lengths per job so that they leave at different
  // steps.
  GPT model = random_gpt(400, "learned", 31);
  Tokenizer tok = tiny_tok();
  const auto ps = prompts();
  std::vector<Generation> expected;
  for (size_t i = 0; i < ps.size(); ++i) {
    expected.push_back(generate_detailed(model, ps[i], greedy(20 + 3 * static_cast<int64_t>(i)), &tok)[0]);
  }
  for (int64_t max_batch : {1, 5, 2}) {
    BatchEngine engine(model, tok, max_batch, 16, /*start=*/false);
    std::vector<std::shared_ptr<JobState>> jobs;
    for (size_t i = 0; i < ps.size(); ++i) {
      EngineJob job;
      job.prompt = ps[i];
      job.opts = greedy(20 + 3 * static_cast<int64_t>(i));
      jobs.push_back(engine.submit(job));
    }
    engine.start();
    for (size_t i = 0; i < ps.size(); ++i) {
      auto out = run_to_end(*jobs[i]);
      EXPECT_EQ(out[0].ids, expected[i].ids) << "prompt " << i << ", max_batch " << max_batch;
      EXPECT_EQ(out[0].finish_reason, "length");
      EXPECT_EQ(out[0].text, expected[i].text);
    }
    const EngineStats s = engine.stats();
    EXPECT_EQ(s.peak_batch, max_batch);  // they did run together
    EXPECT_EQ(s.completed, 5);
    EXPECT_GT(s.slides, 0);
  }
}

TEST(BatchEngine, GreedyMatchesForEveryPositionType) {
  Tokenizer tok = tiny_tok();
  for (const char* position : {"sinusoidal", "rope", "none"}) {
    GPT model = random_gpt(400, position, 32);
    const auto ps = prompts();
    BatchEngine engine(model, tok, 4, 16, /*start=*/false);
    std::vector<std::shared_ptr<JobState>> jobs;
    for (const auto& p : ps) {
      EngineJob job;
      job.prompt = p;
      job.opts = greedy(25);
      jobs.push_back(engine.submit(job));
    }
    engine.start();
    for (size_t i = 0; i < ps.size(); ++i) {
      EXPECT_EQ(run_to_end(*jobs[i])[0].ids, generate_detailed(model, ps[i], greedy(25), &tok)[0].ids)
          << position << " prompt " << i;
    }
  }
}

TEST(BatchEngine, SampledChoicesFollowTheSamplersDraws) {
  // A sampled job of n = 1 draws what generate_detailed draws for the same seed; choice i of n
  // draws what a job of seed + i draws; stop strings cut the text as in the sampler.
  GPT model = random_gpt(400, "rope", 33);
  Tokenizer tok = tiny_tok();
  GenerationOptions o;
  o.temperature = 0.9;
  o.top_k = 50;
  o.top_p = 0.9;
  o.repetition_penalty = 1.3;
  o.max_new_tokens = 24;
  o.seed = 1234;
  const std::vector<int32_t> prompt = {12, 99, 7};
  BatchEngine engine(model, tok, 4, 4, /*start=*/false);
  EngineJob one;
  one.prompt = prompt;
  one.opts = o;
  auto a = engine.submit(one);
  EngineJob three = one;
  three.n = 3;
  auto b = engine.submit(three);
  engine.start();
  auto out_a = run_to_end(*a), out_b = run_to_end(*b);
  for (int64_t c = 0; c < 3; ++c) {
    GenerationOptions oc = o;
    oc.seed = o.seed + static_cast<uint64_t>(c);
    Generation g = generate_detailed(model, prompt, oc, &tok)[0];
    EXPECT_EQ(out_b[static_cast<size_t>(c)].ids, g.ids) << "choice " << c;
    EXPECT_EQ(out_b[static_cast<size_t>(c)].text, g.text);
    if (c == 0) EXPECT_EQ(out_a[0].ids, g.ids);
  }
  EXPECT_EQ(b->completion_tokens(), static_cast<int64_t>(out_b[0].ids.size() + out_b[1].ids.size() + out_b[2].ids.size()) +
                                        (out_b[0].finish_reason == "stop") + (out_b[1].finish_reason == "stop") +
                                        (out_b[2].finish_reason == "stop"));
}

TEST(BatchEngine, QueueLimitCancellationAndDeadline) {
  GPT model = random_gpt(400, "learned", 34);
  Tokenizer tok = tiny_tok();
  BatchEngine engine(model, tok, 1, 1);
  EngineJob job;
  job.prompt = {1, 2, 3};
  job.opts = greedy(100000);
  auto running = engine.submit(job);  // takes the slot
  for (int i = 0; i < 1000 && engine.stats().running == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_EQ(engine.stats().running, 1);
  auto waiting = engine.submit(job);  // one waits: the queue is full now
  EXPECT_THROW(engine.submit(job), QueueFull);
  EngineJob two = job;
  two.n = 2;
  EXPECT_THROW(engine.submit(two), RunError);  // more choices than slots
  EngineJob long_prompt = job;
  long_prompt.prompt.assign(17, 5);
  EXPECT_THROW(engine.submit(long_prompt), RunError);  // over the context of 16

  // The first would run for 100000 tokens: its client leaves, which frees the slot for the second;
  // that one's client leaves too; then a job whose deadline has passed ends before its first step.
  running->cancel();
  auto out = run_to_end(*running);
  EXPECT_EQ(out[0].finish_reason, "cancelled");
  EXPECT_LT(out[0].ids.size(), 100000u);
  waiting->cancel();
  EXPECT_EQ(run_to_end(*waiting)[0].finish_reason, "cancelled");
  EngineJob late = job;
  late.deadline = Clock::now();
  auto timed = engine.submit(late);
  auto late_out = run_to_end(*timed);
  EXPECT_EQ(late_out[0].finish_reason, "timeout");
  EXPECT_TRUE(late_out[0].ids.empty());
  const EngineStats s = engine.stats();
  EXPECT_EQ(s.cancelled, 2);
  EXPECT_EQ(s.timed_out, 1);
  EXPECT_EQ(s.running, 0);
  EXPECT_EQ(s.waiting, 0);
}

// serve.tools: a choice whose token closes a tool call gets the result forced into its slot and goes
// on in the batch; its text is the sampler's (generate_detailed with the same tools), alone and beside
// other jobs that slide their windows meanwhile.
TEST(BatchEngine, ToolCallsGiveTheSamplersReplyAloneAndBatched) {
  Tokenizer tok = tiny_tok();
  const std::vector<ChatMessage> convo = {
      {"user", "what is 12 times 34"}, {"assistant", "", "12 * 34"}, {"tool", "408"}, {"assistant", "408"}};
  GPT model = gptforge::testing::memorize(tok, render_chat(tok, convo, false));
  const std::vector<int32_t> prompt = render_chat(tok, {convo[0]}, true).ids;
  GenerationOptions o = greedy(30);
  o.stop_at_eos = true;
  o.stop_ids = {kEndId};
  o.tools = {"calc"};
  const Generation want = generate_detailed(model, prompt, o, &tok)[0];
  ASSERT_EQ(want.tool_calls.size(), 1u);
  ASSERT_EQ(want.answer(), "408");
  for (int64_t others : {0, 3}) {
    BatchEngine engine(model, tok, 4, 16, /*start=*/false);
    EngineJob job;
    job.prompt = prompt;
    job.opts = o;
    auto tool_job = engine.submit(job);
    std::vector<std::shared_ptr<JobState>> rest;
    for (int64_t i = 0; i < others; ++i) {
      EngineJob other;
      other.prompt = {static_cast<int32_t>(40 + i), 41, 42};
      other.opts = greedy(70);  // past the context of 64: these slide while the tool job runs
      rest.push_back(engine.submit(other));
    }
    engine.start();
    auto out = run_to_end(*tool_job);
    EXPECT_EQ(out[0].text, want.text) << others << " other jobs";
    EXPECT_EQ(out[0].finish_reason, "stop");
    // The forced result is not sampled: the Token events are the sampled ids only.
    EXPECT_EQ(out[0].ids.size(), want.ids.size() - want.tool_calls.size() * (tok.encode("408").size() + 2));
    for (auto& r : rest) EXPECT_EQ(run_to_end(*r)[0].finish_reason, "length");
  }
}

}  // namespace engine_test
