#include "data/shard.h"

#include <cerrno>
#include <cstring>

#include "util/errors.h"
#include "util/files.h"

namespace gptforge {

namespace {

void put_le(std::string& out, size_t offset, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out[offset + i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

uint64_t get_le(const std::string& in, size_t offset, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(static_cast<unsigned char>(in[offset + i])) << (8 * i);
  return v;
}

}  // namespace

uint32_t token_dtype_bytes(int64_t vocab_size) { return vocab_size <= 65536 ? 2 : 4; }

std::string encode_shard_header(const ShardHeader& h) {
  std::string out(kShardHeaderBytes, '\0');
  std::memcpy(out.data(), kShardMagic, sizeof(kShardMagic));
  put_le(out, 8, h.version, 4);
  put_le(out, 12, h.dtype_bytes, 4);
  put_le(out, 16, h.tokens, 8);
  put_le(out, 24, h.source_bytes, 8);
  put_le(out, 32, h.checksum, 8);
  return out;
}

ShardHeader parse_shard_header(const std::string& bytes, std::string* magic) {
  if (bytes.size() < kShardHeaderBytes) throw DataError("shard header too short");
  ShardHeader h;
  if (magic) *magic = bytes.substr(0, 8);
  h.version = static_cast<uint32_t>(get_le(bytes, 8, 4));
  h.dtype_bytes = static_cast<uint32_t>(get_le(bytes, 12, 4));
  h.tokens = get_le(bytes, 16, 8);
  h.source_bytes = get_le(bytes, 24, 8);
  h.checksum = get_le(bytes, 32, 8);
  return h;
}

std::string shard_name(const std::string& split, int index) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "_%06d.bin", index);
  return split + buf;
}

ShardWriter::ShardWriter(std::string dir, std::string split, uint32_t dtype_bytes, int64_t shard_tokens)
    : dir_(std::move(dir)), split_(std::move(split)), dtype_bytes_(dtype_bytes), shard_tokens_(shard_tokens) {
  if (dtype_bytes_ != 2 && dtype_bytes_ != 4) throw DataError("shard dtype must be 2 or 4 bytes per token");
  if (shard_tokens_ < 1) shard_tokens_ = 1;
}

ShardWriter::~ShardWriter() {
  // An unfinished shard (an exception is on its way) is closed without a valid header.
  if (fp_) std::fclose(fp_);
}

void ShardWriter::open_shard() {
  std::string name = shard_name(split_, static_cast<int>(names_.size()));
  path_ = dir_ + "/" + name;
  fp_ = std::fopen(path_.c_str(), "wb");
  if (!fp_) throw DataError(path_ + ": cannot create (" + std::strerror(errno) + ")");
  names_.push_back(name);
  header_ = ShardHeader{};
  header_.dtype_bytes = dtype_bytes_;
  // A zero header until the shard is complete: an interrupted write never looks like a shard.
  std::string zeros(kShardHeaderBytes, '\0');
  if (std::fwrite(zeros.data(), 1, zeros.size(), fp_) != zeros.size()) {
    throw DataError(path_ + ": write failed (" + std::strerror(errno) + ")");
  }
}

void ShardWriter::close_shard() {
  std::string head = encode_shard_header(header_);
  bool ok = std::fflush(fp_) == 0 && std::fseek(fp_, 0, SEEK_SET) == 0 &&
            std::fwrite(head.data(), 1, head.size(), fp_) == head.size() && std::fflush(fp_) == 0;
  int err = errno;
  ok = std::fclose(fp_) == 0 && ok;
  fp_ = nullptr;
  if (!ok) throw DataError(path_ + ": write failed (" + std::strerror(err) + ")");
  fsync_path(path_);
}

void ShardWriter::append(const int32_t* ids, size_t n, uint64_t source_bytes) {
  if (finished_) throw DataError("ShardWriter: append after finish");
  bool credited = false;
  while (n > 0) {
    if (!fp_) open_shard();
    if (!credited && token_byte_lengths_.empty()) {
      header_.source_bytes += source_bytes;
      credited = true;
    }
    size_t room = static_cast<size_t>(shard_tokens_ - static_cast<int64_t>(header_.tokens));
    size_t take = std::min(room, n);
    buf_.resize(take * dtype_bytes_);
    unsigned char* out = buf_.data();
    for (size_t i = 0; i < take; ++i) {
      auto v = static_cast<uint32_t>(ids[i]);
      if (ids[i] < 0 || (dtype_bytes_ == 2 && v > 0xFFFF)) {
        throw DataError(path_ + ": token id " + std::to_string(ids[i]) + " does not fit the shard dtype");
      }
      if (v < token_byte_lengths_.size()) header_.source_bytes += token_byte_lengths_[v];
      for (uint32_t b = 0; b < dtype_bytes_; ++b) *out++ = static_cast<unsigned char>(v >> (8 * b));
    }
    if (std::fwrite(buf_.data(), 1, buf_.size(), fp_) != buf_.size()) {
      throw DataError(path_ + ": write failed (" + std::strerror(errno) + ")");
    }
    header_.checksum = fnv1a64(buf_.data(), buf_.size(), header_.checksum);
    header_.tokens += take;
    total_tokens_ += static_cast<int64_t>(take);
    ids += take;
    n -= take;
    if (static_cast<int64_t>(header_.tokens) >= shard_tokens_) close_shard();
  }
}

std::vector<std::string> ShardWriter::finish() {
  if (!finished_ && fp_) close_shard();
  finished_ = true;
  return names_;
}

}  // namespace gptforge
