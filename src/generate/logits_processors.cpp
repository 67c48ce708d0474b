#include "generate/logits_processors.h"

#include <cmath>
#include <limits>

namespace gptforge {
namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

}  // namespace

torch::Tensor apply_repetition_penalty(const torch::Tensor& logits, const torch::Tensor& present, double penalty) {
  auto penalised = torch::where(logits > 0, logits / penalty, logits * penalty);
  return torch::where(present, penalised, logits);
}

std::vector<int32_t> banned_ngram_tokens(const std::vector<int32_t>& history, int64_t n) {
  std::vector<int32_t> banned;
  const int64_t len = static_cast<int64_t>(history.size());
  if (n <= 0 || len < n - 1) return banned;
  if (n == 1) return history;  // every token seen is a repeated 1-gram
  // The (n-1)-token suffix; an n-gram starting at s is history[s .. s+n-1], its prefix history[s .. s+n-2].
  const int64_t prefix_len = n - 1, suffix_start = len - prefix_len;
  for (int64_t s = 0; s + n <= len; ++s) {
    bool match = true;
    for (int64_t j = 0; j < prefix_len && match; ++j) match = history[s + j] == history[suffix_start + j];
    if (match) banned.push_back(history[s + prefix_len]);
  }
  return banned;
}

torch::Tensor block_repeated_ngrams(const torch::Tensor& logits, const std::vector<std::vector<int32_t>>& histories,
                                    int64_t n) {
  const int64_t vocab = logits.size(-1);
  std::vector<int64_t> flat;  // row * vocab + token
  for (size_t b = 0; b < histories.size(); ++b) {
    for (int32_t id : banned_ngram_tokens(histories[b], n)) flat.push_back(static_cast<int64_t>(b) * vocab + id);
  }
  if (flat.empty()) return logits;
  auto out = logits.clone(torch::MemoryFormat::Contiguous);
  out.view({-1}).index_fill_(0, torch::tensor(flat, torch::kLong).to(logits.device()), kNegInf);
  return out;
}

torch::Tensor apply_temperature(const torch::Tensor& logits, double temperature) { return logits / temperature; }

torch::Tensor top_k_filter(const torch::Tensor& logits, int64_t k) {
  const int64_t vocab = logits.size(-1);
  if (k <= 0 || k >= vocab) return logits;
  auto top = logits.topk(k, -1);
  auto out = torch::full_like(logits, kNegInf);
  return out.scatter(-1, std::get<1>(top), std::get<0>(top));
}

torch::Tensor top_p_filter(const torch::Tensor& logits, double p) {
  if (p >= 1.0) return logits;
  auto sorted = logits.sort(-1, /*descending=*/true);
  const auto& values = std::get<0>(sorted);
  const auto& order = std::get<1>(sorted);
  auto probs = torch::softmax(values.to(torch::kFloat), -1);
  auto mass_before = probs.cumsum(-1) - probs;  // probability of the tokens ranked above each one
  auto drop_sorted = mass_before >= p;          // the first token always has mass_before 0 < p
  auto drop = torch::zeros_like(drop_sorted).scatter(-1, order, drop_sorted);
  return logits.masked_fill(drop, kNegInf);
}

torch::Tensor min_p_filter(const torch::Tensor& logits, double min_p) {
  if (min_p <= 0.0) return logits;
  auto threshold = std::get<0>(logits.max(-1, /*keepdim=*/true)) + std::log(min_p);
  return logits.masked_fill(logits < threshold, kNegInf);
}

}  // namespace gptforge
