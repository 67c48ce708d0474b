#include "data/loader.h"

#include <gtest/gtest.h>

#include <set>

#include "data/dataset_meta.h"
#include "data/shard.h"
#include "test_helpers.h"
#include "util/errors.h"

namespace loader_test {

using namespace gptforge;
using gptforge::testing::TempDir;

namespace {

// Token i of a split is value(i): every window can be checked against the stream it came from.
int64_t value(int64_t i) { return (i * 7 + 3) % 50000; }

// A prepared-data directory with `train` and `val` tokens, in shards of `shard_tokens`.
void write_dataset(const std::string& dir, int64_t train, int64_t val, int64_t shard_tokens) {
  DatasetMeta meta;
  meta.vocab_size = 50000;
  meta.dtype_bytes = 2;
  for (auto [name, n] : {std::pair<std::string, int64_t>{"train", train}, {"val", val}}) {
    ShardWriter w(dir, name, 2, shard_tokens);
    std::vector<int32_t> ids;
    for (int64_t i = 0; i < n; ++i) ids.push_back(static_cast<int32_t>(value(i)));
    w.append(ids, static_cast<uint64_t>(n) * 4);
    SplitMeta& s = meta.splits[name];
    s.shards = w.finish();
    s.tokens = n;
    s.bytes = n * 4;
    s.documents = 1;
  }
  write_dataset_meta(dir, meta);
}

// The position of the window `row` of a batch in the stream (x[row][0] == value(pos)).
int64_t window_start(const torch::Tensor& x, int64_t row, int64_t n) {
  int64_t first = x[row][0].item<int64_t>(), second = x[row][1].item<int64_t>();
  for (int64_t i = 0; i + 1 < n; ++i) {
    if (value(i) == first && value(i + 1) == second) return i;
  }
  return -1;
}

void expect_real_windows(const Batch& b, int64_t n) {
  ASSERT_EQ(b.x.dtype(), torch::kLong);
  ASSERT_EQ(b.x.sizes(), b.y.sizes());
  const int64_t T = b.x.size(1);
  for (int64_t r = 0; r < b.x.size(0); ++r) {
    int64_t start = window_start(b.x, r, n);
    ASSERT_GE(start, 0);
    ASSERT_LE(start + T + 1, n);
    for (int64_t t = 0; t < T; ++t) {
      ASSERT_EQ(b.x[r][t].item<int64_t>(), value(start + t));
      ASSERT_EQ(b.y[r][t].item<int64_t>(), value(start + t + 1));
    }
  }
}

}  // namespace

TEST(Loader, OpensSplitsWithMetadata) {
  TempDir dir;
  write_dataset(dir.path(), 5000, 1200, 1000);
  TokenDataset train = TokenDataset::open(dir.path(), "train");
  EXPECT_EQ(train.size(), 5000);
  EXPECT_EQ(train.shards().size(), 5u);
  EXPECT_EQ(train.vocab_size(), 50000);
  EXPECT_DOUBLE_EQ(train.bytes_per_token(), 4.0);
  EXPECT_EQ(TokenDataset::open(dir.path(), "val").size(), 1200);
}

TEST(Loader, ReadCrossesShardBoundaries) {
  TempDir dir;
  write_dataset(dir.path(), 5000, 100, 1000);
  TokenDataset ds = TokenDataset::open(dir.path(), "train");
  std::vector<int64_t> out(2500);
  ds.read(900, 2500, out.data());
  for (int64_t i = 0; i < 2500; ++i) ASSERT_EQ(out[i], value(900 + i)) << i;
  ds.read(4999, 1, out.data());
  EXPECT_EQ(out[0], value(4999));
  EXPECT_THROW(ds.read(4990, 11, out.data()), std::out_of_range);
}

TEST(Loader, WindowsAreShiftedSlicesOfTheStream) {
  TempDir dir;
  write_dataset(dir.path(), 3000, 500, 1000);
  auto ds = std::make_shared<const TokenDataset>(TokenDataset::open(dir.path(), "train"));
  BatchSampler sampler(ds, 4, 64, 1);
  for (int k = 0; k < 5; ++k) {
    Batch b = sampler.next();
    EXPECT_EQ(b.x.sizes(), (std::vector<int64_t>{4, 64}));
    expect_real_windows(b, 3000);
  }
}

TEST(Loader, SavedStateGivesTheSameBatches) {
  TempDir dir;
  write_dataset(dir.path(), 3000, 500, 1000);
  auto ds = std::make_shared<const TokenDataset>(TokenDataset::open(dir.path(), "train"));
  BatchSampler sampler(ds, 3, 16, 42);
  sampler.next();
  std::string state = sampler.state();
  std::vector<Batch> first;
  for (int k = 0; k < 4; ++k) first.push_back(sampler.next());

  // The same object restored, and a fresh sampler given the state, both repeat the batches.
  sampler.set_state(state);
  BatchSampler fresh(ds, 3, 16, 42);
  fresh.set_state(state);
  for (int k = 0; k < 4; ++k) {
    Batch a = sampler.next(), b = fresh.next();
    EXPECT_TRUE(torch::equal(a.x, first[k].x));
    EXPECT_TRUE(torch::equal(a.y, first[k].y));
    EXPECT_TRUE(torch::equal(b.x, first[k].x));
  }
  EXPECT_EQ(fresh.batches_drawn(), 5);
  // Another seed gives other windows.
  BatchSampler other(ds, 3, 16, 43);
  other.next();
  EXPECT_FALSE(torch::equal(other.next().x, first[0].x));
  EXPECT_THROW(fresh.set_state("garbage"), CheckpointError);
}

TEST(Loader, RankStreamsAreDisjoint) {
  TempDir dir;
  const int64_t n = 4000, T = 20;
  write_dataset(dir.path(), n, 400, 1000);
  auto ds = std::make_shared<const TokenDataset>(TokenDataset::open(dir.path(), "train"));
  const int world = 3;
  std::vector<std::set<int64_t>> seen(world);  // token positions each rank read
  for (int rank = 0; rank < world; ++rank) {
    BatchSampler s(ds, 8, T, 7, rank, world);
    EXPECT_EQ(s.region_begin(), n * rank / world);
    EXPECT_EQ(s.region_end(), n * (rank + 1) / world);
    for (int k = 0; k < 20; ++k) {
      Batch b = s.next();
      for (int64_t r = 0; r < 8; ++r) {
        int64_t start = window_start(b.x, r, n);
        ASSERT_GE(start, s.region_begin());
        ASSERT_LE(start + T + 1, s.region_end());
        for (int64_t t = 0; t <= T; ++t) seen[rank].insert(start + t);
      }
    }
  }
  for (int a = 0; a < world; ++a) {
    for (int b = a + 1; b < world; ++b) {
      for (int64_t pos : seen[a]) ASSERT_EQ(seen[b].count(pos), 0u) << "ranks " << a << " and " << b;
    }
  }
  // Eval windows of different ranks are disjoint as well.
  TokenDataset val = TokenDataset::open(dir.path(), "val");
  auto r0 = eval_batches(val, 2, 10, 100, 0, 2);
  auto r1 = eval_batches(val, 2, 10, 100, 1, 2);
  ASSERT_FALSE(r0.empty());
  ASSERT_FALSE(r1.empty());
  int64_t last0 = window_start(r0.back().x, r0.back().x.size(0) - 1, 400);
  int64_t first1 = window_start(r1.front().x, 0, 400);
  EXPECT_LE(last0 + 11, first1);
}

TEST(Loader, EvalBatchesAreFixedSpreadAndNonOverlapping) {
  TempDir dir;
  write_dataset(dir.path(), 1000, 2000, 700);
  TokenDataset val = TokenDataset::open(dir.path(), "val");
  auto a = eval_batches(val, 4, 32, 5);
  auto b = eval_batches(val, 4, 32, 5);
  ASSERT_EQ(a.size(), 5u);
  std::vector<int64_t> starts;
  for (size_t k = 0; k < a.size(); ++k) {
    EXPECT_TRUE(torch::equal(a[k].x, b[k].x));
    EXPECT_TRUE(torch::equal(a[k].y, b[k].y));
    expect_real_windows(a[k], 2000);
    for (int64_t r = 0; r < 4; ++r) starts.push_back(window_start(a[k].x, r, 2000));
  }
  EXPECT_EQ(starts.front(), 0);
  EXPECT_EQ(starts.back(), 2000 - 33);  // spread to the very end
  for (size_t i = 1; i < starts.size(); ++i) EXPECT_GE(starts[i] - starts[i - 1], 33);

  // More batches than fit: as many non-overlapping windows as there are, the last batch partial.
  auto all = eval_batches(val, 4, 32, 1000);
  int64_t windows = 0;
  for (const auto& batch : all) windows += batch.x.size(0);
  EXPECT_EQ(windows, 2000 / 33);
  EXPECT_EQ(all.back().x.size(0), (2000 / 33) % 4 == 0 ? 4 : (2000 / 33) % 4);
}

TEST(Loader, TooFewTokensNamesBlockSize) {
  TempDir dir;
  write_dataset(dir.path(), 1000, 50, 1000);
  auto val = std::make_shared<const TokenDataset>(TokenDataset::open(dir.path(), "val"));
  try {
    BatchSampler s(val, 2, 64, 1);
    ADD_FAILURE() << "no error";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("model.block_size"), std::string::npos) << e.what();
  }
  EXPECT_THROW(eval_batches(*val, 2, 64, 1), DataError);
  EXPECT_NO_THROW(eval_batches(*val, 2, 49, 1));
}

TEST(Loader, MissingOrDamagedDataFailsNamingTheFile) {
  TempDir dir;
  try {
    TokenDataset::open(dir.path(), "train");
    ADD_FAILURE();
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find(dir.file("meta.json")), std::string::npos) << e.what();
  }
  write_dataset(dir.path(), 3000, 0, 1000);
  EXPECT_THROW(TokenDataset::open(dir.path(), "val"), DataError);  // no val shards
  // Truncate the second shard: opening fails and names it.
  std::filesystem::resize_file(dir.file("train_000001.bin"), 1000);
  try {
    TokenDataset::open(dir.path(), "train");
    ADD_FAILURE();
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("train_000001.bin"), std::string::npos) << e.what();
  }
}

}  // namespace loader_test
