#include "generate/probe.h"

#include <algorithm>
#include <cmath>

#include "generate/decoder.h"
#include "util/errors.h"
#include "util/log.h"
#include "util/utf8.h"

namespace gptforge {
std::string token_display(const Tokenizer* tok, int32_t id) {
  if (!tok || id < 0 || id >= tok->vocab_size()) return "#" + std::to_string(id);
  if (tok->is_special(id)) return tok->piece(id);
  std::string bytes = tok->token_bytes(id);
  if (tok->is_byte(id)) {
    const auto c = static_cast<unsigned char>(bytes.empty() ? 0 : bytes[0]);
    if (c < 0x20 || c >= 0x7f) {
      if (c == '\n') return "\\n";
      if (c == '\t') return "\\t";
      return tok->piece(id);
    }
    return bytes;
  }
  if (!is_valid_utf8(bytes)) return tok->piece(id);
  std::string out;
  for (char c : bytes) {
    if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c == '\r') out += "\\r";
    else out += c;
  }
  return out;
}

std::vector<std::vector<TokenCandidate>> top_candidates(const torch::Tensor& logits, int64_t k, const Tokenizer* tok) {
  auto probs = torch::softmax(logits.to(torch::kDouble), -1).to(torch::kCPU);
  k = std::min<int64_t>(k, probs.size(-1));
  auto top = probs.topk(k, -1);
  auto values = std::get<0>(top).contiguous(), index = std::get<1>(top).contiguous();
  auto v = values.accessor<double, 2>();
  auto ix = index.accessor<int64_t, 2>();
  std::vector<std::vector<TokenCandidate>> out(static_cast<size_t>(probs.size(0)));
  for (int64_t t = 0; t < probs.size(0); ++t) {
    for (int64_t j = 0; j < k; ++j) {
      const auto id = static_cast<int32_t>(ix[t][j]);
      out[static_cast<size_t>(t)].push_back({id, token_display(tok, id), v[t][j]});
    }
  }
  return out;
}

std::vector<ProbePosition> position_stats(const torch::Tensor& logits, const std::vector<int32_t>& ids, int64_t top_k,
                                          const Tokenizer* tok) {
  const int64_t T = logits.size(0);
  if (static_cast<int64_t>(ids.size()) != T) throw RunError("position_stats: one token per row of logits");
  auto logp = torch::log_softmax(logits.to(torch::kDouble), -1).to(torch::kCPU);  // (T, V)
  auto p = logp.exp();
  // H in bits; 0 * log 0 counts as 0.
  auto entropy = -torch::where(p > 0, p * logp, torch::zeros_like(p)).sum(-1) / std::log(2.0);
  auto tops = top_candidates(logits, top_k, tok);
  std::vector<ProbePosition> out(static_cast<size_t>(T));
  for (int64_t t = 0; t < T; ++t) {
    ProbePosition& pos = out[static_cast<size_t>(t)];
    pos.id = ids[static_cast<size_t>(t)];
    pos.text = token_display(tok, pos.id);
    pos.top = std::move(tops[static_cast<size_t>(t)]);
    pos.entropy_bits = entropy[t].item<double>();
    if (t + 1 < T) {
      const int32_t next = ids[static_cast<size_t>(t) + 1];
      auto row = p[t];
      pos.next_prob = row[next].item<double>();
      pos.next_rank = 1 + (row > pos.next_prob).sum().item<int64_t>();
    }
  }
  return out;
}

ProbeResult probe(GPT& model, const std::vector<int32_t>& ids, int64_t top_k, const Tokenizer* tok) {
  const int64_t block = model->config().block_size;
  if (ids.empty()) throw RunError("probe: the prompt has no tokens");
  if (static_cast<int64_t>(ids.size()) > block) {
    throw RunError(strprintf("probe: the prompt has %lld tokens, more than the model's context (model.block_size = "
                             "%lld); shorten it", (long long)ids.size(), (long long)block));
  }
  EvalModeGuard eval_mode(model);
  torch::NoGradGuard no_grad;
  const torch::Device device = model->wte->weight.device();
  auto idx = torch::tensor(std::vector<int64_t>(ids.begin(), ids.end()), torch::kLong).unsqueeze(0).to(device);
  ForwardResult fr = model->forward_inspect(idx, /*residuals=*/true, /*attention=*/true);

  ProbeResult r;
  r.top_k = top_k;
  r.positions = position_stats(fr.logits[0], ids, top_k, tok);
  for (size_t l = 0; l < fr.residuals.size(); ++l) {
    LensLayer layer;
    layer.name = l == 0 ? "embed" : "block " + std::to_string(l - 1);
    layer.top = top_candidates(model->lens(fr.residuals[l])[0], top_k, tok);
    r.lens.push_back(std::move(layer));
  }
  std::vector<torch::Tensor> att;
  for (const auto& a : fr.attentions) att.push_back(a[0].to(torch::kCPU, torch::kFloat));
  r.attention = torch::stack(att);  // (L, H, T, T)
  return r;
}

}  // namespace gptforge
