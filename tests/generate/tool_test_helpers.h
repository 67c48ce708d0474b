// A model that learned one conversation, for the tests of tool calls (generate and serve).
#pragma once
#include <torch/torch.h>

#include "model/gpt.h"
#include "tokenizer/chat_template.h"

namespace gptforge::testing {

// A small model trained until it reproduces the assistant's side of `chat` greedily: the loss is on
// the tokens the template marks (the call, the answer, <|end|>), never on the tool's result.
inline GPT memorize(const Tokenizer& tok, const RenderedChat& chat) {
  ModelConfig cfg;
  cfg.vocab_size = tok.vocab_size();
  cfg.block_size = 64;
  cfg.n_layer = 2;
  cfg.n_head = 2;
  cfg.d_model = 64;
  torch::manual_seed(3);
  GPT model(cfg);
  std::vector<int64_t> in(chat.ids.begin(), chat.ids.end() - 1), target;
  for (size_t t = 1; t < chat.ids.size(); ++t) target.push_back(chat.loss_mask[t] ? chat.ids[t] : -100);
  auto x = torch::tensor(in, torch::kLong).unsqueeze(0);
  auto y = torch::tensor(target, torch::kLong);
  torch::optim::AdamW opt(model->parameters(), torch::optim::AdamWOptions(1e-2).weight_decay(0));
  model->train();
  for (int step = 0; step < 300; ++step) {
    opt.zero_grad();
    auto logits = model->forward(x)[0];
    auto loss = torch::nn::functional::cross_entropy(logits, y, torch::nn::functional::CrossEntropyFuncOptions().ignore_index(-100));
    loss.backward();
    opt.step();
  }
  model->eval();
  return model;
}

}  // namespace gptforge::testing
