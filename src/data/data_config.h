// The corpus and its tokenization into shards: the section `data:` of a config, and the
// instruction-file formats (sft.format) the data layer reads.
// Declarations only: util/config.h assembles the sections (README, "The pipeline").
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "util/config_field.h"

namespace gptforge {

// data.format: auto picks JSONL for *.jsonl / *.ndjson files.
enum class TextFormat { Auto, Text, Jsonl };
template <>
struct ChoiceNames<TextFormat> {
  static constexpr std::pair<TextFormat, const char*> table[] = {
      {TextFormat::Auto, "auto"}, {TextFormat::Text, "text"}, {TextFormat::Jsonl, "jsonl"}};
};

// data.documents: how plain text splits into documents.
enum class DocumentMode { File, Paragraph, Line };
template <>
struct ChoiceNames<DocumentMode> {
  static constexpr std::pair<DocumentMode, const char*> table[] = {
      {DocumentMode::File, "file"}, {DocumentMode::Paragraph, "paragraph"}, {DocumentMode::Line, "line"}};
};

// data.invalid_utf8
enum class InvalidUtf8 { Replace, Reject };
template <>
struct ChoiceNames<InvalidUtf8> {
  static constexpr std::pair<InvalidUtf8, const char*> table[] = {
      {InvalidUtf8::Replace, "replace"}, {InvalidUtf8::Reject, "reject"}};
};

// sft.format: auto detects it per record.
enum class InstructFormat { Auto, Alpaca, Chat };
template <>
struct ChoiceNames<InstructFormat> {
  static constexpr std::pair<InstructFormat, const char*> table[] = {
      {InstructFormat::Auto, "auto"}, {InstructFormat::Alpaca, "alpaca"}, {InstructFormat::Chat, "chat"}};
};

struct DataConfig {
  std::vector<std::string> inputs;
  Choice<TextFormat> format = TextFormat::Auto;
  std::string jsonl_field = "text";
  Choice<DocumentMode> documents = DocumentMode::Paragraph;
  std::string tokenizer = "data/tokenizers/tok.model";
  std::string out_dir = "data/shards";
  double val_fraction = 0.05;
  int64_t shard_tokens = 50000000;
  Choice<InvalidUtf8> invalid_utf8 = InvalidUtf8::Replace;
  int64_t threads = 0;

  template <class V>
  void fields(V& v) {
    v("inputs", inputs, "The corpus: files, directories or globs (`tokenizer train` learns from it, `prepare` "
                        "tokenizes it)");
    v("format", format, "Input format: auto (by extension), text, or jsonl");
    v("jsonl_field", jsonl_field, "Field holding the text in JSONL inputs");
    v("documents", documents, "How plain text splits into documents: whole file, blank-line paragraph, or line");
    v("tokenizer", tokenizer, "sentencepiece model used to encode the corpus");
    v("out_dir", out_dir, "Directory for the token shards and meta.json");
    v("val_fraction", val_fraction, "Share of documents held out for validation", Range{0.0, 0.5});
    v("shard_tokens", shard_tokens, "Most tokens in one shard file", Range{1000, 4e9});
    v("invalid_utf8", invalid_utf8, "Invalid UTF-8 in the corpus: replace with U+FFFD (counted) or reject");
    v("threads", threads, "Threads for tokenizer training and encoding; 0 uses run.threads", Range{0, 1024});
  }
};

}  // namespace gptforge
