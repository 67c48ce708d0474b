// The decoding window: feeds a batch of sequences to the model one position at a time and returns
// the next-token logits, with the KV cache (one position of work per token) or without it (a full
// forward over the window every step: the reference for tests and the decode benchmark).
//
// The window holds at most block_size tokens. When a new token would overflow it, the window
// restarts from the most recent max(1, block_size / 2) tokens (the new one included), which are run
// through the model at once: the cache is reset and re-filled ("re-prefill"). This is the same for
// every position type: learned and sinusoidal positions and RoPE all tie a key to its absolute
// position, so cached keys cannot be shifted in place. Both paths slide the same windows, so they
// compute the same logits. A prompt longer than block_size keeps its last block_size tokens.
//
// Prefix reuse: a Decoder kept from one generation to the next (chat keeps one per conversation)
// starts a new prompt from what its cache already holds. When the window it ended with (one row)
// and the new prompt begin with the same tokens, those positions stay in the cache and only the
// rest of the prompt is run: a chat turn costs its new tokens, not the whole conversation. The
// match is on token ids, not text, so a reply whose text re-encodes differently is simply cut at
// the first differing token. The logits are those of a fresh start (the same positions, the same
// keys). The weights must not change between two starts; reset() forgets the cache when they do.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "model/eval_mode.h"
#include "model/gpt.h"
#include "util/runtime.h"  // synchronize_device, for timings

namespace gptforge {

class Decoder {
 public:
  // The model must stay in eval mode while the decoder is used.
  Decoder(GPT& model, bool use_cache);

  // Starts `rows` copies of `prompt` (non-empty): one forward over its last block_size tokens with
  // batch 1, whose cache is then copied to every row. Returns the logits of the last position,
  // (rows, vocab), float, on the model's device. With the cache, positions shared with the window
  // the previous generation ended with (batch 1) are reused and not run again (see above).
  torch::Tensor start(const std::vector<int32_t>& prompt, int64_t rows);
  // Appends next[b] to row b (next: (B) int64 on the model's device; next_host: the same ids) and
  // returns the logits (B, vocab) of the new position.
  torch::Tensor step(const torch::Tensor& next, const std::vector<int32_t>& next_host);
  // Appends `ids` to the one row (batch() == 1) in one forward over them, the cache kept, and returns
  // the logits (1, vocab) of the last: a sampled id and the tool result forced after it
  // (tool_calls.h). When they would overflow the window, it restarts from the most recent
  // max(block_size / 2, ids.size()) tokens (at most block_size), as step() restarts.
  torch::Tensor feed(const std::vector<int32_t>& ids);
  // Keeps the given rows, in this order (a row may repeat: beam search). Rows must be < batch().
  void select_rows(const std::vector<int64_t>& rows);
  // Forgets the window and the cached positions: the next start() runs its whole prompt.
  void reset();

  GPT& model() { return model_; }
  bool use_cache() const { return use_cache_; }
  int64_t batch() const { return static_cast<int64_t>(window_.size()); }
  // Tokens in the window now (equal for every row).
  int64_t window_length() const { return window_.empty() ? 0 : static_cast<int64_t>(window_[0].size()); }
  // Positions run through the model by the last start() (after truncation to block_size), and the
  // positions it took from the cache instead.
  int64_t prompt_tokens() const { return prompt_tokens_; }
  int64_t reused_prompt_tokens() const { return reused_tokens_; }
  int64_t refills() const { return refills_; }
  int64_t block_size() const { return block_size_; }

 private:
  // Runs the window from scratch (cache reset) and returns the last position's logits (B, V).
  torch::Tensor prefill();
  // How many leading positions of `window` the cache holds already (at most window.size() - 1, so
  // that the last position is run and gives logits); 0 when nothing can be reused.
  int64_t reusable_prefix(const std::vector<int32_t>& window) const;
  torch::Tensor window_tensor() const;

  GPT model_;
  bool use_cache_;
  int64_t block_size_;
  torch::Device device_;
  KVCache cache_;
  std::vector<std::vector<int32_t>> window_;  // per row, the tokens in the window
  int64_t prompt_tokens_ = 0, reused_tokens_ = 0, refills_ = 0;
};

}  // namespace gptforge
