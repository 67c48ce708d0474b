// Perplexity and bits per byte of a model on text (`gptforge eval --text`), as llama-perplexity and
// litgpt's evaluation report them.
//
// Text: the files are read as `prepare` reads a corpus (data.format, data.jsonl_field,
// data.documents, data.invalid_utf8: the same documents, the same U+FFFD replacement), once for all
// checkpoints. Each checkpoint encodes every document with its own tokenizer and follows it with
// EOS, exactly as prepare writes a split, so on the same text the token stream equals the shards'.
//
// Windows: the stream t[0..N) is scored with windows of T = model.block_size inputs. Window k starts
// at k * stride; the first scores all its targets, every later one only the targets beyond what
// earlier windows scored, so each of t[1..N) is scored exactly once, with at least T - stride tokens
// of context (t[0] has no context and is not scored). The last window is moved back to end at the
// last token, so it is full length and its targets get as much context as fits. stride = T gives
// disjoint windows (the trainer's validation windows); stride = 1 scores every token with a full
// context of min(position, T) tokens.
//
// Figures: loss = the summed cross-entropy (nats) / scored tokens; perplexity = exp(loss);
// bits per byte = loss / ln 2 * N / bytes, that is the summed bits with the unscored first token
// charged at the mean rate, over `bytes`, the UTF-8 bytes of the documents' text as read (what
// prepare records as a split's source bytes; EOS adds none). The trainer's validation bits per byte
// is the same formula (mean loss over its windows * tokens / bytes of the split), so the two agree
// when they score the same windows. `bytes` does not depend on the tokenizer, so the figure
// compares models with different tokenizers.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "checkpoint/loaded_model.h"
#include "data/corpus.h"
#include "model/gpt.h"
#include "tokenizer/tokenizer.h"

namespace gptforge {

// The documents of the evaluated files, read once.
struct EvalText {
  std::vector<std::string> files;
  std::vector<TextChunk> chunks;  // document pieces in order (see CorpusReader)
  int64_t bytes = 0;              // UTF-8 bytes of the documents' text
  int64_t documents = 0;
  int64_t invalid_utf8 = 0;       // sequences replaced with U+FFFD
};

// Reads `files` with `opts`. Throws DataError naming the file when one is missing, not a regular
// file, or holds no document (empty, only blank lines, or only empty JSONL fields), and for
// everything CorpusReader rejects.
EvalText read_eval_text(const std::vector<std::string>& files, const CorpusOptions& opts);

// Every document's tokens followed by EOS. Throws DataError when the tokenizer has no EOS.
std::vector<int64_t> tokenize_eval_text(const EvalText& text, const Tokenizer& tokenizer);

// One window: inputs t[begin, begin + length), targets t[begin + 1, begin + length + 1); the first
// `skip` targets were scored by an earlier window.
struct ScoreWindow {
  int64_t begin = 0, length = 0, skip = 0;
};
// The windows over n_tokens tokens (see the top of this file). stride in [1, context].
std::vector<ScoreWindow> plan_windows(int64_t n_tokens, int64_t context, int64_t stride);

struct TokenScore {
  double loss_sum = 0;  // nats, summed over the scored targets
  int64_t scored = 0;   // targets scored: n_tokens - 1
};
// Scores `tokens` with the windows of plan_windows, up to batch_size windows per forward (only the
// scored positions go through the LM head). on_progress(scored so far) after each forward.
TokenScore score_tokens(GPT& model, const std::vector<int64_t>& tokens, int64_t context, int64_t stride,
                        int64_t batch_size, torch::Device device,
                        const std::function<void(int64_t)>& on_progress = nullptr);

struct TextEvalResult {
  std::string checkpoint;
  int64_t context = 0, stride = 0;
  int64_t tokens = 0;  // N: the stream, EOS included
  int64_t bytes = 0;
  TokenScore score;
  double loss() const;           // nats per scored token
  double perplexity() const;     // exp(loss)
  double bits_per_byte() const;  // loss / ln 2 * tokens / bytes
};

struct TextEvalOptions {
  int64_t stride = 0;  // eval.stride; 0 = the model's context
  int64_t batch_size = 8;
  Choice<ProgressMode> progress = ProgressMode::Off;  // run.progress
};

// Tokenizes `text` with m's tokenizer and scores it with m's model. Throws ConfigError naming
// eval.stride when it exceeds m's context (tokens would go unscored).
TextEvalResult evaluate_text(LoadedModel& m, const EvalText& text, const TextEvalOptions& opts);

}  // namespace gptforge
