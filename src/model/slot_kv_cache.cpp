#include "model/slot_kv_cache.h"

#include <algorithm>
#include <string>

#include "model/kv_cache.h"
#include "util/errors.h"

namespace gptforge {

SlotKVCache::SlotKVCache(int64_t n_layer, int64_t slots, int64_t n_kv_head, int64_t capacity, int64_t head_dim,
                         const torch::TensorOptions& options)
    : lengths_(static_cast<size_t>(slots), 0), capacity_(capacity) {
  for (int64_t i = 0; i < n_layer; ++i) {
    keys_.push_back(torch::zeros({slots, n_kv_head, capacity, head_dim}, options));
    values_.push_back(torch::zeros({slots, n_kv_head, capacity, head_dim}, options));
  }
}

void SlotKVCache::load(int64_t slot, const KVCache& cache, int64_t row) {
  if (slot < 0 || slot >= slots()) throw RunError("slot cache: no slot " + std::to_string(slot));
  if (cache.n_layer() != n_layer() || cache.capacity() > capacity_) {
    throw RunError("slot cache: the KV cache to load has another shape");
  }
  torch::NoGradGuard no_grad;
  const int64_t n = cache.length();
  for (size_t l = 0; l < keys_.size(); ++l) {
    const auto layer = static_cast<int64_t>(l);
    keys_[l][slot].narrow(1, 0, n).copy_(cache.keys(layer)[row].narrow(1, 0, n));
    values_[l][slot].narrow(1, 0, n).copy_(cache.values(layer)[row].narrow(1, 0, n));
  }
  lengths_[static_cast<size_t>(slot)] = n;
}

void SlotKVCache::move(int64_t from, int64_t to) {
  if (from == to) return;
  torch::NoGradGuard no_grad;
  const int64_t n = length(from);
  for (size_t l = 0; l < keys_.size(); ++l) {
    keys_[l][to].narrow(1, 0, n).copy_(keys_[l][from].narrow(1, 0, n));
    values_[l][to].narrow(1, 0, n).copy_(values_[l][from].narrow(1, 0, n));
  }
  lengths_.at(static_cast<size_t>(to)) = n;
  lengths_.at(static_cast<size_t>(from)) = 0;
}

void SlotKVCache::check_step(int64_t batch) const {
  if (keys_.empty()) throw RunError("slot cache is empty: make it with GPT::make_slot_cache");
  if (batch < 1 || batch > slots()) {
    throw RunError("slot cache: a step over " + std::to_string(batch) + " rows, the cache has " +
                   std::to_string(slots()) + " slots");
  }
  for (int64_t b = 0; b < batch; ++b) {
    if (length(b) >= capacity_) {
      throw RunError("slot cache: slot " + std::to_string(b) + " is full (model.block_size " +
                     std::to_string(capacity_) + " positions)");
    }
  }
}

int64_t SlotKVCache::step_keys(int64_t batch) const {
  return *std::max_element(lengths_.begin(), lengths_.begin() + batch) + 1;
}

torch::Tensor SlotKVCache::step_positions(int64_t batch) const {
  std::vector<int64_t> pos(lengths_.begin(), lengths_.begin() + batch);
  return torch::tensor(pos, torch::kLong).to(keys_[0].device());
}

torch::Tensor SlotKVCache::step_key_mask(int64_t batch) const {
  // key j of row b is masked when j > length(b), the row's new position.
  auto keys = torch::arange(step_keys(batch), torch::TensorOptions().dtype(torch::kLong).device(keys_[0].device()));
  return keys.unsqueeze(0) > step_positions(batch).unsqueeze(1);
}

std::pair<torch::Tensor, torch::Tensor> SlotKVCache::append(int64_t layer, const torch::Tensor& k,
                                                            const torch::Tensor& v) {
  auto& kc = keys_.at(static_cast<size_t>(layer));
  auto& vc = values_.at(static_cast<size_t>(layer));
  const int64_t batch = k.size(0);
  // Row b's (n_kv_head, head_dim) goes to [b, :, length(b), :]: the two index tensors around the
  // head slice select (batch) positions, whose values are (batch, n_kv_head, head_dim).
  auto rows = torch::arange(batch, torch::TensorOptions().dtype(torch::kLong).device(kc.device()));
  auto pos = step_positions(batch);
  using torch::indexing::Slice;
  kc.index_put_({rows, Slice(), pos}, k.squeeze(2).to(kc.scalar_type()));
  vc.index_put_({rows, Slice(), pos}, v.squeeze(2).to(vc.scalar_type()));
  const int64_t s = step_keys(batch);
  return {kc.narrow(0, 0, batch).narrow(2, 0, s), vc.narrow(0, 0, batch).narrow(2, 0, s)};
}

void SlotKVCache::advance(int64_t batch) {
  for (int64_t b = 0; b < batch; ++b) ++lengths_[static_cast<size_t>(b)];
}

}  // namespace gptforge
