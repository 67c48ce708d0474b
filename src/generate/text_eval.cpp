#include "generate/text_eval.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <stdexcept>

#include "model/loss.h"
#include "util/errors.h"
#include "util/log.h"
#include "util/progress.h"

namespace fs = std::filesystem;

namespace gptforge {

EvalText read_eval_text(const std::vector<std::string>& files, const CorpusOptions& opts) {
  for (const auto& f : files) {
    std::error_code ec;
    fs::file_status st = fs::status(f, ec);
    if (!fs::exists(st)) throw DataError(f + ": no such file");
    if (!fs::is_regular_file(st)) throw DataError(f + ": not a regular file (give text or JSONL files)");
  }
  EvalText text;
  text.files = files;
  std::vector<int64_t> docs_per_file(files.size(), 0);
  CorpusReader reader(files, opts);
  TextChunk chunk;
  while (reader.next(chunk)) {
    text.bytes += static_cast<int64_t>(chunk.text.size());
    if (chunk.doc_end) ++docs_per_file[static_cast<size_t>(chunk.file)];
    text.chunks.push_back(std::move(chunk));
    chunk = TextChunk{};
  }
  for (size_t i = 0; i < files.size(); ++i) {
    if (docs_per_file[i] == 0) {
      throw DataError(files[i] + ": no text to evaluate (the file is empty, blank, or its JSONL records have empty '" +
                      opts.jsonl_field + "' fields)");
    }
  }
  text.documents = reader.documents();
  text.invalid_utf8 = reader.invalid_utf8();
  return text;
}

std::vector<int64_t> tokenize_eval_text(const EvalText& text, const Tokenizer& tokenizer) {
  const int32_t eos = tokenizer.eos_id();
  if (eos < 0) throw DataError("the tokenizer has no end-of-sequence token to separate documents");
  std::vector<int64_t> tokens;
  for (const TextChunk& c : text.chunks) {
    std::vector<int32_t> ids;
    try {
      ids = tokenizer.encode(c.text);
    } catch (const Error& e) {
      throw DataError(text.files[static_cast<size_t>(c.file)] + ":" + std::to_string(c.line) + ": " + e.what());
    }
    tokens.insert(tokens.end(), ids.begin(), ids.end());
    if (c.doc_end) tokens.push_back(eos);  // as prepare writes a split
  }
  return tokens;
}

std::vector<ScoreWindow> plan_windows(int64_t n_tokens, int64_t context, int64_t stride) {
  if (context < 1 || stride < 1 || stride > context) {
    throw std::invalid_argument("plan_windows: need 1 <= stride <= context");
  }
  std::vector<ScoreWindow> windows;
  const int64_t last = n_tokens - 1;  // the last target's index
  int64_t scored_to = 0;              // targets t[1..scored_to] are scored
  for (int64_t begin = 0; scored_to < last; begin += stride) {
    // The last window ends at the last token, full length when the stream allows.
    if (begin + context > last) begin = std::max<int64_t>(0, last - context);
    ScoreWindow w;
    w.begin = begin;
    w.length = std::min(context, last - begin);
    w.skip = scored_to - begin;
    windows.push_back(w);
    scored_to = begin + w.length;
  }
  return windows;
}

TokenScore score_tokens(GPT& model, const std::vector<int64_t>& tokens, int64_t context, int64_t stride,
                        int64_t batch_size, torch::Device device, const std::function<void(int64_t)>& on_progress) {
  torch::NoGradGuard no_grad;
  const bool was_training = model->is_training();
  model->eval();
  const std::vector<ScoreWindow> windows = plan_windows(static_cast<int64_t>(tokens.size()), context, stride);
  TokenScore score;
  // Summed where the model runs and read once at the end: no host sync per forward.
  torch::Tensor loss_sum = torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat64).device(device));
  for (size_t first = 0; first < windows.size();) {
    // Windows of one length share a forward (only a stream shorter than the context has a short one).
    const int64_t len = windows[first].length;
    size_t end = first + 1;
    while (end < windows.size() && static_cast<int64_t>(end - first) < batch_size && windows[end].length == len) ++end;
    const auto rows = static_cast<int64_t>(end - first);
    torch::Tensor x = torch::empty({rows, len}, torch::kLong);
    int64_t* xp = x.data_ptr<int64_t>();
    std::vector<int64_t> positions, targets;  // flattened (rows * len) indices of the scored targets
    for (int64_t r = 0; r < rows; ++r) {
      const ScoreWindow& w = windows[first + static_cast<size_t>(r)];
      std::copy_n(tokens.begin() + w.begin, len, xp + r * len);
      for (int64_t j = w.skip; j < len; ++j) {
        positions.push_back(r * len + j);
        targets.push_back(tokens[static_cast<size_t>(w.begin + 1 + j)]);
      }
    }
    torch::Tensor logits = model->forward_rows(x.to(device), torch::tensor(positions, torch::kLong).to(device));
    LossSum ls = lm_loss_sum(logits, torch::tensor(targets, torch::kLong).to(device));
    loss_sum += ls.sum.to(torch::kFloat64);
    score.scored += static_cast<int64_t>(targets.size());
    if (on_progress) on_progress(score.scored);
    first = end;
  }
  score.loss_sum = loss_sum.item<double>();
  if (was_training) model->train();
  return score;
}

double TextEvalResult::loss() const { return score.scored > 0 ? score.loss_sum / score.scored : 0.0; }
double TextEvalResult::perplexity() const { return std::exp(loss()); }
double TextEvalResult::bits_per_byte() const {
  return bytes > 0 ? loss() / std::log(2.0) * static_cast<double>(tokens) / static_cast<double>(bytes) : 0.0;
}

TextEvalResult evaluate_text(LoadedModel& m, const EvalText& text, const TextEvalOptions& opts) {
  const int64_t context = m.config.model.block_size;
  if (opts.stride > context) {
    throw ConfigError(strprintf("eval.stride=%lld exceeds the context of %s (model.block_size=%lld): the tokens "
                                "between windows would go unscored",
                                static_cast<long long>(opts.stride), m.dir.c_str(), static_cast<long long>(context)));
  }
  TextEvalResult r;
  r.checkpoint = m.dir;
  r.context = context;
  r.stride = opts.stride > 0 ? opts.stride : context;
  r.bytes = text.bytes;
  const std::vector<int64_t> tokens = tokenize_eval_text(text, m.tokenizer);
  r.tokens = static_cast<int64_t>(tokens.size());
  Progress progress("eval", r.tokens - 1, opts.progress);
  r.score = score_tokens(m.model, tokens, context, r.stride, opts.batch_size, m.device, [&](int64_t done) {
    progress.update(done, "tokens scored");
  });
  progress.finish(strprintf("loss %.4f", r.loss()));
  return r;
}

}  // namespace gptforge
