// The configuration schema: every key gptforge reads, with its type, default, allowed values and a
// one-line description, in one place.
//
// Each section is a plain struct whose member initialisers are the defaults. Its `fields` method
// lists the keys once; the loader, the validator, `config show` and `config schema` all walk that
// list, so a key can never be documented but unread, or read but unvalidated.
//
// Resolution order (later wins): defaults -> the family preset (model.family) -> the base config
// chain (a file's `base:` key) -> the file -> command-line `key.path=value` overrides.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "util/config_choices.h"

namespace gptforge {

// Constraints a field may carry (a default Range means "any number"). A key with a fixed set of
// values is a Choice<Enum> field (util/choice.h, util/config_choices.h): its enum lists the names.
struct Range {
  double min = -1e300;
  double max = 1e300;
};
// A list field whose items must come from a fixed set.
struct ItemChoices {
  std::vector<std::string> values;
};

struct RunConfig {
  int64_t threads = 0;
  Choice<DeviceChoice> device = DeviceChoice::Auto;
  int64_t seed = 1337;
  Choice<LogLevel> log_level = LogLevel::Info;
  Choice<ProgressMode> progress = ProgressMode::Auto;
  double dist_timeout = 300.0;

  template <class V>
  void fields(V& v) {
    v("threads", threads,
      "Intra-op CPU threads; 0 uses every core (shared among a distributed run's local processes), and in "
      "training fewer while other processes keep the cores busy (util/thread_governor.h)",
      Range{0, 1024});
    v("device", device, "Where to run: auto (CUDA when present), cpu or cuda");
    v("seed", seed, "Seed for every random generator of the run", Range{0, 9.2e18});
    v("log_level", log_level, "How much to print");
    v("progress", progress, "Progress display: a bar on a terminal, plain lines otherwise (auto)");
    v("dist_timeout", dist_timeout, "Distributed runs: seconds to wait for another process before failing",
      Range{1, 86400});
  }
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
  int64_t hidden_size() const;

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

struct TrainConfig {
  std::string data_dir = "data/shards";
  std::string out_dir = "checkpoints/run";
  std::string init_from;
  int64_t batch_size = 16;
  int64_t total_batch_tokens = 0;
  int64_t max_steps = 1000;
  int64_t max_tokens = 0;
  double max_minutes = 0.0;
  double learning_rate = 1e-3;
  double min_lr = 1e-4;
  int64_t warmup_steps = 100;
  Choice<Schedule> schedule = Schedule::Cosine;
  double decay_fraction = 0.2;
  double weight_decay = 0.1;
  std::vector<std::string> no_decay = {"bias", "norm", "embedding"};
  double beta1 = 0.9;
  double beta2 = 0.95;
  double eps = 1e-8;
  double grad_clip = 1.0;
  Choice<Precision> precision = Precision::Auto;
  bool tf32 = true;
  int64_t eval_interval = 100;
  int64_t eval_batches = 20;
  int64_t sample_interval = 0;
  int64_t log_interval = 10;
  int64_t checkpoint_interval = 200;
  int64_t keep_last = 2;
  bool keep_best = true;
  int64_t max_bad_steps = 5;

  template <class V>
  void fields(V& v) {
    v("data_dir", data_dir, "Directory of token shards written by `gptforge prepare`");
    v("out_dir", out_dir, "Directory for checkpoints, metrics and the resolved config");
    v("init_from", init_from, "Checkpoint whose weights start the run (required by sft)");
    v("batch_size", batch_size, "Sequences per micro-batch", Range{1, 1 << 20});
    v("total_batch_tokens", total_batch_tokens,
      "Tokens per optimiser step across micro-batches and ranks; 0 = one micro-batch", Range{0, 1e12});
    v("max_steps", max_steps, "Stop after this many optimiser steps (0 = no limit)", Range{0, 1e12});
    v("max_tokens", max_tokens, "Stop after this many training tokens (0 = no limit)", Range{0, 1e15});
    v("max_minutes", max_minutes, "Stop after this much wall-clock time (0 = no limit)", Range{0, 1e7});
    v("learning_rate", learning_rate, "Peak learning rate", Range{0, 10});
    v("min_lr", min_lr, "Learning rate at the end of the decay", Range{0, 10});
    v("warmup_steps", warmup_steps, "Linear warmup steps", Range{0, 1e12});
    v("schedule", schedule, "Decay after warmup: cosine, linear, constant, or wsd (warmup-stable-decay)");
    v("decay_fraction", decay_fraction, "wsd: share of the steps spent in the final decay", Range{0, 1});
    v("weight_decay", weight_decay, "Decoupled (AdamW) weight decay", Range{0, 10});
    v("no_decay", no_decay, "Parameter kinds exempt from weight decay", ItemChoices{{"bias", "norm", "embedding"}});
    v("beta1", beta1, "AdamW beta1", Range{0, 0.999999});
    v("beta2", beta2, "AdamW beta2", Range{0, 0.999999});
    v("eps", eps, "AdamW epsilon", Range{1e-30, 1});
    v("grad_clip", grad_clip, "Clip the global gradient norm to this (0 = off)", Range{0, 1e6});
    v("precision", precision, "Compute precision: auto (bf16 autocast on CUDA, fp32 on CPU), fp32, bf16, fp16");
    v("tf32", tf32, "Allow TF32 matmuls on CUDA");
    v("eval_interval", eval_interval, "Evaluate every N steps (0 = only at the end)", Range{0, 1e12});
    v("eval_batches", eval_batches, "Validation batches per evaluation", Range{1, 1e9});
    v("sample_interval", sample_interval,
      "Print a sample every N steps (0 = never): sample.max_new_tokens tokens after sample.prompt", Range{0, 1e12});
    v("log_interval", log_interval, "Log metrics every N steps", Range{1, 1e12});
    v("checkpoint_interval", checkpoint_interval, "Write a checkpoint every N steps (0 = only at the end)",
      Range{0, 1e12});
    v("keep_last", keep_last, "Keep this many most recent checkpoints", Range{1, 1e6});
    v("keep_best", keep_best, "Also keep the checkpoint with the best validation loss");
    v("max_bad_steps", max_bad_steps, "Stop after this many non-finite losses in a row", Range{1, 1e6});
  }
};

struct SftConfig {
  std::string train_file;
  std::string val_file;
  double val_fraction = 0.05;
  Choice<InstructFormat> format = InstructFormat::Auto;
  Choice<LossOn> loss_on = LossOn::Assistant;
  Choice<Overlong> overlong = Overlong::Truncate;
  int64_t early_stop_patience = 0;
  bool skip_invalid = false;

  template <class V>
  void fields(V& v) {
    v("train_file", train_file, "Instruction data: Alpaca JSON/JSONL or chat JSONL");
    v("val_file", val_file, "Validation data; empty splits val_fraction off train_file");
    v("val_fraction", val_fraction, "Share of examples held out when val_file is empty", Range{0, 0.5});
    v("format", format, "auto (detected per record), alpaca, or chat");
    v("loss_on", loss_on, "Tokens that carry loss: assistant replies only, or all");
    v("overlong", overlong, "Examples longer than the context: truncate or drop (counted)");
    v("early_stop_patience", early_stop_patience, "Stop after N evaluations without improvement (0 = off)",
      Range{0, 1e6});
    v("skip_invalid", skip_invalid, "Skip malformed records (counted) instead of failing");
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

struct ExportConfig {
  Choice<ExportFormat> format = ExportFormat::Hf;
  Choice<ExportDtype> dtype = ExportDtype::F32;
  std::string out;
  bool force = false;

  template <class V>
  void fields(V& v) {
    v("format", format, "hf (Hugging Face directory) or gguf (llama.cpp)");
    v("dtype", dtype, "Weight dtype in the exported file");
    v("out", out, "Output path");
    v("force", force, "Overwrite an existing output");
  }
};

struct ServeConfig {
  std::string host = "127.0.0.1";
  int64_t port = 8080;
  std::string model_name;
  std::string api_key;
  int64_t max_batch = 8;
  int64_t queue_size = 64;
  double request_timeout = 300.0;
  int64_t max_tokens = 256;
  int64_t max_n = 8;
  std::vector<std::string> tools;

  template <class V>
  void fields(V& v) {
    v("host", host, "Address `gptforge serve` binds to; loopback unless set (0.0.0.0 exposes it to the network)");
    v("port", port, "TCP port (0 = any free port, printed at start)", Range{0, 65535});
    v("model_name", model_name, "Model id in the API (empty: the checkpoint directory's name)");
    v("api_key", api_key, "When set, requests need `Authorization: Bearer KEY` (401 otherwise)");
    v("max_batch", max_batch, "Sequences decoded together in one batched forward (KV-cache slots)", Range{1, 1024});
    v("queue_size", queue_size, "Requests that may wait for a slot; more are refused with 429", Range{0, 1e6});
    v("request_timeout", request_timeout, "Seconds a request may wait and run before it ends (finish_reason \"timeout\")",
      Range{0.001, 1e6});
    v("max_tokens", max_tokens, "Tokens generated when a request gives no max_tokens", Range{1, 1e7});
    v("max_n", max_n, "Largest `n` (choices per request) accepted", Range{1, 1024});
    v("tools", tools,
      "Tools the model may call in every request: calc (the calculator, generate/tool_calls.h); none when empty",
      ItemChoices{{"calc"}});
  }
};

// The whole configuration. Sections appear in `sections` in the order `config show` prints them.
struct Config {
  RunConfig run;
  ModelConfig model;
  TokenizerConfig tokenizer;
  DataConfig data;
  TrainConfig train;
  SftConfig sft;
  LoraConfig lora;
  SampleConfig sample;
  EvalConfig eval;
  ExportConfig export_;  // `export` is a C++ keyword
  ServeConfig serve;

  template <class V>
  void sections(V& v) {
    v.section("run", run, "Process-wide settings: threads, device, seed, logging");
    v.section("model", model, "Transformer architecture");
    v.section("tokenizer", tokenizer, "sentencepiece tokenizer training");
    v.section("data", data, "Corpus tokenization into shards");
    v.section("train", train, "Pretraining loop (also the optimiser and checkpoints of sft)");
    v.section("sft", sft, "Supervised fine-tuning data");
    v.section("lora", lora, "LoRA adapters for sft and train.init_from runs (rank 0 = full fine-tuning)");
    v.section("sample", sample, "Sampling, chat and eval decoding");
    v.section("eval", eval, "Perplexity and bits per byte on text (eval --text)");
    v.section("export", export_, "Export to Hugging Face or GGUF");
    v.section("serve", serve, "`gptforge serve`: the OpenAI-compatible HTTP server");
  }
};

// Fills the style keys of model.family's preset (gpt2, llama); custom leaves them as they are.
void apply_family_preset(ModelConfig& model);

// Loads `path` (empty: defaults only), its base chain, then the overrides ("key.path=value").
// Throws ConfigError naming file:line or the override, with a suggestion for unknown keys.
Config load_config(const std::string& path, const std::vector<std::string>& overrides = {});

// Cross-field checks (divisibility, head sizes, schedules). Throws ConfigError naming the keys.
void validate_config(const Config& cfg);

// The schema's range and item checks of one section's values, for sections filled in code rather
// than from a file (GenerationOptions is a SampleConfig). Throws ConfigError "sample.top_p: 0 is out of
// range [1e-09, 1]", as loading a config would.
void check_ranges(const SampleConfig& sample);

// Throws ConfigError when any of these keys (e.g. "data.inputs") is empty, naming the command.
void require_keys(const Config& cfg, const std::vector<std::string>& keys, const std::string& command);

// The resolved config as YAML; load_config of this text gives back an equal config.
std::string config_to_yaml(const Config& cfg);
// Writes config_to_yaml atomically to `path`.
void save_config(const Config& cfg, const std::string& path);
// Every key: path, type, default, allowed values and description, as aligned text.
std::string config_schema_text();
// Keys of `section` whose values differ, as "section.key: A vs B".
std::vector<std::string> config_differences(const Config& a, const Config& b, const std::string& section);
// All key paths, "section.key".
std::vector<std::string> config_key_paths();

}  // namespace gptforge
