#include "generate/chat.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "generate_test_helpers.h"
#include "tokenizer/tiny_corpus.h"
#include "util/errors.h"

namespace chat_test {

using namespace gptforge;
using gptforge::testing::random_gpt;

namespace {

Tokenizer tiny_tok() { return Tokenizer::load(gptforge::testing::tiny_tokenizer()); }

// Whether `needle` occurs in `ids` as a contiguous run.
bool contains_run(const std::vector<int32_t>& ids, const std::vector<int32_t>& needle) {
  return std::search(ids.begin(), ids.end(), needle.begin(), needle.end()) != ids.end();
}

}  // namespace

TEST(ChatSession, TrimmingKeepsTheSystemMessageAndDropsTheOldestTurn) {
  Tokenizer tok = tiny_tok();
  const std::string system = "the fox is brown";
  auto size_of = [&](const std::vector<ChatMessage>& m) { return render_chat(tok, m, true).ids.size(); };
  const std::vector<std::string> users = {"quick brown dog", "lazy jumps over the fox", "then runs in the st"};
  const std::vector<std::string> replies = {"the dog is lazy", "it jumps over", "ok"};
  // A context that fits the system message, turns 2 and 3 and the new message, but not turn 1 too.
  std::vector<ChatMessage> without_first = {{"system", system},     {"user", users[1]}, {"assistant", replies[1]},
                                            {"user", users[2]},     {"assistant", replies[2]}, {"user", "and now"}};
  const int64_t reserve = 4;
  const int64_t context = static_cast<int64_t>(size_of(without_first)) + reserve;

  ChatSession session(tok, context, system);
  for (size_t i = 0; i < 3; ++i) session.add_turn(users[i], replies[i]);
  EXPECT_EQ(session.turns(), 3);
  std::vector<int32_t> prompt = session.prompt_for("and now", reserve);
  EXPECT_EQ(session.dropped_turns(), 1);
  EXPECT_EQ(session.turns(), 2);
  EXPECT_EQ(prompt, render_chat(tok, without_first, true).ids);
  EXPECT_LE(static_cast<int64_t>(prompt.size()), context - reserve);
  // It starts with <s> <|system|> and the system text, and ends with the generation prompt.
  ASSERT_GE(prompt.size(), 3u);
  EXPECT_EQ(prompt[0], tok.bos_id());
  EXPECT_EQ(prompt[1], tok.special_id(Special::System));
  EXPECT_TRUE(contains_run(prompt, tok.encode(system)));
  EXPECT_FALSE(contains_run(prompt, tok.encode(users[0])));
  EXPECT_EQ(prompt.back(), tok.special_id(Special::Assistant));

  // A tiny context drops every turn but keeps the system message.
  ChatSession small(tok, 8, system);
  for (size_t i = 0; i < 3; ++i) small.add_turn(users[i], replies[i]);
  std::vector<int32_t> p2 = small.prompt_for("hi", 4);
  EXPECT_EQ(small.turns(), 0);
  EXPECT_EQ(small.dropped_turns(), 3);
  EXPECT_TRUE(contains_run(p2, tok.encode(system)));
}

TEST(ChatSession, ResetAndSystemMessage) {
  Tokenizer tok = tiny_tok();
  ChatSession s(tok, 256);
  s.add_turn("hello", "hi");
  s.add_turn("empty reply", "");  // not kept
  EXPECT_EQ(s.turns(), 1);
  s.set_system("be brief");
  auto msgs = s.messages();
  ASSERT_EQ(msgs.size(), 3u);
  EXPECT_EQ(msgs[0].role, "system");
  s.reset();
  EXPECT_EQ(s.turns(), 0);
  EXPECT_EQ(s.messages().size(), 1u);  // the system message stays
  s.set_system("");
  EXPECT_TRUE(s.messages().empty());
}

TEST(Chat, ReplyEndsAtEndToken) {
  Tokenizer tok = tiny_tok();
  // An untied random model whose head always prefers <|end|>: ln_f outputs its bias e_0 whatever the
  // input, and the head row of <|end|> points along e_0.
  ModelConfig cfg = random_gpt(tok.vocab_size())->config();
  cfg.tie_embeddings = false;
  torch::manual_seed(3);
  GPT model(cfg);
  {
    torch::NoGradGuard no_grad;
    model->ln_f->named_parameters()["weight"].zero_();
    auto bias = model->ln_f->named_parameters()["bias"];
    bias.zero_();
    bias[0] = 1.0;
    model->lm_head->weight[kEndId][0] = 50.0;
  }
  ChatSession session(tok, cfg.block_size);
  GenerationOptions o;
  o.temperature = 0.0;
  o.max_new_tokens = 10;
  Generation g = chat_reply(model, session, "hello", o);
  EXPECT_EQ(g.finish_reason, "stop_id");
  EXPECT_EQ(g.stop_id, kEndId);
  EXPECT_TRUE(g.ids.empty());
  EXPECT_EQ(session.turns(), 0);  // an empty reply is not kept
}

TEST(Chat, LaterTurnsReuseTheConversationsCacheAndReplyAsAFreshCacheDoes) {
  Tokenizer tok = tiny_tok();
  ModelConfig cfg = random_gpt(tok.vocab_size())->config();
  cfg.block_size = 160;
  torch::manual_seed(5);
  GPT model(cfg);
  GenerationOptions o;
  o.temperature = 0.0;
  o.max_new_tokens = 6;
  ChatSession kept(tok, cfg.block_size), fresh(tok, cfg.block_size);
  const std::vector<std::string> users = {"the quick brown fox", "jumps over the lazy dog", "and then"};
  for (size_t turn = 0; turn < users.size(); ++turn) {
    SCOPED_TRACE(turn);
    GenerationStats kept_stats, fresh_stats;
    Generation k = chat_reply(model, kept, users[turn], o, nullptr, &kept_stats);
    fresh.decoder(model, true).reset();  // the reference starts every turn from an empty cache
    Generation f = chat_reply(model, fresh, users[turn], o, nullptr, &fresh_stats);
    EXPECT_EQ(k.ids, f.ids);
    EXPECT_EQ(k.text, f.text);
    EXPECT_EQ(fresh_stats.cached_prompt_tokens, 0);
    EXPECT_EQ(kept_stats.prompt_tokens + kept_stats.cached_prompt_tokens, fresh_stats.prompt_tokens);
    if (turn == 0) {
      EXPECT_EQ(kept_stats.cached_prompt_tokens, 0);
    } else {
      // At least the previous prompt is shared (<s> ... <|assistant|>), whatever the reply's re-encoding.
      EXPECT_GT(kept_stats.cached_prompt_tokens, 4);
      EXPECT_LT(kept_stats.prompt_tokens, fresh_stats.prompt_tokens);
    }
  }
}

}  // namespace chat_test
