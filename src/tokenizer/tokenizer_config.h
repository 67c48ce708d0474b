// `tokenizer train`'s options: the section `tokenizer:` of a config.
// Declarations only: util/config.h assembles the sections (README, "The pipeline").
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "util/config_field.h"

namespace gptforge {

// tokenizer.model_type: sentencepiece's algorithms.
enum class TokenizerModel { Bpe, Unigram, Char };
template <>
struct ChoiceNames<TokenizerModel> {
  static constexpr std::pair<TokenizerModel, const char*> table[] = {
      {TokenizerModel::Bpe, "bpe"}, {TokenizerModel::Unigram, "unigram"}, {TokenizerModel::Char, "char"}};
};

// tokenizer.normalization: sentencepiece's rule names.
enum class Normalization { Identity, Nfkc, NmtNfkc };
template <>
struct ChoiceNames<Normalization> {
  static constexpr std::pair<Normalization, const char*> table[] = {
      {Normalization::Identity, "identity"}, {Normalization::Nfkc, "nfkc"}, {Normalization::NmtNfkc, "nmt_nfkc"}};
};

// The corpus the tokenizer learns from is data.inputs (with data.format, data.jsonl_field and
// data.threads): one corpus for `tokenizer train` and `prepare`.
struct TokenizerConfig {
  std::string model_prefix = "data/tokenizers/tok";
  Choice<TokenizerModel> model_type = TokenizerModel::Bpe;
  int64_t vocab_size = 4096;
  bool byte_fallback = true;
  bool split_digits = true;
  double character_coverage = 0.9995;
  int64_t max_sentences = 1000000;
  int64_t max_sentence_length = 16384;
  Choice<Normalization> normalization = Normalization::Identity;

  template <class V>
  void fields(V& v) {
    v("model_prefix", model_prefix, "Output path prefix: writes PREFIX.model and PREFIX.vocab");
    v("model_type", model_type, "sentencepiece algorithm");
    v("vocab_size", vocab_size, "Vocabulary size, special tokens included", Range{32, 1 << 20});
    v("byte_fallback", byte_fallback, "Unknown characters fall back to UTF-8 bytes, so any text round-trips");
    v("split_digits", split_digits, "Split numbers into single digits");
    v("character_coverage", character_coverage, "Share of characters covered by the vocabulary", Range{0.5, 1.0});
    v("max_sentences", max_sentences, "Cap on the sentences sampled to train the tokenizer", Range{1, 1e9});
    v("max_sentence_length", max_sentence_length, "Longest sentence (bytes) used in training", Range{16, 1e8});
    v("normalization", normalization, "Unicode normalisation; identity keeps text byte-exact");
  }
};

}  // namespace gptforge
