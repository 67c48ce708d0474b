// The architecture: the sections `model:` and `lora:` of a config.
// Declarations only: util/config.h assembles the sections (README, "The pipeline").
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "util/config_field.h"

namespace gptforge {

// model.family: a preset of the style keys below (custom: none).
enum class ModelFamily { Gpt2, Llama, Custom };
template <>
struct ChoiceNames<ModelFamily> {
  static constexpr std::pair<ModelFamily, const char*> table[] = {
      {ModelFamily::Gpt2, "gpt2"}, {ModelFamily::Llama, "llama"}, {ModelFamily::Custom, "custom"}};
};

// model.position
enum class Position { Learned, Sinusoidal, Rope, None };
template <>
struct ChoiceNames<Position> {
  static constexpr std::pair<Position, const char*> table[] = {{Position::Learned, "learned"},
                                                               {Position::Sinusoidal, "sinusoidal"},
                                                               {Position::Rope, "rope"},
                                                               {Position::None, "none"}};
};

// model.norm
enum class NormType { LayerNorm, RmsNorm };
template <>
struct ChoiceNames<NormType> {
  static constexpr std::pair<NormType, const char*> table[] = {{NormType::LayerNorm, "layernorm"},
                                                               {NormType::RmsNorm, "rmsnorm"}};
};

// model.activation
enum class Activation { Gelu, Relu, SwiGlu, Relu2 };
template <>
struct ChoiceNames<Activation> {
  static constexpr std::pair<Activation, const char*> table[] = {
      {Activation::Gelu, "gelu"}, {Activation::Relu, "relu"}, {Activation::SwiGlu, "swiglu"}, {Activation::Relu2, "relu2"}};
};

struct ModelConfig {
  Choice<ModelFamily> family = ModelFamily::Gpt2;
  int64_t vocab_size = 0;
  int64_t block_size = 256;
  int64_t n_layer = 6;
  int64_t n_head = 6;
  int64_t n_kv_head = 0;
  int64_t d_model = 384;
  int64_t mlp_hidden = 0;
  Choice<Position> position = Position::Learned;
  double rope_theta = 10000.0;
  Choice<NormType> norm = NormType::LayerNorm;
  double norm_eps = 1e-5;
  Choice<Activation> activation = Activation::Gelu;
  bool bias = true;
  bool tie_embeddings = true;
  double dropout = 0.0;
  double init_std = 0.02;

  // n_kv_head with 0 resolved to n_head; mlp_hidden with 0 resolved per activation.
  int64_t kv_heads() const { return n_kv_head > 0 ? n_kv_head : n_head; }
  int64_t head_dim() const { return d_model / n_head; }
  int64_t hidden_size() const {
    if (mlp_hidden > 0) return mlp_hidden;
    if (activation == Activation::SwiGlu) return (8 * d_model / 3 + 7) / 8 * 8;
    return 4 * d_model;
  }

  template <class V>
  void fields(V& v) {
    v("family", family, "Preset filling the style keys: gpt2 (GPT-2), llama (Llama), custom (no preset)");
    v("vocab_size", vocab_size, "Vocabulary size; 0 takes it from the tokenizer", Range{0, 1 << 24});
    v("block_size", block_size, "Context length in tokens", Range{1, 1 << 20});
    v("n_layer", n_layer, "Number of transformer blocks", Range{1, 1024});
    v("n_head", n_head, "Attention (query) heads per block", Range{1, 1024});
    v("n_kv_head", n_kv_head, "Key/value heads: n_head = multi-head, 1 = multi-query, between = grouped; 0 = n_head",
      Range{0, 1024});
    v("d_model", d_model, "Width of the residual stream", Range{1, 1 << 16});
    v("mlp_hidden", mlp_hidden, "MLP hidden width; 0 = 4*d_model (8/3*d_model rounded to 8 for swiglu)",
      Range{0, 1 << 20});
    v("position", position, "Position information: learned, sinusoidal, rope, or none");
    v("rope_theta", rope_theta, "RoPE base frequency", Range{1.0, 1e9});
    v("norm", norm, "Normalisation (pre-norm placement)");
    v("norm_eps", norm_eps, "Epsilon of the norms", Range{1e-12, 1e-2});
    v("activation", activation, "MLP activation: gelu (tanh approximation, as GPT-2), relu, swiglu, relu2");
    v("bias", bias, "Biases in linear layers and norms");
    v("tie_embeddings", tie_embeddings, "Share the token embedding with the LM head");
    v("dropout", dropout, "Dropout probability in training", Range{0.0, 0.9});
    v("init_std", init_std, "Std of the normal initialisation (residual projections scaled by 1/sqrt(2 n_layer))",
      Range{1e-6, 1.0});
  }
};

// LoRA (Hu et al., 2021): train a low-rank update B·A next to each targeted linear layer of a
// trained model, whose own weights stay frozen (model/lora.h).
struct LoraConfig {
  int64_t rank = 0;
  double alpha = 16.0;
  double dropout = 0.0;
  std::vector<std::string> targets = {"q", "v"};

  template <class V>
  void fields(V& v) {
    v("rank", rank, "Rank r of the adapters (0 = off: full fine-tuning); needs train.init_from", Range{0, 4096});
    v("alpha", alpha, "The adapters' update is scaled by alpha / rank", Range{1e-9, 1e9});
    v("dropout", dropout, "Dropout on the adapters' input (training only)", Range{0, 0.99});
    v("targets", targets,
      "Linear layers that get an adapter: attention q, k, v, o; MLP fc, proj (gelu/relu models) or gate, up, "
      "down (swiglu)",
      ItemChoices{{"q", "k", "v", "o", "fc", "proj", "gate", "up", "down"}});
  }
};

}  // namespace gptforge
