#include "checkpoint/loaded_model.h"

#include "checkpoint/adapters.h"
#include "checkpoint/checkpoint.h"
#include "util/errors.h"
#include "util/log.h"

namespace gptforge {

LoadedModel load_model(const std::string& path, torch::Device device) {
  StoredModel stored = read_model(path);
  merge_adapters(stored);  // a LoRA run's checkpoint runs as W + (alpha / rank) B A
  Tokenizer tok = Tokenizer::from_serialized(stored.tokenizer_model, stored.dir + "/tokenizer.model");
  if (tok.vocab_size() > stored.config.model.vocab_size) {
    throw CheckpointError(strprintf("%s: the tokenizer has %lld ids but the model only %lld (model.vocab_size)",
                                    stored.dir.c_str(), (long long)tok.vocab_size(),
                                    (long long)stored.config.model.vocab_size));
  }
  GPT model(stored.config.model);
  load_weights(*model, stored.weights, stored.dir + "/model.safetensors");
  model->to(device);
  model->eval();
  return LoadedModel{stored.dir, stored.config, model, tok, device, stored.step};
}

std::string describe(const LoadedModel& m) {
  const ModelConfig& c = m.config.model;
  const double params = static_cast<double>(m.model->num_params(true));
  return strprintf("%s (step %lld): %.2fM parameters, %lld layers x %lld, %lld heads, context %lld, vocab %lld",
                   m.dir.c_str(), (long long)m.step, params / 1e6, (long long)c.n_layer, (long long)c.d_model,
                   (long long)c.n_head, (long long)c.block_size, (long long)c.vocab_size);
}

}  // namespace gptforge
