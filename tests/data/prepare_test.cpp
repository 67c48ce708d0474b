#include "data/prepare.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "tokenizer/tiny_corpus.h"
#include "data/dataset_meta.h"
#include "data/loader.h"
#include "data/shard.h"
#include "test_helpers.h"
#include "tokenizer/tokenizer.h"
#include "util/errors.h"
#include "util/files.h"

namespace prepare_test {

using namespace gptforge;
using gptforge::testing::synthetic_text;
using gptforge::testing::TempDir;
using gptforge::testing::tiny_tokenizer;
namespace fs = std::filesystem;

namespace {

// `n` paragraphs of synthetic text, blank-line separated, spread over `files` files.
std::vector<std::string> write_corpus(const TempDir& dir, int n, int files = 3, const std::string& sub = "corpus") {
  std::vector<std::string> docs;
  std::vector<std::string> contents(files);
  for (int i = 0; i < n; ++i) {
    std::string doc = synthetic_text(3 + i % 5, 100 + i);
    while (!doc.empty() && (doc.back() == '\n' || doc.back() == ' ')) doc.pop_back();
    std::replace(doc.begin(), doc.end(), '\n', ' ');
    doc = "doc " + std::to_string(i) + ": " + doc;
    docs.push_back(doc);
    contents[i % files] += doc + "\n\n";
  }
  // Documents are read file by file (a.txt, b.txt, ...).
  std::vector<std::string> ordered;
  for (int f = 0; f < files; ++f) {
    dir.write(sub + "/" + std::string(1, static_cast<char>('a' + f)) + ".txt", contents[f]);
    for (int i = f; i < n; i += files) ordered.push_back(docs[i]);
  }
  return ordered;
}

Config config_for(const TempDir& dir, const std::string& inputs = "corpus") {
  Config cfg;
  cfg.run.progress = "off";
  cfg.run.threads = 2;
  cfg.data.inputs = {dir.file(inputs)};
  cfg.data.tokenizer = tiny_tokenizer();
  cfg.data.out_dir = dir.file("out");
  cfg.data.documents = "paragraph";
  cfg.data.val_fraction = 0.1;
  cfg.data.shard_tokens = 1000;
  return cfg;
}

// The documents of a split, decoded: the token stream cut at every EOS.
std::vector<std::string> split_documents(const std::string& dir, const std::string& split) {
  TokenDataset ds = TokenDataset::open(dir, split);
  std::vector<int64_t> ids(static_cast<size_t>(ds.size()));
  ds.read(0, ds.size(), ids.data());
  Tokenizer tok = Tokenizer::load(dir + "/tokenizer.model");
  std::vector<std::string> docs;
  std::vector<int32_t> cur;
  for (int64_t id : ids) {
    if (id == tok.eos_id()) {
      docs.push_back(tok.decode(cur));
      cur.clear();
    } else {
      cur.push_back(static_cast<int32_t>(id));
    }
  }
  EXPECT_TRUE(cur.empty()) << "the stream must end with EOS";
  return docs;
}

// Every shard's bytes, concatenated in name order (to compare two runs exactly).
std::string all_shard_bytes(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".bin") names.push_back(e.path().filename());
  }
  std::sort(names.begin(), names.end());
  std::string out;
  for (const auto& n : names) out += n + read_file(dir + "/" + n);
  return out;
}

template <class F>
std::string error_message(F fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no error";
  return "";
}

// Directories next to `out` whose names start with out's, hidden or not (temporaries left behind).
std::vector<std::string> leftovers(const TempDir& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir.path())) {
    std::string name = e.path().filename();
    if (name.rfind("out.", 0) == 0 || name.rfind(".out.", 0) == 0) names.push_back(name);
  }
  return names;
}

}  // namespace

TEST(Prepare, ShardsDecodeBackToTheDocuments) {
  TempDir dir;
  std::vector<std::string> docs = write_corpus(dir, 60);
  PrepareStats stats = prepare_data(config_for(dir));
  const DatasetMeta meta = read_dataset_meta(dir.file("out"));
  EXPECT_EQ(meta.splits.at("train").documents, 54);
  EXPECT_EQ(meta.splits.at("val").documents, 6);  // round(60 * 0.1)
  EXPECT_EQ(meta.vocab_size, 400);
  EXPECT_EQ(meta.dtype_bytes, 2u);
  EXPECT_GT(meta.splits.at("train").shards.size(), 1u);  // shard_tokens=1000 forces several

  std::vector<std::string> train = split_documents(dir.file("out"), "train");
  std::vector<std::string> val = split_documents(dir.file("out"), "val");
  ASSERT_EQ(train.size(), 54u);
  ASSERT_EQ(val.size(), 6u);
  // Each document lands in exactly one split, whole, in corpus order.
  std::vector<std::string> merged;
  size_t ti = 0, vi = 0;
  int64_t bytes = 0;
  for (const auto& d : docs) {
    bytes += static_cast<int64_t>(d.size());
    if (ti < train.size() && train[ti] == d) merged.push_back(train[ti++]);
    else if (vi < val.size() && val[vi] == d) merged.push_back(val[vi++]);
  }
  EXPECT_EQ(merged, docs);
  EXPECT_EQ(meta.splits.at("train").bytes + meta.splits.at("val").bytes, bytes);
  // Shard headers carry the source bytes of their own tokens; per split they add up to meta.json's.
  for (const auto& [name, split] : meta.splits) {
    int64_t header_bytes = 0;
    for (const auto& shard : split.shards) {
      header_bytes += static_cast<int64_t>(parse_shard_header(read_file(dir.file("out/" + shard))).source_bytes);
    }
    EXPECT_EQ(header_bytes, split.bytes) << name;
  }
  TokenDataset ds = TokenDataset::open(dir.file("out"), "val");
  EXPECT_DOUBLE_EQ(ds.bytes_per_token(), static_cast<double>(meta.splits.at("val").bytes) / ds.size());
  EXPECT_EQ(read_file(dir.file("out/tokenizer.model")), read_file(tiny_tokenizer()));
  EXPECT_NE(stats.summary().find("val"), std::string::npos);
  EXPECT_TRUE(leftovers(dir).empty());
}

TEST(Prepare, SplitIsReproducibleWithTheSeedAndDiffersWithAnother) {
  TempDir dir;
  write_corpus(dir, 80);
  Config cfg = config_for(dir);
  prepare_data(cfg);
  std::string first = all_shard_bytes(dir.file("out"));
  std::vector<std::string> first_val = split_documents(dir.file("out"), "val");
  prepare_data(cfg);  // replaces the previous output
  EXPECT_EQ(all_shard_bytes(dir.file("out")), first);
  cfg.run.seed = 4242;
  prepare_data(cfg);
  EXPECT_NE(split_documents(dir.file("out"), "val"), first_val);
  EXPECT_EQ(split_documents(dir.file("out"), "val").size(), 8u);
}

TEST(Prepare, OutputDoesNotDependOnThreadsOrChunking) {
  TempDir dir;
  write_corpus(dir, 30);
  Config cfg = config_for(dir);
  cfg.data.documents = "file";  // three long documents, cut into pieces below
  cfg.data.val_fraction = 0.34;
  cfg.data.threads = 1;
  prepare_data(cfg);
  std::string serial = all_shard_bytes(dir.file("out"));
  cfg.data.threads = 3;
  PrepareOptions opts;
  opts.chunk_bytes = 64;
  opts.batch_bytes = 700;
  prepare_data(cfg, opts);
  EXPECT_EQ(all_shard_bytes(dir.file("out")), serial);
}

TEST(Prepare, InvalidUtf8IsReplacedAndCountedOrRejected) {
  TempDir dir;
  write_corpus(dir, 20);
  dir.write("corpus/z.txt", "broken \xff\xfe bytes here\n\nand \xc3 more\n");
  Config cfg = config_for(dir);
  PrepareStats stats = prepare_data(cfg);
  EXPECT_EQ(stats.meta.invalid_utf8, 3);
  EXPECT_EQ(read_dataset_meta(dir.file("out")).invalid_utf8, 3);
  std::vector<std::string> all = split_documents(dir.file("out"), "train");
  for (const auto& d : split_documents(dir.file("out"), "val")) all.push_back(d);
  EXPECT_NE(std::find(all.begin(), all.end(), "broken \xEF\xBF\xBD\xEF\xBF\xBD bytes here"), all.end());

  cfg.data.invalid_utf8 = "reject";
  cfg.data.out_dir = dir.file("out2");
  std::string msg = error_message([&] { prepare_data(cfg); });
  EXPECT_NE(msg.find(dir.file("corpus/z.txt") + ":1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("byte offset 7"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(dir.file("out2")));
}

TEST(Prepare, FailedRunLeavesNoShardsAndKeepsTheOldOutput) {
  TempDir dir;
  write_corpus(dir, 40);
  Config cfg = config_for(dir);
  PrepareOptions failing;
  failing.batch_bytes = 300;
  failing.after_batch = [](int64_t batches) {
    if (batches == 2) throw RunError("interrupted");
  };
  // No earlier output: nothing appears.
  EXPECT_THROW(prepare_data(cfg, failing), RunError);
  EXPECT_FALSE(fs::exists(dir.file("out")));
  EXPECT_TRUE(leftovers(dir).empty());

  // An earlier output survives a failed run untouched.
  prepare_data(cfg);
  std::string before = all_shard_bytes(dir.file("out")) + read_file(dir.file("out/meta.json"));
  cfg.run.seed = 99;
  EXPECT_THROW(prepare_data(cfg, failing), RunError);
  EXPECT_EQ(all_shard_bytes(dir.file("out")) + read_file(dir.file("out/meta.json")), before);
  EXPECT_TRUE(leftovers(dir).empty());
}

TEST(Prepare, TooFewDocumentsNamesValFraction) {
  TempDir dir;
  dir.write("one/doc.txt", "a single paragraph of text\n");
  Config cfg = config_for(dir, "one");
  std::string msg = error_message([&] { prepare_data(cfg); });
  EXPECT_NE(msg.find("data.val_fraction"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(dir.file("out")));
  cfg.data.val_fraction = 0.0;  // no validation split asked for: fine
  prepare_data(cfg);
  EXPECT_EQ(read_dataset_meta(dir.file("out")).splits.at("train").documents, 1);
  EXPECT_THROW(TokenDataset::open(dir.file("out"), "val"), DataError);
}

TEST(Prepare, EmptyOrMissingInputsFailNamingThem) {
  TempDir dir;
  dir.write("blank/a.txt", "\n\n   \n");
  Config cfg = config_for(dir, "blank");
  std::string msg = error_message([&] { prepare_data(cfg); });
  EXPECT_NE(msg.find("empty"), std::string::npos) << msg;
  EXPECT_NE(msg.find(dir.file("blank")), std::string::npos) << msg;
  cfg.data.inputs = {dir.file("nope.txt")};
  EXPECT_NE(error_message([&] { prepare_data(cfg); }).find(dir.file("nope.txt")), std::string::npos);
  cfg = config_for(dir);
  write_corpus(dir, 10);
  cfg.data.tokenizer = dir.file("missing.model");
  EXPECT_NE(error_message([&] { prepare_data(cfg); }).find(dir.file("missing.model")), std::string::npos);
  cfg = config_for(dir);
  cfg.data.inputs.clear();
  EXPECT_THROW(prepare_data(cfg), ConfigError);
}

TEST(Prepare, RefusesToReplaceADirectoryItDidNotWrite) {
  TempDir dir;
  write_corpus(dir, 20);
  dir.write("out/notes.txt", "precious");
  std::string msg = error_message([&] { prepare_data(config_for(dir)); });
  EXPECT_NE(msg.find("notes.txt"), std::string::npos) << msg;
  EXPECT_EQ(read_file(dir.file("out/notes.txt")), "precious");
}

TEST(Prepare, JsonlDocumentsAndLineMode) {
  TempDir dir;
  std::string jsonl;
  for (int i = 0; i < 30; ++i) jsonl += "{\"body\": \"record " + std::to_string(i) + "\\nwith two lines\"}\n";
  dir.write("j/data.jsonl", jsonl);
  Config cfg = config_for(dir, "j");
  cfg.data.jsonl_field = "body";
  prepare_data(cfg);
  std::vector<std::string> train = split_documents(dir.file("out"), "train");
  EXPECT_EQ(train.size(), 27u);
  EXPECT_NE(std::find(train.begin(), train.end(), "record 0\nwith two lines"), train.end());

  dir.write("l/lines.txt", "one\ntwo\nthree\nfour\n\nfive\n");
  cfg = config_for(dir, "l");
  cfg.data.documents = "line";
  cfg.data.val_fraction = 0.2;
  PrepareStats stats = prepare_data(cfg);
  EXPECT_EQ(stats.meta.splits.at("train").documents, 4);
  EXPECT_EQ(stats.meta.splits.at("val").documents, 1);
}

}  // namespace prepare_test
