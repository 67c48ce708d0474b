// meta.json: the description `gptforge prepare` writes next to the shards. The trainer takes the
// vocabulary size and the validation split's bytes per token (to report bits per byte) from it.
//
//   {
//     "format": "gptforge-shards", "version": 1,
//     "vocab_size": 4096, "dtype": "uint16", "dtype_bytes": 2, "eos_id": 3,
//     "tokenizer": "data/tokenizers/brown.model",   (the model used; a copy is tokenizer.model)
//     "tokenizer_copy": "tokenizer.model",
//     "documents": "file", "seed": 1337, "val_fraction": 0.05,
//     "invalid_utf8": 0, "invalid_utf8_policy": "replace", "inputs": [...], "seconds": 12.3,
//     "splits": {
//       "train": {"documents": 475, "tokens": 1351000, "bytes": 5683000, "bytes_per_token": 4.2,
//                 "shards": ["train_000000.bin"]},
//       "val":   {...}
//     }
//   }
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace gptforge {

struct SplitMeta {
  int64_t documents = 0;
  int64_t tokens = 0;  // EOS separators included
  int64_t bytes = 0;   // UTF-8 bytes of the documents' text
  std::vector<std::string> shards;  // file names in dataset order
  double bytes_per_token() const { return tokens > 0 ? static_cast<double>(bytes) / tokens : 0.0; }
};

struct DatasetMeta {
  int64_t vocab_size = 0;
  uint32_t dtype_bytes = 2;
  int32_t eos_id = 3;
  std::string tokenizer;
  std::string tokenizer_copy = "tokenizer.model";
  std::string documents;
  int64_t seed = 0;
  double val_fraction = 0.0;
  int64_t invalid_utf8 = 0;
  std::string invalid_utf8_policy = "replace";
  std::vector<std::string> inputs;
  double seconds = 0.0;
  std::map<std::string, SplitMeta> splits;  // "train", "val"
};

std::string dataset_meta_json(const DatasetMeta& meta);
// Writes DIR/meta.json atomically.
void write_dataset_meta(const std::string& dir, const DatasetMeta& meta);
// Reads DIR/meta.json; throws DataError naming the file when it is missing or malformed.
DatasetMeta read_dataset_meta(const std::string& dir);

// The tokenizer the shards of DIR were written with (its copy DIR/tokenizer.model), checked against
// `meta` (DIR's meta.json): it must load, and its vocabulary size and EOS id must be meta.json's,
// since every id in the shards and every checkpoint of a run on them rely on both. Throws DataError
// naming the file.
Tokenizer load_dataset_tokenizer(const std::string& dir, const DatasetMeta& meta);

}  // namespace gptforge
