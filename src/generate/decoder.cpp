#include "generate/decoder.h"

#include <algorithm>
#include <string>

#include "util/errors.h"

namespace gptforge {
namespace {

// The logits of the last position, (B, T, V) -> (B, V), float and contiguous.
torch::Tensor last_position(const torch::Tensor& logits) {
  return logits.select(1, logits.size(1) - 1).to(torch::kFloat).contiguous();
}

}  // namespace

Decoder::Decoder(GPT& model, bool use_cache)
    : model_(model),
      use_cache_(use_cache),
      block_size_(model->config().block_size),
      device_(model->wte->weight.device()) {}

torch::Tensor Decoder::window_tensor() const {
  const int64_t b = batch(), t = window_length();
  auto host = torch::empty({b, t}, torch::kLong);
  auto* p = host.data_ptr<int64_t>();
  for (const auto& row : window_) p = std::copy(row.begin(), row.end(), p);
  return host.to(device_);
}

torch::Tensor Decoder::prefill() {
  torch::NoGradGuard no_grad;
  if (!use_cache_) return last_position(model_->forward(window_tensor()));
  if (cache_.n_layer() == 0 || cache_.batch() != batch()) {
    cache_ = model_->make_cache(batch());
  } else {
    cache_.reset();
  }
  return last_position(model_->forward_cached(window_tensor(), cache_));
}

torch::Tensor Decoder::start(const std::vector<int32_t>& prompt, int64_t rows) {
  if (prompt.empty()) throw RunError("generation needs a non-empty prompt");
  if (rows < 1) throw RunError("generation needs at least one row");
  const int64_t vocab = model_->config().vocab_size;
  for (int32_t id : prompt) {
    if (id < 0 || id >= vocab) {
      throw RunError("prompt token id " + std::to_string(id) + " is outside the model's vocabulary (" +
                     std::to_string(vocab) + ")");
    }
  }
  const size_t keep = std::min(prompt.size(), static_cast<size_t>(block_size_));
  std::vector<int32_t> window(prompt.end() - static_cast<std::ptrdiff_t>(keep), prompt.end());
  const int64_t reused = reusable_prefix(window);
  refills_ = 0;
  reused_tokens_ = reused;
  prompt_tokens_ = static_cast<int64_t>(keep) - reused;
  window_.assign(1, std::move(window));
  torch::Tensor logits;
  if (reused > 0) {
    // The cache holds the shared positions: run only the rest, after them.
    torch::NoGradGuard no_grad;
    cache_.truncate(reused);
    const auto& w = window_[0];
    auto rest = torch::tensor(std::vector<int64_t>(w.begin() + reused, w.end()), torch::kLong);
    logits = last_position(model_->forward_cached(rest.unsqueeze(0).to(device_), cache_));
  } else {
    logits = prefill();  // batch 1: the prompt is processed once
  }
  if (rows > 1) {
    select_rows(std::vector<int64_t>(static_cast<size_t>(rows), 0));
    logits = logits.expand({rows, logits.size(1)}).contiguous();
  }
  return logits;
}

torch::Tensor Decoder::step(const torch::Tensor& next, const std::vector<int32_t>& next_host) {
  torch::NoGradGuard no_grad;
  const int64_t b = batch();
  for (int64_t i = 0; i < b; ++i) window_[static_cast<size_t>(i)].push_back(next_host[static_cast<size_t>(i)]);
  if (window_length() > block_size_) {
    // Full: restart from the most recent half of the context.
    const int64_t keep = std::max<int64_t>(1, block_size_ / 2);
    for (auto& row : window_) row.erase(row.begin(), row.end() - keep);
    ++refills_;
    return prefill();
  }
  if (!use_cache_) return last_position(model_->forward(window_tensor()));
  return last_position(model_->forward_cached(next.reshape({b, 1}).to(device_, torch::kLong), cache_));
}

torch::Tensor Decoder::feed(const std::vector<int32_t>& ids) {
  torch::NoGradGuard no_grad;
  if (batch() != 1) throw RunError("Decoder::feed: forced tokens need a batch of one row, got " + std::to_string(batch()));
  if (ids.empty()) throw RunError("Decoder::feed: no ids");
  auto& row = window_[0];
  row.insert(row.end(), ids.begin(), ids.end());
  if (window_length() > block_size_) {
    const int64_t keep = std::min<int64_t>(
        block_size_, std::max<int64_t>(std::max<int64_t>(1, block_size_ / 2), static_cast<int64_t>(ids.size())));
    row.erase(row.begin(), row.end() - keep);
    ++refills_;
    return prefill();
  }
  if (!use_cache_) return last_position(model_->forward(window_tensor()));
  auto t = torch::tensor(std::vector<int64_t>(ids.begin(), ids.end()), torch::kLong).unsqueeze(0).to(device_);
  return last_position(model_->forward_cached(t, cache_));
}

int64_t Decoder::reusable_prefix(const std::vector<int32_t>& window) const {
  // The cache matches the window only on the cached path with one row (a finished generation of
  // several samples kept whichever rows were last alive).
  if (!use_cache_ || batch() != 1 || cache_.n_layer() == 0 || cache_.length() != window_length()) return 0;
  const auto& old = window_[0];
  const size_t limit = std::min(old.size(), window.size() - 1);
  size_t n = 0;
  while (n < limit && old[n] == window[n]) ++n;
  return static_cast<int64_t>(n);
}

void Decoder::reset() {
  window_.clear();
  cache_.reset();
  prompt_tokens_ = reused_tokens_ = refills_ = 0;
}

void Decoder::select_rows(const std::vector<int64_t>& rows) {
  bool identity = static_cast<int64_t>(rows.size()) == batch();
  std::vector<std::vector<int32_t>> picked;
  picked.reserve(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    if (rows[i] < 0 || rows[i] >= batch()) throw RunError("Decoder::select_rows: row out of range");
    identity = identity && rows[i] == static_cast<int64_t>(i);
    picked.push_back(window_[static_cast<size_t>(rows[i])]);
  }
  if (identity) return;
  window_ = std::move(picked);
  if (use_cache_) cache_.reorder(torch::tensor(rows, torch::kLong));
}

}  // namespace gptforge
