#include "data/dataset_meta.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "util/errors.h"
#include "util/files.h"
#include "util/log.h"

namespace gptforge {

using nlohmann::json;

std::string dataset_meta_json(const DatasetMeta& m) {
  json splits = json::object();
  for (const auto& [name, s] : m.splits) {
    splits[name] = {{"documents", s.documents},
                    {"tokens", s.tokens},
                    {"bytes", s.bytes},
                    {"bytes_per_token", s.bytes_per_token()},
                    {"shards", s.shards}};
  }
  json j = {{"format", "gptforge-shards"},
            {"version", 1},
            {"vocab_size", m.vocab_size},
            {"dtype", m.dtype_bytes == 2 ? "uint16" : "uint32"},
            {"dtype_bytes", m.dtype_bytes},
            {"eos_id", m.eos_id},
            {"tokenizer", m.tokenizer},
            {"tokenizer_copy", m.tokenizer_copy},
            {"documents", m.documents},
            {"seed", m.seed},
            {"val_fraction", m.val_fraction},
            {"invalid_utf8", m.invalid_utf8},
            {"invalid_utf8_policy", m.invalid_utf8_policy},
            {"inputs", m.inputs},
            {"seconds", m.seconds},
            {"splits", splits}};
  return j.dump(2) + "\n";
}

void write_dataset_meta(const std::string& dir, const DatasetMeta& meta) {
  write_file_atomic(dir + "/meta.json", dataset_meta_json(meta));
}

DatasetMeta read_dataset_meta(const std::string& dir) {
  std::string path = dir + "/meta.json";
  if (!std::filesystem::exists(path)) {
    throw DataError(path + ": missing (is " + dir + " a directory written by `gptforge prepare`?)");
  }
  DatasetMeta m;
  try {
    json j = json::parse(read_file(path));
    if (j.value("format", "") != "gptforge-shards") throw DataError(path + ": not a gptforge shard description");
    m.vocab_size = j.at("vocab_size").get<int64_t>();
    m.dtype_bytes = j.at("dtype_bytes").get<uint32_t>();
    m.eos_id = j.value("eos_id", 3);
    m.tokenizer = j.value("tokenizer", "");
    m.tokenizer_copy = j.value("tokenizer_copy", "");
    m.documents = j.value("documents", "");
    m.seed = j.value("seed", int64_t{0});
    m.val_fraction = j.value("val_fraction", 0.0);
    m.invalid_utf8 = j.value("invalid_utf8", int64_t{0});
    m.invalid_utf8_policy = j.value("invalid_utf8_policy", "replace");
    m.inputs = j.value("inputs", std::vector<std::string>{});
    m.seconds = j.value("seconds", 0.0);
    for (const auto& [name, s] : j.at("splits").items()) {
      SplitMeta sm;
      sm.documents = s.at("documents").get<int64_t>();
      sm.tokens = s.at("tokens").get<int64_t>();
      sm.bytes = s.at("bytes").get<int64_t>();
      sm.shards = s.at("shards").get<std::vector<std::string>>();
      m.splits[name] = sm;
    }
  } catch (const json::exception& e) {
    std::string msg = e.what();
    size_t cut = msg.find("] ");
    throw DataError(path + ": malformed (" + (cut == std::string::npos ? msg : msg.substr(cut + 2)) + ")");
  }
  if (m.vocab_size <= 0 || (m.dtype_bytes != 2 && m.dtype_bytes != 4)) {
    throw DataError(path + ": invalid vocab_size or dtype_bytes");
  }
  return m;
}

Tokenizer load_dataset_tokenizer(const std::string& dir, const DatasetMeta& meta) {
  const std::string path = dir + "/tokenizer.model";
  if (!std::filesystem::exists(path)) {
    throw DataError(path + ": missing (run `gptforge prepare` to write shards and tokenizer)");
  }
  Tokenizer tok = Tokenizer::from_serialized(read_file(path), path);
  if (tok.vocab_size() != meta.vocab_size) {
    throw DataError(strprintf("%s: %lld ids, but %s/meta.json says vocab_size %lld (the shards were written with "
                              "another tokenizer; run `gptforge prepare` again)",
                              path.c_str(), (long long)tok.vocab_size(), dir.c_str(), (long long)meta.vocab_size));
  }
  if (tok.eos_id() != meta.eos_id) {
    throw DataError(strprintf("%s: EOS is id %d, but %s/meta.json says eos_id %d (the shards were written with "
                              "another tokenizer; run `gptforge prepare` again)",
                              path.c_str(), tok.eos_id(), dir.c_str(), meta.eos_id));
  }
  return tok;
}

}  // namespace gptforge
