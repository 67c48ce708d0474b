// A deterministic in-memory training corpus for the trainer tests.
#pragma once
#include <torch/torch.h>

#include <functional>
#include <string>
#include <vector>

#include "train/trainer.h"

namespace gptforge::testing {

// A deterministic in-memory corpus: rows of a repeating pattern with a per-row offset, handed out
// in order, so runs with different batch splits see the same rows in the same order.
class SyntheticData : public TrainData {
 public:
  SyntheticData(int64_t batch, int64_t block, int64_t vocab) : batch_(batch), block_(block), vocab_(vocab) {
    for (int64_t r = 0; r < 4; ++r) {
      auto idx = torch::arange(r * 3, r * 3 + block + 1, torch::kInt64);
      Batch b;
      b.x = (idx.slice(0, 0, block) % 7 + 4).unsqueeze(0).repeat({2, 1});
      b.y = (idx.slice(0, 1, block + 1) % 7 + 4).unsqueeze(0).repeat({2, 1});
      eval_.push_back(b);
    }
  }
  Batch next() override {
    std::vector<torch::Tensor> xs, ys;
    for (int64_t i = 0; i < batch_; ++i, ++row_) {
      // Row r: the sequence (r*5 + t) mod 7, a pattern a tiny model learns quickly.
      auto t = torch::arange(row_ * 5, row_ * 5 + block_ + 1, torch::kInt64);
      auto seq = t % 7 + 4;
      xs.push_back(seq.slice(0, 0, block_));
      ys.push_back(seq.slice(0, 1, block_ + 1));
    }
    if (on_next) on_next(row_);
    return {torch::stack(xs), torch::stack(ys)};
  }
  std::string state() const override { return std::to_string(row_); }
  void set_state(const std::string& s) override { row_ = std::stoll(s); }
  const std::vector<Batch>& eval_set() const override { return eval_; }
  double bytes_per_token() const override { return 2.0; }
  int64_t vocab_size() const override { return vocab_; }
  std::string tokenizer_model() const override { return "synthetic"; }

  std::function<void(int64_t)> on_next;

 private:
  int64_t batch_, block_, vocab_, row_ = 0;
  std::vector<Batch> eval_;
};

}  // namespace gptforge::testing
