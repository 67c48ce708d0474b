#include "tokenizer/tokenizer.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>

#include <sentencepiece_trainer.h>

#include "generate/generation_common.h"
#include "test_helpers.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/trainer.h"
#include "util/errors.h"
#include "tiny_corpus.h"
#include "util/utf8.h"
#include "data/tokenizer_corpus.h"
#include "util/errors.h"

namespace tokenizer_test {

using namespace gptforge;
using gptforge::testing::synthetic_text;
using gptforge::testing::TempDir;
using gptforge::testing::tiny_tokenizer;

namespace {

// The message of the DataError `fn` throws; fails the test when it throws none.
template <class F>
std::string data_error(F fn) {
  try {
    fn();
  } catch (const DataError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no DataError";
  return "";
}

const std::vector<std::string> kHardText = {
    "Привет, мир! Съешь же ещё этих мягких французских булок.",
    "emoji 😀👍🏽 and flags 🇺🇦, ZWJ 👩‍💻",
    "中文字符和日本語のテキスト、한국어",
    "def f(x):\n\tif x  >  1:\n\t\treturn   x\t# tabs\n    return 0\n",
    "  leading spaces, trailing spaces   ",
    "\n\nblank lines\r\n\r\nand CRLF\n",
    "digits 3.14159 and 1,000,000",
    "",
    " ",
    "control \x01\x7f bytes",
};

}  // namespace

TEST(Tokenizer, RoundTripsUnicodeByteExact) {
  Tokenizer tok = Tokenizer::load(tiny_tokenizer());
  for (const auto& text : kHardText) {
    std::vector<int32_t> ids = tok.encode(text);
    EXPECT_EQ(tok.decode(ids), text) << "text: " << text;
    for (int32_t id : ids) EXPECT_FALSE(tok.is_special(id)) << text;
  }
}

TEST(Tokenizer, SpecialTokensHaveFixedIds) {
  Tokenizer tok = Tokenizer::load(tiny_tokenizer());
  EXPECT_EQ(tok.pad_id(), 0);
  EXPECT_EQ(tok.unk_id(), 1);
  EXPECT_EQ(tok.bos_id(), 2);
  EXPECT_EQ(tok.eos_id(), 3);
  EXPECT_EQ(tok.special_id(Special::System), 4);
  EXPECT_EQ(tok.special_id(Special::User), 5);
  EXPECT_EQ(tok.special_id(Special::Assistant), 6);
  EXPECT_EQ(tok.special_id(Special::End), 7);
  EXPECT_TRUE(tok.has_chat_tokens());
  EXPECT_EQ(tok.piece(5), "<|user|>");
  EXPECT_EQ(tok.piece(3), "</s>");
  EXPECT_EQ(tok.special_id(Special::ToolCall), 8);
  EXPECT_EQ(tok.special_id(Special::ToolResult), 9);
  EXPECT_EQ(tok.special_id(Special::ToolEnd), 10);
  EXPECT_TRUE(tok.has_tool_tokens());
  EXPECT_EQ(tok.piece(kNumReservedIds), "<0x00>");  // byte fallback pieces follow the specials
  EXPECT_EQ(tok.piece(kNumReservedIds + 255), "<0xFF>");
  EXPECT_EQ(kNumReservedIds, 11);
  EXPECT_EQ(tok.vocab_size(), 400);
  // Specials decode to nothing: a chat transcript decodes to its text.
  std::vector<int32_t> ids = {kUserId};
  for (int32_t id : tok.encode("hi")) ids.push_back(id);
  ids.push_back(kEndId);
  ids.push_back(kEosId);
  EXPECT_EQ(tok.decode(ids), "hi");
}

TEST(Tokenizer, SpecialTextNeverProducesSpecialIds) {
  Tokenizer tok = Tokenizer::load(tiny_tokenizer());
  for (const char* text : {"<|user|>", "<|system|> x <|assistant|> y <|end|>", "</s>", "<s>", "<pad>", "<unk>",
                           "a</s>b<s>c", "<0x41>", "<|tool_call|>1+1<|tool_end|><|tool_result|>2"}) {
    std::vector<int32_t> ids = tok.encode(text);
    EXPECT_GT(ids.size(), 1u) << text;
    for (int32_t id : ids) EXPECT_GE(id, kNumReservedIds) << text << " produced special id " << id;
    EXPECT_EQ(tok.decode(ids), text);
  }
}

TEST(Tokenizer, TensorOpsWorkAfterLoadingATokenizer) {
  // Regression: a shared sentencepiece with its own protobuf broke LibTorch in the same process.
  Tokenizer tok = Tokenizer::load(tiny_tokenizer());
  std::vector<int32_t> ids = tok.encode("the quick brown fox");
  torch::Tensor t = torch::tensor(std::vector<int64_t>(ids.begin(), ids.end()));
  torch::Tensor emb = torch::nn::Embedding(tok.vocab_size(), 8)->forward(t);
  EXPECT_EQ(emb.size(0), static_cast<int64_t>(ids.size()));
  EXPECT_TRUE(torch::allclose(torch::ones({3, 3}).matmul(torch::eye(3)), torch::ones({3, 3})));
}

TEST(Tokenizer, SerializedBytesGiveTheSameTokenizer) {
  Tokenizer a = Tokenizer::load(tiny_tokenizer());
  Tokenizer b = Tokenizer::from_serialized(a.serialized());
  EXPECT_EQ(a.serialized(), b.serialized());
  for (const auto& text : kHardText) EXPECT_EQ(a.encode(text), b.encode(text));
}

TEST(Tokenizer, MissingOrCorruptModelNamesTheFile) {
  TempDir dir;
  std::string missing = dir.file("nope.model");
  EXPECT_NE(data_error([&] { Tokenizer::load(missing); }).find(missing), std::string::npos);
  std::string junk = dir.write("junk.model", "this is not a protobuf \xff\xff\xff");
  EXPECT_NE(data_error([&] { Tokenizer::load(junk); }).find(junk), std::string::npos);
  std::string empty = dir.write("empty.model", "");
  EXPECT_NE(data_error([&] { Tokenizer::load(empty); }).find(empty), std::string::npos);
  Tokenizer tok = Tokenizer::load(tiny_tokenizer());
  EXPECT_THROW(tok.decode({static_cast<int32_t>(tok.vocab_size())}), DataError);
}

TEST(Tokenizer, TokenBytesConcatenateToDecode) {
  Tokenizer tok = Tokenizer::load(tiny_tokenizer());
  for (const auto& text : kHardText) {
    std::string joined;
    for (int32_t id : tok.encode(text)) joined += tok.token_bytes(id);
    EXPECT_EQ(joined, text);
  }
}

TEST(Tokenizer, StreamerEmitsWholeCharactersAndMatchesDecode) {
  Tokenizer tok = Tokenizer::load(tiny_tokenizer());
  for (const auto& text : kHardText) {
    TokenStreamer streamer(tok);
    std::string streamed;
    for (int32_t id : tok.encode(text)) {
      std::string part = streamer.push(id);
      // Every piece printed on its own is valid UTF-8 (no half characters on the terminal).
      EXPECT_EQ(count_invalid_utf8(part), 0) << text;
      streamed += part;
    }
    streamed += streamer.flush();
    EXPECT_EQ(streamed, text);
  }
}

TEST(TokenizerTrain, CharModelGivesOneTokenPerCharacter) {
  TempDir dir;
  TokenizerConfig cfg;
  DataConfig corpus;
  corpus.inputs = {dir.write("c.txt", "hello world\nпривет мир\nabc def\n")};
  cfg.model_prefix = dir.file("char");
  cfg.model_type = "char";
  cfg.vocab_size = 65536;  // a cap for char models
  cfg.character_coverage = 1.0;
  TokenizerTrainStats stats = train_tokenizer(cfg, corpus, 1);
  Tokenizer tok = Tokenizer::load(stats.model_path);
  // 11 specials + 256 bytes + the 19 distinct characters (space included, as "▁").
  EXPECT_EQ(tok.vocab_size(), kNumReservedIds + 256 + 19);
  EXPECT_EQ(tok.encode("hello").size(), 5u);
  EXPECT_EQ(tok.encode("мир").size(), 3u);
  EXPECT_EQ(tok.decode(tok.encode("zebra 🦓")), "zebra 🦓");  // unseen characters fall back to bytes
  EXPECT_TRUE(std::filesystem::exists(stats.vocab_path));
}

TEST(TokenizerTrain, UnigramAndJsonlField) {
  TempDir dir;
  std::string jsonl;
  std::string text = synthetic_text(600, 7);
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) break;
    jsonl += "{\"id\": 1, \"body\": \"" + text.substr(pos, end - pos) + "\\nsecond line\"}\n";
    pos = end + 1;
  }
  TokenizerConfig cfg;
  DataConfig corpus;
  corpus.inputs = {dir.write("d.jsonl", jsonl)};
  corpus.jsonl_field = "body";
  cfg.model_prefix = dir.file("uni");
  cfg.model_type = "unigram";
  cfg.vocab_size = 330;
  TokenizerTrainStats stats = train_tokenizer(cfg, corpus, 2);
  EXPECT_GT(stats.sentences, 400);
  Tokenizer tok = Tokenizer::load(stats.model_path);
  EXPECT_EQ(tok.vocab_size(), 330);
  EXPECT_EQ(tok.special_id(Special::Assistant), 6);
  for (const auto& t : kHardText) EXPECT_EQ(tok.decode(tok.encode(t)), t);

  corpus.jsonl_field = "text";
  std::string msg = data_error([&] { train_tokenizer(cfg, corpus, 1); });
  EXPECT_NE(msg.find("d.jsonl:1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("data.jsonl_field"), std::string::npos) << msg;
}

TEST(TokenizerTrain, VocabTooLargeForCorpusNamesTheKey) {
  TempDir dir;
  TokenizerConfig cfg;
  DataConfig corpus;
  corpus.inputs = {dir.write("small.txt", "a tiny corpus\nwith few words\n")};
  cfg.model_prefix = dir.file("t");
  cfg.vocab_size = 4096;
  std::string msg = data_error([&] { train_tokenizer(cfg, corpus, 1); });
  EXPECT_NE(msg.find("tokenizer.vocab_size=4096"), std::string::npos) << msg;
  EXPECT_FALSE(std::filesystem::exists(dir.file("t.model")));
  cfg.vocab_size = 100;  // below the 264 reserved ids
  EXPECT_THROW(train_tokenizer(cfg, corpus, 1), ConfigError);
}

TEST(TokenizerTrain, MissingAndEmptyInputsFail) {
  TempDir dir;
  TokenizerConfig cfg;
  DataConfig corpus;
  cfg.model_prefix = dir.file("t");
  corpus.inputs = {dir.file("missing.txt")};
  EXPECT_NE(data_error([&] { train_tokenizer(cfg, corpus, 1); }).find(dir.file("missing.txt")), std::string::npos);
  corpus.inputs = {dir.write("empty.txt", "\n\n\n")};
  std::string msg = data_error([&] { train_tokenizer(cfg, corpus, 1); });
  EXPECT_NE(msg.find("empty"), std::string::npos) << msg;
  EXPECT_NE(msg.find("empty.txt"), std::string::npos) << msg;
}

TEST(TokenizerTrain, WritesOnlyTheFinalFiles) {
  TempDir dir;
  TokenizerConfig cfg;
  DataConfig corpus;
  corpus.inputs = {dir.write("corpus/a.txt", synthetic_text(500, 3))};
  cfg.model_prefix = dir.file("out/tok");
  cfg.vocab_size = 320;
  train_tokenizer(cfg, corpus, 1);
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir.file("out"))) names.push_back(e.path().filename());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"tok.model", "tok.vocab"}));
  // Same seed, same corpus: the same model.
  std::string first = Tokenizer::load(dir.file("out/tok.model")).serialized();
  train_tokenizer(cfg, corpus, 1);
  EXPECT_EQ(Tokenizer::load(dir.file("out/tok.model")).serialized(), first);
}

// A tokenizer trained before the tool tokens were reserved (control symbols: the four chat roles
// only, bytes from id 8) still loads and encodes; it reports no tool tokens, and asking it for a
// tool conversation is an error that says why.
TEST(Tokenizer, ATokenizerWithoutToolTokensLoadsAndSaysSoWhenToolsAreAsked) {
  TempDir dir;
  TokenizerConfig cfg;
  DataConfig corpus;
  corpus.inputs = {dir.write("c.txt", gptforge::testing::synthetic_text(400))};
  cfg.model_prefix = dir.file("old");
  cfg.vocab_size = 320;
  auto args = sentencepiece_trainer_args(cfg, 1);
  args["control_symbols"] = "<|system|>,<|user|>,<|assistant|>,<|end|>";  // the layout before tools
  args["input"] = corpus.inputs[0];
  args["model_prefix"] = cfg.model_prefix;
  auto status = sentencepiece::SentencePieceTrainer::Train(args);
  ASSERT_TRUE(status.ok()) << std::string(status.message());
  Tokenizer old = Tokenizer::load(dir.file("old.model"));
  EXPECT_TRUE(old.has_chat_tokens());
  EXPECT_FALSE(old.has_tool_tokens());
  EXPECT_EQ(old.special_id(Special::ToolCall), -1);
  EXPECT_EQ(old.special_id(Special::End), 7);
  EXPECT_EQ(old.piece(8), "<0x00>");
  EXPECT_EQ(old.decode(old.encode("the quick fox")), "the quick fox");
  // Chat without tools renders as ever; a tool conversation fails, naming the missing tokens.
  EXPECT_NO_THROW(render_chat(old, {{"user", "hi"}, {"assistant", "hello"}}, false));
  try {
    render_chat(old, {{"user", "1+1?"}, {"assistant", "", "1+1"}, {"tool", "2"}, {"assistant", "2"}}, false);
    ADD_FAILURE() << "no error for a tool call with a tokenizer that lacks the tool tokens";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("no tool tokens (<|tool_call|>"), std::string::npos) << e.what();
  }
  // Generation with tools asked for is a config error naming the key.
  GenerationOptions o;
  o.tools = {"calc"};
  try {
    check_generation_inputs({1}, o, &old);
    ADD_FAILURE() << "no error for sample.tools with a tokenizer that lacks the tool tokens";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("sample.tools: the tokenizer has no tool tokens"), std::string::npos) << e.what();
  }
}

}  // namespace tokenizer_test
