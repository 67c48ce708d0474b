// Supervised fine-tuning (`gptforge sft`): the pretraining loop (trainer.h) over instruction data
// rendered with the chat template (tokenizer/chat_template.h).
//
// Batches PAD: each row holds one example (never several), padded with <pad> to the longest row of
// its batch. Targets carry loss only on the assistant's tokens (sft.loss_on=assistant, the default:
// its reply and the closing <|end|>) or on every real token (all); padding never does. An example
// longer than model.block_size + 1 tokens is truncated at the end or dropped (sft.overlong), and
// counted; one left with no loss-bearing token is dropped.
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

#include "data/instruct.h"
#include "data/random.h"
#include "tokenizer/tokenizer.h"
#include "train/trainer.h"

namespace gptforge {

// One example as token ids, with the targets that carry loss.
struct SftExample {
  std::vector<int32_t> ids;
  std::vector<uint8_t> loss_mask;  // per id: 1 when predicting this id carries loss
};

struct SftDataStats {
  int64_t train = 0, val = 0, truncated = 0, dropped = 0, skipped = 0, loss_tokens = 0;
  std::string summary() const;
};

// Renders, applies sft.loss_on, and handles overlong examples (counting them in stats).
std::vector<SftExample> render_examples(const std::vector<InstructExample>& examples, const Tokenizer& tok,
                                        const Config& cfg, SftDataStats& stats);

// Pads rows into one batch: x = ids[:-1], y = ids[1:] where loss_mask[1:] else -1.
Batch pad_batch(const std::vector<const SftExample*>& rows, int32_t pad_id);

class SftData : public TrainData {
 public:
  // Reads sft.train_file (and sft.val_file, or a seeded val_fraction split of the train file).
  // Rank r of world_size draws only positions r, r + world_size, ... of each epoch's shuffled order
  // (the epoch cut to a multiple of world_size), and evaluates validation examples r, r + world_size...
  SftData(const Config& cfg, const Tokenizer& tok, int rank = 0, int world_size = 1);
  Batch next() override;
  std::string state() const override;
  void set_state(const std::string& s) override;
  const std::vector<Batch>& eval_set() const override { return eval_; }
  double bytes_per_token() const override { return 0; }
  int64_t vocab_size() const override { return tok_.vocab_size(); }
  std::string tokenizer_model() const override { return tok_.serialized(); }
  const SftDataStats& stats() const { return stats_; }

 private:
  void reshuffle();
  Tokenizer tok_;
  int64_t batch_size_;
  std::vector<SftExample> train_;
  std::vector<Batch> eval_;
  std::vector<size_t> order_;
  size_t pos_ = 0;
  int64_t epoch_ = 0;
  uint64_t seed_;
  int rank_ = 0, world_size_ = 1;
  SftDataStats stats_;
};

// `gptforge sft`: loads train.init_from (required), fine-tunes, writes checkpoints to train.out_dir.
// Joins a distributed run when the environment describes one, as pretrain does.
TrainSummary finetune(Config cfg, const TrainOptions& opts);

}  // namespace gptforge
