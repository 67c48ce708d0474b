// Training a sentencepiece tokenizer from raw corpora (`gptforge tokenizer train`).
#pragma once
#include <cstdint>
#include <string>
#include <unordered_map>

#include "tokenizer/tokenizer_config.h"

namespace gptforge {

struct TokenizerTrainStats {
  std::string model_path;  // PREFIX.model
  std::string vocab_path;  // PREFIX.vocab: one "piece<TAB>score" line per id
  int64_t vocab_size = 0;
  int64_t files = 0;
  int64_t sentences = 0;  // lines handed to sentencepiece (it samples up to max_sentences of them)
  int64_t bytes = 0;      // bytes of those lines
  int64_t invalid_utf8 = 0;
  double seconds = 0;
};

// The text a tokenizer learns from, one document at a time (data/tokenizer_corpus.h reads it from
// files). next() returns false at the end; it may throw (a bad file): the trainer rethrows that once
// sentencepiece has returned.
class TextSource {
 public:
  virtual ~TextSource() = default;
  virtual bool next(std::string& text) = 0;
};

// Throws ConfigError for settings no corpus can train with (no model_prefix, a vocab_size that the
// special tokens fill), before any text is read.
void check_tokenizer_config(const TokenizerConfig& cfg);

// Trains on `text` and writes PREFIX.model and PREFIX.vocab, each atomically. Every line of a
// document is one sentencepiece "sentence"; lines longer than max_sentence_length are cut at a space.
// The special tokens take ids 0..7 (see tokenizer.h). `seed` makes the sentence sampling
// reproducible. Throws DataError for an empty text or a vocab_size the text cannot fill (naming
// tokenizer.vocab_size). `threads`: sentencepiece's training threads.
// Fills every stat but files and invalid_utf8, which belong to the reader of the files.
TokenizerTrainStats train_tokenizer(const TokenizerConfig& cfg, TextSource& text, int threads, uint64_t seed = 1337);

// The sentencepiece trainer arguments train_tokenizer uses (exposed for tests and `--debug`).
std::unordered_map<std::string, std::string> sentencepiece_trainer_args(const TokenizerConfig& cfg, int threads);

}  // namespace gptforge
