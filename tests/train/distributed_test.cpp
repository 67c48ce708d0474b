#include "train/distributed.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "data/dataset_meta.h"
#include "data/loader.h"
#include "data/shard.h"
#include "data/task_suite.h"
#include "test_helpers.h"
#include "data/tokenizer_corpus.h"
#include "tokenizer/tiny_corpus.h"
#include "train/launch.h"
#include "train/sft.h"
#include "train/trainer.h"
#include "util/errors.h"
#include "util/files.h"
#include "util/log.h"

namespace distributed_test {

using namespace gptforge;
using gptforge::testing::TempDir;
using std::chrono::milliseconds;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

DistEnv rank_env(int rank, int world_size, int port) {
  DistEnv env;
  env.rank = rank;
  env.world_size = world_size;
  env.master_addr = "127.0.0.1";
  env.master_port = port;
  return env;
}

// Runs fn(rank, dist) on two ranks, one thread each, joined over loopback Gloo.
void on_two_ranks(const std::function<void(int, Distributed&)>& fn, int64_t bucket_bytes = 25 << 20,
                  milliseconds timeout = milliseconds(20000)) {
  const int port = free_tcp_port();
  auto body = [&](int rank) {
    Distributed dist(rank_env(rank, 2, port), torch::kCPU, timeout, bucket_bytes);
    fn(rank, dist);
  };
  auto other = std::async(std::launch::async, body, 1);
  body(0);
  other.get();
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

// ---- The environment ----------------------------------------------------------------------------

TEST(DistEnv, ReadsWhatTorchrunSetsAndNamesABadVariable) {
  std::map<std::string, std::string> vars;
  auto env = [&] {
    return read_dist_env([&](const char* name) -> const char* {
      auto it = vars.find(name);
      return it == vars.end() ? nullptr : it->second.c_str();
    });
  };
  EXPECT_EQ(env().world_size, 1);  // nothing set: one process
  vars = {{"WORLD_SIZE", "4"}, {"RANK", "3"}, {"LOCAL_RANK", "1"}, {"LOCAL_WORLD_SIZE", "2"},
          {"MASTER_ADDR", "10.0.0.1"}, {"MASTER_PORT", "29500"}};
  DistEnv e = env();
  EXPECT_EQ(e.world_size, 4);
  EXPECT_EQ(e.rank, 3);
  EXPECT_EQ(e.local_rank, 1);
  EXPECT_EQ(e.local_world_size, 2);
  EXPECT_EQ(e.master_addr, "10.0.0.1");
  EXPECT_EQ(e.master_port, 29500);

  auto fails_naming = [&](const std::string& key, const std::string& value, const std::string& fragment) {
    auto saved = vars;
    if (value.empty()) {
      vars.erase(key);
    } else {
      vars[key] = value;
    }
    std::string msg = error_of([&] { env(); });
    EXPECT_NE(msg.find(fragment), std::string::npos) << key << "=" << value << ": " << msg;
    vars = saved;
  };
  fails_naming("RANK", "4", "RANK='4'");
  fails_naming("RANK", "", "RANK is not");
  fails_naming("WORLD_SIZE", "two", "WORLD_SIZE='two'");
  fails_naming("MASTER_PORT", "70000", "MASTER_PORT='70000'");
  fails_naming("MASTER_PORT", "", "MASTER_PORT");
  fails_naming("MASTER_ADDR", "", "MASTER_ADDR");
}

// ---- Collectives ----------------------------------------------------------------------------------

TEST(Distributed, AloneEveryCollectiveIsTheIdentity) {
  Distributed alone;
  EXPECT_FALSE(alone.active());
  EXPECT_TRUE(alone.is_main());
  EXPECT_EQ(alone.backend(), "none");
  EXPECT_EQ(alone.sum(2.5), 2.5);
  EXPECT_TRUE(alone.any(true));
  EXPECT_EQ(alone.all_gather("x"), std::vector<std::string>{"x"});
  auto p = torch::ones({3}, torch::requires_grad());
  p.mutable_grad() = torch::full({3}, 4.0);
  alone.all_reduce_gradients({p}, /*average=*/true);
  EXPECT_TRUE(torch::equal(p.grad(), torch::full({3}, 4.0)));
}

TEST(Distributed, BroadcastBucketedGradientsScalarsAndStringsAgreeAcrossTwoRanks) {
  // Buckets of 64 bytes: several per call, and a parameter larger than a bucket gets its own.
  on_two_ranks(
      [](int rank, Distributed& dist) {
        EXPECT_EQ(dist.backend(), "gloo");
        EXPECT_EQ(dist.rank(), rank);
        std::vector<torch::Tensor> params = {torch::full({3}, 1.0 + rank), torch::full({5, 7}, 10.0 * (rank + 1)),
                                             torch::full({2}, -1.0 - rank), torch::zeros({4}, torch::kFloat64)};
        for (auto& p : params) p.set_requires_grad(true);

        dist.broadcast(params);  // rank 0's values everywhere
        EXPECT_TRUE(torch::equal(params[0], torch::full({3}, 1.0)));
        EXPECT_TRUE(torch::equal(params[1], torch::full({5, 7}, 10.0)));

        for (int round = 0; round < 2; ++round) {  // the second round reuses the planned buckets
          params[0].mutable_grad() = torch::arange(3, torch::kFloat32) * (rank + 1);
          params[1].mutable_grad() = torch::full({5, 7}, 1.0 + rank);
          params[2].mutable_grad() = torch::Tensor();  // undefined counts as zeros
          params[3].mutable_grad() = torch::full({4}, rank == 0 ? 0.25 : 0.5, torch::kFloat64);
          dist.all_reduce_gradients(params, /*average=*/round == 1);
          double div = round == 1 ? 2.0 : 1.0;
          EXPECT_TRUE(torch::allclose(params[0].grad(), torch::arange(3, torch::kFloat32) * 3 / div));
          EXPECT_TRUE(torch::allclose(params[1].grad(), torch::full({5, 7}, 3.0 / div)));
          ASSERT_TRUE(params[2].grad().defined());
          EXPECT_TRUE(torch::equal(params[2].grad(), torch::zeros({2})));
          EXPECT_TRUE(torch::allclose(params[3].grad(), torch::full({4}, 0.75 / div, torch::kFloat64)));
        }

        EXPECT_EQ(dist.sum(1.5 * (rank + 1)), 4.5);
        EXPECT_EQ(dist.sum(int64_t(rank + 1)), int64_t(3));
        EXPECT_TRUE(dist.any(rank == 1));
        EXPECT_FALSE(dist.any(false));
        torch::Tensor m = torch::tensor({rank == 0 ? 5.0 : 1.0, rank == 0 ? 1.0 : 7.0});
        dist.all_reduce_max(m);
        EXPECT_TRUE(torch::equal(m, torch::tensor({5.0, 7.0})));
        auto all = dist.all_gather(rank == 0 ? std::string("") : std::string("rank one\n\0x", 11));
        ASSERT_EQ(all.size(), 2u);
        EXPECT_EQ(all[0], "");
        EXPECT_EQ(all[1], std::string("rank one\n\0x", 11));
        dist.barrier();
      },
      /*bucket_bytes=*/64);
}

// ---- Faults: a clear error within the timeout, never a hang ---------------------------------------

TEST(Distributed, APeerThatNeverArrivesFailsTheRendezvousWithinTheTimeout) {
  const int port = free_tcp_port();
  auto t0 = std::chrono::steady_clock::now();
  std::string msg = error_of([&] { Distributed(rank_env(0, 2, port), torch::kCPU, milliseconds(1500)); });
  double secs = seconds_since(t0);
  EXPECT_NE(msg.find("only 1 of 2 processes reached the rendezvous"), std::string::npos) << msg;
  EXPECT_LT(secs, 5.0);
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
}

TEST(Distributed, NothingListeningAtMasterPortFailsWithinTheTimeout) {
  const int port = free_tcp_port();  // free, so nothing listens there
  auto t0 = std::chrono::steady_clock::now();
  std::string msg = error_of([&] { Distributed(rank_env(1, 2, port), torch::kCPU, milliseconds(1500)); });
  double secs = seconds_since(t0);
  EXPECT_NE(msg.find("rank 1 cannot reach rank 0 at 127.0.0.1:" + std::to_string(port)), std::string::npos) << msg;
  EXPECT_LT(secs, 5.0);
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
}

TEST(Distributed, AListenerThatNeverAnswersFailsTheStartUpWithinTheTimeout) {
  // Something at MASTER_PORT accepts the connection but never replies (a hung rank 0, another program).
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(fd, 8), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  auto t0 = std::chrono::steady_clock::now();
  std::string msg = error_of([&] { Distributed(rank_env(1, 2, ntohs(addr.sin_port)), torch::kCPU, milliseconds(1000)); });
  double secs = seconds_since(t0);
  // The listener stays open until the process ends: the abandoned start-up thread stays blocked.
  // (Resetting its connection makes a thread inside LibTorch 1.13's TCPStore client throw, which
  // aborts the process; a gptforge process exits right after this error anyway.)
  EXPECT_NE(msg.find("rank 1 got no complete answer from rank 0"), std::string::npos) << msg;
  EXPECT_LT(secs, 4.0);
}

TEST(Distributed, ACollectiveFailsQuicklyWhenThePeerLeavesAndWithinTheTimeoutWhenItHangs) {
  // Rank 1 leaves (its process group closes its connections): rank 0's next collective fails at once.
  std::string left;
  double left_secs = 0;
  on_two_ranks([&](int rank, Distributed& dist) {
    dist.barrier();
    if (rank == 1) return;  // destroys rank 1's process group
    std::this_thread::sleep_for(milliseconds(200));
    auto t0 = std::chrono::steady_clock::now();
    left = error_of([&] { dist.sum(1.0); });
    left_secs = seconds_since(t0);
  });
  EXPECT_NE(left.find("rank 0 of 2: lost the connection to rank 1"), std::string::npos) << left;
  EXPECT_LT(left_secs, 3.0);

  // Rank 1 stays but never joins the collective: rank 0 gives up after the timeout.
  std::string hung;
  double hung_secs = 0;
  std::promise<void> done;
  auto done_f = done.get_future().share();
  on_two_ranks(
      [&](int rank, Distributed& dist) {
        dist.barrier();
        if (rank == 1) {
          done_f.wait();  // alive, connections open, but silent
          return;
        }
        auto t0 = std::chrono::steady_clock::now();
        hung = error_of([&] { dist.sum(1.0); });
        hung_secs = seconds_since(t0);
        done.set_value();
      },
      25 << 20, milliseconds(1500));
  EXPECT_NE(hung.find("no answer from rank 1 within run.dist_timeout=1.5s"), std::string::npos) << hung;
  EXPECT_GT(hung_secs, 1.0);
  EXPECT_LT(hung_secs, 8.0);
}

// ---- Training: two processes equal one with twice the accumulation --------------------------------

namespace {

// Token i of the synthetic corpus: a pattern a tiny model can learn.
int32_t corpus_token(int64_t i) { return static_cast<int32_t>((i * 5 + (i / 7) * 3) % 29 + 3); }

// The ids are small (3..31), but `gptforge train` checks the directory's tokenizer against meta.json
// and the model: the shards come with a real 300-piece tokenizer.
constexpr int64_t kCorpusVocab = 300;

void write_corpus(const TempDir& tmp, const std::string& dir, int64_t train_tokens, int64_t val_tokens) {
  std::filesystem::create_directories(dir);
  Tokenizer tok = gptforge::testing::tokenizer_from_lines(
      tmp, [](int i) { return "line " + std::to_string(i) + " of the corpus the shards stand for"; });
  ASSERT_EQ(tok.vocab_size(), kCorpusVocab);
  write_file_atomic(dir + "/tokenizer.model", tok.serialized());
  DatasetMeta meta;
  meta.vocab_size = kCorpusVocab;
  meta.dtype_bytes = 2;
  meta.eos_id = tok.eos_id();
  for (auto [name, n] : {std::pair<std::string, int64_t>{"train", train_tokens}, {"val", val_tokens}}) {
    ShardWriter w(dir, name, 2, 1 << 20);
    std::vector<int32_t> ids;
    for (int64_t i = 0; i < n; ++i) ids.push_back(corpus_token(i + (name == "val" ? 100000 : 0)));
    w.append(ids, static_cast<uint64_t>(n) * 3);
    SplitMeta& s = meta.splits[name];
    s.shards = w.finish();
    s.tokens = n;
    s.bytes = n * 3;
    s.documents = 1;
  }
  write_dataset_meta(dir, meta);
}

// What two ranks of `gptforge train` read, in one process: every step takes `accum` micro-batches
// from rank 0's sampler, then `accum` from rank 1's.
class BothRanksData : public TrainData {
 public:
  BothRanksData(const std::string& dir, const Config& cfg, int64_t accum) : accum_(accum) {
    auto train = std::make_shared<const TokenDataset>(TokenDataset::open(dir, "train"));
    for (int r = 0; r < 2; ++r) {
      samplers_.emplace_back(train, cfg.train.batch_size, cfg.model.block_size, static_cast<uint64_t>(cfg.run.seed),
                             r, 2);
    }
    eval_ = eval_batches(TokenDataset::open(dir, "val"), cfg.train.batch_size, cfg.model.block_size, 1);
  }
  Batch next() override { return samplers_[static_cast<size_t>((drawn_++ / accum_) % 2)].next(); }
  std::string state() const override { return ""; }
  void set_state(const std::string&) override {}
  const std::vector<Batch>& eval_set() const override { return eval_; }
  double bytes_per_token() const override { return 3.0; }
  int64_t vocab_size() const override { return kCorpusVocab; }
  std::string tokenizer_model() const override { return "none"; }

 private:
  int64_t accum_, drawn_ = 0;
  std::vector<BatchSampler> samplers_;
  std::vector<Batch> eval_;
};

std::map<int64_t, double> logged_losses(const std::string& path) {
  std::map<int64_t, double> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    if (j.contains("loss")) out[j["step"].get<int64_t>()] = j["loss"].get<double>();
  }
  return out;
}

}  // namespace

TEST(Distributed, TwoProcessesTrainExactlyAsOneWithTwiceTheAccumulation) {
  TempDir dir;
  write_corpus(dir, dir.file("data"), 20000, 2000);
  // Two micro-batches per rank and step. AdamW with eps = 1 updates ~ lr * gradient, so that the
  // weights show the gradients themselves agree (see Trainer.GradientAccumulationEqualsOneLargerBatch).
  std::vector<std::string> overrides = {
      "train.data_dir=" + dir.file("data"), "model.block_size=16", "model.n_layer=2", "model.n_head=2",
      "model.d_model=32", "train.batch_size=4", "train.total_batch_tokens=256", "train.max_steps=6",
      "train.warmup_steps=2", "train.learning_rate=1.0", "train.min_lr=0.1", "train.eps=1.0",
      "train.eval_interval=3", "train.eval_batches=1", "train.log_interval=1", "train.checkpoint_interval=3",
      "run.threads=1", "run.progress=off", "run.log_level=quiet", "run.dist_timeout=60"};

  std::string cmd = std::string(GPTFORGE_BIN) + " launch --nproc 2 -- train";
  for (const auto& o : overrides) cmd += " " + o;
  cmd += " train.out_dir=" + dir.file("two") + " >" + dir.file("two.log") + " 2>&1";
  int rc = std::system(cmd.c_str());
  std::ifstream log_in(dir.file("two.log"));
  std::string log((std::istreambuf_iterator<char>(log_in)), std::istreambuf_iterator<char>());
  ASSERT_EQ(rc, 0) << log;
  EXPECT_EQ(log.find("done after 6 steps"), log.rfind("done after 6 steps")) << "reported by more than one rank";

  Config cfg = load_config("", overrides);
  cfg.model.vocab_size = kCorpusVocab;
  cfg.train.out_dir = dir.file("one");
  BothRanksData both(dir.file("data"), cfg, 2);
  set_log_level(LogLevel::Quiet);
  TrainSummary one = train_model(cfg, both, {});
  set_log_level(LogLevel::Info);
  EXPECT_EQ(one.steps, 6);

  LoadedCheckpoint a = load_checkpoint(dir.file("two")), b = load_checkpoint(dir.file("one"));
  EXPECT_EQ(a.state.world_size, 2);
  ASSERT_EQ(a.state.loader_states.size(), 2u);
  EXPECT_NE(a.state.loader_states[0], a.state.loader_states[1]);
  ASSERT_EQ(a.state.rng_cpu_ranks.size(), 2u);
  EXPECT_EQ(a.state.tokens, b.state.tokens);
  for (const auto& [name, t] : b.weights.tensors) {
    const torch::Tensor* other = a.weights.find(name);
    ASSERT_NE(other, nullptr) << name;
    EXPECT_TRUE(torch::allclose(*other, t, 0, 1e-5)) << name << ": max difference "
                                                     << (*other - t).abs().max().item<double>();
  }
  auto la = logged_losses(dir.file("two/metrics.jsonl")), lb = logged_losses(dir.file("one/metrics.jsonl"));
  ASSERT_EQ(la.size(), 6u);
  for (int64_t step = 1; step <= 6; ++step) EXPECT_NEAR(la[step], lb[step], 1e-5) << "step " << step;
}

// ---- Fine-tuning data: each rank its own stride of every epoch ------------------------------------

TEST(SftData, RanksDrawDisjointStridesOfEachEpochAndShareTheValidationSet) {
  TempDir dir;
  std::string text;
  for (int i = 0; i < 200; ++i) text += "What is " + std::to_string(i) + " plus 2? The answer is here.\n";
  dir.write("corpus.txt", text);
  TokenizerConfig tc;
  DataConfig corpus;
  corpus.inputs = {dir.file("corpus.txt")};
  tc.model_prefix = dir.file("tok");
  tc.vocab_size = 300;
  train_tokenizer(tc, corpus, 1);
  Tokenizer tok = Tokenizer::load(dir.file("tok.model"));
  write_instruct_jsonl(dir.file("train.jsonl"), make_task_suite({20, 2, 5}).train);
  Config cfg = load_config("", {"model.vocab_size=300", "model.block_size=128", "train.batch_size=1",
                                "sft.train_file=" + dir.file("train.jsonl"), "sft.val_fraction=0.1"});

  auto key = [](const Batch& b) { return std::vector<int64_t>(b.x.data_ptr<int64_t>(), b.x.data_ptr<int64_t>() + b.x.numel()); };
  SftData whole(cfg, tok), r0(cfg, tok, 0, 2), r1(cfg, tok, 1, 2);
  const int64_t n = whole.stats().train;
  ASSERT_EQ(n % 2, 0) << "pick a split with an even count";
  std::vector<std::vector<int64_t>> epoch, ranks;
  for (int64_t i = 0; i < n; ++i) epoch.push_back(key(whole.next()));
  for (int64_t i = 0; i < n / 2; ++i) {
    ranks.push_back(key(r0.next()));
    ranks.push_back(key(r1.next()));
  }
  // Interleaved, the two ranks' first epochs are exactly the one-process epoch.
  EXPECT_EQ(ranks, epoch);

  int64_t rows = 0, rows0 = 0, rows1 = 0;
  for (const auto& b : whole.eval_set()) rows += b.x.size(0);
  for (const auto& b : r0.eval_set()) rows0 += b.x.size(0);
  for (const auto& b : r1.eval_set()) rows1 += b.x.size(0);
  EXPECT_EQ(rows0 + rows1, rows);
  EXPECT_LE(std::abs(rows0 - rows1), 1);

  // Resuming a rank replays its own stream.
  std::string state = r1.state();
  Batch next = r1.next();
  SftData again(cfg, tok, 1, 2);
  again.set_state(state);
  EXPECT_TRUE(torch::equal(again.next().x, next.x));
}

}  // namespace distributed_test
