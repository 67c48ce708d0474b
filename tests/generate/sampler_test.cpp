#include "generate/sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "generate/decoder.h"
#include "generate_test_helpers.h"
#include "tokenizer/tiny_corpus.h"
#include "util/errors.h"

namespace sampler_test {

using namespace gptforge;
using gptforge::testing::random_gpt;
using gptforge::testing::reference_greedy;

namespace {

GenerationOptions options(double temperature, int64_t tokens, uint64_t seed = 1) {
  GenerationOptions o;
  o.temperature = temperature;
  o.max_new_tokens = tokens;
  o.seed = seed;
  o.stop_at_eos = false;  // a random model's EOS would end samples at random lengths
  return o;
}

std::vector<Generation> run(GPT& model, const std::vector<int32_t>& prompt, const GenerationOptions& o,
                            const Tokenizer* tok = nullptr, GenerationStats* stats = nullptr) {
  return generate_detailed(model, prompt, o, tok, {}, stats);
}

// A ConfigError's message, or "" when `fn` throws none.
template <class F>
std::string config_error(F fn) {
  try {
    fn();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Sampler, GreedyMatchesArgmaxOfFullForwardForEveryPositionType) {
  for (const char* position : {"learned", "sinusoidal", "rope", "none"}) {
    GPT model = random_gpt(64, position);
    std::vector<int32_t> prompt = {3, 17, 42, 9};
    GenerationStats stats;
    auto out = run(model, prompt, options(0.0, 12), nullptr, &stats);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].ids, reference_greedy(model, prompt, 12)) << position;
    EXPECT_EQ(out[0].finish_reason, "length");
    EXPECT_EQ(stats.prompt_tokens, 4);
    EXPECT_EQ(stats.generated_tokens, 12);
    EXPECT_EQ(stats.steps, 11);  // the last token needs no forward
  }
}

TEST(Sampler, GenerationBeyondBlockSizeSlidesTheWindowAsRecomputationDoes) {
  // Context 16: 5 prompt + 60 new tokens slide the window several times. The cached decoder
  // re-prefills the last 8 tokens; a plain full-forward loop over the same windows must agree.
  for (const char* position : {"learned", "sinusoidal", "rope", "none"}) {
    GPT model = random_gpt(64, position, 3);
    std::vector<int32_t> prompt = {1, 2, 3, 4, 5};
    GenerationStats stats;
    auto cached = run(model, prompt, options(0.0, 60), nullptr, &stats);
    EXPECT_EQ(cached[0].ids, reference_greedy(model, prompt, 60)) << position;
    EXPECT_EQ(cached[0].ids.size(), 60u);
    // Windows: 16 tokens, then 8 + 8 new, ...: the first slide after 12 new tokens, then every 9.
    EXPECT_EQ(stats.refills, 6) << position;
    GenerationOptions no_cache = options(0.0, 60);
    no_cache.use_cache = false;
    EXPECT_EQ(run(model, prompt, no_cache)[0].ids, cached[0].ids) << position;
  }
  // A prompt longer than the context keeps its last block_size tokens.
  GPT model = random_gpt();
  std::vector<int32_t> long_prompt;
  for (int i = 0; i < 40; ++i) long_prompt.push_back((i * 7) % 64);
  std::vector<int32_t> tail(long_prompt.end() - 16, long_prompt.end());
  EXPECT_EQ(run(model, long_prompt, options(0.0, 20))[0].ids, run(model, tail, options(0.0, 20))[0].ids);
}

TEST(Sampler, TopKOneEqualsGreedy) {
  GPT model = random_gpt();
  std::vector<int32_t> prompt = {10, 11, 12};
  GenerationOptions top1 = options(1.3, 30, 5);
  top1.top_k = 1;
  EXPECT_EQ(run(model, prompt, top1)[0].ids, run(model, prompt, options(0.0, 30))[0].ids);
}

TEST(Sampler, CachedAndUncachedSamplingGiveTheSameTokensUnderTheSameSeed) {
  GPT model = random_gpt(64, "rope");
  std::vector<int32_t> prompt = {7, 8, 9};
  GenerationOptions o = options(1.0, 40, 123);
  o.num_samples = 3;
  o.top_p = 0.95;
  o.repetition_penalty = 1.3;
  o.no_repeat_ngram = 3;
  o.stop_ids = {5};  // samples end at different steps: finished rows leave the batch
  auto cached = run(model, prompt, o);
  o.use_cache = false;
  auto uncached = run(model, prompt, o);
  ASSERT_EQ(cached.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(cached[i].ids, uncached[i].ids) << "sample " << i;
    EXPECT_EQ(cached[i].finish_reason, uncached[i].finish_reason);
  }
}

TEST(Sampler, ManySamplesAreTheConcatenationOfBoundedBatchesSeededAsDocumented) {
  // num_samples beyond kMaxSampleRows: batches of at most kMaxSampleRows rows, batch b seeded with
  // sample_batch_seed(seed, b). Each batch is then exactly a call for its own count with that seed,
  // which a single batch of every row (other draws per step) would not give.
  GPT model = random_gpt(64, "rope");
  std::vector<int32_t> prompt = {7, 8, 9};
  GenerationOptions o = options(1.0, 6, 77);
  o.num_samples = 2 * kMaxSampleRows + 5;
  o.repetition_penalty = 1.2;
  o.stop_ids = {5};  // rows end at different steps
  std::vector<int> streamed;
  GenerationCallbacks callbacks;
  callbacks.on_token = [&](int sample, int32_t) { streamed.push_back(sample); };
  auto all = generate_detailed(model, prompt, o, nullptr, callbacks);
  ASSERT_EQ(static_cast<int64_t>(all.size()), o.num_samples);
  EXPECT_EQ(sample_batch_seed(77, 0), 77u);  // up to kMaxSampleRows samples: the seed itself
  std::set<uint64_t> seeds;
  int64_t compared = 0;
  for (int64_t b = 0; b * kMaxSampleRows < o.num_samples; ++b) {
    GenerationOptions one = o;
    one.num_samples = std::min(kMaxSampleRows, o.num_samples - b * kMaxSampleRows);
    one.seed = sample_batch_seed(77, b);
    seeds.insert(one.seed);
    auto part = run(model, prompt, one);
    for (int64_t i = 0; i < one.num_samples; ++i) {
      const Generation& g = all[static_cast<size_t>(b * kMaxSampleRows + i)];
      EXPECT_EQ(g.ids, part[static_cast<size_t>(i)].ids) << "batch " << b << " sample " << i;
      EXPECT_EQ(g.finish_reason, part[static_cast<size_t>(i)].finish_reason);
      ++compared;
    }
  }
  EXPECT_EQ(compared, o.num_samples);
  EXPECT_EQ(seeds.size(), 3u);  // every batch its own stream
  // The callbacks number samples across batches: 0..num_samples-1, batch after batch.
  ASSERT_FALSE(streamed.empty());
  EXPECT_EQ(*std::max_element(streamed.begin(), streamed.end()), o.num_samples - 1);
  EXPECT_TRUE(std::is_sorted(streamed.begin(), streamed.end(),
                             [](int a, int b) { return a / kMaxSampleRows < b / kMaxSampleRows; }));
  // generate_each hands out the same samples one at a time, in order.
  std::vector<int> order;
  int64_t same = 0;
  generate_each(model, prompt, o, nullptr, [&](int i, Generation&& g) {
    order.push_back(i);
    same += g.ids == all[static_cast<size_t>(i)].ids;
  });
  EXPECT_EQ(static_cast<int64_t>(order.size()), o.num_samples);
  EXPECT_TRUE(std::is_sorted(order.begin(), order.end()));
  EXPECT_EQ(same, o.num_samples);
}

TEST(Sampler, SameSeedGivesSameSamplesAndAnotherSeedOthers) {
  GPT model = random_gpt();
  std::vector<int32_t> prompt = {20, 21};
  GenerationOptions o = options(1.0, 30, 42);
  o.num_samples = 2;
  auto a = run(model, prompt, o), b = run(model, prompt, o);
  EXPECT_EQ(a[0].ids, b[0].ids);
  EXPECT_EQ(a[1].ids, b[1].ids);
  EXPECT_NE(a[0].ids, a[1].ids);  // the samples of one call differ from each other
  o.seed = 43;
  auto c = run(model, prompt, o);
  EXPECT_NE(a[0].ids, c[0].ids);
  // Sampling uses its own generator: the global one is untouched.
  torch::manual_seed(99);
  auto expected = torch::rand({4});
  torch::manual_seed(99);
  run(model, prompt, o);
  EXPECT_TRUE(torch::equal(torch::rand({4}), expected));
}

TEST(Sampler, EndIdsEndASampleAndAreNotReturned) {
  GPT model = random_gpt();
  std::vector<int32_t> prompt = {30, 31, 32};
  auto full = run(model, prompt, options(0.0, 20))[0].ids;
  GenerationOptions o = options(0.0, 20);
  o.stop_ids = {full[4]};
  std::vector<int32_t> seen;
  GenerationCallbacks cb;
  cb.on_token = [&](int sample, int32_t id) { seen.push_back(id); };
  auto out = generate_detailed(model, prompt, o, nullptr, cb);
  size_t first = std::find(full.begin(), full.end(), full[4]) - full.begin();
  EXPECT_EQ(out[0].ids, std::vector<int32_t>(full.begin(), full.begin() + first));
  EXPECT_EQ(out[0].finish_reason, "stop_id");
  EXPECT_EQ(out[0].stop_id, full[4]);
  EXPECT_EQ(seen.size(), first + 1);  // the end id is streamed too
  // EOS ends a sample when stop_at_eos (kEosId without a tokenizer).
  GenerationOptions eos = options(0.0, 20);
  eos.stop_at_eos = true;
  auto model_eos = random_gpt(64, "learned", 11);
  auto free_run = run(model_eos, prompt, options(0.0, 20))[0].ids;
  auto with_eos = run(model_eos, prompt, eos)[0];
  auto it = std::find(free_run.begin(), free_run.end(), kEosId);
  EXPECT_EQ(with_eos.ids, std::vector<int32_t>(free_run.begin(), it));
  EXPECT_EQ(with_eos.finish_reason, it == free_run.end() ? "length" : "eos");
}

TEST(Sampler, RestoresTrainingModeAndBuildsNoGraph) {
  GPT model = random_gpt();
  model->train();
  auto out = run(model, {1, 2, 3}, options(0.0, 5));
  EXPECT_TRUE(model->is_training());
  EXPECT_EQ(out[0].ids.size(), 5u);
}

TEST(Sampler, InvalidSettingsNameTheirKey) {
  GPT model = random_gpt();
  auto err = [&](auto change) {
    GenerationOptions o = options(1.0, 5);
    change(o);
    return config_error([&] { run(model, {1}, o); });
  };
  EXPECT_NE(err([](GenerationOptions& o) { o.temperature = -0.5; }).find("sample.temperature"), std::string::npos);
  EXPECT_NE(err([](GenerationOptions& o) { o.top_p = 0; }).find("sample.top_p"), std::string::npos);
  EXPECT_NE(err([](GenerationOptions& o) { o.top_p = 1.5; }).find("sample.top_p"), std::string::npos);
  EXPECT_NE(err([](GenerationOptions& o) { o.beam_width = 0; }).find("sample.beam_width"), std::string::npos);
  EXPECT_NE(err([](GenerationOptions& o) {
              o.beam_width = 2;
              o.num_samples = 3;
            }).find("sample.num_samples"),
            std::string::npos);
  EXPECT_NE(err([](GenerationOptions& o) { o.stop = {""}; }).find("sample.stop"), std::string::npos);
  EXPECT_NE(err([](GenerationOptions& o) { o.stop = {"x"}; }).find("tokenizer"), std::string::npos);
  EXPECT_THROW(run(model, {}, options(1.0, 5)), RunError);
  EXPECT_THROW(run(model, {64}, options(1.0, 5)), RunError);  // outside the vocabulary
}

TEST(Sampler, FromConfigMirrorsTheSampleSection) {
  SampleConfig s;
  s.temperature = 0.5;
  s.top_k = 7;
  s.top_p = 0.9;
  s.min_p = 0.05;
  s.repetition_penalty = 1.2;
  s.no_repeat_ngram = 3;
  s.beam_width = 4;
  s.length_penalty = 0.7;
  s.num_samples = 2;
  s.max_new_tokens = 33;
  s.stop = {"\n\n"};
  GenerationOptions o = GenerationOptions::from_config(s, 77);
  EXPECT_EQ(o.temperature, 0.5);
  EXPECT_EQ(o.top_k, 7);
  EXPECT_EQ(o.top_p, 0.9);
  EXPECT_EQ(o.min_p, 0.05);
  EXPECT_EQ(o.repetition_penalty, 1.2);
  EXPECT_EQ(o.no_repeat_ngram, 3);
  EXPECT_EQ(o.beam_width, 4);
  EXPECT_EQ(o.length_penalty, 0.7);
  EXPECT_EQ(o.num_samples, 2);
  EXPECT_EQ(o.max_new_tokens, 33);
  EXPECT_EQ(o.stop, s.stop);
  EXPECT_EQ(o.seed, 77u);
}

TEST(Sampler, StopStringTruncatesTheOutputAndIsNeverStreamed) {
  Tokenizer tok = Tokenizer::load(gptforge::testing::tiny_tokenizer());
  GPT model = random_gpt(tok.vocab_size(), "learned", 5);
  std::vector<int32_t> prompt = tok.encode("the quick fox");
  auto full = generate_detailed(model, prompt, options(0.0, 40), &tok)[0];
  // The stop string: the text of a generated ordinary (not byte, not special) token after the first few.
  std::string stop;
  for (size_t i = 4; i < full.ids.size() && stop.empty(); ++i) {
    if (!tok.is_byte(full.ids[i]) && !tok.is_special(full.ids[i])) stop = tok.token_bytes(full.ids[i]);
  }
  ASSERT_FALSE(stop.empty());
  const size_t cut = full.text.find(stop);
  ASSERT_NE(cut, std::string::npos);

  GenerationOptions o = options(0.0, 40);
  o.stop = {"never appears \x01", stop};
  std::string streamed;
  GenerationCallbacks cb;
  cb.on_text = [&](int, const std::string& t) { streamed += t; };
  auto out = generate_detailed(model, prompt, o, &tok, cb)[0];
  EXPECT_EQ(out.text, full.text.substr(0, cut));
  EXPECT_EQ(streamed, out.text);
  EXPECT_EQ(out.finish_reason, "stop_string");
  // The ids are the tokens wholly before the stop string.
  EXPECT_EQ(tok.decode(out.ids), full.text.substr(0, tok.decode(out.ids).size()));
  EXPECT_LE(tok.decode(out.ids).size(), cut);
  // Without stop strings the stream is the whole text.
  streamed.clear();
  generate_detailed(model, prompt, options(0.0, 40), &tok, cb);
  EXPECT_EQ(streamed, full.text);
}

TEST(Sampler, EncodePromptStartsAnEmptyPromptFromEos) {
  Tokenizer tok = Tokenizer::load(gptforge::testing::tiny_tokenizer());
  EXPECT_EQ(encode_prompt(tok, ""), std::vector<int32_t>{kEosId});
  EXPECT_EQ(encode_prompt(tok, "the fox"), tok.encode("the fox"));
}

TEST(Sampler, NumSamplesAreBatchedAndAllReturned) {
  GPT model = random_gpt();
  GenerationOptions o = options(0.9, 10, 3);
  o.num_samples = 4;
  GenerationStats stats;
  auto out = run(model, {1, 2}, o, nullptr, &stats);
  ASSERT_EQ(out.size(), 4u);
  for (const auto& g : out) EXPECT_EQ(g.ids.size(), 10u);
  EXPECT_EQ(stats.prompt_tokens, 2);  // the prompt runs once, not once per sample
  EXPECT_EQ(stats.generated_tokens, 40);
}

// seed_per_row: row i of a batch draws what a one-row call seeded seed + i draws. The draws are the
// same numbers; the logits agree to float rounding (a batch of rows may sum in another order than
// one row), so an id could differ only if a draw fell within rounding of a boundary of the
// cumulative distribution: the ids are checked equal, the log-probabilities to 1e-4.
TEST(Sampler, SeedPerRowBatchEqualsSeparateCalls) {
  GPT model = random_gpt(64, "rope");
  const std::vector<int32_t> prompt = {7, 8, 9};
  GenerationOptions o = options(1.0, 12, 500);
  o.top_p = 0.9;
  o.stop_ids = {5};  // rows end at different steps: the batch shrinks under the others
  o.seed_per_row = true;
  o.logprobs = true;
  o.num_samples = 5;
  auto batched = run(model, prompt, o);
  ASSERT_EQ(batched.size(), 5u);
  std::set<std::vector<int32_t>> distinct;
  size_t lengths_differ = 0;
  for (size_t i = 0; i < batched.size(); ++i) {
    GenerationOptions one = o;
    one.num_samples = 1;
    one.seed = o.seed + i;
    auto alone = run(model, prompt, one);
    EXPECT_EQ(batched[i].ids, alone[0].ids) << "sample " << i;
    EXPECT_EQ(batched[i].finish_reason, alone[0].finish_reason) << "sample " << i;
    EXPECT_NEAR(batched[i].logprob, alone[0].logprob, 1e-4) << "sample " << i;
    distinct.insert(batched[i].ids);
    lengths_differ += batched[i].ids.size() != batched[0].ids.size();
  }
  EXPECT_GT(distinct.size(), 1u);  // the rows do draw different samples
  EXPECT_GT(lengths_differ, 0u);   // and some ended early, so the batch did shrink
  // Without seed_per_row the batch shares one generator: its second row is not the one-row call's.
  o.seed_per_row = false;
  GenerationOptions one = o;
  one.num_samples = 1;
  one.seed = o.seed + 1;
  EXPECT_NE(run(model, prompt, o)[1].ids, run(model, prompt, one)[0].ids);
}

// With opts.logprobs a sample carries the total log-probability the model gives its tokens, the
// ending one included (no penalties: the model's own distribution, not the tempered one).
TEST(Sampler, LogprobsAreTheModelsLogProbabilityOfTheSample) {
  GPT model = random_gpt();
  const std::vector<int32_t> prompt = {3, 4, 5};
  GenerationOptions o = options(1.5, 10, 77);
  o.logprobs = true;
  o.num_samples = 3;
  o.stop_ids = {6};
  for (const auto& g : run(model, prompt, o)) {
    std::vector<int32_t> sampled = g.ids;
    if (g.finish_reason == "stop_id") sampled.push_back(g.stop_id);
    ASSERT_LE(prompt.size() + sampled.size(), 16u);  // within the window: one full forward scores it
    EXPECT_NEAR(g.logprob, gptforge::testing::sequence_logprob(model, prompt, sampled), 1e-4);
    EXPECT_LT(g.logprob, 0.0);
  }
  o.logprobs = false;
  EXPECT_EQ(run(model, prompt, o)[0].logprob, 0.0);
}

}  // namespace sampler_test
