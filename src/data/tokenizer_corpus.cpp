#include "data/tokenizer_corpus.h"

#include "data/corpus.h"
#include "util/errors.h"
#include "util/files.h"
#include "util/log.h"
#include "util/strings.h"

namespace gptforge {

namespace {

// The corpus as the tokenizer trainer reads it: every non-blank line of plain text, every JSONL
// record's text field.
class CorpusText : public TextSource {
 public:
  CorpusText(std::vector<std::string> files, const DataConfig& corpus) : reader_(std::move(files), options(corpus)) {}

  bool next(std::string& text) override {
    if (!reader_.next(chunk_)) return false;
    text = std::move(chunk_.text);
    return true;
  }
  int64_t invalid_utf8() const { return reader_.invalid_utf8(); }

 private:
  static CorpusOptions options(const DataConfig& corpus) {
    CorpusOptions o;
    o.format = corpus.format;
    o.jsonl_field = corpus.jsonl_field;
    o.documents = DocumentMode::Line;  // plain text: one sentence a line
    return o;
  }

  CorpusReader reader_;
  TextChunk chunk_;
};

// A TextSource that has read its first document already (to tell an empty corpus by its files).
class Peeked : public TextSource {
 public:
  explicit Peeked(TextSource& text) : text_(text) { has_first_ = text_.next(first_); }
  bool empty() const { return !has_first_; }
  bool next(std::string& text) override {
    if (!has_first_) return text_.next(text);
    text = std::move(first_);
    has_first_ = false;
    return true;
  }

 private:
  TextSource& text_;
  std::string first_;
  bool has_first_ = false;
};

}  // namespace

TokenizerTrainStats train_tokenizer(const TokenizerConfig& cfg, const DataConfig& corpus, int threads,
                                    uint64_t seed) {
  if (corpus.inputs.empty()) throw ConfigError("data.inputs is empty: name the files, directories or globs to train on");
  check_tokenizer_config(cfg);
  std::vector<std::string> files = expand_inputs(corpus.inputs);
  CorpusText text(files, corpus);
  Peeked peeked(text);
  if (peeked.empty()) {
    throw DataError(join(corpus.inputs, ", ") + ": the corpus is empty (no text in " + std::to_string(files.size()) +
                    " file(s) of data.inputs)");
  }
  log_info(strprintf("reading %zu file(s) of data.inputs", files.size()));
  const int train_threads = corpus.threads > 0 ? static_cast<int>(corpus.threads) : threads;
  TokenizerTrainStats stats = train_tokenizer(cfg, peeked, train_threads, seed);
  stats.files = static_cast<int64_t>(files.size());
  stats.invalid_utf8 = text.invalid_utf8();
  if (stats.invalid_utf8 > 0) {
    log_warn(strprintf("%lld invalid UTF-8 sequence(s) in data.inputs were replaced with U+FFFD",
                       static_cast<long long>(stats.invalid_utf8)));
  }
  return stats;
}

}  // namespace gptforge
