// Training a sentencepiece tokenizer on the files of data.inputs (`gptforge tokenizer train`):
// the corpus reader (corpus.h) hands the tokenizer trainer (tokenizer/trainer.h) its text, one line
// of plain text or one JSONL record's text at a time, so the tokenizer and `prepare` see the same text.
#pragma once
#include <cstdint>

#include "tokenizer/trainer.h"
#include "data/data_config.h"
#include "tokenizer/tokenizer_config.h"

namespace gptforge {

// Trains on corpus.inputs (files, directories, globs; text or JSONL, read with corpus.format and
// corpus.jsonl_field) and writes PREFIX.model and PREFIX.vocab, each atomically (see
// tokenizer/trainer.h). Throws DataError for a missing input, an empty corpus or a vocab_size the
// corpus cannot fill (naming tokenizer.vocab_size), ConfigError for an invalid combination of keys.
// `threads` is used when corpus.threads is 0 (pass effective_threads(run)).
TokenizerTrainStats train_tokenizer(const TokenizerConfig& cfg, const DataConfig& corpus, int threads,
                                    uint64_t seed = 1337);

}  // namespace gptforge
