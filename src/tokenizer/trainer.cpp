#include "tokenizer/trainer.h"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <chrono>
#include <deque>
#include <exception>
#include <regex>
#include <sstream>
#include <type_traits>
#include <utility>

#include "tokenizer/tokenizer.h"
#include "util/errors.h"
#include "util/files.h"
#include "util/log.h"
#include "util/strings.h"
#include "util/units.h"
#include "util/utf8.h"

namespace gptforge {

namespace {

// sentencepiece 0.1 reports errors as its own util::Status, 0.2 as absl::Status: both have the same
// constructor and codes.
using SpStatus = std::decay_t<decltype(std::declval<const sentencepiece::SentenceIterator&>().status())>;
using SpStatusCode = decltype(std::declval<const SpStatus&>().code());

// Hands the text to sentencepiece one line at a time, without a temporary copy on disk. Errors
// (an unreadable file, bad JSON) end the stream; train_tokenizer rethrows them afterwards.
class Sentences : public sentencepiece::SentenceIterator {
 public:
  Sentences(TextSource& text, const TokenizerConfig& cfg)
      : text_(text), max_len_(static_cast<size_t>(cfg.max_sentence_length)) {
    advance();
  }
  bool done() const override { return done_; }
  void Next() override { advance(); }
  const std::string& value() const override { return value_; }
  SpStatus status() const override {
    if (!error_) return SpStatus();
    return SpStatus(SpStatusCode::kInternal, "reading the corpus failed");
  }

  std::exception_ptr error() const { return error_; }
  int64_t sentences() const { return sentences_; }
  int64_t bytes() const { return bytes_; }

 private:
  // Splits a document into its lines, and lines longer than max_len_ before a space (or at a
  // character boundary when there is none), so sentencepiece skips nothing.
  void split(const std::string& text) {
    size_t pos = 0;
    while (pos < text.size()) {
      size_t end = text.find('\n', pos);
      if (end == std::string::npos) end = text.size();
      std::string_view line(text.data() + pos, end - pos);
      while (line.size() > max_len_) {
        size_t cut = line.rfind(' ', max_len_);
        if (cut == 0 || cut == std::string_view::npos) cut = complete_utf8_prefix(line.substr(0, max_len_));
        if (cut == 0) cut = max_len_;
        queue_.emplace_back(line.substr(0, cut));
        line.remove_prefix(cut);
      }
      if (!line.empty()) queue_.emplace_back(line);
      pos = end + 1;
    }
  }

  void advance() {
    try {
      while (queue_.empty()) {
        if (!text_.next(document_)) {
          done_ = true;
          return;
        }
        split(document_);
      }
      value_ = std::move(queue_.front());
      queue_.pop_front();
      ++sentences_;
      bytes_ += static_cast<int64_t>(value_.size());
    } catch (...) {
      error_ = std::current_exception();
      done_ = true;
    }
  }

  TextSource& text_;
  size_t max_len_;
  std::string document_;
  std::deque<std::string> queue_;
  std::string value_;
  bool done_ = false;
  std::exception_ptr error_;
  int64_t sentences_ = 0, bytes_ = 0;
};

// sentencepiece's messages start with "Internal: src/file.cc(123) [condition] "; keep the rest.
std::string strip_location(const std::string& msg) {
  size_t close = msg.find("] ");
  if (msg.find(".cc(") != std::string::npos && close != std::string::npos) return msg.substr(close + 2);
  return msg;
}

// A user-facing error for a failed sentencepiece training.
[[noreturn]] void throw_training_error(const std::string& raw, const TokenizerConfig& cfg) {
  std::string msg = strip_location(raw);
  std::string vs = "tokenizer.vocab_size=" + std::to_string(cfg.vocab_size);
  std::smatch m;
  if (std::regex_search(msg, m, std::regex("Vocabulary size too high.*<= *([0-9]+)"))) {
    throw DataError(vs + " is more than this corpus can fill: sentencepiece can learn at most " + m[1].str() +
                    " pieces from it; lower tokenizer.vocab_size or train on more text");
  }
  if (msg.find("smaller than required_chars") != std::string::npos || raw.find("(vocab_size) >= (0)") != std::string::npos) {
    throw DataError(vs + " is too small for this corpus: its characters, the " + std::to_string(kNumReservedIds) +
                    " special tokens" + (cfg.byte_fallback ? " and the 256 byte pieces" : "") +
                    " need more ids; raise tokenizer.vocab_size or lower tokenizer.character_coverage (" + msg + ")");
  }
  throw DataError("tokenizer training failed: " + msg);
}

}  // namespace

std::unordered_map<std::string, std::string> sentencepiece_trainer_args(const TokenizerConfig& cfg, int threads) {
  const auto b = [](bool v) { return std::string(v ? "true" : "false"); };
  std::ostringstream coverage;
  coverage << cfg.character_coverage;
  return {
      {"model_type", cfg.model_type.name()},
      {"vocab_size", std::to_string(cfg.vocab_size)},
      {"byte_fallback", b(cfg.byte_fallback)},
      {"split_digits", b(cfg.split_digits)},
      {"character_coverage", coverage.str()},
      {"input_sentence_size", std::to_string(cfg.max_sentences)},
      {"shuffle_input_sentence", "true"},
      {"max_sentence_length", std::to_string(cfg.max_sentence_length)},
      {"num_threads", std::to_string(std::max(1, threads))},
      // Byte-exact text: no normalisation, whitespace kept as it is, no space added in front.
      {"normalization_rule_name", cfg.normalization.name()},
      {"remove_extra_whitespaces", "false"},
      {"add_dummy_prefix", "false"},
      {"allow_whitespace_only_pieces", "true"},  // runs of spaces (code indentation) may merge
      // Fixed special ids; chat roles are control symbols, which text can never produce.
      {"pad_id", std::to_string(kPadId)},
      {"unk_id", std::to_string(kUnkId)},
      {"bos_id", std::to_string(kBosId)},
      {"eos_id", std::to_string(kEosId)},
      {"pad_piece", special_piece(Special::Pad)},
      {"unk_piece", special_piece(Special::Unk)},
      {"bos_piece", special_piece(Special::Bos)},
      {"eos_piece", special_piece(Special::Eos)},
      {"control_symbols", join({special_piece(Special::System), special_piece(Special::User),
                                special_piece(Special::Assistant), special_piece(Special::End),
                                special_piece(Special::ToolCall), special_piece(Special::ToolResult),
                                special_piece(Special::ToolEnd)},
                               ",")},
      {"minloglevel", log_level() == LogLevel::Debug ? "0" : "2"},
  };
}

void check_tokenizer_config(const TokenizerConfig& cfg) {
  if (cfg.model_prefix.empty()) throw ConfigError("tokenizer.model_prefix is empty");
  const int64_t reserved = kNumReservedIds + (cfg.byte_fallback ? 256 : 0);
  if (cfg.vocab_size <= reserved) {
    throw ConfigError("tokenizer.vocab_size=" + std::to_string(cfg.vocab_size) + " is too small: ids 0.." +
                      std::to_string(reserved - 1) + " are reserved for " + std::to_string(kNumReservedIds) +
                      " special tokens" + (cfg.byte_fallback ? " and 256 byte-fallback pieces" : "") +
                      "; use at least " + std::to_string(reserved + 64));
  }
}

TokenizerTrainStats train_tokenizer(const TokenizerConfig& cfg, TextSource& text, int threads, uint64_t seed) {
  auto start = std::chrono::steady_clock::now();
  check_tokenizer_config(cfg);
  Sentences sentences(text, cfg);
  if (sentences.error()) std::rethrow_exception(sentences.error());
  if (sentences.done()) throw DataError("the corpus is empty (no text in data.inputs)");

  auto args = sentencepiece_trainer_args(cfg, threads);
  log_info(strprintf("training a %s tokenizer (vocab %lld) ...", cfg.model_type.name(),
                     static_cast<long long>(cfg.vocab_size)));
  sentencepiece::SetRandomGeneratorSeed(static_cast<unsigned int>(seed & 0x7fffffff));
  std::string model;
  auto status = sentencepiece::SentencePieceTrainer::Train(args, &sentences, &model);
  if (sentences.error()) std::rethrow_exception(sentences.error());
  if (!status.ok()) throw_training_error(std::string(status.message()), cfg);  // a string_view in 0.2

  // Check the layout every later stage relies on before writing anything.
  sentencepiece::SentencePieceProcessor sp;
  if (!sp.LoadFromSerializedProto(model).ok()) throw RunError("sentencepiece produced an unreadable model");
  for (Special s : {Special::Pad, Special::Unk, Special::Bos, Special::Eos, Special::System, Special::User,
                    Special::Assistant, Special::End, Special::ToolCall, Special::ToolResult, Special::ToolEnd}) {
    int id = static_cast<int>(s);
    if (sp.IdToPiece(id) != special_piece(s)) {
      throw RunError("trained tokenizer has '" + sp.IdToPiece(id) + "' at id " + std::to_string(id) + ", expected " +
                     special_piece(s));
    }
  }

  TokenizerTrainStats stats;
  stats.model_path = cfg.model_prefix + ".model";
  stats.vocab_path = cfg.model_prefix + ".vocab";
  std::ostringstream vocab;
  for (int i = 0; i < sp.GetPieceSize(); ++i) vocab << sp.IdToPiece(i) << '\t' << sp.GetScore(i) << '\n';
  write_file_atomic(stats.vocab_path, vocab.str());
  write_file_atomic(stats.model_path, model);

  stats.vocab_size = sp.GetPieceSize();
  stats.sentences = sentences.sentences();
  stats.bytes = sentences.bytes();
  stats.seconds = seconds_since(start);
  return stats;
}

}  // namespace gptforge
