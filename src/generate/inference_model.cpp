#include "generate/inference_model.h"

#include "train/checkpoint.h"
#include "util/errors.h"
#include "util/log.h"

namespace gptforge {

InferenceModel load_inference_model(const std::string& path, torch::Device device) {
  LoadedCheckpoint ck = load_checkpoint(path);
  Tokenizer tok = Tokenizer::from_serialized(ck.tokenizer_model, ck.dir + "/tokenizer.model");
  if (tok.vocab_size() > ck.config.model.vocab_size) {
    throw CheckpointError(strprintf("%s: the tokenizer has %lld ids but the model only %lld (model.vocab_size)",
                                    ck.dir.c_str(), (long long)tok.vocab_size(),
                                    (long long)ck.config.model.vocab_size));
  }
  GPT model(ck.config.model);
  load_weights(*model, ck.weights, ck.dir + "/model.safetensors");
  model->to(device);
  model->eval();
  return InferenceModel{ck.dir, ck.config, model, tok, device, ck.state.step};
}

std::string describe(const InferenceModel& m) {
  const ModelConfig& c = m.config.model;
  const double params = static_cast<double>(m.model->num_params(true));
  return strprintf("%s (step %lld): %.2fM parameters, %lld layers x %lld, %lld heads, context %lld, vocab %lld",
                   m.dir.c_str(), (long long)m.step, params / 1e6, (long long)c.n_layer, (long long)c.d_model,
                   (long long)c.n_head, (long long)c.block_size, (long long)c.vocab_size);
}

}  // namespace gptforge
