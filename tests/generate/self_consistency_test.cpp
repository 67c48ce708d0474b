#include "generate/self_consistency.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace self_consistency_test {

using namespace gptforge;

TEST(SelfConsistency, TheMostFrequentAnswerWinsWhateverItsLogprob) {
  // "7" twice, each less likely than the single "8": frequency decides.
  Vote v = majority_vote({"8", "7", "9", "7"}, {-0.5, -3.0, -1.0, -4.0});
  EXPECT_EQ(v.answer, "7");
  EXPECT_EQ(v.votes, 2);
  EXPECT_DOUBLE_EQ(v.logprob, -3.0);  // its likelier sample
  EXPECT_EQ(v.first, 1u);
}

TEST(SelfConsistency, TiesGoToTheHighestLogprobThenToTheFirstSampled) {
  // Two votes each: "a" has samples at -2 and -9, "b" at -3 and -4; the best sample decides.
  Vote v = majority_vote({"a", "b", "b", "a"}, {-2.0, -3.0, -4.0, -9.0});
  EXPECT_EQ(v.answer, "a");
  EXPECT_EQ(v.votes, 2);
  EXPECT_DOUBLE_EQ(v.logprob, -2.0);
  // The same answers with "b" the likelier: "b", whichever came first.
  v = majority_vote({"a", "b", "b", "a"}, {-5.0, -3.0, -4.0, -9.0});
  EXPECT_EQ(v.answer, "b");
  EXPECT_EQ(v.first, 1u);
  // Equal counts and log-probabilities: the answer sampled first, not the smaller string.
  v = majority_vote({"z", "a"}, {-1.0, -1.0});
  EXPECT_EQ(v.answer, "z");
  v = majority_vote({"only"}, {-0.1});
  EXPECT_EQ(v.answer, "only");
  EXPECT_EQ(v.votes, 1);
}

TEST(SelfConsistency, NormalisationTrimsAndFoldsCaseOnlyWhenAsked) {
  EXPECT_EQ(normalize_answer("  RED Garden\n", false), "RED Garden");
  EXPECT_EQ(normalize_answer("  RED Garden\n", true), "red garden");
  EXPECT_EQ(normalize_answer(" \t\n", true), "");
  EXPECT_EQ(normalize_answer("ÄÖ Ab", true), "ÄÖ ab");  // bytes outside ASCII are kept
  // Answers that differ in case only are one vote where the task ignores case, two otherwise.
  std::vector<std::string> raw = {"Yes", "no", " yes", "NO ", "no"};
  std::vector<double> lp = {-1, -1, -1, -1, -1};
  std::vector<std::string> folded, kept;
  for (const auto& a : raw) {
    folded.push_back(normalize_answer(a, true));
    kept.push_back(normalize_answer(a, false));
  }
  EXPECT_EQ(majority_vote(folded, lp).answer, "no");
  EXPECT_EQ(majority_vote(folded, lp).votes, 3);
  EXPECT_EQ(majority_vote(kept, lp).answer, "no");
  EXPECT_EQ(majority_vote(kept, lp).votes, 2);
}

TEST(SelfConsistency, NoAnswersOrMismatchedSizesAreRejected) {
  EXPECT_THROW(majority_vote({}, {}), std::invalid_argument);
  EXPECT_THROW(majority_vote({"a", "b"}, {-1.0}), std::invalid_argument);
}

}  // namespace self_consistency_test
