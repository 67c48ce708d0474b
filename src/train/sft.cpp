#include "train/sft.h"

#include <algorithm>
#include <sstream>

#include "util/errors.h"
#include "util/log.h"

namespace gptforge {

std::string SftDataStats::summary() const {
  return strprintf("sft data: %lld train / %lld validation examples, %lld loss tokens in train; %lld truncated, "
                   "%lld dropped, %lld malformed records skipped",
                   (long long)train, (long long)val, (long long)loss_tokens, (long long)truncated, (long long)dropped,
                   (long long)skipped);
}

std::vector<SftExample> render_examples(const std::vector<InstructExample>& examples, const Tokenizer& tok,
                                        const Config& cfg, SftDataStats& stats) {
  const size_t max_len = static_cast<size_t>(cfg.model.block_size + 1);
  const bool all = cfg.sft.loss_on == LossOn::All;
  std::vector<SftExample> out;
  for (const auto& ex : examples) {
    RenderedChat r;
    try {
      r = render_chat(tok, ex.messages, false);
    } catch (const DataError& e) {
      throw DataError(ex.where + ": " + e.what());
    }
    SftExample s{std::move(r.ids), std::move(r.loss_mask)};
    // loss_on=all: every token but what a tool wrote (the model never predicts a result).
    if (all) {
      for (size_t i = 1; i < s.loss_mask.size(); ++i) s.loss_mask[i] = r.from_tool[i] ? 0 : 1;
    }
    s.loss_mask[0] = 0;  // nothing predicts the first token
    if (s.ids.size() > max_len) {
      if (cfg.sft.overlong == Overlong::Drop) {
        ++stats.dropped;
        continue;
      }
      s.ids.resize(max_len);
      s.loss_mask.resize(max_len);
      ++stats.truncated;
    }
    int64_t loss_tokens = std::count(s.loss_mask.begin(), s.loss_mask.end(), 1);
    if (loss_tokens == 0) {  // truncation cut the whole reply away
      ++stats.dropped;
      continue;
    }
    out.push_back(std::move(s));
  }
  return out;
}

Batch pad_batch(const std::vector<const SftExample*>& rows, int32_t pad_id) {
  size_t len = 0;
  for (const auto* r : rows) len = std::max(len, r->ids.size() - 1);
  const int64_t B = static_cast<int64_t>(rows.size()), T = static_cast<int64_t>(len);
  Batch b{torch::full({B, T}, pad_id, torch::kInt64), torch::full({B, T}, -1, torch::kInt64)};
  auto x = b.x.accessor<int64_t, 2>();
  auto y = b.y.accessor<int64_t, 2>();
  for (int64_t i = 0; i < B; ++i) {
    const SftExample& ex = *rows[static_cast<size_t>(i)];
    for (size_t t = 0; t + 1 < ex.ids.size(); ++t) {
      x[i][static_cast<int64_t>(t)] = ex.ids[t];
      if (ex.loss_mask[t + 1]) y[i][static_cast<int64_t>(t)] = ex.ids[t + 1];
    }
  }
  return b;
}

SftData::SftData(const Config& cfg, const Tokenizer& tok, int rank, int world_size)
    : tok_(tok),
      batch_size_(cfg.train.batch_size),
      seed_(static_cast<uint64_t>(cfg.run.seed)),
      rank_(rank),
      world_size_(world_size) {
  require_chat_tokens(tok_, "sft");
  InstructReadStats read_stats;
  auto train_examples = read_instruct_file(cfg.sft.train_file, cfg.sft.format, cfg.sft.skip_invalid, &read_stats);
  stats_.skipped = read_stats.skipped;
  if (read_stats.skipped) log_warn("skipped " + std::to_string(read_stats.skipped) + " malformed record(s), first: " +
                                   read_stats.first_skip_reason);
  std::vector<InstructExample> val_examples;
  if (!cfg.sft.val_file.empty()) {
    InstructReadStats vs;
    val_examples = read_instruct_file(cfg.sft.val_file, cfg.sft.format, cfg.sft.skip_invalid, &vs);
    stats_.skipped += vs.skipped;
  } else if (cfg.sft.val_fraction > 0) {
    // A seeded split: shuffle indices, take the first share for validation.
    std::vector<size_t> idx(train_examples.size());
    for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
    SplitMix64 rng(derive_seed(seed_, 17));
    shuffle(idx, rng);
    size_t n_val = std::max<size_t>(1, static_cast<size_t>(cfg.sft.val_fraction * idx.size() + 0.5));
    if (n_val >= idx.size()) throw DataError(cfg.sft.train_file + ": too few examples to hold out sft.val_fraction");
    std::vector<bool> is_val(idx.size(), false);
    for (size_t i = 0; i < n_val; ++i) is_val[idx[i]] = true;
    std::vector<InstructExample> keep;
    for (size_t i = 0; i < train_examples.size(); ++i) {
      (is_val[i] ? val_examples : keep).push_back(std::move(train_examples[i]));
    }
    train_examples = std::move(keep);
  }
  train_ = render_examples(train_examples, tok_, cfg, stats_);
  SftDataStats val_stats;
  std::vector<SftExample> val = render_examples(val_examples, tok_, cfg, val_stats);
  if (train_.empty()) throw DataError(cfg.sft.train_file + ": no example fits model.block_size");
  if (train_.size() < static_cast<size_t>(world_size_)) {
    throw DataError(strprintf("%s: %zu training example(s) for %d processes: each needs at least one",
                              cfg.sft.train_file.c_str(), train_.size(), world_size_));
  }
  stats_.train = static_cast<int64_t>(train_.size());
  stats_.val = static_cast<int64_t>(val.size());
  stats_.truncated += val_stats.truncated;
  stats_.dropped += val_stats.dropped;
  for (const auto& ex : train_) stats_.loss_tokens += std::count(ex.loss_mask.begin(), ex.loss_mask.end(), 1);
  // This rank's validation examples: every world_size-th, so the ranks' sums add up to the whole set.
  std::vector<const SftExample*> mine;
  for (size_t i = static_cast<size_t>(rank_); i < val.size(); i += static_cast<size_t>(world_size_)) {
    mine.push_back(&val[i]);
  }
  for (size_t i = 0; i < mine.size(); i += static_cast<size_t>(batch_size_)) {
    std::vector<const SftExample*> rows(mine.begin() + static_cast<std::ptrdiff_t>(i),
                                        mine.begin() + static_cast<std::ptrdiff_t>(
                                                           std::min(mine.size(), i + static_cast<size_t>(batch_size_))));
    eval_.push_back(pad_batch(rows, tok_.pad_id()));
  }
  reshuffle();
}

void SftData::reshuffle() {
  // Epoch e's order depends only on (seed, e): resuming needs just (epoch, position).
  std::vector<size_t> all(train_.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  SplitMix64 rng(derive_seed(seed_, 1000 + static_cast<uint64_t>(epoch_)));
  shuffle(all, rng);
  // Every rank shuffles alike and keeps its stride of the order, cut to a multiple of the world
  // size so that each rank's epoch has as many examples (a different few wait each epoch).
  const size_t w = static_cast<size_t>(world_size_), per_rank = all.size() / w;
  order_.resize(per_rank);
  for (size_t i = 0; i < per_rank; ++i) order_[i] = all[i * w + static_cast<size_t>(rank_)];
}

Batch SftData::next() {
  std::vector<const SftExample*> rows;
  while (static_cast<int64_t>(rows.size()) < batch_size_) {
    if (pos_ == order_.size()) {
      ++epoch_;
      pos_ = 0;
      reshuffle();
    }
    rows.push_back(&train_[order_[pos_++]]);
  }
  return pad_batch(rows, tok_.pad_id());
}

std::string SftData::state() const { return "sft " + std::to_string(epoch_) + " " + std::to_string(pos_); }

void SftData::set_state(const std::string& s) {
  std::istringstream in(s);
  std::string tag;
  int64_t epoch;
  size_t pos;
  if (!(in >> tag >> epoch >> pos) || tag != "sft" || pos > train_.size() / static_cast<size_t>(world_size_)) {
    throw CheckpointError("sft data state '" + s + "' is not valid for this data (another train file?)");
  }
  epoch_ = epoch;
  reshuffle();
  pos_ = pos;
}

TrainSummary finetune(Config cfg, const TrainOptions& opts_in) {
  require_keys(cfg, {"train.init_from", "sft.train_file"}, "gptforge sft");
  TrainOptions opts = opts_in;
  opts.kind = "sft";
  opts.early_stop_patience = cfg.sft.early_stop_patience;
  if (!opts.dist) opts.dist = Distributed::from_environment(cfg.run);
  if (!opts.dist->is_main()) set_log_level(LogLevel::Quiet);  // rank 0 speaks for the run
  // The base model decides the architecture and the tokenizer: a fine-tune cannot change them.
  StoredModel base = read_model(cfg.train.init_from);
  auto diffs = config_differences(base.config, cfg, "model");
  if (!diffs.empty()) {
    log_info("sft: model settings come from " + base.dir + " (" + std::to_string(diffs.size()) +
             " differ from the config, e.g. " + diffs.front() + ")");
  }
  cfg.model = base.config.model;
  validate_config(cfg);  // lora.targets against the base model's layers
  Tokenizer tok = Tokenizer::from_serialized(base.tokenizer_model, base.dir + "/tokenizer.model");
  // An id the model has no row for would reach the embedding only at the first step.
  if (tok.vocab_size() > cfg.model.vocab_size) {
    throw CheckpointError(strprintf("%s/tokenizer.model: the tokenizer has %lld ids but the model only %lld "
                                    "(model.vocab_size)", base.dir.c_str(), (long long)tok.vocab_size(),
                                    (long long)cfg.model.vocab_size));
  }
  SftData data(cfg, tok, opts.dist->rank(), opts.dist->world_size());
  log_info(data.stats().summary());
  if (opts.resume) cfg.train.init_from.clear();  // weights come from the run's own checkpoint
  return train_model(cfg, data, opts);
}

}  // namespace gptforge
