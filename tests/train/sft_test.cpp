#include "train/sft.h"

#include <gtest/gtest.h>

#include <sentencepiece_trainer.h>

#include <cctype>
#include <map>
#include <set>

#include "data/task_suite.h"
#include "model/gpt.h"
#include "test_helpers.h"
#include "tokenizer/tiny_corpus.h"
#include "util/errors.h"

namespace sft_test {

using namespace gptforge;
using gptforge::testing::TempDir;

namespace {

Tokenizer chat_tokenizer(const TempDir& dir) {
  return gptforge::testing::tokenizer_from_lines(
      dir, [](int i) { return "What is " + std::to_string(i) + " plus 2? The answer is here."; });
}

Config sft_config(int64_t block_size = 64) {
  Config cfg = load_config("", {"model.vocab_size=300", "model.n_layer=1", "model.n_head=2", "model.d_model=16",
                                "model.block_size=" + std::to_string(block_size), "run.log_level=quiet"});
  return cfg;
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const DataError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Sft, LossCoversAssistantTokensOnlyAndPromptsGetNoGradient) {
  TempDir dir;
  Tokenizer tok = chat_tokenizer(dir);
  Config cfg = sft_config();
  SftDataStats stats;
  auto examples = render_examples({{{{"user", "What is 3 plus 2?"}, {"assistant", "The answer is 5"}}, "", "x:1"},
                                   {{{"user", "What is 10 plus 2?"}, {"assistant", "12"}}, "", "x:2"}},
                                  tok, cfg, stats);
  ASSERT_EQ(examples.size(), 2u);
  Batch b = pad_batch({&examples[0], &examples[1]}, tok.pad_id());
  torch::manual_seed(0);
  GPT model(cfg.model);
  torch::Tensor logits = model->forward(b.x);
  logits.retain_grad();
  LossSum ls = lm_loss_sum(logits, b.y);
  torch::Tensor loss = ls.sum / ls.count.to(torch::kFloat32);
  loss.backward();

  // Hand computation: cross-entropy only where the next token is the assistant's (its reply and <|end|>).
  auto logp = torch::log_softmax(logits.detach(), -1);
  double sum = 0;
  int64_t count = 0;
  for (int64_t r = 0; r < 2; ++r) {
    const SftExample& ex = examples[static_cast<size_t>(r)];
    size_t reply_start = 0;  // position of the first reply token: after <|assistant|>
    for (size_t t = 0; t < ex.ids.size(); ++t) {
      if (ex.ids[t] == kAssistantId) reply_start = t + 1;
    }
    for (size_t t = 0; t + 1 < ex.ids.size(); ++t) {
      bool assistant = t + 1 >= reply_start;
      EXPECT_EQ(b.y[r][static_cast<int64_t>(t)].item<int64_t>(), assistant ? ex.ids[t + 1] : -1) << r << "," << t;
      if (!assistant) {
        // The prompt's positions receive exactly zero gradient.
        EXPECT_EQ(logits.grad()[r][static_cast<int64_t>(t)].abs().max().item<float>(), 0.0f);
        continue;
      }
      sum -= logp[r][static_cast<int64_t>(t)][ex.ids[t + 1]].item<double>();
      ++count;
      EXPECT_GT(logits.grad()[r][static_cast<int64_t>(t)].abs().max().item<float>(), 0.0f);
    }
    // Padding of the shorter row carries no loss or gradient either.
    for (int64_t t = static_cast<int64_t>(ex.ids.size()) - 1; t < b.x.size(1); ++t) {
      EXPECT_EQ(b.y[r][t].item<int64_t>(), -1);
      EXPECT_EQ(logits.grad()[r][t].abs().max().item<float>(), 0.0f);
    }
  }
  EXPECT_EQ(ls.count.item<int64_t>(), count);
  EXPECT_NEAR(loss.item<double>(), sum / count, 1e-5);
}

TEST(Sft, LossOnAllCountsPromptTokensToo) {
  TempDir dir;
  Tokenizer tok = chat_tokenizer(dir);
  Config cfg = sft_config();
  cfg.sft.loss_on = "all";
  SftDataStats stats;
  auto ex = render_examples({{{{"user", "What is 3 plus 2?"}, {"assistant", "5"}}, "", "x:1"}}, tok, cfg, stats);
  Batch b = pad_batch({&ex[0]}, tok.pad_id());
  EXPECT_EQ((b.y != -1).sum().item<int64_t>(), static_cast<int64_t>(ex[0].ids.size()) - 1);
}

TEST(Sft, OverlongExamplesAreTruncatedOrDroppedAndCounted) {
  TempDir dir;
  Tokenizer tok = chat_tokenizer(dir);
  std::string long_text;
  for (int i = 0; i < 40; ++i) long_text += "the answer is here ";
  std::vector<InstructExample> in = {{{{"user", "hi"}, {"assistant", long_text}}, "", "x:1"},
                                     {{{"user", long_text}, {"assistant", "5"}}, "", "x:2"},
                                     {{{"user", "What is 1 plus 2?"}, {"assistant", "3"}}, "", "x:3"}};
  // A context that holds the short example exactly, but neither long one.
  SftDataStats probe;
  const int64_t short_len = static_cast<int64_t>(render_examples({in[2]}, tok, sft_config(), probe)[0].ids.size());
  Config cfg = sft_config(short_len - 1);
  SftDataStats truncated;
  auto kept = render_examples(in, tok, cfg, truncated);
  // The first keeps the start of its reply; the second loses its whole reply and is dropped.
  EXPECT_EQ(kept.size(), 2u);
  EXPECT_EQ(truncated.truncated, 2);
  EXPECT_EQ(truncated.dropped, 1);
  for (const auto& ex : kept) EXPECT_LE(static_cast<int64_t>(ex.ids.size()), short_len);
  cfg.sft.overlong = "drop";
  SftDataStats dropped;
  EXPECT_EQ(render_examples(in, tok, cfg, dropped).size(), 1u);
  EXPECT_EQ(dropped.dropped, 2);
}

TEST(Sft, ParseErrorsCarryFileAndLine) {
  TempDir dir;
  auto path = dir.write("d.jsonl",
                        "{\"instruction\": \"Add\", \"input\": \"1 2\", \"output\": \"3\"}\n"
                        "\n"
                        "{\"instruction\": \"Add\", \"output\": \n"
                        "{\"messages\": [{\"role\": \"robot\", \"content\": \"x\"}]}\n"
                        "{\"messages\": [{\"role\": \"user\", \"content\": \"\"}]}\n"
                        "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}\n");
  std::string msg = error_of([&] { read_instruct_file(path, "auto", false); });
  EXPECT_NE(msg.find(path + ":3: malformed JSON"), std::string::npos) << msg;
  InstructReadStats stats;
  auto ok = read_instruct_file(path, "auto", true, &stats);
  ASSERT_EQ(ok.size(), 1u);
  EXPECT_EQ(ok[0].messages[0].content, "Add\n\n1 2");
  EXPECT_EQ(ok[0].messages[1].content, "3");
  EXPECT_EQ(stats.skipped, 4);
  auto only = [&](const std::string& line) {
    return error_of([&] { read_instruct_file(dir.write("one.jsonl", line + "\n"), "auto", false); });
  };
  EXPECT_NE(only("{\"messages\": [{\"role\": \"robot\", \"content\": \"x\"}]}").find(":1: unknown role 'robot'"),
            std::string::npos);
  EXPECT_NE(only("{\"messages\": [{\"role\": \"user\", \"content\": \"\"}]}").find("empty content"), std::string::npos);
  EXPECT_NE(only("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}").find("no assistant turn"),
            std::string::npos);
  // Alpaca's JSON array form, multi-turn chat.
  auto arr = read_instruct_file(dir.write("a.json", "[{\"instruction\": \"Hi\", \"output\": \"Hello\"}]"), "auto", false);
  EXPECT_EQ(arr.size(), 1u);
  auto multi = read_instruct_file(
      dir.write("m.jsonl",
                "{\"messages\": [{\"role\": \"system\", \"content\": \"s\"}, {\"role\": \"user\", \"content\": \"a\"}, "
                "{\"role\": \"assistant\", \"content\": \"b\"}, {\"role\": \"user\", \"content\": \"c\"}, "
                "{\"role\": \"assistant\", \"content\": \"d\"}]}\n"),
      "chat", false);
  EXPECT_EQ(prompt_messages(multi[0]).size(), 4u);
  EXPECT_EQ(expected_answer(multi[0]), "d");
}

// "ignore_case" (eval's case-folded comparison) is read from either form, written back by the task
// suite's writer, and must be a boolean.
TEST(Sft, IgnoreCaseIsReadWrittenAndMustBeABoolean) {
  TempDir dir;
  auto read = read_instruct_file(
      dir.write("c.jsonl",
                "{\"instruction\": \"Say yes\", \"output\": \"Yes\", \"ignore_case\": true}\n"
                "{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"assistant\", "
                "\"content\": \"B\"}], \"ignore_case\": false}\n"
                "{\"instruction\": \"Say no\", \"output\": \"No\"}\n"),
      "auto", false);
  ASSERT_EQ(read.size(), 3u);
  EXPECT_TRUE(read[0].ignore_case);
  EXPECT_FALSE(read[1].ignore_case);
  EXPECT_FALSE(read[2].ignore_case);
  write_instruct_jsonl(dir.file("back.jsonl"), read);
  auto back = read_instruct_file(dir.file("back.jsonl"), "chat", false);
  ASSERT_EQ(back.size(), 3u);
  EXPECT_TRUE(back[0].ignore_case);
  EXPECT_FALSE(back[1].ignore_case);
  std::string msg = error_of([&] {
    read_instruct_file(dir.write("bad.jsonl", "{\"instruction\": \"x\", \"output\": \"y\", \"ignore_case\": \"yes\"}\n"),
                       "auto", false);
  });
  EXPECT_NE(msg.find(":1: \"ignore_case\" must be true or false"), std::string::npos) << msg;
}

// Chat JSONL with a tool call: read, rendered with the loss on the call and never on the result,
// also with sft.loss_on=all; written back by the task suite's writer.
TEST(Sft, ToolCallsAreReadAndTheResultNeverCarriesLoss) {
  TempDir dir;
  Tokenizer tok = chat_tokenizer(dir);
  auto path = dir.write("t.jsonl",
                        "{\"messages\": [{\"role\": \"user\", \"content\": \"What is 37 times 45?\"}, "
                        "{\"role\": \"assistant\", \"tool_call\": \"37*45\"}, {\"role\": \"tool\", \"content\": "
                        "\"1665\"}, {\"role\": \"assistant\", \"content\": \"1665\"}]}\n");
  auto read = read_instruct_file(path, "auto", false);
  ASSERT_EQ(read.size(), 1u);
  ASSERT_EQ(read[0].messages.size(), 4u);
  EXPECT_EQ(read[0].messages[1].tool_call, "37*45");
  EXPECT_EQ(read[0].messages[1].content, "");
  EXPECT_EQ(read[0].messages[2].role, "tool");
  EXPECT_EQ(expected_answer(read[0]), "1665");
  for (const char* loss_on : {"assistant", "all"}) {
    Config cfg = sft_config();
    cfg.sft.loss_on = loss_on;
    SftDataStats stats;
    auto ex = render_examples(read, tok, cfg, stats);
    ASSERT_EQ(ex.size(), 1u);
    size_t result_tokens = 0, call_tokens = 0;
    bool in_result = false, in_call = false;
    for (size_t t = 0; t < ex[0].ids.size(); ++t) {
      const int32_t id = ex[0].ids[t];
      if (id == kToolResultId) in_result = true;
      if (id == kToolCallId) in_call = true;
      if (in_result) {
        EXPECT_EQ(ex[0].loss_mask[t], 0) << loss_on << " position " << t;
        ++result_tokens;
      }
      if (in_call) {
        EXPECT_EQ(ex[0].loss_mask[t], 1) << loss_on << " position " << t;
        ++call_tokens;
      }
      if (id == kToolEndId) in_result = in_call = false;
    }
    EXPECT_EQ(result_tokens, tok.encode("1665").size() + 2) << loss_on;
    EXPECT_EQ(call_tokens, tok.encode("37*45").size() + 2) << loss_on;
  }
  write_instruct_jsonl(dir.file("back.jsonl"), read);
  EXPECT_EQ(read_instruct_file(dir.file("back.jsonl"), "chat", false)[0].messages[1].tool_call, "37*45");
  auto only = [&](const std::string& line) {
    return error_of([&] { read_instruct_file(dir.write("one.jsonl", line + "\n"), "auto", false); });
  };
  EXPECT_NE(only("{\"messages\": [{\"role\": \"user\", \"content\": \"x\", \"tool_call\": \"1\"}, {\"role\": "
                 "\"assistant\", \"content\": \"y\"}]}").find("only assistant messages call tools"), std::string::npos);
}

TEST(Sft, TokenizerWithoutChatTokensIsRejected) {
  TempDir dir;
  std::string text;
  for (int i = 0; i < 100; ++i) text += "plain text line " + std::to_string(i) + "\n";
  dir.write("c.txt", text);
  // A sentencepiece model made outside gptforge: no reserved chat tokens.
  auto status = sentencepiece::SentencePieceTrainer::Train("--input=" + dir.file("c.txt") + " --model_prefix=" +
                                                           dir.file("plain") + " --vocab_size=60 --hard_vocab_limit=false --minloglevel=2");
  ASSERT_TRUE(status.ok()) << status.ToString();
  Tokenizer plain = Tokenizer::load(dir.file("plain.model"));
  std::string msg = error_of([&] { render_chat(plain, {{"user", "hi"}}, true); });
  EXPECT_NE(msg.find("no chat tokens"), std::string::npos) << msg;
}

TEST(Sft, DataStateReplaysTheSameBatches) {
  TempDir dir;
  Tokenizer tok = chat_tokenizer(dir);
  TaskSuite suite = make_task_suite({20, 2, 5});
  write_instruct_jsonl(dir.file("train.jsonl"), suite.train);
  Config cfg = sft_config();
  cfg.sft.train_file = dir.file("train.jsonl");
  cfg.train.batch_size = 7;
  SftData data(cfg, tok);
  // 20 per unit of weight, 12 units; a few long prompts lose their answer to truncation and are dropped,
  // and the drops are counted whichever split they fall in (here two are in the validation split).
  EXPECT_EQ(data.stats().train + data.stats().val + data.stats().dropped, 240);
  for (int i = 0; i < 20; ++i) data.next();  // past the first epoch
  std::string state = data.state();
  std::vector<Batch> first;
  for (int i = 0; i < 5; ++i) first.push_back(data.next());
  SftData again(cfg, tok);
  again.set_state(state);
  for (int i = 0; i < 5; ++i) {
    Batch b = again.next();
    EXPECT_TRUE(torch::equal(b.x, first[static_cast<size_t>(i)].x));
    EXPECT_TRUE(torch::equal(b.y, first[static_cast<size_t>(i)].y));
  }
}

TEST(TaskSuite, TestInstancesNeverOccurInTrainingAndSeedsReproduce) {
  TaskSuite a = make_task_suite({300, 30, 7}), b = make_task_suite({300, 30, 7}), c = make_task_suite({300, 30, 8});
  // --train counts a weight-1 task; reverse weighs 3, add, upper and arith 2.
  std::map<std::string, int> per_task;
  for (const auto& ex : a.train) ++per_task[ex.task];
  EXPECT_EQ(per_task, (std::map<std::string, int>{
                          {"add", 600}, {"arith", 600}, {"count", 300}, {"lookup", 300}, {"reverse", 900}, {"sort", 300},
                          {"upper", 600}}));
  EXPECT_EQ(a.test.size(), 7u * 30);
  std::set<std::string> train_prompts;
  for (const auto& ex : a.train) train_prompts.insert(ex.messages[0].content);
  for (const auto& ex : a.test) EXPECT_EQ(train_prompts.count(ex.messages[0].content), 0u) << ex.messages[0].content;
  for (size_t i = 0; i < a.test.size(); ++i) EXPECT_EQ(a.test[i].messages[0].content, b.test[i].messages[0].content);
  int differ = 0;
  for (size_t i = 0; i < a.test.size(); ++i) differ += a.test[i].messages[0].content != c.test[i].messages[0].content;
  EXPECT_GT(differ, 100);
  // Held-out phrasings recombine words that training shows: no test prompt has a word training lacks.
  auto words_of = [](const std::string& text) {
    std::set<std::string> words;
    std::string w;
    for (char c : text + " ") {
      if (std::isalpha(static_cast<unsigned char>(c))) {
        w += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      } else if (!w.empty()) {
        words.insert(w);
        w.clear();
      }
    }
    return words;
  };
  std::set<std::string> train_words;
  for (const auto& p : train_prompts) {
    auto w = words_of(p);
    train_words.insert(w.begin(), w.end());
  }
  for (const auto& ex : a.test)
    for (const auto& w : words_of(ex.messages[0].content)) EXPECT_EQ(train_words.count(w), 1u) << w << " in " << ex.messages[0].content;
  // Answers are right: spot-check the arithmetic.
  for (const auto& ex : a.test) {
    if (ex.task != "add") continue;
    int x, y, z;
    ASSERT_EQ(std::sscanf(ex.messages[0].content.c_str() + ex.messages[0].content.find_first_of("0123456789"),
                          "%d plus %d plus %d", &x, &y, &z), 3);
    EXPECT_EQ(expected_answer(ex), std::to_string(x + y + z));
  }
  // ... and the lookup: the answer is the value of the field the question names.
  for (const auto& ex : a.test) {
    if (ex.task != "lookup") continue;
    const std::string& prompt = ex.messages[0].content;
    const std::string field = prompt.substr(prompt.rfind("'s ") + 3, prompt.size() - prompt.rfind("'s ") - 4);
    const size_t at = prompt.find(" " + field + " ");
    ASSERT_NE(at, std::string::npos) << prompt;
    EXPECT_EQ(expected_answer(ex), prompt.substr(at + field.size() + 2, 1)) << prompt;
  }
}

}  // namespace sft_test
