// The key/value cache of continuous batching (`gptforge serve`): a fixed number of slots, each
// holding one sequence of its own length, so that requests can join and leave a running batch.
//
// Like KVCache, one pre-allocated (slots, n_kv_head, capacity, head_dim) key tensor and one value
// tensor per layer; unlike it, every slot has its own length. A decoding step runs the first B slots
// together (GPTImpl::forward_slots): slot b's new token sits at position length(b), its key and
// value are written there, and attention reads keys [0, S) with S = max(length) + 1, masking in each
// row the keys beyond its own position (stale data of a shorter or earlier sequence).
//
// A sequence enters a slot by load(): its prompt is run alone through GPTImpl::forward_cached into
// a one-row KVCache (the prefill), whose positions are then copied into the slot. The caller keeps
// the sequences it runs in slots [0, B) and fills a hole with move() when one leaves.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <utility>
#include <vector>

namespace gptforge {

class KVCache;

class SlotKVCache {
 public:
  SlotKVCache() = default;
  // `slots` empty slots of `capacity` positions each (block_size) for n_layer layers.
  SlotKVCache(int64_t n_layer, int64_t slots, int64_t n_kv_head, int64_t capacity, int64_t head_dim,
              const torch::TensorOptions& options);

  int64_t slots() const { return static_cast<int64_t>(lengths_.size()); }
  int64_t capacity() const { return capacity_; }
  int64_t n_layer() const { return static_cast<int64_t>(keys_.size()); }
  int64_t length(int64_t slot) const { return lengths_.at(static_cast<size_t>(slot)); }

  // Copies the cached positions of row `row` of `cache` (all cache.length() of them) into `slot`.
  void load(int64_t slot, const KVCache& cache, int64_t row = 0);
  // Moves the sequence of slot `from` into slot `to` (to fill the hole a finished sequence left);
  // `from` is then empty.
  void move(int64_t from, int64_t to);
  // Empties a slot.
  void clear(int64_t slot) { lengths_.at(static_cast<size_t>(slot)) = 0; }

  // --- Used by the model, for one step over slots [0, batch) ----------------------------------
  // Throws RunError unless batch <= slots() and none of those slots is full.
  void check_step(int64_t batch) const;
  // The new tokens' positions, (batch) int64 on the cache's device: length(b).
  torch::Tensor step_positions(int64_t batch) const;
  // Writes k, v (batch, n_kv_head, 1, head_dim) of `layer` at each slot's position and returns views
  // of the slots' keys and values over [0, S), S = max length + 1.
  std::pair<torch::Tensor, torch::Tensor> append(int64_t layer, const torch::Tensor& k, const torch::Tensor& v);
  // (batch, S) bool: true for keys beyond a row's new position, which it must not see.
  torch::Tensor step_key_mask(int64_t batch) const;
  // Moves each of the first `batch` slots on by one position, once every layer has appended.
  void advance(int64_t batch);

 private:
  int64_t step_keys(int64_t batch) const;

  std::vector<torch::Tensor> keys_, values_;
  std::vector<int64_t> lengths_;
  int64_t capacity_ = 0;
};

}  // namespace gptforge
