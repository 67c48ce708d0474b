// The enums behind the config's choice keys (util/choice.h), with the names YAML uses for them. One
// table per enum: the loader checks against it, `config schema` lists it, the code switches on it.
#pragma once
#include <utility>

#include "util/choice.h"
#include "util/log.h"

namespace gptforge {

// run.device
enum class DeviceChoice { Auto, Cpu, Cuda };
template <>
struct ChoiceNames<DeviceChoice> {
  static constexpr std::pair<DeviceChoice, const char*> table[] = {
      {DeviceChoice::Auto, "auto"}, {DeviceChoice::Cpu, "cpu"}, {DeviceChoice::Cuda, "cuda"}};
};

// run.log_level (util/log.h)
template <>
struct ChoiceNames<LogLevel> {
  static constexpr std::pair<LogLevel, const char*> table[] = {
      {LogLevel::Quiet, "quiet"}, {LogLevel::Info, "info"}, {LogLevel::Debug, "debug"}};
};

// run.progress
enum class ProgressMode { Auto, Bar, Plain, Off };
template <>
struct ChoiceNames<ProgressMode> {
  static constexpr std::pair<ProgressMode, const char*> table[] = {
      {ProgressMode::Auto, "auto"}, {ProgressMode::Bar, "bar"}, {ProgressMode::Plain, "plain"}, {ProgressMode::Off, "off"}};
};

// data.format: auto picks JSONL for *.jsonl / *.ndjson files.
enum class TextFormat { Auto, Text, Jsonl };
template <>
struct ChoiceNames<TextFormat> {
  static constexpr std::pair<TextFormat, const char*> table[] = {
      {TextFormat::Auto, "auto"}, {TextFormat::Text, "text"}, {TextFormat::Jsonl, "jsonl"}};
};

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

// train.schedule: the decay after warmup.
enum class Schedule { Cosine, Linear, Constant, Wsd };
template <>
struct ChoiceNames<Schedule> {
  static constexpr std::pair<Schedule, const char*> table[] = {
      {Schedule::Cosine, "cosine"}, {Schedule::Linear, "linear"}, {Schedule::Constant, "constant"}, {Schedule::Wsd, "wsd"}};
};

// train.precision: auto resolves per device (train/precision.h).
enum class Precision { Auto, Fp32, Bf16, Fp16 };
template <>
struct ChoiceNames<Precision> {
  static constexpr std::pair<Precision, const char*> table[] = {
      {Precision::Auto, "auto"}, {Precision::Fp32, "fp32"}, {Precision::Bf16, "bf16"}, {Precision::Fp16, "fp16"}};
};

// sft.format: auto detects it per record.
enum class InstructFormat { Auto, Alpaca, Chat };
template <>
struct ChoiceNames<InstructFormat> {
  static constexpr std::pair<InstructFormat, const char*> table[] = {
      {InstructFormat::Auto, "auto"}, {InstructFormat::Alpaca, "alpaca"}, {InstructFormat::Chat, "chat"}};
};

// sft.loss_on
enum class LossOn { Assistant, All };
template <>
struct ChoiceNames<LossOn> {
  static constexpr std::pair<LossOn, const char*> table[] = {{LossOn::Assistant, "assistant"}, {LossOn::All, "all"}};
};

// sft.overlong
enum class Overlong { Truncate, Drop };
template <>
struct ChoiceNames<Overlong> {
  static constexpr std::pair<Overlong, const char*> table[] = {{Overlong::Truncate, "truncate"}, {Overlong::Drop, "drop"}};
};

// export.format
enum class ExportFormat { Hf, Gguf };
template <>
struct ChoiceNames<ExportFormat> {
  static constexpr std::pair<ExportFormat, const char*> table[] = {{ExportFormat::Hf, "hf"}, {ExportFormat::Gguf, "gguf"}};
};

// export.dtype
enum class ExportDtype { F32, F16, Bf16 };
template <>
struct ChoiceNames<ExportDtype> {
  static constexpr std::pair<ExportDtype, const char*> table[] = {
      {ExportDtype::F32, "f32"}, {ExportDtype::F16, "f16"}, {ExportDtype::Bf16, "bf16"}};
};

}  // namespace gptforge
