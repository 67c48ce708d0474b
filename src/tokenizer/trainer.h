// Training a sentencepiece tokenizer from raw corpora (`gptforge tokenizer train`).
#pragma once
#include <cstdint>
#include <string>
#include <unordered_map>

#include "util/config.h"

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

// Trains on cfg.inputs (files, directories, globs; text or JSONL) and writes PREFIX.model and
// PREFIX.vocab, each atomically. Every line of text (every line of a JSONL record's text) is one
// sentencepiece "sentence"; lines longer than max_sentence_length are cut at a space. The special
// tokens take ids 0..7 (see tokenizer.h). `seed` makes the sentence sampling reproducible.
// Throws DataError for a missing input, an empty corpus or a vocab_size the corpus cannot fill
// (naming tokenizer.vocab_size), ConfigError for an invalid combination of keys. `threads` is used
// when cfg.threads is 0 (pass effective_threads(run)).
TokenizerTrainStats train_tokenizer(const TokenizerConfig& cfg, int threads, uint64_t seed = 1337);

// The sentencepiece trainer arguments train_tokenizer uses (exposed for tests and `--debug`).
std::unordered_map<std::string, std::string> sentencepiece_trainer_args(const TokenizerConfig& cfg, int threads);

}  // namespace gptforge
