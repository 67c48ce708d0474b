// `gptforge prepare`: corpus -> tokenized binary shards + meta.json (format in shard.h and
// dataset_meta.h).
//
// Documents (data.documents: file | paragraph | line; JSONL: one a line) are encoded in parallel
// and each is followed by EOS. The train/validation split is by document: exactly
// max(1, round(n * data.val_fraction)) of the n documents go to validation, chosen by a sequential
// random sample seeded with run.seed (the same seed gives the same split).
//
// Nothing is half-written: everything goes into the sibling directory OUT.tmp-<pid>, which is renamed
// to data.out_dir only when all shards and meta.json are complete (an older OUT is replaced at that
// moment). A failed or interrupted run leaves OUT as it was.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

#include "data/corpus.h"
#include "data/dataset_meta.h"
#include "util/config.h"

namespace gptforge {

struct PrepareStats {
  std::string out_dir;
  int64_t files = 0;
  int threads = 1;
  DatasetMeta meta;  // vocab, dtype, per-split documents/tokens/bytes/shards, invalid UTF-8, time
  // A short table of the statistics, as `gptforge prepare` prints it.
  std::string summary() const;
};

struct PrepareOptions {
  size_t batch_bytes = 16 << 20;  // text read and encoded between writes (bounds memory)
  size_t chunk_bytes = 1 << 20;   // longest piece of one document encoded in one call
  // Called after each batch is written to the temporary directory (tests use it to fail midway).
  std::function<void(int64_t batches_done)> after_batch;
};

// How prepare reads the corpus (data.format, jsonl_field, documents, invalid_utf8), for readers that
// must see the same documents (eval --text).
CorpusOptions corpus_options(const DataConfig& data, size_t chunk_bytes = 1 << 20);

// Uses cfg.data, run.seed, run.threads (when data.threads is 0) and run.progress.
PrepareStats prepare_data(const Config& cfg, const PrepareOptions& opts = {});

}  // namespace gptforge
