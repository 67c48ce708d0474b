#include "model/slot_kv_cache.h"

#include <gtest/gtest.h>

#include "model/gpt.h"
#include "model/kv_cache.h"
#include "model_test_helpers.h"
#include "util/errors.h"

namespace slot_kv_cache_test {

using namespace gptforge;
using gptforge::testing::max_abs_diff;
using gptforge::testing::random_tokens;
using gptforge::testing::tiny_config;

namespace {

// Loads row `row` of `tokens` (its first `length` ids) into `slot` through a one-row prefill.
void prefill_into(GPT& model, SlotKVCache& slots, int64_t slot, const torch::Tensor& tokens, int64_t length) {
  KVCache cache = model->make_cache(1);
  model->forward_cached(tokens.narrow(1, 0, length), cache);
  slots.load(slot, cache);
}

}  // namespace

TEST(SlotKvCache, RowsOfDifferentLengthsMatchEachRowDecodedAlone) {
  // Three sequences prefilled to 3, 9 and 6 positions, then decoded together one token per row to
  // the end of the context of the longest: each row's logits must equal the same sequence decoded
  // alone with the ordinary cache, for every position type and with grouped-query attention.
  for (const char* position : {"learned", "sinusoidal", "rope", "none"}) {
    for (int64_t kv : {4, 2}) {
      ModelConfig cfg = tiny_config();
      cfg.position = position;
      cfg.n_kv_head = kv;
      torch::manual_seed(21);
      GPT model(cfg);
      model->eval();
      const std::vector<int64_t> prefix = {3, 9, 6};
      const int64_t rows = 3, steps = cfg.block_size - 9;
      auto tokens = random_tokens(cfg.vocab_size, rows, cfg.block_size);

      // Alone: each row with its own KVCache.
      std::vector<torch::Tensor> alone;
      for (int64_t r = 0; r < rows; ++r) {
        KVCache cache = model->make_cache(1);
        auto row = tokens.narrow(0, r, 1);
        model->forward_cached(row.narrow(1, 0, prefix[r]), cache);
        std::vector<torch::Tensor> out;
        for (int64_t s = 0; s < steps; ++s) out.push_back(model->forward_cached(row.narrow(1, prefix[r] + s, 1), cache));
        alone.push_back(torch::cat(out, 1));  // (1, steps, V)
      }

      // Together: one slot per row (a fourth slot stays empty).
      SlotKVCache slots = model->make_slot_cache(4);
      for (int64_t r = 0; r < rows; ++r) prefill_into(model, slots, r, tokens.narrow(0, r, 1), prefix[r]);
      std::vector<torch::Tensor> together;
      for (int64_t s = 0; s < steps; ++s) {
        std::vector<torch::Tensor> next;
        for (int64_t r = 0; r < rows; ++r) next.push_back(tokens.narrow(0, r, 1).narrow(1, prefix[r] + s, 1));
        together.push_back(model->forward_slots(torch::cat(next, 0), slots));  // (rows, 1, V)
      }
      auto batched = torch::cat(together, 1);  // (rows, steps, V)
      for (int64_t r = 0; r < rows; ++r) {
        EXPECT_EQ(slots.length(r), prefix[r] + steps);
        EXPECT_LT(max_abs_diff(batched.narrow(0, r, 1), alone[static_cast<size_t>(r)]), 1e-5)
            << position << " kv=" << kv << " row " << r;
      }
      EXPECT_EQ(slots.length(3), 0);
    }
  }
}

TEST(SlotKvCache, MoveKeepsTheSequenceAndAFullSlotIsAnError) {
  ModelConfig cfg = tiny_config();
  cfg.position = "rope";
  torch::manual_seed(22);
  GPT model(cfg);
  model->eval();
  auto tokens = random_tokens(cfg.vocab_size, 1, cfg.block_size);
  SlotKVCache slots = model->make_slot_cache(2);
  prefill_into(model, slots, 1, tokens, 5);
  slots.move(1, 0);
  EXPECT_EQ(slots.length(0), 5);
  EXPECT_EQ(slots.length(1), 0);
  // Slot 0 continues exactly as the sequence would alone.
  KVCache cache = model->make_cache(1);
  model->forward_cached(tokens.narrow(1, 0, 5), cache);
  auto expected = model->forward_cached(tokens.narrow(1, 5, 1), cache);
  auto got = model->forward_slots(tokens.narrow(1, 5, 1), slots);
  EXPECT_LT(max_abs_diff(got, expected), 1e-6);

  prefill_into(model, slots, 0, tokens, cfg.block_size);
  EXPECT_THROW(model->forward_slots(tokens.narrow(1, 0, 1), slots), RunError);
  // More rows than slots, and more than one token per row, are errors too.
  EXPECT_THROW(model->forward_slots(random_tokens(cfg.vocab_size, 3, 1), slots), RunError);
  EXPECT_THROW(model->forward_slots(random_tokens(cfg.vocab_size, 1, 2), slots), RunError);
}

TEST(SlotKvCache, MaskedAttentionEqualsTheReferenceOnEachRowsOwnKeys) {
  // Rows of 2, 5 and 7 valid keys (the rest of 7 masked): each row must equal the textbook formula
  // on its valid keys alone, for one query at the last valid position.
  torch::manual_seed(23);
  const int64_t B = 3, H = 4, Hkv = 2, S = 7, hd = 8;
  auto q = torch::randn({B, H, 1, hd}), k = torch::randn({B, Hkv, S, hd}), v = torch::randn({B, Hkv, S, hd});
  const std::vector<int64_t> valid = {2, 5, 7};
  auto mask = torch::zeros({B, S}, torch::kBool);
  for (int64_t b = 0; b < B; ++b) mask[b].narrow(0, valid[b], S - valid[b]).fill_(true);
  auto out = masked_attention(q, k, v, mask);
  for (int64_t b = 0; b < B; ++b) {
    auto ref = attention_reference(q.narrow(0, b, 1), k.narrow(0, b, 1).narrow(2, 0, valid[b]),
                                   v.narrow(0, b, 1).narrow(2, 0, valid[b]));
    EXPECT_LT(max_abs_diff(out.narrow(0, b, 1), ref), 1e-5) << "row " << b;
  }
}

}  // namespace slot_kv_cache_test
