#include "data/loader.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sstream>
#include <stdexcept>

#include "data/dataset_meta.h"
#include "data/random.h"
#include "data/shard.h"
#include "util/errors.h"
#include "util/log.h"

namespace gptforge {

namespace {

// Closes a file descriptor on every path out.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

std::string hex(uint64_t v) { return strprintf("%016llx", static_cast<unsigned long long>(v)); }

// This rank's share [lo, hi) of n tokens.
std::pair<int64_t, int64_t> rank_region(int64_t n, int rank, int world_size) {
  if (world_size < 1 || rank < 0 || rank >= world_size) {
    throw std::invalid_argument(strprintf("rank %d is outside world size %d", rank, world_size));
  }
  auto lo = static_cast<int64_t>(static_cast<__int128>(n) * rank / world_size);
  auto hi = static_cast<int64_t>(static_cast<__int128>(n) * (rank + 1) / world_size);
  return {lo, hi};
}

[[noreturn]] void throw_too_short(const TokenDataset& data, int64_t region, int64_t block_size, int rank,
                                  int world_size) {
  std::string share = world_size > 1 ? strprintf(" (rank %d's share of %d: %lld)", rank, world_size,
                                                 static_cast<long long>(region))
                                     : "";
  throw DataError(strprintf("%s has %lld tokens%s, fewer than model.block_size+1 = %lld: lower model.block_size "
                            "or prepare more text",
                            data.name().c_str(), static_cast<long long>(data.size()), share.c_str(),
                            static_cast<long long>(block_size + 1)));
}

// Token `i` of a shard's little-endian tokens of `width` (2 or 4) bytes.
uint32_t token_at(const unsigned char* tokens, uint64_t i, uint32_t width) {
  const unsigned char* p = tokens + i * width;
  uint32_t id = static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8);
  if (width == 4) id |= (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
  return id;
}

// The position of the first of `count` tokens that is >= vocab, or -1.
int64_t first_token_outside(const unsigned char* tokens, uint64_t count, uint32_t width, int64_t vocab) {
  for (uint64_t i = 0; i < count; ++i) {
    if (static_cast<int64_t>(token_at(tokens, i, width)) >= vocab) return static_cast<int64_t>(i);
  }
  return -1;
}

}  // namespace

ShardInfo read_shard_header(const std::string& path, bool verify_checksum) {
  Fd f{::open(path.c_str(), O_RDONLY)};
  if (f.fd < 0) throw DataError(path + ": cannot open shard (" + std::strerror(errno) + ")");
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) throw DataError(path + ": cannot stat shard (" + std::strerror(errno) + ")");
  const auto size = static_cast<uint64_t>(st.st_size);
  if (size < kShardHeaderBytes) {
    throw DataError(path + ": truncated shard: " + std::to_string(size) + " bytes, shorter than the " +
                    std::to_string(kShardHeaderBytes) + "-byte header");
  }
  std::string head(kShardHeaderBytes, '\0');
  if (::pread(f.fd, head.data(), head.size(), 0) != static_cast<ssize_t>(head.size())) {
    throw DataError(path + ": cannot read the shard header (" + std::strerror(errno) + ")");
  }
  std::string magic;
  ShardHeader h = parse_shard_header(head, &magic);
  if (std::memcmp(magic.data(), kShardMagic, sizeof(kShardMagic)) != 0) {
    throw DataError(path + ": not a gptforge shard (bad magic; an interrupted write leaves a zero header)");
  }
  if (h.version != kShardVersion) {
    throw DataError(path + ": shard format version " + std::to_string(h.version) + " is not supported (this gptforge reads version " +
                    std::to_string(kShardVersion) + ")");
  }
  if (h.dtype_bytes != 2 && h.dtype_bytes != 4) {
    throw DataError(path + ": invalid token dtype " + std::to_string(h.dtype_bytes) + " (expected 2 or 4 bytes per token)");
  }
  const uint64_t body = size - kShardHeaderBytes;
  if (h.tokens > body / h.dtype_bytes) {
    throw DataError(path + ": truncated shard: the header says " + std::to_string(h.tokens) + " tokens (" +
                    std::to_string(h.tokens * h.dtype_bytes) + " bytes) but the file holds " + std::to_string(body) +
                    " bytes after the header");
  }
  if (body != h.tokens * h.dtype_bytes) {
    throw DataError(path + ": " + std::to_string(body - h.tokens * h.dtype_bytes) +
                    " unexpected bytes after the last token (the header says " + std::to_string(h.tokens) + " tokens)");
  }
  if (verify_checksum) {
    std::vector<char> buf(1 << 20);
    uint64_t hash = kFnvOffset, pos = kShardHeaderBytes;
    while (pos < size) {
      size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), size - pos));
      ssize_t got = ::pread(f.fd, buf.data(), want, static_cast<off_t>(pos));
      if (got <= 0) throw DataError(path + ": read error (" + std::strerror(errno) + ")");
      hash = fnv1a64(buf.data(), static_cast<size_t>(got), hash);
      pos += static_cast<uint64_t>(got);
    }
    if (hash != h.checksum) {
      throw DataError(path + ": checksum mismatch (header " + hex(h.checksum) + ", tokens " + hex(hash) +
                      "): the shard is corrupted; run `gptforge prepare` again");
    }
  }
  return ShardInfo{path, h.tokens, h.dtype_bytes};
}

// A read-only memory map of one shard file.
struct TokenDataset::Mapping {
  void* addr = MAP_FAILED;
  size_t length = 0;
  const unsigned char* tokens = nullptr;
  ~Mapping() {
    if (addr != MAP_FAILED) ::munmap(addr, length);
  }
};

TokenDataset TokenDataset::open(const std::string& dir, const std::string& split, bool verify_checksum) {
  DatasetMeta meta = read_dataset_meta(dir);
  auto it = meta.splits.find(split);
  if (it == meta.splits.end() || it->second.shards.empty()) {
    throw DataError(dir + ": no '" + split + "' shards" +
                    (split == "val" ? " (was it prepared with data.val_fraction=0?)" : std::string()) +
                    "; run `gptforge prepare`");
  }
  TokenDataset ds;
  ds.name_ = dir + " (" + split + ")";
  ds.vocab_size_ = meta.vocab_size;
  ds.bytes_per_token_ = it->second.bytes_per_token();
  ds.eos_id_ = meta.eos_id;
  ds.offsets_.push_back(0);
  for (const std::string& name : it->second.shards) {
    ShardInfo info = read_shard_header(dir + "/" + name, verify_checksum);
    if (info.dtype_bytes != meta.dtype_bytes) {
      throw DataError(info.path + ": token dtype " + std::to_string(info.dtype_bytes) + " differs from meta.json's " +
                      std::to_string(meta.dtype_bytes));
    }
    auto map = std::make_shared<Mapping>();
    if (info.tokens > 0) {
      Fd f{::open(info.path.c_str(), O_RDONLY)};
      if (f.fd < 0) throw DataError(info.path + ": cannot open shard (" + std::strerror(errno) + ")");
      map->length = kShardHeaderBytes + info.tokens * info.dtype_bytes;
      map->addr = ::mmap(nullptr, map->length, PROT_READ, MAP_SHARED, f.fd, 0);
      if (map->addr == MAP_FAILED) throw DataError(info.path + ": cannot memory-map (" + std::strerror(errno) + ")");
      map->tokens = static_cast<const unsigned char*>(map->addr) + kShardHeaderBytes;
      // With the checksum pass the file is read anyway: an id the model has no embedding row for
      // (shards and meta.json of different `prepare` runs) is named here, not at the step that draws it.
      const int64_t bad = verify_checksum ? first_token_outside(map->tokens, info.tokens, info.dtype_bytes,
                                                                meta.vocab_size)
                                          : -1;
      if (bad >= 0) {
        const uint32_t id = token_at(map->tokens, static_cast<uint64_t>(bad), info.dtype_bytes);
        throw DataError(strprintf("%s: token %lld is id %u, outside the vocabulary of %s/meta.json (vocab_size %lld); "
                                  "the shards and meta.json come from different runs of `gptforge prepare`",
                                  info.path.c_str(), static_cast<long long>(bad), id, dir.c_str(),
                                  static_cast<long long>(meta.vocab_size)));
      }
    }
    ds.offsets_.push_back(ds.offsets_.back() + static_cast<int64_t>(info.tokens));
    ds.shards_.push_back(info);
    ds.maps_.push_back(std::move(map));
  }
  if (ds.size() != it->second.tokens) {
    throw DataError(dir + "/meta.json: lists " + std::to_string(it->second.tokens) + " '" + split +
                    "' tokens, but the shards hold " + std::to_string(ds.size()));
  }
  if (ds.size() == 0) throw DataError(ds.name_ + ": the split holds no tokens");
  return ds;
}

int64_t TokenDataset::size() const { return offsets_.empty() ? 0 : offsets_.back(); }
int64_t TokenDataset::vocab_size() const { return vocab_size_; }
double TokenDataset::bytes_per_token() const { return bytes_per_token_; }

void TokenDataset::read(int64_t start, int64_t len, int64_t* dst) const {
  if (start < 0 || len < 0 || start > size() - len) {
    throw std::out_of_range(strprintf("%s: tokens [%lld, %lld) are outside [0, %lld)", name_.c_str(),
                                      static_cast<long long>(start), static_cast<long long>(start + len),
                                      static_cast<long long>(size())));
  }
  // The last shard whose first token is at or before `start`.
  size_t s = static_cast<size_t>(std::upper_bound(offsets_.begin(), offsets_.end(), start) - offsets_.begin()) - 1;
  while (len > 0) {
    int64_t take = std::min(len, offsets_[s + 1] - start);
    const uint32_t width = shards_[s].dtype_bytes;
    const unsigned char* p = maps_[s]->tokens + (start - offsets_[s]) * width;
    if (width == 2) {
      for (int64_t i = 0; i < take; ++i, p += 2) dst[i] = static_cast<int64_t>(p[0] | (p[1] << 8));
    } else {
      for (int64_t i = 0; i < take; ++i, p += 4) {
        dst[i] = static_cast<int64_t>(static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
                                      (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24));
      }
    }
    dst += take;
    start += take;
    len -= take;
    ++s;
  }
}

BatchSampler::BatchSampler(std::shared_ptr<const TokenDataset> data, int64_t batch_size, int64_t block_size,
                           uint64_t seed, int rank, int world_size)
    : data_(std::move(data)),
      batch_size_(batch_size),
      block_size_(block_size),
      seed_(seed),
      rank_(rank),
      world_size_(world_size) {
  if (!data_) throw std::invalid_argument("BatchSampler: no dataset");
  if (batch_size_ < 1 || block_size_ < 1) throw std::invalid_argument("BatchSampler: batch and block size must be positive");
  std::tie(lo_, hi_) = rank_region(data_->size(), rank_, world_size_);
  if (hi_ - lo_ < block_size_ + 1) throw_too_short(*data_, hi_ - lo_, block_size_, rank_, world_size_);
  rng_state_ = derive_seed(seed_, static_cast<uint64_t>(rank_));
  buf_.resize(static_cast<size_t>(block_size_ + 1));
}

Batch BatchSampler::next() {
  const int64_t T = block_size_;
  Batch b{torch::empty({batch_size_, T}, torch::kLong), torch::empty({batch_size_, T}, torch::kLong)};
  int64_t* x = b.x.data_ptr<int64_t>();
  int64_t* y = b.y.data_ptr<int64_t>();
  SplitMix64 rng(rng_state_);
  const auto starts = static_cast<uint64_t>(hi_ - lo_ - T);  // windows of T+1 tokens inside [lo, hi)
  for (int64_t row = 0; row < batch_size_; ++row) {
    int64_t start = lo_ + static_cast<int64_t>(rng.below(starts));
    data_->read(start, T + 1, buf_.data());
    std::memcpy(x + row * T, buf_.data(), sizeof(int64_t) * T);
    std::memcpy(y + row * T, buf_.data() + 1, sizeof(int64_t) * T);
  }
  rng_state_ = rng.state();
  ++batches_;
  return b;
}

std::string BatchSampler::state() const {
  std::ostringstream os;
  os << "gptforge-batch-sampler 1 rng=" << rng_state_ << " batches=" << batches_ << " seed=" << seed_
     << " rank=" << rank_ << " world=" << world_size_ << " batch=" << batch_size_ << " block=" << block_size_
     << " tokens=" << data_->size();
  return os.str();
}

void BatchSampler::set_state(const std::string& s) {
  std::istringstream is(s);
  std::string magic, version, item;
  is >> magic >> version;
  if (magic != "gptforge-batch-sampler" || version != "1") {
    throw CheckpointError("invalid batch sampler state '" + s.substr(0, 60) + "'");
  }
  bool have_rng = false, have_batches = false;
  uint64_t rng = 0;
  int64_t batches = 0;
  std::vector<std::string> changed;
  while (is >> item) {
    size_t eq = item.find('=');
    if (eq == std::string::npos) throw CheckpointError("invalid batch sampler state: '" + item + "'");
    std::string key = item.substr(0, eq), value = item.substr(eq + 1);
    try {
      if (key == "rng") {
        rng = std::stoull(value);
        have_rng = true;
      } else if (key == "batches") {
        batches = std::stoll(value);
        have_batches = true;
      } else if ((key == "rank" && std::stoll(value) != rank_) || (key == "world" && std::stoll(value) != world_size_) ||
                 (key == "block" && std::stoll(value) != block_size_) ||
                 (key == "tokens" && std::stoll(value) != data_->size())) {
        changed.push_back(key + " " + value);
      }
    } catch (const std::logic_error&) {
      throw CheckpointError("invalid batch sampler state: '" + item + "'");
    }
  }
  if (!have_rng || !have_batches) throw CheckpointError("invalid batch sampler state: no rng= or batches=");
  if (!changed.empty()) {
    std::string what;
    for (const auto& c : changed) what += (what.empty() ? "" : ", ") + c;
    log_warn("the batch sampler state was saved with " + what +
             "; the run continues, but its batches differ from an uninterrupted one");
  }
  rng_state_ = rng;
  batches_ = batches;
}

std::vector<Batch> eval_batches(const TokenDataset& data, int64_t batch_size, int64_t block_size, int64_t num_batches,
                                int rank, int world_size) {
  if (batch_size < 1 || block_size < 1 || num_batches < 1) {
    throw std::invalid_argument("eval_batches: batch size, block size and batch count must be positive");
  }
  auto [lo, hi] = rank_region(data.size(), rank, world_size);
  const int64_t region = hi - lo, window = block_size + 1;
  if (region < window) throw_too_short(data, region, block_size, rank, world_size);
  const int64_t count = std::min(num_batches * batch_size, region / window);
  // Window i starts at lo + floor(i * (region - window) / (count - 1)): evenly spread, first at the
  // region's start, last at its end, and at least `window` apart because count <= region / window.
  std::vector<int64_t> buf(static_cast<size_t>(window));
  std::vector<Batch> batches;
  for (int64_t first = 0; first < count; first += batch_size) {
    int64_t rows = std::min(batch_size, count - first);
    Batch b{torch::empty({rows, block_size}, torch::kLong), torch::empty({rows, block_size}, torch::kLong)};
    int64_t* x = b.x.data_ptr<int64_t>();
    int64_t* y = b.y.data_ptr<int64_t>();
    for (int64_t r = 0; r < rows; ++r) {
      int64_t i = first + r;
      int64_t start = count == 1 ? lo
                                 : lo + static_cast<int64_t>(static_cast<__int128>(region - window) * i / (count - 1));
      data.read(start, window, buf.data());
      std::memcpy(x + r * block_size, buf.data(), sizeof(int64_t) * block_size);
      std::memcpy(y + r * block_size, buf.data() + 1, sizeof(int64_t) * block_size);
    }
    batches.push_back(std::move(b));
  }
  return batches;
}

}  // namespace gptforge
