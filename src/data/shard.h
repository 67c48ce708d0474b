// Binary token shards: what `gptforge prepare` writes and the loader memory-maps.
//
// Layout (all integers little-endian):
//   offset  size  field
//        0     8  magic "GFSHARD\0"
//        8     4  format version (1)
//       12     4  token dtype: bytes per token, 2 = uint16 (vocab <= 65536) or 4 = uint32
//       16     8  token count
//       24     8  source bytes: UTF-8 bytes of the text these tokens encode
//       32     8  checksum: FNV-1a 64 over the token bytes as stored
//       40    24  reserved, zero
//       64        tokens
// A split is the concatenation of its shards in name order (train_000000.bin, train_000001.bin...);
// documents are separated by EOS and may continue from one shard into the next.
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "util/files.h"  // fnv1a64, the shard checksum

namespace gptforge {

constexpr char kShardMagic[8] = {'G', 'F', 'S', 'H', 'A', 'R', 'D', '\0'};
constexpr uint32_t kShardVersion = 1;
constexpr size_t kShardHeaderBytes = 64;

struct ShardHeader {
  uint32_t version = kShardVersion;
  uint32_t dtype_bytes = 2;
  uint64_t tokens = 0;
  uint64_t source_bytes = 0;
  uint64_t checksum = kFnvOffset;
};

// 2 when every id of a vocabulary this size fits in uint16, else 4.
uint32_t token_dtype_bytes(int64_t vocab_size);
// The 64 header bytes, and back. parse_shard_header checks nothing but the length.
std::string encode_shard_header(const ShardHeader& h);
ShardHeader parse_shard_header(const std::string& bytes, std::string* magic = nullptr);
// "train_000003.bin"
std::string shard_name(const std::string& split, int index);

// Writes the shards of one split into `dir`, starting a new file every `shard_tokens` tokens. The
// header is written last; callers write into a temporary directory (see prepare.h), so no file
// that looks complete exists before the whole run succeeded.
class ShardWriter {
 public:
  ShardWriter(std::string dir, std::string split, uint32_t dtype_bytes, int64_t shard_tokens);
  ~ShardWriter();
  ShardWriter(const ShardWriter&) = delete;
  ShardWriter& operator=(const ShardWriter&) = delete;

  // Counts each token's decoded length (Tokenizer::token_bytes) into its shard's source bytes, so
  // the figure does not depend on how the text was cut before encoding.
  void set_token_byte_lengths(std::vector<uint32_t> lengths) { token_byte_lengths_ = std::move(lengths); }
  // Appends tokens. Without token byte lengths, `source_bytes` (the text they encode) is credited to
  // the shard the first token lands in.
  void append(const int32_t* ids, size_t n, uint64_t source_bytes = 0);
  void append(const std::vector<int32_t>& ids, uint64_t source_bytes = 0) { append(ids.data(), ids.size(), source_bytes); }
  // Completes the last shard. Returns the shard file names (not paths), in order.
  std::vector<std::string> finish();

  int64_t tokens() const { return total_tokens_; }

 private:
  void open_shard();
  void close_shard();

  std::string dir_, split_;
  uint32_t dtype_bytes_;
  int64_t shard_tokens_;
  std::FILE* fp_ = nullptr;
  std::string path_;
  ShardHeader header_;
  std::vector<unsigned char> buf_;
  std::vector<uint32_t> token_byte_lengths_;
  std::vector<std::string> names_;
  int64_t total_tokens_ = 0;
  bool finished_ = false;
};

}  // namespace gptforge
