#include "generate/logits_processors.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace logits_processors_test {

using namespace gptforge;

namespace {

const double kInf = std::numeric_limits<double>::infinity();

torch::Tensor row(std::vector<double> v) { return torch::tensor(v, torch::kDouble).unsqueeze(0); }

std::vector<double> values(const torch::Tensor& t) {
  auto c = t.to(torch::kDouble).contiguous().view({-1});
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

}  // namespace

TEST(LogitsProcessors, TopKOneKeepsExactlyTheArgmax) {
  torch::manual_seed(1);
  auto logits = torch::randn({5, 50});
  auto kept = top_k_filter(logits, 1);
  EXPECT_TRUE(torch::equal(kept.argmax(-1), logits.argmax(-1)));
  EXPECT_TRUE(torch::equal(torch::isfinite(kept).sum(-1), torch::ones({5}, torch::kLong)));
  // k = 3 keeps the three largest with their values; k >= V keeps everything.
  auto three = top_k_filter(logits, 3);
  EXPECT_TRUE(torch::equal(torch::isfinite(three).sum(-1), torch::full({5}, 3, torch::kLong)));
  EXPECT_TRUE(torch::allclose(std::get<0>(three.topk(3)), std::get<0>(logits.topk(3))));
  EXPECT_TRUE(torch::equal(top_k_filter(logits, 50), logits));
}

TEST(LogitsProcessors, TopPKeepsTheSmallestSetReachingP) {
  // Probabilities 0.1, 0.5, 0.15, 0.25 (the order is shuffled on purpose).
  auto logits = row({std::log(0.1), std::log(0.5), std::log(0.15), std::log(0.25)});
  // Descending: 0.5, 0.25, 0.15, 0.1; cumulative 0.5, 0.75, 0.9, 1.0.
  auto keep = [&](double p) { return values(torch::isfinite(top_p_filter(logits, p)).to(torch::kDouble)); };
  EXPECT_EQ(keep(0.3), (std::vector<double>{0, 1, 0, 0}));   // 0.5 alone reaches 0.3
  EXPECT_EQ(keep(0.5), (std::vector<double>{0, 1, 0, 0}));   // 0.5 reaches 0.5 exactly
  EXPECT_EQ(keep(0.7), (std::vector<double>{0, 1, 0, 1}));   // 0.5 + 0.25
  EXPECT_EQ(keep(0.8), (std::vector<double>{0, 1, 1, 1}));   // needs 0.15 too
  EXPECT_EQ(keep(0.95), (std::vector<double>{1, 1, 1, 1}));
  EXPECT_EQ(keep(1.0), (std::vector<double>{1, 1, 1, 1}));
  // Kept logits are unchanged.
  auto out = values(top_p_filter(logits, 0.7));
  EXPECT_DOUBLE_EQ(out[1], std::log(0.5));
  EXPECT_DOUBLE_EQ(out[3], std::log(0.25));
}

TEST(LogitsProcessors, MinPMatchesHandComputation) {
  // Probabilities 0.6, 0.25, 0.1, 0.05: min_p 0.2 keeps p >= 0.12 -> tokens 0 and 1.
  auto logits = row({std::log(0.6), std::log(0.25), std::log(0.1), std::log(0.05)});
  auto out = values(min_p_filter(logits, 0.2));
  EXPECT_DOUBLE_EQ(out[0], std::log(0.6));
  EXPECT_DOUBLE_EQ(out[1], std::log(0.25));
  EXPECT_EQ(out[2], -kInf);
  EXPECT_EQ(out[3], -kInf);
  // min_p 0.1 keeps p >= 0.06: three tokens; the top token always stays.
  EXPECT_EQ(values(torch::isfinite(min_p_filter(logits, 0.1)).to(torch::kDouble)), (std::vector<double>{1, 1, 1, 0}));
  EXPECT_EQ(values(torch::isfinite(min_p_filter(logits, 1.0)).to(torch::kDouble)), (std::vector<double>{1, 0, 0, 0}));
}

TEST(LogitsProcessors, RepetitionPenaltyDividesPositiveAndMultipliesNegativeLogits) {
  auto logits = torch::tensor({{2.0, -1.0, 3.0, -4.0}, {2.0, -1.0, 3.0, -4.0}}, torch::kDouble);
  auto present = torch::tensor({{1, 1, 0, 0}, {0, 0, 1, 1}}, torch::kBool);
  auto out = apply_repetition_penalty(logits, present, 2.0);
  EXPECT_EQ(values(out), (std::vector<double>{1.0, -2.0, 3.0, -4.0, 2.0, -1.0, 1.5, -8.0}));
}

TEST(LogitsProcessors, NoRepeatNgramBlocksTheTokenThatWouldRepeatAnNgram) {
  // History 5 6 7 5 6: the 3-gram "5 6 7" exists, the suffix is "5 6" -> 7 is banned.
  std::vector<int32_t> h = {5, 6, 7, 5, 6};
  EXPECT_EQ(banned_ngram_tokens(h, 3), (std::vector<int32_t>{7}));
  // Bigrams after "6": "6 7" -> 7.
  EXPECT_EQ(banned_ngram_tokens(h, 2), (std::vector<int32_t>{7}));
  // Every 4-gram starts with "7 5 6"? none does -> nothing banned.
  EXPECT_TRUE(banned_ngram_tokens(h, 4).empty());
  EXPECT_TRUE(banned_ngram_tokens({1}, 3).empty());
  // Two earlier occurrences of the prefix ban both followers.
  EXPECT_EQ(banned_ngram_tokens({1, 2, 1, 3, 1}, 2), (std::vector<int32_t>{2, 3}));

  auto logits = torch::zeros({2, 10});
  auto out = block_repeated_ngrams(logits, {h, {1, 2, 1, 3, 1}}, 2);
  EXPECT_EQ(out[0][7].item<float>(), -kInf);
  EXPECT_EQ(out[1][2].item<float>(), -kInf);
  EXPECT_EQ(out[1][3].item<float>(), -kInf);
  EXPECT_EQ(torch::isinf(out).sum().item<int64_t>(), 3);
}

TEST(LogitsProcessors, TemperatureScalesLogits) {
  auto logits = row({1.0, -2.0, 0.5});
  EXPECT_EQ(values(apply_temperature(logits, 0.5)), (std::vector<double>{2.0, -4.0, 1.0}));
}

}  // namespace logits_processors_test
