// The token probe (`gptforge probe`): what the model predicts at every position of a prompt, how
// sure it is, what each layer's residual stream already "says" (the logit lens), and where each
// attention head looks. probe_report.h turns the result into a table, JSON and an HTML report.
//
// For the prompt's tokens x_0 .. x_{T-1} (at most block_size of them) and position i:
//   top          the top_k candidates for x_{i+1}: softmax(logits[i]) sorted, with probabilities
//   entropy      H = -sum_v p(v) log2 p(v), in bits
//   next_rank    the 1-based rank of the token that actually follows, x_{i+1}: 1 + the number of
//                tokens more probable than it (0 at the last position, where none follows)
//   logit lens   for each residual r_l (the embedding output, then after each block), the top_k of
//                softmax(lm_head(ln_f(r_l))): GPT::lens. After the last block this is the output.
//   attention    the attention probabilities (n_layer, n_head, T, T): row = query, column = key.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "model/gpt.h"
#include "tokenizer/tokenizer.h"

namespace gptforge {

struct TokenCandidate {
  int32_t id = 0;
  std::string text;  // token_display
  double prob = 0;
};

struct ProbePosition {
  int32_t id = 0;
  std::string text;                  // token_display of the token at this position
  std::vector<TokenCandidate> top;   // candidates for the next token, most probable first
  double entropy_bits = 0;
  int64_t next_rank = 0;             // 0: last position
  double next_prob = 0;              // probability given to the token that follows
  // Where the token came from: "prompt", "model" (sampled by `probe --generate`) or "tool" (a tool's
  // result, forced by the decoder: the model read it but did not choose it, tool_calls.h).
  std::string origin = "prompt";
};

struct LensLayer {
  std::string name;                                  // "embed", "block 0", ...
  std::vector<std::vector<TokenCandidate>> top;      // per position
};

struct ProbeResult {
  std::string source;  // what was probed (the checkpoint), for reports
  std::string prompt;
  int64_t top_k = 0;
  std::vector<ProbePosition> positions;
  std::vector<LensLayer> lens;  // n_layer + 1 layers
  torch::Tensor attention;      // (n_layer, n_head, T, T) float, CPU
};

// A token as a reader should see it: its decoded text with newlines and tabs as \n and \t, a
// special token or a byte that is not printable ASCII as its piece ("<|user|>", "<0xE2>"); "#id"
// without a tokenizer. Always valid UTF-8.
std::string token_display(const Tokenizer* tok, int32_t id);

// The k most probable tokens of each row of logits (T, V) -> T lists.
std::vector<std::vector<TokenCandidate>> top_candidates(const torch::Tensor& logits, int64_t k, const Tokenizer* tok);

// Per-position statistics from the logits (T, V) of the tokens `ids` (size T): candidates,
// entropy and the rank of the following token.
std::vector<ProbePosition> position_stats(const torch::Tensor& logits, const std::vector<int32_t>& ids, int64_t top_k,
                                          const Tokenizer* tok);

// Runs the model once over `ids` (1 <= size <= block_size) with residuals and attention. The model is
// put in eval mode for the call. Throws RunError for an empty or too long prompt.
ProbeResult probe(GPT& model, const std::vector<int32_t>& ids, int64_t top_k, const Tokenizer* tok);

}  // namespace gptforge
