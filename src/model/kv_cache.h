// The key/value cache of incremental decoding: one pre-allocated (B, n_kv_head, capacity, head_dim)
// key tensor and one value tensor per layer, plus how many positions are filled. Generating token
// t+1 then costs one position of attention instead of re-running the whole prefix.
//
// Positions [0, length()) are valid. GPTImpl::forward_cached appends the new tokens' keys/values of
// every layer at [length(), length() + T) and then advances length() by T. The cache is plain data
// (no autograd): make it with GPTImpl::make_cache, which picks the model's device and dtype. While
// empty it switches to the dtype of the first keys written (e.g. bf16 under CUDA autocast).
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <utility>
#include <vector>

namespace gptforge {

class KVCache {
 public:
  KVCache() = default;
  // Zero-length cache for n_layer layers; capacity is the most positions it can hold (block_size).
  KVCache(int64_t n_layer, int64_t batch, int64_t n_kv_head, int64_t capacity, int64_t head_dim,
          const torch::TensorOptions& options);

  int64_t length() const { return length_; }
  int64_t capacity() const { return capacity_; }
  int64_t batch() const { return batch_; }
  int64_t n_layer() const { return static_cast<int64_t>(keys_.size()); }
  bool empty() const { return length_ == 0; }

  // Forget every position (the memory is kept for the next sequence).
  void reset() { length_ = 0; }
  // Keep only the first n positions (0 <= n <= length()): rewinds for beam search or a sliding
  // window. The dropped positions are overwritten by later appends.
  void truncate(int64_t n);
  // Rows of the batch, in a new order: row i becomes old row batch_indices[i] (index_select along
  // the batch dimension). The new batch size is batch_indices.size(0), so one prompt's cache can be
  // expanded to several beams. batch_indices: 1-D int64, on any device.
  void reorder(const torch::Tensor& batch_indices);

  // --- Used by the model ------------------------------------------------------------------------
  // Throws RunError unless `t` more positions for a batch of `batch` rows fit.
  void check_room(int64_t batch, int64_t t) const;
  // Writes k, v (B, n_kv_head, T, head_dim) of `layer` at positions [length(), length() + T) and
  // returns views of the layer's keys and values over [0, length() + T). Does not advance length().
  std::pair<torch::Tensor, torch::Tensor> append(int64_t layer, const torch::Tensor& k, const torch::Tensor& v);
  // Moves length() on by t once every layer has appended.
  void advance(int64_t t);

  // The whole pre-allocated buffers of one layer (B, n_kv_head, capacity, head_dim).
  const torch::Tensor& keys(int64_t layer) const { return keys_.at(static_cast<size_t>(layer)); }
  const torch::Tensor& values(int64_t layer) const { return values_.at(static_cast<size_t>(layer)); }

 private:
  std::vector<torch::Tensor> keys_, values_;
  int64_t batch_ = 0;
  int64_t capacity_ = 0;
  int64_t length_ = 0;
};

}  // namespace gptforge
