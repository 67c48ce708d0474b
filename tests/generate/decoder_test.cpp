// Prefix reuse in the decoder: a kept Decoder starts a new prompt from the positions its cache shares
// with it, and gives the logits a fresh start gives.
#include "generate/decoder.h"

#include <gtest/gtest.h>

#include "generate_test_helpers.h"

namespace decoder_test {

using namespace gptforge;
using gptforge::testing::random_gpt;

namespace {

std::vector<int32_t> concat(std::vector<int32_t> a, const std::vector<int32_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// Feeds `ids` one step each, as the sampler does after start().
torch::Tensor feed(Decoder& d, const std::vector<int32_t>& ids) {
  torch::Tensor logits;
  for (int32_t id : ids) logits = d.step(torch::tensor({static_cast<int64_t>(id)}, torch::kLong), {id});
  return logits;
}

// The logits of a fresh cached decoder started on `prompt`.
torch::Tensor fresh_start(GPT& model, const std::vector<int32_t>& prompt) {
  Decoder fresh(model, /*use_cache=*/true);
  return fresh.start(prompt, 1);
}

}  // namespace

TEST(Decoder, ReusedPrefixGivesTheLogitsOfAFreshStartForEveryPositionType) {
  for (const char* position : {"learned", "sinusoidal", "rope", "none"}) {
    SCOPED_TRACE(position);
    GPT model = random_gpt(64, position);
    const std::vector<int32_t> a = {3, 17, 42, 9, 11, 5};
    Decoder d(model, true);
    d.start(a, 1);
    EXPECT_EQ(d.reused_prompt_tokens(), 0);  // nothing cached yet
    EXPECT_EQ(d.prompt_tokens(), 6);
    feed(d, {7, 8, 9});  // the window is now a + {7, 8, 9}

    // Shares a + {7, 8}: those 8 positions come from the cache, the last 3 are run.
    const std::vector<int32_t> b = concat(a, {7, 8, 20, 21, 22});
    torch::Tensor reused = d.start(b, 1);
    EXPECT_EQ(d.reused_prompt_tokens(), 8);
    EXPECT_EQ(d.prompt_tokens(), 3);
    EXPECT_TRUE(torch::allclose(reused, fresh_start(model, b), 1e-5, 1e-5));
    // Decoding goes on exactly as after a fresh start.
    Decoder fresh(model, true);
    fresh.start(b, 1);
    EXPECT_TRUE(torch::allclose(feed(d, {30, 31}), feed(fresh, {30, 31}), 1e-5, 1e-5));

    // A prompt that is a prefix of the window: all but its last position are reused (that one is
    // run again to give the logits).
    const std::vector<int32_t> c(b.begin(), b.begin() + 4);
    torch::Tensor shorter = d.start(c, 1);
    EXPECT_EQ(d.reused_prompt_tokens(), 3);
    EXPECT_EQ(d.prompt_tokens(), 1);
    EXPECT_TRUE(torch::allclose(shorter, fresh_start(model, c), 1e-5, 1e-5));

    // A prompt that differs from the first token on: nothing to reuse.
    const std::vector<int32_t> e = {4, 17, 42};
    torch::Tensor other = d.start(e, 1);
    EXPECT_EQ(d.reused_prompt_tokens(), 0);
    EXPECT_EQ(d.prompt_tokens(), 3);
    EXPECT_TRUE(torch::allclose(other, fresh_start(model, e), 1e-5, 1e-5));
  }
}

TEST(Decoder, PromptLongerThanTheContextReusesOnlyWhatItsWindowShares) {
  GPT model = random_gpt();  // context 16
  std::vector<int32_t> long_prompt;
  for (int32_t i = 0; i < 20; ++i) long_prompt.push_back(i + 1);
  Decoder d(model, true);
  d.start(long_prompt, 1);
  EXPECT_EQ(d.prompt_tokens(), 16);  // its last 16 tokens
  // The same prompt again: its window is the same 16 tokens, all but the last reused.
  torch::Tensor again = d.start(long_prompt, 1);
  EXPECT_EQ(d.reused_prompt_tokens(), 15);
  EXPECT_TRUE(torch::allclose(again, fresh_start(model, long_prompt), 1e-5, 1e-5));
  // One token more shifts the window: position 0 now holds another token, nothing is reused.
  const std::vector<int32_t> longer = concat(long_prompt, {40});
  torch::Tensor shifted = d.start(longer, 1);
  EXPECT_EQ(d.reused_prompt_tokens(), 0);
  EXPECT_EQ(d.prompt_tokens(), 16);
  EXPECT_TRUE(torch::allclose(shifted, fresh_start(model, longer), 1e-5, 1e-5));
}

TEST(Decoder, NoReuseAfterSeveralRowsAfterResetOrWithoutCache) {
  GPT model = random_gpt();
  const std::vector<int32_t> a = {3, 17, 42, 9};
  Decoder d(model, true);
  d.start(a, 3);  // three rows: which one would the cache hold?
  d.start(a, 1);
  EXPECT_EQ(d.reused_prompt_tokens(), 0);
  d.start(a, 1);
  EXPECT_EQ(d.reused_prompt_tokens(), 3);
  d.reset();
  d.start(a, 1);
  EXPECT_EQ(d.reused_prompt_tokens(), 0);
  EXPECT_EQ(d.prompt_tokens(), 4);

  Decoder uncached(model, false);
  uncached.start(a, 1);
  torch::Tensor logits = uncached.start(a, 1);
  EXPECT_EQ(uncached.reused_prompt_tokens(), 0);
  EXPECT_TRUE(torch::allclose(logits, fresh_start(model, a), 1e-5, 1e-5));
}

}  // namespace decoder_test
