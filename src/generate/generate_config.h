// Decoding and evaluation: the sections `sample:` and `eval:` of a config.
// Declarations only: util/config.h assembles the sections (README, "The pipeline").
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "util/config_field.h"

namespace gptforge {

struct SampleConfig {
  std::string prompt;
  int64_t max_new_tokens = 256;
  double temperature = 0.8;
  int64_t top_k = 0;
  double top_p = 1.0;
  double min_p = 0.0;
  double repetition_penalty = 1.0;
  int64_t no_repeat_ngram = 0;
  int64_t beam_width = 1;
  double length_penalty = 1.0;
  int64_t num_samples = 1;
  std::vector<std::string> stop;
  std::string system;
  std::vector<std::string> tools;

  template <class V>
  void fields(V& v) {
    v("prompt", prompt, "Text to continue (also the prompt of training's periodic sample)");
    v("max_new_tokens", max_new_tokens, "Most tokens to generate", Range{1, 1e7});
    v("temperature", temperature, "Softmax temperature; 0 = greedy", Range{0, 100});
    v("top_k", top_k, "Keep the k most likely tokens (0 = off)", Range{0, 1 << 24});
    v("top_p", top_p, "Nucleus: keep the smallest set reaching probability p, in (0, 1]", Range{1e-9, 1});
    v("min_p", min_p, "Drop tokens below min_p times the top probability (0 = off)", Range{0, 1});
    v("repetition_penalty", repetition_penalty, "Penalise tokens already present (1 = off)", Range{1e-3, 100});
    v("no_repeat_ngram", no_repeat_ngram, "Never repeat an n-gram of this size (0 = off)", Range{0, 1024});
    v("beam_width", beam_width, "Beam search width (1 = no beam search)", Range{1, 1024});
    v("length_penalty", length_penalty, "Beam score = logprob / length^penalty", Range{0, 10});
    v("num_samples", num_samples, "Samples per prompt", Range{1, 1e6});
    v("stop", stop, "Stop strings: generation ends when one appears");
    v("system", system, "System prompt for chat");
    v("tools", tools,
      "Tools the model may call while decoding: calc (the calculator, generate/tool_calls.h); none when empty",
      ItemChoices{{"calc"}});
  }
};

struct EvalConfig {
  int64_t stride = 0;
  int64_t batch_size = 8;

  template <class V>
  void fields(V& v) {
    v("stride", stride,
      "eval --text: tokens between the starts of consecutive windows of model.block_size tokens; each window "
      "scores only the tokens no earlier window scored (0 = the context length: no overlap)",
      Range{0, 1 << 20});
    v("batch_size", batch_size, "eval --text: windows scored per forward pass (bounds memory)", Range{1, 1 << 16});
  }
};

}  // namespace gptforge
