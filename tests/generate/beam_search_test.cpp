#include "generate/beam_search.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <iomanip>

#include "generate_test_helpers.h"

namespace beam_search_test {

using namespace gptforge;
using gptforge::testing::random_gpt;
using gptforge::testing::sequence_logprob;

namespace {

GenerationOptions beam_options(int64_t width, int64_t tokens) {
  GenerationOptions o;
  o.temperature = 0.0;
  o.beam_width = width;
  o.num_samples = 1;
  o.max_new_tokens = tokens;
  o.stop_at_eos = false;
  return o;
}

std::vector<int32_t> greedy(GPT& model, const std::vector<int32_t>& prompt, GenerationOptions o) {
  o.beam_width = 1;
  o.temperature = 0.0;
  return generate_detailed(model, prompt, o, nullptr)[0].ids;
}

}  // namespace

TEST(BeamSearch, WidthOneEqualsGreedy) {
  for (uint64_t seed : {1, 2, 3}) {
    GPT model = random_gpt(64, "learned", seed);
    std::vector<int32_t> prompt = {static_cast<int32_t>(seed), 9, 27};
    GenerationOptions o = beam_options(1, 24);  // past the context of 16: the window slides
    auto beam = beam_search(model, prompt, o, nullptr);
    ASSERT_EQ(beam.size(), 1u);
    EXPECT_EQ(beam[0].ids, greedy(model, prompt, o)) << "seed " << seed;
    // With an end id the greedy path takes, both stop before it.
    auto free_run = greedy(model, prompt, o);
    o.stop_ids = {free_run[5]};
    EXPECT_EQ(beam_search(model, prompt, o, nullptr)[0].ids, greedy(model, prompt, o)) << "seed " << seed;
  }
}

TEST(BeamSearch, ABeamAsWideAsTheVocabularyFindsTheMostProbablePair) {
  // Width >= V keeps every first token, so over two tokens the search is exhaustive: it must find
  // the pair of highest log-probability, which is never below the greedy pair.
  for (uint64_t seed : {1, 2, 3}) {
    GPT model = random_gpt(16, "learned", seed);
    std::vector<int32_t> prompt = {static_cast<int32_t>(seed), 5};
    GenerationOptions o = beam_options(16, 2);
    auto beam = beam_search(model, prompt, o, nullptr);
    double best = -1e300;
    for (int32_t a = 0; a < 16; ++a) {
      for (int32_t b = 0; b < 16; ++b) best = std::max(best, sequence_logprob(model, prompt, {a, b}));
    }
    EXPECT_NEAR(beam[0].logprob, best, 1e-6) << "seed " << seed;
    EXPECT_NEAR(sequence_logprob(model, prompt, beam[0].ids), best, 1e-6);
    // beam[0].logprob comes from the cached decoding steps, the greedy pair's from a full forward:
    // the same pair differs by float rounding (~2e-7 either way), hence the slack of the lines above.
    const double greedy_lp = sequence_logprob(model, prompt, greedy(model, prompt, o));
    EXPECT_GE(beam[0].logprob, greedy_lp - 1e-6) << std::setprecision(12) << beam[0].logprob << " vs " << greedy_lp;
  }
}

TEST(BeamSearch, WiderBeamBeatsGreedyOnLogProbability) {
  // Beam search keeps the `width` best prefixes, so it can prune the greedy prefix and end below
  // greedy: it is not guaranteed per prompt (seed 7 below is such a case at width 4: -13.45 vs
  // -13.25), only typical. Over 20 random models it must win or tie nearly always and on average;
  // the log-probabilities are the model's own (a full forward over prompt + output).
  int below = 0;
  double beam_sum = 0, greedy_sum = 0;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    GPT model = random_gpt(64, seed % 2 ? "rope" : "learned", seed);
    std::vector<int32_t> prompt = {static_cast<int32_t>(seed + 10), 3};
    GenerationOptions o = beam_options(4, 10);  // prompt + 10 fits the context: exact log-probs
    o.num_samples = 4;
    auto beams = beam_search(model, prompt, o, nullptr);
    ASSERT_EQ(beams.size(), 4u);
    const double greedy_lp = sequence_logprob(model, prompt, greedy(model, prompt, o));
    const double best_lp = sequence_logprob(model, prompt, beams[0].ids);
    below += best_lp < greedy_lp - 1e-9;
    beam_sum += best_lp;
    greedy_sum += greedy_lp;
    for (size_t i = 0; i < beams.size(); ++i) {
      // The reported log-probability is the model's own; beams come best first.
      EXPECT_NEAR(beams[i].logprob, sequence_logprob(model, prompt, beams[i].ids), 1e-4);
      EXPECT_EQ(beams[i].ids.size(), 10u);
      if (i > 0) EXPECT_GE(beams[i - 1].score, beams[i].score);
    }
  }
  EXPECT_LE(below, 1);
  EXPECT_GT(beam_sum, greedy_sum);
}

TEST(BeamSearch, CachedAndUncachedAgreeAlsoPastTheContext) {
  GPT model = random_gpt(64, "sinusoidal", 9);
  GenerationOptions o = beam_options(3, 30);
  o.num_samples = 3;
  o.repetition_penalty = 1.5;
  auto cached = beam_search(model, {4, 5, 6}, o, nullptr);
  o.use_cache = false;
  auto uncached = beam_search(model, {4, 5, 6}, o, nullptr);
  ASSERT_EQ(cached.size(), uncached.size());
  for (size_t i = 0; i < cached.size(); ++i) {
    EXPECT_EQ(cached[i].ids, uncached[i].ids);
    EXPECT_NEAR(cached[i].score, uncached[i].score, 1e-6);
  }
}

TEST(BeamSearch, LengthPenaltyRanksFinishedHypothesesByNormalisedScore) {
  GPT model = random_gpt(64, "learned", 12);
  GenerationOptions o = beam_options(4, 12);
  o.num_samples = 4;
  o.stop_ids = {1, 2, 3, 4, 5, 6, 7, 8};  // several ends, so hypotheses of different lengths finish
  o.length_penalty = 1.0;
  auto beams = beam_search(model, {10, 11}, o, nullptr);
  ASSERT_FALSE(beams.empty());
  for (const auto& b : beams) {
    const size_t length = b.ids.size() + (b.finish_reason == "length" ? 0 : 1);
    EXPECT_NEAR(b.score, b.logprob / static_cast<double>(length), 1e-9);
  }
  for (size_t i = 1; i < beams.size(); ++i) EXPECT_GE(beams[i - 1].score, beams[i].score);
}

TEST(BeamSearch, GenerateDispatchesToBeamSearch) {
  GPT model = random_gpt();
  GenerationOptions o = beam_options(3, 8);
  o.num_samples = 2;
  auto via_generate = generate_detailed(model, {1, 2, 3}, o, nullptr);
  auto direct = beam_search(model, {1, 2, 3}, o, nullptr);
  ASSERT_EQ(via_generate.size(), 2u);
  EXPECT_EQ(via_generate[0].ids, direct[0].ids);
  EXPECT_EQ(via_generate[1].ids, direct[1].ids);
}

}  // namespace beam_search_test
