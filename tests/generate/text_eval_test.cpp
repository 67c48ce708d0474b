#include "generate/text_eval.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "data/loader.h"
#include "data/prepare.h"
#include "generate/generate_test_helpers.h"
#include "test_helpers.h"
#include "tokenizer/tiny_corpus.h"
#include "train/trainer.h"
#include "util/errors.h"

namespace text_eval_test {

using namespace gptforge;
using gptforge::testing::random_gpt;
using gptforge::testing::synthetic_text;
using gptforge::testing::TempDir;
using gptforge::testing::tiny_tokenizer;

namespace {

// A random model for `tokenizer` with the given context, wrapped as a loaded checkpoint.
LoadedModel tiny_model(const Tokenizer& tokenizer, int64_t block_size, uint64_t seed = 3) {
  Config cfg;
  cfg.model.vocab_size = tokenizer.vocab_size();
  cfg.model.block_size = block_size;
  cfg.model.n_layer = 2;
  cfg.model.n_head = 2;
  cfg.model.d_model = 32;
  cfg.model.init_std = 0.1;
  torch::manual_seed(seed);
  GPT model(cfg.model);
  model->eval();
  return LoadedModel{"tiny", cfg, model, tokenizer, torch::kCPU, 0};
}

// Summed loss the plain way: token i (i >= 1) scored by its own forward over its full available
// context, the min(i, T) tokens before it.
double brute_force_loss(GPT& model, const std::vector<int64_t>& tokens, int64_t context) {
  torch::NoGradGuard no_grad;
  double sum = 0;
  for (size_t i = 1; i < tokens.size(); ++i) {
    size_t from = i > static_cast<size_t>(context) ? i - static_cast<size_t>(context) : 0;
    auto idx = torch::tensor(std::vector<int64_t>(tokens.begin() + from, tokens.begin() + i), torch::kLong).unsqueeze(0);
    auto lp = torch::log_softmax(model->forward(idx)[0][-1].to(torch::kDouble), -1);
    sum -= lp[tokens[i]].item<double>();
  }
  return sum;
}

std::vector<int64_t> random_tokens(int64_t n, int64_t vocab, uint64_t seed) {
  torch::manual_seed(seed);
  auto t = torch::randint(vocab, {n}, torch::kLong);
  return std::vector<int64_t>(t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + n);
}

}  // namespace

TEST(TextEval, WindowsScoreEveryTokenAfterTheFirstOnceWithContext) {
  for (int64_t n : {1, 2, 5, 16, 17, 18, 40, 101}) {
    for (int64_t context : {1, 4, 16}) {
      for (int64_t stride : {int64_t{1}, context / 2 + 1, context}) {
        std::vector<int> times(static_cast<size_t>(n), 0);
        int64_t prev_begin = -1;
        for (const ScoreWindow& w : plan_windows(n, context, stride)) {
          EXPECT_GT(w.begin, prev_begin);
          prev_begin = w.begin;
          EXPECT_LE(w.length, context);
          EXPECT_LE(w.begin + w.length, n - 1);
          for (int64_t j = w.skip; j < w.length; ++j) {
            const int64_t pos = w.begin + 1 + j;
            ++times[static_cast<size_t>(pos)];
            // Context of a scored target: the whole prefix, or at least context - stride tokens.
            EXPECT_GE(j + 1, std::min(pos, context - stride + 1)) << n << " " << context << " " << stride;
          }
        }
        EXPECT_EQ(times[0], 0);
        for (int64_t pos = 1; pos < n; ++pos) EXPECT_EQ(times[static_cast<size_t>(pos)], 1) << "position " << pos;
      }
    }
  }
}

TEST(TextEval, StrideOneEqualsOneForwardPerToken) {
  GPT model = random_gpt(64);  // context 16
  const std::vector<int64_t> tokens = random_tokens(45, 64, 11);
  const double want = brute_force_loss(model, tokens, 16);
  for (int64_t batch : {1, 4, 64}) {
    TokenScore s = score_tokens(model, tokens, 16, 1, batch, torch::kCPU);
    EXPECT_EQ(s.scored, 44);
    EXPECT_NEAR(s.loss_sum, want, 1e-5 * std::abs(want)) << "batch " << batch;
  }
  // A stream shorter than the context: one short window, every token with its whole prefix.
  const std::vector<int64_t> short_tokens(tokens.begin(), tokens.begin() + 9);
  TokenScore s = score_tokens(model, short_tokens, 16, 1, 8, torch::kCPU);
  EXPECT_NEAR(s.loss_sum, brute_force_loss(model, short_tokens, 16), 1e-5);
}

TEST(TextEval, StrideContextScoresDisjointWindows) {
  // stride = T: token i is scored with the context back to the start of its window, windows at
  // 0, T, 2T, ... and the last moved back to end at the last token.
  GPT model = random_gpt(64);
  const int64_t T = 16, n = 40;  // windows [0,16), [16,32), then [23,39) scoring targets 33..39
  const std::vector<int64_t> tokens = random_tokens(n, 64, 5);
  torch::NoGradGuard no_grad;
  double want = 0;
  for (int64_t begin : {0, 16, 23}) {
    auto idx = torch::tensor(std::vector<int64_t>(tokens.begin() + begin, tokens.begin() + begin + T)).unsqueeze(0);
    auto lp = torch::log_softmax(model->forward(idx)[0].to(torch::kDouble), -1);
    for (int64_t j = begin == 23 ? 32 - 23 : 0; j < T; ++j) want -= lp[j][tokens[begin + 1 + j]].item<double>();
  }
  TokenScore s = score_tokens(model, tokens, T, T, 2, torch::kCPU);
  EXPECT_EQ(s.scored, n - 1);
  EXPECT_NEAR(s.loss_sum, want, 1e-5 * std::abs(want));
}

TEST(TextEval, OnAPreparedValidationSplitEqualsTheTrainersBitsPerByte) {
  TempDir dir;
  // JSONL documents; prepare holds some out for validation.
  std::vector<std::string> docs;
  std::string jsonl;
  for (int i = 0; i < 20; ++i) {
    docs.push_back("doc " + std::to_string(i) + ": " + synthetic_text(2 + i % 3, 40 + i));
    jsonl += nlohmann::json({{"text", docs.back()}}).dump() + "\n";
  }
  Config cfg;
  cfg.run.progress = "off";
  cfg.run.threads = 1;
  cfg.data.inputs = {dir.write("corpus.jsonl", jsonl)};
  cfg.data.tokenizer = tiny_tokenizer();
  cfg.data.out_dir = dir.file("shards");
  cfg.data.val_fraction = 0.1;
  prepare_data(cfg);
  const Tokenizer tok = Tokenizer::load(tiny_tokenizer());
  TokenDataset val = TokenDataset::open(dir.file("shards"), "val");
  std::vector<int64_t> val_tokens(static_cast<size_t>(val.size()));
  val.read(0, val.size(), val_tokens.data());

  // The validation documents as a file of their own: the documents whose tokens the split holds, in order.
  std::string val_jsonl;
  size_t at = 0;
  while (at < val_tokens.size()) {
    size_t end = at;
    while (val_tokens[end] != tok.eos_id()) ++end;
    std::vector<int64_t> doc_tokens(val_tokens.begin() + at, val_tokens.begin() + end);
    bool found = false;
    for (const auto& d : docs) {
      std::vector<int32_t> ids = tok.encode(d);
      if (std::vector<int64_t>(ids.begin(), ids.end()) == doc_tokens) {
        val_jsonl += nlohmann::json({{"text", d}}).dump() + "\n";
        found = true;
        break;
      }
    }
    ASSERT_TRUE(found) << "a validation document matches no corpus document";
    at = end + 1;
  }
  const EvalText text = read_eval_text({dir.write("val.jsonl", val_jsonl)}, corpus_options(cfg.data));
  EXPECT_EQ(tokenize_eval_text(text, tok), val_tokens);
  EXPECT_DOUBLE_EQ(static_cast<double>(text.bytes) / static_cast<double>(val_tokens.size()), val.bytes_per_token());

  // The trainer's figure comes from its windows of T + 1 tokens; with T = N - 1 there is exactly
  // one, starting at the split's first token, which is what stride = T scores.
  const int64_t T = val.size() - 1;
  LoadedModel m = tiny_model(tok, T);
  const std::vector<Batch> batches = eval_batches(val, 4, T, 5);
  EvalResult trainer = evaluate(m.model, batches, torch::kCPU, "fp32", val.bytes_per_token());
  TextEvalOptions opts;  // stride 0 = the context
  TextEvalResult r = evaluate_text(m, text, opts);
  EXPECT_EQ(r.stride, T);
  EXPECT_EQ(r.score.scored, trainer.tokens);
  EXPECT_NEAR(r.loss(), trainer.loss, 1e-5);
  EXPECT_NEAR(r.bits_per_byte(), trainer.bpb, 1e-5);
  EXPECT_GT(r.bits_per_byte(), 0.5);  // a random model: far from free
}

TEST(TextEval, DifferentTokenizersShareTheByteCount) {
  TempDir dir;
  const std::string text_body = synthetic_text(30, 9) + "\nпоследний абзац: мир.\n";
  const std::string path = dir.write("a.txt", text_body);
  CorpusOptions copts;
  copts.documents = DocumentMode::File;  // the file's bytes, as they are
  const EvalText text = read_eval_text({path}, copts);
  EXPECT_EQ(text.bytes, static_cast<int64_t>(text_body.size()));
  EXPECT_EQ(text.documents, 1);

  const Tokenizer bpe400 = Tokenizer::load(tiny_tokenizer());
  const Tokenizer bpe300 = gptforge::testing::tokenizer_from_lines(
      dir, [](int i) { return std::string(i % 2 ? "the cat sat on the mat" : "a hat and a cat") + " on the mat"; });
  ASSERT_NE(bpe400.vocab_size(), bpe300.vocab_size());
  LoadedModel a = tiny_model(bpe400, 32), b = tiny_model(bpe300, 24);
  TextEvalOptions opts;
  opts.stride = 8;
  TextEvalResult ra = evaluate_text(a, text, opts), rb = evaluate_text(b, text, opts);
  EXPECT_NE(ra.tokens, rb.tokens);
  for (const TextEvalResult* r : {&ra, &rb}) {
    EXPECT_EQ(r->bytes, static_cast<int64_t>(text_body.size()));
    EXPECT_EQ(r->score.scored, r->tokens - 1);
    // Every token's bits (the first charged at the mean) over the shared byte count.
    const double total_bits = r->score.loss_sum / std::log(2.0) * r->tokens / r->score.scored;
    EXPECT_NEAR(r->bits_per_byte(), total_bits / static_cast<double>(text_body.size()), 1e-12);
    EXPECT_NEAR(r->perplexity(), std::exp(r->score.loss_sum / r->score.scored), 1e-9 * r->perplexity());
  }
}

TEST(TextEval, BadInputIsADataErrorNamingTheFile) {
  TempDir dir;
  const std::string empty = dir.write("empty.txt", ""), blank = dir.write("blank.txt", "\n  \n\n");
  const std::string good = dir.write("good.txt", "some text\n");
  const std::string empty_field = dir.write("e.jsonl", "{\"text\": \"\"}\n");
  for (const std::string& bad : {dir.file("missing.txt"), dir.path(), empty, blank, empty_field}) {
    try {
      read_eval_text({good, bad}, CorpusOptions{});
      ADD_FAILURE() << bad << " was accepted";
    } catch (const DataError& e) {
      EXPECT_NE(std::string(e.what()).find(bad + ":"), std::string::npos) << e.what();
    }
  }
  // A stride beyond the context would leave tokens unscored.
  LoadedModel m = tiny_model(Tokenizer::load(tiny_tokenizer()), 16);
  TextEvalOptions opts;
  opts.stride = 17;
  EXPECT_THROW(evaluate_text(m, read_eval_text({good}, CorpusOptions{}), opts), ConfigError);
}

}  // namespace text_eval_test
