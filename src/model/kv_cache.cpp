#include "model/kv_cache.h"

#include <string>

#include "util/errors.h"

namespace gptforge {

KVCache::KVCache(int64_t n_layer, int64_t batch, int64_t n_kv_head, int64_t capacity, int64_t head_dim,
                 const torch::TensorOptions& options)
    : batch_(batch), capacity_(capacity) {
  keys_.reserve(static_cast<size_t>(n_layer));
  values_.reserve(static_cast<size_t>(n_layer));
  for (int64_t i = 0; i < n_layer; ++i) {
    keys_.push_back(torch::zeros({batch, n_kv_head, capacity, head_dim}, options));
    values_.push_back(torch::zeros({batch, n_kv_head, capacity, head_dim}, options));
  }
}

void KVCache::truncate(int64_t n) {
  if (n < 0 || n > length_) {
    throw RunError("KV cache: cannot truncate to " + std::to_string(n) + " positions, it holds " +
                   std::to_string(length_));
  }
  length_ = n;
}

void KVCache::reorder(const torch::Tensor& batch_indices) {
  if (batch_indices.dim() != 1) throw RunError("KV cache: reorder needs a 1-D tensor of batch indices");
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < keys_.size(); ++i) {
    auto idx = batch_indices.to(keys_[i].device(), torch::kLong);
    keys_[i] = keys_[i].index_select(0, idx);
    values_[i] = values_[i].index_select(0, idx);
  }
  batch_ = batch_indices.size(0);
}

void KVCache::check_room(int64_t batch, int64_t t) const {
  if (keys_.empty()) throw RunError("KV cache is empty: make it with GPT::make_cache");
  if (batch != batch_) {
    throw RunError("KV cache holds a batch of " + std::to_string(batch_) + " rows, the input has " +
                   std::to_string(batch));
  }
  if (length_ + t > capacity_) {
    throw RunError("KV cache full: " + std::to_string(length_) + " cached + " + std::to_string(t) +
                   " new tokens exceed model.block_size (" + std::to_string(capacity_) +
                   "); truncate or reset the cache");
  }
}

std::pair<torch::Tensor, torch::Tensor> KVCache::append(int64_t layer, const torch::Tensor& k,
                                                        const torch::Tensor& v) {
  auto& kc = keys_.at(static_cast<size_t>(layer));
  auto& vc = values_.at(static_cast<size_t>(layer));
  // An empty cache takes the dtype of the first keys written (bf16 under autocast, say), so no
  // step converts the cached prefix.
  if (length_ == 0 && kc.scalar_type() != k.scalar_type()) {
    kc = torch::empty_like(kc, kc.options().dtype(k.scalar_type()));
    vc = torch::empty_like(vc, vc.options().dtype(v.scalar_type()));
  }
  const int64_t t = k.size(2);
  kc.narrow(2, length_, t).copy_(k);
  vc.narrow(2, length_, t).copy_(v);
  return {kc.narrow(2, 0, length_ + t), vc.narrow(2, 0, length_ + t)};
}

void KVCache::advance(int64_t t) { length_ += t; }

}  // namespace gptforge
