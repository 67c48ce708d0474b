// Small synthetic corpora and a tokenizer trained on one, shared by the tokenizer and data tests.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "test_helpers.h"
#include "tokenizer/tokenizer.h"
#include "data/tokenizer_corpus.h"

namespace gptforge::testing {

// Deterministic English-like text: `n` sentences of pseudo-random words from a fixed syllable set,
// with digits, punctuation and a few Cyrillic words mixed in.
inline std::string synthetic_text(int n, uint64_t seed = 1) {
  static const char* syllables[] = {"the", "qu", "ick", "bro", "wn", "fox", "ju", "mps", "ov", "er", "la",
                                    "zy", "dog", "an", "in", "on", "re", "st", "ing", "ed", "al", "ter"};
  static const char* extra[] = {"мир", "код", "дом", "2024", "x = 1;", "(a, b)", "e.g.", "it's"};
  uint64_t s = seed * 0x9E3779B97F4A7C15ULL + 1;
  auto rnd = [&](uint64_t n) {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s % n;
  };
  std::string out;
  for (int i = 0; i < n; ++i) {
    int words = 4 + static_cast<int>(rnd(8));
    for (int w = 0; w < words; ++w) {
      if (w) out += ' ';
      if (rnd(10) == 0) {
        out += extra[rnd(8)];
        continue;
      }
      int syl = 1 + static_cast<int>(rnd(3));
      for (int k = 0; k < syl; ++k) out += syllables[rnd(22)];
    }
    out += rnd(3) == 0 ? ".\n" : ". ";
  }
  return out + "\n";
}

// A BPE tokenizer (vocab 400) trained once per test process on synthetic_text; returns its path.
inline const std::string& tiny_tokenizer() {
  static TempDir dir;
  static const std::string path = [] {
    TokenizerConfig cfg;
    DataConfig corpus;
    corpus.inputs = {dir.write("corpus.txt", synthetic_text(3000))};
    cfg.model_prefix = dir.file("tiny");
    cfg.vocab_size = 400;
    cfg.character_coverage = 1.0;
    return train_tokenizer(cfg, corpus, 2).model_path;
  }();
  return path;
}

// A 300-piece BPE tokenizer trained in `dir` on 200 lines, line(0) ... line(199): small enough to
// train in a test, with the reserved chat tokens every gptforge tokenizer has.
inline Tokenizer tokenizer_from_lines(const TempDir& dir, const std::function<std::string(int)>& line) {
  std::string text;
  for (int i = 0; i < 200; ++i) text += line(i) + "\n";
  TokenizerConfig cfg;
  DataConfig corpus;
  corpus.inputs = {dir.write("corpus.txt", text)};
  cfg.model_prefix = dir.file("tok");
  cfg.vocab_size = 300;
  train_tokenizer(cfg, corpus, 1);
  return Tokenizer::load(dir.file("tok.model"));
}

}  // namespace gptforge::testing
