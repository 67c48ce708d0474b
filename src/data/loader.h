// Reading prepared shards for training: a memory-mapped token stream per split, random windows for
// pretraining and a fixed set of windows for evaluation.
//
// Distributed runs: rank r of w owns the contiguous region
//   [floor(N * r / w), floor(N * (r + 1) / w))
// of the N tokens of a split, and every window it draws (training or evaluation) lies entirely
// inside that region, so the token streams of different ranks never overlap.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace gptforge {

struct ShardInfo {
  std::string path;
  uint64_t tokens;
  uint32_t dtype_bytes;
};

// Reads and validates a shard header: magic, version, dtype, the file length against the token count
// (a truncated file), and with verify_checksum the checksum of the tokens. Throws DataError naming
// the file.
ShardInfo read_shard_header(const std::string& path, bool verify_checksum);

class TokenDataset {  // all shards of one split, memory-mapped read-only
 public:
  // Opens DIR's "train" or "val" shards as meta.json lists them. Throws DataError when meta.json or a
  // shard is missing or damaged, or the split has no tokens. verify_checksum reads every shard once,
  // and refuses a token id outside meta.json's vocab_size (naming the shard and the position).
  static TokenDataset open(const std::string& dir, const std::string& split, bool verify_checksum = true);

  int64_t size() const;           // total tokens
  int64_t vocab_size() const;     // from meta.json
  double bytes_per_token() const;  // source bytes / tokens of this split, from meta.json
  int32_t eos_id() const { return eos_id_; }
  const std::string& name() const { return name_; }  // "DIR (train)", for messages
  const std::vector<ShardInfo>& shards() const { return shards_; }

  // Copies tokens [start, start+len) (may cross shard boundaries) as int64 into dst.
  void read(int64_t start, int64_t len, int64_t* dst) const;

 private:
  struct Mapping;
  std::vector<ShardInfo> shards_;
  std::vector<std::shared_ptr<const Mapping>> maps_;
  std::vector<int64_t> offsets_;  // first token of each shard; offsets_.back() == size()
  int64_t vocab_size_ = 0;
  double bytes_per_token_ = 0.0;
  int32_t eos_id_ = -1;
  std::string name_;
};

struct Batch {
  torch::Tensor x, y;  // (B, T) int64 each, y = x shifted by one
};

// Random windows of block_size+1 tokens for pretraining: x = window[0:T], y = window[1:T+1]. Window
// starts are uniform over this rank's region (see the top of this file), drawn from a splitmix64
// generator seeded with (seed, rank) -- never torch's global generator.
class BatchSampler {
 public:
  BatchSampler(std::shared_ptr<const TokenDataset> data, int64_t batch_size, int64_t block_size, uint64_t seed,
               int rank = 0, int world_size = 1);
  Batch next();  // CPU tensors; the trainer moves them to the device
  // Serialised generator state and counters; set_state of it gives exactly the same future batches.
  std::string state() const;
  void set_state(const std::string& s);

  int64_t batches_drawn() const { return batches_; }
  int64_t region_begin() const { return lo_; }
  int64_t region_end() const { return hi_; }

 private:
  std::shared_ptr<const TokenDataset> data_;
  int64_t batch_size_, block_size_;
  uint64_t seed_;
  int rank_, world_size_;
  int64_t lo_ = 0, hi_ = 0;
  uint64_t rng_state_ = 0;
  int64_t batches_ = 0;
  std::vector<int64_t> buf_;
};

// A fixed, deterministic set of validation windows: up to num_batches * batch_size windows of
// block_size+1 tokens, non-overlapping and evenly spread over this rank's region. When the region
// holds fewer windows, fewer batches come back (the last one may have fewer than batch_size rows).
// Throws DataError naming model.block_size when not even one window fits.
std::vector<Batch> eval_batches(const TokenDataset& data, int64_t batch_size, int64_t block_size, int64_t num_batches,
                                int rank = 0, int world_size = 1);

}  // namespace gptforge
