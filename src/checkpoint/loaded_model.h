// A checkpoint's model ready to run: built from its config, its weights loaded, on a device, in
// eval mode, with the tokenizer it was trained with. `sample`, `chat`, `probe`, `eval` and export
// start here.
#pragma once
#include <torch/torch.h>

#include <string>

#include "model/gpt.h"
#include "tokenizer/tokenizer.h"
#include "util/config.h"

namespace gptforge {

struct LoadedModel {
  std::string dir;     // the checkpoint directory (a run directory resolves to its `latest`)
  Config config;       // the checkpoint's config; config.model built the model. LoRA adapters are
                       // merged into the weights on load (checkpoint/adapters.h): lora.rank is 0 here
  GPT model;
  Tokenizer tokenizer;
  torch::Device device;
  int64_t step = 0;    // optimiser steps of the run when it was saved
};

// Loads `path` (a checkpoint or run directory) onto `device`. The weights keep the checkpoint's
// dtype (fp32). Throws CheckpointError for a missing, corrupted or incompatible checkpoint, and when
// the tokenizer has more ids than the model.
LoadedModel load_model(const std::string& path, torch::Device device);

// "checkpoints/run/step_0000200 (step 200): 1.2M parameters, 4 layers x 128, ..."
std::string describe(const LoadedModel& m);

}  // namespace gptforge
