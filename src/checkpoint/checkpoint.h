// Checkpoints: one directory per save, published atomically (util/staging.h), readable without
// gptforge. A checkpoint is a model artifact, which sampling, export, import and training all read
// and write here, plus whatever extension its writer adds (training adds its state: train/checkpoint.h).
//
//   <out_dir>/step_0000200/
//     model.safetensors     weights under the model's parameter names (tied weights stored once)
//     config.yaml           the resolved config the model was built with
//     tokenizer.model       the sentencepiece model it was trained with
//     adapter_model.safetensors   LoRA runs only: the adapters (checkpoint/adapters.h); model.safetensors
//                           then holds the frozen base weights
//     ...                   the extension's files (training: optimizer.pt, trainer_state.json)
//     manifest.json         step, and size and FNV-1a checksum of every file above: truncation and
//                           corruption are caught on load
//   <out_dir>/latest -> step_0000200     (symlinks, replaced atomically)
//   <out_dir>/best   -> step_0000150
//
// A kill at any moment leaves the previous checkpoint intact; older ones are pruned only afterwards.
#pragma once
#include <torch/torch.h>

#include <functional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "util/config.h"
#include "util/safetensors.h"

namespace gptforge {

// What a checkpoint holds of the model.
struct ModelArtifact {
  torch::nn::Module* model = nullptr;
  const Config* config = nullptr;
  std::string tokenizer_model;  // serialized sentencepiece model bytes
  int64_t step = 0;             // optimiser steps behind the weights (names the directory)
};

// Writes the extension's files into the checkpoint directory being staged (its argument).
using CheckpointExtension = std::function<void(const std::string& dir)>;

// Writes <out_dir>/step_<step>, points `latest` (and `best` when is_best) at it, then prunes older
// checkpoints beyond keep_last (never the best). A checkpoint of the same step is replaced. Returns
// the checkpoint directory.
std::string save_model(const std::string& out_dir, const ModelArtifact& artifact, bool is_best, int64_t keep_last,
                       const CheckpointExtension& extension = nullptr);
// Writes `content` to `path` (inside a checkpoint being saved); CheckpointError when it fails.
void write_checkpoint_file(const std::string& path, const std::string& content);
// Writes `path` from `write`, which puts the file's bytes on the stream it is given, without
// holding them in memory. A failed write (a full disk) is never seen by `write` (the stream drops
// the rest) and becomes one CheckpointError once `write` returns.
void write_checkpoint_stream(const std::string& path, const std::function<void(std::ostream&)>& write);

// A checkpoint directory, or a run directory (its `latest`). Throws CheckpointError otherwise.
std::string resolve_checkpoint(const std::string& path);
// True when out_dir holds a `latest` checkpoint.
bool has_checkpoint(const std::string& out_dir);

// A model artifact as read from disk, its weights not yet in a model.
struct StoredModel {
  std::string dir;
  Config config;
  SafetensorsFile weights;
  SafetensorsFile adapters;  // LoRA adapters (adapters.h); empty when the checkpoint has none
  std::string tokenizer_model;
  int64_t step = 0;
};
// Verifies the manifest (every file present, sizes and checksums), then reads the model artifact.
StoredModel read_model(const std::string& path);

// Copies weights into the model's parameters. Every parameter must be present with its shape; an
// extra or missing tensor is a CheckpointError naming the file and the tensor. LoRA adapters are not
// weights (load_adapters reads them).
void load_weights(torch::nn::Module& model, const SafetensorsFile& weights, const std::string& file);
// The model's parameters in save order, LoRA adapters left out (they have their own file).
std::vector<std::pair<std::string, torch::Tensor>> model_tensors(torch::nn::Module& model);

}  // namespace gptforge
