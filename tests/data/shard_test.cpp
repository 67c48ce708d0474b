#include "data/shard.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "data/loader.h"
#include "test_helpers.h"
#include "util/errors.h"
#include "util/files.h"

namespace shard_test {

using namespace gptforge;
using gptforge::testing::TempDir;

namespace {

// Writes tokens 0..n-1 (mod 60000) as one split and returns the shard paths.
std::vector<std::string> write_tokens(const std::string& dir, int64_t n, int64_t shard_tokens, uint32_t dtype = 2) {
  ShardWriter w(dir, "train", dtype, shard_tokens);
  std::vector<int32_t> ids;
  for (int64_t i = 0; i < n; ++i) ids.push_back(static_cast<int32_t>(i % 60000));
  w.append(ids, 1000);
  std::vector<std::string> paths;
  for (const auto& name : w.finish()) paths.push_back(dir + "/" + name);
  return paths;
}

std::string header_error(const std::string& path, bool verify = true) {
  try {
    read_shard_header(path, verify);
  } catch (const DataError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no DataError for " << path;
  return "";
}

void patch(const std::string& path, size_t offset, const std::string& bytes) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace

TEST(Shard, HeaderIsWrittenAndValidated) {
  TempDir dir;
  auto paths = write_tokens(dir.path(), 2500, 1000);
  ASSERT_EQ(paths.size(), 3u);
  EXPECT_EQ(std::filesystem::path(paths[0]).filename(), "train_000000.bin");
  EXPECT_EQ(std::filesystem::path(paths[2]).filename(), "train_000002.bin");
  std::string bytes = read_file(paths[0]);
  ASSERT_EQ(bytes.size(), 64u + 2000u);
  EXPECT_EQ(bytes.substr(0, 8), std::string("GFSHARD\0", 8));
  ShardHeader h = parse_shard_header(bytes);
  EXPECT_EQ(h.version, 1u);
  EXPECT_EQ(h.dtype_bytes, 2u);
  EXPECT_EQ(h.tokens, 1000u);
  EXPECT_EQ(h.source_bytes, 1000u);  // credited to the shard the append started in
  EXPECT_EQ(h.checksum, fnv1a64(bytes.data() + 64, 2000));
  EXPECT_EQ(bytes.substr(40, 24), std::string(24, '\0'));
  // Token 1 little-endian right after the header.
  EXPECT_EQ(static_cast<unsigned char>(bytes[66]), 1);
  EXPECT_EQ(static_cast<unsigned char>(bytes[67]), 0);
  ShardInfo last = read_shard_header(paths[2], true);
  EXPECT_EQ(last.tokens, 500u);
  EXPECT_EQ(last.dtype_bytes, 2u);
  EXPECT_EQ(parse_shard_header(read_file(paths[2])).source_bytes, 0u);
}

TEST(Shard, DtypeFollowsVocabSize) {
  EXPECT_EQ(token_dtype_bytes(4096), 2u);
  EXPECT_EQ(token_dtype_bytes(65536), 2u);
  EXPECT_EQ(token_dtype_bytes(65537), 4u);
  TempDir dir;
  ShardWriter w(dir.path(), "val", 4, 100);
  w.append(std::vector<int32_t>{70000, 1, 2});
  auto names = w.finish();
  ShardInfo info = read_shard_header(dir.file(names[0]), true);
  EXPECT_EQ(info.dtype_bytes, 4u);
  EXPECT_EQ(info.tokens, 3u);
  ShardWriter narrow(dir.path(), "x", 2, 100);
  EXPECT_THROW(narrow.append(std::vector<int32_t>{70000}), DataError);
}

TEST(Shard, CorruptedShardsAreRejectedNamingTheFile) {
  TempDir dir;
  auto paths = write_tokens(dir.path(), 800, 1000);
  std::string good = read_file(paths[0]);
  std::string p = dir.file("bad.bin");

  write_file_atomic(p, good);
  patch(p, 0, "XFSHARD");
  std::string msg = header_error(p);
  EXPECT_NE(msg.find(p), std::string::npos) << msg;
  EXPECT_NE(msg.find("bad magic"), std::string::npos) << msg;

  write_file_atomic(p, good);
  patch(p, 8, std::string("\x02\0\0\0", 4));
  msg = header_error(p);
  EXPECT_NE(msg.find(p), std::string::npos);
  EXPECT_NE(msg.find("version 2"), std::string::npos) << msg;

  write_file_atomic(p, good);
  patch(p, 12, std::string("\x03\0\0\0", 4));
  EXPECT_NE(header_error(p).find("dtype 3"), std::string::npos);

  write_file_atomic(p, good.substr(0, good.size() - 10));
  msg = header_error(p, false);
  EXPECT_NE(msg.find(p), std::string::npos);
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;

  write_file_atomic(p, good.substr(0, 30));
  EXPECT_NE(header_error(p, false).find("truncated"), std::string::npos);

  write_file_atomic(p, good + "xx");
  EXPECT_NE(header_error(p, false).find("unexpected bytes"), std::string::npos);

  write_file_atomic(p, good);
  patch(p, 64 + 100, "\x7f");
  EXPECT_NO_THROW(read_shard_header(p, false));  // the header alone looks fine
  msg = header_error(p, true);
  EXPECT_NE(msg.find(p), std::string::npos);
  EXPECT_NE(msg.find("checksum mismatch"), std::string::npos) << msg;

  // A shard whose header was never completed (an interrupted write) is not a shard.
  write_file_atomic(p, std::string(64, '\0') + good.substr(64));
  EXPECT_NE(header_error(p).find("bad magic"), std::string::npos);

  EXPECT_NE(header_error(dir.file("missing.bin")).find(dir.file("missing.bin")), std::string::npos);
}

}  // namespace shard_test
