#include "data/prepare.h"

#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <mutex>
#include <regex>
#include <thread>

#include "data/corpus.h"
#include "data/random.h"
#include "data/shard.h"
#include "tokenizer/tokenizer.h"
#include "util/errors.h"
#include "util/files.h"
#include "util/log.h"
#include "util/progress.h"
#include "util/runtime.h"
#include "util/staging.h"
#include "util/strings.h"
#include "util/units.h"

namespace fs = std::filesystem;

namespace gptforge {

namespace {

// One piece of a document on its way through the encoder.
struct Work {
  TextChunk chunk;
  bool val = false;
  std::vector<int32_t> ids;
};

// "data/shards/" -> "data/shards"
std::string normalize_dir(const std::string& dir) {
  std::string s = fs::path(dir).lexically_normal().string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

// OUT may be replaced only when it holds nothing but what prepare writes: never delete a user's files.
void check_replaceable(const std::string& out) {
  if (!fs::exists(out)) return;
  if (!fs::is_directory(out)) throw DataError("data.out_dir=" + out + " exists and is not a directory");
  static const std::regex ours(R"((train|val)_\d{6}\.bin|meta\.json|tokenizer\.model|.*\.tmp\.\d+)");
  for (const auto& e : fs::directory_iterator(out)) {
    std::string name = e.path().filename().string();
    if (!e.is_regular_file() || !std::regex_match(name, ours)) {
      throw DataError("data.out_dir=" + out + " holds '" + name +
                      "', which prepare did not write; refusing to replace it (choose a new or empty directory)");
    }
  }
}

int64_t total_file_bytes(const std::vector<std::string>& files) {
  int64_t total = 0;
  for (const auto& f : files) {
    std::error_code ec;
    auto n = fs::file_size(f, ec);
    if (!ec) total += static_cast<int64_t>(n);
  }
  return total;
}

// Encodes every chunk of `batch` on `tokenizers.size()` threads; the calling thread is one of them
// and draws the progress bar.
void encode_batch(std::vector<Work>& batch, const std::vector<Tokenizer>& tokenizers, Progress& progress,
                  int64_t read_before, int64_t read_after, const std::vector<std::string>& files) {
  int64_t batch_text = 0;
  for (const auto& w : batch) batch_text += static_cast<int64_t>(w.chunk.text.size());
  std::atomic<size_t> next{0};
  std::atomic<int64_t> done_text{0};
  std::mutex error_mu;
  std::exception_ptr error;
  auto worker = [&](size_t t) {
    try {
      for (size_t i; (i = next.fetch_add(1)) < batch.size();) {
        Work& w = batch[i];
        try {
          w.ids = tokenizers[t].encode(w.chunk.text);
        } catch (const Error& e) {
          throw DataError(files[w.chunk.file] + ":" + std::to_string(w.chunk.line) + ": " + e.what());
        }
        int64_t done = done_text.fetch_add(static_cast<int64_t>(w.chunk.text.size())) +
                       static_cast<int64_t>(w.chunk.text.size());
        if (t == 0 && batch_text > 0) {
          double el = progress.elapsed_s();
          int64_t at = read_before + (read_after - read_before) * done / batch_text;
          progress.update(at, strprintf("%.1f MB/s", el > 0 ? at / el / 1e6 : 0.0));
        }
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mu);
      if (!error) error = std::current_exception();
      next = batch.size();
    }
  };
  size_t n_threads = std::min(tokenizers.size(), std::max<size_t>(batch.size(), 1));
  std::vector<std::thread> pool;
  for (size_t t = 1; t < n_threads; ++t) pool.emplace_back(worker, t);
  worker(0);
  for (auto& th : pool) th.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace

CorpusOptions corpus_options(const DataConfig& data, size_t chunk_bytes) {
  CorpusOptions o;
  o.format = data.format;
  o.jsonl_field = data.jsonl_field;
  o.documents = data.documents;
  o.reject_invalid_utf8 = data.invalid_utf8 == InvalidUtf8::Reject;
  o.chunk_bytes = chunk_bytes;
  return o;
}

std::string PrepareStats::summary() const {
  std::string s = strprintf("%-6s %10s %14s %14s %12s %7s\n", "split", "documents", "tokens", "source bytes",
                            "bytes/token", "shards");
  for (const char* name : {"train", "val"}) {
    auto it = meta.splits.find(name);
    if (it == meta.splits.end()) continue;
    const SplitMeta& sm = it->second;
    s += strprintf("%-6s %10lld %14lld %14lld %12.3f %7zu\n", name, static_cast<long long>(sm.documents),
                   static_cast<long long>(sm.tokens), static_cast<long long>(sm.bytes), sm.bytes_per_token(),
                   sm.shards.size());
  }
  s += strprintf("vocab %lld (%s tokens), %lld file(s), invalid UTF-8: %lld (%s), %d thread(s), %s\n",
                 static_cast<long long>(meta.vocab_size), meta.dtype_bytes == 2 ? "uint16" : "uint32",
                 static_cast<long long>(files), static_cast<long long>(meta.invalid_utf8),
                 meta.invalid_utf8_policy.c_str(), threads, format_duration(meta.seconds).c_str());
  s += "wrote " + out_dir + "\n";
  return s;
}

PrepareStats prepare_data(const Config& cfg, const PrepareOptions& opts) {
  auto start = std::chrono::steady_clock::now();
  const DataConfig& data = cfg.data;
  require_keys(cfg, {"data.inputs", "data.tokenizer", "data.out_dir"}, "prepare");
  const std::string out = normalize_dir(data.out_dir);
  check_replaceable(out);
  remove_stale_staging(out);

  Tokenizer tokenizer = Tokenizer::load(data.tokenizer);
  const int32_t eos = tokenizer.eos_id();
  if (eos < 0) throw DataError(data.tokenizer + ": the tokenizer has no end-of-sequence token");
  const uint32_t dtype = token_dtype_bytes(tokenizer.vocab_size());
  std::vector<std::string> files = expand_inputs(data.inputs);
  const int64_t file_bytes = total_file_bytes(files);
  const CorpusOptions copts = corpus_options(data, opts.chunk_bytes);

  // Pass 1: count the documents, so exactly the intended share goes to validation. This also
  // surfaces bad JSON or rejected UTF-8 before any encoding work.
  int64_t n_docs = 0;
  {
    CorpusReader reader(files, copts);
    TextChunk chunk;
    while (reader.next(chunk)) n_docs += chunk.doc_end ? 1 : 0;
  }
  if (n_docs == 0) {
    throw DataError(join(data.inputs, ", ") + ": the corpus is empty (no documents in " + std::to_string(files.size()) +
                    " file(s) of data.inputs)");
  }
  int64_t n_val = 0;
  if (data.val_fraction > 0) {
    n_val = std::max<int64_t>(1, std::llround(static_cast<double>(n_docs) * data.val_fraction));
    if (n_val >= n_docs) {
      throw DataError(strprintf(
          "the corpus has only %lld document(s) (data.documents=%s): too few to hold out data.val_fraction=%g "
          "for validation and keep any for training; add text or split it finer (data.documents=paragraph or line)",
          static_cast<long long>(n_docs), data.documents.name(), data.val_fraction));
    }
  } else {
    log_warn("data.val_fraction=0: no validation split (training cannot report validation loss)");
  }

  int threads = data.threads > 0 ? static_cast<int>(data.threads) : effective_threads(cfg.run);
  std::vector<Tokenizer> tokenizers;
  for (int t = 0; t < threads; ++t) tokenizers.push_back(Tokenizer::from_serialized(tokenizer.serialized(), data.tokenizer));

  // Pass 2: encode into a staging directory next to OUT (removed on any error).
  StagedOutput tmp(out, /*is_directory=*/true, /*force=*/true, "data.out_dir");
  ShardWriter train_writer(tmp.path(), "train", dtype, data.shard_tokens);
  ShardWriter val_writer(tmp.path(), "val", dtype, data.shard_tokens);
  std::vector<uint32_t> byte_lengths;
  for (int32_t id = 0; id < tokenizer.vocab_size(); ++id) {
    byte_lengths.push_back(static_cast<uint32_t>(tokenizer.token_bytes(id).size()));
  }
  train_writer.set_token_byte_lengths(byte_lengths);
  val_writer.set_token_byte_lengths(byte_lengths);
  DatasetMeta meta;
  SplitMeta& train = meta.splits["train"];
  SplitMeta& val = meta.splits["val"];

  // Sequential sampling (Knuth's algorithm S): document i goes to validation with probability
  // (validation documents still needed) / (documents left), which picks exactly n_val of them.
  SplitMix64 split_rng(derive_seed(static_cast<uint64_t>(cfg.run.seed), 0x5e1ec7));
  int64_t doc_index = 0, val_needed = n_val;
  bool current_val = false;

  Progress progress("prepare", file_bytes, cfg.run.progress);
  CorpusReader reader(files, copts);
  std::vector<Work> batch;
  int64_t batches = 0;
  bool more = true;
  while (more) {
    batch.clear();
    size_t batch_text = 0;
    int64_t read_before = reader.bytes_read();
    while (batch_text < opts.batch_bytes) {
      Work w;
      if (!reader.next(w.chunk)) {
        more = false;
        break;
      }
      if (w.chunk.doc_start) {
        current_val = split_rng.uniform() * static_cast<double>(n_docs - doc_index) < static_cast<double>(val_needed);
        if (current_val) --val_needed;
        ++doc_index;
      }
      w.val = current_val;
      batch_text += w.chunk.text.size();
      batch.push_back(std::move(w));
    }
    encode_batch(batch, tokenizers, progress, read_before, reader.bytes_read(), files);
    for (Work& w : batch) {
      ShardWriter& writer = w.val ? val_writer : train_writer;
      SplitMeta& split = w.val ? val : train;
      writer.append(w.ids, w.chunk.text.size());
      split.bytes += static_cast<int64_t>(w.chunk.text.size());
      if (w.chunk.doc_end) {
        writer.append(&eos, 1);
        ++split.documents;
      }
    }
    ++batches;
    if (opts.after_batch) opts.after_batch(batches);
  }
  if (doc_index != n_docs) {
    throw DataError(join(data.inputs, ", ") + ": the corpus changed while it was being read (" + std::to_string(n_docs) +
                    " documents, then " + std::to_string(doc_index) + ")");
  }
  train.shards = train_writer.finish();
  val.shards = val_writer.finish();
  train.tokens = train_writer.tokens();
  val.tokens = val_writer.tokens();
  progress.finish(strprintf("%lld tokens", static_cast<long long>(train.tokens + val.tokens)));

  meta.vocab_size = tokenizer.vocab_size();
  meta.dtype_bytes = dtype;
  meta.eos_id = eos;
  meta.tokenizer = data.tokenizer;
  meta.documents = data.documents.name();
  meta.seed = cfg.run.seed;
  meta.val_fraction = data.val_fraction;
  meta.invalid_utf8 = reader.invalid_utf8();
  meta.invalid_utf8_policy = data.invalid_utf8.name();
  meta.inputs = data.inputs;
  meta.seconds = seconds_since(start);
  write_file_atomic(tmp.path() + "/" + meta.tokenizer_copy, tokenizer.serialized());
  write_dataset_meta(tmp.path(), meta);

  // Swap the finished directory into place; an older OUT disappears only now.
  check_replaceable(out);
  tmp.commit();

  PrepareStats stats;
  stats.out_dir = out;
  stats.files = static_cast<int64_t>(files.size());
  stats.threads = threads;
  stats.meta = std::move(meta);
  if (stats.meta.invalid_utf8 > 0) {
    log_warn(strprintf("%lld invalid UTF-8 sequence(s) were replaced with U+FFFD (data.invalid_utf8=replace)",
                       static_cast<long long>(stats.meta.invalid_utf8)));
  }
  return stats;
}

}  // namespace gptforge
